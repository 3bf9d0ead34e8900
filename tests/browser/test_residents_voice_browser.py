"""Residents' voice in Chromium: an objection answered before the start with its outcome
e-mailed to the objector (through a real SMTP sink), an escalation answered by oversight
in public, a consultation that fails for insufficient response, and every public page at
390 px wide with no horizontal scrolling and no serious or critical axe-core violation
(axe-core vendored from the npm registry, loaded from a local file)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import log_in
from platform_helpers import PASSWORD, START, Scenario, ok
from playwright.sync_api import expect
from portal_helpers import publish_realistic_deployment
from smtp_sink import smtp_sink

from openlfr.services import mailer
from openlfr.web.pages import PUBLIC_PAGE_PATHS

AXE = Path(__file__).resolve().parent / "data" / "axe-core" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
OBJECTOR = "objector@example.org"
OBJECTION = "The cameras would watch the entrance of my children's school every morning."
ANSWER = ("Not upheld: the cameras face the station forecourt only and cannot see the school "
          "gate; the site plan in the assessment shows their field of view.")


def _published(s: Scenario) -> None:
    s.draft()
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/publish-notice")))


def _object(page: Any, live_url: str, reference: str, contact: str = OBJECTOR) -> str:
    """File an objection through the form; the private link on the thank-you page."""
    page.goto(f"{live_url}/deployments/{reference}")
    page.click("[data-test=feedback-link]")
    page.check("[data-test=kind-objection]")
    page.fill("[data-test=text]", OBJECTION)
    page.fill("[data-test=contact]", contact)
    page.click("#feedback-form [data-test=submit]")
    page.wait_for_selector("[data-test=private-link]")
    return page.get_attribute("[data-test=private-link-url]", "href") or ""


def _staff(context: Any, s: Scenario, live_url: str, role: str) -> Any:
    """A person with ``role``, logged in through the form in a browser profile of their own."""
    s.staff[role]  # the account exists
    page = context.browser.new_context().new_page()
    log_in(page, live_url, role, PASSWORD)
    page.wait_for_url(f"{live_url}/staff")
    return page


def test_objection_answered_before_the_start_with_its_outcome_emailed(
        context: Any, scenario: Scenario, live_url: str) -> None:
    s = scenario
    _published(s)
    platform = s.staff.platform
    resident = context.new_page()
    private = _object(resident, live_url, s.reference)
    assert "/yours/" in private
    due = resident.inner_text("[data-test=answer-due]")
    assert "20 March 2026" in due  # 48 hours before the 22 March start, not 20 days on

    planner = _staff(context, s, live_url, "planner")
    try:
        planner.goto(f"{live_url}/staff/deployments/{s.deployment_id}/feedback")
        item = planner.locator("[data-test=feedback-item][data-kind=objection]")
        item.locator("[data-test=answer-text]").fill("Noted.")
        item.locator("[data-test=answer-outcome]").select_option("not_upheld")
        item.locator("[data-test=answer-submit]").click()
        expect(planner.locator("[data-test=feedback-item][data-kind=objection]")).to_contain_text("Noted.")
        assert planner.locator("[data-test=feedback-item][data-answered=true]").count() == 0
        item = planner.locator("[data-test=feedback-item][data-kind=objection]")
        item.locator("[data-test=answer-text]").fill(ANSWER)
        item.locator("[data-test=answer-outcome]").select_option("not_upheld")
        with smtp_sink() as sink:
            platform.settings.smtp_host, platform.settings.smtp_port = sink.host, sink.port
            platform.settings.public_url = live_url
            item.locator("[data-test=answer-submit]").click()
            planner.wait_for_url("**done=answered**")
            assert s.clock.now < START - timedelta(hours=48)  # answered before the deadline
            assert mailer.send_pending(platform).sent == 1
            [email] = sink.to(OBJECTOR)
    finally:
        planner.context.close()
    assert ANSWER in email.body and "outcome: not upheld" in email.body
    resident.goto(f"{live_url}/deployments/{s.reference}")
    objection = resident.locator("[data-test=feedback-item][data-kind=objection]")
    assert objection.get_attribute("data-outcome") == "not_upheld"
    assert ANSWER in objection.locator("[data-test=answer]").inner_text()


def test_an_escalation_is_answered_by_oversight_in_public(
        context: Any, scenario: Scenario, live_url: str) -> None:
    s = scenario
    _published(s)
    resident = context.new_page()
    private = _object(resident, live_url, s.reference)
    fid = int(re.findall(r"/feedback/(\d+)/yours/", private)[0])
    ok(s.staff["planner"].post(f"/api/feedback/{fid}/answer", json={
        "answer": ANSWER, "outcome": "not_upheld"}))

    resident.goto(private)
    resident.fill("[data-test=reply-text]", "The assessment has no site plan at all.")
    resident.click("[data-test=reply-submit]")
    resident.wait_for_url("**done=replied**")
    assert resident.locator("[data-test=reply-form]").count() == 0  # one reply only
    resident.fill("[data-test=escalation-text]", "The answer cites a plan nobody can read.")
    resident.click("[data-test=escalate-submit]")
    resident.wait_for_url("**done=escalated**")

    response = ("Upheld in part: the site plan must be published before the start; the "
                "board has asked the force to do so.")
    oversight = _staff(context, s, live_url, "oversight")
    try:
        oversight.goto(f"{live_url}/staff/escalations")
        item = oversight.locator(f"[data-test=escalation][data-feedback-id='{fid}']")
        assert "a plan nobody can read" in item.inner_text()
        item.locator("[data-test=response-text]").fill(response)
        item.locator("[data-test=respond-submit]").click()
        oversight.wait_for_url("**done=oversight_responded**")
    finally:
        oversight.context.close()
    resident.goto(f"{live_url}/deployments/{s.reference}")
    published = resident.locator("[data-test=feedback-item][data-kind=objection]")
    assert response in published.locator("[data-test=oversight-response]").inner_text()
    assert "no site plan at all" in published.locator("[data-test=reply]").inner_text()


def test_a_consultation_fails_for_insufficient_response(
        context: Any, scenario: Scenario, live_url: str) -> None:
    s = scenario
    _published(s)
    # Closed after two days with three responses (14 days and 20 are required).
    cid = s.open_consultation()
    s.responses(cid, 3)
    s.clock.advance(days=2)
    ok(s.staff["planner"].post(s.url("/consultation/close")))

    resident = context.new_page()
    resident.goto(f"{live_url}/deployments/{s.reference}/consultation")
    insufficient = resident.inner_text("[data-test=insufficient-response]")
    assert "Insufficient response" in insufficient and "fewer than the 20 required" in insufficient
    # The deployment's page shows the consultation gate failing, and why.
    resident.goto(f"{live_url}/deployments/{s.reference}")
    gate = resident.locator("[data-test=gate][data-gate=consultation_and_objections]")
    assert gate.get_attribute("data-passed") == "false"
    assert "Insufficient response" in gate.inner_text()
    assert "Insufficient response" in resident.inner_text("[data-test=insufficient-response]")


def _public_urls(s: Scenario, private: str) -> list[str]:
    """Every public HTML page, with the scenario's values in the path."""
    fid, token = re.findall(r"/feedback/(\d+)/yours/([^/?#]+)", private)[0]
    urls = []
    for path in PUBLIC_PAGE_PATHS:
        if path.endswith((".ics", ".atom", ".csv", ".json", ".pdf")):
            continue
        url = path.replace("{reference}", s.reference).replace("{area}", "lambeth--vauxhall")
        url = url.replace("{feedback_id}", fid) if "yours" in path else url
        url = url.replace("{token}", token if "yours" in path else "unknown-token")
        urls.append(re.sub(r"\{[^}]+\}", "1", url))
    return urls


