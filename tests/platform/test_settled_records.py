"""What a deployment did stays on the record: a deployment that has run can never be
cancelled out of the published totals (an amendment can send it back to notice; it is then
completed, not cancelled), and once it has ended an alert's decision or outcome changes
only with a published reason, within the window after the alert, never a year on."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from figures_helpers import A_START, B_START, decide, post_alert, post_counters
from platform_helpers import Scenario, activate_at, authorise_ahead, ok
from sqlalchemy import func, select

from openlfr.governance.errors import InvalidTransition
from openlfr.governance.lifecycle import DeploymentStatus, Transition, next_status
from openlfr.governance.outcomes import recorded_group, settled_change_refusal
from openlfr.services import figures
from openlfr.services.retention import apply_retention
from openlfr.storage import models as m


def _total(s: Scenario) -> dict[str, Any]:
    rows = ok(s.staff.anon.get("/transparency.json"))["rows"]
    [row] = [r for r in rows if r["deployment"] == "all" and r["month"] == "total"]
    return row


def _running(s: Scenario) -> int:
    """Deployment A activated, an hour in, with faces counted; its watchlist entry."""
    entry = activate_at(s, A_START, hours=8)
    s.clock.now = A_START + timedelta(hours=1)
    post_counters(s, s.staff.node(s.deployment_id), "c1", 5000, 900)
    return entry


def _run_with_false_alerts(s: Scenario, n: int = 3) -> list[int]:
    entry = _running(s)
    node = s.staff.node(s.deployment_id)
    ids = [post_alert(s, node, f"v{i}", s.clock.now + timedelta(minutes=i), entry)
           for i in range(n)]
    for a in ids:
        decide(s, a, "false_match", "words_of_advice", "White")
    return ids


def test_the_lifecycle_never_cancels_a_deployment_that_ran() -> None:
    for status in (DeploymentStatus.NOTICE_PUBLISHED, DeploymentStatus.AUTHORISED):
        assert next_status(status, Transition.CANCEL) is DeploymentStatus.CANCELLED
        with pytest.raises(InvalidTransition, match="has run"):
            next_status(status, Transition.CANCEL, has_run=True)
        # Sent back to notice by an amendment, it can still be ended.
        assert next_status(status, Transition.COMPLETE,
                           has_run=True) is DeploymentStatus.COMPLETED
        with pytest.raises(InvalidTransition):
            next_status(status, Transition.COMPLETE)


def test_an_amended_deployment_that_ran_is_completed_not_cancelled(scenario: Scenario) -> None:
    """The reviewer's route: run, false alerts, an amendment that fails a gate, then
    cancel. An amendment that would change a running deployment's gates is refused until
    those who may stop it complete it; completed, the cancel is refused, and the false
    alerts stay in every total."""
    s = scenario
    _run_with_false_alerts(s)
    assert _total(s)["false_alerts"] == 3
    events = ok(s.staff["planner"].get(s.url("/engagement")))
    [residents] = [e for e in events if e["audience"] == "residents"][:1]
    body = {"record": "engagement", "event_id": residents["id"],
            "reason": "The residents' meeting was recorded against the wrong deployment."}
    stop = s.staff["planner"].post(s.url("/amendments"), json=body)
    assert stop.status_code == 409 and "would stop the running deployment" in stop.text
    ok(s.staff["operator"].post(s.url("/complete")))
    amended = ok(s.staff["planner"].post(s.url("/amendments"), json=body), 201)
    assert (amended["status_before"], amended["status_after"]) == ("completed", "completed")
    refused = s.staff["planner"].post(s.url("/cancel"), json={
        "reason": "Operation stood down; no further deployment in this area is planned."})
    assert refused.status_code == 409
    assert _total(s)["false_alerts"] == 3
    assert [r["reference"] for r in _records(s)] == [s.reference]
    page = s.staff["operator"].get(f"/staff/deployments/{s.deployment_id}").text
    assert 'data-test="cancel-form"' not in page


def _records(s: Scenario) -> list[dict[str, str]]:
    text = s.staff.anon.get("/transparency/records.csv").text
    return list(csv.DictReader(io.StringIO(text)))


def test_a_cancelled_deployment_that_had_run_still_counts(scenario: Scenario) -> None:
    """A database from before the refusal may hold one: its figures stay published."""
    s = scenario
    _run_with_false_alerts(s, 2)
    with s.staff.platform.sessions.begin() as session:
        d = session.get(m.Deployment, s.deployment_id)
        assert d is not None
        d.status = DeploymentStatus.CANCELLED.value
    assert figures.published_figures(s.staff.platform).total.false_alerts == 2


def test_decisions_settle_after_the_deployment_ends(scenario: Scenario) -> None:
    s = scenario
    ids = _run_with_false_alerts(s, 4)
    operator = s.staff["operator"]
    # While it runs, a mis-press is simply corrected.
    ok(operator.post(f"/api/alerts/{ids[3]}/adjudication", json={"adjudication": "unclear"}))
    ok(operator.post(f"/api/alerts/{ids[3]}/adjudication", json={"adjudication": "false_match"}))
    s.clock.now = A_START + timedelta(hours=8)
    ok(operator.post(s.url("/complete")))
    ok(s.staff["oversight"].post(s.url("/review"), json={
        "summary": "Four false alerts, all recorded in one group; of concern."}))
    assert _total(s)["false_alerts"] == 4
    # After the end: no change without a reason.
    bare = operator.post(f"/api/alerts/{ids[0]}/adjudication", json={"adjudication": "unclear"})
    assert bare.status_code == 409 and "needs a reason" in bare.json()["detail"]
    short = operator.post(f"/api/alerts/{ids[0]}/adjudication",
                          json={"adjudication": "unclear", "reason": "mistake"})
    assert short.status_code == 409
    # The same decision again is no change.
    ok(operator.post(f"/api/alerts/{ids[0]}/adjudication", json={"adjudication": "false_match"}))
    # An outcome or group changed needs one too.
    regroup = operator.post(f"/api/alerts/{ids[1]}/outcome", json={
        "outcome": "words_of_advice", "demographic_group": "Asian or Asian British"})
    assert regroup.status_code == 409
    why = "The custody record shows the person stopped was the subject after all."
    ok(operator.post(f"/api/alerts/{ids[0]}/adjudication",
                     json={"adjudication": "true_match", "reason": why}))
    assert _total(s)["false_alerts"] == 3
    review = s.staff.anon.get(f"/deployments/{s.reference}/review").text
    assert re.search(rf"alert {ids[0]} decision changed after completion from false match "
                     rf"to true match: {re.escape(why)}", review.replace("&#39;", "'"))
    events = ok(s.staff["oversight"].get("/api/audit/events?limit=1000"))
    mine = [json.loads(e["details"]) for e in events
            if e["action"] == "alert.adjudicated" and e["subject_id"] == str(ids[0])]
    assert mine[-1] == {"from": "false_match", "to": "true_match", "reason": why}
    # A year on, the decisions have settled: nothing changes, with or without a reason.
    s.clock.now += timedelta(days=400)
    late = s.staff.login("operator").post(f"/api/alerts/{ids[1]}/adjudication",
                         json={"adjudication": "unclear", "reason": why})
    assert late.status_code == 409 and "settled" in late.json()["detail"]
    assert _total(s)["false_alerts"] == 3


def test_the_rule_reads_only_what_changed() -> None:
    at = datetime(2026, 4, 1, tzinfo=UTC)
    rule = dict(occurred_at=at, window_days=90)
    reason = "A reason that is long enough to publish."
    # A first record and a repeat are always taken, even long after.
    assert settled_change_refusal("decision", None, "false_match", now=at + timedelta(days=900),
                                  ended=True, reason=None, **rule) is None
    assert settled_change_refusal("decision", "unclear", "unclear", now=at + timedelta(days=900),
                                  ended=True, reason=None, **rule) is None
    # While it runs, changes are corrections.
    assert settled_change_refusal("decision", "false_match", "unclear", now=at, ended=False,
                                  reason=None, **rule) is None
    # Ended: a reason, within the window.
    assert settled_change_refusal("decision", "false_match", "unclear", now=at, ended=True,
                                  reason=None, **rule)
    assert settled_change_refusal("decision", "false_match", "unclear", now=at, ended=True,
                                  reason=reason, **rule) is None
    assert "settled on 2026-06-30" in (settled_change_refusal(
        "decision", "false_match", "unclear", now=at + timedelta(days=91), ended=True,
        reason=reason, **rule) or "")


def _watchlist_state(s: Scenario) -> tuple[datetime | None, int]:
    with s.staff.platform.sessions() as session:
        w = session.scalar(select(m.Watchlist).where(m.Watchlist.deployment_id == s.deployment_id))
        assert w is not None
        entries = session.scalar(select(func.count()).select_from(m.WatchlistEntry).where(
            m.WatchlistEntry.watchlist_id == w.id))
        return w.destroyed_at, entries or 0


def test_a_watchlist_goes_when_the_window_is_over_whoever_forgot_to_complete(
        scenario: Scenario) -> None:
    """Nobody completes an active deployment: its watchlist goes once the published window
    and the late delivery after it are over, not never."""
    s = scenario
    activate_at(s, A_START, hours=8)
    late = timedelta(hours=s.staff.platform.settings.late_delivery_hours)
    s.clock.now = A_START + timedelta(hours=8) + late - timedelta(minutes=1)
    assert apply_retention(s.staff.platform).watchlists_destroyed == 0
    assert _watchlist_state(s) == (None, 1)
    s.clock.now += timedelta(minutes=2)
    assert apply_retention(s.staff.platform).watchlists_destroyed == 1
    destroyed, entries = _watchlist_state(s)
    assert destroyed is not None and entries == 0


def test_a_watchlist_goes_with_a_window_that_passed_unused(scenario: Scenario) -> None:
    s = scenario
    authorise_ahead(s, B_START, B_START + timedelta(hours=8), s.watchlist)
    s.clock.now = B_START + timedelta(days=3)
    assert apply_retention(s.staff.platform).watchlists_destroyed == 1
    assert _watchlist_state(s)[1] == 0


def test_a_node_cannot_count_more_faces_passing_than_it_detected(scenario: Scenario) -> None:
    """Rates are published per face passing (track), never per detection; a batch with
    more tracks than detected faces is refused."""
    s = scenario
    activate_at(s, A_START, hours=8)
    node = s.staff.node(s.deployment_id)
    s.clock.now = A_START + timedelta(hours=1)
    r = node.post(f"/api/node/deployments/{s.deployment_id}/counters",
                  json={"batch_id": "inflated", "faces_seen": 10, "tracks": 10_000})
    assert r.status_code == 422 and "tracks cannot exceed faces_seen" in r.text


def test_one_list_of_groups_so_a_disparity_cannot_be_split(scenario: Scenario) -> None:
    """The reviewer's six spellings made five columns; now they are one group or refused."""
    s = scenario
    entry = _running(s)
    node = s.staff.node(s.deployment_id)
    ids: list[int] = []
    black = "Black, Black British, Caribbean or African"
    for i, spelling in enumerate((black, black.lower(), f"  {black.upper()} ",
                                  "Black,  Black British, Caribbean or African")):
        a = post_alert(s, node, f"g{i}", s.clock.now + timedelta(minutes=i), entry)
        decide(s, a, "false_match", "not_engaged", spelling)
        ids.append(a)
    for spelling in ("black", "Black British", "BME"):
        r = s.staff["operator"].post(f"/api/alerts/{ids[0]}/outcome", json={
            "outcome": "not_engaged", "demographic_group": spelling})
        assert r.status_code == 422 and "choose one of the recorded groups" in r.text
    groups = {k: v for k, v in _total(s).items() if k.startswith("false_alerts_group:")}
    assert groups == {f"false_alerts_group:{black}": 4}


