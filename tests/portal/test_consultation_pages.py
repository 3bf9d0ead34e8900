"""The public consultation page over HTTP: anyone answers anonymously (with an optional
postcode district, validated), one client is rate-limited, results are hidden while it is
open and published (counts, shares, districts; never free text) once it closes, drafts
are never shown, and nothing identifying is asked for, stored or shown."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from platform_helpers import Scenario, TestClient, ok
from portal_helpers import assert_no_personal_data, draft_elsewhere, publish_realistic_deployment

from openlfr.storage import models as m
from openlfr.web.pages import consultation

CONSULTATION: dict[str, Any] = {
    "benefits": "Finding people who are missing and at risk, or wanted by a court, more "
                "quickly than officers could by looking for them.",
    "risks": "The cameras see everyone who passes, which affects privacy. False alerts can "
             "lead to people being stopped who are not wanted, and accuracy can differ "
             "between demographic groups, so errors may fall unequally (bias). Some people "
             "may avoid the area; faces that match nobody are deleted at once.",
    "questions": [
        {"text": "What do you think about the use of live facial recognition here?"},
        {"text": "How, if at all, would it affect how you use the high street that day?",
         "options": ["I would use it more", "No change", "I would use it less"]},
    ],
}


def _published(s: Scenario, open_it: bool = True, body: dict[str, Any] | None = None) -> int:
    """A deployment with published notice and a consultation (opened unless told)."""
    planner = s.staff["planner"]
    s.draft()
    ok(planner.post(s.url("/propose")))
    ok(planner.post(s.url("/publish-notice")))
    c = ok(planner.put(s.url("/consultation"), json=body or CONSULTATION))
    if open_it:
        ok(planner.post(s.url("/consultation/open")))
    return int(c["id"])


def _page(s: Scenario, client: TestClient | None = None) -> str:
    r = (client or s.staff.anon).get(f"/deployments/{s.reference}/consultation")
    assert r.status_code == 200, r.text
    return r.text


def _answer(s: Scenario, client: TestClient | None = None, **fields: str) -> Any:
    return (client or s.staff.anon).post(f"/deployments/{s.reference}/consultation",
                                         data=fields, follow_redirects=False)


def _responses(s: Scenario) -> list[m.ConsultationResponse]:
    with s.staff.platform.sessions() as session:
        return list(session.scalars(sa.select(m.ConsultationResponse).order_by(
            m.ConsultationResponse.id)))


def test_a_resident_answers_anonymously_and_is_thanked(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    html = _page(s)
    assert 'data-status="open"' in html
    assert CONSULTATION["benefits"] in html and "which affects privacy" in html
    assert 'data-test="results"' not in html  # nothing published while it is open
    names = set(re.findall(r'<(?:input|textarea)[^>]*name="([^"]+)"', html))
    assert names == {"q1", "q2", "postcode_district"}  # nothing identifying is asked for
    r = _answer(s, q1="Fine if it finds missing people.", q2="No change",
                postcode_district=" se11 ")
    assert r.status_code == 303
    assert r.headers["location"].endswith(f"/deployments/{s.reference}/consultation/thanks")
    thanks = s.staff.anon.get(r.headers["location"])
    assert thanks.status_code == 200 and "recorded anonymously" in thanks.text
    [row] = _responses(s)
    assert row.answers == {"q1": "Fine if it finds missing people.", "q2": "No change"}
    assert row.postcode_district == "SE11"


def test_only_the_district_is_stored_and_extra_fields_are_ignored(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    r = _answer(s, q2="No change", email="me@example.org", name="Ann Example",
                postcode_district="SW1A")
    assert r.status_code == 303
    [row] = _responses(s)
    columns = {c.key for c in sa.inspect(m.ConsultationResponse).columns}
    assert columns == {"id", "consultation_id", "answers", "postcode_district", "submitted_at"}
    assert row.answers == {"q2": "No change"} and row.postcode_district == "SW1A"
    audit = ok(s.staff["admin"].get("/api/audit/events?limit=1000"))
    received = [e for e in audit if e["action"] == "consultation.response_received"]
    assert len(received) == 1 and "SW1A" not in str(received)  # the audit log holds no answers
    assert "me@example.org" not in str(audit) and "Ann Example" not in str(audit)


@pytest.mark.parametrize(("typed", "problem"), [
    ("SE11 5AA", "not the full postcode"),
    ("se115aa", "not the full postcode"),
    ("12345", "first part of a UK postcode"),
    ("LAMBETH", "first part of a UK postcode"),
    ("S", "first part of a UK postcode"),
    ("<b>E1</b>", "first part of a UK postcode"),
])
def test_a_bad_postcode_district_is_shown_again_and_nothing_is_recorded(
        scenario: Scenario, typed: str, problem: str) -> None:
    s = scenario
    _published(s)
    r = _answer(s, q1="Worried about privacy.", postcode_district=typed)
    assert r.status_code == 422
    errors = re.findall(r'data-field="postcode_district">([^<]*)<', r.text)
    assert errors and problem in errors[0]
    assert "Worried about privacy." in r.text  # what was typed comes back
    assert "<b>E1</b>" not in r.text
    assert _responses(s) == []


@pytest.mark.parametrize("district", ["SE11", "sw1a", "E1", "ec1a", "CR0", "W1", "m1"])
def test_valid_districts_are_upper_cased(scenario: Scenario, district: str) -> None:
    s = scenario
    _published(s)
    assert _answer(s, q2="No change", postcode_district=district).status_code == 303
    assert _responses(s)[0].postcode_district == district.upper()


def test_bad_answers_are_refused_with_reasons(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    r = _answer(s, q1="", q2="", postcode_district="")
    assert r.status_code == 422 and "Answer at least one question." in r.text
    r = _answer(s, q2="Yes please")  # not one of the choices
    assert r.status_code == 422
    assert re.search(r'data-field="q2">choose one of: I would use it more', r.text)
    r = _answer(s, q1="x" * 2001)
    assert r.status_code == 422 and 'data-field="q1"' in r.text
    assert _responses(s) == []


def test_results_are_hidden_while_open_and_published_once_closed(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    for i, (q2, district) in enumerate([("No change", "SE11"), ("No change", "se11"),
                                        ("I would use it less", "SE1"),
                                        ("I would use it less", "")]):
        assert _answer(s, _client(s, i), q1="My private view on this.", q2=q2,
                       postcode_district=district).status_code == 303
    open_html = _page(s)
    assert 'data-test="results"' not in open_html and "data-count" not in open_html
    public = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["consultation_results"] is None

    ok(s.staff["planner"].post(s.url("/consultation/close")))
    html = _page(s)
    assert 'data-status="closed"' in html and 'data-test="consultation-form"' not in html
    assert 'data-responses="4"' in html
    assert re.search(r'data-option="No change" data-count="2"><td>No change</td><td>2</td>'
                     r'<td>50%</td>', html)
    assert 'data-option="I would use it more" data-count="0"' in html
    assert 'data-district="SE11" data-count="2"' in html
    assert 'data-district="SE1" data-count="1"' in html
    assert 'data-test="no-district" data-count="1"' in html
    assert "My private view on this." not in html  # free text is never published
    assert "Free-text answers are not published" in html
    public = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["consultation_results"]["by_district"] == {"SE1": 1, "SE11": 2}
    assert "My private view" not in str(public)
    # Closed: no more answers.
    r = _answer(s, q2="No change")
    assert r.status_code == 409 and "no longer taking answers" in r.text
    assert len(_responses(s)) == 4


def test_a_response_counts_once_per_client_and_others_are_not_limited(
        scenario: Scenario) -> None:
    s = scenario
    _published(s)
    assert _answer(s, q2="No change").status_code == 303
    limited = _answer(s, q2="I would use it less")
    assert limited.status_code == 429 and 'data-test="rate-limited"' in limited.text
    assert "once per client" in limited.text
    # The API takes no second response from this client either.
    r = s.staff.anon.post(f"/api/public/consultations/{_responses(s)[0].consultation_id}"
                          "/responses", json={"answers": {"q2": "No change"}})
    assert r.status_code == 429
    assert len(_responses(s)) == 1
    other = _client(s, 9)
    # Bad input uses up nothing: the other client's one response is still to come.
    assert _answer(s, client=other, q2="nonsense").status_code == 422
    assert _answer(s, client=other, q2="No change").status_code == 303
    assert len(_responses(s)) == 2
    assert consultation.RESPONSES_PER_HOUR >= 1


def _client(s: Scenario, i: int) -> TestClient:
    """A client at an address of its own."""
    return TestClient(s.staff.app, base_url="http://testserver", client=(f"203.0.113.{i}", 5000))


def test_no_or_draft_consultation_is_not_published(scenario: Scenario) -> None:
    s = scenario
    secret = {**CONSULTATION, "benefits": "Draft benefits nobody may read yet."}
    _published(s, open_it=False, body=secret)
    html = _page(s)
    assert 'data-test="no-consultation"' in html
    assert "Draft benefits nobody may read yet." not in html
    assert _answer(s, q2="No change").status_code == 404
    assert _responses(s) == []
    deployment = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert "Draft benefits nobody may read yet." not in deployment


def test_unpublished_or_unknown_deployments_are_not_found(scenario: Scenario) -> None:
    s = scenario
    draft = draft_elsewhere(s)
    for reference in (draft["reference"], "LFR-2026-9999", "nonsense"):
        for path in ("consultation", "consultation/thanks"):
            r = s.staff.anon.get(f"/deployments/{reference}/{path}")
            assert r.status_code == 404, (reference, path)
        assert s.staff.anon.post(f"/deployments/{reference}/consultation",
                                 data={"q1": "hello"}).status_code == 404


def test_deployment_page_links_to_the_consultation(scenario: Scenario) -> None:
    s = scenario
    publish_realistic_deployment(s)  # closed, with the minimum number of responses
    html = s.staff.anon.get(f"/deployments/{s.reference}").text
    link = re.search(r'<a href="([^"]+)" data-test="consultation-link">([^<]+)</a>', html)
    assert link and link.group(2) == "The consultation and its results"
    page = s.staff.anon.get(link.group(1))
    counted = s.staff.platform.settings.consultation_min_responses
    assert page.status_code == 200 and f'data-responses="{counted}"' in page.text
    assert "Worried" not in page.text  # the scenario's free-text answer
    assert_no_personal_data(page.text)


def test_wording_kept_on_purpose_is_published_with_the_reason(scenario: Scenario) -> None:
    s = scenario
    body = {**CONSULTATION, "questions": [
        *CONSULTATION["questions"],
        {"text": "Do you agree or disagree that officers should explain each stop, and "
                 "would you support body cameras?"}]}
    _published(s, open_it=False, body=body)
    planner = s.staff["planner"]
    reason = ("Both parts were asked together at the ward panel; we repeat the wording so "
              "that answers can be compared with theirs.")
    ok(planner.put(s.url("/consultation/wording-exceptions/q3"), json={"reason": reason}))
    countersigned = ("The board checked the ward panel survey: keeping both parts together "
                     "is needed to compare the answers.")
    ok(s.staff["oversight"].post(s.url("/consultation/wording-exceptions/q3/countersign"),
                                 json={"reason": countersigned}))
    ok(planner.post(s.url("/consultation/open")))
    html = _page(s)
    kept = re.search(r'<section id="kept-wording".*?</section>', html, re.S)
    assert kept and reason in kept.group(0) and "and would you support" in kept.group(0)
    assert countersigned in kept.group(0)
    public = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    [item] = public["consultation"]["kept_wording"]
    assert item["where"] == "q3" and item["reason"] == reason
    assert {f["rule"] for f in item["flags"]} == {"two_questions_in_one"}
    assert all(f["suggestion"] and f["kept"] for f in item["flags"])
    deployment = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert "1 flagged part of its wording was kept on purpose" in deployment
