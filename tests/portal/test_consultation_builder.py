"""The staff consultation builder over HTTP: a planner writes the sheet and questions,
sees each flag of the wording check next to its text with why and a suggestion, is
refused when opening with unresolved flags (the page lists them), records a reason to
keep wording (published), and opens and closes the consultation. Forms need the page's
CSRF token; only planners may write, authorisers may read."""

from __future__ import annotations

import html as html_lib
import json
import re
from typing import Any

import sqlalchemy as sa
from platform_helpers import Scenario, ok
from portal_helpers import csrf_from

from openlfr.storage import models as m

LEADING_QUESTION = "Is this something that you think is a good idea, and would support?"
NEUTRAL_QUESTION = "What do you think about the use of live facial recognition here?"
BENEFITS = "Finding people wanted by a court more quickly than officers could alone."
RISKS = ("The cameras see everyone who passes, which affects privacy. False alerts can lead "
         "to people being stopped who are not wanted, and accuracy can differ between "
         "demographic groups. Some people may avoid the area; faces that match nobody are "
         "deleted at once.")
COUNTERSIGNED = ("The board read the council's 2024 survey; repeating its wording lets the "
                 "answers be compared, and the neutral question comes first.")
REASON = ("This is the wording of the council's own 2024 survey; we repeat it so the answers "
          "can be compared, and ask the neutral question first.")


def _url(s: Scenario, action: str = "") -> str:
    return f"/staff/deployments/{s.deployment_id}/consultation{action}"


def _published(s: Scenario) -> None:
    planner = s.staff["planner"]
    s.draft()
    ok(planner.post(s.url("/propose")))
    ok(planner.post(s.url("/publish-notice")))


def _post(s: Scenario, action: str, data: dict[str, Any], role: str = "planner") -> Any:
    """Post a form of the builder the way a browser would: with the page's CSRF token."""
    client = s.staff[role]
    page = client.get(_url(s))
    assert page.status_code == 200, page.text
    return client.post(_url(s, action), data={"csrf_token": csrf_from(page.text), **data},
                       follow_redirects=False)


def _save(s: Scenario, benefits: str, risks: str, *questions: tuple[str, str]) -> Any:
    data = {"benefits": benefits, "risks": risks}
    for n, (text, options) in enumerate(questions, start=1):
        data[f"q{n}_text"], data[f"q{n}_options"] = text, options
    return _post(s, "", data)


def _flags(page: str, where: str) -> list[dict[str, str]]:
    """The flags shown under a place: rule, excerpt, why, suggestion, kept."""
    found = []
    for block in re.findall(rf'<ul class="flags" data-test="flags" data-where="{where}".*?</ul>',
                            page, re.S):
        for item in re.findall(r'<li class="flag.*?</li>', block, re.S):
            def part(name: str, item: str = item) -> str:
                match = re.search(rf'data-test="{name}">(.*?)</', item, re.S)
                return html_lib.unescape(match.group(1)).strip() if match else ""
            rule = re.search(r'data-rule="([^"]+)"', item)
            kept = re.search(r'data-kept="([^"]+)"', item)
            found.append({"rule": rule.group(1) if rule else "", "excerpt": part("flag-excerpt"),
                          "why": part("flag-why"), "suggestion": part("flag-suggestion"),
                          "kept": kept.group(1) if kept else ""})
    return found


def _consultation(s: Scenario) -> m.Consultation:
    with s.staff.platform.sessions() as session:
        row = session.scalar(sa.select(m.Consultation).where(
            m.Consultation.deployment_id == s.deployment_id))
        assert row is not None
        return row


