"""The public portal: server-rendered HTML pages (Jinja2) and notice feeds, one module
per area. Pages read through the same service and view functions as the JSON API, so
they show exactly what the public API exposes and decide nothing themselves.

The routes are plain Starlette routes, not API routes: they are HTML for people, outside
the OpenAPI spec, and every one of them is public (``PUBLIC_PAGE_PATHS``)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from openlfr.web.pages import deployments, feedback, feeds, register
from openlfr.web.pages.rendering import STATIC_DIR

#: Every page path; all are readable without logging in.
PUBLIC_PAGE_PATHS = ("/", "/deployments/{reference}", "/register",
                     "/areas/{area}/deployments.ics", "/areas/{area}/deployments.atom",
                     "/deployments/{reference}/feedback",
                     "/deployments/{reference}/feedback/thanks")


def portal_routes() -> list[BaseRoute]:
    """The portal's routes: pages, then the static files they link to."""
    return [*deployments.routes, *feedback.routes, *register.routes, *feeds.routes,
            Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static")]


def install(app: FastAPI) -> None:
    """Add the portal's routes to ``app`` (after the API's, which they never shadow) and
    the feedback form's per-client rate limit."""
    app.state.portal_feedback_limit = feedback.FeedbackRateLimit(feedback.FEEDBACK_PER_HOUR)
    app.router.routes.extend(portal_routes())
