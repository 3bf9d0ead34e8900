"""`openlfr serve --workers N`: refused on SQLite with a clear error; on PostgreSQL two
worker processes share the port, and an alert posted through either wakes a console stream
open on the other at once (LISTEN/NOTIFY), not at the stream's poll of the database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from platform_helpers import (
    PASSWORD,
    Scenario,
    Staff,
    activate_at,
    clock_set_to,
    make_settings,
)
from test_live_stream import EventStream

from openlfr.services import users
from openlfr.services.platform import SYSTEM_ACTOR, Platform
from openlfr.services.schemas import ApiKeyIn
from openlfr.web.deps import SESSION_COOKIE

ALERTS = 8
#: The stream's poll in the workers: far longer than any wake-up may take.
NO_POLL_S = 60
#: How soon an alert must reach the console (a loaded 2-core test machine included).
ARRIVAL_S = 2.0


def test_several_workers_on_sqlite_are_refused_with_what_to_do(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENLFR_DATABASE_URL"}
    done = subprocess.run([sys.executable, "-m", "openlfr", "serve", "--workers", "2",
                           "--data-dir", str(tmp_path / "data")],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode != 0
    assert "--workers 2 needs PostgreSQL" in done.stderr
    assert "OPENLFR_DATABASE_URL" in done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def two_workers(pg_schema_url: str, tmp_path: Path) -> Iterator[tuple[str, Platform]]:
    """`openlfr serve --workers 2` on a fresh PostgreSQL schema; yields its URL and a
    platform on the same database (for setting things up)."""
    data_dir = tmp_path / "data"
    platform = Platform.open(make_settings(data_dir, pg_schema_url, session_max_age_s=90 * 86400))
    port = _free_port()
    # Streams poll the database only every 60 s: an alert that arrives sooner was woken.
    env = {**os.environ, "OPENLFR_DATABASE_URL": pg_schema_url,
           "OPENLFR_LIVE_POLL_S": str(NO_POLL_S)}
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "openlfr", "serve", "--workers", "2",
                               "--port", str(port), "--data-dir", str(data_dir)],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the server did not start in 60 s"
            time.sleep(0.2)
        yield url, platform
    finally:
        server.terminate()
        server.wait(30)
        log.close()
        platform.close()


def test_an_alert_through_one_worker_wakes_a_console_on_the_other(
        two_workers: tuple[str, Platform]) -> None:
    url, platform = two_workers
    # An active deployment on the real clock: governed ahead on a clock moved by hand.
    start = datetime.now(UTC) - timedelta(minutes=1)
    with clock_set_to(platform, start - timedelta(days=21)) as clock:
        s = Scenario(Staff(platform), clock)
        entry = activate_at(s, start, hours=4)
    key = users.create_api_key(platform, SYSTEM_ACTOR,
                               ApiKeyIn(name="van-1", deployment_id=s.deployment_id))
    operator = httpx.Client(base_url=url, timeout=httpx.Timeout(10.0, read=60.0))
    login = operator.post("/api/auth/login", json={"username": "operator", "password": PASSWORD})
    assert login.status_code == 200, login.text
    operator.cookies.set(SESSION_COOKIE, login.cookies[SESSION_COOKIE])
    stream = EventStream(operator, f"/api/deployments/{s.deployment_id}/live")
    try:
        stream.next_of("status")
        stream.rest()
        delays = []
        for i in range(ALERTS):
            # A new connection each time: the kernel hands it to either worker.
            posted_at = time.monotonic()
            answer = httpx.post(f"{url}/api/node/deployments/{s.deployment_id}/alerts",
                                headers={"X-API-Key": key.secret}, json={
                                    "alert_uid": f"cross-process-{i}", "camera": "cam-1",
                                    "occurred_at": datetime.now(UTC).isoformat(),
                                    "track_id": str(i), "score": 0.7, "entry_id": entry})
            assert answer.status_code == 201, answer.text
            arrived = stream.next_of("alert", ARRIVAL_S + 3)
            assert arrived.data["id"] == answer.json()["id"]
            delays.append(arrived.received_at - posted_at)
            time.sleep(0.05)
        # Woken, not polled: every alert long before the stream's poll.
        assert max(delays) < ARRIVAL_S, delays
    finally:
        stream.close()
        operator.close()
