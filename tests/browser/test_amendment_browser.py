"""A plan amendment in Chromium: a planner widens an authorised plan from the staff form,
is told that the notice restarts, and a resident's phone shows the deployment's page
saying so and why, at 390 px with no horizontal scrolling and no serious or critical
axe-core violation."""

from __future__ import annotations

from typing import Any

from browser_helpers import log_in
from platform_helpers import PASSWORD, Scenario, ok
from test_residents_voice_browser import AXE

WHY = "The operation now also covers the shopping centre's second entrance."


def test_a_widened_plan_restarts_the_notice_on_the_staff_and_public_pages(
        browser: Any, page: Any, scenario: Scenario, live_url: str) -> None:
    s = scenario
    s.prepare()
    ok(s.staff["authoriser"].post(s.url("/authorise")))
    s.staff["planner"]  # the account exists
    log_in(page, live_url, "planner", PASSWORD)
    page.wait_for_url(f"{live_url}/staff")
    page.goto(f"{live_url}/staff/deployments/{s.deployment_id}")
    page.click("[data-test=amend-link]")
    assert "restarts the notice" in page.inner_text("[data-test=amend-widening]")
    page.fill("[data-test=field-camera_count]", "5")
    page.fill("[data-test=field-reason]", WHY)
    page.click("[data-test=save]")
    page.wait_for_url(f"{live_url}/staff/deployments/{s.deployment_id}?done=*")
    assert "the notice period runs again" in page.inner_text("body")
    assert "more cameras: 5, was 2" in page.inner_text("[data-test=amendment-notice-restarted]")
    assert ok(s.staff["planner"].get(s.url()))["status"] == "notice_published"

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                has_touch=True, device_scale_factor=2, bypass_csp=True)
    try:
        resident = phone.new_page()
        resident.goto(f"{live_url}/deployments/{s.reference}#amendments")
        restarted = resident.inner_text("[data-test=amendment-notice-restarted]")
        assert "Notice restarted" in restarted and "more cameras: 5, was 2" in restarted
        assert WHY in resident.inner_text("[data-test=amendment]")
        resident.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        width = resident.evaluate("[document.documentElement.scrollWidth, "
                                  "document.documentElement.clientWidth]")
        assert width[0] <= width[1], f"{width[0]} px wide at 390 px"
        resident.add_script_tag(path=str(AXE))
        found = resident.evaluate("""async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
                .map(v => v.id + ' (' + v.impact + ')');
        }""")
        assert found == []
    finally:
        phone.close()
