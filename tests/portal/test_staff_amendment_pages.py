"""Amending the frozen record from the staff pages: the plan, the impact assessment and
the engagement log change after authorisation only by a public amendment with a reason,
through the same service as the API; a refusal is shown next to the field it concerns."""

from __future__ import annotations

from datetime import timedelta

from platform_helpers import START, Scenario, ok
from staff_pages_helpers import field_error, redirected_to, submit

REASON = "amendment_reason"
WHY = "The vendor advised a lower threshold for poor light at the station."


def _authorised(s: Scenario) -> None:
    s.prepare()
    ok(s.staff["authoriser"].post(s.url("/authorise")))


def _plan_form(s: Scenario) -> dict[str, str]:
    """The amendable fields as the page fills them (the plan as it stands)."""
    d = ok(s.staff["planner"].get(s.url()))
    return {"title": d["title"], "purpose": d["purpose"],
            "offence_categories": "\n".join(d["offence_categories"]),
            "intelligence_basis": d["intelligence_basis"], "legal_basis": d["legal_basis"],
            "threshold": str(d["threshold"]), "camera_count": str(d["camera_count"]),
            "signage": d["signage"], "technology_id": str(d["technology_id"])}


def test_the_plan_is_amended_from_its_page_with_a_reason(scenario: Scenario) -> None:
    s, planner = scenario, scenario.staff["planner"]
    _authorised(s)
    overview = planner.get(f"/staff/deployments/{s.deployment_id}").text
    assert 'data-test="amend-link"' in overview and 'data-test="edit-link"' not in overview
    page_url = f"/staff/deployments/{s.deployment_id}/amend"
    page = planner.get(page_url).text
    assert 'data-test="plan-amend-form"' in page and 'data-test="fixed-plan"' in page
    assert 'name="borough"' not in page and 'name="sites"' not in page  # not amendable
    plan = _plan_form(s)

    r = submit(planner, page_url, page_url, {**plan, "threshold": "0.55", REASON: "Light."})
    assert r.status_code == 422 and "at least 20 characters" in (field_error(r.text, REASON)
                                                                or "")
    r = submit(planner, page_url, page_url, {**plan, "threshold": "1.5", REASON: WHY})
    assert r.status_code == 422 and field_error(r.text, "threshold")
    r = submit(planner, page_url, page_url, {**plan, REASON: WHY})
    assert r.status_code == 422 and "changes nothing" in (field_error(r.text, "form") or "")
    assert ok(planner.get(s.url("/amendments"))) == []

    r = submit(planner, page_url, page_url, {**plan, "threshold": "0.55", REASON: WHY})
    assert redirected_to(r, f"/staff/deployments/{s.deployment_id}")
    # The threshold gate failed, and a lower threshold goes further than the notice.
    assert "done=amended_notice_restarted" in r.headers["location"]
    assert "the notice period runs again" in planner.get(r.headers["location"]).text
    [amendment] = ok(planner.get(s.url("/amendments")))
    assert amendment["record"] == "plan" and amendment["reason"] == WHY
    assert [c["field"] for c in amendment["changes"]] == ["threshold", "notice_published_at"]
    assert ok(planner.get(s.url()))["status"] == "notice_published"


def test_only_a_frozen_plan_is_amended_and_only_by_those_with_the_power(
        scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.draft()
    page_url = f"/staff/deployments/{s.deployment_id}/amend"
    page = staff["planner"].get(page_url).text
    assert "edit it directly" in (field_error(page, "form") or "")
    assert staff["operator"].get(page_url).status_code == 403
    overview = staff["operator"].get(f"/staff/deployments/{s.deployment_id}").text
    assert 'data-test="amend-link"' not in overview


def test_assessment_amendment_problems_are_shown_beside_their_section(
        scenario: Scenario) -> None:
    s, planner = scenario, scenario.staff["planner"]
    _authorised(s)
    page_url = f"/staff/deployments/{s.deployment_id}/assessment"
    assert 'data-test="amend-form"' in planner.get(page_url).text
    a = ok(planner.get(s.url("/assessment")))
    sections = {k: a[k] for k in ("area_profile", "risks", "mitigations", "equality_impact",
                                  "decision")}
    r = submit(planner, page_url, f"{page_url}/amend",
               {**sections, "decision": "x" * 20_001, REASON: WHY})
    assert r.status_code == 422 and field_error(r.text, "decision")
    decision = a["decision"] + " Results will also be presented at the ward panel."
    r = submit(planner, page_url, f"{page_url}/amend",
               {**sections, "decision": decision, REASON: "The ward panel asked to see them."})
    assert redirected_to(r, page_url) and "done=amended" in r.headers["location"]
    assert ok(planner.get(s.url("/assessment")))["decision"] == decision


def test_a_late_engagement_claim_is_refused_on_the_page_beside_its_date(
        scenario: Scenario) -> None:
    s, planner = scenario, scenario.staff["planner"]
    _authorised(s)
    s.clock.now = START
    page_url = f"/staff/deployments/{s.deployment_id}/engagement"
    event = {"format": "public_meeting", "audience": "residents",
             "met_with": "Vauxhall Tenants' and Residents' Association", "attendees": "1000",
             "materials": "", "questions_raised": "", "evidence_url": "",
             REASON: "A meeting held this morning with residents."}
    for held_on, words in ((START.date(), "after the deployment was authorised"),
                           (START.date() + timedelta(days=1), "is in the future")):
        r = submit(planner, page_url, f"{page_url}/amend",
                   {**event, "held_on": held_on.isoformat()})
        assert r.status_code == 422 and words in (field_error(r.text, "held_on") or "")
    assert ok(planner.get(s.url("/amendments"))) == []
