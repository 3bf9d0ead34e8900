"""Staff pages over HTTP: who may open each page, the staff home, drafting and editing a
deployment, the lifecycle actions on the overview, the gate checklist (authorise,
override, activate) and CSRF. The feedback inbox, assessment, engagement and oversight
pages are in test_staff_records_pages.py."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from platform_helpers import ASKED_BECAUSE, COUNTERSIGNED_BECAUSE, START, Scenario, ok
from portal_helpers import assert_no_personal_data, draft_elsewhere
from staff_pages_helpers import errors_on, field_error, redirected_to, submit

ROLES = ("operator", "planner", "authoriser", "oversight", "councillor", "admin")

#: Pages with {id}, and the roles that may open them: written out here as the powers
#: table should say (tests/portal/test_staff_powers.py walks every route against the
#: table itself). Governance records are read by every staff role; personal data is not.
PAGE_ROLES: dict[str, set[str]] = {
    "/staff": set(ROLES),
    "/staff/deployments/new": {"planner"},
    "/staff/deployments/{id}": set(ROLES),
    "/staff/deployments/{id}/edit": {"planner"},
    "/staff/deployments/{id}/assessment": set(ROLES),
    "/staff/deployments/{id}/engagement": set(ROLES),
    "/staff/deployments/{id}/feedback": set(ROLES),
    "/staff/deployments/{id}/gates": set(ROLES),
    "/staff/deployments/{id}/watchlist": {"planner", "authoriser", "operator"},
    "/staff/deployments/{id}/console": {"operator", "authoriser"},
    "/staff/motions": set(ROLES),
}


def plan_form(**overrides: str) -> dict[str, str]:
    """The plan form as a planner fills it in."""
    form = {
        "title": "Brixton Road market day",
        "borough": "Lambeth",
        "ward": "Brixton North",
        "sites": ("Brixton station, north exit, 51.4627, -0.1145 | Brixton Road | SW9 8HE\n"
                  "Pope's Road, 51.4619, -0.1141"),
        "start_at": "2026-04-18T09:30",
        "end_at": "2026-04-18T17:00",
        "purpose": "Locate people wanted for robbery and knife crime.",
        "offence_categories": "robbery\npossession of a knife\n",
        "intelligence_basis": "Street robbery near the station rose by a third this year.",
        "legal_basis": "Common law policing powers; force LFR policy v3.",
        "threshold": "0.64",
        "camera_count": "3",
        "signage": "A-boards 20 m before each camera on every approach.",
        "technology_id": "",
    }
    form.update(overrides)
    return form


def test_each_page_opens_for_its_roles_and_refuses_the_others(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    for path, allowed in PAGE_ROLES.items():
        url = path.replace("{id}", str(s.deployment_id))
        for role in ROLES:
            r = s.staff[role].get(url)
            if role in allowed:
                assert r.status_code == 200, (role, url, r.status_code)
                assert 'data-test="staff-bar"' in r.text
            else:
                assert r.status_code == 403, (role, url, r.status_code)
                assert "you are logged in as" in r.text
                # An admin is never told to ask an admin: the table keeps it from them.
                told = "People and roles" if role == "admin" else "Ask an admin"
                assert told in r.text, (role, url)
    # An unknown or impossible id is a 404 page, not an error.
    for url in ("/staff/deployments/999", "/staff/deployments/99999999999/gates"):
        assert s.staff["authoriser"].get(url).status_code == 404


def test_forms_refuse_other_roles_and_change_nothing(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    operator = s.staff["operator"]
    r = submit(operator, f"/staff/deployments/{s.deployment_id}",
               f"/staff/deployments/{s.deployment_id}/propose", {})
    assert r.status_code == 403 and "for the planner role" in r.text
    r = submit(operator, "/staff", "/staff/deployments/new", plan_form())
    assert r.status_code == 403
    assert ok(s.staff["planner"].get(s.url()))["status"] == "draft"
    assert len(ok(s.staff["planner"].get("/api/deployments"))) == 1


def test_csrf_token_is_required_on_every_form(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    planner = s.staff["planner"]
    base = f"/staff/deployments/{s.deployment_id}"
    for action, data in ((f"{base}/propose", {}), ("/staff/deployments/new", plan_form()),
                         (f"{base}/edit", plan_form(title="Changed without a token")),
                         (f"{base}/cancel", {"cancel_reason": "No longer needed at all."}),
                         (f"{base}/assessment", {"area_profile": "x"}),
                         (f"{base}/engagement", {"held_on": "2026-03-03"})):
        for token in ({}, {"csrf_token": "0" * 64}):
            r = planner.post(action, data={**data, **token}, follow_redirects=False)
            assert r.status_code == 403, (action, r.status_code)
            assert "did not come from this site" in r.text
    d = ok(planner.get(s.url()))
    assert d["status"] == "draft" and d["title"] == "Vauxhall high street"
    assert len(ok(planner.get("/api/deployments"))) == 1


def test_home_groups_deployments_with_the_next_action_for_each_role(
        scenario: Scenario) -> None:
    s = scenario
    s.activate()  # active
    active_id = s.deployment_id
    proposed = draft_elsewhere(s, title="Proposed in Hackney")
    ok(s.staff["planner"].post(f"/api/deployments/{proposed['id']}/propose"))
    draft = draft_elsewhere(s, title="Draft in Hackney")

    home = s.staff["planner"].get("/staff").text
    groups = [g.split('"')[0] for g in home.split('data-test="status-group" data-status="')[1:]]
    assert groups == ["draft", "proposed", "active"]  # lifecycle order
    assert 'data-action="propose"' in _item(home, draft["id"])
    assert 'data-action="publish_notice"' in _item(home, proposed["id"])
    assert 'data-action' not in _item(home, active_id)
    assert 'data-test="new-deployment"' in home

    authoriser = s.staff["authoriser"].get("/staff").text
    assert 'data-action="publish_notice"' in _item(authoriser, proposed["id"])
    assert 'data-action="complete"' in _item(authoriser, active_id)
    assert 'data-test="new-deployment"' not in authoriser

    operator = s.staff["operator"].get("/staff").text
    item = _item(operator, active_id)
    assert f'href="/staff/deployments/{active_id}/console"' in item
    assert 'data-action="complete"' in item
    assert "/console" not in _item(operator, draft["id"])
    assert 'data-test="new-deployment"' not in operator
    councillor = s.staff["councillor"].get("/staff").text
    assert 'data-test="motions-link"' in councillor and "data-action" not in councillor


def _item(page: str, deployment_id: int) -> str:
    """The home page's list item for one deployment."""
    start = page.index(f'data-test="staff-deployment-item" data-id="{deployment_id}"')
    return page[start:page.index("</li>", start)]


