"""Every link on every public page answers an anonymous visitor (no page links to an API
route that asks for a login, as the nav's "Technology and motions" once did), and page
links are built from the route index, the page of that name before any API route."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

from figures_helpers import complete_a, run_deployment_a
from platform_helpers import Scenario
from starlette.requests import Request
from starlette.routing import Route

from openlfr.web.urls import RouteIndex

#: Enough to reach every kind of public page from the home page; a guard, not a limit hit.
MAX_PAGES = 400


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"a": "href", "link": "href", "script": "src", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.links.append(value)


def test_every_link_on_every_public_page_answers_anonymously(scenario: Scenario) -> None:
    run_deployment_a(scenario)
    complete_a(scenario)
    anon = scenario.staff.anon
    base = "http://testserver"
    seen: set[str] = set()
    queue, failures = ["/"], []
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        response = anon.get(path, follow_redirects=True)
        if response.status_code != 200:
            failures.append(f"{path}: {response.status_code}")
            continue
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        parser = _Links()
        parser.feed(response.text)
        for link in parser.links:
            url = urldefrag(urljoin(base + path, link)).url
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.netloc == "testserver":
                target = parts.path + (f"?{parts.query}" if parts.query else "")
                # Logging in and staff pages are for staff; a form's action is a POST.
                if not target.startswith(("/staff", "/login", "/logout")):
                    queue.append(target)
    assert not failures, failures
    assert len(seen) > 20  # the crawl did reach the deployment, feeds and open data
    assert "/register" in seen


def test_a_page_name_goes_to_the_page_even_when_an_api_route_shares_it() -> None:
    async def endpoint(_request: Request) -> None: ...

    index = RouteIndex([Route("/api/technology", endpoint, name="register"),
                        Route("/register", endpoint, name="register")])
    request = Request({"type": "http", "scheme": "http", "server": ("testserver", 80),
                       "path": "/", "root_path": "", "headers": [], "app": None})
    assert str(index.url_for(request, "register")) == "http://testserver/register"
