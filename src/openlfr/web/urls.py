"""URLs for pages, built without walking the route table.

Starlette's ``request.url_for`` tries every route in order until one has the name (a
hundred routes, tried on each of the twenty links a page renders), and the first route of
that name wins, so an API function that happens to share a page's name would take its
links. Templates link to pages: the index maps each name to its page route (or, for a name
only the API has, the API's), built once per app.
"""

from __future__ import annotations

from typing import Any

from jinja2 import pass_context
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount, NoMatchFound

API_PATH = "/api/"


class RouteIndex:
    """Routes by name; a page's route before an API route of the same name."""

    def __init__(self, routes: list[BaseRoute]) -> None:
        self._by_name: dict[str, BaseRoute] = {}
        pages = [r for r in routes if not getattr(r, "path", "").startswith(API_PATH)]
        api = [r for r in routes if getattr(r, "path", "").startswith(API_PATH)]
        for route in [*pages, *api]:
            name = getattr(route, "name", None)
            if name and name not in self._by_name:
                self._by_name[name] = route

    def url_for(self, request: Request, name: str, /, **path_params: Any) -> URL:
        route = self._by_name.get(name)
        if route is None or isinstance(route, Mount) and route.name != name:
            return request.url_for(name, **path_params)
        try:
            path = route.url_path_for(name, **path_params)
        except NoMatchFound:  # other parameters than the indexed route's: ask them all
            return request.url_for(name, **path_params)
        return path.make_absolute_url(base_url=request.base_url)


def route_index(request: Request) -> RouteIndex:
    """The app's index, built on first use."""
    state = request.app.state
    index: RouteIndex | None = getattr(state, "route_index", None)
    if index is None:
        index = state.route_index = RouteIndex(list(request.app.router.routes))
    return index


@pass_context
def template_url_for(context: dict[str, Any], name: str, /, **path_params: Any) -> URL:
    """``url_for`` in templates: the page of that name."""
    request: Request = context["request"]
    return route_index(request).url_for(request, name, **path_params)
