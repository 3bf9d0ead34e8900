"""An amendment that would change a running deployment's gates, or widen its plan, is
refused while it runs (``governance.amendments.running_change_refusal``): an operator or
authoriser completes it first, and the amendment is then published with its record. So
what it ran under stays its record (the decisions and the override it went ahead on, in
every published place), its node delivers what it saw, and its record stays frozen.
Before, it went back to ``notice_published``: the override lapsed and "went ahead despite
failed checks" vanished from the records CSV, the open data and the feeds, the decisions
it ran under were dropped, and the node's last alerts and counts were refused (409) and
lost."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from figures_helpers import post_counters
from platform_helpers import START, Scenario, ok

from openlfr.governance.amendments import Record, running_change_refusal, status_after
from openlfr.governance.lifecycle import DeploymentStatus

S = DeploymentStatus


@pytest.mark.parametrize(("status", "moved", "widened", "after"), [
    (S.ACTIVE, False, False, S.ACTIVE),
    (S.AUTHORISED, True, False, S.NOTICE_PUBLISHED),
    (S.AUTHORISED, False, True, S.NOTICE_PUBLISHED),
    (S.NOTICE_PUBLISHED, False, True, S.NOTICE_PUBLISHED),
    (S.COMPLETED, True, True, S.COMPLETED),
    (S.REVIEWED, True, True, S.REVIEWED),
])
def test_where_an_amendment_leaves_a_deployment(status: S, moved: bool, widened: bool,
                                                after: S) -> None:
    assert status_after(status, Record.PLAN, moved, widened) is after
    # Only the plan widens what the public was told.
    assert status_after(status, Record.ASSESSMENT, False, widened) is status


def test_what_would_change_a_running_deployment_is_refused() -> None:
    assert running_change_refusal(S.ACTIVE, Record.PLAN, [], []) is None
    assert running_change_refusal(S.ACTIVE, Record.ASSESSMENT, [], ["purpose"]) is None
    widened = running_change_refusal(S.ACTIVE, Record.PLAN, [], ["more cameras: 6, was 2"])
    assert widened is not None and "(more cameras: 6, was 2)" in widened
    moved = running_change_refusal(S.ACTIVE, Record.ENGAGEMENT, ["engagement_reach"], [])
    assert moved is not None and "the engagement reach check's answer changes" in moved
    for status in set(S) - {S.ACTIVE}:
        assert running_change_refusal(status, Record.PLAN, ["threshold"], ["x"]) is None


def _records(s: Scenario) -> dict[str, dict[str, str]]:
    text = s.staff.anon.get("/transparency/records.csv").text
    return {r["reference"]: r for r in csv.DictReader(io.StringIO(text))}


def _open_data_total(s: Scenario) -> dict[str, str]:
    rows = csv.DictReader(io.StringIO(s.staff.anon.get("/transparency.csv").text))
    return next(r for r in rows if r["deployment"] == s.reference and r["month"] == "total")


def _went_ahead_on_an_override(s: Scenario) -> Any:
    """Authorised despite an unanswered objection (two signatures), activated, and seen
    300 faces pass."""
    s.prepare()
    s.late_objection()
    s.override("authorise")
    s.clock.now = START
    ok(s.staff["operator"].post(s.url("/activate")))
    node = s.staff.node(s.deployment_id)
    post_counters(s, node, "b1", 900, 300)
    return node


REMOVE_RESIDENTS = "The residents' meeting was logged twice by mistake; removing it."


def _remove_residents_event(s: Scenario) -> dict[str, Any]:
    residents = next(e for e in ok(s.staff["planner"].get(s.url("/engagement")))
                     if e["audience"] == "residents")
    return {"record": "engagement", "event_id": residents["id"], "reason": REMOVE_RESIDENTS}


def test_the_planner_alone_cannot_stop_a_running_deployment(scenario: Scenario) -> None:
    s, planner = scenario, scenario.staff["planner"]
    s.activate()
    assert planner.post(s.url("/complete")).status_code == 403
    for body in (_remove_residents_event(s),
                 {"record": "plan", "reason": "Reworded by the planner.",
                  "changes": {"purpose": "Locate people wanted for robbery and violence!"}}):
        r = planner.post(s.url("/amendments"), json=body)
        assert r.status_code == 409 and "would stop the running deployment" in r.text, r.text
    d = ok(planner.get(s.url()))
    assert d["status"] == "active"
    assert ok(planner.get(s.url("/watchlist")))["entries"]  # not destroyed
    # What does not change its basis is published as it runs.
    a = ok(planner.post(s.url("/amendments"), json={
        "record": "plan", "reason": "The title now names the station, as the signs do.",
        "changes": {"title": "Vauxhall station forecourt"}}), 201)
    assert (a["status_before"], a["status_after"]) == ("active", "active")


def test_the_override_it_ran_under_stays_on_every_record(scenario: Scenario) -> None:
    s, planner = scenario, scenario.staff["planner"]
    _went_ahead_on_an_override(s)
    before = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert before["went_ahead_despite"] == ["consultation_and_objections"]
    s.clock.now = START + timedelta(hours=2)
    body = _remove_residents_event(s)
    assert planner.post(s.url("/amendments"), json=body).status_code == 409
    ok(s.staff["operator"].post(s.url("/complete")))
    amended = ok(planner.post(s.url("/amendments"), json=body), 201)
    assert (amended["status_before"], amended["status_after"]) == ("completed", "completed")

    public = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["went_ahead_despite"] == ["consultation_and_objections"]
    assert "despite" in public["status_text"]
    assert [d["basis"] for d in public["gate_decisions"]] == \
        [d["basis"] for d in before["gate_decisions"]] == ["authorise", "activate"]
    assert [o["status"] for o in public["overrides"]] == ["in_force"]
    row = _records(s)[s.reference]
    assert (row["gates_overridden"], row["tracks"]) == ("1", "300")
    assert _open_data_total(s)["authorised_despite_failed_checks"] == "1"
    assert "despite" in s.staff.anon.get("/areas/lambeth/deployments.ics").text


def _running_node(s: Scenario) -> tuple[Any, str, int]:
    """An active deployment's node: its client, its API root and the entry it may name."""
    s.activate()
    node = s.staff.node(s.deployment_id)
    base = f"/api/node/deployments/{s.deployment_id}"
    return node, base, ok(node.get(f"{base}/watchlist"))["entries"][0]["entry_id"]


