"""Staff pages for a deployment's records, over HTTP: the impact assessment editor, the
engagement log, the feedback inbox (answers, abuse-only moderation and its public trace),
formal comments and council motions. Nothing personal reaches a public page."""

from __future__ import annotations

from platform_helpers import (
    AREA_PROFILE,
    DECISION,
    EQUALITY,
    MITIGATIONS,
    RISKS,
    Scenario,
    ok,
)
from portal_helpers import assert_no_personal_data, csrf_from, publish_realistic_deployment
from staff_pages_helpers import errors_on, field_error, redirected_to, submit

SECTIONS = {"area_profile": AREA_PROFILE, "risks": RISKS, "mitigations": MITIGATIONS,
            "equality_impact": EQUALITY, "decision": DECISION}


def _published(s: Scenario) -> None:
    """A deployment with notice published (so the public can send feedback)."""
    s.draft()
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/publish-notice")))


# --- community impact assessment ----------------------------------------------------------


def test_assessment_editor_shows_derived_sections_and_findings(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    s.engage()
    planner = s.staff["planner"]
    page_url = f"/staff/deployments/{s.deployment_id}/assessment"
    thin = {**SECTIONS, "area_profile": "A busy high street with shops and a market. " * 4}
    r = submit(planner, page_url, page_url, thin)
    assert redirected_to(r, page_url)
    page = planner.get(page_url).text
    assert "un-publishes it" in page and 'data-published="false"' in page
    # The findings are the completeness check's, listed and beside their section.
    assert "the area profile never describes who lives there" in page
    assert "the consultation has not been run yet" in page
    api = ok(planner.get(s.url("/assessment")))
    assert len(api["findings"]) == page.count('data-test="finding"')
    # Derived sections are written from the records and cannot be typed.
    assert api["engagement_summary"] in page and api["consultation_findings"] in page
    assert 'name="engagement_summary"' not in page and 'name="consultation_findings"' not in page
    assert "75% of attendees were at resident-facing events" in page

    r = submit(planner, page_url, f"{page_url}/publish", {})
    assert r.status_code == 409
    error = field_error(r.text, "form") or ""
    assert "the assessment is incomplete" in error and "never describes who lives" in error
    assert ok(planner.get(s.url("/assessment")))["published_at"] is None

    s.consult()
    r = submit(planner, page_url, page_url, SECTIONS)
    assert redirected_to(r, page_url)
    assert 'data-test="complete"' in planner.get(page_url).text
    # The authoriser may publish (as in the API); oversight only reads.
    r = submit(s.staff["authoriser"], page_url, f"{page_url}/publish", {})
    assert redirected_to(r, page_url)
    assert ok(planner.get(s.url("/assessment")))["published_at"] is not None
    oversight = s.staff["oversight"].get(page_url).text
    assert "<textarea" not in oversight and 'data-test="publish"' not in oversight
    assert AREA_PROFILE.split(",")[0] in oversight
    public = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert AREA_PROFILE.split(",")[0] in public


def test_assessment_errors_keep_what_was_typed(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    planner = s.staff["planner"]
    page_url = f"/staff/deployments/{s.deployment_id}/assessment"
    r = submit(planner, page_url, page_url, {**SECTIONS, "risks": "r" * 20_001})
    assert r.status_code == 422 and errors_on(r.text) == ["risks"]
    assert "at most 20000 characters" in (field_error(r.text, "risks") or "")
    assert AREA_PROFILE.split(",")[0] in r.text and "r" * 20_001 in r.text
    assert ok(planner.get(s.url("/assessment")))["area_profile"] == ""
    r = submit(s.staff["oversight"], page_url, page_url, SECTIONS)
    assert r.status_code == 403


# --- engagement log ---------------------------------------------------------------------------


def test_engagement_log_adds_events_and_shows_the_gate_numbers(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    planner = s.staff["planner"]
    page_url = f"/staff/deployments/{s.deployment_id}/engagement"
    r = submit(planner, page_url, page_url, {
        "held_on": "2026-02-27", "format": "briefing", "audience": "council_officials",
        "met_with": "Lambeth Council scrutiny committee", "attendees": "30",
        "materials": "slides", "questions_raised": ""})
    assert redirected_to(r, page_url)
    page = planner.get(page_url).text
    assert 'data-test="resident-share">0%' in page and 'data-test="required-share">50%' in page
    assert 'data-passed="false"' in page and "Engagement with officials does not count" in page

    r = submit(planner, page_url, page_url, {
        "held_on": "2026-03-01", "format": "street_stall", "audience": "residents",
        "met_with": "Shoppers at Lower Marsh market", "attendees": "45",
        "materials": "leaflet with benefits and risks",
        "questions_raised": "Where are my photos kept?\n\nWho sees the alerts?\n"})
    assert redirected_to(r, page_url)
    events = ok(planner.get(s.url("/engagement")))
    assert events[1]["questions_raised"] == ["Where are my photos kept?", "Who sees the alerts?"]
    page = planner.get(page_url).text
    gate = next(g for g in ok(planner.get(s.url("/gates")))["gates"]
                if g["name"] == "engagement_reach")
    assert gate["passed"] and gate["reason"] in page
    assert 'data-test="resident-share">60%' in page and 'data-share="0.6000"' in page
    assert page.count('data-test="event"') == 2
    assert "Shoppers at Lower Marsh market" in page

    # An event in the future is refused, with the reason, next to the date.
    r = submit(planner, page_url, page_url, {
        "held_on": "2026-03-09", "format": "public_meeting", "audience": "residents",
        "met_with": "A meeting not yet held", "attendees": "1000", "materials": "",
        "questions_raised": ""})
    assert r.status_code == 422 and "is in the future" in (field_error(r.text, "held_on") or "")

    # Errors: shown by field, with what was typed kept, and nothing logged.
    r = submit(planner, page_url, page_url, {
        "held_on": "someday", "format": "", "audience": "residents", "attendees": "-3",
        "met_with": "", "materials": "kept materials", "questions_raised": "A kept question?"})
    assert r.status_code == 422
    assert set(errors_on(r.text)) == {"held_on", "format", "attendees", "met_with"}
    assert 'value="someday"' in r.text and ">A kept question?</textarea>" in r.text
    assert '<option value="residents" selected>' in r.text
    assert len(ok(planner.get(s.url("/engagement")))) == 2

    # A planner removes an event logged in error; oversight only reads.
    first = events[0]["id"]
    r = submit(planner, page_url, f"{page_url}/{first}/delete", {})
    assert redirected_to(r, page_url)
    assert [e["id"] for e in ok(planner.get(s.url("/engagement")))] == [events[1]["id"]]
    r = submit(planner, page_url, f"{page_url}/{first}/delete", {})
    assert r.status_code == 404 and "is not on deployment" in (field_error(r.text, "form") or "")
    oversight = s.staff["oversight"].get(page_url).text
    assert 'data-test="engagement-form"' not in oversight
    assert submit(s.staff["oversight"], page_url, page_url, {"held_on": "2026-03-05"}
                  ).status_code == 403


# --- feedback inbox -----------------------------------------------------------------------------


def _feedback(s: Scenario, kind: str, text: str, contact: str | None = None) -> int:
    body = {"kind": kind, "text": text, **({"contact": contact} if contact else {})}
    return int(ok(s.staff.anon.post(f"/api/public/deployments/{s.reference}/feedback",
                                    json=body), 201)["id"])


def test_feedback_inbox_answers_and_revises_and_shows_contact_only_to_staff(
        scenario: Scenario) -> None:
    s = scenario
    _published(s)
    objection = _feedback(s, "objection", "I do not want my face scanned on my way to work.",
                          "resident@example.org")
    _feedback(s, "support", "Good, robbery here is a real problem.")
    planner = s.staff["planner"]
    inbox = f"/staff/deployments/{s.deployment_id}/feedback"
    page = planner.get(inbox).text
    assert page.count('data-test="feedback-item"') == 2
    assert "Contact (private, never published): resident@example.org" in page
    # 48 hours before the start on 22 March (earlier than 20 days after 2 March).
    assert "Answer due 20 March 2026" in page
    assert page.count('data-test="due"') == 1  # support needs no answer

    action = f"{inbox}/{objection}/answer"
    r = submit(planner, inbox, action, {f"answer-{objection}": ""})
    assert r.status_code == 422
    assert "at least 3 characters" in (field_error(r.text, f"answer-{objection}") or "")
    answer = "Faces that match nobody are discarded at once; nothing is kept."
    r = submit(planner, inbox, action, {f"answer-{objection}": answer})
    assert r.status_code == 422  # an answer to an objection says what came of it
    assert "upheld" in (field_error(r.text, f"outcome-{objection}") or "")
    r = submit(planner, inbox, action, {f"answer-{objection}": answer,
                                        f"outcome-{objection}": "not_upheld"})
    assert redirected_to(r, inbox) and r.headers["location"].endswith(f"#feedback-{objection}")
    public = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert answer in public
    assert_no_personal_data(public)
    # The authoriser may revise it, saying why; the revision replaces it on the public
    # page, and the earlier version stays there with the reason.
    revised = answer + " The assessment explains how."
    r = submit(s.staff["authoriser"], inbox, action, {f"answer-{objection}": revised,
                                                       f"outcome-{objection}": "not_upheld"})
    assert r.status_code == 422 and errors_on(r.text) == [f"revision-{objection}"]
    why = "The answer now points to where the assessment explains it."
    r = submit(s.staff["authoriser"], inbox, action, {f"answer-{objection}": revised,
                                                       f"outcome-{objection}": "not_upheld",
                                                       f"revision-{objection}": why})
    assert redirected_to(r, inbox)
    public = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert revised in public and why in public and 'data-test="answer-version"' in public
    assert "Revise the published answer" in planner.get(inbox).text
    # Feedback of another deployment cannot be reached through this one's inbox.
    assert submit(planner, inbox, f"{inbox}/999/answer", {"answer-999": answer}
                  ).status_code == 404


def test_moderation_is_for_abuse_only_and_leaves_a_public_trace(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    abusive = _feedback(s, "objection", "The officer in charge is a <slur> and I know where "
                        "he lives.", "angry@example.org")
    critical = _feedback(s, "objection", "This is mass surveillance and you should be ashamed.")
    planner = s.staff["planner"]
    inbox = f"/staff/deployments/{s.deployment_id}/feedback"
    page = planner.get(inbox).text
    assert "For abuse only" in page and "is never hidden" in page

    hide = f"{inbox}/{abusive}/hide"
    r = submit(planner, inbox, hide, {f"reason-{abusive}": ""})
    assert r.status_code == 422 and f"reason-{abusive}" in errors_on(r.text)
    assert not ok(planner.get(s.url("/feedback")))[0]["hidden_for_abuse"]
    s.clock.advance(days=2)
    reason = "Threatens a named officer and gives his address."
    r = submit(planner, inbox, hide, {f"reason-{abusive}": reason})
    assert redirected_to(r, inbox)

    staff_view = ok(planner.get(s.url("/feedback")))[0]
    assert staff_view["hidden_for_abuse"] and staff_view["moderated_by"] == "planner"
    assert staff_view["moderated_at"].startswith("2026-03-04")
    public = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert f"moderated on 4 March 2026: {reason}" in public
    assert "I know where" not in public and "&lt;slur&gt;" not in public
    assert "mass surveillance" in public  # criticism stays
    assert "angry@example.org" not in public
    view = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    hidden = next(f for f in view["feedback"] if f["id"] == abusive)
    assert hidden["text"] is None and hidden["moderation_reason"] == reason
    assert hidden["moderated_at"].startswith("2026-03-04")
    shown = next(f for f in view["feedback"] if f["id"] == critical)
    assert shown["moderation_reason"] is None and shown["moderated_at"] is None
    assert "moderated_by" not in hidden and "contact" not in hidden
    # The inbox keeps the text for staff, and says what the public sees.
    page = planner.get(inbox).text
    assert "I know where he lives" in page and f"moderated: {reason}" in page
    assert page.count('data-test="hide-form"') == 1  # the hidden one has no form any more


def test_roles_that_do_not_answer_read_the_inbox_without_contacts_or_forms(
        scenario: Scenario) -> None:
    s = scenario
    _published(s)
    fid = _feedback(s, "question", "When does it start?", "asker@example.org")
    inbox = f"/staff/deployments/{s.deployment_id}/feedback"
    assert "asker@example.org" in s.staff["planner"].get(inbox).text
    for role in ("operator", "oversight", "councillor", "admin"):
        client = s.staff[role]
        r = client.get(inbox)
        assert r.status_code == 200 and "When does it start?" in r.text
        assert "asker@example.org" not in r.text and 'data-test="answer-form"' not in r.text
        assert 'data-test="hide-form"' not in r.text
        token_page = client.get(f"/staff/deployments/{s.deployment_id}").text
        r = client.post(f"{inbox}/{fid}/answer", data={
            "csrf_token": csrf_from(token_page), f"answer-{fid}": "An answer from the wrong role."})
        assert r.status_code == 403
    assert ok(s.staff["planner"].get(s.url("/feedback")))[0]["answer"] is None


# --- oversight: comments and motions ---------------------------------------------------------


def test_oversight_records_formal_comments(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    overview = f"/staff/deployments/{s.deployment_id}"
    oversight = s.staff["oversight"]
    page = oversight.get(overview).text
    assert 'data-test="comment-form"' in page
    r = submit(oversight, overview, f"{overview}/comments", {"comment_body": "ok"})
    assert r.status_code == 422 and ">ok</textarea>" in r.text
    assert "at least 3 characters" in (field_error(r.text, "comment_body") or "")
    body = "The panel asks for the false alert rate to be published weekly."
    r = submit(oversight, overview, f"{overview}/comments", {"comment_body": body})
    assert redirected_to(r, overview)
    assert body in oversight.get(overview).text
    assert body in s.staff.anon.get(f"/deployments/{s.reference}").text
    planner = s.staff["planner"]
    assert 'data-test="comment-form"' not in planner.get(overview).text
    assert submit(planner, overview, f"{overview}/comments", {"comment_body": body}
                  ).status_code == 403
    assert len(ok(planner.get(s.url("/comments")))) == 1


def test_motions_are_recorded_by_the_council_side_and_answered_by_the_force(
        scenario: Scenario) -> None:
    s = scenario
    s.prepare()
    page_url = "/staff/motions"
    form = {"body": "Lambeth Council", "passed_on": "2026-03-10", "stance": "suspend",
            "summary": "Calls for LFR to be suspended in the borough until a review.",
            "link": "https://moderngov.lambeth.gov.uk/motion/42",
            "areas": "Lambeth/Vauxhall\nLambeth/Brixton North\n"}
    # Errors, by field, with what was typed kept.
    r = submit(s.staff["oversight"], page_url, page_url, {**form, "link": "javascript:x",
                                                          "areas": " ", "stance": "maybe"})
    assert r.status_code == 422 and set(errors_on(r.text)) == {"link", "areas", "stance"}
    assert 'value="Lambeth Council"' in r.text and 'value="javascript:x"' in r.text
    assert ok(s.staff["oversight"].get("/api/motions")) == []

    r = submit(s.staff["oversight"], page_url, page_url, form)
    assert redirected_to(r, page_url)
    [motion] = ok(s.staff["oversight"].get("/api/motions"))
    assert motion["areas"] == [
        {"code": "lambeth--vauxhall", "name": "Lambeth / Vauxhall"},
        {"code": "lambeth--brixton-north", "name": "Lambeth / Brixton North"}]
    assert motion["stance"] == "suspend" and motion["link"] == form["link"]
    gate = next(g for g in ok(s.staff["authoriser"].get(s.url("/gates")))["gates"]
                if g["name"] == "council_motions")
    assert not gate["passed"]

    # A councillor may also record one, for their own areas; the force may not record
    # (or rewrite) the motions it must answer.
    r = submit(s.staff["councillor"], page_url, page_url, {**form, "body": "Lambeth Cabinet"})
    assert redirected_to(r, page_url)
    r = submit(s.staff["councillor"], page_url, page_url, {**form, "areas": "Southwark"})
    assert r.status_code == 403 and "only for their own areas" in r.text
    for role in ("planner", "authoriser"):
        assert submit(s.staff[role], page_url, page_url, form).status_code == 403
        assert 'data-test="motion-form"' not in s.staff[role].get(page_url).text
    # A ward that is not in the borough is refused with the closest names.
    r = submit(s.staff["oversight"], page_url, page_url, {**form, "areas": "Lambeth/Vauxhal"})
    assert r.status_code == 422 and "did you mean: vauxhall" in (field_error(r.text, "areas")
                                                                   or "")

    # The response: planner or authoriser, not oversight.
    respond = f"/staff/motions/{motion['id']}/response"
    key = f"response-{motion['id']}"
    assert submit(s.staff["oversight"], page_url, respond, {key: "x" * 50}).status_code == 403
    r = submit(s.staff["authoriser"], page_url, respond, {key: ""})
    assert r.status_code == 422 and key in errors_on(r.text)
    response = "LFR will not be used in the ward until the review by the council reports."
    r = submit(s.staff["authoriser"], page_url, respond, {key: response})
    assert redirected_to(r, page_url)
    assert ok(s.staff["planner"].get(f"/api/motions/{motion['id']}"))["response"] == response
    assert response in s.staff.anon.get(f"/deployments/{s.reference}").text
    assert submit(s.staff["planner"], page_url, "/staff/motions/999/response",
                  {"response-999": response}).status_code == 404


def test_nothing_personal_reaches_public_pages_after_staff_work(scenario: Scenario) -> None:
    s = scenario
    publish_realistic_deployment(s)
    fid = _feedback(s, "complaint", "I was stopped and nobody explained why.",
                    "resident@example.org")
    planner = s.staff["planner"]
    inbox = f"/staff/deployments/{s.deployment_id}/feedback"
    submit(planner, inbox, f"{inbox}/{fid}/answer",
           {f"answer-{fid}": "We have written to you privately and published the figures.",
            f"outcome-{fid}": "partly_upheld"})
    submit(planner, inbox, f"{inbox}/{fid}/hide", {f"reason-{fid}": "Names a third person."})
    for path in ("/", f"/deployments/{s.reference}", "/register",
                 f"/api/public/deployments/{s.reference}"):
        r = s.staff.anon.get(path)
        assert r.status_code == 200, path
        assert_no_personal_data(r.text)
        assert "Names a third person." in r.text or path in ("/", "/register")
        assert "moderated_by" not in r.text