def test_planner_sees_flags_is_refused_then_keeps_one_fixes_the_rest_and_opens(
        scenario: Scenario) -> None:
    s = scenario
    _published(s)
    planner = s.staff["planner"]
    empty = planner.get(_url(s))
    assert empty.status_code == 200 and 'data-status="none"' in empty.text
    assert 'data-test="consultation-form"' in empty.text

    r = _save(s, "It keeps the high street safe from criminals.", "",
              (NEUTRAL_QUESTION, ""), (LEADING_QUESTION, "yes\nno"))
    assert r.status_code == 303 and r.headers["location"].endswith("?done=saved")
    page = planner.get(r.headers["location"]).text
    assert 'data-test="notice"' in page
    q2 = _flags(page, "q2")
    assert {f["rule"] for f in q2} == {"asks_for_support", "asks_if_good_idea",
                                        "two_questions_in_one"}
    good_idea = next(f for f in q2 if f["rule"] == "asks_if_good_idea")
    assert good_idea["excerpt"] == "good idea" and good_idea["kept"] == "false"
    assert "good idea" in good_idea["why"] and "What do you think about" in good_idea[
        "suggestion"]
    assert _flags(page, "q1") == []
    sheet = _flags(page, "information_sheet")
    assert {f["rule"] for f in sheet} == {"describes_risks", "keeps_you_safe", "criminals"}
    assert all(f["why"] and f["suggestion"] for f in sheet)
    assert 'data-count="6"' in page  # flags without a reason

    # Opening is refused, with the unresolved flags listed on the page.
    refused = _post(s, "/open", {})
    assert refused.status_code == 409
    listed = re.findall(r'data-test="refused-flag" data-where="([^"]+)" data-rule="([^"]+)"',
                        refused.text)
    assert ("q2", "asks_if_good_idea") in listed and ("information_sheet", "criminals") in listed
    assert _consultation(s).status == "draft"

    # A reason must be substantive.
    short = _post(s, "/keep", {"where": "q2", "reason": "Because."})
    assert short.status_code == 422
    assert re.search(r'data-field="reason_q2">A reason must be at least 40 characters',
                     short.text)
    assert "Because." in short.text  # what was typed is kept
    assert _consultation(s).wording_exceptions == {}

    kept = _post(s, "/keep", {"where": "q2", "reason": REASON})
    assert kept.status_code == 303 and kept.headers["location"].endswith("?done=kept")
    page = planner.get(_url(s)).text
    assert all(f["kept"] == "true" for f in _flags(page, "q2"))
    assert REASON in html_lib.unescape(page)
    still = _post(s, "/open", {})
    assert still.status_code == 409
    assert {w for w, _ in re.findall(r'data-test="refused-flag" data-where="([^"]+)" '
                                     r'data-rule="([^"]+)"', still.text)} == {
        "information_sheet"}

    # Fix the sheet; q2 is unchanged, so its reason stays.
    assert _save(s, BENEFITS, RISKS, (NEUTRAL_QUESTION, ""),
                 (LEADING_QUESTION, "yes\nno")).status_code == 303
    assert set(_consultation(s).wording_exceptions) == {"q2"}
    # Kept wording needs a member of oversight's countersignature before it opens.
    waiting = _post(s, "/open", {})
    assert waiting.status_code == 409 and "countersign" in waiting.text
    assert 'data-test="awaiting-countersignature"' in planner.get(_url(s)).text
    oversight_page = s.staff["oversight"].get(_url(s)).text
    assert 'data-test="countersign-form" data-where="q2"' in oversight_page
    assert _post(s, "/countersign", {"where": "q2", "countersignature": COUNTERSIGNED},
                 role="planner").status_code == 403
    signed = _post(s, "/countersign", {"where": "q2", "countersignature": COUNTERSIGNED},
                   role="oversight")
    assert signed.status_code == 303, signed.text
    opened = _post(s, "/open", {})
    assert opened.status_code == 303 and opened.headers["location"].endswith("?done=opened")
    assert _consultation(s).status == "open"
    page = planner.get(_url(s)).text
    assert 'data-test="consultation-form"' not in page  # the wording is frozen once open
    assert 'data-test="close"' in page and 'data-test="public-link"' in page

    public = s.staff.anon.get(f"/deployments/{s.reference}/consultation").text
    assert REASON in html_lib.unescape(public) and "good idea" in public
    audit = ok(s.staff["admin"].get("/api/audit/events?limit=1000"))
    kept_events = [e for e in audit if e["action"] == "consultation.wording_kept"]
    assert len(kept_events) == 1
    assert json.loads(kept_events[0]["details"])["where"] == "q2"
    opened_event = next(e for e in audit if e["action"] == "consultation.opened")
    assert json.loads(opened_event["details"]) == {"wording_kept": ["q2"]}


