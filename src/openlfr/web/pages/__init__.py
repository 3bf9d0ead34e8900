"""The portal: server-rendered HTML pages (Jinja2) and notice feeds, one module per area.
Pages read through the same service and view functions as the JSON API, so they show
exactly what the API exposes and decide nothing themselves.

The routes are plain Starlette routes, not API routes: they are HTML for people, outside
the OpenAPI spec. Each module declares its public paths as ``PUBLIC_PATHS`` (anyone may
read); every other route is a ``StaffRoute`` naming the action of the powers table it
takes (see ``staff_access``). Tests check that every route is one or the other, and walk
every staff route for every role against the powers table.
"""

from __future__ import annotations

from types import ModuleType

from fastapi import FastAPI
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from openlfr.web.pages import (
    audit_feed,
    auth,
    collective,
    console,
    consultation,
    consultation_builder,
    deployments,
    feedback,
    feeds,
    objections,
    register,
    reports,
    residents,
    staff,
    subscriptions,
    transparency,
    watchlist,
)
from openlfr.web.pages.rendering import STATIC_DIR
from openlfr.web.pages.staff_access import StaffRoute

#: Every page module, in routing order.
PAGE_MODULES: tuple[ModuleType, ...] = (
    deployments, feedback, objections, collective, register, feeds, consultation,
    subscriptions, transparency, residents,
    reports, auth, staff, consultation_builder, watchlist, console, audit_feed)

#: Every public page path; all are readable without logging in.
PUBLIC_PAGE_PATHS: tuple[str, ...] = tuple(
    path for module in PAGE_MODULES for path in getattr(module, "PUBLIC_PATHS", ()))
#: Every staff route (login needed; each checks the action it names in the powers table).
STAFF_ROUTES: tuple[StaffRoute, ...] = tuple(
    route for module in PAGE_MODULES for route in module.routes
    if isinstance(route, StaffRoute))
#: Every staff page path.
STAFF_PAGE_PATHS: tuple[str, ...] = tuple(dict.fromkeys(r.path for r in STAFF_ROUTES))


def portal_routes() -> list[BaseRoute]:
    """The portal's routes: pages, then the static files they link to."""
    return [*(route for module in PAGE_MODULES for route in module.routes),
            Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static")]


def install(app: FastAPI) -> None:
    """Add the portal's routes to ``app`` (after the API's, which they never shadow)."""
    app.router.routes.extend(portal_routes())