def test_home_lists_feedback_awaiting_an_answer_with_overdue_highlighted(
        scenario: Scenario) -> None:
    s = scenario
    s.draft()
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/publish-notice")))
    send = s.staff.anon.post
    ok(send(f"/api/public/deployments/{s.reference}/feedback",
            json={"kind": "objection", "text": "Old objection nobody answered."}), 201)
    s.clock.advance(days=s.staff.platform.settings.answer_deadline_days + 1)
    ok(send(f"/api/public/deployments/{s.reference}/feedback",
            json={"kind": "question", "text": "Fresh question, asked today."}), 201)
    ok(send(f"/api/public/deployments/{s.reference}/feedback",
            json={"kind": "support", "text": "Support needs no answer."}), 201)

    home = s.staff["planner"].get("/staff").text
    items = home.split('data-test="awaiting-item"')[1:]
    assert len(items) == 2  # support needs no answer
    assert 'data-overdue="true"' in items[0] and "objection" in items[0]
    assert "(overdue)" in items[0] and 'data-overdue="false"' in items[1]
    assert 'data-test="overdue-count">1 overdue' in home
    assert f"/staff/deployments/{s.deployment_id}/feedback#feedback-" in home
    # Oversight sees what is waiting, without the inbox link (the inbox is not theirs).
    oversight = s.staff["oversight"].get("/staff").text
    assert oversight.count('data-test="awaiting-item"') == 2
    assert 'data-test="inbox-link"' not in oversight