def test_rewriting_kept_wording_withdraws_its_reason(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    _save(s, BENEFITS, RISKS, ("Would you support LFR on the high street?", ""))
    assert _post(s, "/keep", {"where": "q1", "reason": REASON}).status_code == 303
    assert set(_consultation(s).wording_exceptions) == {"q1"}
    # Rewritten (still leading): the old reason no longer applies.
    _save(s, BENEFITS, RISKS, ("Would you support LFR at the station?", ""))
    assert _consultation(s).wording_exceptions == {}
    page = s.staff["planner"].get(_url(s)).text
    assert [f["kept"] for f in _flags(page, "q1")] == ["false"]
    assert _post(s, "/open", {}).status_code == 409
    audit = ok(s.staff["admin"].get("/api/audit/events?limit=1000"))
    saved = [e for e in audit if e["action"] == "consultation.saved"]
    assert json.loads(saved[-1]["details"])["wording_reasons_withdrawn"] == ["q1"]


def test_flags_on_the_choices_are_shown_under_their_question(scenario: Scenario) -> None:
    """A neutral question with one-sided, loaded choices: the flags appear under it, a
    reason can be kept for them, and rewriting only the choices withdraws that reason."""
    s = scenario
    _published(s)
    slanted = ("Strongly support\nSupport\nSupport with conditions\n"
               "Keep the criminals off our streets")
    assert _save(s, BENEFITS, RISKS, (NEUTRAL_QUESTION, slanted)).status_code == 303
    page = s.staff["planner"].get(_url(s)).text
    flags = _flags(page, "q1")
    assert [(f["rule"], f["excerpt"]) for f in flags] == [("criminals", "criminals"),
                                                          ("one_sided_choices", "")]
    assert "no way to oppose" in flags[1]["why"]
    assert "Neither support nor oppose" in flags[1]["suggestion"]
    assert 'data-test="keep" data-where="q1"' in page
    assert _post(s, "/keep", {"where": "q1", "reason": REASON}).status_code == 303
    page = s.staff["planner"].get(_url(s)).text
    assert [f["kept"] for f in _flags(page, "q1")] == ["true", "true"]
    # The same question, its choices rewritten (still one-sided): the reason lapses.
    _save(s, BENEFITS, RISKS, (NEUTRAL_QUESTION, "Support\nStrongly support\nDon't know"))
    assert _consultation(s).wording_exceptions == {}
    page = s.staff["planner"].get(_url(s)).text
    assert [(f["rule"], f["kept"]) for f in _flags(page, "q1")] == [
        ("one_sided_choices", "false")]


def test_a_reason_can_be_withdrawn(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    _save(s, BENEFITS, RISKS, ("Would you support LFR on the high street?", ""))
    _post(s, "/keep", {"where": "q1", "reason": REASON})
    r = _post(s, "/withdraw", {"where": "q1"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=withdrawn")
    assert _consultation(s).wording_exceptions == {}
    r = _post(s, "/withdraw", {"where": "q1"})
    assert r.status_code == 409 and "no reason is recorded" in html_lib.unescape(r.text).lower()


def test_unflagged_wording_needs_no_reason_and_opens(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    _save(s, BENEFITS, RISKS, (NEUTRAL_QUESTION, ""),
          ("How, if at all, would it affect how you use the high street?",
           "more\nno change\nless"))
    page = s.staff["planner"].get(_url(s)).text
    assert 'data-test="flag"' not in page and 'data-test="keep-reason"' not in page
    r = _post(s, "/keep", {"where": "q1", "reason": REASON})
    assert r.status_code == 409 and "q1 is not flagged" in html_lib.unescape(r.text).lower()
    assert _post(s, "/open", {}).status_code == 303
    assert _post(s, "/close", {}).status_code == 303
    page = s.staff["planner"].get(_url(s)).text
    assert 'data-test="results"' in page and 'data-responses="0"' in page


def test_bad_input_is_shown_next_to_the_box_and_saves_nothing(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    r = _save(s, BENEFITS, RISKS, ("Why?", ""), (NEUTRAL_QUESTION, "only one choice"),
              ("", "a\nb"))
    assert r.status_code == 422
    assert re.search(r'data-field="q1_text">Write the question', r.text)
    assert re.search(r'data-field="q2_options">Give at least two choices', r.text)
    assert re.search(r'data-field="q3_text">Write the question', r.text)
    assert "only one choice" in r.text  # the typed text is shown again
    assert planner_has_no_consultation(s)
    r = _save(s, BENEFITS, RISKS)
    assert r.status_code == 422 and "Write at least one question" in r.text
    assert planner_has_no_consultation(s)


def planner_has_no_consultation(s: Scenario) -> bool:
    return s.staff["planner"].get(s.url("/consultation")).status_code == 404


def test_forms_need_the_csrf_token_and_the_planner_role(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    planner = s.staff["planner"]
    r = planner.post(_url(s), data={"benefits": BENEFITS, "risks": RISKS,
                                    "q1_text": NEUTRAL_QUESTION, "csrf_token": "0" * 64})
    assert r.status_code == 403 and planner_has_no_consultation(s)
    assert planner.post(_url(s, "/open"), data={}).status_code == 403

    anonymous = s.staff.anon.get(_url(s), follow_redirects=False)
    assert anonymous.status_code == 303 and "/staff/login?next=" in anonymous.headers["location"]
    for role in ("operator", "oversight", "councillor", "admin"):  # every staff role reads
        reader = s.staff[role].get(_url(s))
        assert reader.status_code == 200 and 'data-test="consultation-form"' not in reader.text
    _save(s, BENEFITS, RISKS, ("Would you support LFR on the high street?", ""))
    reader = s.staff["authoriser"].get(_url(s))
    assert reader.status_code == 200
    assert 'data-test="consultation-form"' not in reader.text  # read-only
    assert [f["rule"] for f in _flags(reader.text, "q1")] == ["asks_for_support"]
    token = csrf_from(reader.text)
    r = s.staff["authoriser"].post(_url(s, "/open"), data={"csrf_token": token})
    assert r.status_code == 403 and "for the planner role" in r.text
    assert _consultation(s).status == "draft"


def test_unknown_deployment_is_not_found(scenario: Scenario) -> None:
    s = scenario
    planner = s.staff["planner"]
    assert planner.get("/staff/deployments/999999/consultation").status_code == 404
    assert planner.get("/staff/deployments/99999999999999/consultation").status_code == 404


def test_the_page_has_the_live_check_script_and_endpoint(scenario: Scenario) -> None:
    """The script re-checks typed text through the API's wording check, which runs the
    same rules as the save (and refuses other roles)."""
    s = scenario
    _published(s)
    page = s.staff["planner"].get(_url(s)).text
    assert f'data-check-url="/api/deployments/{s.deployment_id}/consultation/wording-check"' \
        in page
    script = re.search(r'<script src="([^"]+consultation_builder.js)"', page)
    assert script and s.staff.anon.get(script.group(1)).status_code == 200
    issues = ok(s.staff["planner"].post(s.url("/consultation/wording-check"), json={
        "benefits": BENEFITS, "risks": RISKS,
        "questions": ["", "Don't you agree the van helps?", NEUTRAL_QUESTION]}))
    assert [(i["where"], i["rule"]) for i in issues] == [("q2", "dont_you_think")]
    assert issues[0]["suggestion"] and issues[0]["problem"]
    assert s.staff["operator"].post(s.url("/consultation/wording-check"),
                                    json={}).status_code == 403
