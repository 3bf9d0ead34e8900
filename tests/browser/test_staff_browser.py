"""Staff pages in Chromium: a resident objects on the public form, a planner answers in
the feedback inbox and the answer is on the public page; an authoriser authorises from
the gate checklist. Plain forms throughout: no JavaScript is needed, none is relied on."""

from __future__ import annotations

from typing import Any

from browser_helpers import log_in
from platform_helpers import PASSWORD, Scenario, ok

OBJECTION = "I object: the station is where my children walk to school."
ANSWER = "The cameras face the station forecourt only; faces that match nobody are discarded."


def test_resident_objects_planner_answers_and_the_answer_is_public(
        context: Any, scenario: Scenario, live_url: str) -> None:
    s = scenario
    s.draft()
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/publish-notice")))

    resident = context.new_page()
    resident.goto(f"{live_url}/deployments/{s.reference}")
    resident.click("[data-test=feedback-link]")
    resident.check("[data-test=kind-objection]")
    resident.fill("[data-test=text]", OBJECTION)
    resident.fill("[data-test=contact]", "parent@example.org")
    resident.click("[data-test=submit]")
    resident.wait_for_url("**/feedback/thanks**")

    planner = context.browser.new_context().new_page()
    try:
        log_in(planner, live_url, "planner", PASSWORD)
        planner.wait_for_url(f"{live_url}/staff")
        waiting = planner.locator("[data-test=awaiting-item]")
        assert waiting.count() == 1 and "objection" in waiting.inner_text()
        planner.click("[data-test=inbox-link]")
        item = planner.locator("[data-test=feedback-item][data-kind=objection]")
        assert OBJECTION in item.locator("[data-test=feedback-text]").inner_text()
        assert "parent@example.org" in item.locator("[data-test=contact]").inner_text()
        item.locator("[data-test=answer-text]").fill(ANSWER)
        item.locator("[data-test=answer-outcome]").select_option("not_upheld")
        item.locator("[data-test=answer-submit]").click()
        planner.wait_for_url("**done=answered**")
        assert "answer was published" in planner.inner_text("[data-test=notice]")
        assert planner.locator("[data-test=feedback-item][data-answered=true]").count() == 1
    finally:
        planner.context.close()

    resident.goto(f"{live_url}/deployments/{s.reference}")
    objection = resident.locator("[data-test=feedback-item][data-kind=objection]")
    assert ANSWER in objection.locator("[data-test=answer]").inner_text()
    assert "parent@example.org" not in resident.content()


def test_authoriser_authorises_from_the_gate_checklist(page: Any, scenario: Scenario,
                                                       live_url: str) -> None:
    s = scenario
    s.prepare()
    s.staff["authoriser"]  # the account exists
    log_in(page, live_url, "authoriser", PASSWORD)
    page.wait_for_url(f"{live_url}/staff")
    page.click(f"[data-test=staff-deployment-item][data-id='{s.deployment_id}'] "
               "[data-test=next-action][data-action=authorise]")
    page.wait_for_url(f"**/staff/deployments/{s.deployment_id}/gates")
    assert page.get_attribute("[data-test=checklist]", "data-all-passed") == "true"
    assert page.locator("[data-test=gate][data-passed=true]").count() == 7
    page.click("[data-test=authorise]")
    page.wait_for_url(f"**/staff/deployments/{s.deployment_id}?done=authorise")
    assert "was authorised" in page.inner_text("[data-test=notice]")
    assert page.get_attribute("[data-test=staff-deployment]", "data-status") == "authorised"
    assert ok(s.staff["authoriser"].get(s.url()))["status"] == "authorised"