def test_the_group_rule_reads_case_and_spacing_only() -> None:
    groups = ["White", "Not stated"]
    assert recorded_group("  white ", groups) == "White"
    assert recorded_group("NOT   STATED", groups) == "Not stated"
    assert recorded_group(None, groups) is None and recorded_group("  ", groups) is None
    with pytest.raises(ValueError, match="White; Not stated"):
        recorded_group("Whites", groups)


def test_a_deployment_that_ran_is_not_rescheduled_to_reopen_its_alerts(
        scenario: Scenario) -> None:
    """The second reviewer's route: run, the deployment ends (an amendment that changes a
    gate can no longer send a running one back to notice: it must be completed first), a
    reschedule to dates ahead would reopen its alerts' decisions (no reason needed, a year
    on): the reschedule is refused, and a year on every decision has settled anyway."""
    s = scenario
    ids = _run_with_false_alerts(s)
    events = ok(s.staff["planner"].get(s.url("/engagement")))
    [residents] = [e for e in events if e["audience"] == "residents"][:1]
    ok(s.staff["operator"].post(s.url("/complete")))
    ok(s.staff["planner"].post(s.url("/amendments"), json={
        "record": "engagement", "event_id": residents["id"],
        "reason": "The residents' meeting was recorded against the wrong deployment."}), 201)
    # It has ended: a change needs a reason already.
    r = s.staff["operator"].post(f"/api/alerts/{ids[0]}/adjudication",
                                 json={"adjudication": "true_match"})
    assert r.status_code == 409 and "needs a reason" in r.text
    s.clock.now = A_START + timedelta(days=400)
    planner = s.staff.login("planner")
    r = planner.post(s.url("/reschedule"), json={
        "start_at": (s.clock.now + timedelta(days=30)).isoformat(),
        "end_at": (s.clock.now + timedelta(days=30, hours=8)).isoformat(),
        "reason": "New dates for the operation after the review of the plan."})
    assert r.status_code == 409 and "has run" in r.text
    page = planner.get(f"/staff/deployments/{s.deployment_id}").text
    assert 'data-test="reschedule-form"' not in page
    late = s.staff.login("operator").post(f"/api/alerts/{ids[0]}/adjudication", json={
        "adjudication": "true_match",
        "reason": "The custody record shows the person stopped was the subject after all."})
    assert late.status_code == 409 and "settled" in late.text
    assert _total(s)["false_alerts"] == 3


