"""An admin alone cannot make a login or a power (README, "Accounts: two people"): a new
account, a new role, a password reset or a reactivation waits for oversight's
countersignature; a deactivation is at once. Before this, an admin could make an
authoriser account, or reset an officer's password, and act as them."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from platform_helpers import (
    PASSWORD,
    SECOND_OVERSIGHT,
    FakeClock,
    Scenario,
    Staff,
    make_settings,
    new_client,
    ok,
)

from openlfr.governance.errors import Conflict
from openlfr.services import users
from openlfr.services.platform import SYSTEM_ACTOR, Platform
from openlfr.services.schemas import UserIn, UserPatch

NEW_PASSWORD = "a-new-long-password-2"


def _login(staff: Staff, username: str, password: str = PASSWORD, **first: str) -> Any:
    return new_client(staff.app).post("/api/auth/login", json={
        "username": username, "password": password, **first})


def _person(staff: Staff, username: str) -> dict[str, Any]:
    return next(u for u in ok(staff["admin"].get("/api/users")) if u["username"] == username)


def _countersign(staff: Staff, user_id: int, change_id: str) -> Any:
    return staff["oversight"].post(f"/api/oversight/account-changes/{user_id}/countersign",
                                   json={"change_id": change_id})


def _audit(staff: Staff, action: str) -> list[dict[str, Any]]:
    return [{**e, "details": json.loads(e["details"])}
            for e in ok(staff["admin"].get("/api/audit/events?limit=1000"))
            if e["action"] == action]


def test_an_admins_new_account_cannot_log_in_until_oversight_countersigns(
        scenario_on: Scenario) -> None:
    staff = scenario_on.staff  # on SQLite and on PostgreSQL
    admin = staff["admin"]
    made = ok(admin.post("/api/users", json={"username": "auth.two", "password": PASSWORD,
                                              "role": "authoriser"}), 201)
    assert made["active"] is False
    held = made["held_change"]
    assert held["fields"] == ["created"] and held["requested_by"] == "admin"
    assert "password_hash" not in json.dumps(made)  # the hash never leaves the platform
    r = _login(staff, "auth.two")
    assert r.status_code == 401 and "waits for a member of oversight to countersign" in r.text
    assert _audit(staff, "user.created")[-1]["details"]["awaits_countersignature"] is True

    # The admin cannot sign their own request; nor can another force role.
    for role in ("admin", "authoriser", "planner"):
        r = staff[role].post(f"/api/oversight/account-changes/{made['id']}/countersign",
                             json={"change_id": held["id"]})
        assert r.status_code == 403, role
    waiting = ok(staff["oversight"].get("/api/oversight/account-changes"))
    assert [u["username"] for u in waiting] == ["auth.two"]

    signed = ok(_countersign(staff, made["id"], held["id"]))
    assert signed["active"] is True and signed["held_change"] is None
    code = signed["first_login_code"]
    assert code
    event = _audit(staff, "user.change_countersigned")[-1]
    assert event["actor"] == "oversight" and event["details"]["requested_by"] == "admin"
    assert code not in json.dumps(event)  # shown once, to oversight; never stored
    assert ok(staff["oversight"].get("/api/oversight/account-changes")) == []

    # The admin chose the password, so it alone logs nobody in: the first login needs
    # oversight's code and sets a password of the person's own.
    r = _login(staff, "auth.two")
    assert r.status_code == 401 and "who countersigned it gave you" in r.text
    r = _login(staff, "auth.two", first_login_code="not-the-code", new_password=NEW_PASSWORD)
    assert r.status_code == 401 and "code from oversight" in r.text
    r = _login(staff, "auth.two", first_login_code=code, new_password=PASSWORD)
    assert r.status_code == 401 and "not the one the admin set" in r.text
    assert _login(staff, "auth.two", first_login_code=code,
                  new_password=NEW_PASSWORD).status_code == 200
    assert _login(staff, "auth.two").status_code == 401  # the admin's password is gone
    assert _login(staff, "auth.two", NEW_PASSWORD).json()["role"] == "authoriser"
    assert _audit(staff, "user.first_login")[-1]["actor"] == "auth.two"


def test_a_password_reset_or_a_new_role_waits_and_the_old_one_holds_meanwhile(
        scenario_on: Scenario) -> None:
    staff = scenario_on.staff  # on SQLite and on PostgreSQL
    planner = staff["planner"]
    pid = _person(staff, "planner")["id"]
    asked = ok(staff["admin"].patch(f"/api/users/{pid}", json={"password": NEW_PASSWORD}))
    assert asked["held_change"]["fields"] == ["password"]
    # Nothing changed yet: the old password works, the new one does not, and the
    # planner's session goes on.
    assert _login(staff, "planner", NEW_PASSWORD).status_code == 401
    assert _login(staff, "planner").status_code == 200
    assert planner.get("/api/auth/me").status_code == 200

    # A newer request replaces the one waiting; the older one cannot be signed.
    newer = ok(staff["admin"].patch(f"/api/users/{pid}", json={"role": "authoriser"}))
    assert newer["held_change"]["fields"] == ["role"]
    assert newer["held_change"]["role"] == "authoriser"
    r = _countersign(staff, pid, asked["held_change"]["id"])
    assert r.status_code == 409 and "replaced it" in r.text
    assert _person(staff, "planner")["role"] == "planner"

    ok(_countersign(staff, pid, newer["held_change"]["id"]))
    assert _person(staff, "planner")["role"] == "authoriser"
    assert planner.get("/api/auth/me").status_code == 401  # sessions ended
    assert _login(staff, "planner").json()["role"] == "authoriser"  # the reset was replaced
    requested = _audit(staff, "user.change_requested")
    assert [e["details"]["fields"] for e in requested[-2:]] == [["password"], ["role"]]
    assert requested[-1]["details"]["replaces"] == asked["held_change"]["id"]


def test_oversight_refuses_with_a_reason_and_nothing_of_the_change_happens(
        staff: Staff) -> None:
    _ = staff["operator"]  # the account exists
    oid = _person(staff, "operator")["id"]
    asked = ok(staff["admin"].patch(f"/api/users/{oid}", json={"role": "authoriser",
                                                               "password": NEW_PASSWORD}))
    assert asked["held_change"]["fields"] == ["role", "password"]
    url = f"/api/oversight/account-changes/{oid}/refuse"
    at = asked["held_change"]["id"]
    r = staff["oversight"].post(url, json={"change_id": at})
    assert r.status_code == 422 and "say why" in r.text
    reason = "The operator did not ask for this; the duty sergeant knows of no promotion."
    refused = ok(staff["oversight"].post(url, json={"change_id": at, "reason": reason}))
    assert (refused["role"], refused["held_change"]) == ("operator", None)
    assert _login(staff, "operator").status_code == 200
    assert _login(staff, "operator", NEW_PASSWORD).status_code == 401
    event = _audit(staff, "user.change_refused")[-1]
    assert event["details"]["reason"] == reason and event["actor"] == "oversight"
    r = _countersign(staff, oid, at)
    assert r.status_code == 409 and "no change waits" in r.text


def test_deactivation_is_at_once_and_withdraws_what_waits(staff: Staff) -> None:
    admin = staff["admin"]
    made = ok(admin.post("/api/users", json={"username": "op.three", "password": PASSWORD,
                                              "role": "operator"}), 201)
    gone = ok(admin.patch(f"/api/users/{made['id']}", json={"active": False}))
    assert gone["held_change"] is None and gone["active"] is False
    r = _countersign(staff, made["id"], made["held_change"]["id"])
    assert r.status_code == 409  # nothing to sign back to life
    assert _login(staff, "op.three").status_code == 401
    assert _audit(staff, "user.change_withdrawn")[-1]["details"]["fields"] == ["created"]

    # A working account: deactivated at once, sessions ended; reactivation waits.
    operator = staff["operator"]
    oid = _person(staff, "operator")["id"]
    ok(admin.patch(f"/api/users/{oid}", json={"active": False}))
    assert operator.get("/api/auth/me").status_code == 401
    back = ok(admin.patch(f"/api/users/{oid}", json={"active": True}))
    assert back["active"] is False and back["held_change"]["fields"] == ["active"]
    assert "waits for a member of oversight" in _login(staff, "operator").text
    ok(_countersign(staff, oid, back["held_change"]["id"]))
    assert _login(staff, "operator").status_code == 200


def test_a_countersigned_reset_needs_oversights_code_at_the_next_login(staff: Staff) -> None:
    """The admin chose the reset password: once oversight countersigns, the person's
    next login needs oversight's code and sets their own; a role change or a
    reactivation, which set no password, needs none."""
    planner = staff["planner"]
    pid = _person(staff, "planner")["id"]
    asked = ok(staff["admin"].patch(f"/api/users/{pid}", json={"password": NEW_PASSWORD}))
    code = ok(_countersign(staff, pid, asked["held_change"]["id"]))["first_login_code"]
    assert planner.get("/api/auth/me").status_code == 401
    r = _login(staff, "planner", NEW_PASSWORD)  # what the admin knows
    assert r.status_code == 401 and "who countersigned it gave you" in r.text
    mine = "the planner's own passphrase"
    assert _login(staff, "planner", NEW_PASSWORD, first_login_code=code,
                  new_password=mine).status_code == 200
    assert _login(staff, "planner", NEW_PASSWORD).status_code == 401
    # A role change sets no password: nothing more is asked at login.
    asked = ok(staff["admin"].patch(f"/api/users/{pid}", json={"role": "operator"}))
    assert ok(_countersign(staff, pid, asked["held_change"]["id"]))["first_login_code"] is None
    assert _login(staff, "planner", mine).json()["role"] == "operator"


def test_a_new_account_stays_a_new_account_whatever_the_admin_asks_next(
        staff: Staff) -> None:
    """Oversight is asked to sign a new account, never a "reactivation" of one that was
    never live; asking again for what waits keeps the change oversight may be reading."""
    admin = staff["admin"]
    made = ok(admin.post("/api/users", json={"username": "ghost", "password": PASSWORD,
                                              "role": "planner"}), 201)
    again = ok(admin.patch(f"/api/users/{made['id']}", json={"active": True}))
    assert again["held_change"] == made["held_change"]  # the same change, the same id
    promoted = ok(admin.patch(f"/api/users/{made['id']}", json={"role": "authoriser",
                                                                "active": True}))
    assert promoted["held_change"]["fields"] == ["created", "role"]
    listed = ok(staff["oversight"].get("/api/oversight/account-changes"))
    assert [u["held_change"]["fields"] for u in listed] == [["created", "role"]]
    page = staff["oversight"].get("/staff/admin/independent-accounts").text
    row = page.split('data-test="held-change" data-username="ghost"')[1].split("</li>")[0]
    assert "a new account, role to authoriser" in row
    # The admin's page offers a pending account as live once countersigned, so saving
    # its form does not withdraw it.
    admin_page = admin.get("/staff/admin/users").text
    row = admin_page.split('data-username="ghost"')[1].split("</li>")[0]
    assert '<option value="yes" selected>yes (once countersigned)' in row


def test_a_field_set_to_what_it_is_holds_nothing(staff: Staff) -> None:
    """The staff page posts the role and the active flag with every save: saving them
    unchanged asks oversight for nothing."""
    _ = staff["planner"]  # the account exists
    pid = _person(staff, "planner")["id"]
    same = ok(staff["admin"].patch(f"/api/users/{pid}", json={"role": "planner",
                                                              "active": True}))
    assert same["held_change"] is None and same["role"] == "planner"
    assert ok(staff["oversight"].get("/api/oversight/account-changes")) == []


def test_the_migration_revokes_the_node_keys_a_person_issued(scenario_on: Scenario) -> None:
    """Node keys are an authoriser's to issue now: migration 0016 revokes those a person
    issued before (an admin, the only role that could, whatever their role is now: they
    read the watchlist, which an admin may not), and keeps the platform's own."""
    from alembic import command
    from sqlalchemy import text

    from openlfr.storage.db import alembic_config, migrate

    s = scenario_on
    s.draft()
    _ = (s.staff["admin"], s.staff["authoriser"])  # the accounts exist
    for name, by in (("from-admin", "admin"), ("from-a-former-admin", "authoriser"),
                     ("from-the-platform", "system")):
        ok(s.staff["authoriser"].post("/api/api-keys", json={
            "name": name, "deployment_id": s.deployment_id}), 201)
        with s.staff.platform.engine.begin() as conn:  # as it was issued, before
            conn.execute(text("UPDATE api_keys SET created_by = :by WHERE name = :name"),
                         {"by": by, "name": name})
    engine = s.staff.platform.engine
    command.downgrade(alembic_config(engine), "0015")
    migrate(engine)
    with engine.connect() as conn:
        revoked = dict(conn.execute(text(
            "SELECT name, revoked_at IS NOT NULL FROM api_keys")).all())
    assert revoked == {"from-admin": True, "from-a-former-admin": True,
                       "from-the-platform": False}


