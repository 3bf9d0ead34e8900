"""What every page shares: its route (``PageRoute``: the handler off the event loop, the
form read first), the Jinja2 environment, date formatting and the HTML not-found page."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import anyio.from_thread
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from openlfr import localtime
from openlfr.services.answer_history import versions
from openlfr.services.platform import Platform
from openlfr.web.urls import template_url_for

WEB_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


def when(moment: datetime | date | None) -> str:
    """A date or time as people read it, London first then UTC (``openlfr.localtime``),
    e.g. "Sun 22 March 2026, 10:00 GMT (10:00 UTC)"."""
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        return localtime.when(moment)
    return day(moment)


def day(moment: datetime | date | None) -> str:
    """The date alone, as London's calendar has it, e.g. "22 March 2026"."""
    if moment is None:
        return ""
    return localtime.day(moment)


def words(identifier: str) -> str:
    """A code such as "council_officials" as words: "council officials"."""
    return identifier.replace("_", " ")


templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
templates.env.filters.update(when=when, day=day, words=words, versions=versions)
templates.env.globals["percent"] = lambda share: f"{share:.0%}"
# Links to pages by name from an index built once, not a walk of every route per link.
templates.env.globals["url_for"] = template_url_for


def platform_of(request: Request) -> Platform:
    """The platform the app was built with."""
    platform: Platform = request.app.state.platform
    return platform


class PageRoute(Route):
    """A page's route. Its handler is a plain function, run on a worker thread, so a use
    case that waits (a password's hash, a record another request holds: PostgreSQL's row
    locks) holds up only its own request, never the event loop and everyone's pages, API
    calls and live streams with it. A form's body is read first, on the event loop: a
    client that sends it slowly holds no worker thread (there are ``server_threads``
    of them, one per database connection)."""

    def __init__(self, path: str, endpoint: Callable[[Request], Response], *,
                 methods: list[str], name: str) -> None:
        super().__init__(path, _off_the_loop(endpoint, self.reads_form_first),
                         methods=methods, name=name)

    def reads_form_first(self, request: Request) -> bool:
        """Whether the form is read before the handler runs: for a post."""
        return request.method == "POST"


def _off_the_loop(handler: Callable[[Request], Response],
                  reads_form_first: Callable[[Request], bool]
                  ) -> Callable[[Request], Awaitable[Response]]:
    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        if reads_form_first(request):
            await request.form()  # kept on the request: read_form answers from it
        return await run_in_threadpool(handler, request)
    return endpoint


def read_form(request: Request) -> FormData:
    """The form posted to a page's handler (``PageRoute``), already read on the event
    loop."""
    return anyio.from_thread.run(_read_form, request)


async def _read_form(request: Request) -> FormData:
    return await request.form()


def render(request: Request, template: str, context: dict[str, Any],
           status_code: int = 200) -> Response:
    """Render ``template`` with ``context`` (autoescaped)."""
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def not_found(request: Request, message: str) -> Response:
    """The HTML 404 page, saying what was not found."""
    return render(request, "not_found.html", {"message": message}, status_code=404)