def test_a_reason_must_say_something() -> None:
    at = datetime(2026, 4, 1, tzinfo=UTC)
    for junk in ("aaaaaaaaaaaaaaaaaaaaaaaa", "....................", "n/a n/a n/a n/a n/a n/a",
                 "mistake mistake mistake mistake"):
        assert settled_change_refusal("decision", "false_match", "unclear", occurred_at=at,
                                      now=at, ended=True, window_days=90, reason=junk), junk


def test_a_threshold_set_after_completion_is_no_floor(scenario: Scenario) -> None:
    """Alerts are held to the lowest threshold that ran: one amended in after completion
    never ran, so a late alert below the threshold that did is refused."""
    s, staff = scenario, scenario.staff
    s.activate()
    node = staff.node(s.deployment_id)
    base = f"/api/node/deployments/{s.deployment_id}"
    entry_id = ok(node.get(f"{base}/watchlist"))["entries"][0]["entry_id"]
    s.clock.advance(minutes=10)
    decided_at = s.clock.now.isoformat()
    s.clock.advance(minutes=10)
    ok(staff["operator"].post(s.url("/complete")))
    ok(staff["planner"].post(s.url("/amendments"), json={
        "record": "plan", "reason": "Corrected the recorded threshold afterwards.",
        "changes": {"threshold": 0.05}}), 201)
    late = {"alert_uid": "alert-late-low", "occurred_at": decided_at, "camera": "cam-1",
            "track_id": "7", "score": 0.06, "entry_id": entry_id,
            "entry_category": "wanted_for_arrest"}
    r = node.post(f"{base}/alerts", json=late)
    assert r.status_code == 422 and "below the deployment's threshold (0.64)" in r.text
    ok(node.post(f"{base}/alerts", json={**late, "score": 0.7}), 201)


