"""The FastAPI application: ``create_app(settings)``.

JSON API under /api (routers in openlfr.web.api, one per resource), OpenAPI at
/openapi.json. HTML pages will live in openlfr.web.pages and mount beside the API.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache

from anyio import to_thread
from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute

from openlfr import __version__
from openlfr.services.mailer import send_pending
from openlfr.services.platform import Platform
from openlfr.services.retention import apply_retention
from openlfr.settings import Settings
from openlfr.web.api import (
    alerts,
    assessments,
    audit,
    auth,
    consultations,
    deployments,
    live,
    motions,
    node,
    public,
    technology,
    users,
    watchlists,
)
from openlfr.web.caching import PublicCacheMiddleware
from openlfr.web.errors import install_error_handlers
from openlfr.web.pages import install as install_pages
from openlfr.web.security import SecurityMiddleware

API_PREFIX = "/api"
#: Paths anyone may call without logging in (everything else refuses anonymous callers).
PUBLIC_PATH_PREFIXES = (f"{API_PREFIX}/public/", f"{API_PREFIX}/auth/login", "/healthz",
                        "/openapi.json", "/docs", "/redoc")


RETENTION_INTERVAL_S = 3600
#: How often the e-mail outbox is checked for notices that are due.
EMAIL_INTERVAL_S = 5
log = logging.getLogger(__name__)


async def _retention_loop(platform: Platform) -> None:
    """Apply retention every hour while the server runs (in a thread: it does DB I/O)."""
    while True:
        await asyncio.sleep(RETENTION_INTERVAL_S)
        try:
            await asyncio.to_thread(apply_retention, platform)
        except Exception:  # a failed sweep must not stop the server; the next one retries
            log.exception("retention sweep failed")


async def _email_loop(platform: Platform) -> None:
    """Send due notice e-mails every few seconds while the server runs (in a thread: SMTP
    and DB I/O). A failure leaves them in the outbox for the next round."""
    while True:
        await asyncio.sleep(EMAIL_INTERVAL_S)
        try:
            await asyncio.to_thread(send_pending, platform)
        except Exception:  # the outbox keeps them; the next round retries
            log.exception("sending notice e-mails failed")


def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@cache
def api_routes() -> tuple[BaseRoute, ...]:
    """The API's routes, built once per process and shared by every app it creates, as
    the portal's are (``openlfr.web.pages.portal_routes``). FastAPI builds a route's
    parameter and response models when the route is first matched, and keeps them on the
    route objects of the app that included the router: 0.35 s of CPU for the whole API,
    paid again by every app that includes the routers itself (the tests and the demo build
    an app per platform: 432 of them in one run of the suite). No route depends on the
    app: each reads its platform from ``request.app.state``, the body limit is the app's
    own (``FastAPI(max_body_size=...)``), and the OpenAPI document is the same; only
    ``app.dependency_overrides``, which nothing uses, would not reach them."""
    api = APIRouter()
    # The node API first: its paths overlap no other, and the routes are tried in order
    # (the busiest caller, a fleet posting every second, then matches at once).
    for module in (node, auth, users, deployments, assessments, consultations, motions,
                   technology, watchlists, alerts, live, audit, public):
        api.include_router(module.router, prefix=API_PREFIX)
    api.add_api_route("/healthz", healthz, methods=["GET"], tags=["meta"])
    return tuple(api.routes)


def create_app(settings: Settings | None = None, *, platform: Platform | None = None) -> FastAPI:
    """Build the app. Opens the database and migrates it to the latest schema now, so a
    server that starts is a server whose schema is current; applies retention (expired
    watchlist entries, finished deployments' watchlists) now and hourly while serving, and
    sends due notice e-mails from the outbox every few seconds."""
    platform = platform or Platform.open(settings or Settings())

    apply_retention(platform)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Requests run on as many threads as the database pool has connections.
        to_thread.current_default_thread_limiter().total_tokens = (
            platform.settings.server_threads)
        # Consoles on every server process wake when any of them records an alert.
        platform.live.connect_processes(platform.engine,
                                        platform.settings.live_wakeups_url)
        sweeper = asyncio.create_task(_retention_loop(platform))
        mailer = asyncio.create_task(_email_loop(platform))
        # What was loaded to start (modules, routes, templates) lives as long as the
        # server: keep it out of the garbage collector's full passes, which otherwise
        # walked it all and stalled every request for 100-190 ms several times a minute.
        gc.collect()
        gc.freeze()
        yield
        sweeper.cancel()
        mailer.cancel()
        platform.close()

    limits: dict[str, int] = {}
    if "max_body_size" in inspect.signature(FastAPI.__init__).parameters:
        # Oversized bodies are refused with 413 before they are read into memory.
        limits["max_body_size"] = platform.settings.max_request_bytes
    app = FastAPI(
        **limits,  # type: ignore[arg-type]
        title="openlfr",
        version=__version__,
        description="Live facial recognition with community accountability: deployments, "
        "policy gates, governance records, engine-node API and public views.",
        lifespan=lifespan,
    )
    app.state.platform = platform
    live.install_live_reads(app, platform)
    install_error_handlers(app)
    app.router.routes.extend(api_routes())
    install_pages(app)  # the public portal's HTML pages and feeds (openlfr.web.pages)
    # Public pages, feeds and open data from the cache while nothing published changed.
    app.add_middleware(PublicCacheMiddleware, cache=platform.public_cache)
    # Security headers on every response; Origin checked on cookie-authenticated API calls.
    app.add_middleware(SecurityMiddleware, public_url=platform.settings.public_url)
    return app
