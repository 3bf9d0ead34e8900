"""The post-deployment review withholds what the deployment page withholds (one rule: the
public read model): a redress request's words and answer, and text hidden for abuse, in
every version, those stored before the text was hidden included, HTML and PDF alike; the
stored figures stay as they were."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from platform_helpers import START, Scenario, ok
from pypdf import PdfReader

from openlfr.services import public_view, reports
from openlfr.storage import models as m

REDRESS = "I was stopped after an alert at 14:05 outside Vauxhall station; I am Jane Roe of SW8."
REDRESS_ANSWER = ("Upheld: the alert on Jane Roe was false; her record and image were deleted "
                  "on 4 March.")
ABUSE = "My neighbour John Doe of 4 Example Road is the robber you want, phone 07700900123."
ABUSE_REASON = "It names a private individual with his home address and phone number."
PUBLIC_OBJECTION = "I do not want my face scanned"  # Scenario.object_and_answer


def _pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def _review(s: Scenario, version: int | None = None) -> tuple[str, str]:
    """The review's page and its PDF's text (a version, or the latest)."""
    query = f"?version={version}" if version is not None else ""
    page = s.staff.anon.get(f"/deployments/{s.reference}/review{query}")
    pdf = s.staff.anon.get(f"/deployments/{s.reference}/review.pdf{query}")
    assert page.status_code == 200 and pdf.status_code == 200
    return page.text, _pdf_text(pdf.content)


def _redress_answered(s: Scenario) -> int:
    r = ok(s.staff.anon.post(f"/api/public/deployments/{s.reference}/feedback", json={
        "kind": "redress_request", "text": REDRESS, "contact": "jane@example.org"}), 201)
    ok(s.staff["planner"].post(f"/api/feedback/{r['id']}/answer", json={
        "answer": REDRESS_ANSWER, "outcome": "upheld"}))
    return int(r["id"])


def _complete(s: Scenario) -> None:
    s.clock.now = START + timedelta(hours=9)
    ok(s.staff["operator"].post(s.url("/complete")))


def _stored(s: Scenario) -> dict[int, dict[str, Any]]:
    with s.staff.platform.sessions() as session:
        return {r.version: r.content for r in session.scalars(
            sa.select(m.DeploymentReview).where(
                m.DeploymentReview.deployment_id == s.deployment_id))}


def test_review_withholds_a_redress_requests_words_and_answer(scenario: Scenario) -> None:
    s = scenario
    s.activate()
    _redress_answered(s)
    _complete(s)
    html, pdf = _review(s)
    for text in (html, pdf):
        assert "Jane Roe" not in text and "jane@example.org" not in text
        assert "sent privately to the person who asked" in text
        assert PUBLIC_OBJECTION in text  # only what is private is withheld
    assert 'data-test="private"' in html and 'data-test="outcome">Upheld<' in html
    assert "request for redress" in pdf and "Upheld." in pdf
    # Not even stored: the review's content is what the public sees.
    assert "Jane Roe" not in json.dumps(_stored(s))


def test_review_withholds_exactly_what_the_deployment_page_withholds(
        scenario: Scenario) -> None:
    s = scenario
    s.activate()
    _redress_answered(s)
    ok(s.staff.anon.post(f"/api/public/deployments/{s.reference}/feedback", json={
        "kind": "redress_request", "text": "Nobody has answered me about my stop yet."}), 201)
    hidden = ok(s.staff.anon.post(f"/api/public/deployments/{s.reference}/feedback", json={
        "kind": "complaint", "text": ABUSE}), 201)
    ok(s.staff["planner"].post(f"/api/feedback/{hidden['id']}/hide",
                               json={"reason": ABUSE_REASON}))
    _complete(s)
    platform = s.staff.platform
    page = {f.id: f for f in public_view.public_deployment(platform, s.reference).feedback}
    [latest] = reports.review_versions(platform, s.deployment_id)
    fb = latest.content["feedback"]
    items = [*fb["answered"], *fb["awaiting_answer"], *fb["no_answer_needed"]]
    assert sorted(item["id"] for item in items) == sorted(page)
    for item in items:
        shown = page[item["id"]]
        assert item["text"] == shown.text
        assert item.get("answer") == shown.answer
        assert item["private"] == shown.private
        assert item["hidden_for_abuse"] == shown.hidden_for_abuse
        assert item["moderation_reason"] == shown.moderation_reason


def test_text_hidden_after_completion_is_withheld_from_every_version(
        scenario: Scenario) -> None:
    s = scenario
    s.activate()
    r = ok(s.staff.anon.post(f"/api/public/deployments/{s.reference}/feedback", json={
        "kind": "complaint", "text": ABUSE}), 201)
    _complete(s)
    before_html, before_pdf = _review(s, 1)
    assert ABUSE in before_html  # published until it is hidden
    figures_before = re.search(r'<section id="review-figures".*?</section>', before_html,
                               re.S)
    stored_before = _stored(s)[1]
    ok(s.staff["planner"].post(f"/api/feedback/{r['id']}/hide", json={"reason": ABUSE_REASON}))
    for version in (1, 2, None):
        html, pdf = _review(s, version)
        for text in (html, pdf):
            assert "John Doe" not in text and "07700900123" not in text, version
            assert ABUSE_REASON in text, version
        assert 'data-test="moderated"' in html
        assert PUBLIC_OBJECTION in html
    # Version 1 keeps its figures and everything else as it was generated.
    html, _ = _review(s, 1)
    figures_after = re.search(r'<section id="review-figures".*?</section>', html, re.S)
    assert figures_before is not None and figures_after is not None
    assert figures_after.group(0) == figures_before.group(0)
    assert _stored(s)[1]["figures"] == stored_before["figures"]
    assert 'data-version="1"' in html and "deployment completed" in html


def test_a_version_stored_before_the_rule_is_read_through_it(scenario: Scenario) -> None:
    """A review stored before items carried their id (format 1) held a redress request's
    words and answer: they are withheld when it is read now, matched by kind and filing."""
    s = scenario
    s.activate()
    feedback_id = _redress_answered(s)
    _complete(s)
    with s.staff.platform.sessions.begin() as session:
        review = session.scalar(sa.select(m.DeploymentReview).where(
            m.DeploymentReview.deployment_id == s.deployment_id))
        assert review is not None
        content = json.loads(json.dumps(review.content))
        content["format"] = 1
        for item in content["feedback"]["answered"]:
            is_redress = item.pop("id") == feedback_id
            item.pop("private"), item.pop("outcome")
            if is_redress:  # as the review stored it before
                item.update(text=REDRESS, answer=REDRESS_ANSWER)
        review.content = content
    html, pdf = _review(s, 1)
    for text in (html, pdf):
        assert "Jane Roe" not in text
        assert "sent privately to the person who asked" in text
        assert PUBLIC_OBJECTION in text
