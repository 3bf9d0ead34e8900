"""The operator console's live stream, over real HTTP (uvicorn on loopback, httpx reading
the stream): alerts arrive within a second of the node posting them, adjudications and
outcomes follow as alert-updated, counters and status change, a reconnecting client is
sent what it missed, only operators and authorisers may listen; after completion late
alerts still arrive until late delivery closes, and the stream ends then, at once for a
cancelled deployment, when the client goes and when the server stops."""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import socket
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from console_helpers import active_with_photo, authorised_with_photo, post_alert
from platform_helpers import START, Scenario, Staff, ok

from openlfr.services import live, users
from openlfr.services.live import LiveFeed
from openlfr.services.platform import SYSTEM_ACTOR, Platform, Role
from openlfr.services.schemas import ApiKeyIn
from openlfr.settings import Settings
from openlfr.web.api.live import POLL_INTERVAL_S
from openlfr.web.deps import SESSION_COOKIE

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "browser"))
from live_server import serve  # noqa: E402


def z(moment: datetime) -> str:
    """A UTC time as the API writes it."""
    return moment.isoformat().replace("+00:00", "Z")


#: The promise the console makes: an alert is on screen within a second of arriving.
ARRIVAL_LIMIT_S = 1.0


@dataclass(frozen=True)
class Event:
    event: str
    data: Any
    id: str | None
    retry: int | None
    received_at: float


class EventStream:
    """Reads a server-sent event stream in a thread, as a browser's EventSource does."""

    def __init__(self, client: httpx.Client, url: str, headers: dict[str, str] | None = None):
        self._context = client.stream("GET", url, headers=headers)
        self.response = self._context.__enter__()
        self.events: queue.Queue[Event] = queue.Queue()
        self.comments: list[str] = []
        self.ended = threading.Event()
        if self.response.status_code == 200:
            self._reader = threading.Thread(target=self._read, daemon=True)
            self._reader.start()
        else:
            self.response.read()
            self.ended.set()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for line in self.response.iter_lines():
                if line.startswith(":"):
                    self.comments.append(line)
                elif line:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    fields[name] = f"{fields[name]}\n{value}" if name in fields else value
                elif fields:
                    self.events.put(Event(
                        fields.get("event", "message"), json.loads(fields.get("data", "null")),
                        fields.get("id"), int(fields["retry"]) if "retry" in fields else None,
                        time.monotonic()))
                    fields = {}
        except httpx.HTTPError:
            pass  # closed by the test
        finally:
            self.ended.set()

    def next(self, timeout_s: float = 5.0) -> Event:
        try:
            return self.events.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout_s} s") from None

    def next_of(self, kind: str, timeout_s: float = 5.0) -> Event:
        """The next event of ``kind``, skipping others."""
        deadline = time.monotonic() + timeout_s
        while True:
            event = self.next(max(0.01, deadline - time.monotonic()))
            if event.event == kind:
                return event

    def rest(self, wait_s: float = 0.3) -> list[Event]:
        """Every event that arrives within ``wait_s`` of the last one."""
        found = []
        while True:
            try:
                found.append(self.events.get(timeout=wait_s))
            except queue.Empty:
                return found

    def close(self) -> None:
        """Hang up, as a browser does when the page closes. The reader thread may be
        blocked reading: shutting the socket down wakes it and tells the server at once
        (closing the socket alone would wait for that read)."""
        network = self.response.extensions.get("network_stream")
        sock = network.get_extra_info("socket") if network is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.ended.wait(2.0)
        self._context.__exit__(None, None, None)


@pytest.fixture
def base_url(staff: Staff) -> Iterator[str]:
    with serve(staff.app) as url:
        yield url


def http_client(staff: Staff, role: str, base_url: str) -> httpx.Client:
    """An httpx client with ``role``'s session cookie (as a logged-in browser has)."""
    token = staff[role].cookies.get(SESSION_COOKIE)
    client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(10.0, read=60.0))
    client.cookies.set(SESSION_COOKIE, str(token))
    return client


@contextmanager
def listening(staff: Staff, base_url: str, deployment_id: int, role: str = "operator",
              query: str = "", headers: dict[str, str] | None = None) -> Iterator[EventStream]:
    with http_client(staff, role, base_url) as client:
        stream = EventStream(client, f"/api/deployments/{deployment_id}/live{query}", headers)
        try:
            yield stream
        finally:
            stream.close()


