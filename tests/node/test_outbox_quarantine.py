"""What the outbox holds that a run cannot send, and the node's threads against answers
nobody expected.

* An item the platform refuses for good (422, 409...) is quarantined, with the status and
  the platform's reason, kept on disk, and the items behind it are delivered; a later run
  does not stop on it; ``openlfr node outbox`` lists, requeues or discards it.
* A run for one deployment says what the outbox holds for another (and until when the
  platform takes it), and never reports a clean outbox when it is not.
* A 2xx that is not the platform's answer (a captive portal's HTML page, a redirect, JSON
  without its keys) is an outage, retried; an unexpected error in the sender or the poll
  thread is reported and the thread goes on (the end-of-window check included).
* An outbox written by the previous version opens, upgraded in place.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from platform_helpers import (  # noqa: F401 (fixtures: the platform's scenario)
    START,
    FakeClock,
    Scenario,
    cheap_password_hashing,
    clock,
    make_settings,
    ok,
    scenario,
    staff,
)
from receipts import receipt
from typer.testing import CliRunner

from openlfr.cli import app
from openlfr.cli.node_command import _exit, event_text, summary_line
from openlfr.node import NodeConfig, NodeRunner, Outbox, OutboxError, PlatformClient
from openlfr.node.client import DeploymentStatus, PlatformUnreachable
from openlfr.node.outbox import FORMAT_NAME, OUTBOX_FILE_NAME, sealing_key
from openlfr.node.runner import NodeSummary, Sender
from openlfr.services.platform import Platform

KEY = "olfr_node_key_for_tests"
API = "http://platform.test/api"
NOW = datetime.now(UTC)


@pytest.fixture
def platform(tmp_path: Path, clock: FakeClock) -> Iterator[Platform]:  # noqa: F811
    p = Platform.open(make_settings(tmp_path / "data", session_max_age_s=90 * 86400))
    p.clock = clock
    yield p
    p.close()


def _alert(uid: str, entry_id: int, when: datetime) -> dict[str, Any]:
    return {"alert_uid": uid, "occurred_at": when.isoformat(), "camera": "c",
            "track_id": "1", "score": 0.7, "entry_id": entry_id,
            "entry_category": "wanted_for_arrest"}


# --- one refused item no longer blocks the outbox -----------------------------------------


def test_an_item_the_platform_refuses_is_set_aside_and_the_rest_delivered(
        scenario: Scenario, tmp_path: Path) -> None:  # noqa: F811
    """The node started just after activation with its clock 6 minutes slow: its first
    counter batch is refused (422, before the deployment began). The alerts queued behind
    it are delivered all the same; the batch is kept, with the platform's reason."""
    s, staff_ = scenario, scenario.staff
    s.activate()
    node = staff_.node(s.deployment_id)
    key = node.headers["X-API-Key"]
    entry_id = ok(node.get(f"/api/node/deployments/{s.deployment_id}/watchlist")
                  )["entries"][0]["entry_id"]
    client = PlatformClient("http://testserver", key, transport=node._transport)
    outbox = Outbox.in_folder(tmp_path / "box", key)
    events: list[dict[str, Any]] = []
    sender = Sender(outbox, client, s.deployment_id, events.append, 0.01, 0.02)
    s.clock.now = START + timedelta(minutes=1)
    slow = START - timedelta(minutes=5)
    outbox.put(sender.platform, s.deployment_id, "counters", "c-first-batch",
               {"batch_id": "c-first-batch", "faces_seen": 30, "tracks": 3,
                "period_start": (slow - timedelta(seconds=10)).isoformat(),
                "period_end": slow.isoformat()})
    for n in range(3):
        uid = f"a-good-{n:04d}"
        outbox.put(sender.platform, s.deployment_id, "alert", uid,
                   _alert(uid, entry_id, START + timedelta(minutes=2, seconds=n)))
    s.clock.now = START + timedelta(minutes=3)

    assert sender.flush(timeout_s=5)  # nothing left to send
    assert sender.fatal is None and sender.ended is None
    assert sender.sent == {"alert": 3} and sender.refused == {"counters": 1}
    public = ok(staff_.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["figures"]["alerts"] == 3
    (kept,) = outbox.quarantined(sender.platform, s.deployment_id)
    assert (kept.uid, kept.kind, kept.status_code) == ("c-first-batch", "counters", 422)
    assert "before the deployment began" in kept.reason and "clock" in kept.reason
    (refused,) = [e for e in events if e["type"] == "refused"]
    assert refused["status_code"] == 422 and refused["quarantined"]

    # A later run does not stop on it, and does not send it again.
    s.clock.now = START + timedelta(hours=3)
    again = Sender(outbox, client, s.deployment_id, lambda e: None, 0.01, 0.02)
    assert again.flush(timeout_s=2) and again.fatal is None and not again.refused
    assert again.pending() == 0 and outbox.count(state="quarantined") == 1
    assert not outbox.close_and_remove_if_empty()  # kept on disk


def test_quarantined_items_are_requeued_or_discarded(tmp_path: Path) -> None:
    box = Outbox.in_folder(tmp_path / "box", KEY)
    for uid in ("a-1", "a-2", "a-3"):
        box.put(API, 7, "alert", uid, {"alert_uid": uid, "probe_crop_jpeg_b64": "face"})
    box.put(API, 8, "alert", "b-1", {"alert_uid": "b-1"})
    first, second, third = box.pending(API, 7)
    box.quarantine(first.id, 409, "the deployment is 'notice_published', not 'active'")
    box.quarantine(second.id, 422, "body.score: below the threshold")
    assert [i.uid for i in box.pending(API, 7)] == ["a-3"]
    assert box.count(API, 7) == 1 and box.count(API, 7, state="quarantined") == 2
    assert box.count(state=None) == 4

    assert box.requeue(API, 7, status_code=409) == 1  # only the 409
    (back, waiting) = box.pending(API, 7)
    assert back.uid == "a-1" and back.payload["probe_crop_jpeg_b64"] == "face"
    assert back.last_error == "refused (409): the deployment is 'notice_published', not " \
        "'active'"
    assert [q.uid for q in box.quarantined()] == ["a-2"]

    assert box.discard_quarantined(API, 8) == 0  # another deployment's: none
    assert box.discard_quarantined(API, 7) == 1
    assert box.quarantined() == [] and box.count(state=None) == 3
    for item in box.pending(API, 7) + box.pending(API, 8):
        box.ack(item.id)
    assert box.close_and_remove_if_empty()


def test_a_409_item_gets_another_chance_when_the_deployment_is_active_again(
        tmp_path: Path) -> None:
    """An alert refused with 409 while an amendment had sent the deployment back is not
    lost: the next run, once the deployment is active again, sends it first."""
    received: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=_status_json(8, "LFR-2026-0008"))
        if request.url.path.endswith("/watchlist-dropped"):
            return httpx.Response(204)
        body = json.loads(request.content)
        received.extend(a["alert_uid"] for a in body.get("alerts", [body]))
        return receipt(request)

    box = Outbox.in_folder(tmp_path, KEY)
    box.put(API, 8, "alert", "a-seen-while-active", {"alert_uid": "a-seen-while-active"})
    (item,) = box.pending(API, 8)
    box.quarantine(item.id, 409, "deployment LFR-2026-0008 is 'notice_published'")
    box.close()
    events: list[dict[str, Any]] = []
    summary = _run(tmp_path, handler, events, KEY, "LFR-2026-0008")
    assert [e["items"] for e in events if e["type"] == "requeued"] == [1]
    assert received == ["a-seen-while-active"]
    assert summary.quarantined == 0 and summary.outbox_removed


