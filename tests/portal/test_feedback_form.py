"""The feedback form over HTTP: it records through the feedback service, publishes the
text with its deadline, keeps contact details private, re-shows bad input, and limits
how much one client may send."""

from __future__ import annotations

from datetime import timedelta

from platform_helpers import Scenario, TestClient, ok
from portal_helpers import assert_no_personal_data, draft_elsewhere, publish_realistic_deployment

from openlfr.web.pages import feedback
from openlfr.web.pages.rendering import when


def test_feedback_is_recorded_published_and_answered_by_a_deadline(scenario: Scenario) -> None:
    s = scenario
    publish_realistic_deployment(s)
    page = s.staff.anon.get(f"/deployments/{s.reference}/feedback?kind=objection")
    assert page.status_code == 200 and 'data-test="feedback-form"' in page.text
    assert 'value="objection" data-test="kind-objection" required\n      checked' in page.text
    r = s.staff.anon.post(f"/deployments/{s.reference}/feedback", data={
        "kind": "redress_request", "text": "I was stopped after a false alert last week.",
        "contact": "stopped@example.org"}, follow_redirects=False)
    assert r.status_code == 303
    thanks = s.staff.anon.get(r.headers["location"])
    due = (s.clock.now + timedelta(days=20)).strftime("%d %B %Y").lstrip("0")
    assert thanks.status_code == 200 and "redress request" in thanks.text
    assert f"<strong>{due}</strong>" in thanks.text

    staff_view = ok(s.staff["planner"].get(f"/api/deployments/{s.deployment_id}/feedback"))
    sent = [f for f in staff_view if f["kind"] == "redress_request"]
    assert len(sent) == 1 and sent[0]["contact"] == "stopped@example.org"
    html = s.staff.anon.get(f"/deployments/{s.reference}").text
    # A redress request is private: the public sees that one was made and when.
    assert "I was stopped after a false alert last week." not in html
    assert 'data-test="private"' in html
    assert f"Awaiting answer, due {when(s.clock.now + timedelta(days=20))}" in html
    assert "stopped@example.org" not in html
    assert_no_personal_data(html)
    audit = ok(s.staff["admin"].get("/api/audit/events?limit=1000"))
    assert any(e["action"] == "feedback.submitted" for e in audit)
    assert "stopped@example.org" not in str(audit)


def test_support_needs_no_answer_and_contact_is_optional(scenario: Scenario) -> None:
    s = scenario
    publish_realistic_deployment(s)
    r = s.staff.anon.post(f"/deployments/{s.reference}/feedback", data={
        "kind": "support", "text": "Good to see the notice well ahead.", "contact": ""})
    assert r.status_code == 200 and 'data-test="thanks"' in r.text  # redirect followed
    assert 'data-test="answer-due"' not in r.text
    staff_view = ok(s.staff["planner"].get(f"/api/deployments/{s.deployment_id}/feedback"))
    assert [f["contact"] for f in staff_view if f["kind"] == "support"] == [None]


def test_bad_input_is_shown_again_with_reasons_and_records_nothing(scenario: Scenario) -> None:
    s = scenario
    publish_realistic_deployment(s)
    before = len(ok(s.staff["planner"].get(f"/api/deployments/{s.deployment_id}/feedback")))
    r = s.staff.anon.post(f"/deployments/{s.reference}/feedback",
                          data={"kind": "praise", "text": "x", "contact": "<b>me</b>"})
    assert r.status_code == 422
    assert 'data-field="kind"' in r.text and 'data-field="text"' in r.text
    assert "&lt;b&gt;me&lt;/b&gt;" in r.text  # what was typed comes back, escaped
    after = len(ok(s.staff["planner"].get(f"/api/deployments/{s.deployment_id}/feedback")))
    assert after == before


def test_feedback_on_drafts_or_unknown_deployments_is_not_found(scenario: Scenario) -> None:
    s = scenario
    draft = draft_elsewhere(s)
    for reference in (draft["reference"], "LFR-2026-9999", "nonsense"):
        assert s.staff.anon.get(f"/deployments/{reference}/feedback").status_code == 404
        r = s.staff.anon.post(f"/deployments/{reference}/feedback",
                              data={"kind": "question", "text": "Is this happening?"})
        assert r.status_code == 404
    assert ok(s.staff["planner"].get(f"/api/deployments/{draft['id']}/feedback")) == []


def test_one_client_is_limited_and_others_are_not(scenario: Scenario) -> None:
    s = scenario
    publish_realistic_deployment(s)
    url = f"/deployments/{s.reference}/feedback"
    body = {"kind": "question", "text": "When will results be published?"}
    # An address of its own: the scenario's objection (through the API) counted against
    # the anonymous client's, since the API and the form share one policy.
    one = TestClient(s.staff.app, base_url="http://testserver", client=("203.0.113.8", 5000))
    for _ in range(feedback.FEEDBACK_PER_HOUR):
        assert one.post(url, data=body, follow_redirects=False).status_code == 303
    limited = one.post(url, data=body, follow_redirects=False)
    assert limited.status_code == 429 and 'data-test="rate-limited"' in limited.text
    staff_view = ok(s.staff["planner"].get(f"/api/deployments/{s.deployment_id}/feedback"))
    assert sum(f["text"] == body["text"] for f in staff_view) == feedback.FEEDBACK_PER_HOUR
    other = TestClient(s.staff.app, base_url="http://testserver", client=("203.0.113.9", 5000))
    assert other.post(url, data=body, follow_redirects=False).status_code == 303
