"""A person changes their own password (README, "Accounts: two people"): with the one they
have now; every session of theirs ends and a new one is set in the cookie. Before this,
someone who feared a leak could only ask for a reset, which needs an admin and
oversight."""

from __future__ import annotations

import json

from platform_helpers import PASSWORD, Staff, csrf_from, new_client, ok

NEW = "a-passphrase-only-i-know"


def _sessions(staff: Staff, username: str, n: int) -> list:
    clients = []
    for _ in range(n):
        client = new_client(staff.app)
        ok(client.post("/api/auth/login", json={"username": username, "password": PASSWORD}))
        clients.append(client)
    return clients


def test_a_person_changes_their_own_password_and_their_other_sessions_end(
        staff: Staff) -> None:
    staff.add_user("pat", "planner")
    here, elsewhere = _sessions(staff, "pat", 2)
    r = here.post("/api/auth/password", json={"password": "not-the-password",
                                              "new_password": NEW})
    assert r.status_code == 422 and "current password is not right" in r.text
    r = here.post("/api/auth/password", json={"password": PASSWORD, "new_password": PASSWORD})
    assert r.status_code == 422 and "not the one you have" in r.text
    r = here.post("/api/auth/password", json={"password": PASSWORD, "new_password": "short"})
    assert r.status_code == 422
    stolen = new_client(staff.app)  # a copy of this session's cookie
    stolen.cookies.update(here.cookies)
    assert stolen.get("/api/auth/me").status_code == 200
    assert here.post("/api/auth/password", json={"password": PASSWORD,
                                                 "new_password": NEW}).status_code == 204
    assert here.get("/api/auth/me").status_code == 200  # in a new session, set in the answer
    assert elsewhere.get("/api/auth/me").status_code == 401  # every other one ends
    assert stolen.get("/api/auth/me").status_code == 401  # this one's old cookie too
    old = new_client(staff.app).post("/api/auth/login", json={"username": "pat",
                                                              "password": PASSWORD})
    assert old.status_code == 401
    ok(new_client(staff.app).post("/api/auth/login", json={"username": "pat", "password": NEW}))
    [event] = [e for e in ok(staff["admin"].get("/api/audit/events?limit=1000"))
               if e["action"] == "user.password_changed"]
    assert event["actor"] == "pat"
    assert json.loads(event["details"]) == {"by": "the account holder",
                                            "sessions_ended": 2}
    assert NEW not in json.dumps(event) and PASSWORD not in json.dumps(event)
    # A key has no password of its own to change.
    assert staff.node(role="audit_tool").post("/api/auth/password", json={
        "password": PASSWORD, "new_password": NEW}).status_code == 403


def test_guessing_the_current_password_through_a_session_is_throttled(staff: Staff) -> None:
    """A stolen session cannot be used to guess the password: wrong tries count as failed
    logins, and the block holds for the password form as for the login."""
    staff.add_user("pat", "planner")
    [here] = _sessions(staff, "pat", 1)
    allowed = staff.platform.settings.login_failures_allowed
    statuses = [here.post("/api/auth/password", json={
        "password": f"guess-number-{n}", "new_password": NEW}).status_code
        for n in range(allowed)]
    # The login's back-off: half the allowance in a minute, then refused unchecked.
    assert statuses == [422] * (allowed // 2) + [429] * (allowed - allowed // 2)
    r = here.post("/api/auth/password", json={"password": PASSWORD, "new_password": NEW})
    assert r.status_code == 429  # blocked for now, even with the right one


def test_the_password_page(staff: Staff) -> None:
    """The staff bar links every person to their password page; the form asks for the new
    password twice and never shows what was typed."""
    staff.add_user("cllr", "councillor")
    [client] = _sessions(staff, "cllr", 1)
    home = client.get("/staff").text
    assert 'data-test="nav-account"' in home
    page = client.get("/staff/account").text
    token = csrf_from(page)
    r = client.post("/staff/account", data={
        "csrf_token": token, "password": PASSWORD, "new_password": NEW,
        "new_password_again": NEW + "x"})
    assert r.status_code == 422 and "The two new passwords differ" in r.text
    assert PASSWORD not in r.text and NEW not in r.text
    r = client.post("/staff/account", data={
        "csrf_token": token, "password": "wrong-password-1", "new_password": NEW,
        "new_password_again": NEW})
    assert r.status_code == 422 and "Your current password is not right" in r.text
    r = client.post("/staff/account", data={
        "csrf_token": token, "password": PASSWORD, "new_password": NEW,
        "new_password_again": NEW})
    assert r.status_code == 200 and "Your password was changed" in r.text
    assert client.get("/api/auth/me").status_code == 200  # the page set the new session
    assert staff.anon.get("/staff/account", follow_redirects=False).status_code in (302, 303)