def test_the_node_delivers_what_it_saw(scenario: Scenario) -> None:
    """Refused, the amendment leaves the deployment running: the node's alerts and counts
    are taken as before; and after the completion, what it saw before is taken late."""
    s, staff = scenario, scenario.staff
    node, base, entry_id = _running_node(s)
    seen_at = START + timedelta(hours=1)
    s.clock.now = seen_at + timedelta(minutes=1)
    lower = staff["planner"].post(s.url("/amendments"), json={
        "record": "plan", "reason": "The vendor advised a lower threshold for poor light.",
        "changes": {"threshold": 0.62}})
    assert lower.status_code == 409
    ok(staff["operator"].post(s.url("/complete")))
    s.clock.now = seen_at + timedelta(minutes=2)
    ok(node.post(f"{base}/alerts", json={
        "alert_uid": "seen-while-active", "occurred_at": seen_at.isoformat(), "camera": "c",
        "track_id": "1", "score": 0.7, "entry_id": entry_id,
        "entry_category": "wanted_for_arrest"}), 201)  # as the node sends it
    ok(node.post(f"{base}/counters", json={
        "batch_id": "batch-last", "faces_seen": 500, "tracks": 80,
        "period_start": (seen_at - timedelta(seconds=10)).isoformat(),
        "period_end": seen_at.isoformat()}), 201)
    late = node.post(f"{base}/alerts", json={
        "alert_uid": "after-the-stop", "camera": "c", "track_id": "2", "score": 0.7,
        "occurred_at": (seen_at + timedelta(minutes=2)).isoformat(), "entry_id": entry_id,
        "entry_category": "wanted_for_arrest"})
    assert late.status_code in (409, 422), late.text


