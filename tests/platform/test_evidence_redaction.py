"""A residents' sign-in sheet uploaded as engagement evidence can be replaced by a redacted
copy, or removed, at any status (the frozen log included), for privacy, with a published
reason: the change is an audit event, the public page says when and why, and nothing else
of the frozen event changes, nor do the gates."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from platform_helpers import Scenario, ok
from sqlalchemy import select

from openlfr.storage import models as m

SHEET = (b"%PDF-1.4\n% Sign-in: Jane Roe, 4 Example Road SW8 1AA, jane@example.org, "
         b"opposes LFR\n%%EOF\n")
REDACTED = b"%PDF-1.4\n% Sign-in: [redacted], [redacted]\n%%EOF\n"
REASON = "The sign-in sheet showed the names, home addresses and e-mail addresses of residents."


def _authorised_with_sheet(s: Scenario) -> dict[str, Any]:
    """An authorised deployment whose residents' event carries the sign-in sheet."""
    s.prepare()
    planner = s.staff["planner"]
    event = next(e for e in ok(planner.get(s.url("/engagement")))
                 if e["audience"] == "residents")
    ok(planner.post(s.url(f"/engagement/{event['id']}/evidence"),
                    files={"evidence": ("sign-in.pdf", SHEET, "application/pdf")}))
    ok(s.staff["authoriser"].post(s.url("/authorise")))
    return dict(event)


def _public_pdf(s: Scenario, event_id: int) -> Any:
    return s.staff.anon.get(
        f"/api/public/deployments/{s.reference}/engagement/{event_id}/evidence.pdf")


def _frozen_fields(s: Scenario) -> list[dict[str, Any]]:
    """What the public reads of every event, but the PDF's file name."""
    events = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))[
        "engagement_events"]
    return [{k: v for k, v in e.items() if k != "evidence_filename"} for e in events]


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_a_frozen_sign_in_sheet_is_replaced_by_a_redacted_copy(scenario: Scenario) -> None:
    s = scenario
    event = _authorised_with_sheet(s)
    planner, url = s.staff["planner"], s.url(f"/engagement/{event['id']}/evidence")
    before = _frozen_fields(s)
    gates = ok(planner.get(s.url("/gates")))["gates"]
    assert b"Jane Roe" in _public_pdf(s, event["id"]).content
    # Attaching other evidence to the frozen log is still refused: that is an amendment.
    r = planner.post(url, files={"evidence": ("new.pdf", REDACTED, "application/pdf")})
    assert r.status_code == 409, r.text

    redact = f"{url}/redaction"
    r = planner.post(redact, data={"reason": "privacy, redacted."},
                     files={"evidence": ("sign-in-redacted.pdf", REDACTED, "application/pdf")})
    assert r.status_code == 422 and "reason" in r.text, r.text
    r = planner.post(redact, data={"reason": REASON},
                     files={"evidence": ("notes.docx", b"PK\x03\x04", "application/msword")})
    assert r.status_code == 422 and "not a PDF" in r.text, r.text
    for role in ("authoriser", "operator", "oversight"):
        assert s.staff[role].post(redact, data={"reason": REASON}, files={
            "evidence": ("r.pdf", REDACTED, "application/pdf")}).status_code == 403
    assert b"Jane Roe" in _public_pdf(s, event["id"]).content  # nothing changed so far

    done = ok(planner.post(redact, data={"reason": REASON}, files={
        "evidence": ("sign-in-redacted.pdf", REDACTED, "application/pdf")}))
    assert done["evidence_redaction"] == "redacted"
    assert done["evidence_redaction_reason"] == REASON
    pdf = _public_pdf(s, event["id"])
    assert pdf.status_code == 200 and pdf.content == REDACTED
    html = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert "Evidence redacted on" in html and REASON in html
    # Nothing else of the frozen event changed, nor the status, nor the gates.
    assert _frozen_fields(s) == before
    deployment = ok(planner.get(s.url()))
    assert deployment["status"] == "authorised"
    assert ok(planner.get(s.url("/gates")))["gates"] == gates

    with s.staff.platform.sessions() as db:
        row = db.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "engagement.evidence_redacted")).one()
    details = json.loads(row.details)
    assert details["reason"] == REASON and details["event_id"] == event["id"]
    assert details["previous_sha256"] == hashlib.sha256(SHEET).hexdigest()
    assert details["sha256"] == hashlib.sha256(REDACTED).hexdigest()


def test_a_frozen_sign_in_sheet_is_removed(scenario: Scenario) -> None:
    s = scenario
    event = _authorised_with_sheet(s)
    planner = s.staff["planner"]
    redact = s.url(f"/engagement/{event['id']}/evidence/redaction")
    before = _frozen_fields(s)
    done = ok(planner.post(redact, data={"reason": REASON}))
    assert done["evidence_redaction"] == "removed" and done["evidence_filename"] is None
    assert _public_pdf(s, event["id"]).status_code == 404
    html = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert "Evidence removed on" in html and REASON in html
    assert 'data-test="evidence-pdf"' not in html
    assert _frozen_fields(s) == before
    # Nothing left to redact.
    assert planner.post(redact, data={"reason": REASON}).status_code == 409
    with s.staff.platform.sessions() as db:
        assert db.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "engagement.evidence_removed")).one()


def test_the_upload_form_asks_for_personal_details_to_be_redacted_first(
        scenario: Scenario) -> None:
    s = scenario
    s.draft()
    page = s.staff["planner"].get(f"/staff/deployments/{s.deployment_id}/engagement").text
    assert 'data-test="redact-first"' in page and "Redact personal details" in page


def test_the_staff_page_redacts_the_frozen_evidence(scenario: Scenario) -> None:
    s = scenario
    event = _authorised_with_sheet(s)
    planner = s.staff["planner"]
    base = f"/staff/deployments/{s.deployment_id}/engagement"
    page = planner.get(base).text
    assert 'data-test="frozen"' in page and 'data-test="redact-form"' in page
    action = f"{base}/{event['id']}/evidence/redact"
    key = f"redaction-reason-{event['id']}"
    r = planner.post(action, data={"csrf_token": _csrf(page), key: REASON, "act": "replace"})
    assert r.status_code == 422 and "Choose the redacted copy" in r.text
    assert REASON in r.text  # what was typed stays in the form
    r = planner.post(action, data={"csrf_token": _csrf(page), key: "n/a", "act": "remove"})
    assert r.status_code == 422
    assert s.staff["oversight"].post(action, data={
        "csrf_token": _csrf(page), key: REASON, "act": "remove"}).status_code == 403
    r = planner.post(action, data={"csrf_token": _csrf(page), key: REASON, "act": "replace"},
                     files={f"redacted-{event['id']}": ("r.pdf", REDACTED, "application/pdf")},
                     follow_redirects=False)
    assert r.status_code == 303 and "done=evidence_redacted" in r.headers["location"]
    after = planner.get(r.headers["location"]).text
    assert "replaced by the redacted copy" in after and 'data-test="evidence-redacted"' in after
    assert _public_pdf(s, event["id"]).content == REDACTED
