"""The consultation in Chromium: a planner writes a leading question in the builder, sees
the flag and its suggestion (as typed, then after saving), rewrites it neutrally and
opens the consultation; a resident answers it anonymously on the public page."""

from __future__ import annotations

from typing import Any

from browser_helpers import log_in
from platform_helpers import PASSWORD, Scenario, ok

BENEFITS = ("Finding people who are missing and at risk, or wanted by a court, more quickly "
            "than officers could by looking for them.")
RISKS = ("The cameras see everyone who passes, which affects privacy. False alerts can lead "
         "to people being stopped who are not wanted, and accuracy can differ between "
         "demographic groups, so errors may fall unequally. Some people may avoid the area; "
         "faces that match nobody are deleted at once.")
LEADING = "Is this something that you think is a good idea, and would support?"
NEUTRAL = "What do you think about the use of live facial recognition on the high street?"


def test_planner_fixes_a_leading_question_opens_and_a_resident_answers(
        context: Any, scenario: Scenario, live_url: str) -> None:
    s = scenario
    s.draft()
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/publish-notice")))

    planner = context.new_page()
    log_in(planner, live_url, "planner", PASSWORD)
    planner.wait_for_url(f"{live_url}/staff")
    planner.goto(f"{live_url}/staff/deployments/{s.deployment_id}")
    planner.click("[data-test=link-consultation]")
    planner.wait_for_url(f"**/staff/deployments/{s.deployment_id}/consultation")

    planner.fill("[data-test=field-benefits]", BENEFITS)
    planner.fill("[data-test=field-risks]", RISKS)
    question = planner.locator("[data-question=q1] [data-test=field-text]")
    question.fill(LEADING)
    planner.fill("[data-question=q1] [data-test=field-options]", "Yes\nNo")
    # The live check flags it as typed, through the same rules as the server.
    live = planner.locator("[data-live-flags=q1] [data-test=live-flag]"
                           "[data-rule=asks_if_good_idea]")
    live.wait_for()
    assert "What do you think about" in live.locator("[data-test=live-suggestion]").inner_text()

    planner.click("[data-test=save]")
    planner.wait_for_url("**done=saved**")
    flag = planner.locator("[data-test=flags][data-where=q1] [data-test=flag]"
                           "[data-rule=asks_if_good_idea]")
    assert flag.locator("[data-test=flag-excerpt]").inner_text() == "good idea"
    assert "What do you think about" in flag.locator("[data-test=flag-suggestion]").inner_text()
    planner.click("[data-test=open]")
    assert "cannot open" in planner.inner_text("[data-test=error][data-field=form]")
    assert planner.locator("[data-test=refused-flag][data-where=q1]").count() == 3

    planner.locator("[data-question=q1] [data-test=field-text]").fill(NEUTRAL)
    planner.locator("[data-question=q1] [data-test=field-options]").fill("")
    planner.locator("[data-test=consultation-form][data-checked]").wait_for()
    assert planner.locator("[data-live-flags=q1] [data-test=live-flag]").count() == 0
    planner.click("[data-test=save]")
    planner.wait_for_url("**done=saved**")
    assert planner.locator("[data-test=flag]").count() == 0
    planner.click("[data-test=open]")
    planner.wait_for_url("**done=opened**")
    assert planner.get_attribute("[data-test=consultation-status]", "data-status") == "open"

    resident = context.browser.new_context().new_page()
    try:
        resident.goto(f"{live_url}/deployments/{s.reference}")
        resident.click("[data-test=consultation-link]")
        resident.wait_for_url(f"**/deployments/{s.reference}/consultation")
        assert "affects privacy" in resident.inner_text("[data-test=risks]")
        resident.fill("[data-question=q1] [data-test=free-text]",
                      "Fine if it finds missing people, but delete my face.")
        resident.fill("[data-test=postcode-district]", "se11")
        resident.click("[data-test=submit]")
        resident.wait_for_url("**/consultation/thanks")
        assert "recorded anonymously" in resident.inner_text("[data-test=thanks]")
    finally:
        resident.context.close()
    results = ok(s.staff["planner"].get(s.url("/consultation/results")))
    assert results["responses"] == 1 and results["by_district"] == {"SE11": 1}