def test_every_public_page_fits_a_phone_and_passes_axe(
        browser: Any, scenario: Scenario, live_url: str) -> None:
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == AXE_SHA256
    s = scenario
    publish_realistic_deployment(s)
    # The portal's Content-Security-Policy forbids inline scripts; axe is injected by the
    # test, so this context alone bypasses it.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                has_touch=True, device_scale_factor=2, bypass_csp=True)
    try:
        page = phone.new_page()
        private = _object(page, live_url, s.reference)
        problems: list[str] = []
        checked = 0
        for url in _public_urls(s, private):
            page.goto(f"{live_url}{url}")
            if "text/html" not in (page.evaluate("document.contentType") or ""):
                continue
            checked += 1
            width = page.evaluate("[document.documentElement.scrollWidth, "
                                  "document.documentElement.clientWidth]")
            if width[0] > width[1]:
                problems.append(f"{url}: {width[0]} px wide at 390 px (horizontal scroll)")
            page.add_script_tag(path=str(AXE))
            found = page.evaluate("""async () => {
                const r = await axe.run(document, {resultTypes: ['violations']});
                return r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
                    .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.map(
                        n => n.target.join(' ')).slice(0, 3).join(', '));
            }""")
            problems += [f"{url}: {v}" for v in found]
        assert checked >= 10
        assert problems == [], "\n".join(problems)
    finally:
        phone.close()