def test_planner_drafts_a_deployment_through_the_form(scenario: Scenario) -> None:
    s = scenario
    tech = s.equity_audit()
    planner = s.staff["planner"]
    form = planner.get("/staff/deployments/new").text
    assert "Starts (UTC)" in form and "one per line" in form
    r = submit(planner, "/staff/deployments/new", "/staff/deployments/new",
               plan_form(technology_id=str(tech)))
    [d] = ok(planner.get("/api/deployments"))
    assert redirected_to(r, f"/staff/deployments/{d['id']}")
    assert d["status"] == "draft" and d["title"] == "Brixton Road market day"
    assert d["ward"] == "Brixton North" and d["technology_id"] == tech
    assert [(x["name"], x["lat"], x["lon"], x["street"], x["postcode"]) for x in d["sites"]] == [
        ("Brixton station, north exit", 51.4627, -0.1145, "Brixton Road", "SW9 8HE"),
        ("Pope's Road", 51.4619, -0.1141, None, None)]
    # The form shows them again as they were written.
    again = planner.get(f"/staff/deployments/{d['id']}/edit").text
    assert "north exit, 51.4627, -0.1145 | Brixton Road | SW9 8HE" in again
    assert d["start_at"] == "2026-04-18T09:30:00Z" and d["end_at"] == "2026-04-18T17:00:00Z"
    assert d["offence_categories"] == ["robbery", "possession of a knife"]
    assert d["threshold"] == 0.64 and d["camera_count"] == 3
    overview = planner.get(r.headers["location"]).text
    assert 'data-test="notice"' in overview and "stays private" in overview
    assert 'data-test="propose"' in overview
    # A draft is private.
    assert s.staff.anon.get(f"/deployments/{d['reference']}").status_code == 404


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"sites": "Station forecourt 51.49 -0.11"}, "sites", "line 1: write the site as"),
    ({"sites": "Station, 91.0, -0.11"}, "sites", "line 1: lat:"),
    ({"sites": "Station, 51.49, -0.11 | Road | SW9 8HE | extra"}, "sites",
     "line 1: write the site as"),
    ({"sites": "Station, 51.49, -0.11 | Road | nowhere"}, "sites", "postcode"),
    ({"start_at": "next Tuesday"}, "start_at", "enter a date and time (utc)"),
    ({"end_at": "2026-04-18T08:00"}, "end_at", "end_at must be after start_at"),
    ({"end_at": "2026-05-18T08:00"}, "end_at", "at most 14 days"),
    ({"threshold": "1.5"}, "threshold", "less than or equal to 1"),
    ({"title": "x"}, "title", "at least 3 characters"),
    ({"offence_categories": "  \n "}, "offence_categories", "at least 1 item"),
    ({"technology_id": "42"}, "technology_id", "does not exist"),
])
def test_draft_form_shows_each_error_next_to_its_field_with_values_kept(
        scenario: Scenario, overrides: dict[str, str], field: str, message: str) -> None:
    s = scenario
    planner = s.staff["planner"]
    form = plan_form(**overrides)
    r = submit(planner, "/staff/deployments/new", "/staff/deployments/new", form)
    assert r.status_code == 422
    assert errors_on(r.text) == [field]
    assert message in (field_error(r.text, field) or "")
    assert 'value="Brixton Road market day"' in r.text or field == "title"
    assert "Street robbery near the station rose by a third this year.</textarea>" in r.text
    typed = form[field].replace("'", "&#39;")
    assert typed in r.text  # what was typed in the bad field is kept too
    assert ok(planner.get("/api/deployments")) == []


def test_several_errors_at_once(scenario: Scenario) -> None:
    r = submit(scenario.staff["planner"], "/staff/deployments/new", "/staff/deployments/new",
               plan_form(title="", sites="nowhere", camera_count="0", purpose=""))
    assert r.status_code == 422
    assert set(errors_on(r.text)) == {"title", "sites", "camera_count", "purpose"}


