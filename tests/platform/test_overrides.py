"""Two-person overrides through the API: failures that can never be overridden, a second
person who is really another person, a countersignature that covers only what was asked
about (the gates, and how each failed: its failure key), and only the request the signer
read, newer requests replacing older ones, overrides lapsing with the authorisation or a
changed watchlist, and council motions that ask to stop LFR."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from platform_helpers import (
    ASKED_BECAUSE,
    AUDITED_GROUPS,
    AUDITED_WITHIN_LIMIT,
    COUNTERSIGNED_BECAUSE,
    START,
    WATCHLIST_MODEL,
    Scenario,
    descriptor,
    new_client,
    ok,
)
from sqlalchemy import select

from openlfr.services import users
from openlfr.services.platform import SYSTEM_ACTOR
from openlfr.services.schemas import UserPatch
from openlfr.storage import models as m


def _ask(s: Scenario, action: str = "authorise") -> Any:
    """An authoriser asks for an override (202: it awaits a countersignature)."""
    r = s.staff["authoriser"].post(s.url(f"/{action}"),
                                   json={"override_justification": ASKED_BECAUSE})
    assert r.status_code == 202, r.text
    return r.json()["override"]


def _countersign(s: Scenario, asked: dict[str, Any], client: Any = None) -> Any:
    """A member of oversight countersigns the request ``asked``, which they read."""
    return (client or s.staff["oversight"]).post(
        s.url("/overrides/countersign"),
        json={"override_id": asked["id"], "justification": COUNTERSIGNED_BECAUSE})


def test_failures_that_can_never_be_overridden_are_refused_with_the_reason(
        scenario: Scenario) -> None:
    """A draft with no assessment and no watchlist, notice given two days before the
    start: one authoriser's sentence cannot take it anywhere."""
    s, staff = scenario, scenario.staff
    s.clock.now = START - timedelta(days=2)
    s.draft()
    ok(staff["planner"].post(s.url("/propose")))
    ok(staff["planner"].post(s.url("/publish-notice")))
    r = staff["authoriser"].post(s.url("/authorise"), json={"override_justification": (
        "Operational necessity: the community was informed on social media today.")})
    assert r.status_code == 409
    body = r.json()
    assert "can never be overridden" in body["detail"]
    refusals = {g["name"]: g["override_refusal"] for g in body["failing_gates"]
                if g["override_refusal"]}
    assert set(refusals) == {"notice_period", "impact_assessment", "watchlist_rules"}
    assert "Notice shorter than 7 days can never be overridden" in refusals["notice_period"]
    assert "unpublished impact assessment" in refusals["impact_assessment"]
    assert "empty watchlist" in refusals["watchlist_rules"]
    assert ok(staff["planner"].get(s.url()))["status"] == "notice_published"
    assert ok(staff["planner"].get(s.url("/overrides"))) == []


def test_the_countersignature_must_come_from_another_person(scenario: Scenario) -> None:
    """Even if the authoriser who asked is later given the oversight role."""
    s, staff = scenario, scenario.staff
    s.prepare()
    s.late_objection()
    asked = _ask(s)
    accounts = ok(staff["admin"].get("/api/users"))
    uid = next(u["id"] for u in accounts if u["username"] == "authoriser")
    # The admin cannot make anyone oversight (else one admin could sign both halves)...
    r = staff["admin"].patch(f"/api/users/{uid}", json={"role": "oversight"})
    assert r.status_code == 403 and "managed by oversight" in r.json()["detail"]
    # ... and one made oversight from the platform's command line is still one person.
    users.update_user(staff.platform, SYSTEM_ACTOR, uid, UserPatch(role="oversight"))
    same_person = staff.login("authoriser")
    r = _countersign(s, asked, same_person)
    assert r.status_code == 409 and "needs two people" in r.json()["detail"]
    assert ok(staff["planner"].get(s.url()))["status"] == "notice_published"


