"""The platform process (`openlfr serve` on a SQLite file) is killed and restarted while a
node runs: no alert the node queued is lost and none is recorded twice. Then the operator
completes the deployment (the stop command): the node notices, stops, drops the watchlist
and empties its outbox, and nothing of the watchlist remains anywhere (an alert raised
between the completion and the node noticing it is refused by the platform: it is kept
aside in the outbox, reported, until discarded)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import free_port
from node_helpers import (
    CLIP,
    NodeProcess,
    active_deployment,
    files_under,
    node_key,
    wait_until,
)
from platform_helpers import PASSWORD, ROLES, Staff, make_settings

from openlfr.node.outbox import OUTBOX_FILE_NAME
from openlfr.services.platform import Platform
from openlfr.storage import models as m

pytestmark = pytest.mark.slow


class PlatformProcess:
    """`openlfr serve` in its own process group, on a fixed port so it can come back."""

    def __init__(self, data_dir: Path, port: int, log: Path) -> None:
        self.data_dir, self.port, self.log = data_dir, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLFR_")}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "openlfr", "serve", "--data-dir", str(self.data_dir),
                 "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True)

        def answers() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"the platform exited: {self.log.read_text()[-2000:]}")
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, 60, "the platform to answer")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """An active deployment prepared in-process on a SQLite file, then served by a
    separate `openlfr serve` process."""
    from argon2 import PasswordHasher

    from openlfr.services import users

    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024,
                                                         parallelism=1))
    data_dir = tmp_path / "platform"
    platform = Platform.open(make_settings(data_dir))
    staff = Staff(platform)
    for role in ROLES:
        staff[role]  # noqa: B018 (accounts, created with the cheap hasher)
    deployment = active_deployment(staff)
    key = node_key(platform, deployment.id)
    platform.close()
    server = PlatformProcess(data_dir, free_port(), tmp_path / "platform.log")
    server.start()
    try:
        yield {"server": server, "deployment": deployment, "key": key, "data_dir": data_dir}
    finally:
        server.kill()


def _login(url: str, role: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    r = client.post("/api/auth/login", json={"username": role, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return client


def _outbox_uids(outbox: Path) -> list[str]:
    with sqlite3.connect(f"file:{outbox / OUTBOX_FILE_NAME}?mode=ro", uri=True) as conn:
        return [row[0] for row in conn.execute("SELECT uid FROM outbox_items")]


def test_platform_killed_twice_loses_nothing_then_completion_leaves_nothing(
        served: dict[str, Any], tmp_path: Path) -> None:
    server: PlatformProcess = served["server"]
    d = served["deployment"]
    outbox, home = tmp_path / "outbox", tmp_path / "home"
    node = NodeProcess(["--platform", server.url, "--deployment", d.reference,
                        "--source", str(CLIP), "--loop", "--outbox", str(outbox),
                        "--flush-interval-s", "1", "--poll-interval-s", "0.5",
                        "--backoff-max-s", "1"], home, served["key"])
    node.wait_for(lambda e: e.get("type") == "watching", what="the engine to start")
    server.kill()  # the platform dies before the first alert
    queued = node.wait_for(lambda e: e.get("type") == "alert", what="an alert")
    node.wait_for(lambda e: e.get("type") == "unreachable", what="a failed delivery")
    assert queued["alert_uid"] in _outbox_uids(outbox)

    server.start()  # back: the node delivers what waited
    node.wait_for(lambda e: e.get("type") == "sent" and e["uid"] == queued["alert_uid"],
                  what="the queued alert to be delivered")
    server.kill()  # and dies again after acknowledging: what it acknowledged is kept
    time.sleep(1.0)
    server.start()
    operator = _login(server.url, "operator")
    alerts = operator.get(f"/api/deployments/{d.id}/alerts").json()
    assert queued["alert_uid"] in [a["alert_uid"] for a in alerts]

    # The stop command: the operator completes the deployment.
    completed = operator.post(f"/api/deployments/{d.id}/complete")
    assert completed.status_code == 200, completed.text
    code, summary = node.finish()
    refusals = node.of_type("refused")
    assert code == (1 if refusals else 0), node.transcript()
    assert summary is not None and summary["stop_reason"] == "deployment_ended"
    stopping = node.of_type("stopping")[0]
    assert "'completed', not 'active'" in stopping["detail"]

    # Every alert the node queued is on the platform once, unless the platform refused
    # it for good (raised after the completion, before the node noticed).
    queued_uids = [e["alert_uid"] for e in node.of_type("alert")]
    refused = {e["uid"] for e in node.of_type("refused") if e["kind"] == "alert"}
    recorded = [a["alert_uid"] for a in operator.get(f"/api/deployments/{d.id}/alerts").json()]
    assert len(recorded) == len(set(recorded))
    assert sorted(recorded) == sorted(set(queued_uids) - refused)
    assert not d.misnamed(node.of_type("alert"))
    # Counts: what the platform holds plus what it refused is what the engine counted.
    engine = summary["engine"]
    figures = httpx.get(f"{server.url}/api/public/deployments/{d.reference}").json()["figures"]
    refused_counts = summary["refused_counts"]
    assert figures["faces_seen"] + refused_counts.get("faces_seen", 0) == engine[
        "faces_detected"]
    assert figures["tracks"] + refused_counts.get("tracks", 0) == engine["tracks"]

    # What the platform refused is kept aside (409, with its reason), and said; once
    # discarded, nothing remains: the node's folders are empty, the platform holds no entry.
    assert summary["pending"] == 0 and summary["quarantined"] == len(refusals)
    if refusals:
        assert not summary["outbox_removed"]
        assert sorted(_outbox_uids(outbox)) == sorted(e["uid"] for e in refusals)
        assert {r["status_code"] for r in summary["quarantine_reasons"]} == {409}
        listed = subprocess.run([sys.executable, "-m", "openlfr", "node", "outbox", "--outbox",
                                 str(outbox), "--discard"], capture_output=True, text=True,
                                timeout=120)
        assert listed.returncode == 0, listed.stderr
    else:
        assert summary["outbox_removed"]
    assert files_under(outbox, home) == []
    watchlist = _login(server.url, "planner").get(f"/api/deployments/{d.id}/watchlist").json()
    assert watchlist["entries"] == [] and watchlist["watchlist"]["destroyed_at"]
    admin = _login(server.url, "admin")
    assert admin.get("/api/audit/verify").json()["ok"]
    server.kill()
    platform = Platform.open(make_settings(served["data_dir"]))
    try:
        with platform.sessions() as s:
            assert s.query(m.WatchlistEntry).count() == 0
            events = {e.action: e for e in s.query(m.AuditEvent).filter(
                m.AuditEvent.subject_id.in_([str(d.id)]))}
            destroyed = [e for e in s.query(m.AuditEvent)
                         if e.action == "watchlist.destroyed"]
    finally:
        platform.close()
    assert json.loads(destroyed[0].details) == {"entries_deleted": 3,
                                                "reference_photos_deleted": 3}
    dropped = json.loads(events["node.watchlist_dropped"].details)
    assert dropped["reason"] == "deployment_ended"
    assert dropped["outbox_pending"] == len(refusals)
