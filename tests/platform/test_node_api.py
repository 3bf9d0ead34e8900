"""The engine-node API beyond the watchlist: may a node run now (and why not), late
delivery of an outbox after the deployment ended, and the node's report that it dropped
the watchlist."""

from __future__ import annotations

import json
from datetime import timedelta

from platform_helpers import START, Scenario, ok

END = START + timedelta(hours=8)


def _alert(uid: str, entry_id: int, when: object, **extra: object) -> dict[str, object]:
    return {"alert_uid": uid, "occurred_at": str(when), "camera": "cam-1", "track_id": "7",
            "score": 0.7, "entry_id": entry_id, **extra}


def test_status_says_whether_a_node_may_run_and_why_not(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.prepare()
    node = staff.node(s.deployment_id)
    status = ok(node.get(f"/api/node/deployments/by-reference/{s.reference}"))
    assert status["deployment_id"] == s.deployment_id and status["status"] == "notice_published"
    assert status["may_run"] is False and "not 'active'" in status["reason"]
    assert status["late_delivery_until"] is None and status["threshold"] == 0.64

    ok(staff["authoriser"].post(s.url("/authorise")))
    s.clock.now = START
    ok(staff["operator"].post(s.url("/activate")))
    status = ok(node.get(f"/api/node/deployments/{s.deployment_id}"))
    assert status["may_run"] is True and status["reason"] is None
    assert status["end_at"].startswith(END.isoformat()[:16])

    s.clock.now = END  # the published end passed, not yet completed
    status = ok(node.get(f"/api/node/deployments/{s.deployment_id}"))
    assert status["may_run"] is False and "must complete the deployment" in status["reason"]
    assert status["late_delivery_until"].startswith((END + timedelta(hours=24)).isoformat()[:16])

    assert node.get("/api/node/deployments/by-reference/LFR-2026-9999").status_code == 404
    assert node.get("/api/node/deployments/by-reference/nonsense").status_code == 422
    other_id = ok(staff["planner"].post("/api/deployments", json=s.deployment_body()), 201)["id"]
    other = staff.node(other_id, name="van-2")
    r = other.get(f"/api/node/deployments/{s.deployment_id}")  # as if it did not exist
    assert r.status_code == 404
    assert r.json()["detail"] == f"deployment {s.deployment_id} does not exist"
    assert staff["operator"].get(f"/api/node/deployments/{s.deployment_id}").status_code == 403


def test_outbox_recorded_before_the_end_is_accepted_late_and_nothing_after(
        scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.activate()
    node = staff.node(s.deployment_id)
    base = f"/api/node/deployments/{s.deployment_id}"
    entry_id = ok(node.get(f"{base}/watchlist"))["entries"][0]["entry_id"]
    seen_at = START + timedelta(hours=1)
    s.clock.now = seen_at  # a node reports what it saw, never what it will see
    ok(node.post(f"{base}/alerts", json=_alert("alert-on-time", entry_id, seen_at.isoformat())),
       201)

    s.clock.now = START + timedelta(hours=2)
    ok(staff["operator"].post(s.url("/complete")))
    s.clock.advance(hours=3)  # the node was offline; it comes back and empties its outbox

    # The entry went with the watchlist: the node sends the category it was given.
    r = node.post(f"{base}/alerts", json=_alert("alert-late-1", entry_id, seen_at.isoformat()))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "entry_category"]
    r = node.post(f"{base}/alerts", json=_alert("alert-late-1", entry_id, seen_at.isoformat(),
                                                 entry_category="missing_person"))
    assert r.status_code == 422  # not a category this watchlist had
    late = ok(node.post(f"{base}/alerts", json=_alert(
        "alert-late-1", entry_id, (seen_at + timedelta(minutes=5)).isoformat(),
        entry_category="wanted_for_arrest")), 201)
    assert late["entry_id"] is None and late["entry_category"] == "wanted_for_arrest"
    again = ok(node.post(f"{base}/alerts", json=_alert(
        "alert-late-1", entry_id, (seen_at + timedelta(minutes=5)).isoformat(),
        entry_category="wanted_for_arrest")), 201)
    assert again["id"] == late["id"]  # a retry is still recorded once

    # Nothing seen after the end is taken.
    after = (START + timedelta(hours=2, minutes=1)).isoformat()
    r = node.post(f"{base}/alerts", json=_alert("alert-after-end", entry_id, after,
                                                 entry_category="wanted_for_arrest"))
    assert r.status_code == 409 and "recorded before then" in r.json()["detail"]

    # Counts: a batch that began before the end is taken, with its frames and period.
    batch = {"batch_id": "batch-late-1", "faces_seen": 40, "tracks": 6,
             "frames_processed": 900, "frames_dropped": 12,
             "period_start": (START + timedelta(hours=1, minutes=59)).isoformat(),
             "period_end": (START + timedelta(hours=2, minutes=1)).isoformat()}
    assert ok(node.post(f"{base}/counters", json=batch), 201)["counted"]
    r = node.post(f"{base}/counters", json={"batch_id": "batch-no-period", "faces_seen": 1,
                                           "tracks": 1})
    assert r.status_code == 409
    r = node.post(f"{base}/counters", json={**batch, "batch_id": "batch-after",
                                           "period_start": after, "period_end": after})
    assert r.status_code == 409
    public = ok(staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["figures"]["faces_seen"] == 40 and public["figures"]["alerts"] == 2

    # The watchlist itself is never released again, late delivery or not.
    r = node.get(f"{base}/watchlist")
    assert r.status_code == 409 and "not 'active'" in r.json()["detail"]

    # After the late-delivery time nothing more is accepted, and the status says so.
    status = ok(node.get(base))
    assert status["late_delivery_until"].startswith(
        (START + timedelta(hours=26)).isoformat()[:16])
    s.clock.now = START + timedelta(hours=26)
    r = node.post(f"{base}/alerts", json=_alert("alert-too-late", entry_id, seen_at.isoformat(),
                                                 entry_category="wanted_for_arrest"))
    assert r.status_code == 409 and "late delivery closed" in r.json()["detail"]
    assert ok(staff["admin"].get("/api/audit/verify"))["ok"]


def test_counter_batches_need_a_whole_period_in_order(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.activate()
    node = staff.node(s.deployment_id)
    url = f"/api/node/deployments/{s.deployment_id}/counters"
    for period in ({"period_start": START.isoformat()},
                   {"period_start": START.isoformat(),
                    "period_end": (START - timedelta(seconds=1)).isoformat()}):
        r = node.post(url, json={"batch_id": "batch-0001", "faces_seen": 1, "tracks": 1,
                                 **period})
        assert r.status_code == 422, period
    r = node.post(url, json={"batch_id": "batch-0001", "faces_seen": 1, "tracks": 1,
                             "frames_processed": -1})
    assert r.status_code == 422


def test_node_reports_the_watchlist_dropped_as_an_audit_event(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.activate()
    node = staff.node(s.deployment_id)
    ok(staff["operator"].post(s.url("/complete")))
    report = {"run_id": "run-0001abcd", "reason": "deployment_ended", "alerts_sent": 3,
              "outbox_pending": 0}
    assert node.post(f"/api/node/deployments/{s.deployment_id}/watchlist-dropped",
                     json=report).status_code == 204
    bad = node.post(f"/api/node/deployments/{s.deployment_id}/watchlist-dropped",
                    json={**report, "reason": "because"})
    assert bad.status_code == 422
    assert staff["operator"].post(f"/api/node/deployments/{s.deployment_id}/watchlist-dropped",
                                  json=report).status_code == 403
    events = ok(staff["admin"].get("/api/audit/events?limit=1000"))
    dropped = [e for e in events if e["action"] == "node.watchlist_dropped"]
    assert len(dropped) == 1 and json.loads(dropped[0]["details"]) == report
    assert dropped[0]["actor"] == "node:van-1"
    assert ok(staff["admin"].get("/api/audit/verify"))["ok"]


def test_an_alert_below_the_deployments_threshold_is_refused(scenario: Scenario) -> None:
    """A node that alerts below the threshold the gates passed (0.64) decided by another
    rule than the one published: refused, and nothing is counted. After a public amendment
    raises the threshold, what the node decided before the raise is still accepted late."""
    s, staff = scenario, scenario.staff
    s.draft(technology_id=s.equity_audit())
    s.publish_notice()
    # A threshold the plan had before it ran is no floor: no node decided by it. (Lowering
    # it restarts the notice, so it is tried as soon as notice is out, and the notice
    # still runs its full period.)
    for threshold in (0.5, 0.64):
        ok(staff["planner"].post(s.url("/amendments"), json={
            "record": "plan", "reason": "Trying a threshold before authorisation.",
            "changes": {"threshold": threshold}}), 201)
    s.records()
    s.clock.now = START - timedelta(hours=12)
    ok(staff["planner"].post(s.url("/watchlist/build")))
    ok(staff["authoriser"].post(s.url("/authorise")))
    s.clock.now = START
    ok(staff["operator"].post(s.url("/activate")))
    node = staff.node(s.deployment_id)
    base = f"/api/node/deployments/{s.deployment_id}"
    entry_id = ok(node.get(f"{base}/watchlist"))["entries"][0]["entry_id"]
    s.clock.advance(minutes=10)
    now = s.clock.now.isoformat()
    r = node.post(f"{base}/alerts", json=_alert("alert-low-1", entry_id, now, score=0.5))
    assert r.status_code == 422
    [detail] = r.json()["detail"]
    assert detail["loc"] == ["body", "score"]
    assert detail["msg"].startswith("0.5000 is below the deployment's threshold (0.64)")
    ok(node.post(f"{base}/alerts", json=_alert("alert-at-1", entry_id, now, score=0.64)), 201)

    ok(staff["planner"].post(s.url("/amendments"), json={
        "record": "plan", "reason": "Fewer false alerts in the first hour than feared; "
        "raised all the same.", "changes": {"threshold": 0.7}}), 201)
    late = _alert("alert-before-raise", entry_id, now, score=0.66)
    ok(node.post(f"{base}/alerts", json=late), 201)
    r = node.post(f"{base}/alerts", json=_alert("alert-low-2", entry_id, now, score=0.6))
    assert r.status_code == 422
    public = ok(staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["figures"]["alerts"] == 2
