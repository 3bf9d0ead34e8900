"""Admin pages: people and roles, API keys (issued once, last used, revoked), the
technology register edited through a form (each save a new published version), settings
in force with secrets masked, and the audit log with its verification; the 403 page does
not tell an admin to ask an admin."""

from __future__ import annotations

import re

from platform_helpers import Scenario, Staff, ok
from starlette.testclient import TestClient


def _token(page_text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_text)
    assert found, "no CSRF token on the page"
    return found.group(1)


def _post(client: TestClient, page: str, action: str, fields: dict[str, str],
          follow: bool = True) -> object:
    token = _token(client.get(page).text)
    return client.post(action, data={"csrf_token": token, **fields}, follow_redirects=follow)


def test_admin_manages_people_and_roles(staff: Staff) -> None:
    admin = staff["admin"]
    home = admin.get("/staff/admin")
    assert home.status_code == 200 and 'data-test="admin-link-staff_admin_users"' in home.text
    r = _post(admin, "/staff/admin/users", "/staff/admin/users", {
        "username": "pat", "password": "a-long-password-1", "role": "planner", "areas": ""})
    assert r.status_code == 200 and 'data-username="pat"' in r.text  # type: ignore[attr-defined]
    pat = next(u for u in ok(admin.get("/api/users")) if u["username"] == "pat")
    assert "cannot log in yet" in r.text  # type: ignore[attr-defined]
    assert pat["active"] is False and pat["held_change"]["fields"] == ["created"]
    # Oversight countersigns the new account on its own page; then it may log in.
    oversight = staff["oversight"]
    page = oversight.get("/staff/admin/independent-accounts").text
    assert 'data-test="held-change" data-username="pat"' in page
    r = _post(oversight, "/staff/admin/independent-accounts",
              f"/staff/admin/account-changes/{pat['id']}/countersign",
              {"change_id": pat["held_change"]["id"]})
    assert "Countersigned. Give pat this code yourself" in r.text  # type: ignore[attr-defined]
    code = re.search(r'data-test="code">([^<]+)<', r.text).group(1)  # type: ignore[attr-defined,union-attr]
    assert code not in oversight.get("/staff/admin/independent-accounts").text  # shown once
    # Pat's first login, on the login page: the admin's password, oversight's code and
    # a password of pat's own.
    login = TestClient(staff.app)
    form = login.get("/staff/login").text
    assert 'name="first_login_code"' in form and 'name="new_password"' in form
    r = login.post("/staff/login", data={"username": "pat", "password": "a-long-password-1"},
                   follow_redirects=False)
    assert r.status_code == 401 and "who countersigned it gave you" in r.text
    assert "<details open" in r.text  # the first-login fields are shown
    r = login.post("/staff/login", data={"username": "pat", "password": "a-long-password-1",
                                         "first_login_code": code,
                                         "new_password": "pat's own passphrase"},
                   follow_redirects=False)
    assert r.status_code == 303
    assert login.get("/api/auth/me").json()["role"] == "planner"
    # A new role waits for oversight; a deactivation asked with it is at once.
    r = _post(admin, "/staff/admin/users", f"/staff/admin/users/{pat['id']}",
              {"role": "operator", "active": "no", "areas": ""})
    assert "takes effect when oversight countersigns" in r.text  # type: ignore[attr-defined]
    person = next(u for u in ok(admin.get("/api/users")) if u["username"] == "pat")
    assert (person["role"], person["active"]) == ("planner", False)
    assert person["held_change"]["fields"] == ["role"]
    r = _post(oversight, "/staff/admin/independent-accounts",
              f"/staff/admin/account-changes/{pat['id']}/refuse",
              {"change_id": person["held_change"]["id"], "reason": ""},
              follow=False)
    assert r.status_code == 422 and "say why" in r.text  # type: ignore[attr-defined]
    r = _post(oversight, "/staff/admin/independent-accounts",
              f"/staff/admin/account-changes/{pat['id']}/refuse",
              {"change_id": person["held_change"]["id"],
               "reason": "No such officer on the duty roster."})
    assert "Refused" in r.text  # type: ignore[attr-defined]
    person = next(u for u in ok(admin.get("/api/users")) if u["username"] == "pat")
    assert (person["role"], person["active"], person["held_change"]) == ("planner", False, None)
    # Oversight members and councillors are oversight's to add, not the admin's.
    refused = _post(admin, "/staff/admin/users", "/staff/admin/users", {
        "username": "ovi", "password": "a-long-password-1", "role": "oversight", "areas": ""},
        follow=False)
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert "managed by oversight" in refused.text  # type: ignore[attr-defined]
    assert "ovi" not in [u["username"] for u in ok(admin.get("/api/users"))]
    bad = _post(admin, "/staff/admin/users", "/staff/admin/users",
                {"username": "x", "password": "short", "role": "planner"}, follow=False)
    assert bad.status_code == 422 and "short" not in bad.text  # type: ignore[attr-defined]
    assert staff["planner"].get("/staff/admin/users").status_code == 403


