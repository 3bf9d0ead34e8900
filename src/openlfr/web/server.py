"""Serving the app with uvicorn so that it stops promptly.

uvicorn stops by waiting for every open response to finish, and an operator console's live
stream never finishes on its own: without help, Ctrl-C or SIGTERM would wait for every open
console. ``PlatformServer`` ends the live streams first (they say nothing more and close),
then lets uvicorn stop as usual. With plain ``uvicorn`` instead, pass
``--timeout-graceful-shutdown`` so open streams are cut after that many seconds.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from fastapi import FastAPI

from openlfr.services.platform import Platform


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
