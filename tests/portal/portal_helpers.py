"""Helpers for the portal tests: a realistic published deployment, and the personal
data that must never reach a public page."""

from __future__ import annotations

from typing import Any

from platform_helpers import Scenario, csrf_from, ok  # noqa: F401 (csrf_from: for the portal tests)

#: Personal data the scenario records; none of it may appear on a public page.
PRIVATE = ("CASE-123/A", "resident@example.org", "Insp. Example", "asker@example.org",
           "PNC")


def publish_realistic_deployment(s: Scenario) -> None:
    """The platform scenario up to authorisation, plus a motion covering the ward (with
    a published response), an unanswered question with contact details, and a second
    site."""
    staff = s.staff
    s.prepare()
    ok(staff["planner"].post(f"/api/public/deployments/{s.reference}/feedback", json={
        "kind": "question", "text": "Will the van be there on market day?",
        "contact": "asker@example.org"}), 201)
    motion = ok(staff["oversight"].post("/api/motions", json={
        "body": "Lambeth Council", "passed_on": "2026-02-10", "stance": "conditions",
        "summary": "Asks for four weeks' notice and published results.",
        "areas": ["Lambeth/Vauxhall"]}), 201)
    ok(staff["planner"].post(f"/api/motions/{motion['id']}/response", json={
        "response": "Notice is given at least 14 days ahead; results are published."}))
    ok(staff["authoriser"].post(s.url("/authorise")))


def answer_waiting_feedback(s: Scenario) -> None:
    """Answer every item still waiting (the realistic deployment's question is due 48
    hours before the start, so activation is refused until it is answered)."""
    for f in ok(s.staff["planner"].get(s.url("/feedback"))):
        if f["answered_at"] is None:
            ok(s.staff["planner"].post(f"/api/feedback/{f['id']}/answer", json={
                "answer": "Yes: the van is there on market day too, as the notice says.",
                "outcome": "answered" if f["kind"] == "question" else "not_upheld"}))


def draft_elsewhere(s: Scenario, **overrides: Any) -> dict[str, Any]:
    """A draft deployment (by default in another borough): it must stay private."""
    fields: dict[str, Any] = {"title": "Secret draft in Hackney", "borough": "Hackney",
                              "ward": "Dalston", **overrides}
    body = s.deployment_body(**fields)
    return ok(s.staff["planner"].post("/api/deployments", json=body), 201)


def assert_no_personal_data(html: str) -> None:
    for private in PRIVATE:
        assert private not in html, f"{private!r} appeared on a public page"
