"""Two-person overrides through the API: failures that can never be overridden, a second
person who is really another person, a countersignature that covers only what was asked
about, newer requests replacing older ones, overrides lapsing with the authorisation,
and council motions that ask to stop LFR."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from platform_helpers import (
    ASKED_BECAUSE,
    COUNTERSIGNED_BECAUSE,
    START,
    Scenario,
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


def _countersign(s: Scenario, client: Any = None) -> Any:
    return (client or s.staff["oversight"]).post(
        s.url("/overrides/countersign"), json={"justification": COUNTERSIGNED_BECAUSE})


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
    _ask(s)
    accounts = ok(staff["admin"].get("/api/users"))
    uid = next(u["id"] for u in accounts if u["username"] == "authoriser")
    # The admin cannot make anyone oversight (else one admin could sign both halves)...
    r = staff["admin"].patch(f"/api/users/{uid}", json={"role": "oversight"})
    assert r.status_code == 403 and "managed by oversight" in r.json()["detail"]
    # ... and one made oversight from the platform's command line is still one person.
    users.update_user(staff.platform, SYSTEM_ACTOR, uid, UserPatch(role="oversight"))
    same_person = staff.login("authoriser")
    r = _countersign(s, same_person)
    assert r.status_code == 409 and "needs two people" in r.json()["detail"]
    assert ok(staff["planner"].get(s.url()))["status"] == "notice_published"


def test_a_countersignature_covers_only_the_gates_that_were_asked_about(
        scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.prepare()
    s.late_objection()
    _ask(s)
    ok(staff["oversight"].post("/api/motions", json={
        "body": "Lambeth Council", "passed_on": "2026-03-10", "stance": "conditions",
        "summary": "Four weeks' notice in the ward, please.", "areas": ["Lambeth/Vauxhall"]}),
        201)
    r = _countersign(s)
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
    ok(_countersign(s))
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
    _ask(s)
    ok(_countersign(s))
    public = ok(staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["status"] == "authorised" and public["went_ahead_despite"] == [
        "council_motions"]
    [shown] = ok(staff.anon.get("/api/public/motions"))
    assert shown["point_answers"][1].startswith("Commissioned")


def test_countersigning_needs_a_login_and_the_oversight_role(scenario: Scenario) -> None:
    s = scenario
    s.prepare()
    s.late_objection()
    _ask(s)
    assert _countersign(s, new_client(s.staff.app)).status_code == 401
    assert _countersign(s, s.staff["councillor"]).status_code == 403
    assert ok(s.staff["planner"].get(s.url()))["status"] == "notice_published"