def test_api_keys_are_shown_once_and_say_when_last_used(scenario: Scenario) -> None:
    staff = scenario.staff
    scenario.draft()
    admin, operator = staff["admin"], staff["authoriser"]  # the authoriser issues them
    # The admin's page lists keys but offers no form: authorisers issue them.
    page = admin.get("/staff/admin/api-keys").text
    assert 'data-test="issued-by-others"' in page and 'id="deployment_id"' not in page
    r = _post(admin, "/staff/admin/api-keys", "/staff/admin/api-keys",
              {"name": "van-2", "role": "node", "deployment_id": str(scenario.deployment_id)},
              follow=False)
    assert r.status_code == 403  # type: ignore[attr-defined]
    home = operator.get("/staff").text
    assert 'data-test="nav-node-keys"' in home and 'data-test="nav-admin"' not in home
    page = operator.get("/staff/admin/api-keys").text
    assert re.search(r'<input id="deployment_id"[^>]* required', page)
    # A node key serves one deployment: without one it is refused, naming the field.
    r = _post(operator, "/staff/admin/api-keys", "/staff/admin/api-keys",
              {"name": "van-2", "role": "node", "deployment_id": ""}, follow=False)
    assert r.status_code == 422  # type: ignore[attr-defined]
    assert "a node key serves one deployment" in r.text  # type: ignore[attr-defined]
    assert "van-2" not in [k["name"] for k in ok(admin.get("/api/api-keys"))]
    r = _post(operator, "/staff/admin/api-keys", "/staff/admin/api-keys",
              {"name": "van-2", "role": "node", "deployment_id": str(scenario.deployment_id)})
    # Issued, but its issuer is never shown a secret: the confirming operator is.
    assert "you are never shown it" in r.text  # type: ignore[attr-defined]
    assert 'data-test="key-secret"' not in r.text  # type: ignore[attr-defined]
    [key] = [k for k in ok(admin.get("/api/api-keys")) if k["name"] == "van-2"]
    assert key["last_used_at"] is None and key["confirmed_at"] is None
    assert 'data-test="confirm-key"' not in operator.get("/staff/admin/api-keys").text
    page = staff["operator"].get("/staff/admin/api-keys").text
    assert 'data-test="confirm-key"' in page
    r = _post(staff["operator"], "/staff/admin/api-keys",
              f"/staff/admin/api-keys/{key['id']}/confirm", {}, follow=False)
    assert r.status_code == 200  # type: ignore[attr-defined]
    secret = re.search(r'data-test="key-secret">([^<]+)<', r.text).group(1)  # type: ignore[attr-defined,union-attr]
    assert secret not in staff["operator"].get("/staff/admin/api-keys").text  # shown once
    tool = TestClient(staff.app)
    tool.headers["X-API-Key"] = secret
    assert tool.get(f"/api/node/deployments/{scenario.deployment_id}").status_code == 200
    [key] = [k for k in ok(admin.get("/api/api-keys")) if k["name"] == "van-2"]
    assert key["last_used_at"] is not None
    page = admin.get("/staff/admin/api-keys").text
    assert "never" not in page.split(f'data-key-id="{key["id"]}"')[1].split("</tr>")[0]
    _post(admin, "/staff/admin/api-keys", f"/staff/admin/api-keys/{key['id']}/revoke", {})
    assert tool.get(f"/api/node/deployments/{scenario.deployment_id}").status_code == 401