def test_a_new_account_withdrawn_or_refused_still_needs_oversights_code(
        staff: Staff) -> None:
    """The admin chose the new account's password: however it comes back (withdrawn by a
    deactivation, or refused, then asked again as a reactivation), the countersignature
    gives oversight the code its first login needs."""
    admin = staff["admin"]
    for name, undo in (("ghost.one", "deactivate"), ("ghost.two", "refuse")):
        made = ok(admin.post("/api/users", json={"username": name, "password": PASSWORD,
                                                  "role": "authoriser"}), 201)
        if undo == "deactivate":
            ok(admin.patch(f"/api/users/{made['id']}", json={"active": False}))
        else:
            ok(staff["oversight"].post(
                f"/api/oversight/account-changes/{made['id']}/refuse",
                json={"change_id": made["held_change"]["id"], "reason": "Not on the roster."}))
        again = ok(admin.patch(f"/api/users/{made['id']}", json={"active": True}))
        signed = ok(_countersign(staff, made["id"], again["held_change"]["id"]))
        assert signed["first_login_code"], name
        r = _login(staff, name)  # the admin's password alone
        assert r.status_code == 401 and "who countersigned it gave you" in r.text


def test_a_wrong_code_with_the_admins_password_is_in_the_audit_log(staff: Staff) -> None:
    """Only the admin (or whoever they told) knows that password: each try with a wrong
    code is the signal oversight should see; the code never is in the log."""
    made = ok(staff["admin"].post("/api/users", json={"username": "pat", "password": PASSWORD,
                                                       "role": "planner"}), 201)
    code = ok(_countersign(staff, made["id"], made["held_change"]["id"]))["first_login_code"]
    for guess in ("guess-one", "guess-two"):
        r = _login(staff, "pat", first_login_code=guess, new_password=NEW_PASSWORD)
        assert r.status_code == 401
    failed = _audit(staff, "user.first_login_failed")
    assert [e["actor"] for e in failed] == ["pat", "pat"]
    assert code not in json.dumps(failed) and "guess" not in json.dumps(failed)