def test_alerts_adjudications_outcomes_and_counters_arrive_live(
        scenario: Scenario, base_url: str) -> None:
    s = scenario
    entry_id = active_with_photo(s)
    node = s.staff.node(s.deployment_id)
    with listening(s.staff, base_url, s.deployment_id) as stream:
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        first = stream.rest()
        status = next(e for e in first if e.event == "status")
        assert status.data == {"deployment_id": s.deployment_id, "reference": s.reference,
                               "status": "active", "live": True, "ended": False,
                               "message": status.data["message"], "late_until": None}
        assert status.retry is not None and status.id is not None
        counters = next(e for e in first if e.event == "counters").data
        assert counters["alerts"] == 0 and counters["faces_seen"] == 0

        posted_at = time.monotonic()
        alert = post_alert(s, node, entry_id, "alert-live-1")
        arrived = stream.next_of("alert")
        assert arrived.received_at - posted_at < ARRIVAL_LIMIT_S
        # The console gets the whole alert; the node's receipt is part of it.
        assert {k: arrived.data[k] for k in alert} == alert and arrived.id is not None
        assert arrived.data["adjudication"] == "pending"
        counters = stream.next_of("counters").data
        assert (counters["alerts"], counters["pending"]) == (1, 1)

        operator = s.staff["operator"]
        ok(operator.post(f"/api/alerts/{alert['id']}/adjudication",
                         json={"adjudication": "true_match"}))
        updated = stream.next_of("alert-updated", ARRIVAL_LIMIT_S)
        assert updated.data["id"] == alert["id"]
        assert updated.data["adjudication"] == "true_match"
        assert int(updated.id or 0) > int(arrived.id or 0)
        counters = stream.next_of("counters").data
        assert (counters["confirmed"], counters["pending"]) == (1, 0)

        ok(operator.post(f"/api/alerts/{alert['id']}/outcome",
                         json={"outcome": "arrest", "demographic_group": "Not stated"}))
        assert stream.next_of("alert-updated", ARRIVAL_LIMIT_S).data["outcome"] == "arrest"

        ok(node.post(f"/api/node/deployments/{s.deployment_id}/counters", json={
            "batch_id": "batch-0001", "faces_seen": 412, "tracks": 57, "frames_processed": 900,
            "frames_dropped": 12, "frames_near_behind": 40}), 201)
        counters = stream.next_of("counters", ARRIVAL_LIMIT_S).data
        assert counters == {"faces_seen": 412, "tracks": 57, "alerts": 1, "confirmed": 1,
                            "false_alerts": 0, "unclear": 0, "pending": 0,
                            "frames_processed": 900, "frames_dropped": 12,
                            "frames_near_behind": 40}
        # A retried batch changes nothing, so nothing is sent.
        ok(node.post(f"/api/node/deployments/{s.deployment_id}/counters", json={
            "batch_id": "batch-0001", "faces_seen": 412, "tracks": 57}))
        assert [e.event for e in stream.rest(0.5)] == []


def test_alert_latency_stays_well_under_a_second(scenario: Scenario, base_url: str) -> None:
    """Twenty alerts in a row: each reaches the listening console in well under a second
    (the time from the node's POST to the event, on this machine)."""
    s = scenario
    entry_id = active_with_photo(s)
    node = s.staff.node(s.deployment_id)
    delays = []
    with listening(s.staff, base_url, s.deployment_id) as stream:
        stream.rest()
        for i in range(20):
            posted_at = time.monotonic()
            post_alert(s, node, entry_id, f"alert-latency-{i:02d}")
            delays.append(stream.next_of("alert").received_at - posted_at)
    delays.sort()
    p95 = delays[int(0.95 * (len(delays) - 1))]
    print(f"alert POST to console event: p50 {statistics.median(delays) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms")
    assert p95 < ARRIVAL_LIMIT_S / 2


