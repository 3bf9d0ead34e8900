"""A collective objection's words go public only once its starter confirms their own
signature, and staff who may moderate feedback may withhold them for abuse by the same
rule (``governance.answers.moderation_problem``): the reason is published in their place,
and the objection, its signatures, its count and its hearing requirement stay."""

from __future__ import annotations

import json
import re
from pathlib import Path

from platform_helpers import Scenario, csrf_from, ok
from sqlalchemy import select, text

from openlfr.storage import models as m
from openlfr.storage.db import make_engine, migrate

AREA = "lambeth--vauxhall"
#: Names a private person with an address and a phone number.
ABUSIVE = "John Doe of 4 Example Road SW8 is a known robber, call him on 07700900123."
REASON = "Names a private person with his home address and phone number."


def _published(s: Scenario) -> None:
    s.draft()
    s.publish_notice()


def _confirm_link(s: Scenario, address: str) -> str:
    with s.staff.platform.sessions() as db:
        bodies = db.scalars(select(m.OutgoingEmail.body).where(
            m.OutgoingEmail.to_address == address))
        [link] = [found.replace("http://127.0.0.1:8000", "") for body in bodies
                  for found in re.findall(r"\S+/collective/signatures/\S+/confirm", body)]
    return link


def _start(s: Scenario, words: str, address: str = "starter@example.org") -> int:
    filed = ok(s.staff.anon.post(f"/api/public/areas/{AREA}/collective-objections",
                                 json={"text": words, "email": address}), 202)
    return int(filed["id"])


def _confirm(s: Scenario, address: str) -> None:
    assert s.staff.anon.post(_confirm_link(s, address)).status_code == 200


def _listed(s: Scenario) -> list[dict[str, object]]:
    return list(ok(s.staff.anon.get(f"/api/public/areas/{AREA}/collective-objections")))


def test_the_words_are_public_only_once_the_starter_confirms(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    oid = _start(s, ABUSIVE, "someone-else@example.org")
    assert _listed(s) == []
    assert ABUSIVE not in s.staff.anon.get(f"/areas/{AREA}/objections").text
    assert ABUSIVE not in s.staff.anon.get(f"/deployments/{s.reference}").text
    # Nobody can co-sign (and so get the words e-mailed) before the starter vouches.
    r = s.staff.anon.post(f"/api/public/collective-objections/{oid}/signatures",
                          json={"email": "cosigner@example.org"})
    assert r.status_code == 404, r.text
    # Staff see it, marked as not public, so they can act on it before it is.
    page = s.staff["planner"].get("/staff/escalations").text
    assert ABUSIVE in page and 'data-test="unpublished"' in page

    _confirm(s, "someone-else@example.org")
    [listed] = _listed(s)
    assert listed["text"] == ABUSIVE and listed["published_at"] is not None
    assert listed["signatures"] == 1
    assert ABUSIVE in s.staff.anon.get(f"/deployments/{s.reference}").text
    ok(s.staff.anon.post(f"/api/public/collective-objections/{oid}/signatures",
                         json={"email": "cosigner@example.org"}), 202)


def test_the_words_are_withheld_for_abuse_and_the_objection_stands(scenario: Scenario) -> None:
    s = scenario
    s.staff.platform.settings.collective_objection_threshold = 2
    s.prepare()  # every record the gates ask for: only the hearing is left
    oid = _start(s, ABUSIVE)
    _confirm(s, "starter@example.org")
    ok(s.staff.anon.post(f"/api/public/collective-objections/{oid}/signatures",
                         json={"email": "second@example.org"}), 202)
    _confirm(s, "second@example.org")
    hide = f"/api/collective-objections/{oid}/hide"
    # The feedback moderation's rule, and its power.
    r = s.staff["planner"].post(hide, json={"reason": "Abusive content, removed per policy"})
    assert r.status_code == 422 and "what makes the text abusive" in r.text, r.text
    assert s.staff["oversight"].post(hide, json={"reason": REASON}).status_code == 403
    assert s.staff.anon.post(hide, json={"reason": REASON}).status_code == 401

    staff_view = ok(s.staff["planner"].post(hide, json={"reason": REASON}))
    assert staff_view["hidden_for_abuse"] and staff_view["text"] == ABUSIVE

    [listed] = _listed(s)
    assert listed["text"] is None and listed["hidden_for_abuse"]
    assert listed["moderation_reason"] == REASON and listed["moderated_at"] is not None
    assert listed["signatures"] == 2 and listed["needs_hearing"]
    area_page = s.staff.anon.get(f"/areas/{AREA}/objections").text
    deployment_page = s.staff.anon.get(f"/deployments/{s.reference}").text
    for html in (area_page, deployment_page):
        assert "07700900123" not in html and "John Doe" not in html
        assert REASON in html and 'data-test="moderated"' in html
    assert 'data-signatures="2"' in deployment_page
    # Moderation never stops residents objecting together (a force could otherwise hold
    # an objection under the threshold): it can still be signed, and its e-mail carries
    # the published reason, not the words.
    assert 'data-test="sign-form"' in area_page
    ok(s.staff.anon.post(f"/api/public/collective-objections/{oid}/signatures",
                         json={"email": "third@example.org"}), 202)
    with s.staff.platform.sessions() as db:
        [mail] = db.scalars(select(m.OutgoingEmail.body).where(
            m.OutgoingEmail.to_address == "third@example.org"))
    assert "07700900123" not in mail and f"withheld for abuse: {REASON}" in mail

    # Withholding the words does not lift the hearing the signatures require.
    r = s.staff["authoriser"].post(s.url("/authorise"))
    assert r.status_code == 409 and "no oversight hearing" in r.text

    with s.staff.platform.sessions() as db:
        event = db.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "collective_objection.hidden_for_abuse")).one()
    assert event.subject_id == str(oid) and json.loads(event.details) == {"reason": REASON}