@pytest.mark.parametrize("width", [390])
def test_the_feedback_form_has_large_controls_and_a_skip_link(
        browser: Any, scenario: Scenario, live_url: str, width: int) -> None:
    s = scenario
    _published(s)
    phone = browser.new_context(viewport={"width": width, "height": 844})
    try:
        page = phone.new_page()
        page.goto(f"{live_url}/deployments/{s.reference}/feedback")
        skip = page.locator("a.skip-link")
        assert skip.get_attribute("href") == "#main"
        box = page.locator("#feedback-form [data-test=submit]").bounding_box()
        assert box is not None and box["height"] >= 44
        text = page.locator("[data-test=text]").bounding_box()
        assert text is not None and text["x"] + text["width"] <= width
    finally:
        phone.close()


def test_a_collective_objection_crosses_the_threshold_and_oversight_holds_a_hearing(
        context: Any, scenario: Scenario, live_url: str) -> None:
    s = scenario
    platform = s.staff.platform
    platform.settings.collective_objection_threshold = 2
    _published(s)
    platform.settings.public_url = live_url
    resident = context.new_page()
    resident.goto(f"{live_url}/deployments/{s.reference}")
    resident.locator("[data-test=object-together]").last.click()
    resident.fill("[data-test=start-text]", "We object: nobody on the estate was asked.")
    resident.fill("[data-test=start-email]", "first@example.org")
    resident.click("[data-test=start-submit]")
    resident.wait_for_selector("[data-test=signature-sent]")
    objections = resident.url  # the area's objections page the form posted to

    def confirm(address: str) -> None:
        with smtp_sink() as sink:
            platform.settings.smtp_host, platform.settings.smtp_port = sink.host, sink.port
            assert mailer.send_pending(platform).sent == 1
            [link] = re.findall(rf"{re.escape(live_url)}/collective/signatures/\S+/confirm",
                                sink.to(address)[0].body)
        resident.goto(link)
        resident.click("[data-test=signature-confirm-submit]")
        resident.wait_for_selector("[data-test=signature-confirmed]")

    # The objection is public, and open to co-signing, once its starter confirms it.
    confirm("first@example.org")
    resident.goto(objections)
    item = resident.locator("[data-test=collective]").first
    item.locator("[data-test=sign-email]").fill("second@example.org")
    item.locator("[data-test=sign-submit]").click()
    resident.wait_for_selector("[data-test=signature-sent]")
    confirm("second@example.org")
    resident.goto(f"{live_url}/deployments/{s.reference}")
    attached = resident.locator("[data-test=collective-objections] [data-test=collective]")
    assert attached.get_attribute("data-signatures") == "2"
    assert attached.get_attribute("data-needs-hearing") == "true"
    assert "example.org" not in resident.content()

    oversight = _staff(context, s, live_url, "oversight")
    try:
        oversight.goto(f"{live_url}/staff/escalations")
        form = oversight.locator("[data-test=collective][data-needs-hearing=true] "
                                 "[data-test=hearing-form]")
        form.locator("[data-test=hearing-date]").fill(s.clock.now.date().isoformat())
        form.locator("[data-test=hearing-record]").fill(
            "The board heard the residents and the force; the force moved the camera away "
            "from the estate entrance.")
        form.locator("[data-test=hearing-submit]").click()
        oversight.wait_for_url("**done=hearing_recorded**")
    finally:
        oversight.context.close()
    resident.goto(f"{live_url}/deployments/{s.reference}")
    assert "moved the camera away" in resident.inner_text(
        "[data-test=collective-objections] [data-test=hearing]")
