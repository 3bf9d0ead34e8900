"""A plan amendment after notice is never silent: the area's subscribers are e-mailed what
changed (before and after) and why, the feeds show it and the calendar event's SEQUENCE
goes up. One that widens what the public was told (the purpose, an offence category
added, more cameras, a lower threshold) restarts the notice, and an authorised or active
deployment must be authorised again on the amended plan; a narrowing one does not."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import feedparser
import icalendar
import pytest
from platform_helpers import START, T0, Scenario, ok
from sqlalchemy import select

from openlfr.governance.amendments import (
    RESTART_NOTICE_FROM,
    restarts_notice,
    widening_words,
    widens_notice,
)
from openlfr.governance.lifecycle import DeploymentStatus
from openlfr.services import notices
from openlfr.storage import models as m

AREA = "lambeth--vauxhall"
REASON = "Operational priorities have been revised by the command team."
#: The review's case: a plan noticed for missing people, widened to anyone wanted.
WIDER = {"title": "High street operation",
         "purpose": "Locate people wanted for any offence, including protest-related public "
                    "order offences.",
         "offence_categories": ["public order", "shoplifting", "any recordable offence"],
         "camera_count": 20, "threshold": 0.6}
NOTICED = {"purpose": "Find missing people at risk of harm.",
           "offence_categories": ["missing person"], "camera_count": 1}


# --- the rule, without a database ------------------------------------------------------------

PLAN = {"title": "Vauxhall high street", "purpose": "Find missing people at risk of harm.",
        "offence_categories": ["missing person", "robbery"], "camera_count": 2,
        "threshold": 0.64, "signage": "A-boards.", "legal_basis": "Common law."}


@pytest.mark.parametrize(("changes", "widened"), [
    ({"purpose": "Locate anyone wanted for any offence."}, ["purpose"]),
    ({"offence_categories": ["missing person", "robbery", "public order"]},
     ["offence_categories"]),
    # Replacing one category by another adds one.
    ({"offence_categories": ["missing person", "shoplifting"]}, ["offence_categories"]),
    ({"camera_count": 3}, ["camera_count"]),
    ({"threshold": 0.6}, ["threshold"]),
    (WIDER, ["purpose", "offence_categories", "threshold", "camera_count"]),
    # Narrowing, or telling the same thing more clearly, widens nothing.
    ({"camera_count": 1}, []),
    ({"threshold": 0.7}, []),
    ({"offence_categories": ["missing person"]}, []),
    ({"offence_categories": ["Missing_Person ", "ROBBERY"]}, []),
    ({"purpose": "  find missing people   at risk of HARM."}, []),
    ({"title": "Missing people: Vauxhall station"}, []),
    ({"signage": "A-boards and leaflets.", "legal_basis": "Common law; policy v4."}, []),
])
def test_what_widens_the_notice(changes: dict[str, Any], widened: list[str]) -> None:
    before = {k: PLAN[k] for k in changes}
    assert widens_notice(before, changes) == widened
    assert widens_notice(changes, changes) == []
    assert widens_notice(PLAN, {**PLAN, **changes}) == widened


def test_why_it_widens_and_when_the_notice_restarts() -> None:
    assert widening_words("offence_categories", ["missing person"],
                          ["Missing person", "public order", "shoplifting"]) == \
        "offence categories added: public order, shoplifting"
    assert widening_words("camera_count", 1, 20) == "more cameras: 20, was 1"
    assert widening_words("threshold", 0.64, 0.6) == \
        "a lower match threshold, which flags more people: 0.60, was 0.64"
    S = DeploymentStatus
    assert set(RESTART_NOTICE_FROM) == {S.NOTICE_PUBLISHED, S.AUTHORISED}
    for status in S:
        assert restarts_notice(status, ["purpose"]) is (status in RESTART_NOTICE_FROM)
        assert restarts_notice(status, []) is False


# --- over the API ------------------------------------------------------------------------------

def subscribed(s: Scenario, email: str = "vauxhall@example.org") -> None:
    p = s.staff.platform
    notices.subscribe(p, email, AREA, client="203.0.113.9")
    with p.sessions() as session:
        token = session.scalar(select(m.NoticeSubscription.token).where(
            m.NoticeSubscription.email == email))
    assert token is not None
    notices.confirm_subscription(p, token)


def amended_emails(s: Scenario) -> list[m.OutgoingEmail]:
    with s.staff.platform.sessions() as session:
        return list(session.scalars(select(m.OutgoingEmail).where(
            m.OutgoingEmail.kind == notices.EmailKind.AMENDED.value)
            .order_by(m.OutgoingEmail.id)))


def amend(s: Scenario, changes: dict[str, Any], reason: str = REASON) -> Any:
    return ok(s.staff["planner"].post(s.url("/amendments"), json={
        "record": "plan", "reason": reason, "changes": changes}), 201)


def noticed_and_prepared(s: Scenario) -> None:
    """The review's deployment: noticed as finding missing people with one camera, and
    ready to be authorised 12 hours before its start."""
    s.draft(technology_id=s.equity_audit(), **NOTICED)
    s.publish_notice()
    s.engage()
    s.consult()
    s.assess()
    s.object_and_answer()
    s.watchlist()


def test_a_widening_amendment_restarts_the_notice_and_is_emailed(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    subscribed(s)
    noticed_and_prepared(s)
    ics = icalendar.Calendar.from_ical(staff.anon.get(f"/areas/{AREA}/deployments.ics").text)
    [event] = ics.walk("VEVENT")
    assert event["SEQUENCE"] == 0
    s.clock.now = START - timedelta(hours=13)
    a = amend(s, WIDER)
    assert a["notice_restarted"] is True
    assert a["notice_widened_by"] == [
        "the purpose was rewritten",
        "offence categories added: public order, shoplifting, any recordable offence",
        "a lower match threshold, which flags more people: 0.60, was 0.64",
        "more cameras: 20, was 1"]
    assert a["changes"][-1] == {"field": "notice_published_at",
                                "before": T0.isoformat(), "after": s.clock.now.isoformat()}
    assert {c["field"] for c in a["changes"] if "widens_notice" in c} == {
        "purpose", "offence_categories", "camera_count", "threshold"}
    assert (a["status_before"], a["status_after"]) == ("notice_published", "notice_published")
    d = ok(staff["planner"].get(s.url()))
    assert d["notice_published_at"] == s.clock.now.isoformat().replace("+00:00", "Z")

    # The notice period counts from the amendment: 13 hours is far too short to authorise.
    s.clock.now = START - timedelta(hours=12)
    ok(staff["planner"].post(s.url("/watchlist/build")))
    refused = staff["authoriser"].post(s.url("/authorise"))
    assert refused.status_code == 409
    assert "notice_period" in [g["name"] for g in refused.json()["failing_gates"]]

    # The subscriber was told, with before and after and the reason.
    [mail] = amended_emails(s)
    assert mail.subject.startswith("Plan widened, notice restarted: live facial recognition "
                                   "in Lambeth / Vauxhall: High street operation")
    body = " ".join(mail.body.split())
    for text in ("- purpose: Locate people wanted for any offence, including protest-related "
                 "public order offences. (was: Find missing people at risk of harm.)",
                 "- offence categories: public order, shoplifting, any recordable offence "
                 "(was: missing person)",
                 "- cameras: 20 (was: 1)", "- match threshold: 0.60 (was: 0.64)",
                 "- title: High street operation (was: Vauxhall high street)",
                 f"Why the plan changed: {REASON}",
                 "- offence categories added: public order, shoplifting, any recordable "
                 "offence", "So the notice period runs again from today"):
        assert text in body, text
    assert "authorisation was withdrawn" not in body  # it had not been authorised

    # The public record says so, and the calendar updates its event.
    public = ok(staff.anon.get(f"/api/public/deployments/{s.reference}"))
    [shown] = public["amendments"]
    assert shown["notice_restarted"] and len(shown["notice_widened_by"]) == 4
    page = staff.anon.get(f"/deployments/{s.reference}").text
    assert 'data-test="amendment-notice-restarted"' in page
    assert "offence categories added: public order" in page
    [event] = icalendar.Calendar.from_ical(
        staff.anon.get(f"/areas/{AREA}/deployments.ics").text).walk("VEVENT")
    assert event["SEQUENCE"] == 1
    assert str(event["SUMMARY"]).startswith("Live facial recognition: High street operation")
    assert "notice period ran again" in " ".join(str(event["DESCRIPTION"]).split())


def test_an_authorised_deployment_is_sent_back_by_a_widening_amendment(
        scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    subscribed(s)
    s.prepare()
    s.late_objection()
    override = s.override()  # authorised despite the unanswered objection, two signatures
    assert ok(staff["planner"].get(s.url()))["status"] == "authorised"
    s.clock.advance(minutes=30)
    a = amend(s, {"offence_categories": ["robbery", "violence against the person",
                                         "immigration offences"]})
    assert a["gate_changes"] == [] and a["notice_restarted"]
    assert (a["status_before"], a["status_after"]) == ("authorised", "notice_published")
    d = ok(staff["planner"].get(s.url()))
    assert d["status"] == "notice_published" and d["authorised_at"] is None
    assert d["notice_published_at"] == s.clock.now.isoformat().replace("+00:00", "Z")
    [lapsed] = ok(staff["planner"].get(s.url("/overrides")))
    assert lapsed["id"] == override["id"] and lapsed["status"] == "lapsed"
    assert "further than its notice" in lapsed["closed_reason"]
    s.clock.now = START
    assert staff["operator"].post(s.url("/activate")).status_code == 409
    [mail] = amended_emails(s)
    assert "that authorisation was withdrawn" in mail.body
    assert "offence categories added: immigration offences" in mail.body


def test_an_active_deployment_is_not_widened_under_it(scenario: Scenario) -> None:
    """A running deployment's notice can never run again in its window: a widening would
    stop it, and stopping is for those who may complete it (not the planner alone). So
    the widening is refused while it runs; completed, the widening is published with its
    record, and its notice is not restarted."""
    s, staff = scenario, scenario.staff
    subscribed(s)
    s.activate()
    s.clock.advance(hours=1)
    refused = staff["planner"].post(s.url("/amendments"), json={
        "record": "plan", "reason": REASON, "changes": {"camera_count": 6}})
    assert refused.status_code == 409, refused.text
    assert "would stop the running deployment (more cameras: 6, was 2)" in refused.text
    assert ok(staff["planner"].get(s.url()))["status"] == "active"
    assert amended_emails(s) == []
    ok(staff["operator"].post(s.url("/complete")))
    a = amend(s, {"camera_count": 6})
    assert not a["notice_restarted"] and a["notice_widened_by"] == ["more cameras: 6, was 2"]
    assert (a["status_before"], a["status_after"]) == ("completed", "completed")
    [mail] = amended_emails(s)
    body = " ".join(mail.body.split())
    assert "more cameras: 6, was 2" in body and "notice period runs again" not in body
    assert "has already taken place" in body


def test_a_narrowing_amendment_is_emailed_but_does_not_restart_the_notice(
        scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    subscribed(s)
    s.prepare()
    ok(staff["authoriser"].post(s.url("/authorise")))
    noticed = ok(staff["planner"].get(s.url()))["notice_published_at"]
    ics = staff.anon.get(f"/areas/{AREA}/deployments.ics").text
    assert re.findall(r"SEQUENCE:\d+", ics) == ["SEQUENCE:0"]
    a = amend(s, {"title": "Vauxhall station forecourt", "camera_count": 1, "threshold": 0.7,
                  "offence_categories": ["robbery"]},
              reason="The second camera is dropped and the threshold raised after objections.")
    assert not a["notice_restarted"] and a["notice_widened_by"] == []
    assert "notice_published_at" not in [c["field"] for c in a["changes"]]
    assert (a["status_before"], a["status_after"]) == ("authorised", "authorised")
    d = ok(staff["planner"].get(s.url()))
    assert d["status"] == "authorised" and d["notice_published_at"] == noticed
    [mail] = amended_emails(s)
    assert mail.subject.startswith("Plan changed: live facial recognition in Lambeth / "
                                   "Vauxhall: Vauxhall station forecourt")
    body = " ".join(mail.body.split())
    assert "- cameras: 1 (was: 2)" in body and "- match threshold: 0.70 (was: 0.64)" in body
    assert "The second camera is dropped" in body
    assert "notice period runs again" not in body and "goes further" not in body
    page = staff.anon.get(f"/deployments/{s.reference}").text
    assert 'data-test="amendment-notice-restarted"' not in page
    # The calendar updates the event all the same, and the feed shows the amendment.
    ics = staff.anon.get(f"/areas/{AREA}/deployments.ics").text
    assert re.findall(r"SEQUENCE:\d+", ics) == ["SEQUENCE:1"]
    [entry] = feedparser.parse(staff.anon.get(f"/areas/{AREA}/deployments.atom").text).entries
    assert "(plan changed)" in entry.title
    assert "cameras now 1 (was 2)" in entry.content[0].value
    assert "The second camera is dropped" in entry.content[0].value
    s.clock.now = START
    ok(staff["operator"].post(s.url("/activate")))


def test_a_deployment_that_ran_keeps_its_status_and_its_notice(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    subscribed(s)
    s.activate()
    ok(staff["operator"].post(s.url("/complete")))
    noticed = ok(staff["planner"].get(s.url()))["notice_published_at"]
    a = amend(s, {"purpose": "Locate people wanted for robbery, violence and burglary."},
              reason="The record now says what the operation was also used for.")
    assert (a["status_before"], a["status_after"]) == ("completed", "completed")
    assert not a["notice_restarted"]
    assert a["notice_widened_by"] == ["the purpose was rewritten"]
    assert ok(staff["planner"].get(s.url()))["notice_published_at"] == noticed
    [mail] = amended_emails(s)
    assert "already taken place" in mail.body
    assert 'data-test="amendment-widened"' in staff.anon.get(f"/deployments/{s.reference}").text


def test_every_plan_amendment_counts_in_the_calendar_sequence(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.draft()
    s.publish_notice()

    def sequence() -> int:
        [event] = icalendar.Calendar.from_ical(
            staff.anon.get(f"/areas/{AREA}/deployments.ics").text).walk("VEVENT")
        return int(str(event["SEQUENCE"]))

    assert sequence() == 0
    amend(s, {"signage": "A-boards and leaflets at every entrance."})
    assert sequence() == 1
    amend(s, {"camera_count": 3})
    assert sequence() == 2
    ok(staff["authoriser"].post(s.url("/cancel"), json={"reason": "Not needed after all."}))
    assert sequence() == 3


def test_a_change_that_moves_a_gate_is_emailed_as_such(scenario: Scenario) -> None:
    """Another engine setup widens nothing the public was told, but its gate fails: the
    authorisation is withdrawn (a changed gate), the notice stands, and the e-mail says
    why the deployment must be authorised again."""
    s, staff = scenario, scenario.staff
    subscribed(s)
    s.prepare()
    ok(staff["authoriser"].post(s.url("/authorise")))
    noticed = ok(staff["planner"].get(s.url()))["notice_published_at"]
    unaudited = ok(staff["admin"].post("/api/technology", json={
        "algorithm": "another matcher", "model_version": "other-model:1",
        "vendor_or_project": "openlfr", "default_threshold": 0.64}), 201)
    a = amend(s, {"technology_id": unaudited["id"]},
              reason="The van's engine was replaced by the vendor's newer one.")
    assert not a["notice_restarted"] and a["gate_changes"]
    assert (a["status_before"], a["status_after"]) == ("authorised", "notice_published")
    assert ok(staff["planner"].get(s.url()))["notice_published_at"] == noticed
    [mail] = amended_emails(s)
    assert mail.subject.startswith("Plan changed:")
    assert "changed the answer of a check" in mail.body
    assert "notice period runs again" not in mail.body


# --- the consultation must speak for the plan as widened -----------------------------------

def consultation_gate(s: Scenario) -> dict[str, Any]:
    gates = ok(s.staff["oversight"].get(s.url("/gates")))["gates"]
    return next(g for g in gates if g["name"] == "consultation_and_objections")


@pytest.mark.parametrize(("before_widening", "after_widening", "counts"), [
    (5, 10, False),   # 15 days open, only 10 of them on the widened plan
    (0.5, 14, True),  # open the required 14 days after the widening
    (15, 0, False),   # closed before the widening: nobody was asked about the wider plan
])
def test_a_consultation_counts_only_for_its_days_on_the_widened_plan(
        scenario: Scenario, before_widening: float, after_widening: int,
        counts: bool) -> None:
    """The hole: a plan noticed as finding missing people, consulted on, then widened to
    anyone wanted for any offence; the notice ran again, but the consultation that passed
    the gate was about the narrower plan."""
    s = scenario
    far = START + timedelta(days=60)
    s.draft(technology_id=s.equity_audit(), start_at=far.isoformat(),
            end_at=(far + timedelta(hours=8)).isoformat(), **NOTICED)
    s.publish_notice()
    consultation_id = s.open_consultation()
    s.responses(consultation_id, s.staff.platform.settings.consultation_min_responses)
    s.clock.advance(days=before_widening)
    if not after_widening:
        ok(s.staff["planner"].post(s.url("/consultation/close")))
    widened_on = s.clock.now
    amend(s, WIDER)
    s.clock.advance(days=after_widening)
    if after_widening:
        ok(s.staff["planner"].post(s.url("/consultation/close")))
    gate = consultation_gate(s)
    assert gate["passed"] is counts, gate["reason"]
    if not counts:
        assert f"The plan was widened on {widened_on:%d %B %Y}".replace(" 0", " ") \
            in gate["reason"]
        assert "less than the 14 days required" in gate["reason"]
        assert "A consultation cannot be reopened" in gate["reason"]


def test_a_narrowing_amendment_leaves_the_consultation_standing(scenario: Scenario) -> None:
    s = scenario
    s.draft(technology_id=s.equity_audit())
    s.publish_notice()
    s.consult()
    s.object_and_answer()
    amend(s, {"camera_count": 1, "threshold": 0.7})
    assert consultation_gate(s)["passed"]


def test_assessment_and_engagement_amendments_are_emailed_too(scenario: Scenario) -> None:
    """The decision rested on the impact assessment and the engagement log as much as on
    the plan: a change to either after authorisation reaches the area's subscribers."""
    s, planner = scenario, scenario.staff["planner"]
    subscribed(s)
    s.prepare()
    ok(s.staff["authoriser"].post(s.url("/authorise")))
    sections = ok(planner.get(s.url("/assessment")))
    ok(planner.post(s.url("/amendments"), json={
        "record": "assessment", "reason": "The ward panel asked for the stop figures.",
        "sections": {**{k: sections[k] for k in ("area_profile", "risks", "mitigations",
                                                  "equality_impact")},
                     "decision": "Proceed for one day only; no second day this year."}}), 201)
    event = ok(planner.get(s.url("/engagement")))[0]
    ok(planner.post(s.url("/amendments"), json={
        "record": "engagement", "event_id": event["id"],
        "reason": "The residents' meeting was cancelled; it was logged by mistake."}), 201)
    assessment, engagement = amended_emails(s)
    assert assessment.subject.startswith(
        "Impact assessment changed: live facial recognition in Lambeth / Vauxhall")
    body = " ".join(assessment.body.split())
    assert "The impact assessment of this live facial recognition deployment has been " \
        "amended." in body
    assert "- decision: Proceed for one day only; no second day this year. (was: " in body
    assert "Why the impact assessment changed: The ward panel asked for the stop figures." \
        in body
    assert "notice period runs again" not in body
    assert engagement.subject.startswith("Engagement log changed: live facial recognition")
    body = " ".join(engagement.body.split())
    held_on = event["held_on"]
    assert (f"- engagement event {event['id']}: none (was: {held_on}, public meeting with "
            "Vauxhall Tenants' and Residents' Association (residents), 60 people; materials: "
            "leaflet with benefits and risks)") in body
    # It withdrew the authorisation (the resident share fell): the e-mail says so.
    assert "the authorisation it had was withdrawn" in body