def test_a_node_key_does_not_outlive_its_issuers_power(scenario: Scenario) -> None:
    """Deactivating an authoriser, or moving them to another role, revokes the node keys
    they issued: someone removed keeps no reach into watchlists or figures."""
    s = scenario
    s.draft()
    admin = s.staff["admin"]
    for username, change in (("auth.a", {"active": False}), ("auth.b", {"role": "planner"})):
        s.staff.add_user(username, "authoriser")
        issuer = s.staff.login(username)
        key = ok(issuer.post("/api/api-keys", json={"name": f"van-{username}",
                                                     "deployment_id": s.deployment_id}), 201)
        confirmed = ok(s.staff["operator"].post(f"/api/api-keys/{key['key']['id']}/confirm"))
        node = new_client(s.staff.app)
        node.headers["X-API-Key"] = confirmed["secret"]
        assert node.get(f"/api/node/deployments/{s.deployment_id}").status_code == 200
        uid = _person(s.staff, username)["id"]
        asked = ok(admin.patch(f"/api/users/{uid}", json=change))
        if asked["held_change"]:
            ok(_countersign(s.staff, uid, asked["held_change"]["id"]))
        assert node.get(f"/api/node/deployments/{s.deployment_id}").status_code == 401
        revoked = _audit(s.staff, "api_key.revoked")[-1]["details"]
        assert revoked["why"].startswith(
            f"{username}, who issued it, may no longer issue node keys")
        assert (revoked["alerts_delivered"], revoked["counter_batches_delivered"]) == (0, 0)


