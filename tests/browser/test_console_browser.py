"""The operator console in Chromium: an alert the node posts appears on the open console
without a reload, with both photos; the operator confirms it and records an arrest; the
card and the counters follow, and the public deployment page then counts it. Completing
the deployment from the console ends the live stream and says so."""

from __future__ import annotations

import re
from typing import Any

from console_helpers import active_with_photo, post_alert
from platform_helpers import PASSWORD, Scenario, ok

#: An alert must be on screen well within this (the console's promise is one second;
#: this bound leaves room for a slow, shared test machine).
APPEAR_TIMEOUT_MS = 5_000


def open_console(page: Any, base_url: str, s: Scenario) -> str:
    """Log in as the operator through the login form the console sends you to."""
    s.staff["operator"]  # the account exists
    url = f"{base_url}/staff/deployments/{s.deployment_id}/console"
    page.goto(url)
    page.fill("[data-test=username]", "operator")
    page.fill("[data-test=password]", PASSWORD)
    page.click("[data-test=login-submit]")
    page.wait_for_url(url)
    page.wait_for_selector("[data-test=connection]:has-text('Live')")
    return url


def loaded(page: Any, selector: str) -> bool:
    """True once the image has loaded and decoded (not a broken image)."""
    return bool(page.eval_on_selector(
        selector, "img => img.complete && img.naturalWidth > 0"))


def test_operator_sees_an_alert_live_confirms_it_and_the_public_page_counts_it(
        scenario: Scenario, live_url: str, page: Any) -> None:
    s = scenario
    entry_id = active_with_photo(s)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    open_console(page, live_url, s)
    assert page.inner_text("[data-test=counter-alerts]") == "0"
    assert page.is_visible("[data-test=no-alerts]")
    page.evaluate("window.notReloaded = true")

    alert = post_alert(s, s.staff.node(s.deployment_id), entry_id, "alert-browser-1",
                       camera="cam-east")
    card = f"[data-test=alert-card][data-alert-id='{alert['id']}']"
    page.wait_for_selector(card, timeout=APPEAR_TIMEOUT_MS)
    assert page.evaluate("window.notReloaded") is True
    page.wait_for_function(
        "s => [...document.querySelectorAll(s)].every(i => i.complete && i.naturalWidth > 0)",
        arg=f"{card} img", timeout=APPEAR_TIMEOUT_MS)
    assert loaded(page, f"{card} [data-test=probe-photo]")
    assert loaded(page, f"{card} [data-test=reference-photo]")
    assert page.inner_text(f"{card} [data-test=alert-camera]") == "cam-east"
    assert page.inner_text(f"{card} [data-test=alert-adjudication]") == "Waiting for a decision"
    assert not page.is_visible("[data-test=no-alerts]")
    page.wait_for_selector("[data-test=counter-alerts]:has-text('1')")
    assert page.inner_text("[data-test=counter-pending]") == "1"
    assert page.is_disabled(f"{card} [data-test=record-outcome]")

    page.click(f"{card} [data-test=adjudicate-true_match]")
    page.wait_for_selector(f"{card} [data-test=alert-adjudication]:has-text('Confirmed')")
    page.wait_for_selector("[data-test=counter-confirmed]:has-text('1')")
    assert page.inner_text("[data-test=counter-pending]") == "0"
    page.select_option(f"{card} [data-test=outcome-select]", label="Arrested")
    page.select_option(f"{card} [data-test=demographic-group]", label="Not stated")
    page.click(f"{card} [data-test=record-outcome]")
    page.wait_for_selector(f"{card} [data-test=alert-outcome]:has-text('Arrested')")
    assert page.is_hidden(f"{card} [data-test=card-error]")
    assert page.evaluate("window.notReloaded") is True

    public = page.context.new_page()
    public.goto(f"{live_url}/deployments/{s.reference}")
    figures = public.locator("[data-test=figures]")
    confirmed = figures.locator("dt", has_text=re.compile(r"^Confirmed$")).locator(
        "xpath=following-sibling::dd[1]")
    assert confirmed.first.inner_text().strip() == "1"
    assert "Arrest" in figures.inner_text()
    public.close()
    assert [u for u in requested if not u.startswith(live_url)] == []


def test_after_completing_late_alerts_still_arrive_then_the_stream_ends(
        scenario: Scenario, live_url: str, page: Any) -> None:
    s = scenario
    entry_id = active_with_photo(s)
    recorded_before_the_end = s.clock.now.isoformat()
    s.clock.advance(minutes=30)
    open_console(page, live_url, s)
    assert page.is_hidden("[data-test=activate]")
    page.click("[data-test=complete] summary")
    page.click("[data-test=complete-confirm]")
    page.wait_for_selector("[data-test=notice]:has-text('completed')")
    assert "delivers late still appears here until" in page.inner_text(
        "[data-test=console-status]")
    assert page.is_hidden("[data-test=complete]")
    # The node's outbox delivers an alert recorded before the end: it appears live.
    node = s.staff.node(s.deployment_id)
    ok(node.post(f"/api/node/deployments/{s.deployment_id}/alerts", json={
        "alert_uid": "alert-late-1", "occurred_at": recorded_before_the_end,
        "camera": "cam-1", "track_id": "9", "score": 0.7, "entry_id": entry_id,
        "entry_category": "missing_person"}), 201)
    page.wait_for_selector("[data-test=alert-card]")
    assert "Waiting for a decision" in page.inner_text("[data-test=alert-card]")
    # The deployment has ended: a first decision is taken; changing it needs a reason.
    card = "[data-test=alert-card]"
    page.click(f"{card} [data-test=adjudicate-false_match]")
    page.wait_for_selector(f"{card} [data-test=alert-adjudication]:has-text('False')")
    page.click(f"{card} [data-test=adjudicate-unclear]")
    page.wait_for_selector(f"{card} [data-test=card-error]:has-text('needs a reason')")
    assert "false alert" in page.inner_text(f"{card} [data-test=alert-adjudication]")
    page.fill(f"{card} .adjudicate [data-test=change-reason]",
              "The second camera's view shows the face was partly covered.")
    page.click(f"{card} [data-test=adjudicate-unclear]")
    page.wait_for_selector(f"{card} [data-test=alert-adjudication]:has-text('Unclear')")
    # Late delivery closes: the console says so and the stream ends.
    s.clock.advance(hours=s.staff.platform.settings.late_delivery_hours)
    page.wait_for_selector("[data-test=connection]:has-text('ended')", timeout=10_000)
    assert "no more alerts will arrive" in page.inner_text("[data-test=console-status]")