def test_a_reconnecting_client_is_sent_what_it_missed(scenario: Scenario,
                                                      base_url: str) -> None:
    s = scenario
    entry_id = active_with_photo(s)
    node = s.staff.node(s.deployment_id)
    with listening(s.staff, base_url, s.deployment_id) as stream:
        last_seen = [e for e in stream.rest() if e.id is not None][-1].id
        first = post_alert(s, node, entry_id, "alert-before-drop")
        assert stream.next_of("alert").data["id"] == first["id"]
        last_seen = stream.next_of("counters").id
    # Disconnected: two alerts arrive and one is adjudicated.
    a = post_alert(s, node, entry_id, "alert-missed-1")
    b = post_alert(s, node, entry_id, "alert-missed-2")
    ok(s.staff["operator"].post(f"/api/alerts/{a['id']}/adjudication",
                                json={"adjudication": "false_match"}))
    assert last_seen is not None
    with listening(s.staff, base_url, s.deployment_id,
                   headers={"Last-Event-ID": last_seen}) as stream:
        replay = stream.rest()
    alerts = [(e.event, e.data["id"]) for e in replay if e.event.startswith("alert")]
    assert alerts == [("alert", a["id"]), ("alert", b["id"]), ("alert-updated", a["id"])]
    assert replay[0].data["adjudication"] == "false_match"  # as it stands now
    ids = [int(e.id) for e in replay if e.id is not None]
    assert ids == sorted(ids) and ids[0] > int(last_seen)
    counters = next(e for e in replay if e.event == "counters").data
    assert (counters["alerts"], counters["false_alerts"], counters["pending"]) == (3, 1, 2)
    assert [e.event for e in replay].count("status") == 1

    # The console page passes the position it was rendered at as ?after=.
    with listening(s.staff, base_url, s.deployment_id, query=f"?after={last_seen}") as stream:
        assert [e.data["id"] for e in stream.rest() if e.event == "alert"] == [a["id"], b["id"]]
    # Without a position, only what happens from now (plus status and counters).
    with listening(s.staff, base_url, s.deployment_id) as stream:
        assert {e.event for e in stream.rest()} == {"status", "counters"}
    # A position from a database that was since replaced starts now.
    with listening(s.staff, base_url, s.deployment_id,
                   headers={"Last-Event-ID": "999999"}) as stream:
        assert {e.event for e in stream.rest()} == {"status", "counters"}


def test_only_operators_and_authorisers_may_listen(scenario: Scenario, base_url: str) -> None:
    s = scenario
    active_with_photo(s)
    path = f"/api/deployments/{s.deployment_id}/live"
    assert s.staff.anon.get(path).status_code == 401
    for role in ("planner", "oversight", "admin"):
        r = s.staff[role].get(path)
        assert r.status_code == 403 and "needs one of these roles" in r.json()["detail"], role
    r = s.staff.node(s.deployment_id).get(path)
    assert r.status_code == 403 and "'node'" in r.json()["detail"]
    assert s.staff["operator"].get("/api/deployments/999/live").status_code == 404
    r = s.staff["operator"].get(f"{path}?after=-1")
    assert r.status_code == 422
    r = s.staff["operator"].get(path, headers={"Last-Event-ID": "not-an-id"})
    assert r.status_code == 422 and "last-event-id" in r.text.lower()
    with listening(s.staff, base_url, s.deployment_id, role="authoriser") as stream:
        assert stream.next_of("status").data["status"] == "active"


def _user_id(s: Scenario, username: str) -> int:
    return next(u["id"] for u in ok(s.staff["admin"].get("/api/users"))
                if u["username"] == username)


def _deactivate(s: Scenario) -> None:
    ok(s.staff["admin"].patch(f"/api/users/{_user_id(s, 'operator')}", json={"active": False}))


def _log_out(s: Scenario) -> None:
    ok(s.staff["operator"].post("/api/auth/logout"), 204)


def _make_planner(s: Scenario) -> None:
    user_id = _user_id(s, "operator")
    held = ok(s.staff["admin"].patch(f"/api/users/{user_id}", json={"role": "planner"}))
    ok(s.staff["oversight"].post(f"/api/oversight/account-changes/{user_id}/countersign",
                                 json={"change_id": held["held_change"]["id"]}))


@pytest.mark.parametrize("lose_access", [_deactivate, _log_out, _make_planner],
                         ids=["deactivated", "logged-out", "role-changed"])
def test_the_stream_ends_once_the_watcher_may_no_longer_watch(
        scenario: Scenario, base_url: str, lose_access: Any) -> None:
    """The power is asked again at each wake, not only when the stream opens: an operator
    deactivated, logged out or moved to another role is sent nothing more (not the alert
    that woke the stream), and the stream ends; the browser's reconnect is refused."""
    s = scenario
    entry_id = active_with_photo(s)
    node = s.staff.node(s.deployment_id)
    s.staff["admin"]  # noqa: B018 (the admin's account, before the stream opens)
    with listening(s.staff, base_url, s.deployment_id) as stream:
        stream.rest()
        before = post_alert(s, node, entry_id, "alert-while-allowed")
        assert stream.next_of("alert", ARRIVAL_LIMIT_S).data["id"] == before["id"]
        stream.rest()
        lose_access(s)
        post_alert(s, node, entry_id, "alert-after-losing-access")
        assert stream.ended.wait(ARRIVAL_LIMIT_S), "the stream did not end"
        assert [e.event for e in stream.rest(0.2)] == []
    with listening(s.staff, base_url, s.deployment_id) as again:
        assert again.response.status_code in (401, 403)