def test_a_change_waiting_too_long_is_not_signed(scenario: Scenario) -> None:
    """A request older than HELD_CHANGE_DAYS is for a situation that may have changed: it
    is refused (409), and can still be refused with a reason; the admin asks again."""
    from openlfr.governance.roles import HELD_CHANGE_DAYS

    s = scenario
    made = ok(s.staff["admin"].post("/api/users", json={
        "username": "late", "password": PASSWORD, "role": "planner"}), 201)
    s.clock.now += timedelta(days=HELD_CHANGE_DAYS, hours=1)
    r = _countersign(s.staff, made["id"], made["held_change"]["id"])
    assert r.status_code == 409 and f"more than {HELD_CHANGE_DAYS} days ago" in r.text
    ok(s.staff["oversight"].post(f"/api/oversight/account-changes/{made['id']}/refuse",
                                 json={"change_id": made["held_change"]["id"],
                                       "reason": "Asked for too long ago; ask again."}))
    again = ok(s.staff["admin"].patch(f"/api/users/{made['id']}", json={"active": True}))
    assert ok(_countersign(s.staff, made["id"], again["held_change"]["id"]))["active"]


def test_one_member_of_oversight_alone_makes_no_login_or_power(staff: Staff) -> None:
    """Oversight's own accounts (its members, councillors) follow the same two-person rule:
    what one member asks for, another countersigns. Before this, one member could add a
    councillor or a colleague, or reset one's password, and log in as them."""
    oversight = staff["oversight"]
    accounts = "/api/oversight/accounts"
    cllr = ok(oversight.post(accounts, json={"username": "cllr.dee", "password": PASSWORD,
                                             "role": "councillor", "areas": ["Lambeth"]}), 201)
    assert cllr["active"] is False and cllr["held_change"]["fields"] == ["created"]
    assert _login(staff, "cllr.dee").status_code == 401
    # The member who asked cannot sign it; it waits for another, and may be withdrawn.
    r = _countersign(staff, cllr["id"], cllr["held_change"]["id"])
    assert r.status_code == 409 and "needs two people" in r.text
    signed = staff.countersign(cllr)
    assert signed["active"] is True and signed["first_login_code"]
    assert _login(staff, "cllr.dee").status_code == 401  # the asker's password alone
    councillor = staff.first_login("cllr.dee", signed["first_login_code"])
    assert councillor.get("/api/auth/me").json()["role"] == "councillor"
    # A councillor's areas are a power: new ones wait too, and the old ones stand.
    asked = ok(oversight.patch(f"{accounts}/{cllr['id']}", json={"areas": ["Hackney"]}))
    assert asked["held_change"]["fields"] == ["areas"] and asked["areas"] == ["lambeth"]
    assert asked["held_change"]["areas"] == ["hackney"]
    r = ok(oversight.patch(f"{accounts}/{cllr['id']}", json={"areas": ["Lambeth"]}))
    assert r["held_change"] == asked["held_change"]  # asking for what is, asks nothing new
    assert staff.countersign(asked)["areas"] == ["hackney"]
    # A colleague's password reset waits: their own still works until it is signed.
    colleague = next(u for u in ok(oversight.get(accounts))
                     if u["username"] == SECOND_OVERSIGHT)
    reset = ok(oversight.patch(f"{accounts}/{colleague['id']}",
                               json={"password": NEW_PASSWORD}))
    assert reset["held_change"]["fields"] == ["password"]
    assert _login(staff, SECOND_OVERSIGHT).status_code == 200
    ok(oversight.post(f"/api/oversight/account-changes/{colleague['id']}/refuse",
                      json={"change_id": reset["held_change"]["id"],
                            "reason": "Asked for by mistake: withdrawn."}))
    assert _audit(staff, "user.change_refused")[-1]["actor"] == "oversight"
    # A deactivation is at once.
    gone = ok(oversight.patch(f"{accounts}/{cllr['id']}", json={"active": False}))
    assert gone["active"] is False
    assert councillor.get("/api/auth/me").status_code == 401


