"""Fixtures for the engine-node tests: one real platform per module, served by uvicorn on
loopback with the real clock, and an ASGI gate in front of it that a test can close (the
platform is unreachable) or make hold its answers (it recorded an alert but the node never
hears so)."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "platform"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "browser"))

from live_server import serve  # noqa: E402
from platform_helpers import ROLES, Staff, make_settings  # noqa: E402

from openlfr.services import users  # noqa: E402
from openlfr.services.platform import Platform  # noqa: E402


class Gate:
    """ASGI middleware in front of the platform. ``mode``: None (pass), "down" (every
    node call answers 503 before the platform sees it) or "hold" (alert posts are
    recorded, but the answer is held back until ``release`` is set)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = app.state  # what the server reads from the app it serves
        self.mode: str | None = None
        self.release = threading.Event()
        self.held = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.startswith("/api/node/") or self.mode is None:
            await self.app(scope, receive, send)
            return
        if self.mode == "down":
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"gate closed"})
            return
        if self.mode == "hold" and scope["method"] == "POST" and path.endswith("/alerts"):
            answer: list[dict[str, Any]] = []

            async def keep(message: dict[str, Any]) -> None:
                answer.append(message)

            await self.app(scope, receive, keep)
            self.held += 1
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            for message in answer:
                await send(message)
            return
        await self.app(scope, receive, send)


@dataclass
class LivePlatform:
    platform: Platform
    staff: Staff
    url: str
    gate: Gate


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePlatform]:
    from argon2 import PasswordHasher

    with pytest.MonkeyPatch.context() as patch:
        # Argon2's production cost is for real logins; tests log in a handful of times.
        patch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024,
                                                       parallelism=1))
        data_dir = tmp_path_factory.mktemp("platform") / "data"
        platform = Platform.open(make_settings(data_dir, session_max_age_s=86400))
        staff = Staff(platform)
        for role in ROLES:
            staff[role]  # noqa: B018 (log each role in now, with the cheap hasher)
        gate = Gate(staff.app)
        try:
            with serve(gate) as url:
                yield LivePlatform(platform, staff, url, gate)
        finally:
            gate.release.set()
            platform.close()


@pytest.fixture
def open_gate(live: LivePlatform) -> Iterator[Gate]:
    """The gate, open at the start and the end of the test."""
    live.gate.mode = None
    live.gate.release.clear()
    yield live.gate
    live.gate.mode = None
    live.gate.release.set()