def test_a_stream_with_nothing_to_send_ends_at_the_next_poll(
        scenario: Scenario, base_url: str) -> None:
    s = scenario
    active_with_photo(s)
    s.staff["admin"]  # noqa: B018
    with listening(s.staff, base_url, s.deployment_id) as stream:
        stream.rest()
        _deactivate(s)
        assert stream.ended.wait(POLL_INTERVAL_S + ARRIVAL_LIMIT_S), "the stream did not end"


def test_asking_again_reads_and_never_writes(scenario: Scenario) -> None:
    """``still_may_watch``, asked at every wake: a session that ended or a key revoked
    stands for no one, and a key's "last used" is not written by the check."""
    s = scenario
    s.draft()
    p = s.staff.platform
    token = str(s.staff["operator"].cookies.get(SESSION_COOKIE))
    assert live.still_may_watch(p, users.Credentials(session_token=token))
    planner = str(s.staff["planner"].cookies.get(SESSION_COOKIE))
    assert not live.still_may_watch(p, users.Credentials(session_token=planner))
    assert not live.still_may_watch(p, users.Credentials())
    key = users.create_api_key(p, SYSTEM_ACTOR, ApiKeyIn(name="van-1",
                                                         deployment_id=s.deployment_id))
    seen = users.actor_for_credentials(p, users.Credentials(api_key=key.secret))
    assert seen is not None and seen.role is Role.NODE  # a key, not a console watcher:
    assert not live.still_may_watch(p, users.Credentials(api_key=key.secret))
    assert next(k for k in users.list_api_keys(p, SYSTEM_ACTOR)
                if k.id == key.key.id).last_used_at is None
    users.revoke_api_key(p, SYSTEM_ACTOR, key.key.id)
    assert users.actor_for_credentials(p, users.Credentials(api_key=key.secret)) is None
    ok(s.staff["operator"].post("/api/auth/logout"), 204)
    assert not live.still_may_watch(p, users.Credentials(session_token=token))


def test_after_completion_late_alerts_arrive_until_late_delivery_closes(
        scenario: Scenario, base_url: str) -> None:
    s = scenario
    entry_id = active_with_photo(s)
    node = s.staff.node(s.deployment_id)
    recorded_before_the_end = s.clock.now
    s.clock.advance(hours=1)
    with listening(s.staff, base_url, s.deployment_id) as stream:
        stream.rest()
        ok(s.staff["operator"].post(s.url("/complete")))
        status = stream.next_of("status", ARRIVAL_LIMIT_S).data
        late_hours = s.staff.platform.settings.late_delivery_hours
        closes = s.clock.now + timedelta(hours=late_hours)
        assert status["status"] == "completed" and not status["live"]
        assert not status["ended"] and status["late_until"] == z(closes)
        assert f"delivers late still appears here until {closes:%d %B %Y, %H:%M} UTC" in (
            status["message"])
        # The node's outbox delivers an alert it recorded before the end: it is shown.
        late = ok(node.post(f"/api/node/deployments/{s.deployment_id}/alerts", json={
            "alert_uid": "alert-late-1", "occurred_at": recorded_before_the_end.isoformat(),
            "camera": "cam-1", "track_id": "9", "score": 0.7, "entry_id": entry_id,
            "entry_category": "missing_person"}), 201)
        assert stream.next_of("alert", ARRIVAL_LIMIT_S).data["id"] == late["id"]
        assert not stream.ended.is_set()
        # Late delivery closes: the stream says so and ends, with nothing else written.
        s.clock.now = closes
        status = stream.next_of("status", POLL_INTERVAL_S + ARRIVAL_LIMIT_S).data
        assert status["ended"] and status["late_until"] is None
        assert "no more alerts will arrive" in status["message"]
        assert stream.ended.wait(2.0), "the stream did not end"
    # Opening it afterwards says so at once and ends.
    with listening(s.staff, base_url, s.deployment_id) as stream:
        assert stream.next_of("status").data["ended"] is True
        assert stream.ended.wait(2.0)


