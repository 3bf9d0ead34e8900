"""Answers that count, and stay counted: hiding an objection's text for abuse withholds
only the words (it still counts and still needs its answer, in the gate and the figures);
"Noted." or "n/a" does not answer a council motion, through the API, the staff page or a
row stored before the rule; and a published answer revised keeps its earlier versions,
with the reason, in public and in the audit log."""

from __future__ import annotations

import html
import json
from datetime import timedelta
from typing import Any

import pytest
from platform_helpers import START, T0, Scenario, ok
from sqlalchemy import select
from staff_pages_helpers import errors_on, field_error, redirected_to, submit

from openlfr.governance.answers import (
    moderation_problem,
    motion_response_problem,
    says_something,
)
from openlfr.storage import models as m

HIDE_BECAUSE = "Threatens a named officer and gives his home address."
STATION = "We accept the cameras should not have been there and will move them."
LAWFUL = "The siting was lawful and proportionate; the objection is not upheld."
REVISED_BECAUSE = "The site survey showed the mosque entrance was out of view."
POINTS = ["Give four weeks' notice in every affected ward.",
          "Consult every tenants' association in the ward before deploying."]
POINT_ANSWERS = ["Notice now runs four weeks in every ward a deployment touches.",
                 "Each tenants' association in the ward is invited to a meeting first."]
RESPONSE = "We accept both points and have changed the notice and engagement policy."


def _gate(s: Scenario, name: str) -> dict[str, Any]:
    gates = ok(s.staff["planner"].get(s.url("/gates")))["gates"]
    return next(g for g in gates if g["name"] == name)


def _events(s: Scenario, subject_type: str, subject_id: int) -> list[tuple[str, Any]]:
    with s.staff.platform.sessions() as db:
        rows = db.scalars(select(m.AuditEvent).where(
            m.AuditEvent.subject_type == subject_type,
            m.AuditEvent.subject_id == str(subject_id))
            .order_by(m.AuditEvent.seq))
        return [(e.action, json.loads(e.details) if isinstance(e.details, str) else e.details)
                for e in rows]


def _motion(s: Scenario, stance: str = "conditions",
            points: list[str] | None = None) -> dict[str, Any]:
    return ok(s.staff["oversight"].post("/api/motions", json={
        "body": "Lambeth Council", "passed_on": "2026-02-10", "stance": stance,
        "summary": "Give four weeks' notice in every ward and consult tenants' associations.",
        "points": POINTS if points is None else points, "areas": ["Lambeth"]}), 201)


# --- the rules, without a database ----------------------------------------------------------

@pytest.mark.parametrize("reason", [
    "n/a", "N/A", "abusive", "Abusive content.", "Hidden for abuse.", "Racist abuse.",
    "This objection contains abusive language", "Inappropriate, removed per policy",
    "This was hidden because it is inappropriate and in breach of the rules", "spam"])
def test_a_label_is_no_reason_to_withhold_a_text(reason: str) -> None:
    problem = moderation_problem(reason)
    assert problem is not None and problem[0] == "reason"
    assert "still needs its published answer" in problem[1]


@pytest.mark.parametrize("reason", [
    HIDE_BECAUSE, "Names a third person.", "Racist slurs against a named resident.",
    "Contains the home address of a private person."])
def test_a_reason_that_says_what_is_abusive_withholds_it(reason: str) -> None:
    assert moderation_problem(reason) is None


def test_a_motion_response_needs_substance_throughout() -> None:
    assert motion_response_problem(POINTS, None, [])[0] == "response"  # type: ignore[index]
    assert motion_response_problem(POINTS, RESPONSE, POINT_ANSWERS[:1])[0] == "point_answers"  # type: ignore[index]
    assert motion_response_problem(POINTS, "Noted.", POINT_ANSWERS)[0] == "response"  # type: ignore[index]
    thin = motion_response_problem(POINTS, RESPONSE, [POINT_ANSWERS[0], "n/a"])
    assert thin is not None and thin[0] == "point_answers.1" and "point 2" in thin[1]
    assert motion_response_problem(POINTS, RESPONSE, POINT_ANSWERS) is None
    assert motion_response_problem([], RESPONSE, []) is None
    # One test of substance for every answer the public reads.
    assert not says_something("Thank you for your feedback. Noted.")
    assert says_something(RESPONSE) and not says_something(RESPONSE, len(RESPONSE) + 1)