def test_oversights_page_offers_a_change_to_the_other_member_only(staff: Staff) -> None:
    """On oversight's accounts page, the member who asked sees their change waiting for
    another member (and may withdraw it); the other member is offered the countersign."""
    ok(staff["oversight"].post("/api/oversight/accounts", json={
        "username": "cllr.eve", "password": PASSWORD, "role": "councillor",
        "areas": ["Lambeth"]}), 201)
    page = "/staff/admin/independent-accounts"
    mine = staff["oversight"].get(page).text
    row = mine.split('data-test="held-change" data-username="cllr.eve"')[1].split("</li>")[0]
    assert 'data-test="yours-to-wait"' in row and 'data-test="countersign-change"' not in row
    assert ">Withdraw<" in row
    staff.add_user("ola", "oversight")
    theirs = staff.login("ola").get(page).text
    row = theirs.split('data-test="held-change" data-username="cllr.eve"')[1].split("</li>")[0]
    assert 'data-test="countersign-change"' in row and 'data-test="yours-to-wait"' not in row


def test_who_chose_the_password_is_never_given_its_code(staff: Staff) -> None:
    """Red team, round 10: the member who chose a new account's password could become
    its countersigner, and so be given the code too, once a colleague's request replaced
    theirs (another area asked for the pending account) or followed their own withdrawal
    (a "reactivation"), and then countersign further accounts through it alone."""
    oversight, colleague = staff["oversight"], staff.member()
    third = staff.member("oversight.three")
    accounts, changes = "/api/oversight/accounts", "/api/oversight/account-changes"
    made = ok(oversight.post(accounts, json={"username": "cllr.x", "password": PASSWORD,
                                             "role": "councillor", "areas": ["Lambeth"]}), 201)
    asked = ok(colleague.patch(f"{accounts}/{made['id']}",
                               json={"areas": ["Lambeth", "Hackney"]}))
    assert asked["held_change"]["fields"] == ["created", "areas"]
    r = _countersign(staff, made["id"], asked["held_change"]["id"])
    assert r.status_code == 409 and "oversight chose the password" in r.text
    signed = ok(third.post(f"{changes}/{made['id']}/countersign",
                           json={"change_id": asked["held_change"]["id"]}))
    assert signed["first_login_code"] and signed["areas"] == ["lambeth", "hackney"]
    # Withdrawn by its creator, then asked again by a colleague: still a new account,
    # and still not the creator's to sign.
    ov = ok(oversight.post(accounts, json={"username": "ov.x", "password": PASSWORD,
                                           "role": "oversight"}), 201)
    ok(oversight.post(f"{changes}/{ov['id']}/refuse", json={
        "change_id": ov["held_change"]["id"], "reason": "Withdrawn for now."}))
    again = ok(colleague.patch(f"{accounts}/{ov['id']}", json={"active": True}))
    assert again["held_change"]["fields"] == ["created"]
    r = _countersign(staff, ov["id"], again["held_change"]["id"])
    assert r.status_code == 409 and "oversight chose the password" in r.text
    assert _login(staff, "ov.x").status_code == 401
    code = ok(third.post(f"{changes}/{ov['id']}/countersign",
                         json={"change_id": again["held_change"]["id"]}))["first_login_code"]
    assert staff.first_login("ov.x", code).get("/api/auth/me").status_code == 200