def test_register_entries_are_edited_as_new_versions(staff: Staff) -> None:
    admin = staff["admin"]
    new = admin.get("/staff/admin/register/new")
    assert new.status_code == 200 and "mobilefacenet" in new.text  # filled from the engine
    fields = {"algorithm": "UltraLight; MobileFaceNet", "model_version": "mfn:abc",
              "vendor_or_project": "openlfr", "default_threshold": "0.5", "notes": "",
              "name": "LFR pilot", "summary": "Cameras compare passers-by with a watchlist.",
              "contact_email": "lfr@police.example", "phase": "beta/pilot",
              "impact_assessments": "DPIA | 2026-01-10 | https://police.example/dpia.pdf",
              "risks": "False alerts | An innocent person stopped | Officer checks every alert",
              "reason": ""}
    r = _post(admin, "/staff/admin/register/new", "/staff/admin/register/new", fields)
    assert r.status_code == 200 and 'data-version="1"' in r.text  # type: ignore[attr-defined]
    [entry] = ok(staff.anon.get("/api/public/technology"))
    tid = entry["technology"]["id"]
    form = admin.get(f"/staff/admin/register/{tid}").text
    assert "DPIA | 2026-01-10 | https://police.example/dpia.pdf" in form
    _post(admin, f"/staff/admin/register/{tid}", f"/staff/admin/register/{tid}",
          {**fields, "default_threshold": "0.55",
           "reason": "Raised after the pilot's first month."})
    record = ok(staff.anon.get(f"/api/public/technology/{tid}/atrs"))
    assert record["version"] == 2 and record["tier_1"]["description"] == fields["summary"]
    assert record["version_history"][1]["reason"] == "Raised after the pilot's first month."
    ia = record["tier_2"]["risks_mitigations_and_impact_assessments"]["impact_assessments"]
    assert ia == [{"name": "DPIA", "description": "", "date": "2026-01-10",
                   "link": "https://police.example/dpia.pdf"}]
    bad = _post(admin, f"/staff/admin/register/{tid}", f"/staff/admin/register/{tid}",
                {**fields, "contact_email": "not an address"}, follow=False)
    assert bad.status_code == 422 and "contact_email" not in bad.text.split("<form")[0]  # type: ignore[attr-defined]
    assert ok(staff.anon.get(f"/api/public/technology/{tid}/atrs"))["version"] == 2
    # Once audited, the entry's model is refused on the form, where the field is.
    ok(staff["oversight"].post(f"/api/technology/{tid}/equity-audits", json={
        "conducted_on": "2026-01-15", "dataset": "balanced set", "engine_version": "0.1",
        "model_id": "mfn:abc", "thresholds_swept": [0.5], "recommended_threshold": 0.5,
        "fair_threshold": 0.5}),
       201)
    moved = _post(admin, f"/staff/admin/register/{tid}", f"/staff/admin/register/{tid}",
                  {**fields, "model_version": "mfn:def"}, follow=False)
    assert moved.status_code == 422  # type: ignore[attr-defined]
    assert "register mfn:def as a new entry" in moved.text  # type: ignore[attr-defined]
    assert ok(staff.anon.get(f"/api/public/technology/{tid}/atrs"))["version"] == 2


def test_settings_are_read_only_and_secrets_masked(staff: Staff) -> None:
    settings = staff.platform.settings
    page = staff["oversight"].get("/staff/admin/settings")
    assert page.status_code == 200
    assert "OPENLFR_NOTICE_DAYS" in page.text and "OPENLFR_LATER_OUTCOME_WINDOW_DAYS" in page.text
    for secret in (settings.encryption_key, settings.audit_signing_key):
        if secret:
            assert secret not in page.text
    assert "<form" not in page.text.split('data-test="settings"')[1]
    assert staff["planner"].get("/staff/admin/settings").status_code == 403


