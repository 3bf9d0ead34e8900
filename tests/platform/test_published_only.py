"""What is private or not yet public stays so: nobody can follow someone's request for
redress (its answer is the author's alone), and a consultation is neither shown nor
answered before its deployment's notice is public (nor opened)."""

from __future__ import annotations

from platform_helpers import Scenario, ok
from sqlalchemy import select

from openlfr.storage import models as m

SECRET = ("We checked the alert of 3 March at 10:14: the officer stopped you after a false "
          "match; your probe image has been deleted.")


def _mail_to(s: Scenario, address: str) -> list[m.OutgoingEmail]:
    with s.staff.platform.sessions() as db:
        return list(db.scalars(select(m.OutgoingEmail).where(
            m.OutgoingEmail.to_address == address)))


def test_nobody_follows_a_request_for_redress(scenario: Scenario) -> None:
    s = scenario
    s.equity_audit()
    s.draft()
    s.publish_notice()
    anon = s.staff.anon
    mine = ok(anon.post(f"/api/public/deployments/{s.reference}/feedback", json={
        "kind": "redress_request", "contact": "stopped@example.org",
        "text": "I was stopped on 3 March after a false alert and want to know why."}), 201)
    question = ok(anon.post(f"/api/public/deployments/{s.reference}/feedback", json={
        "kind": "question", "text": "How long is the watchlist kept?"}), 201)
    # The API refuses to follow it, as if it did not exist; a question can be followed.
    r = anon.post(f"/api/public/feedback/{mine['id']}/follow",
                  json={"email": "stranger@example.org"})
    assert r.status_code == 404
    ok(anon.post(f"/api/public/feedback/{question['id']}/follow",
                 json={"email": "stranger@example.org"}), 202)
    # The page offers no follow link for it, and its form refuses it.
    page = anon.get(f"/deployments/{s.reference}").text
    assert f"?item={mine['id']}" not in page and f"?item={question['id']}" in page
    form = anon.get(f"/deployments/{s.reference}/follow").text
    assert f'value="{mine["id"]}"' not in form
    posted = anon.post(f"/deployments/{s.reference}/follow",
                       data={"email": "stranger@example.org", "feedback_id": str(mine["id"])})
    assert posted.status_code == 422
    # A follower already on record (before this rule) is told nothing; the author is.
    with s.staff.platform.sessions.begin() as db:
        db.add(m.FeedbackFollow(feedback_id=mine["id"], email="early@example.org",
                                token="t" * 32, created_at=s.clock.now,
                                confirmed_at=s.clock.now))
    ok(s.staff["planner"].post(f"/api/feedback/{mine['id']}/answer", json={
        "answer": SECRET, "outcome": "upheld"}))
    assert not any(SECRET in e.body for e in _mail_to(s, "early@example.org"))
    assert not any(SECRET in e.body for e in _mail_to(s, "stranger@example.org"))
    assert any(SECRET in e.body for e in _mail_to(s, "stopped@example.org"))


def _draft_consultation(s: Scenario) -> int:
    return int(ok(s.staff["planner"].put(s.url("/consultation"), json={
        "benefits": "Finding wanted people.",
        "risks": "False alerts may lead to people being stopped wrongly; privacy of everyone "
                 "passing the camera is affected and errors may differ between groups. People "
                 "may avoid the area; faces that match nobody are deleted at once.",
        "questions": [{"text": "How would this change your use of the area?",
                       "options": ["more", "same", "less"]}]}))["id"])


def test_a_consultation_waits_for_the_notice(scenario: Scenario) -> None:
    s, anon = scenario, scenario.staff.anon
    s.draft(title="Operation not yet public")
    cid = _draft_consultation(s)
    r = s.staff["planner"].post(s.url("/consultation/open"))
    assert r.status_code == 409 and "publish the deployment's notice first" in r.text
    # Opened anyway (a database from before the rule): still not public until the notice.
    with s.staff.platform.sessions.begin() as db:
        c = db.get(m.Consultation, cid)
        assert c is not None
        c.status = "open"
    assert ok(anon.get("/api/public/consultations")) == []
    assert anon.get(f"/api/public/consultations/{cid}").status_code == 404
    r = anon.post(f"/api/public/consultations/{cid}/responses", json={"answers": {"q1": "more"}})
    assert r.status_code == 404
    assert anon.get(f"/deployments/{s.reference}/consultation").status_code == 404
    s.publish_notice()
    assert [c["id"] for c in ok(anon.get("/api/public/consultations"))] == [cid]
    ok(anon.post(f"/api/public/consultations/{cid}/responses",
                 json={"answers": {"q1": "less"}}), 204)