def test_oversight_keeps_two_active_members(staff: Staff) -> None:
    """Red team, round 10: with reactivation held for another member, one of two members
    could deactivate the other and leave nobody on the web to sign them back. Oversight
    keeps two active members; a third first (the command line adds one)."""
    oversight, colleague = staff["oversight"], staff.member()
    other = next(u for u in ok(oversight.get("/api/oversight/accounts"))
                 if u["username"] == SECOND_OVERSIGHT)
    for patch in ({"active": False}, {"role": "councillor", "areas": ["Lambeth"]}):
        r = oversight.patch(f"/api/oversight/accounts/{other['id']}", json=patch)
        assert r.status_code == 409 and "last two active members" in r.text, patch
    assert colleague.get("/api/auth/me").status_code == 200
    staff.member("oversight.three")
    gone = ok(oversight.patch(f"/api/oversight/accounts/{other['id']}", json={"active": False}))
    assert gone["active"] is False and colleague.get("/api/auth/me").status_code == 401


def test_a_move_out_of_oversight_is_checked_again_when_signed(staff: Staff) -> None:
    """Red team, round 11: a move out of oversight asked for while three were active
    could be signed after one of them was removed, leaving one member; and a member could
    sign a change to their own account."""
    oversight, colleague = staff["oversight"], staff.member()
    staff.member("oversight.three")
    ids = {u["username"]: u["id"] for u in ok(oversight.get("/api/oversight/accounts"))}
    move = ok(colleague.patch(f"/api/oversight/accounts/{ids['oversight.three']}",
                              json={"role": "councillor", "areas": ["Lambeth"]}))
    change = {"change_id": move["held_change"]["id"]}
    r = staff.member("oversight.three").post(
        f"/api/oversight/account-changes/{ids['oversight.three']}/countersign", json=change)
    assert r.status_code == 409 and "your own account" in r.text
    # Whoever asked stays a member, but a reset of their password (countersigned while
    # three counted) takes them out of the count until their first login.
    reset = ok(oversight.patch(f"/api/oversight/accounts/{ids[SECOND_OVERSIGHT]}",
                               json={"password": NEW_PASSWORD}))
    ok(staff.member("oversight.three").post(
        f"/api/oversight/account-changes/{ids[SECOND_OVERSIGHT]}/countersign",
        json={"change_id": reset["held_change"]["id"]}))
    r = _countersign(staff, ids["oversight.three"], change["change_id"])
    assert r.status_code == 409 and "last two active members" in r.text