def test_a_second_409_for_a_requeued_item_sets_it_aside_without_stopping_the_run(
        tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=_status_json(8, "LFR-2026-0008"))
        if request.url.path.endswith("/watchlist-dropped"):
            return httpx.Response(204)
        return httpx.Response(409, json={"detail": "still not taken"})

    box = Outbox.in_folder(tmp_path, KEY)
    box.put(API, 8, "alert", "a-1", {"alert_uid": "a-1"})
    (item,) = box.pending(API, 8)
    box.quarantine(item.id, 409, "not active")
    box.close()
    ran: list[bool] = []
    config = NodeConfig(platform_url="http://platform.test", api_key=KEY,
                        deployment="LFR-2026-0008", source="unused", outbox_dir=tmp_path)
    runner = NodeRunner(config, lambda e: None)
    transport = httpx.MockTransport(handler)
    runner._client = lambda: PlatformClient(  # type: ignore[method-assign]
        "http://platform.test", KEY, transport=transport)

    def pipeline(status: Any, outbox: Any, sender: Sender, summary: Any) -> Any:
        ran.append(sender.ended is None)  # the run would go on watching
        return "source_ended", None

    runner._run_pipeline = pipeline  # type: ignore[method-assign]
    summary = runner.run()
    assert ran == [True] and summary.stop_reason == "source_ended"
    assert summary.quarantined == 1 and summary.refused == {"alert": 1}
    assert summary.quarantine_reasons == [{"status_code": 409, "reason": "still not taken",
                                           "items": 1}]


