"""The node ingestion path, made cheaper per request (issue 16), keeps every rule: an
acknowledged alert is committed before the answer, a retry is recorded once (also when two
arrive at the same moment), the audit chain verifies after many posts, a revoked key is
refused at once (also by another server process), and the powers table is still asked."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from figures_helpers import A_START
from platform_helpers import Scenario, activate_at, ok
from sqlalchemy import func, select

from openlfr.audit import append_event, verify_chain
from openlfr.services import figures
from openlfr.services.platform import Platform
from openlfr.storage import models as m
from openlfr.web import create_app


def _alert(uid: str, entry: int, minutes: int = 10, **extra: Any) -> dict[str, Any]:
    return {"alert_uid": uid, "camera": "cam-1", "track_id": "7", "score": 0.7,
            "entry_id": entry,
            "occurred_at": (A_START + timedelta(minutes=minutes)).isoformat(), **extra}


def _counters(batch_id: str, faces: int = 40) -> dict[str, Any]:
    return {"batch_id": batch_id, "faces_seen": faces, "tracks": min(12, faces)}


def _active(s: Scenario) -> tuple[int, str]:
    entry = activate_at(s, A_START, hours=8)
    s.clock.now = A_START + timedelta(hours=1)
    return entry, f"/api/node/deployments/{s.deployment_id}"


def test_an_acknowledged_alert_is_in_the_database_as_answered(scenario_on: Scenario) -> None:
    s = scenario_on
    entry, url = _active(s)
    node = s.staff.node(s.deployment_id)
    answered = ok(node.post(f"{url}/alerts", json=_alert("fast-alert-1", entry)), 201)
    # Read back through a new session: committed before the answer was sent.
    with s.staff.platform.sessions() as session:
        stored = session.get(m.Alert, answered["id"])
        assert stored is not None
        assert (stored.alert_uid, stored.entry_id, stored.entry_category, stored.adjudication,
                stored.score) == ("fast-alert-1", entry, "wanted_for_arrest", "pending", 0.7)
        event = session.scalar(select(m.AuditEvent).where(
            m.AuditEvent.action == "alert.received",
            m.AuditEvent.subject_id == str(answered["id"])))
        assert event is not None and event.actor == "node:van-1"
    assert answered["deployment_id"] == s.deployment_id and answered["entry_id"] == entry
    assert answered["has_probe_crop"] is False
    assert "adjudication" not in answered  # a node is never told what people decided
    assert answered["occurred_at"].startswith((A_START + timedelta(minutes=10)).isoformat()[:19])

    receipt = node.post(f"{url}/counters", json=_counters("fast-counts-1"))
    assert receipt.status_code == 201 and receipt.json() == {"batch_id": "fast-counts-1",
                                                             "counted": True}
    again = node.post(f"{url}/counters", json=_counters("fast-counts-1"))
    assert again.status_code == 200 and again.json()["counted"] is False


def test_many_posts_leave_a_verifiable_chain_and_count_retries_once(
        scenario_on: Scenario) -> None:
    s = scenario_on
    entry, url = _active(s)
    node = s.staff.node(s.deployment_id)
    ids = []
    for i in range(40):
        ids.append(ok(node.post(f"{url}/alerts", json=_alert(f"many-alert-{i:03d}", entry,
                                                               minutes=i)), 201)["id"])
        ok(node.post(f"{url}/counters", json=_counters(f"many-counts-{i:03d}", faces=i)), 201)
    # Every item sent again (a node that never heard the answers): nothing counted twice.
    for i in range(0, 40, 3):
        again = ok(node.post(f"{url}/alerts", json=_alert(f"many-alert-{i:03d}", entry,
                                                           minutes=i)), 201)
        assert again["id"] == ids[i]
        ok(node.post(f"{url}/counters", json=_counters(f"many-counts-{i:03d}", faces=i)))
    body = {"alerts": [_alert(f"many-batch-{i}", entry) for i in range(5)],
            "counters": [_counters(f"many-batch-{i}") for i in range(5)]}
    ok(node.post(f"{url}/batch", json=body), 201)
    p = s.staff.platform
    with p.sessions() as session:
        chain = verify_chain(session)
        actions = dict(session.execute(
            select(m.AuditEvent.action, func.count()).where(m.AuditEvent.action.in_(
                ["alert.received", "counters.received"])).group_by(m.AuditEvent.action)).all())
        total = figures.load_facts(session, [s.deployment_id]).total([s.deployment_id])
        recounted, _ = figures.recount_facts(session, [s.deployment_id])
    assert chain.ok, chain.describe()
    assert actions == {"alert.received": 45, "counters.received": 45}
    assert (total.alerts, total.faces_seen) == (45, sum(range(40)) + 5 * 40)
    assert total == recounted.total([s.deployment_id])  # the tallies agree with the rows


def test_one_alert_sent_twice_at_once_is_recorded_once(scenario_on: Scenario) -> None:
    s = scenario_on
    entry, url = _active(s)
    app = s.staff.app
    key = s.staff.node(s.deployment_id).headers["X-API-Key"]
    answers: list[Any] = []
    start = threading.Barrier(4)

    def send() -> None:
        from platform_helpers import new_client

        client = new_client(app)
        client.headers["X-API-Key"] = key
        start.wait()
        answers.append(client.post(f"{url}/alerts", json=_alert("twice-at-once", entry)))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in answers] == [201] * 4, [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    with s.staff.platform.sessions() as session:
        rows = session.scalar(select(func.count()).select_from(m.Alert).where(
            m.Alert.alert_uid == "twice-at-once"))
        events = session.scalar(select(func.count()).select_from(m.AuditEvent).where(
            m.AuditEvent.action == "alert.received"))
        assert verify_chain(session).ok
    assert (rows, events) == (1, 1)


def test_a_revoked_key_is_refused_at_once_by_every_server_process(
        scenario_on: Scenario) -> None:
    s = scenario_on
    entry, url = _active(s)
    node = s.staff.node(s.deployment_id)
    key_id = next(k["id"] for k in ok(s.staff["admin"].get("/api/api-keys"))
                  if k["name"] == "van-1")
    # A second server process on the same database: its own platform, pool and app.
    other_platform = Platform.open(s.staff.platform.settings, run_migrations=False)
    other_platform.clock = s.clock
    try:
        from platform_helpers import new_client

        other = new_client(create_app(platform=other_platform))
        other.headers["X-API-Key"] = node.headers["X-API-Key"]
        ok(node.post(f"{url}/alerts", json=_alert("before-revoking", entry)), 201)
        ok(other.post(f"{url}/counters", json=_counters("before-revoking")), 201)

        ok(s.staff["admin"].post(f"/api/api-keys/{key_id}/revoke"))
        for client in (node, other):
            r = client.post(f"{url}/alerts", json=_alert("after-revoking", entry))
            assert r.status_code == 401 and "revoked" in r.json()["detail"]
            r = client.post(f"{url}/counters", json=_counters("after-revoking"))
            assert r.status_code == 401
    finally:
        other_platform.close()
    with s.staff.platform.sessions() as session:
        assert session.scalar(select(m.Alert.id).where(
            m.Alert.alert_uid == "after-revoking")) is None


def test_the_powers_table_is_still_asked(scenario_on: Scenario) -> None:
    s = scenario_on
    entry, url = _active(s)
    operator = s.staff["operator"]  # a person: may watch the console, not act as a node
    r = operator.post(f"{url}/alerts", json=_alert("from-a-person", entry))
    assert r.status_code == 403
    assert s.staff.anon.post(f"{url}/counters", json=_counters("anonymous")).status_code == 401
    unknown = s.staff.anon.post(f"{url}/counters", json=_counters("unknown-key"),
                                headers={"X-API-Key": "olfr_not-a-key-anyone-was-given"})
    assert unknown.status_code == 401
    other_id = ok(s.staff["planner"].post("/api/deployments", json=s.deployment_body()),
                  201)["id"]
    scoped = s.staff.node(other_id, name="van-2")
    r = scoped.post(f"{url}/alerts", json=_alert("wrong-deployment", entry))
    assert r.status_code == 404  # as if it did not exist: a key learns nothing of others
    assert r.json()["detail"] == f"deployment {s.deployment_id} does not exist"
    r = s.staff.node(s.deployment_id).post("/api/node/deployments/999999/alerts",
                                           json=_alert("no-deployment", entry))
    assert r.status_code == 404


def test_a_retry_after_the_watchlist_went_is_answered_with_the_alert(
        scenario_on: Scenario) -> None:
    s = scenario_on
    entry, url = _active(s)
    node = s.staff.node(s.deployment_id)
    first = ok(node.post(f"{url}/alerts", json=_alert("sent-before-the-end", entry)), 201)
    ok(s.staff["operator"].post(s.url("/complete")))  # the watchlist is destroyed
    # The node never heard the answer and sends the alert again, without the category.
    again = ok(node.post(f"{url}/alerts", json=_alert("sent-before-the-end", entry)), 201)
    assert again["id"] == first["id"] and again["entry_category"] == "wanted_for_arrest"
    r = node.post(f"{url}/alerts", json=_alert("never-sent-before", entry))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "entry_category"]


def test_a_head_read_earlier_in_the_session_follows_the_appends(platform: Platform) -> None:
    with platform.sessions.begin() as session:
        head = session.get(m.AuditHead, 1)
        assert head is not None
        before = head.seq
        for i in range(3):
            event = append_event(session, actor="tester", action="test.event",
                                 subject_type="thing", subject_id=i, details={"i": i})
        assert (head.seq, head.hash) == (before + 3, event.hash)
    with platform.sessions() as session:
        assert verify_chain(session).ok
