"""The admin pages in Chromium at a phone's width (390 px) and on a desktop: an admin adds
a person (waiting for oversight's countersignature), revokes the API key an authoriser
issued (its secret shown once), edits the technology register (a new version), reads the
settings and the verified audit log; no page is wider than the screen."""

from __future__ import annotations

from typing import Any

import pytest
from browser_helpers import log_in
from platform_helpers import PASSWORD, Scenario, Staff, ok
from playwright.sync_api import expect

WIDTHS = (390, 1280)
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _fits(page: Any, width: int, what: str) -> None:
    assert page.evaluate(OVERFLOW) <= 0, f"{what} is wider than {width} px"


@pytest.mark.parametrize("width", WIDTHS)
def test_an_admin_does_the_admin_work(page: Any, scenario: Scenario, live_url: str,
                                      width: int) -> None:
    staff = scenario.staff
    scenario.draft()  # the deployment the node's key serves
    staff.add_user("ada", "admin")
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_url, "ada", PASSWORD)
    page.click("[data-test=nav-admin]")
    _fits(page, width, "the admin home")

    page.click("[data-test=admin-link-staff_admin_users]")
    page.fill("#username", "pat")
    page.fill("#password", "a-long-password-1")
    page.select_option("#role", "planner")
    page.click("[data-test=add-user]")
    expect(page.locator("[data-test=person][data-username=pat]")).to_have_count(1)
    expect(page.locator("[data-test=person][data-username=pat] "
                        "[data-test=waits-for-countersign]")).to_have_count(1)
    _fits(page, width, "people and roles")

    # Node keys are issued by an authoriser (a key reads the watchlist; an admin may not)
    # and confirmed by an operator, who alone is shown the secret.
    staff.add_user("otto", "authoriser")
    staff.add_user("olga", "operator")
    for who, button in (("otto", "[data-test=create-key]"), ("olga", "[data-test=confirm-key]")):
        other = page.context.browser.new_page()
        other.set_viewport_size({"width": width, "height": 900})
        log_in(other, live_url, who, PASSWORD)
        other.click("[data-test=nav-node-keys]")
        if who == "otto":
            other.fill("#name", "van-1")
            other.fill("#deployment_id", str(scenario.deployment_id))
        other.click(button)
        if who == "otto":
            expect(other.locator("[data-test=waits-for-confirmation]")).to_have_count(1)
            assert other.locator("[data-test=key-secret]").count() == 0
        else:
            secret = other.locator("[data-test=key-secret]").inner_text()
            assert secret.startswith("olfr_")
            _fits(other, width, "the API keys page with a new key")
        other.close()
    page.goto(f"{live_url}/staff/admin/api-keys")
    assert secret not in page.content()
    expect(page.locator("[data-test=issued-by-others]")).to_have_count(1)
    page.click("[data-test=key] [data-test=revoke]")
    expect(page.locator("[data-test=key][data-revoked=true]")).to_have_count(1)

    page.goto(f"{live_url}/staff/admin/register/new")
    page.fill("#summary", "Cameras compare passers-by with a short watchlist.")
    page.click("[data-test=publish-entry]")
    page.click("[data-test=edit-entry]")
    page.fill("#default_threshold", "0.55")
    page.fill("[data-test=reason]", "Raised after the pilot's first month.")
    page.click("[data-test=publish-entry]")
    expect(page.locator("[data-test=register-entry][data-version='2']")).to_have_count(1)
    _fits(page, width, "the register list")
    [entry] = ok(staff.anon.get("/api/public/technology"))
    assert [v["version"] for v in entry["versions"]] == [1, 2]

    page.goto(f"{live_url}/staff/admin/settings")
    assert page.locator("[data-test=setting]").count() > 20
    _fits(page, width, "the settings page")
    page.goto(f"{live_url}/staff/admin/audit")
    assert page.locator("[data-test=verification][data-ok=true]").count() == 1
    _fits(page, width, "the audit log")