def test_the_record_stays_frozen(scenario: Scenario) -> None:
    """The powers reviewer's route: amend once, then rewrite the record directly."""
    s, planner = scenario, scenario.staff["planner"]
    s.activate()
    events = ok(planner.get(s.url("/engagement")))
    ok(s.staff["operator"].post(s.url("/complete")))
    ok(planner.post(s.url("/amendments"), json={
        "record": "engagement", "event_id": events[0]["id"],
        "reason": "The meeting was logged against the wrong deployment."}), 201)
    assert planner.delete(s.url(f"/engagement/{events[1]['id']}")).status_code == 409
    assert planner.put(s.url("/assessment"), json={
        "area_profile": "x" * 300, "risks": "y" * 300, "mitigations": "z" * 300,
        "equality_impact": "w" * 300, "decision": "v" * 100}).status_code == 409


def test_a_resend_of_what_was_recorded_is_never_refused(scenario: Scenario) -> None:
    """A node whose answer was lost sends again, maybe after late delivery has closed: it
    is answered with what was recorded (not counted twice), never 409, which it would
    report as counts the platform did not take."""
    s, staff = scenario, scenario.staff
    node, base, entry_id = _running_node(s)
    s.clock.now = START + timedelta(hours=1)
    batch = {"batch_id": "c-00000001", "faces_seen": 40, "tracks": 6,
             "period_start": (START + timedelta(minutes=59)).isoformat(),
             "period_end": (START + timedelta(hours=1)).isoformat()}
    alert = {"alert_uid": "alert-00000001", "occurred_at": s.clock.now.isoformat(), "camera": "c",
             "track_id": "1", "score": 0.7, "entry_id": entry_id,
             "entry_category": "wanted_for_arrest"}
    ok(node.post(f"{base}/counters", json=batch), 201)
    first = ok(node.post(f"{base}/alerts", json=alert), 201)
    s.clock.now = START + timedelta(hours=33)  # the end, and late delivery, long past
    again = node.post(f"{base}/counters", json=batch)
    assert again.status_code == 200 and again.json()["counted"] is False, again.text
    assert ok(node.post(f"{base}/alerts", json=alert), 201)["id"] == first["id"]
    figures = ok(staff.anon.get(f"/api/public/deployments/{s.reference}"))["figures"]
    assert (figures["faces_seen"], figures["alerts"]) == (40, 1)
    # Something new is refused, and says why in plain words.
    late = node.post(f"{base}/counters", json={**batch, "batch_id": "c-00000002"})
    assert late.status_code == 409 and "not 'active', not 'active'" not in late.text


def test_a_threshold_raised_while_it_runs_binds_the_alerts_raised_after(
        scenario: Scenario) -> None:
    """Raising the threshold narrows the plan: published as it runs, and alerts raised
    after it (beyond the nodes' clock skew) and delivered as they happen are held to it;
    what a node delivers late (decided before the raise, or while offline, by the value
    it had) is held to the lowest that ran."""
    s, staff = scenario, scenario.staff
    node, base, entry_id = _running_node(s)
    raised_at = START + timedelta(hours=1)
    s.clock.now = raised_at
    a = ok(staff["planner"].post(s.url("/amendments"), json={
        "record": "plan", "reason": "Raising the threshold after residents' concerns.",
        "changes": {"threshold": 0.72}}), 201)
    assert a["status_after"] == "active"
    assert ok(node.get(base))["threshold"] == 0.72

    def alert(uid: str, at: datetime, score: float) -> Any:
        return node.post(f"{base}/alerts", json={
            "alert_uid": uid, "occurred_at": at.isoformat(), "camera": "c",
            "track_id": uid, "score": score, "entry_id": entry_id})

    # Delivered as it happens, an hour after the raise: its node was in touch and had it.
    seen = raised_at + timedelta(hours=1)
    s.clock.now = seen + timedelta(seconds=5)
    after = alert("after-the-raise", seen, 0.65)
    assert after.status_code == 422 and "0.72" in after.text, after.text
    ok(alert("after-the-raise-2", seen, 0.73), 201)
    # Within the clock skew of the raise, the node may not have had it yet.
    s.clock.now = raised_at + timedelta(minutes=2, seconds=5)
    ok(alert("within-the-skew", raised_at + timedelta(minutes=2), 0.65), 201)
    # Delivered late (the node was offline when the threshold was raised, and decided by
    # the one it had): taken, so that no alert the engine raised is lost.
    s.clock.now = START + timedelta(hours=5)
    ok(alert("while-offline", raised_at + timedelta(hours=2), 0.65), 201)
    ok(alert("before-the-raise", raised_at - timedelta(minutes=20), 0.65), 201)