# --- what waits for another deployment ------------------------------------------------------


def _status_json(deployment_id: int, reference: str, may_run: bool = True,
                 late: datetime | None = None) -> dict[str, Any]:
    return {"deployment_id": deployment_id, "reference": reference,
            "status": "active" if may_run else "completed",
            "start_at": (NOW - timedelta(hours=1)).isoformat(),
            "end_at": (NOW + timedelta(hours=3)).isoformat(), "threshold": 0.6,
            "may_run": may_run, "reason": None if may_run else f"{reference} is 'completed'",
            "late_delivery_until": None if late is None else late.isoformat()}


def _run(box: Path, handler: Any, events: list[dict[str, Any]], key: str,
         deployment: str) -> NodeSummary:
    config = NodeConfig(platform_url="http://platform.test", api_key=key,
                        deployment=deployment, source="unused", outbox_dir=box)
    runner = NodeRunner(config, events.append)
    transport = httpx.MockTransport(handler)
    runner._client = lambda: PlatformClient(  # type: ignore[method-assign]
        "http://platform.test", key, transport=transport)
    runner._run_pipeline = lambda *a: ("source_ended", None)  # type: ignore[method-assign]
    return runner.run()


def test_a_run_for_one_deployment_reports_what_waits_for_another(tmp_path: Path) -> None:
    box = tmp_path / "node-outbox"
    late = NOW + timedelta(hours=20)
    # Deployment 7's run was interrupted; its key differs from 8's.
    a = Outbox.in_folder(box, "key-for-deployment-A")
    a.remember_deployment(API, 7, "LFR-2026-0007", NOW.isoformat(), late.isoformat())
    a.put(API, 7, "alert", "a-0001", {"alert_uid": "a-0001", "probe_crop_jpeg_b64": "..."})
    a.put(API, 7, "alert", "a-0002", {"alert_uid": "a-0002"})
    a.put(API, 9, "alert", "z-0001", {"alert_uid": "z-0001"})  # an older openlfr's: unknown
    a.close()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=_status_json(8, "LFR-2026-0008"))
        return receipt(request)

    events: list[dict[str, Any]] = []
    summary = _run(box, handler, events, "key-for-deployment-B", "LFR-2026-0008")
    assert summary.pending == 0 and not summary.outbox_removed
    held = {h["deployment_id"]: h for h in summary.held_for_others}
    assert held[7] == {"platform": API, "deployment_id": 7, "pending": 2, "quarantined": 0,
                       "reference": "LFR-2026-0007", "end_at": NOW.isoformat(),
                       "late_delivery_until": late.isoformat()}
    assert held[9]["pending"] == 1 and held[9]["reference"] is None
    (backlog,) = [e for e in events if e["type"] == "backlog"]
    assert backlog["pending"] == 0 and len(backlog["held_for_others"]) == 2

    # For people: never "0 pending" or "empty"; who, how many, until when.
    text = event_text(backlog)
    assert text is not None and text.startswith("warning: the outbox holds")
    assert "2 items to send for deployment LFR-2026-0007 (id 7)" in text
    assert f"until {late:%Y-%m-%d %H:%M} UTC" in text
    assert "deployment id 9" in text and "not known" in text
    line = summary_line(summary)
    assert "3 items held for 2 other deployment(s)" in line
    assert "0 pending" not in line and "empty" not in line
    # Still there, for deployment 7's own run.
    assert Outbox.in_folder(box, "key-for-deployment-A").count(API, 7) == 2


# --- the summary and the exit status ---------------------------------------------------------


def test_the_summary_and_the_exit_status_say_what_was_set_aside() -> None:
    summary = NodeSummary(deployment="LFR-2026-0007", deployment_id=7,
                          stop_reason="source_ended", quarantined=2,
                          quarantine_reasons=[{"status_code": 422, "reason": "bad clock",
                                               "items": 2}])
    line = summary_line(summary)
    assert "2 refused by the platform and kept aside in the outbox (422: bad clock" in line
    assert "0 pending" not in line
    with pytest.raises(typer.Exit) as exited:
        _exit(summary)
    assert exited.value.exit_code == 1


