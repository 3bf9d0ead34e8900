"""Fixtures for the engine-node tests: one real platform per module, served by uvicorn on
loopback with the real clock, and an ASGI gate in front of it that a test can close (the
platform is unreachable) or make hold its answers (it recorded an alert but the node never
hears so)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "platform"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "browser"))

from live_server import serve  # noqa: E402
from node_helpers import Gate, LivePlatform  # noqa: E402
from platform_helpers import ROLES, Staff, make_settings  # noqa: E402

from openlfr.services import users  # noqa: E402
from openlfr.services.platform import Platform  # noqa: E402


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