def test_counts_beyond_the_cameras_publish_no_rate_per_face(scenario: Scenario) -> None:
    """The second reviewer's inflation: a node sends two billion faces passing for an
    8-hour, 2-camera deployment, and the rate per 1,000 faces fell to 0.0. Counts beyond
    what the cameras could see (20 new faces a camera a second) are published as sent,
    flagged, and no rate per face comes from them, for the deployment or any total."""
    s = scenario
    ids = _run_with_false_alerts(s)  # 900 tracks honestly: 3.3333 per 1,000
    assert _total(s)["false_alerts_per_1000_tracks"] == pytest.approx(3.3333, abs=1e-4)
    node = s.staff.node(s.deployment_id)
    ok(node.post(f"/api/node/deployments/{s.deployment_id}/counters", json={
        "batch_id": "inflated", "faces_seen": 10_000_000, "tracks": 10_000_000}), 201)
    total = _total(s)
    assert total["tracks"] == 10_000_900 and total["false_alerts_per_1000_tracks"] is None
    body = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert body["figures"]["counts_beyond_cameras"] is True
    page = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert 'data-test="counts-beyond-cameras"' in page
    assert [r["reference"] for r in _records(s)] == [s.reference]
    assert len(ids) == 3


def test_the_bound_on_counts_is_generous() -> None:
    from openlfr.governance.records import counts_beyond_cameras
    eight_hours = 8 * 3600
    assert not counts_beyond_cameras(40_000, 2, eight_hours)  # a busy street, honestly
    assert not counts_beyond_cameras(1_152_000, 2, eight_hours)  # 20 a camera a second
    assert counts_beyond_cameras(1_152_001, 2, eight_hours)
    assert counts_beyond_cameras(2_000_000_000, 2, eight_hours)