def test_a_member_whose_reset_waits_for_a_first_login_is_not_counted(staff: Staff) -> None:
    """Red team, round 12: a countersigned reset takes a member out of the count until
    their first login; removing another member meanwhile must still leave two."""
    oversight = staff["oversight"]
    staff.member()
    third = staff.member("oversight.three")
    ids = {u["username"]: u["id"] for u in ok(oversight.get("/api/oversight/accounts"))}
    reset = ok(oversight.patch(f"/api/oversight/accounts/{ids['oversight.three']}",
                               json={"password": NEW_PASSWORD}))
    staff.countersign(reset)  # by the second member: two others still count
    assert third.get("/api/auth/me").status_code == 401  # their sessions ended
    r = oversight.patch(f"/api/oversight/accounts/{ids[SECOND_OVERSIGHT]}",
                        json={"active": False})
    assert r.status_code == 409 and "last two active members" in r.text


def test_a_change_is_not_signed_once_whoever_asked_may_no_longer_ask(
        scenario_on: Scenario) -> None:
    """Stop 48 left this out: a change asked for by someone since deactivated (or moved
    to a role that may not ask for it) still waited and could be signed. It is refused
    now, saying why; it can still be refused, and whoever may asks again."""
    staff = scenario_on.staff  # on SQLite and on PostgreSQL
    staff.add_user("admin.two", "admin")
    admin_two = staff.login("admin.two")
    made = ok(admin_two.post("/api/users", json={"username": "auth.three",
                                                 "password": PASSWORD,
                                                 "role": "authoriser"}), 201)
    asker = _person(staff, "admin.two")
    ok(staff["admin"].patch(f"/api/users/{asker['id']}", json={"active": False}))
    r = _countersign(staff, made["id"], made["held_change"]["id"])
    assert r.status_code == 409 and "admin.two, who asked for this change, is no longer " \
        "active" in r.text
    assert _login(staff, "auth.three").status_code == 401
    assert _person(staff, "auth.three")["held_change"]["id"] == made["held_change"]["id"]
    ok(staff["oversight"].post(f"/api/oversight/account-changes/{made['id']}/refuse", json={
        "change_id": made["held_change"]["id"], "reason": "Its admin has left the force."}))

    # A member of oversight who asked, then was moved out of oversight.
    oversight, colleague = staff["oversight"], staff.member()
    staff.member("oversight.three")
    councillor = ok(oversight.post("/api/oversight/accounts", json={
        "username": "cllr.new", "password": PASSWORD, "role": "councillor",
        "areas": ["Lambeth"]}), 201)
    ids = {u["username"]: u["id"] for u in ok(colleague.get("/api/oversight/accounts"))}
    move = ok(colleague.patch(f"/api/oversight/accounts/{ids['oversight']}",
                              json={"role": "councillor", "areas": ["Lambeth"]}))
    ok(staff.member("oversight.three").post(
        f"/api/oversight/account-changes/{ids['oversight']}/countersign",
        json={"change_id": move["held_change"]["id"]}))
    r = colleague.post(f"/api/oversight/account-changes/{councillor['id']}/countersign",
                       json={"change_id": councillor["held_change"]["id"]})
    assert r.status_code == 409 and "oversight, who asked for this change, holds the role " \
        "councillor, which may not ask for a change to a councillor's account" in r.text
    assert _login(staff, "cllr.new").status_code == 401