def test_oversight_adds_a_councillor_on_its_own_page(page: Any, staff: Staff,
                                                     live_url: str) -> None:
    """Oversight members and councillors are oversight's to add: at a phone's width, an
    oversight member adds a councillor with their area, which waits for another member's
    countersignature; the admin's page marks it."""
    staff.add_user("ola", "oversight")
    page.set_viewport_size({"width": 390, "height": 900})
    log_in(page, live_url, "ola", PASSWORD)
    page.click("[data-test=nav-admin]")
    page.click("[data-test=admin-link-staff_admin_independent]")
    page.fill("#username", "cllr.cai")
    page.fill("#password", "a-long-password-1")
    page.select_option("#role", "councillor")
    page.fill("#areas", "Lambeth")
    page.click("[data-test=add-user]")
    expect(page.locator("[data-test=person][data-username='cllr.cai']")).to_have_count(1)
    # It waits for another member of oversight: ola may withdraw it, not sign it.
    held = page.locator("[data-test=held-change][data-username='cllr.cai']")
    expect(held.locator("[data-test=yours-to-wait]")).to_have_count(1)
    expect(held.locator("[data-test=countersign-change]")).to_have_count(0)
    expect(held.locator("[data-test=refuse-change]")).to_have_text("Withdraw")
    _fits(page, 390, "oversight's accounts page")
    admin_page = staff["admin"].get("/staff/admin/users").text
    row = admin_page.split('data-username="cllr.cai"')[1].split("</li>")[0]
    assert 'data-test="managed-by-oversight"' in row


def test_oversight_countersigns_the_admins_new_account(page: Any, staff: Staff,
                                                       live_url: str) -> None:
    """An admin's new account waits on oversight's page; a member of oversight
    countersigns it there at a phone's width, and the person can log in."""
    made = ok(staff["admin"].post("/api/users", json={
        "username": "pat", "password": PASSWORD, "role": "operator"}), 201)
    staff.add_user("ola", "oversight")
    page.set_viewport_size({"width": 390, "height": 900})
    log_in(page, live_url, "ola", PASSWORD)
    page.goto(f"{live_url}/staff/admin/independent-accounts")
    held = page.locator("[data-test=held-change][data-username=pat]")
    expect(held).to_contain_text("a new account")
    _fits(page, 390, "oversight's page with a change waiting")
    held.locator("[data-test=countersign-change]").click()
    expect(page.locator("[data-test=no-held-changes]")).to_have_count(1)
    code = page.locator("[data-test=first-login-code] [data-test=code]").inner_text()
    _fits(page, 390, "oversight's page with the first-login code")
    assert made["held_change"]["id"] not in page.content()  # signed: no longer offered
    # Pat's first login: the admin's password, oversight's code, a password of pat's own.
    pat = page.context.browser.new_page()
    pat.set_viewport_size({"width": 390, "height": 900})
    pat.goto(f"{live_url}/staff/login")
    pat.fill("[data-test=username]", "pat")
    pat.fill("[data-test=password]", PASSWORD)
    pat.click("[data-test=first-login] summary")
    pat.fill("[data-test=first-login-code]", code)
    pat.fill("[data-test=new-password]", "pat's own passphrase")
    pat.click("[data-test=login-submit]")
    expect(pat.locator("[data-test=staff-user]")).to_have_text("pat")
    pat.close()


def test_a_person_changes_their_own_password(page: Any, staff: Staff, live_url: str) -> None:
    """From the staff bar at a phone's width: the password now and the new one twice. The
    person stays logged in (in a new session); the old password no longer works."""
    staff.add_user("pat", "planner")
    page.set_viewport_size({"width": 390, "height": 900})
    log_in(page, live_url, "pat", PASSWORD)
    page.click("[data-test=nav-account]")
    page.fill("[data-test=current-password]", PASSWORD)
    page.fill("[data-test=new-password]", "pat's own passphrase")
    page.fill("[data-test=new-password-again]", "pat's own passphrase")
    page.click("[data-test=change-password]")
    expect(page.locator("[data-test=notice]")).to_contain_text("Your password was changed")
    _fits(page, 390, "the password page")
    page.click("[data-test=nav-staff-home]")
    expect(page.locator("[data-test=staff-user]")).to_have_text("pat")
    old = staff.anon.post("/api/auth/login", json={"username": "pat", "password": PASSWORD})
    assert old.status_code == 401