def test_edit_while_editable_then_refused_once_notice_is_published(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    planner = s.staff["planner"]
    edit = f"/staff/deployments/{s.deployment_id}/edit"
    page = planner.get(edit).text
    assert 'value="Vauxhall high street"' in page
    assert "Station forecourt, 51.4952, -0.1115 | Wandsworth Road | SW8 1SR</textarea>" in page
    assert f'value="{(START).strftime("%Y-%m-%dT%H:%M")}"' in page
    # Sending the form back unchanged changes nothing.
    unchanged = _form_of(page)
    r = submit(planner, edit, edit, unchanged)
    assert redirected_to(r, f"/staff/deployments/{s.deployment_id}") and "unchanged" in r.headers[
        "location"]
    r = submit(planner, edit, edit, {**unchanged, "title": "Vauxhall high street, Saturday",
                                     "camera_count": "4"})
    assert redirected_to(r, f"/staff/deployments/{s.deployment_id}")
    d = ok(planner.get(s.url()))
    assert d["title"] == "Vauxhall high street, Saturday" and d["camera_count"] == 4
    events = ok(s.staff["oversight"].get("/api/audit/events?limit=1000"))
    updated = [e for e in events if e["action"] == "deployment.updated"]
    assert len(updated) == 1 and "camera_count" in updated[0]["details"]
    assert "sites" not in updated[0]["details"]  # only what changed is recorded

    ok(planner.post(s.url("/propose")))
    ok(planner.post(s.url("/publish-notice")))
    page = planner.get(edit).text
    assert "plan is fixed once notice is published" in (field_error(page, "form") or "")
    r = submit(planner, edit, edit, {**_form_of(page), "title": "Too late to change"})
    assert r.status_code == 422 and "plan is fixed" in (field_error(r.text, "form") or "")
    assert 'value="Too late to change"' in r.text
    assert ok(planner.get(s.url()))["title"] == "Vauxhall high street, Saturday"
    overview = planner.get(f"/staff/deployments/{s.deployment_id}").text
    assert 'data-test="edit-link"' not in overview


def test_seconds_set_through_the_api_are_not_a_change(scenario: Scenario) -> None:
    s = scenario
    s.draft(start_at=(START + timedelta(seconds=30)).isoformat())
    planner = s.staff["planner"]
    edit = f"/staff/deployments/{s.deployment_id}/edit"
    r = submit(planner, edit, edit, _form_of(planner.get(edit).text))
    assert "done=unchanged" in r.headers["location"]
    assert ok(planner.get(s.url()))["start_at"].endswith(":30Z")


def _form_of(page: str) -> dict[str, str]:
    """The plan form's fields as the page filled them."""
    fields: dict[str, str] = {}
    for name, value in re.findall(r'<input id="\w+" name="(\w+)"[^>]*?value="([^"]*)"', page):
        fields[name] = html.unescape(value)
    for name, value in re.findall(r'<textarea id="\w+" name="(\w+)"[^>]*>(.*?)</textarea>',
                                  page, re.S):
        fields[name] = html.unescape(value)
    selected = re.search(r'<option value="(\d*)" selected', page)
    fields["technology_id"] = selected.group(1) if selected else ""
    return fields


def test_propose_publish_and_cancel_from_the_overview(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    planner = s.staff["planner"]
    overview = f"/staff/deployments/{s.deployment_id}"
    r = submit(planner, overview, f"{overview}/propose", {})
    assert redirected_to(r, overview) and ok(planner.get(s.url()))["status"] == "proposed"
    # Proposing twice is refused by the lifecycle, shown on the page.
    r = submit(planner, overview, f"{overview}/propose", {})
    assert r.status_code == 409
    assert "cannot propose a deployment that is 'proposed'" in (field_error(r.text, "form") or "")
    r = submit(planner, overview, f"{overview}/publish-notice", {})
    assert redirected_to(r, overview)
    assert ok(planner.get(s.url()))["status"] == "notice_published"
    page = planner.get(overview).text
    assert 'data-test="link-public"' in page and 'data-test="publish-notice"' not in page

    r = submit(planner, overview, f"{overview}/cancel", {"cancel_reason": "no"})
    assert r.status_code == 422 and "at least 3 characters" in (
        field_error(r.text, "cancel_reason") or "")
    assert ">no</textarea>" in r.text and ok(planner.get(s.url()))["status"] == "notice_published"
    reason = "The market was moved to another date by the council."
    r = submit(planner, overview, f"{overview}/cancel", {"cancel_reason": reason})
    assert redirected_to(r, overview)
    assert ok(planner.get(s.url()))["status"] == "cancelled"
    public = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert reason in public


def test_authorised_deployment_rescheduled_from_the_overview(scenario: Scenario) -> None:
    s = scenario
    s.prepare()
    ok(s.staff["authoriser"].post(s.url("/authorise")))
    planner, overview = s.staff["planner"], f"/staff/deployments/{s.deployment_id}"
    page = planner.get(overview).text
    assert 'data-test="reschedule-form"' in page
    assert f'value="{START:%Y-%m-%dT%H:%M}" data-test="reschedule-start"' in page
    # Operators and oversight do not change dates: no form, and a post is refused.
    assert 'data-test="reschedule-form"' not in s.staff["operator"].get(overview).text
    r = submit(s.staff["operator"], overview, f"{overview}/reschedule", {})
    assert r.status_code == 403

    new_start = START + timedelta(days=7)
    form = {"reschedule_start_at": f"{new_start:%Y-%m-%dT%H:%M}",
            "reschedule_end_at": f"{new_start - timedelta(hours=1):%Y-%m-%dT%H:%M}",
            "reschedule_reason": "The station is closed for works on the published date."}
    r = submit(planner, overview, f"{overview}/reschedule", form)
    assert r.status_code == 422 and "after" in (field_error(r.text, "reschedule_end_at") or "")
    assert ok(planner.get(s.url()))["status"] == "authorised"  # nothing changed
    r = submit(planner, overview, f"{overview}/reschedule", {**form, "reschedule_reason": ""})
    assert r.status_code == 422 and field_error(r.text, "reschedule_reason")

    form["reschedule_end_at"] = f"{new_start + timedelta(hours=8):%Y-%m-%dT%H:%M}"
    r = submit(planner, overview, f"{overview}/reschedule", form)
    assert redirected_to(r, overview)
    assert "must be authorised again" in planner.get(r.headers["location"]).text
    body = ok(planner.get(s.url()))
    assert body["status"] == "notice_published"
    assert body["start_at"].startswith(f"{new_start:%Y-%m-%dT%H:%M}")
    assert form["reschedule_reason"] in s.staff.anon.get(f"/deployments/{s.reference}").text


def test_authoriser_authorises_through_the_checklist(scenario: Scenario) -> None:
    s = scenario
    s.prepare()
    authoriser = s.staff["authoriser"]
    gates = f"/staff/deployments/{s.deployment_id}/gates"
    page = authoriser.get(gates).text
    assert 'data-all-passed="true"' in page and page.count('data-passed="true"') == 7
    assert "Notice was published on 2 March 2026" in page  # each gate's reason
    assert 'data-test="justification"' not in page
    r = submit(authoriser, gates, f"/staff/deployments/{s.deployment_id}/authorise", {})
    assert redirected_to(r, f"/staff/deployments/{s.deployment_id}")
    assert ok(authoriser.get(s.url()))["status"] == "authorised"
    assert ok(authoriser.get(s.url("/overrides"))) == []
    assert "was authorised" in authoriser.get(r.headers["location"]).text

    # Activation: an operator, from the same page, within the published window.
    operator = s.staff["operator"]
    r = submit(operator, gates, f"/staff/deployments/{s.deployment_id}/activate", {})
    assert r.status_code == 409 and "too early" in (field_error(r.text, "activate_justification")
                                                   or "")
    s.clock.now = START
    r = submit(operator, gates, f"/staff/deployments/{s.deployment_id}/activate", {})
    assert redirected_to(r, f"/staff/deployments/{s.deployment_id}")
    assert ok(operator.get(s.url()))["status"] == "active"
    overview = operator.get(f"/staff/deployments/{s.deployment_id}").text
    assert f'href="/staff/deployments/{s.deployment_id}/console"' in overview


def test_failing_gates_need_a_two_person_override_with_long_enough_justifications(
        scenario: Scenario) -> None:
    s = scenario
    s.prepare()
    ok(s.staff.anon.post(f"/api/public/deployments/{s.reference}/feedback", json={
        "kind": "objection", "text": "Nobody asked the people on my estate."}), 201)
    authoriser = s.staff["authoriser"]
    gates = f"/staff/deployments/{s.deployment_id}/gates"
    action = f"/staff/deployments/{s.deployment_id}/authorise"
    page = authoriser.get(gates).text
    assert 'data-all-passed="false"' in page
    assert "1 objection(s) have no published answer yet." in page
    assert 'data-test="justification"' in page and "at least 40 characters" in page

    r = submit(authoriser, gates, action, {"authorise_justification": ""})
    assert r.status_code == 409
    assert "consultation_and_objections" in (field_error(r.text, "authorise_justification") or "")
    r = submit(authoriser, gates, action, {"authorise_justification": "Urgent."})
    assert r.status_code == 422
    assert "at least 40 characters" in (field_error(r.text, "authorise_justification") or "")
    assert ">Urgent.</textarea>" in r.text
    assert ok(authoriser.get(s.url()))["status"] == "notice_published"

    justification = ("A credible threat to a public event on the day; the objection will be "
                     "answered within the week and the answer published.")
    r = submit(authoriser, gates, action, {"authorise_justification": justification})
    assert redirected_to(r, gates) and "override_requested" in r.headers["location"]
    # Asked for, not taken: nothing moves until another person countersigns.
    assert ok(authoriser.get(s.url()))["status"] == "notice_published"
    page = authoriser.get(gates).text
    assert 'data-test="awaiting-override"' in page and 'data-test="countersign-form"' not in page
    overview = authoriser.get(f"/staff/deployments/{s.deployment_id}").text
    assert 'data-test="awaiting-countersignature"' in overview
    assert justification not in s.staff.anon.get(f"/deployments/{s.reference}").text

    oversight = s.staff["oversight"]
    countersign = f"/staff/deployments/{s.deployment_id}/overrides/countersign"
    # The form names the request the signer read.
    [asked] = ok(authoriser.get(s.url("/overrides")))
    read = {"override_id": str(asked["id"])}
    assert (f'name="override_id" value="{asked["id"]}"'
            in oversight.get(gates).text)
    r = submit(oversight, gates, countersign, {**read, "countersign_justification": "Agreed."})
    assert r.status_code == 422 and "at least 40 characters" in (
        field_error(r.text, "countersign_justification") or "")
    assert ok(authoriser.get(s.url()))["status"] == "notice_published"
    own = ("The threat assessment was shown to the oversight panel, which accepts it; the "
           "objection must be answered before the day.")
    r = submit(oversight, gates, countersign, {"countersign_justification": own})
    assert r.status_code == 422 and "which request you read" in (
        field_error(r.text, "countersign_justification") or "")
    r = submit(oversight, gates, countersign, {**read, "countersign_justification": own})
    assert redirected_to(r, f"/staff/deployments/{s.deployment_id}")
    assert "countersigned" in r.headers["location"]
    assert ok(authoriser.get(s.url()))["status"] == "authorised"
    [override] = ok(authoriser.get(s.url("/overrides")))
    assert override["justification"] == justification and override["countersignature"] == own
    assert override["status"] == "in_force" and override["countersigned_by"] == "oversight"
    public = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert justification in public and own in public
    assert 'data-test="override-banner"' in public
    assert "authorised despite 1 failed check" in public
    assert_no_personal_data(public)


def test_the_countersign_form_signs_only_the_request_it_showed(scenario: Scenario) -> None:
    """The authoriser replaces the request while oversight has the page open: the form's
    countersignature is refused, and the page shows the request now waiting."""
    s = scenario
    s.prepare()
    s.late_objection()
    gates = f"/staff/deployments/{s.deployment_id}/gates"
    countersign = f"/staff/deployments/{s.deployment_id}/overrides/countersign"
    first = s.staff["authoriser"].post(s.url("/authorise"), json={
        "override_justification": ASKED_BECAUSE}).json()["override"]
    oversight = s.staff["oversight"]
    assert f'name="override_id" value="{first["id"]}"' in oversight.get(gates).text
    second = s.staff["authoriser"].post(s.url("/authorise"), json={
        "override_justification": "We are going ahead whatever residents say about this "
                                  "one."}).json()["override"]
    r = submit(oversight, gates, countersign, {"override_id": str(first["id"]),
                                               "countersign_justification": COUNTERSIGNED_BECAUSE})
    assert r.status_code == 409
    assert "replaced by a newer request" in (
        field_error(r.text, "countersign_justification") or "")
    assert f'name="override_id" value="{second["id"]}"' in r.text
    assert ok(s.staff["planner"].get(s.url()))["status"] == "notice_published"


def test_an_operator_cannot_override(scenario: Scenario) -> None:
    s = scenario
    s.prepare()
    ok(s.staff["authoriser"].post(s.url("/authorise")))
    s.clock.now = START
    ok(s.staff.anon.post(f"/api/public/deployments/{s.reference}/feedback", json={
        "kind": "objection", "text": "Late objection on the morning itself."}), 201)
    operator = s.staff["operator"]
    gates = f"/staff/deployments/{s.deployment_id}/gates"
    page = operator.get(gates).text
    assert 'data-test="justification"' not in page
    assert "or have been overridden (two signatures)" in page
    r = submit(operator, gates, f"/staff/deployments/{s.deployment_id}/activate",
               {"activate_justification": "x" * 80})
    assert r.status_code == 403  # a power the role lacks, as the API answers
    assert "with a justification needs one of these roles: authoriser" in (
        field_error(r.text, "activate_justification") or "")
    assert ok(operator.get(s.url()))["status"] == "authorised"
    # Nothing to decide on the checklist once the deployment has moved on.
    s.clock.now = START + timedelta(hours=1)
    ok(s.staff["planner"].post(f"/api/feedback/{_last_feedback(s)}/answer", json={
        "answer": "Faces that match nobody are discarded at once.", "outcome": "not_upheld"}))
    ok(operator.post(s.url("/activate")))
    assert 'data-test="nothing-to-decide"' in operator.get(gates).text


def _last_feedback(s: Scenario) -> int:
    items = ok(s.staff["planner"].get(s.url("/feedback")))
    return int(items[-1]["id"])