def test_a_countersignature_covers_only_the_gates_that_were_asked_about(
        scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.prepare()
    s.late_objection()
    asked = _ask(s)
    ok(staff["oversight"].post("/api/motions", json={
        "body": "Lambeth Council", "passed_on": "2026-03-10", "stance": "conditions",
        "summary": "Four weeks' notice in the ward, please.", "areas": ["Lambeth/Vauxhall"]}),
        201)
    r = _countersign(s, asked)
    assert r.status_code == 409
    assert "these gates fail too: council_motions" in r.json()["detail"]
    assert ok(staff["planner"].get(s.url()))["status"] == "notice_published"


def test_a_newer_request_replaces_the_older_and_audit_records_both_steps(
        scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.prepare()
    s.late_objection()
    first, second = _ask(s), _ask(s)
    listed = {o["id"]: o for o in ok(staff["planner"].get(s.url("/overrides")))}
    assert listed[first["id"]]["status"] == "superseded"
    assert listed[second["id"]]["status"] == "awaiting_countersignature"
    ok(_countersign(s, second))
    listed = {o["id"]: o for o in ok(staff["planner"].get(s.url("/overrides")))}
    assert listed[second["id"]]["status"] == "in_force"
    public = ok(staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert [o["id"] for o in public["overrides"]] == [second["id"]]
    with staff.platform.sessions() as session:
        actions = list(session.scalars(select(m.AuditEvent.action).where(
            m.AuditEvent.action.like("override.%")).order_by(m.AuditEvent.seq)))
    assert actions == ["override.requested", "override.requested", "override.countersigned"]


def test_overrides_lapse_when_the_authorisation_is_withdrawn(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.prepare()
    s.late_objection()
    override = s.override()
    ok(staff["planner"].post(s.url("/reschedule"), json={
        "start_at": (START + timedelta(days=30)).isoformat(),
        "end_at": (START + timedelta(days=30, hours=8)).isoformat(),
        "reason": "The event it was planned for moved to a later date."}))
    [shown] = ok(staff["planner"].get(s.url("/overrides")))
    assert shown["id"] == override["id"] and shown["status"] == "lapsed"
    assert shown["closed_reason"] == "the deployment was rescheduled"
    public = ok(staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["went_ahead_despite"] == [] and public["status_text"] == "notice published"
    assert public["overrides"][0]["status"] == "lapsed"  # history stays published


def test_a_motion_asking_to_stop_lfr_is_lifted_only_by_answers_and_two_signatures(
        scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    motion = ok(staff["oversight"].post("/api/motions", json={
        "body": "Lambeth Council", "passed_on": "2026-02-10", "stance": "suspend",
        "summary": "Suspend LFR in the borough pending an independent review.",
        "points": ["Suspend live facial recognition in Lambeth.",
                   "Commission an independent review of its use."],
        "areas": ["Lambeth"]}), 201)
    s.prepare()
    r = staff["authoriser"].post(s.url("/authorise"),
                                 json={"override_justification": ASKED_BECAUSE})
    assert r.status_code == 409 and "answered each of its points" in r.json()["detail"]
    respond = f"/api/motions/{motion['id']}/response"
    r = staff["authoriser"].post(respond, json={"response": "We will review it."})
    assert r.status_code == 422 and "answer each point" in r.text
    ok(staff["authoriser"].post(respond, json={
        "response": "We have commissioned a review and explain below why we still plan this.",
        "point_answers": ["Not suspended: a named suspect is sought, see the assessment.",
                          "Commissioned from the university; it reports in June."]}))
    # A response alone does not lift it.
    r = staff["authoriser"].post(s.url("/authorise"))
    assert r.status_code == 409
    [gate] = r.json()["failing_gates"]
    assert gate["name"] == "council_motions" and gate["override_refusal"] is None
    ok(_countersign(s, _ask(s)))
    public = ok(staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["status"] == "authorised" and public["went_ahead_despite"] == [
        "council_motions"]
    [shown] = ok(staff.anon.get("/api/public/motions"))
    assert shown["point_answers"][1].startswith("Commissioned")


def test_countersigning_needs_a_login_and_the_oversight_role(scenario: Scenario) -> None:
    s = scenario
    s.prepare()
    s.late_objection()
    asked = _ask(s)
    assert _countersign(s, asked, new_client(s.staff.app)).status_code == 401
    assert _countersign(s, asked, s.staff["councillor"]).status_code == 403
    assert ok(s.staff["planner"].get(s.url()))["status"] == "notice_published"


# --- an override covers the failure signed for, not the gate ------------------------------

def _never_audited(s: Scenario) -> int:
    """Everything passes but the threshold gate: the engine was never audited for equity.
    Returns the technology register entry."""
    tech = ok(s.staff["admin"].post("/api/technology", json={
        "algorithm": "dlib ResNet descriptor + cosine", "model_version": WATCHLIST_MODEL,
        "vendor_or_project": "openlfr", "default_threshold": 0.64}), 201)["id"]
    s.prepare(technology_id=tech)
    return int(tech)


def _failing(s: Scenario) -> list[str]:
    return [g["name"] for g in ok(s.staff["planner"].get(s.url("/gates")))["gates"]
            if not g["passed"]]


def test_a_threshold_lowered_after_the_override_is_not_what_was_signed_for(
        scenario: Scenario) -> None:
    """Two people went ahead at 0.64 on an engine never audited; one planner lowering it to
    0.30 is another failure: the amendment says so, the authorisation and the override
    are withdrawn, and nobody can activate at 0.30 on the old signatures."""
    s, staff = scenario, scenario.staff
    _never_audited(s)
    assert _failing(s) == ["threshold"]
    override = s.override()
    assert [g["name"] for g in override["failing_gates"]] == ["threshold"]
    assert override["failing_gates"][0]["key"]  # what was signed for
    assert ok(staff["planner"].get(s.url()))["status"] == "authorised"

    amendment = ok(staff["planner"].post(s.url("/amendments"), json={
        "record": "plan", "reason": "Operational tuning of the matcher for the day.",
        "changes": {"threshold": 0.30}}), 201)
    assert amendment["gate_changes"] == [{"name": "threshold", "passed_before": False,
                                          "passed_after": False, "failure_changed": True}]
    assert amendment["status_after"] == "notice_published"
    for page in (staff.anon.get(f"/deployments/{s.reference}").text,
                 staff["planner"].get(f"/staff/deployments/{s.deployment_id}").text):
        assert "threshold (fails otherwise than it did: an override signed for it no " \
               "longer covers it)" in " ".join(page.split())
    [shown] = ok(staff["planner"].get(s.url("/overrides")))
    assert shown["status"] == "lapsed" and "amended" in shown["closed_reason"]
    s.clock.now = START
    assert staff["operator"].post(s.url("/activate")).status_code == 409
    assert ok(staff["planner"].get(s.url()))["status"] == "notice_published"


def test_an_amendment_that_leaves_the_failure_as_it_was_keeps_the_override(
        scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    _never_audited(s)
    s.override()
    amendment = ok(staff["planner"].post(s.url("/amendments"), json={
        "record": "plan", "reason": "The title now names the station as residents call it.",
        "changes": {"title": "Vauxhall bus station"}}), 201)
    assert amendment["gate_changes"] == [] and amendment["status_after"] == "authorised"
    s.clock.now = START
    ok(staff["operator"].post(s.url("/activate")))
    assert ok(staff["planner"].get(s.url()))["status"] == "active"


def test_a_gate_failing_otherwise_at_activation_is_not_covered(scenario: Scenario) -> None:
    """An equity audit recorded after authorisation finds 0.64 unfair: the threshold gate
    still fails, but not as it did when two people signed for it (no audit at all)."""
    s, staff = scenario, scenario.staff
    tech = _never_audited(s)
    s.override()
    ok(staff["oversight"].post(f"/api/technology/{tech}/equity-audits", json={
        "conducted_on": "2026-01-15", "dataset": "balanced test set",
        "engine_version": "0.1.0", "model_id": WATCHLIST_MODEL,
        "thresholds_swept": [0.5, 0.55, 0.6, 0.65, 0.7],
        "group_results": AUDITED_GROUPS, "identification": AUDITED_WITHIN_LIMIT,
        "recommended_threshold": 0.7, "fair_threshold": 0.7}), 201)
    s.clock.now = START
    r = staff["operator"].post(s.url("/activate"))
    assert r.status_code == 409
    assert [g["name"] for g in r.json()["failing_gates"]] == ["threshold"]
    assert ok(staff["planner"].get(s.url()))["status"] == "authorised"
    # The new failure needs two signatures of its own.
    ok(_countersign(s, _ask(s, "activate")))
    assert ok(staff["planner"].get(s.url()))["status"] == "active"


def test_a_watchlist_changed_after_authorisation_is_not_covered(scenario: Scenario) -> None:
    """An override signed because the watchlist was built three days early does not cover
    entries one planner adds afterwards with images years old (a category the policy
    forbids is refused as the entry is added): the override lapses (an audit event says
    why) and activation is refused."""
    s, staff = scenario, scenario.staff
    s.equity_audit()
    s.draft(technology_id=s.equity_audit())
    ok(staff["planner"].post(s.url("/propose")))
    ok(staff["planner"].post(s.url("/publish-notice")))
    s.records()
    s.clock.now = START - timedelta(days=3)
    ok(staff["planner"].post(s.url("/watchlist/build")))
    assert _failing(s) == ["watchlist_rules"]
    override = s.override()
    assert ok(staff["planner"].get(s.url()))["status"] == "authorised"

    for i in range(3):
        ok(staff["planner"].post(s.url("/watchlist/entries"), json={
            "subject_ref": f"PROTEST-{i}", "category": "wanted_for_arrest", "source": "intel",
            "authorised_by": "Sgt X", "image_taken_on": "2020-01-10",
            "descriptors": [descriptor(i)]}), 201)
    ok(staff["planner"].post(s.url("/watchlist/build")))
    [shown] = ok(staff["planner"].get(s.url("/overrides")))
    assert shown["id"] == override["id"] and shown["status"] == "lapsed"
    assert "added to the watchlist" in shown["closed_reason"]
    with staff.platform.sessions() as session:
        lapsed = list(session.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "override.lapsed")))
    [details] = [json.loads(e.details) for e in lapsed]
    assert details["override_id"] == override["id"] and details["gates"] == ["watchlist_rules"]
    public = ok(staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["went_ahead_despite"] == []

    s.clock.now = START
    r = staff["operator"].post(s.url("/activate"))
    assert r.status_code == 409
    [gate] = r.json()["failing_gates"]
    assert gate["name"] == "watchlist_rules" and "older than 365 days" in gate["reason"]
    assert ok(staff["planner"].get(s.url()))["status"] == "authorised"


def test_a_rebuild_that_mends_the_failure_leaves_the_override_standing(
        scenario: Scenario) -> None:
    """Rebuilt within 24 hours of the start, the watchlist passes: nothing is covered
    that was not signed for, and the override stays on the record."""
    s, staff = scenario, scenario.staff
    s.prepare()
    s.clock.now = START - timedelta(days=3)
    ok(staff["planner"].post(s.url("/watchlist/build")))
    override = s.override()
    s.clock.now = START - timedelta(hours=2)
    ok(staff["planner"].post(s.url("/watchlist/build")))
    [shown] = ok(staff["planner"].get(s.url("/overrides")))
    assert shown["id"] == override["id"] and shown["status"] == "in_force"
    s.clock.now = START
    ok(staff["operator"].post(s.url("/activate")))


def test_overrides_signed_before_failures_were_keyed_cover_nothing(scenario: Scenario) -> None:
    """An override stored without failure keys (older data) is not widened to cover
    whatever the gate finds now: activation needs a new, keyed override."""
    s, staff = scenario, scenario.staff
    _never_audited(s)
    override = s.override()
    with staff.platform.sessions.begin() as session:
        row = session.get(m.GateOverride, override["id"])
        assert row is not None
        row.failing_gates = [{"name": g["name"], "reason": g["reason"]}
                             for g in row.failing_gates]
    s.clock.now = START
    assert staff["operator"].post(s.url("/activate")).status_code == 409
    ok(_countersign(s, _ask(s, "activate")))
    assert ok(staff["planner"].get(s.url()))["status"] == "active"


# --- a countersignature is of the request the signer read --------------------------------

def test_a_countersignature_lands_only_on_the_request_its_signer_read(
        scenario: Scenario) -> None:
    """The authoriser replaces the request oversight is reading with other words: the
    countersignature of the first is refused, and puts nothing in force."""
    s, staff = scenario, scenario.staff
    s.prepare()
    s.late_objection()
    read = _ask(s)
    replaced = ok(staff["authoriser"].post(s.url("/authorise"), json={
        "override_justification": "We are going ahead whatever residents say about this "
                                  "one."}), 202)["override"]
    r = _countersign(s, read)
    assert r.status_code == 409
    assert r.json()["detail"].startswith(
        f"override {read['id']} was replaced by a newer request; the request awaiting a "
        f"countersignature is override {replaced['id']}")
    listed = {o["id"]: o["status"] for o in ok(staff["planner"].get(s.url("/overrides")))}
    assert listed == {read["id"]: "superseded", replaced["id"]: "awaiting_countersignature"}
    assert ok(staff["planner"].get(s.url()))["status"] == "notice_published"
    # A client that names no request is told what is missing, not given the latest one.
    r = staff["oversight"].post(s.url("/overrides/countersign"),
                                json={"justification": COUNTERSIGNED_BECAUSE})
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["body", "override_id"]]
    # An id from elsewhere is no request here.
    r = _countersign(s, {"id": replaced["id"] + 100})
    assert r.status_code == 409 and "is not a request on this deployment" in r.json()["detail"]
    # Having read the new one, oversight may countersign it.
    signed = ok(_countersign(s, replaced))
    assert signed["id"] == replaced["id"] and signed["status"] == "in_force"
    assert ok(staff["planner"].get(s.url()))["status"] == "authorised"
    r = _countersign(s, replaced)
    assert r.status_code == 409 and "no override is awaiting" in r.json()["detail"]
