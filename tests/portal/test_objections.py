"""Objections and questions with teeth, over HTTP: a deadline that lands before the
start, activation refused while one is past it, answers with an outcome and substance, the
author and followers (double opt-in) e-mailed, one reply, escalation answered by oversight
in public, and redress requests kept private."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from platform_helpers import START, Scenario, ok
from sqlalchemy import select

from openlfr.governance.answers import AnswerOutcome, answer_due_at, answer_problem, substance
from openlfr.governance.records import FeedbackKind
from openlfr.storage import models as m

OBJECTOR = "objector@example.org"
FOLLOWER = "neighbour@example.org"
OBJECTION = "The cameras would watch the entrance of my children's school every morning."
ANSWER = ("Not upheld: the cameras face the station forecourt only and cannot see the school "
          "gate; the site plan in the assessment shows their field of view.")


def _published(s: Scenario) -> None:
    s.draft()
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/publish-notice")))


def _file(s: Scenario, kind: str = "objection", text: str = OBJECTION,
          contact: str | None = OBJECTOR) -> dict[str, object]:
    body: dict[str, object] = {"kind": kind, "text": text}
    if contact:
        body["contact"] = contact
    return ok(s.staff.anon.post(f"/api/public/deployments/{s.reference}/feedback", json=body),
              201)


def _mail(s: Scenario, to: str) -> list[m.OutgoingEmail]:
    with s.staff.platform.sessions() as db:
        return list(db.scalars(select(m.OutgoingEmail).where(m.OutgoingEmail.to_address == to)
                               .order_by(m.OutgoingEmail.id)))


def _link(body: str, pattern: str) -> str:
    [found] = re.findall(pattern, body)
    return found.replace("http://127.0.0.1:8000", "")


# --- the rules ------------------------------------------------------------------------------


def test_the_deadline_is_the_earlier_of_the_period_and_the_lead_time() -> None:
    # The case: filed 2 December for a 4 December start was due 22 December.
    filed, start = datetime(2026, 12, 2, 12), datetime(2026, 12, 4, 10)
    assert answer_due_at(FeedbackKind.OBJECTION, filed, start, 20, 48) == filed  # due at once
    filed = datetime(2026, 11, 1, 9)
    assert answer_due_at(FeedbackKind.QUESTION, filed, start, 20, 48) == datetime(2026, 11, 21, 9)
    filed = datetime(2026, 11, 25, 9)
    assert answer_due_at(FeedbackKind.OBJECTION, filed, start, 20, 48) == start - timedelta(
        hours=48)
    # A complaint may come after the start: the answer period alone.
    assert answer_due_at(FeedbackKind.COMPLAINT, filed, start, 20, 48) == filed + timedelta(
        days=20)


def test_stock_acknowledgements_are_not_answers() -> None:
    for empty in ("Noted.", "Thank you for your feedback.", "Noted. Thank you for your "
                  "comments, which have been noted.", "Your comments have been noted and will "
                  "be considered. We value your views.",
                  "We have received your objection. This has been passed to the relevant team."):
        problem = answer_problem(FeedbackKind.OBJECTION, empty, AnswerOutcome.NOT_UPHELD, False)
        assert problem is not None and problem[0] == "answer", empty
    assert len(substance("Noted. The cameras face the forecourt only.")) < len(
        "Noted. The cameras face the forecourt only.")
    assert answer_problem(FeedbackKind.OBJECTION, ANSWER, AnswerOutcome.NOT_UPHELD, False) is None
    assert answer_problem(FeedbackKind.OBJECTION, ANSWER, None, False)[0] == "outcome"  # type: ignore[index]
    assert answer_problem(FeedbackKind.QUESTION, ANSWER, None, False) is None
    assert answer_problem(FeedbackKind.OBJECTION, ANSWER, AnswerOutcome.PLAN_CHANGED,
                          False)[0] == "amendment_id"  # type: ignore[index]


# --- over HTTP -----------------------------------------------------------------------------------


def test_objection_deadline_answer_email_follow_reply_and_escalation(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    receipt = _file(s)
    fid = int(receipt["id"])  # type: ignore[call-overload]
    # 48 hours before the 22 March 10:00 start (earlier than 20 days after 2 March).
    assert str(receipt["answer_due_at"]).startswith("2026-03-20T10:00")
    private = str(receipt["private_link"])
    token = private.rsplit("/", 1)[1]

    # A neighbour follows it: nothing until the confirmation link is used.
    ok(s.staff.anon.post(f"/api/public/feedback/{fid}/follow", json={"email": FOLLOWER}), 202)
    [confirmation] = _mail(s, FOLLOWER)
    confirm = _link(confirmation.body, r"\S+/feedback/follows/\S+/confirm")
    assert "Confirm" in s.staff.anon.get(confirm).text
    assert s.staff.anon.post(confirm).status_code == 200

    # Refused: no outcome; "Noted."; a plan change without its amendment.
    answer_url = f"/api/feedback/{fid}/answer"
    planner = s.staff["planner"]
    assert planner.post(answer_url, json={"answer": ANSWER}).status_code == 422
    r = planner.post(answer_url, json={"answer": "Noted.", "outcome": "not_upheld"})
    assert r.status_code == 422 and "Noted." in r.text
    r = planner.post(answer_url, json={"answer": ANSWER, "outcome": "plan_changed"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "amendment_id"
    ok(planner.post(answer_url, json={"answer": ANSWER, "outcome": "not_upheld"}))

    # The author and the follower are told, with the answer and its outcome.
    [to_author] = _mail(s, OBJECTOR)
    assert ANSWER in to_author.body and "outcome: not upheld" in to_author.body
    assert private in to_author.body  # their private link, to reply or escalate
    told = _mail(s, FOLLOWER)
    assert len(told) == 2 and ANSWER in told[1].body and private not in told[1].body

    public = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    [item] = [f for f in public["feedback"] if f["id"] == fid]
    assert item["outcome"] == "not_upheld" and item["answer"] == ANSWER

    # Escalating before replying is refused; one reply; a second is refused.
    yours = f"/api/public/feedback/{fid}/yours/{token}"
    assert s.staff.anon.post(f"{yours}/escalate", json={"text": "x" * 20}).status_code == 409
    assert s.staff.anon.post(f"/api/public/feedback/{fid}/yours/wrong-token-123/reply",
                             json={"text": "hello"}).status_code == 404
    ok(s.staff.anon.post(f"{yours}/reply", json={"text": "The assessment has no site plan."}))
    assert s.staff.anon.post(f"{yours}/reply", json={"text": "again"}).status_code == 409
    ok(s.staff.anon.post(f"{yours}/escalate", json={
        "text": "The answer cites a site plan that is not published."}))
    assert s.staff.anon.post(f"{yours}/escalate", json={"text": "again!"}).status_code == 409

    # Only oversight responds; the response is published and sent to both.
    assert planner.post(f"/api/feedback/{fid}/oversight-response", json={
        "response": "x" * 30}).status_code == 403
    [waiting] = ok(s.staff["oversight"].get("/api/feedback/escalations"))
    assert waiting["id"] == fid and waiting["oversight_response"] is None
    response = ("Upheld in part: the site plan must be published before the start; we have "
                "asked the force to do so.")
    ok(s.staff["oversight"].post(f"/api/feedback/{fid}/oversight-response",
                                 json={"response": response}))
    html = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert response in html and "The assessment has no site plan." in html
    assert response in _mail(s, OBJECTOR)[-1].body and response in _mail(s, FOLLOWER)[-1].body


def test_plan_change_links_the_amendment(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    fid = _file(s)["id"]
    amendment = ok(s.staff["planner"].post(s.url("/amendments"), json={
        "record": "plan", "reason": "The camera by the school gate is moved to the forecourt.",
        "changes": {"camera_count": 1}}), 201)
    r = s.staff["planner"].post(f"/api/feedback/{fid}/answer", json={
        "answer": "Upheld: the camera near the school gate is removed from the plan.",
        "outcome": "plan_changed", "amendment_id": amendment["id"] + 99})
    assert r.status_code == 422
    ok(s.staff["planner"].post(f"/api/feedback/{fid}/answer", json={
        "answer": "Upheld: the camera near the school gate is removed from the plan.",
        "outcome": "plan_changed", "amendment_id": amendment["id"]}))
    html = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert 'data-test="answer-amendment"' in html and 'data-outcome="plan_changed"' in html


def test_activation_is_refused_while_a_question_is_past_its_deadline(
        scenario: Scenario) -> None:
    s = scenario
    s.prepare()
    ok(s.staff["authoriser"].post(s.url("/authorise")))
    # A question 12 hours before the start: inside the 48-hour lead time, due at once.
    question = _file(s, "question", "Which entrances will have cameras?", None)
    assert question["answer_due_at"] is not None
    s.clock.now = START
    r = s.staff["operator"].post(s.url("/activate"))
    assert r.status_code == 409 and "past their answer deadline" in r.text
    ok(s.staff["planner"].post(f"/api/feedback/{question['id']}/answer", json={
        "answer": "Two: the station forecourt and the market entrance, both signed."}))
    ok(s.staff["operator"].post(s.url("/activate")))


def test_an_unanswered_item_can_be_escalated_once_past_its_deadline(
        scenario: Scenario) -> None:
    s = scenario
    _published(s)
    receipt = _file(s, "question", "Who decided on this site, and why?", None)
    token = str(receipt["private_link"]).rsplit("/", 1)[1]
    url = f"/api/public/feedback/{receipt['id']}/yours/{token}/escalate"
    assert s.staff.anon.post(url, json={"text": "No answer yet."}).status_code == 409
    s.clock.now = START - timedelta(hours=47)
    ok(s.staff.anon.post(url, json={"text": "No answer came before the deadline."}))
    page = s.staff.anon.get(f"/feedback/{receipt['id']}/yours/{token}").text
    assert 'data-test="escalation"' in page


def test_redress_requests_are_private_by_default(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    text = "I was stopped at the station on Friday after an alert; my name is on the record."
    receipt = _file(s, "redress_request", text, "stopped@example.org")
    ok(s.staff["planner"].post(f"/api/feedback/{receipt['id']}/answer", json={
        "answer": "Upheld: the alert was false; its record and image were deleted on 4 March.",
        "outcome": "upheld"}))
    public = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    [item] = [f for f in public["feedback"] if f["id"] == receipt["id"]]
    assert item["private"] and item["text"] is None and item["answer"] is None
    assert item["outcome"] == "upheld" and item["submitted_at"]
    html = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert text not in html and "deleted on 4 March" not in html
    assert 'data-test="private"' in html and "Upheld" in html
    # The author still reads their own request and its answer on their private page.
    mine = s.staff.anon.get(str(receipt["private_link"]).replace("http://127.0.0.1:8000", ""))
    assert text in mine.text and "deleted on 4 March" in mine.text


# --- a consultation that counts --------------------------------------------------------------


def test_a_consultation_closed_early_with_few_responses_is_insufficient(
        scenario: Scenario) -> None:
    s = scenario
    _published(s)
    s.open_consultation()
    s.responses(ok(s.staff["planner"].get(s.url("/consultation")))["id"], 3)
    s.clock.advance(days=2)
    ok(s.staff["planner"].post(s.url("/consultation/close")))
    gates = ok(s.staff["planner"].get(s.url("/gates")))
    [gate] = [g for g in gates["gates"] if g["name"] == "consultation_and_objections"]
    assert not gate["passed"] and gate["reason"].startswith("Insufficient response")
    assert "open for 2 days, less than the 14 days" in gate["reason"]
    assert "3 response(s), fewer than the 20 required" in gate["reason"]
    public = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["consultation_results"]["insufficient"] == gate["reason"].removeprefix(
        "Insufficient response: ").rstrip(".")
    assert public["consultation_results"]["by_district"] == {"SE11": 3}
    page = s.staff.anon.get(f"/deployments/{s.reference}/consultation").text
    assert 'data-test="insufficient-response"' in page and "does not count" in page
    assert 'data-test="reached"' in s.staff.anon.get(f"/deployments/{s.reference}").text


def test_the_oversight_page_lists_escalations_and_publishes_the_response(
        scenario: Scenario) -> None:
    s = scenario
    _published(s)
    receipt = _file(s, "question", "Who decided on this site, and why?", None)
    token = str(receipt["private_link"]).rsplit("/", 1)[1]
    s.clock.now = START - timedelta(hours=47)
    ok(s.staff.anon.post(f"/api/public/feedback/{receipt['id']}/yours/{token}/escalate",
                         json={"text": "No answer came before the deadline."}))
    page = s.staff["oversight"].get("/staff/escalations")
    assert page.status_code == 200, page.text
    assert f'data-feedback-id="{receipt["id"]}"' in page.text
    assert 'data-test="respond-form"' in page.text
    planner_page = s.staff["planner"].get("/staff/escalations").text
    assert 'data-test="respond-form"' not in planner_page
    from portal_helpers import csrf_from

    r = s.staff["oversight"].post(f"/staff/escalations/{receipt['id']}/respond", data={
        "csrf_token": csrf_from(page.text),
        f"response-{receipt['id']}": "The force must answer by Friday; the board will check."},
        follow_redirects=False)
    assert r.status_code == 303
    html = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert "The force must answer by Friday" in html


def test_moving_the_start_earlier_moves_the_answer_deadline_with_it(
        scenario: Scenario) -> None:
    s = scenario
    _published(s)
    receipt = _file(s, "question", "Which entrances will have cameras?", None)
    assert str(receipt["answer_due_at"]).startswith("2026-03-20T10:00")
    new_start = START - timedelta(days=5)
    ok(s.staff["planner"].post(s.url("/reschedule"), json={
        "start_at": new_start.isoformat(), "end_at": (new_start + timedelta(hours=8)).isoformat(),
        "reason": "The market moved to the week before; the deployment moves with it."}))
    [item] = ok(s.staff["planner"].get(s.url("/feedback")))
    assert item["answer_due_at"].startswith("2026-03-15T10:00")  # 48 hours before the new start
