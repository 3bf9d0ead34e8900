"""A record that cannot be rewritten: from authorisation on, the plan, the assessment, the
engagement log and the consultation change only by a public amendment (a new version
with a reason), the gates are checked again, and a changed answer sends the deployment
back to be authorised again (a plan amendment that widens the notice does too:
test_amendment_notice.py). Engagement events must lie in their window; they name the
body met and carry published evidence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from platform_helpers import START, T0, Scenario, ok

PDF = b"%PDF-1.4\n% minutes of the Vauxhall TRA meeting\n"
REASON = "The attendance figure was mistyped: the sign-in sheet shows 45."


def _event(s: Scenario, days_ago: int = 1, **changes: Any) -> dict[str, Any]:
    body = {"held_on": (s.clock.now.date() - timedelta(days=days_ago)).isoformat(),
            "format": "public_meeting", "audience": "residents",
            "met_with": "Vauxhall Tenants' and Residents' Association", "attendees": 40}
    body.update(changes)
    return body


def _authorised(s: Scenario) -> None:
    s.prepare()
    ok(s.staff["authoriser"].post(s.url("/authorise")))


def test_the_record_is_frozen_from_authorisation(scenario: Scenario) -> None:
    s, planner = scenario, scenario.staff["planner"]
    _authorised(s)
    assessment = ok(planner.get(s.url("/assessment")))
    sections = {k: assessment[k] for k in ("area_profile", "risks", "mitigations",
                                           "equality_impact", "decision")}
    event = ok(planner.get(s.url("/engagement")))[0]
    refused = [
        planner.put(s.url("/assessment"), json={**sections, "decision": "Changed quietly."}),
        planner.post(s.url("/assessment/publish")),
        planner.post(s.url("/engagement"), json=_event(s)),
        planner.put(s.url(f"/engagement/{event['id']}"), json=_event(s, attendees=999)),
        planner.delete(s.url(f"/engagement/{event['id']}")),
        planner.post(s.url(f"/engagement/{event['id']}/evidence"),
                     files={"evidence": ("minutes.pdf", PDF, "application/pdf")}),
        planner.put(s.url("/consultation"), json={
            "benefits": "b", "risks": "r", "questions": [{"text": "What do you think?"}]}),
        planner.patch(s.url(), json={"threshold": 0.9}),
    ]
    for r in refused:
        assert r.status_code == 409, r.text
    assert "frozen" in refused[0].json()["detail"]
    assert "public amendment with a published reason" in refused[0].json()["detail"]
    assert ok(planner.get(s.url("/assessment")))["decision"] == sections["decision"]
    assert len(ok(planner.get(s.url("/engagement")))) == 2


def test_an_amendment_is_a_published_version_with_a_reason(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    _authorised(s)
    planner = staff["planner"]
    a = ok(planner.get(s.url("/assessment")))
    sections = {k: a[k] for k in ("area_profile", "risks", "mitigations", "equality_impact",
                                  "decision")}
    new_decision = a["decision"] + " Results will also be presented at the ward panel."
    body = {"record": "assessment", "reason": "The ward panel asked to see the results.",
            "sections": {**sections, "decision": new_decision}}
    short = planner.post(s.url("/amendments"), json={**body, "reason": "Because."})
    assert short.status_code == 422 and short.json()["detail"][0]["loc"][-1] == "reason"
    same = planner.post(s.url("/amendments"), json={**body, "sections": sections})
    assert same.status_code == 422 and "changes nothing" in same.text
    assert staff["authoriser"].post(s.url("/amendments"), json=body).status_code == 403

    amendment = ok(planner.post(s.url("/amendments"), json=body), 201)
    assert amendment["record"] == "assessment" and amendment["version"] == 2
    assert amendment["changes"] == [{"field": "decision", "before": sections["decision"],
                                     "after": new_decision}]
    assert amendment["gate_changes"] == [] and amendment["status_after"] == "authorised"
    assert ok(planner.get(s.url()))["status"] == "authorised"  # no gate's answer changed
    public = ok(staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["assessment"]["decision"] == new_decision
    assert public["assessment"]["published_at"] is not None
    assert [x["reason"] for x in public["amendments"]] == [body["reason"]]
    page = staff.anon.get(f"/deployments/{s.reference}").text
    assert 'data-test="amendment" data-record="assessment" data-version="2"' in page
    assert body["reason"] in page

    second = ok(planner.post(s.url("/amendments"), json={
        **body, "reason": "A sentence was repeated by mistake; removed.",
        "sections": {**sections, "decision": sections["decision"]}}), 201)
    assert second["version"] == 3


def test_an_amendment_that_changes_a_gate_answer_needs_authorisation_again(
        scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    _authorised(s)
    planner = staff["planner"]
    residents = next(e for e in ok(planner.get(s.url("/engagement")))
                     if e["audience"] == "residents")
    amendment = ok(planner.post(s.url("/amendments"), json={
        "record": "engagement", "event_id": residents["id"],
        "reason": "The residents' meeting was cancelled; it was logged by mistake."}), 201)
    assert {(g["name"], g["passed_before"], g["passed_after"])
            for g in amendment["gate_changes"]} >= {("engagement_reach", True, False)}
    assert (amendment["status_before"], amendment["status_after"]) == (
        "authorised", "notice_published")
    d = ok(planner.get(s.url()))
    assert d["status"] == "notice_published" and d["authorised_at"] is None
    assert staff["authoriser"].post(s.url("/authorise")).status_code == 409
    public = ok(staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["gates_basis"] == "live"
    [shown] = public["amendments"]
    assert shown["changes"][0]["before"]["met_with"] == residents["met_with"]
    assert shown["changes"][0]["after"] is None


def test_a_plan_amendment_is_checked_against_the_gates_too(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    _authorised(s)
    planner = staff["planner"]
    r = planner.post(s.url("/amendments"), json={
        "record": "plan", "reason": "One camera fewer: the second exit is closed that day.",
        "changes": {"camera_count": 1, "signage": "A-boards at the open exit, 20 m ahead."}})
    assert ok(r, 201)["status_after"] == "authorised"  # narrower: no gate moved
    lower = ok(planner.post(s.url("/amendments"), json={
        "record": "plan", "reason": "The vendor advised a lower threshold for poor light.",
        "changes": {"threshold": 0.55}}), 201)
    assert [g["name"] for g in lower["gate_changes"]] == ["threshold"]
    assert lower["notice_restarted"]  # and it flags more people than the notice said
    assert ok(planner.get(s.url()))["status"] == "notice_published"
    r = planner.post(s.url("/amendments"), json={
        "record": "plan", "reason": "Moved to another borough at short notice.",
        "changes": {"borough": "Southwark"}})
    assert r.status_code == 422  # the area, sites and dates are not amended


def test_amendments_are_for_the_frozen_record_only(scenario: Scenario) -> None:
    s, planner = scenario, scenario.staff["planner"]
    s.draft()
    r = planner.post(s.url("/amendments"), json={
        "record": "engagement", "event": _event(s), "reason": "A meeting we forgot to log."})
    assert r.status_code == 409 and "edit it directly" in r.json()["detail"]
    assert ok(planner.get(s.url("/engagement"))) == []


def test_the_consultation_cannot_be_amended(scenario: Scenario) -> None:
    s, planner = scenario, scenario.staff["planner"]
    _authorised(s)
    r = planner.post(s.url("/amendments"), json={
        "record": "consultation", "reason": "Typos in the information sheet."})
    assert r.status_code == 422  # not a record an amendment can name


def test_engagement_events_must_lie_in_their_window(scenario: Scenario) -> None:
    s, planner = scenario, scenario.staff["planner"]
    s.draft(technology_id=s.equity_audit())  # first drafted at T0, on an audited engine
    future = planner.post(s.url("/engagement"), json=_event(s, days_ago=-1))
    assert future.status_code == 422
    detail = future.json()["detail"][0]
    assert detail["loc"] == ["body", "held_on"] and "is in the future" in detail["msg"]
    too_old = planner.post(s.url("/engagement"), json=_event(s, days_ago=181))
    assert too_old.status_code == 422 and "more than 180 days before" in too_old.text
    ok(planner.post(s.url("/engagement"), json=_event(s, days_ago=180)), 201)
    nameless = planner.post(s.url("/engagement"), json={**_event(s), "met_with": ""})
    assert nameless.status_code == 422

    # After authorisation, an event after it is refused as such, by amendment too.
    s.clock.now = T0 + timedelta(days=1)
    ok(planner.post(s.url("/propose")))
    ok(planner.post(s.url("/publish-notice")))
    s.records()
    s.clock.now = START - timedelta(hours=12)
    ok(planner.post(s.url("/watchlist/build")))
    ok(s.staff["authoriser"].post(s.url("/authorise")))
    s.clock.now = START
    late = planner.post(s.url("/amendments"), json={
        "record": "engagement", "reason": "A meeting held this morning with residents.",
        "event": _event(s, days_ago=0, attendees=1000)})
    assert late.status_code == 422 and "after the deployment was authorised" in late.text
    ok(planner.post(s.url("/amendments"), json={
        "record": "engagement", "reason": "A street stall held before the decision, "
        "logged late.", "event": _event(s, days_ago=3, format="street_stall")}), 201)


def test_evidence_is_a_published_pdf_or_link(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.draft()
    planner = staff["planner"]
    event = ok(planner.post(s.url("/engagement"), json=_event(
        s, evidence_url="https://example.org/minutes")), 201)
    assert event["evidence_url"] == "https://example.org/minutes"
    r = planner.post(s.url(f"/engagement/{event['id']}/evidence"),
                     files={"evidence": ("minutes.docx", b"PK\x03\x04", "application/msword")})
    assert r.status_code == 422 and "not a PDF" in r.text
    big = PDF + b"0" * staff.platform.settings.engagement_evidence_max_bytes
    r = planner.post(s.url(f"/engagement/{event['id']}/evidence"),
                     files={"evidence": ("minutes.pdf", big, "application/pdf")})
    assert r.status_code == 422 and "at most" in r.text
    shown = ok(planner.post(s.url(f"/engagement/{event['id']}/evidence"),
                            files={"evidence": ("minutes.pdf", PDF, "application/pdf")}))
    assert shown["evidence_filename"] == "minutes.pdf"
    url = f"/api/public/deployments/{s.reference}/engagement/{event['id']}/evidence.pdf"
    assert staff.anon.get(url).status_code == 404  # a draft is not public
    ok(planner.post(s.url("/propose")))
    ok(planner.post(s.url("/publish-notice")))
    r = staff.anon.get(url)
    assert r.status_code == 200 and r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    # Shown on the portal's own address, a PDF's scripts run nowhere.
    assert r.headers["content-security-policy"] == "sandbox"
    # Minutes named in any script are served (not a server error), the name kept.
    ok(planner.post(s.url(f"/engagement/{event['id']}/evidence"),
                    files={"evidence": ("protokół-spotkania.pdf", PDF, "application/pdf")}))
    r = staff.anon.get(url)
    assert r.status_code == 200 and r.content == PDF
    assert r.headers["content-disposition"] == (
        "inline; filename=\"protok-spotkania.pdf\"; "
        "filename*=UTF-8''protok%C3%B3%C5%82-spotkania.pdf")
    page = staff.anon.get(f"/deployments/{s.reference}").text
    assert f'href="http://testserver{url}"' in page and "Vauxhall Tenants" in page


@pytest.mark.parametrize("record", ["assessment", "engagement"])
def test_an_amendment_after_the_deployment_ran_regenerates_its_review(
        scenario: Scenario, record: str) -> None:
    s, staff = scenario, scenario.staff
    s.activate()
    ok(staff["operator"].post(s.url("/complete")))
    planner = staff["planner"]
    if record == "assessment":
        a = ok(planner.get(s.url("/assessment")))
        body: dict[str, Any] = {"record": "assessment", "reason": REASON, "sections": {
            **{k: a[k] for k in ("area_profile", "risks", "mitigations", "equality_impact")},
            "decision": a["decision"] + " Corrected."}}
    else:
        event = ok(planner.get(s.url("/engagement")))[0]
        body = {"record": "engagement", "reason": REASON, "event_id": event["id"],
                "event": {**{k: event[k] for k in ("held_on", "format", "audience",
                                                  "met_with", "materials",
                                                  "questions_raised")}, "attendees": 45}}
    amendment = ok(planner.post(s.url("/amendments"), json=body), 201)
    assert amendment["status_after"] == "completed"
    review = staff.anon.get(f"/deployments/{s.reference}/review").text
    assert "amended (version 2)" in review
