"""The browser harness itself: pages render in Chromium, nothing is fetched from another
site, and a staff login works."""

from __future__ import annotations

import re
from typing import Any

from browser_helpers import log_in
from platform_helpers import PASSWORD, Staff
from playwright.sync_api import expect
from portal_helpers import publish_realistic_deployment


def test_home_and_deployment_render_without_other_sites(page: Any, scenario: Any,
                                                        live_url: str) -> None:
    publish_realistic_deployment(scenario)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(live_url)
    page.click(f"[data-test=deployment-link][href*='{scenario.reference}']")
    expect(page).to_have_title(re.compile(re.escape(scenario.reference)))
    outside = [u for u in requested if not u.startswith(live_url)]
    assert outside == []


def test_staff_login_through_the_form(page: Any, staff: Staff, live_url: str) -> None:
    staff.add_user("pat", "planner")
    log_in(page, live_url, "pat", "wrong password!")
    assert "wrong username or password" in page.inner_text("[data-test=login-error]").lower()
    log_in(page, live_url, "pat", PASSWORD)
    page.wait_for_url(f"{live_url}/staff**")