def test_two_countersignatures_whose_people_cross_do_not_deadlock(
        pg_schema_url: str, tmp_path: Path, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Red team, round 13 (PostgreSQL): admin A asks a reset of admin B, B asks to demote
    A, and two members of oversight sign both at once. Each signature locked its account
    and then waited for the other's, whose asker it must read: a deadlock, answered 500.
    The rows are locked in the order of their ids, so one signature waits for the
    other; both answer, and the demotion signed first refuses A's request."""
    p = Platform.open(make_settings(tmp_path / "data", pg_schema_url))
    p.clock = clock
    try:
        for name, role in [("admin.a", "admin"), ("admin.b", "admin"),
                           ("ov.1", "oversight"), ("ov.2", "oversight")]:
            users.create_user(p, SYSTEM_ACTOR, UserIn(username=name, password=PASSWORD,
                                                      role=role))  # type: ignore[arg-type]
        people = {u.username: users.actor_of(u)
                  for u in users.list_users(p, SYSTEM_ACTOR)}
        a, b = people["admin.a"], people["admin.b"]
        assert a.user_id is not None and b.user_id is not None
        on_b = users.update_user(p, a, b.user_id, UserPatch(password="another-long-pass-1"))
        on_a = users.update_user(p, b, a.user_id, UserPatch(role="operator"))  # type: ignore[arg-type]
        real = users._require_asker_still_may

        def slow(*args: Any) -> None:
            time.sleep(0.5)  # both signatures under way: each has taken what it locks
            real(*args)

        monkeypatch.setattr(users, "_require_asker_still_may", slow)
        out: dict[str, object] = {}

        def sign(who: str, user_id: int, change: dict[str, Any]) -> None:
            try:
                out[who] = users.countersign_change(p, people[who], user_id, change["id"])
            except Exception as exc:  # noqa: BLE001 (the outcome is what is checked)
                out[who] = exc

        threads = [threading.Thread(target=sign, args=("ov.1", b.user_id, on_b.held_change)),
                   threading.Thread(target=sign, args=("ov.2", a.user_id, on_a.held_change))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        kinds = sorted(type(o).__name__ for o in out.values())
        assert kinds in (["Countersigned", "Countersigned"], ["Conflict", "Countersigned"]), out
        refused = [o for o in out.values() if isinstance(o, Conflict)]
        assert all("admin.a, who asked for this change, holds the role operator" in str(o)
                   for o in refused)
    finally:
        p.close()