def test_audit_log_page_says_it_verifies(staff: Staff) -> None:
    staff["admin"]  # logging in is audited
    page = staff["oversight"].get("/staff/admin/audit")
    assert page.status_code == 200 and 'data-ok="true"' in page.text
    assert page.text.count('data-test="audit-event"') >= 1


def test_forbidden_page_does_not_tell_an_admin_to_ask_an_admin(staff: Staff) -> None:
    page = staff["admin"].get("/staff/deployments/new")
    assert page.status_code == 403
    assert "Ask an admin" not in page.text and "ask an admin" not in page.text
    assert "People and roles" in page.text
    other = staff["operator"].get("/staff/admin/users")
    assert other.status_code == 403 and "Ask an admin" in other.text


def test_oversight_adds_and_changes_its_members_and_councillors_on_its_own_page(
        staff: Staff) -> None:
    oversight, admin = staff["oversight"], staff["admin"]
    home = oversight.get("/staff/admin").text
    assert 'data-test="admin-link-staff_admin_independent"' in home
    assert 'data-test="admin-link-staff_admin_users"' not in home
    page = "/staff/admin/independent-accounts"
    assert admin.get(page).status_code == 403
    assert ">authoriser<" not in oversight.get(page).text  # only its own kind is offered
    r = _post(oversight, page, page, {"username": "cllr.bea", "password": "a-long-password-1",
                                      "role": "councillor", "areas": "Lambeth"})
    assert r.status_code == 200 and 'data-username="cllr.bea"' in r.text  # type: ignore[attr-defined]
    bea = next(u for u in ok(oversight.get("/api/oversight/accounts"))
               if u["username"] == "cllr.bea")
    assert bea["areas"] == ["lambeth"]
    _post(oversight, page, f"{page}/{bea['id']}", {"role": "councillor", "active": "no",
                                                   "areas": "Lambeth"})
    bea = next(u for u in ok(oversight.get("/api/oversight/accounts"))
               if u["username"] == "cllr.bea")
    assert bea["active"] is False
    wrong = _post(oversight, page, page, {"username": "auth.two", "password": "a-long-password-1",
                                          "role": "authoriser", "areas": ""}, follow=False)
    assert wrong.status_code == 422  # type: ignore[attr-defined]
    # On the admin's page, oversight's accounts are shown and not offered for change.
    people = admin.get("/staff/admin/users").text
    row = people.split('data-username="cllr.bea"')[1].split("</li>")[0]
    assert 'data-test="managed-by-oversight"' in row and "<form" not in row


def test_oversight_issues_and_revokes_audit_tools_keys_on_its_own_page(
        staff: Staff) -> None:
    oversight, admin = staff["oversight"], staff["admin"]
    assert 'data-test="admin-link-staff_admin_audit_keys"' in oversight.get("/staff/admin").text
    page = "/staff/admin/audit-keys"
    assert admin.get(page).status_code == 403
    r = _post(oversight, page, page, {"name": "audit-cli"}, follow=False)
    assert r.status_code == 201  # type: ignore[attr-defined]
    secret = re.search(r'data-test="key-secret">([^<]+)<', r.text).group(1)  # type: ignore[attr-defined,union-attr]
    assert secret not in oversight.get(page).text  # shown once
    tool = TestClient(staff.app)
    tool.headers["X-API-Key"] = secret
    assert tool.get("/api/technology").status_code == 200
    [key] = ok(oversight.get("/api/oversight/audit-keys"))
    assert (key["name"], key["role"], key["created_by"]) == ("audit-cli", "audit_tool",
                                                            "oversight")
    _post(oversight, page, f"{page}/{key['id']}/revoke", {})
    assert tool.get("/api/technology").status_code == 401
    assert 'data-revoked="true"' in oversight.get(page).text