# --- hole A: withholding the text does not withdraw the objection -----------------------------

def test_objections_hidden_for_abuse_still_need_answers_and_still_count(
        scenario: Scenario) -> None:
    s = scenario
    s.prepare()
    ids = [s.late_objection() for _ in range(3)]
    assert _gate(s, "consultation_and_objections")["reason"].startswith(
        "3 objection(s) have no published answer")
    planner = s.staff["planner"]
    r = planner.post(f"/api/feedback/{ids[0]}/hide", json={"reason": "n/a"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "reason"]
    assert not ok(planner.get(s.url("/feedback")))[1]["hidden_for_abuse"]
    for i in ids:
        ok(planner.post(f"/api/feedback/{i}/hide", json={"reason": HIDE_BECAUSE}))

    gate = _gate(s, "consultation_and_objections")
    assert not gate["passed"]
    assert gate["reason"] == ("3 objection(s) have no published answer yet (3 with the text "
                              "withheld for abuse).")
    r = s.staff["authoriser"].post(s.url("/authorise"))
    assert r.status_code == 409 and "consultation_and_objections" in r.text
    # The staff's to-do list still has them; the public sees the reason, not the words.
    assert planner.get("/staff").text.count('data-test="awaiting-item"') == 3
    public = {f["id"]: f for f in ok(s.staff.anon.get(
        f"/api/public/deployments/{s.reference}"))["feedback"]}
    assert all(public[i]["text"] is None and public[i]["moderation_reason"] == HIDE_BECAUSE
               for i in ids)
    with s.staff.platform.sessions() as db:
        [event] = [e for e in db.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "feedback.hidden_for_abuse",
            m.AuditEvent.subject_id == str(ids[0])))]
    assert HIDE_BECAUSE in str(event.details)

    # Answered in public (the answer is published, the words stay withheld): it passes,
    # and says how many it counted with their text withheld.
    for i in ids:
        ok(planner.post(f"/api/feedback/{i}/answer", json={
            "answer": "Not upheld: residents of the estate were invited to two drop-in "
                      "sessions, listed in the engagement log.", "outcome": "not_upheld"}))
    gate = _gate(s, "consultation_and_objections")
    assert gate["passed"] and gate["reason"].endswith(
        "all 4 objection(s) have a published answer (3 with the text withheld for abuse).")
    public = {f["id"]: f for f in ok(s.staff.anon.get(
        f"/api/public/deployments/{s.reference}"))["feedback"]}
    assert all(public[i]["answer"].startswith("Not upheld") and public[i]["text"] is None
               for i in ids)

    # The published figures count them as received.
    ok(s.staff["authoriser"].post(s.url("/authorise")))
    s.clock.now = START
    ok(s.staff["operator"].post(s.url("/activate")))
    rows = ok(s.staff.anon.get("/transparency/records.json"))["rows"]
    [row] = [r for r in rows if r["reference"] == s.reference]
    assert row["objections_received"] == 4
    period = f"?from={(T0 - timedelta(days=60)).date()}&to={(START + timedelta(days=30)).date()}"
    answers = {a["kind"]: a for a in ok(s.staff.anon.get(
        f"/reports/annual.json{period}"))["governance"]["answers"]}
    assert (answers["objection"]["received"], answers["objection"]["withheld_for_abuse"],
            answers["objection"]["unanswered"]) == (4, 3, 0)
    assert "(3 withheld for abuse)" in s.staff.anon.get(f"/reports/annual{period}").text