def test_node_outbox_lists_requeues_and_discards(tmp_path: Path) -> None:
    box = Outbox.in_folder(tmp_path, KEY)
    box.remember_deployment(API, 7, "LFR-2026-0007", NOW.isoformat(), None)
    box.put(API, 7, "counters", "c-1", {"batch_id": "c-1"})
    box.put(API, 7, "alert", "a-1", {"alert_uid": "a-1"})
    (counters, _alert_item) = box.pending(API, 7)
    box.quarantine(counters.id, 422, "body.period_start: before the deployment began")
    box.close()
    runner = CliRunner()

    listed = runner.invoke(app, ["node", "outbox", "--outbox", str(tmp_path)])
    assert listed.exit_code == 0, listed.output
    assert "1 items to send and 1 quarantined for deployment LFR-2026-0007" in listed.output
    assert "counters c-1" in listed.output and "with 422" in listed.output
    assert "before the deployment began" in listed.output

    as_json = json.loads(runner.invoke(app, ["node", "outbox", "--outbox", str(tmp_path),
                                             "--json"]).output)
    assert [q["uid"] for q in as_json["quarantined"]] == ["c-1"]

    requeued = runner.invoke(app, ["node", "outbox", "--outbox", str(tmp_path),
                                   "--requeue"])
    assert requeued.exit_code == 0 and "1 quarantined items put back" in requeued.output
    again = Outbox.in_folder(tmp_path, KEY)
    assert [i.uid for i in again.pending(API, 7)] == ["c-1", "a-1"]
    (first, second) = again.pending(API, 7)
    again.quarantine(first.id, 422, "still wrong")
    again.ack(second.id)
    again.close()
    discarded = runner.invoke(app, ["node", "outbox", "--outbox", str(tmp_path),
                                    "--discard"])
    assert discarded.exit_code == 0 and "1 quarantined items discarded" in discarded.output
    assert "file removed" in discarded.output
    assert not (tmp_path / OUTBOX_FILE_NAME).exists()


# --- answers nobody expected -------------------------------------------------------------


def test_a_2xx_that_is_not_the_platforms_answer_is_an_outage() -> None:
    answers = [httpx.Response(200, text="<html>Please log in to the Wi-Fi</html>",
                              headers={"content-type": "text/html"}),
               httpx.Response(302, headers={"location": "http://portal.example/login"}),
               httpx.Response(200, json={"deployment_id": 7}),  # keys missing
               httpx.Response(200, json=["not", "a", "status"]),
               httpx.Response(429, json={"detail": "slow down"})]
    client = PlatformClient("http://p.test", "k",
                            transport=httpx.MockTransport(lambda request: answers.pop(0)))
    with pytest.raises(PlatformUnreachable, match="not JSON.*captive portal"):
        client.send(7, "alert", {"alert_uid": "a-1"})
    with pytest.raises(PlatformUnreachable, match="302 http://portal.example/login"):
        client.send(7, "alert", {"alert_uid": "a-1"})  # nothing was acknowledged
    with pytest.raises(PlatformUnreachable, match="not a deployment's status"):
        client.deployment(7)
    with pytest.raises(PlatformUnreachable, match="not a deployment's status"):
        client.deployment(7)
    with pytest.raises(PlatformUnreachable, match="429"):
        client.send(7, "alert", {"alert_uid": "a-1"})


def test_a_time_without_an_offset_is_read_as_utc() -> None:
    data = _status_json(7, "LFR-2026-0007")
    data["end_at"] = "2026-03-22T18:00:00"
    status = DeploymentStatus.from_json(data)
    assert status.end_at == datetime(2026, 3, 22, 18, tzinfo=UTC)


def test_the_sender_thread_outlives_an_odd_answer_and_an_unexpected_error(
        tmp_path: Path) -> None:
    odd = ["html"]
    received: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if odd:
            odd.pop()
            return httpx.Response(200, text="<html>gateway</html>")
        received.append(json.loads(request.content)["alert_uid"])
        return receipt(request)

    events: list[dict[str, Any]] = []
    client = PlatformClient("http://p.test", "k", transport=httpx.MockTransport(handler))
    outbox = Outbox.in_folder(tmp_path / "box", KEY)
    sender = Sender(outbox, client, 7, events.append, 0.01, 0.02)
    real_pending = outbox.pending
    failures = ["once"]

    def pending_failing_once(*args: Any, **kwargs: Any) -> Any:
        if failures and received:
            failures.pop()
            raise sqlite3.OperationalError("disk I/O error")
        return real_pending(*args, **kwargs)

    outbox.pending = pending_failing_once  # type: ignore[method-assign]
    sender.start()
    try:
        for n in range(4):
            outbox.put(sender.platform, 7, "alert", f"a-{n}", {"alert_uid": f"a-{n}"})
            sender.notify()
            time.sleep(0.15)
        deadline = time.monotonic() + 10
        while sender.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sender._thread is not None and sender._thread.is_alive()
    finally:
        sender.stop()
    assert received == ["a-0", "a-1", "a-2", "a-3"] and sender.pending() == 0
    kinds = [e["type"] for e in events]
    assert "unreachable" in kinds  # the HTML page: retried
    (error,) = [e for e in events if e["type"] == "unexpected_error"]
    assert error["thread"] == "sender" and "disk I/O error" in error["error"]


