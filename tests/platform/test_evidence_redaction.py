"""A residents' sign-in sheet uploaded as engagement evidence can be replaced by a redacted
copy, or removed, at any status (the frozen log included), for privacy, with a published
reason: the change is an audit event, the public page and API say when and why, and nothing
else of the frozen event changes, nor do the gates. A PDF is redacted once (a second copy
would swap the published document, and the reason, under the same label): after that it
can only be removed, and both traces stay public, with the SHA-256 of the PDF as first
published and of the redacted copy."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from platform_helpers import Scenario, csrf_from, ok
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


OTHER = b"%PDF-1.4\n% Minutes of a meeting with 200 residents who all support LFR\n%%EOF\n"
REASON2 = "A second look found a signature of a resident still legible in the footer of page 2."


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _public_events(s: Scenario) -> list[dict[str, Any]]:
    return list(ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))[
        "engagement_events"])


def _public_event(s: Scenario, event_id: int) -> dict[str, Any]:
    return next(e for e in _public_events(s) if e["id"] == event_id)


def _frozen_fields(s: Scenario) -> list[dict[str, Any]]:
    """What the public reads of every event, but its PDF (name, hashes, redaction)."""
    return [{k: v for k, v in e.items() if k == "evidence_url" or not k.startswith("evidence_")}
            for e in _public_events(s)]


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
    # Published: what was done, why, when, and the hashes before and after, so anyone who
    # kept the sheet as first published can check it was the one replaced.
    public = _public_event(s, event["id"])
    assert public["evidence_redaction"] == "redacted"
    assert public["evidence_redaction_reason"] == REASON
    assert public["evidence_redacted_at"] is not None
    assert public["evidence_first_sha256"] == _sha(SHEET)
    assert public["evidence_redacted_sha256"] == _sha(REDACTED)
    assert public["evidence_removal_reason"] is None
    assert _sha(SHEET) in html and _sha(REDACTED) in html
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
    public = _public_event(s, event["id"])
    assert public["evidence_redaction"] == "removed"
    assert public["evidence_removal_reason"] == REASON and public["evidence_removed_at"]
    assert public["evidence_first_sha256"] == _sha(SHEET)
    assert public["evidence_redacted_at"] is None
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
    r = planner.post(action, data={"csrf_token": csrf_from(page), key: REASON, "act": "replace"})
    assert r.status_code == 422 and "Choose the redacted copy" in r.text
    assert REASON in r.text  # what was typed stays in the form
    r = planner.post(action, data={"csrf_token": csrf_from(page), key: "n/a", "act": "remove"})
    assert r.status_code == 422
    assert s.staff["oversight"].post(action, data={
        "csrf_token": csrf_from(page), key: REASON, "act": "remove"}).status_code == 403
    r = planner.post(action, data={"csrf_token": csrf_from(page), key: REASON, "act": "replace"},
                     files={f"redacted-{event['id']}": ("r.pdf", REDACTED, "application/pdf")},
                     follow_redirects=False)
    assert r.status_code == 303 and "done=evidence_redacted" in r.headers["location"]
    after = planner.get(r.headers["location"]).text
    assert "replaced by the redacted copy" in after and 'data-test="evidence-redacted"' in after
    assert _public_pdf(s, event["id"]).content == REDACTED


def test_a_pdf_is_redacted_once_and_then_only_removed(scenario: Scenario) -> None:
    """A second redacted copy is refused: it would swap the published document, and the
    published reason, under the same label. Removing the copy keeps the redaction's trace
    beside its own."""
    s = scenario
    event = _authorised_with_sheet(s)
    planner = s.staff["planner"]
    redact = s.url(f"/engagement/{event['id']}/evidence/redaction")
    ok(planner.post(redact, data={"reason": REASON},
                    files={"evidence": ("r.pdf", REDACTED, "application/pdf")}))
    redacted = _public_event(s, event["id"])
    s.clock.advance(days=3)
    r = planner.post(redact, data={"reason": REASON2},
                     files={"evidence": ("minutes.pdf", OTHER, "application/pdf")})
    assert r.status_code == 409, r.text
    assert "already replaced by a redacted copy" in r.text and "removed" in r.text
    assert _public_pdf(s, event["id"]).content == REDACTED
    assert _public_event(s, event["id"]) == redacted
    html = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert REASON in html and REASON2 not in html
    # The staff page offers only the removal now.
    page = planner.get(f"/staff/deployments/{s.deployment_id}/engagement").text
    assert 'data-test="redacted-once"' in page and 'data-test="redact-replace"' not in page

    removed = ok(planner.post(redact, data={"reason": REASON2}))
    assert removed["evidence_redaction"] == "removed"
    public = _public_event(s, event["id"])
    assert public["evidence_redaction_reason"] == REASON
    assert public["evidence_redacted_at"] == redacted["evidence_redacted_at"]
    assert public["evidence_first_sha256"] == _sha(SHEET)
    assert public["evidence_redacted_sha256"] == _sha(REDACTED)
    assert public["evidence_removal_reason"] == REASON2
    assert public["evidence_removed_at"] > public["evidence_redacted_at"]
    html = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert "Evidence redacted on" in html and REASON in html
    assert "Evidence removed on" in html and REASON2 in html
    assert _public_pdf(s, event["id"]).status_code == 404
    assert planner.post(redact, data={"reason": REASON}, files={
        "evidence": ("r.pdf", REDACTED, "application/pdf")}).status_code == 409


def test_a_new_upload_before_freezing_drops_the_redaction_label(scenario: Scenario) -> None:
    """Before the log freezes a new PDF may replace a redacted one: it is a plain upload,
    published as first uploaded, so the "redacted" label and hashes go with the old one."""
    s = scenario
    s.prepare()
    planner = s.staff["planner"]
    event = next(e for e in ok(planner.get(s.url("/engagement"))) if e["audience"] == "residents")
    url = s.url(f"/engagement/{event['id']}/evidence")
    shown = ok(planner.post(url, files={"evidence": ("sheet.pdf", SHEET, "application/pdf")}))
    assert shown["evidence_first_sha256"] == _sha(SHEET) and shown["evidence_redaction"] is None
    ok(planner.post(f"{url}/redaction", data={"reason": REASON},
                    files={"evidence": ("r.pdf", REDACTED, "application/pdf")}))
    shown = ok(planner.post(url, files={"evidence": ("minutes.pdf", OTHER, "application/pdf")}))
    assert shown["evidence_first_sha256"] == _sha(OTHER)
    assert shown["evidence_redaction"] is None and shown["evidence_redaction_reason"] is None
    assert shown["evidence_redacted_at"] is None and shown["evidence_redacted_sha256"] is None
    html = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert _public_pdf(s, event["id"]).content == OTHER
    assert "Evidence redacted on" not in html and REASON not in html
    # The new PDF can be redacted in its turn.
    done = ok(planner.post(f"{url}/redaction", data={"reason": REASON2},
                           files={"evidence": ("r.pdf", REDACTED, "application/pdf")}))
    assert done["evidence_first_sha256"] == _sha(OTHER)
    assert done["evidence_redacted_sha256"] == _sha(REDACTED)
    # A removal is cleared the same way.
    ok(planner.post(f"{url}/redaction", data={"reason": REASON}))
    shown = ok(planner.post(url, files={"evidence": ("sheet.pdf", SHEET, "application/pdf")}))
    assert shown["evidence_redaction"] is None and shown["evidence_removal_reason"] is None
    assert shown["evidence_removed_at"] is None and shown["evidence_first_sha256"] == _sha(SHEET)


def test_the_migration_fills_the_hashes_and_both_traces(scenario_on: Scenario) -> None:
    """Migration 0015 fills the first hash from the stored PDF where it was never
    redacted, splits a removal after a redaction back into both traces from the audit log,
    and drops a "redacted" label that stuck to a plain upload (on SQLite and PostgreSQL)."""
    from alembic import command
    from sqlalchemy import text

    from openlfr.storage.db import alembic_config, migrate

    s = scenario_on
    s.prepare()
    s.engage()
    planner = s.staff["planner"]
    plain, both, relabelled = (e["id"] for e in ok(planner.get(s.url("/engagement")))[:3])

    def upload(event_id: int, content: bytes) -> None:
        ok(planner.post(s.url(f"/engagement/{event_id}/evidence"),
                        files={"evidence": ("sheet.pdf", content, "application/pdf")}))

    def redact(event_id: int, reason: str, content: bytes | None) -> None:
        ok(planner.post(s.url(f"/engagement/{event_id}/evidence/redaction"),
                        data={"reason": reason}, files=None if content is None else {
                            "evidence": ("r.pdf", content, "application/pdf")}))

    upload(plain, OTHER)
    upload(both, SHEET)
    redact(both, REASON, REDACTED)
    s.clock.advance(hours=2)
    redact(both, REASON2, None)
    upload(relabelled, SHEET)
    redact(relabelled, REASON, REDACTED)
    upload(relabelled, OTHER)
    columns = ("evidence_first_sha256, evidence_redaction, evidence_redaction_reason, "
               "evidence_redacted_at, evidence_redacted_by, evidence_redacted_sha256, "
               "evidence_removal_reason, evidence_removed_at, evidence_removed_by")
    engine = s.staff.platform.engine

    def rows() -> dict[int, Any]:
        with engine.connect() as conn:
            return {r[0]: tuple(r[1:]) for r in conn.execute(text(
                f"SELECT id, {columns} FROM engagement_events"))}

    before = rows()
    assert before[both][6] == REASON2 and before[both][2] == REASON
    command.downgrade(alembic_config(engine), "0014")
    with engine.begin() as conn:
        # Before 0015 the removal wrote over the redaction, and a later upload kept the label.
        assert conn.execute(text("SELECT evidence_redaction_reason FROM engagement_events "
                                 "WHERE id = :id"), {"id": both}).scalar() == REASON2
        conn.execute(text("UPDATE engagement_events SET evidence_redaction = 'redacted', "
                          "evidence_redaction_reason = :reason, evidence_redacted_at = "
                          "evidence_redacted_at WHERE id = :id"),
                     {"reason": REASON, "id": relabelled})
    migrate(engine)
    after = rows()
    assert after[plain][0] == _sha(OTHER) and after[plain][1:] == (None,) * 8
    assert after[both] == before[both]
    assert after[relabelled][0] == _sha(OTHER) and after[relabelled][1:] == (None,) * 8


def test_an_event_removed_by_amendment_keeps_its_evidence_trace_public(
        scenario: Scenario) -> None:
    """Removing the event by amendment took its redaction's published reason and hashes
    off the public record; the amendment's "before" now carries them."""
    s = scenario
    event = _authorised_with_sheet(s)
    planner = s.staff["planner"]
    ok(planner.post(s.url(f"/engagement/{event['id']}/evidence/redaction"),
                    data={"reason": REASON},
                    files={"evidence": ("r.pdf", REDACTED, "application/pdf")}))
    ok(planner.post(s.url("/amendments"), json={
        "record": "engagement", "event_id": event["id"],
        "reason": "The event was entered twice by mistake; removing the duplicate entry."}),
        201)
    public = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    [removed] = [c for a in public["amendments"] for c in a["changes"]
                 if c["field"] == f"event {event['id']}"]
    before = removed["before"]
    assert before["evidence_pdf"] and before["evidence_redaction"] == "redacted"
    assert before["evidence_redaction_reason"] == REASON
    assert before["evidence_first_sha256"] == hashlib.sha256(SHEET).hexdigest()
    assert before["evidence_redacted_sha256"] == hashlib.sha256(REDACTED).hexdigest()
