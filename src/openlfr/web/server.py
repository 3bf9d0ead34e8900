"""Serving the app with uvicorn: in one process, or in several (``serve_workers``), and so
that it stops promptly.

uvicorn stops by waiting for every open response to finish, and an operator console's live
stream never finishes on its own: without help, Ctrl-C or SIGTERM would wait for every open
console. ``PlatformServer`` ends the live streams first (they say nothing more and close),
then lets uvicorn stop as usual. With plain ``uvicorn`` instead, pass
``--timeout-graceful-shutdown`` so open streams are cut after that many seconds.

Several worker processes need PostgreSQL: SQLite is one file with one writer. The
console's wake-ups go from one process to the others through PostgreSQL's LISTEN/NOTIFY,
or Redis pub/sub when ``OPENLFR_LIVE_WAKEUPS_URL`` is set.
Each worker builds its app from the environment (``worker_app``), like uvicorn's own
``--workers``; the parent has already migrated the database.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import uvicorn
from fastapi import FastAPI

from openlfr.services.platform import Platform
from openlfr.settings import Settings

#: Seconds a worker waits for open responses (console streams) when stopping.
WORKER_GRACEFUL_SHUTDOWN_S = 5


class WorkersNeedPostgres(ValueError):
    """Several server processes were asked for on SQLite."""


def require_workers_supported(settings: Settings, workers: int) -> None:
    """Refuse ``workers`` > 1 unless the database is PostgreSQL, saying why and what to do."""
    if workers > 1 and not settings.effective_database_url.startswith("postgresql"):
        raise WorkersNeedPostgres(
            f"--workers {workers} needs PostgreSQL: set OPENLFR_DATABASE_URL="
            "postgresql+psycopg://USER:PASSWORD@HOST/DB. On SQLite (one file, one writer) "
            "run one worker; consoles are woken across processes only by PostgreSQL.")


def worker_app() -> FastAPI:
    """The app of one worker process, from the environment's settings (uvicorn calls it
    in each worker; ``serve_workers`` has put the data folder in the environment)."""
    from openlfr.web import create_app

    return create_app(Settings())


def serve_workers(settings: Settings, *, host: str, port: int, workers: int,
                  **options: Any) -> None:
    """Serve the app in ``workers`` processes sharing one listening socket (PostgreSQL
    only, see ``require_workers_supported``) until Ctrl-C or SIGTERM."""
    require_workers_supported(settings, workers)
    os.environ["OPENLFR_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        os.environ["OPENLFR_DATABASE_URL"] = settings.database_url
    uvicorn.run("openlfr.web.server:worker_app", factory=True, host=host, port=port,
                workers=workers, timeout_graceful_shutdown=WORKER_GRACEFUL_SHUTDOWN_S,
                **options)


class PlatformServer(uvicorn.Server):
    """uvicorn's server for the platform app: on stopping (a signal, or ``should_exit``
    set by a test) it ends the live streams before waiting for open responses."""

    def __init__(self, config: uvicorn.Config, platform: Platform) -> None:
        super().__init__(config)
        self.platform = platform

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.platform.live.close()
        await super().shutdown(sockets)


def serve(app: FastAPI, *, host: str, port: int, **options: Any) -> None:
    """Serve ``app`` (built by ``create_app``) until Ctrl-C or SIGTERM; ``options`` are
    passed to ``uvicorn.Config``."""
    platform: Platform = app.state.platform
    PlatformServer(uvicorn.Config(app, host=host, port=port, **options), platform).run()