def test_the_poll_thread_outlives_odd_answers_and_still_ends_the_window(
        tmp_path: Path) -> None:
    answers = ["html", "error", "error"]  # then the platform's own answers

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0) if answers else "ok"
        if answer == "html":
            return httpx.Response(200, text="<html>gateway</html>")
        return httpx.Response(200, json=_status_json(7, "LFR-2026-0007"))

    events: list[dict[str, Any]] = []
    config = NodeConfig(platform_url="http://p.test", api_key="k", deployment="7",
                        source="unused", outbox_dir=tmp_path, poll_interval_s=0.05)
    runner = NodeRunner(config, events.append)
    transport = httpx.MockTransport(handler)

    class FlakyClient(PlatformClient):
        def deployment(self, deployment_id: int) -> DeploymentStatus:
            if answers and answers[0] == "error":
                answers.pop(0)
                raise RuntimeError("a bug nobody foresaw")
            return super().deployment(deployment_id)

    runner._client = lambda: FlakyClient(  # type: ignore[method-assign]
        "http://p.test", "k", transport=transport)
    end_at = datetime.now(UTC) + timedelta(seconds=0.6)
    status = DeploymentStatus(7, "LFR-2026-0007", "active", end_at - timedelta(hours=1),
                              end_at, 0.6, True, None, None)
    poller = threading.Thread(target=runner._poll, args=(status,), daemon=True)
    poller.start()
    try:
        assert runner._stop_requested.wait(5)
    finally:
        runner._stop_noticed.set()
        runner._pipeline_done.set()
        poller.join(timeout=5)
    assert runner._stop_reason == "deployment_ended"
    assert "published end" in (runner._stop_detail or "")
    errors = [e for e in events if e["type"] == "unexpected_error"]
    assert len(errors) == 1  # reported once, not at every poll
    assert errors[0]["thread"] == "poll" and "a bug nobody foresaw" in errors[0]["error"]


# --- an outbox from the previous version --------------------------------------------------


_VERSION_2 = """
CREATE TABLE outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE outbox_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    platform TEXT NOT NULL,
    deployment_id INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('alert', 'counters')),
    uid TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
"""


def test_an_outbox_of_the_previous_version_opens_upgraded(tmp_path: Path) -> None:
    salt = bytes(range(16))
    sealed = sealing_key(KEY, salt).encrypt(b'{"alert_uid": "a-old"}').decode()
    with sqlite3.connect(tmp_path / OUTBOX_FILE_NAME) as conn:
        conn.executescript(_VERSION_2)
        conn.execute("INSERT INTO outbox_meta VALUES ('format', ?)", (f"{FORMAT_NAME}:2",))
        conn.execute("INSERT INTO outbox_meta VALUES ('salt', ?)", (salt.hex(),))
        conn.execute("INSERT INTO outbox_items (platform, deployment_id, kind, uid, payload,"
                     " created_at, attempts, last_error) VALUES (?, 7, 'alert', 'a-old', ?,"
                     " '2026-03-22T10:00:00', 2, 'ConnectError')", (API, sealed))
    conn.close()

    box = Outbox.in_folder(tmp_path, KEY)
    (item,) = box.pending(API, 7)
    assert (item.uid, item.payload, item.attempts) == ("a-old", {"alert_uid": "a-old"}, 2)
    box.quarantine(item.id, 422, "invalid")
    assert [q.uid for q in box.quarantined()] == ["a-old"]
    box.close()
    with sqlite3.connect(tmp_path / OUTBOX_FILE_NAME) as conn:
        (version,) = conn.execute("SELECT value FROM outbox_meta WHERE key = 'format'"
                                  ).fetchone()
    conn.close()
    assert version == f"{FORMAT_NAME}:3"
    assert Outbox.in_folder(tmp_path, KEY).quarantined()[0].reason == "invalid"

    with sqlite3.connect(tmp_path / OUTBOX_FILE_NAME) as conn:
        conn.execute("UPDATE outbox_meta SET value = ? WHERE key = 'format'",
                     (f"{FORMAT_NAME}:9",))
    conn.close()
    with pytest.raises(OutboxError, match="is not one this openlfr reads"):
        Outbox.in_folder(tmp_path, KEY)