def test_the_staff_page_refuses_a_label_for_a_reason(scenario: Scenario) -> None:
    s = scenario
    s.prepare()
    fid = s.late_objection()
    planner = s.staff["planner"]
    inbox = f"/staff/deployments/{s.deployment_id}/feedback"
    r = submit(planner, inbox, f"{inbox}/{fid}/hide", {f"reason-{fid}": "Abusive content."})
    assert r.status_code == 422 and "what makes the text abusive" in (
        field_error(r.text, f"reason-{fid}") or "")
    assert redirected_to(submit(planner, inbox, f"{inbox}/{fid}/hide",
                                {f"reason-{fid}": HIDE_BECAUSE}), inbox)
    page = planner.get(inbox).text
    assert "still needs its published answer" in page and 'data-test="due"' in page


# --- hole B: "Noted." does not answer a council ----------------------------------------------

def test_noted_and_na_do_not_answer_a_motion(scenario: Scenario) -> None:
    s = scenario
    motion = _motion(s)
    s.prepare()
    respond = f"/api/motions/{motion['id']}/response"
    authoriser = s.staff["authoriser"]
    r = authoriser.post(respond, json={"response": "Noted.", "point_answers": ["n/a", "n/a"]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "response"]
    r = authoriser.post(respond, json={"response": RESPONSE,
                                       "point_answers": [POINT_ANSWERS[0], "n/a"]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "point_answers", "1"]
    assert ok(authoriser.get(f"/api/motions/{motion['id']}"))["response"] is None
    gate = _gate(s, "council_motions")
    assert not gate["passed"] and "none is published" in gate["reason"]
    assert authoriser.post(s.url("/authorise")).status_code == 409

    ok(authoriser.post(respond, json={"response": RESPONSE, "point_answers": POINT_ANSWERS}))
    assert _gate(s, "council_motions")["passed"]
    ok(authoriser.post(s.url("/authorise")))


def _store_response(s: Scenario, motion_id: int, response: str,
                    point_answers: list[str]) -> None:
    """A response as stored before the rule (written straight to the table)."""
    with s.staff.platform.sessions.begin() as db:
        row = db.get(m.CouncilMotion, motion_id)
        assert row is not None
        row.response, row.point_answers = response, point_answers
        row.response_published_at = START - timedelta(days=30)


def test_a_thin_response_stored_before_the_rule_does_not_count(scenario: Scenario) -> None:
    s = scenario
    conditions = _motion(s)
    s.prepare()
    _store_response(s, conditions["id"], "Noted.", ["n/a", "n/a"])
    gate = _gate(s, "council_motions")
    assert not gate["passed"] and "the response says nothing of substance" in gate["reason"]
    _store_response(s, conditions["id"], RESPONSE, [POINT_ANSWERS[0], "Yes."])
    gate = _gate(s, "council_motions")
    assert not gate["passed"] and "point 2 has no answer of substance" in gate["reason"]
    assert gate["override_refusal"] is None  # conditions: an override may set it aside
    _store_response(s, conditions["id"], RESPONSE, POINT_ANSWERS)
    assert _gate(s, "council_motions")["passed"]


def test_na_answers_leave_a_motion_to_suspend_unoverridable(scenario: Scenario) -> None:
    s = scenario
    suspend = _motion(s, "suspend", ["Suspend live facial recognition in Lambeth.",
                                     "Commission an independent review of its use."])
    s.prepare()
    _store_response(s, suspend["id"], "Noted.", ["n/a", "no."])
    gate = _gate(s, "council_motions")
    assert not gate["passed"] and gate["override_refusal"] is not None
    respond = f"/api/motions/{suspend['id']}/response"
    r = s.staff["authoriser"].post(respond, json={"response": "Noted.",
                                                  "point_answers": ["n/a", "no."]})
    assert r.status_code == 422


def test_the_staff_page_names_the_thin_point(scenario: Scenario) -> None:
    s = scenario
    motion = _motion(s)
    page = "/staff/motions"
    key = f"response-{motion['id']}"
    respond = f"/staff/motions/{motion['id']}/response"
    r = submit(s.staff["authoriser"], page, respond,
               {key: RESPONSE, f"{key}-point-0": POINT_ANSWERS[0], f"{key}-point-1": "n/a"})
    assert r.status_code == 422 and errors_on(r.text) == [f"{key}-point-1"]
    assert "point 2" in (field_error(r.text, f"{key}-point-1") or "")
    assert redirected_to(submit(s.staff["authoriser"], page, respond, {
        key: RESPONSE, f"{key}-point-0": POINT_ANSWERS[0],
        f"{key}-point-1": POINT_ANSWERS[1]}), page)


# --- hole C: a revised answer keeps what it said ---------------------------------------------

def test_a_revised_answer_keeps_its_earlier_version_in_public(scenario: Scenario) -> None:
    s = scenario
    s.activate()
    f = ok(s.staff.anon.post(f"/api/public/deployments/{s.reference}/feedback", json={
        "kind": "objection", "text": "The cameras were placed outside the mosque.",
        "contact": "r@example.org"}), 201)
    answer = f"/api/feedback/{f['id']}/answer"
    planner = s.staff["planner"]
    ok(planner.post(answer, json={"answer": STATION, "outcome": "upheld"}))
    first_at = s.clock()
    s.clock.advance(days=40)
    r = planner.post(answer, json={"answer": LAWFUL, "outcome": "not_upheld"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "revision_reason"]
    ok(planner.post(answer, json={"answer": LAWFUL, "outcome": "not_upheld",
                                  "revision_reason": REVISED_BECAUSE}))

    public = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    [item] = [x for x in public["feedback"] if x["id"] == f["id"]]
    assert (item["answer"], item["outcome"]) == (LAWFUL, "not_upheld")
    [earlier] = item["answer_history"]
    assert (earlier["text"], earlier["outcome"], earlier["published_by"], earlier["reason"],
            earlier["revised_by"]) == (STATION, "upheld", "planner", REVISED_BECAUSE, "planner")
    assert earlier["published_at"].startswith(first_at.date().isoformat())
    page = html.unescape(s.staff.anon.get(f"/deployments/{s.reference}").text)
    assert 'data-test="answer-revised"' in page and STATION in page and REVISED_BECAUSE in page

    events = _events(s, "feedback", f["id"])
    action, details = events[-1]
    assert action == "feedback.answer_revised" and details["reason"] == REVISED_BECAUSE
    assert (details["previous"]["text"], details["previous"]["outcome"]) == (STATION, "upheld")

    # A second revision keeps both, oldest first.
    s.clock.advance(days=1)
    ok(planner.post(answer, json={"answer": STATION, "outcome": "upheld",
                                  "revision_reason": "The survey was of the wrong street."}))
    [staff_view] = [x for x in ok(planner.get(s.url("/feedback"))) if x["id"] == f["id"]]
    history = staff_view["answer_history"]
    assert [v["text"] for v in history] == [STATION, LAWFUL]


def test_a_redress_answer_revised_stays_private(scenario: Scenario) -> None:
    s = scenario
    s.activate()
    f = ok(s.staff.anon.post(f"/api/public/deployments/{s.reference}/feedback", json={
        "kind": "redress_request", "text": "I was stopped after an alert on Tuesday.",
        "contact": "stopped@example.org"}), 201)
    answer = f"/api/feedback/{f['id']}/answer"
    private = "Upheld: the record of your stop on Tuesday has been deleted from our systems."
    ok(s.staff["planner"].post(answer, json={"answer": private, "outcome": "upheld"}))
    ok(s.staff["planner"].post(answer, json={
        "answer": "Partly upheld: the record is kept for the complaint you lodged, then deleted.",
        "outcome": "partly_upheld", "revision_reason": "The record is evidence in a complaint."}))
    public = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    [item] = [x for x in public["feedback"] if x["id"] == f["id"]]
    [earlier] = item["answer_history"]
    assert earlier["text"] is None and earlier["reason"] is None
    assert earlier["outcome"] == "upheld"
    assert "deleted from our systems" not in json.dumps(public)
    _, details = _events(s, "feedback", f["id"])[-1]
    assert "text" not in details["previous"] and len(details["previous"]["text_sha256"]) == 64


def test_a_revised_motion_response_keeps_its_earlier_version(scenario: Scenario) -> None:
    s = scenario
    motion = _motion(s)
    respond = f"/api/motions/{motion['id']}/response"
    authoriser = s.staff["authoriser"]
    ok(authoriser.post(respond, json={"response": RESPONSE, "point_answers": POINT_ANSWERS}))
    s.clock.advance(days=10)
    revised = [POINT_ANSWERS[0], "Tenants' associations are written to; meetings are offered."]
    r = authoriser.post(respond, json={"response": RESPONSE, "point_answers": revised})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "revision_reason"]
    ok(authoriser.post(respond, json={"response": RESPONSE, "point_answers": revised,
                                      "revision_reason": "Meetings could not be held in time."}))
    [shown] = [x for x in ok(s.staff.anon.get("/api/public/motions"))
               if x["id"] == motion["id"]]
    assert shown["point_answers"] == revised
    [earlier] = shown["response_history"]
    assert earlier["point_answers"] == POINT_ANSWERS and earlier["text"] == RESPONSE
    assert earlier["published_by"] == "authoriser"
    page = html.unescape(s.staff.anon.get("/register").text)
    assert POINT_ANSWERS[1] in page and "Meetings could not be held in time." in page
    action, details = _events(s, "motion", motion["id"])[-1]
    assert action == "motion.response_revised"
    assert details["previous"]["point_answers"] == POINT_ANSWERS


def test_a_revised_oversight_response_keeps_its_earlier_version(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/publish-notice")))
    f = ok(s.staff.anon.post(f"/api/public/deployments/{s.reference}/feedback", json={
        "kind": "objection", "text": "Nobody on my estate was told about this."}), 201)
    token = f["private_link"].rsplit("/", 1)[1]
    s.clock.advance(days=30)  # past its deadline unanswered: it may be escalated
    ok(s.staff.anon.post(f"/api/public/feedback/{f['id']}/yours/{token}/escalate",
                         json={"text": "Nobody answered me."}))
    respond = f"/api/feedback/{f['id']}/oversight-response"
    first = "The board has asked the force to answer within a week and to explain the delay."
    ok(s.staff["oversight"].post(respond, json={"response": first}))
    r = s.staff["oversight"].post(respond, json={"response": "The force answered in time."})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "revision_reason"]
    ok(s.staff["oversight"].post(respond, json={
        "response": "The force has since answered; the board finds the delay unjustified.",
        "revision_reason": "The force published its answer after the board wrote."}))
    public = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    [item] = [x for x in public["feedback"] if x["id"] == f["id"]]
    [earlier] = item["oversight_response_history"]
    assert earlier["text"] == first and earlier["published_by"] == "oversight"
    action, details = _events(s, "feedback", f["id"])[-1]
    assert action == "feedback.oversight_response_revised"
    assert details["previous"]["text"] == first


def test_correcting_a_motions_points_keeps_the_answers_it_drops(scenario: Scenario) -> None:
    s = scenario
    motion = _motion(s)
    ok(s.staff["authoriser"].post(f"/api/motions/{motion['id']}/response",
                                  json={"response": RESPONSE, "point_answers": POINT_ANSWERS}))
    corrected = ok(s.staff["oversight"].put(f"/api/motions/{motion['id']}", json={
        "body": "Lambeth Council", "passed_on": "2026-02-10", "stance": "conditions",
        "summary": "Give four weeks' notice in every ward.", "points": POINTS[:1],
        "areas": ["Lambeth"]}))
    assert corrected["point_answers"] == []
    [earlier] = corrected["response_history"]
    assert earlier["point_answers"] == POINT_ANSWERS and earlier["revised_by"] == "oversight"