def test_staff_withhold_the_words_from_the_escalations_page(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    oid = _start(s, ABUSIVE)
    _confirm(s, "starter@example.org")
    assert 'data-test="collective-hide-form"' not in s.staff["oversight"].get(
        "/staff/escalations").text  # oversight hears objections; it does not moderate them
    planner = s.staff["planner"]
    page = planner.get("/staff/escalations").text
    assert 'data-test="collective-hide-form"' in page
    action = f"/staff/collective/{oid}/hide"
    key = f"collective-reason-{oid}"
    r = planner.post(action, data={"csrf_token": csrf_from(page), key: "n/a"})
    assert r.status_code == 422 and "what makes the text abusive" in r.text
    assert s.staff["oversight"].post(action, data={
        "csrf_token": csrf_from(page), key: REASON}).status_code == 403
    r = planner.post(action, data={"csrf_token": csrf_from(page), key: REASON},
                     follow_redirects=False)
    assert r.status_code == 303 and "done=hidden" in r.headers["location"]
    [listed] = _listed(s)
    assert listed["text"] is None and listed["moderation_reason"] == REASON
    after = planner.get("/staff/escalations").text
    assert REASON in after and 'data-test="collective-hide-form"' not in after


def test_objections_filed_before_stay_public_where_a_signature_stands_behind_them(
        tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'older.db'}")
    try:
        migrate(engine, "0012")
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO collective_objections (id, area_code, text, created_at) VALUES "
                "(1, 'lambeth', 'Signed before.', '2026-03-01 10:00:00'), "
                "(2, 'lambeth', 'Never confirmed.', '2026-03-01 11:00:00')"))
            conn.execute(text(
                "INSERT INTO collective_signatures (objection_id, email, token, created_at, "
                "confirmed_at) VALUES "
                "(1, 'a@example.org', 'token-a-000', '2026-03-01 10:00:00', "
                "'2026-03-02 09:00:00'), "
                "(2, 'b@example.org', 'token-b-000', '2026-03-01 11:00:00', NULL)"))
        migrate(engine)
        with engine.connect() as conn:
            rows = dict(conn.execute(text(
                "SELECT id, published_at FROM collective_objections")).all())
            hidden = conn.execute(text(
                "SELECT COUNT(*) FROM collective_objections WHERE hidden_for_abuse")).scalar()
        assert str(rows[1]).startswith("2026-03-02 09:00") and rows[2] is None
        assert hidden == 0
    finally:
        engine.dispose()
