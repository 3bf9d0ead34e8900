"""The whole life of a deployment over HTTP, role by role, with the gates deciding."""

from __future__ import annotations

from datetime import timedelta

from platform_helpers import (
    ASKED_BECAUSE,
    COUNTERSIGNED_BECAUSE,
    START,
    Scenario,
    descriptor,
    ok,
)


def test_deployment_lifecycle_through_every_gate(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.prepare()
    report = ok(staff["oversight"].get(s.url("/gates")))
    assert report["all_passed"], [g for g in report["gates"] if not g["passed"]]
    assert {g["name"] for g in report["gates"]} == {
        "notice_period", "impact_assessment", "engagement_reach",
        "consultation_and_objections", "watchlist_rules", "threshold", "council_motions"}

    authorised = ok(staff["authoriser"].post(s.url("/authorise")))
    assert authorised["deployment"]["status"] == "authorised"
    assert authorised["override"] is None
    s.clock.now = START
    assert ok(staff["operator"].post(s.url("/activate")))["deployment"]["status"] == "active"

    node = staff.node(s.deployment_id)
    released = ok(node.get(f"/api/node/deployments/{s.deployment_id}/watchlist"))
    assert released["threshold"] == 0.64
    assert len(released["entries"]) == 1
    assert "subject_ref" not in str(released)
    assert released["entries"][0]["descriptors"][0] == descriptor()
    entry_id = released["entries"][0]["entry_id"]

    alert = {"alert_uid": "alert-0001", "occurred_at": START.isoformat(), "camera": "cam-1",
             "track_id": "t-17", "score": 0.71, "entry_id": entry_id}
    first = ok(node.post(f"/api/node/deployments/{s.deployment_id}/alerts", json=alert), 201)
    again = ok(node.post(f"/api/node/deployments/{s.deployment_id}/alerts", json=alert), 201)
    assert first["id"] == again["id"]  # a retried upload is recorded once
    batch = {"batch_id": "batch-0001", "faces_seen": 1200, "tracks": 480}
    assert ok(node.post(f"/api/node/deployments/{s.deployment_id}/counters", json=batch),
              201)["counted"]
    assert not ok(node.post(f"/api/node/deployments/{s.deployment_id}/counters", json=batch))[
        "counted"]

    operator = staff["operator"]
    ok(operator.post(f"/api/alerts/{first['id']}/adjudication",
                     json={"adjudication": "false_match"}))
    ok(operator.post(f"/api/alerts/{first['id']}/outcome",
                     json={"outcome": "not_engaged",
                           "demographic_group": "Asian or Asian British"}))

    s.clock.advance(hours=8)
    ok(operator.post(s.url("/complete")))
    ok(staff["oversight"].post(s.url("/review"), json={"summary": "One false alert, no stops."}))

    public = ok(staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["status"] == "reviewed"
    assert public["figures"] == {"faces_seen": 1200, "tracks": 480, "alerts": 1,
                                 "confirmed": 0, "false_alerts": 1, "unclear": 0,
                                 "pending": 0, "outcomes": {"not_engaged": 1},
                                 "second_opinion_alerts": 0,
                                 "second_opinion_false_alerts": 0,
                                 "counts_beyond_cameras": False}
    assert public["watchlist_by_category"] == {"wanted_for_arrest": 1}
    assert public["assessment"]["complete"]
    # The public sees the gates the activation was based on, not today's (the watchlist
    # has since been destroyed, which would now fail its gate).
    assert public["gates_basis"] == "activate"
    assert all(g["passed"] for g in public["gates"]) and len(public["gates"]) == 7
    live = ok(staff["oversight"].get(s.url("/gates")))
    assert not live["all_passed"]
    text = str(public)
    for private in ("CASE-123/A", "resident@example.org", "Asian or Asian British"):
        assert private not in text

    # The watchlist went with the deployment: descriptors and references deleted.
    wl = ok(staff["planner"].get(s.url("/watchlist")))
    assert wl["entries"] == [] and wl["watchlist"]["destroyed_at"] is not None
    # ...and the engine node is refused from now on, with the reason.
    refused = node.get(f"/api/node/deployments/{s.deployment_id}/watchlist")
    assert refused.status_code == 409 and "not 'active'" in refused.json()["detail"]

    verification = ok(staff["admin"].get("/api/audit/verify"))
    assert verification["ok"], verification
    actions = [e["action"] for e in ok(staff["admin"].get("/api/audit/events?limit=1000"))]
    for expected in ("deployment.created", "deployment.authorise", "deployment.activate",
                     "watchlist.released_to_node", "alert.received", "alert.adjudicated",
                     "watchlist.destroyed", "deployment.review"):
        assert expected in actions


def test_authorise_refuses_with_failing_gates_and_changes_nothing(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.draft(start_at=(s.clock.now + timedelta(days=3)).isoformat(),
            end_at=(s.clock.now + timedelta(days=3, hours=6)).isoformat())
    ok(staff["planner"].post(s.url("/propose")))
    ok(staff["planner"].post(s.url("/publish-notice")))
    authoriser = staff["authoriser"]  # log in first: a login is itself an audit event
    before = ok(staff["admin"].get("/api/audit/verify"))["events_checked"]

    r = authoriser.post(s.url("/authorise"))
    assert r.status_code == 409
    body = r.json()
    failing = {g["name"]: g["reason"] for g in body["failing_gates"]}
    assert "notice_period" in failing and "at least 14 days" in failing["notice_period"]
    assert "engagement_reach" in failing and "watchlist_rules" in failing
    assert ok(staff["planner"].get(s.url()))["status"] == "notice_published"
    assert ok(staff["admin"].get("/api/audit/verify"))["events_checked"] == before


def test_an_override_needs_an_authoriser_who_asks_and_oversight_who_countersigns(
        scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.prepare()
    s.late_objection()  # only the consultation gate fails: an override may set it aside
    short = staff["authoriser"].post(s.url("/authorise"),
                                     json={"override_justification": "urgent"})
    assert short.status_code == 422
    assert short.json()["detail"][0]["loc"] == ["body", "override_justification"]
    asked = staff["authoriser"].post(s.url("/authorise"),
                                     json={"override_justification": ASKED_BECAUSE})
    assert asked.status_code == 202
    body = asked.json()
    assert body["deployment"]["status"] == "notice_published"  # nothing has moved
    assert body["override"]["status"] == "awaiting_countersignature"
    public = ok(staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["overrides"] == [] and public["status_text"] == "notice published"

    # Not the one who asked, nor any other role than oversight.
    read = {"override_id": body["override"]["id"]}
    for role in ("authoriser", "planner", "operator", "councillor", "admin"):
        r = staff[role].post(s.url("/overrides/countersign"),
                             json={**read, "justification": COUNTERSIGNED_BECAUSE})
        assert r.status_code == 403, role
    r = staff["oversight"].post(s.url("/overrides/countersign"),
                                json={**read, "justification": "ok"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "justification"]
    override = ok(staff["oversight"].post(s.url("/overrides/countersign"),
                                          json={**read, "justification": COUNTERSIGNED_BECAUSE}))
    assert override["status"] == "in_force" and override["countersigned_by"] == "oversight"
    assert ok(staff["planner"].get(s.url()))["status"] == "authorised"
    public = ok(staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["status_text"] == "authorised despite 1 failed check"
    assert public["went_ahead_despite"] == ["consultation_and_objections"]
    [shown] = public["overrides"]
    assert shown["justification"] == ASKED_BECAUSE
    assert shown["countersignature"] == COUNTERSIGNED_BECAUSE
    assert public["gates_basis"] == "authorise"
    assert staff["oversight"].post(s.url("/overrides/countersign"), json={
        **read, "justification": COUNTERSIGNED_BECAUSE}).status_code == 409  # nothing awaits

    # The gates overridden at authorisation do not stop activation ...
    s.clock.now = START
    ok(staff["operator"].post(s.url("/activate")))
    assert ok(staff["planner"].get(s.url()))["status"] == "active"


def test_a_gate_failing_anew_at_activation_needs_its_own_override(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.prepare()
    ok(staff["authoriser"].post(s.url("/authorise")))
    s.clock.now = START
    s.late_objection()
    r = staff["operator"].post(s.url("/activate"))
    assert r.status_code == 409 and [g["name"] for g in r.json()["failing_gates"]] == [
        "consultation_and_objections"]
    # An operator may activate, but not ask for an override.
    r = staff["operator"].post(s.url("/activate"),
                               json={"override_justification": ASKED_BECAUSE})
    assert r.status_code == 403 and "needs one of these roles: authoriser" in r.json()["detail"]
    override = s.override("activate")
    assert override["transition"] == "activate"
    assert ok(staff["planner"].get(s.url()))["status"] == "active"


def test_lifecycle_refuses_skipping_steps(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.draft()
    r = staff["authoriser"].post(s.url("/authorise"))
    assert r.status_code == 409 and "only possible from: notice_published" in r.json()["detail"]
    r = staff["operator"].post(s.url("/complete"))
    assert r.status_code == 409
    ok(staff["planner"].post(s.url("/cancel"), json={"reason": "Operation no longer needed."}))
    assert staff["planner"].post(s.url("/propose")).status_code == 409


def test_plan_is_fixed_once_notice_is_published(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.draft()
    ok(staff["planner"].patch(s.url(), json={"threshold": 0.7}))
    ok(staff["planner"].post(s.url("/propose")))
    ok(staff["planner"].post(s.url("/publish-notice")))
    r = staff["planner"].patch(s.url(), json={"threshold": 0.5})
    assert r.status_code == 409 and "fixed once notice is published" in r.json()["detail"]
    assert ok(staff["planner"].get(s.url()))["threshold"] == 0.7


def test_activation_and_node_access_keep_to_the_published_window(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.prepare()  # the clock is now 12 hours before the start
    ok(staff["authoriser"].post(s.url("/authorise")))
    r = staff["operator"].post(s.url("/activate"))
    assert r.status_code == 409 and "too early" in r.json()["detail"]
    s.clock.now = START - timedelta(minutes=30)
    ok(staff["operator"].post(s.url("/activate")))
    node = staff.node(s.deployment_id)
    ok(node.get(f"/api/node/deployments/{s.deployment_id}/watchlist"))
    s.clock.now = START + timedelta(hours=8)  # the published end
    r = node.post(f"/api/node/deployments/{s.deployment_id}/counters",
                  json={"batch_id": "batch-late-1", "faces_seen": 5, "tracks": 2})
    assert r.status_code == 409 and "must complete the deployment" in r.json()["detail"]