def test_a_cancelled_deployment_s_stream_ends_at_once(scenario: Scenario,
                                                      base_url: str) -> None:
    s = scenario
    authorised_with_photo(s)
    ok(s.staff["authoriser"].post(s.url("/cancel"), json={"reason": "The event was called off."}))
    with listening(s.staff, base_url, s.deployment_id) as stream:
        status = stream.next_of("status").data
        assert status["status"] == "cancelled" and status["ended"]
        assert status["late_until"] is None
        assert stream.ended.wait(2.0)


def test_a_stream_before_activation_shows_the_activation(scenario: Scenario,
                                                         base_url: str) -> None:
    s = scenario
    s.prepare()
    ok(s.staff["authoriser"].post(s.url("/authorise")))
    with listening(s.staff, base_url, s.deployment_id) as stream:
        before = stream.next_of("status").data
        assert before["status"] == "authorised" and not before["live"]
        s.clock.now = START
        ok(s.staff["operator"].post(s.url("/activate")))
        assert stream.next_of("status", ARRIVAL_LIMIT_S).data["live"] is True


def test_keep_alive_comments_while_nothing_happens(scenario: Scenario, base_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import fastapi.routing

    # FastAPI sends the keep-alive comment (every 15 s by default); shorter here.
    monkeypatch.setattr(fastapi.routing, "_PING_INTERVAL", 0.2)
    s = scenario
    active_with_photo(s)
    with listening(s.staff, base_url, s.deployment_id) as stream:
        stream.rest()
        time.sleep(0.7)
        assert len(stream.comments) >= 2 and not stream.ended.is_set()


def test_listening_stops_when_the_client_goes(scenario: Scenario, base_url: str) -> None:
    s = scenario
    active_with_photo(s)
    feed = s.staff.platform.live
    with listening(s.staff, base_url, s.deployment_id) as stream:
        stream.next_of("status")
        assert feed.listeners(s.deployment_id) == 1
    deadline = time.monotonic() + 2.0
    while feed.listeners(s.deployment_id) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert feed.listeners(s.deployment_id) == 0


def test_the_server_stops_promptly_with_a_console_open(scenario: Scenario) -> None:
    s = scenario
    active_with_photo(s)
    with serve(s.staff.app) as url:
        client = http_client(s.staff, "operator", url)
        stream = EventStream(client, f"/api/deployments/{s.deployment_id}/live")
        stream.next_of("status")
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 3.0
    assert stream.ended.wait(2.0)
    stream.close()
    client.close()


def test_changes_made_by_another_server_process_arrive(scenario: Scenario, base_url: str,
                                                       settings: Settings) -> None:
    """A second platform on the same database stands for another server process: its
    changes wake nobody here, and arrive through the stream's poll of the database."""
    s = scenario
    entry_id = active_with_photo(s)
    other = Platform.open(settings)
    other.clock = s.clock
    try:
        node = Staff(other).node(s.deployment_id, name="van-2")
        with listening(s.staff, base_url, s.deployment_id) as stream:
            stream.rest()
            posted_at = time.monotonic()
            alert = post_alert(s, node, entry_id, "alert-other-process")
            arrived = stream.next_of("alert", POLL_INTERVAL_S + 3)
            assert arrived.data["id"] == alert["id"]
            assert arrived.received_at - posted_at < POLL_INTERVAL_S + 1.5  # one poll
    finally:
        other.close()


def test_the_feed_wakes_a_waiting_stream_from_another_thread_and_closes() -> None:
    async def scenario() -> tuple[float, bool, float, bool, int]:
        feed = LiveFeed()
        with feed.subscribe(7) as subscription:
            started = time.monotonic()
            threading.Timer(0.05, feed.notify, args=(7,)).start()
            threading.Timer(0.05, feed.notify, args=(8,)).start()  # another deployment
            woken = await subscription.wait(5.0)
            woke_after = time.monotonic() - started
            threading.Timer(0.05, feed.close).start()
            started = time.monotonic()
            still_open = await subscription.wait(5.0)
            closed_after = time.monotonic() - started
        return woke_after, woken, closed_after, still_open, feed.listeners(7)

    woke_after, woken, closed_after, still_open, listeners = asyncio.run(scenario())
    assert woken and woke_after < 1.0
    assert not still_open and closed_after < 1.0
    assert listeners == 0
