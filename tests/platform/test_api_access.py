"""Who may call what: anonymous callers, each role, engine-node keys."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from platform_helpers import (
    PASSWORD,
    ROLES,
    FakeClock,
    Scenario,
    Staff,
    new_client,
    ok,
    route_table,
)

from openlfr.storage import models as m
from openlfr.web.app import PUBLIC_PATH_PREFIXES


def _concrete(path: str) -> str:
    """Fill path parameters: numeric ids with 1, references with a plausible one."""
    path = path.replace("{reference}", "LFR-2026-0001")
    return re.sub(r"\{[^}]+\}", "1", path)


def _is_public(path: str) -> bool:
    return path.startswith(PUBLIC_PATH_PREFIXES)



def _key_from_before(staff: Staff, secret: str, role: str) -> TestClient:
    """A client with an API key as an earlier version issued it (no deployment named),
    written straight to the database: the kinds of key the platform no longer issues
    (confirmed as issued, as migration 0016 counts the keys before it)."""
    now = staff.platform.clock()
    with staff.platform.sessions.begin() as session:
        session.add(m.ApiKey(name=f"old-{role}", key_hash=hashlib.sha256(secret.encode())
                             .hexdigest(), key_prefix=secret, role=role, deployment_id=None,
                             created_by="admin", created_at=now, revoked_at=None,
                             confirmed_at=now, confirmed_by="admin"))
    client = new_client(staff.app)
    client.headers["X-API-Key"] = secret
    return client

def test_every_non_public_route_refuses_anonymous_callers(staff: Staff) -> None:
    """Walk the route table: any route not under a public prefix must answer 401 to a
    caller with no session and no key, before looking at the body or the database."""
    checked = 0
    for path, methods in route_table(staff.app):
        if _is_public(path):
            continue
        for method in methods:
            response = staff.anon.request(method, _concrete(path), json={})
            assert response.status_code == 401, (method, path, response.status_code)
            checked += 1
    assert checked >= 40  # the walk really walked


def test_public_routes_answer_anonymous_callers(staff: Staff) -> None:
    public = [(p, m) for p, m in route_table(staff.app) if _is_public(p)]
    assert len(public) >= 8
    for path, methods in public:
        for method in methods:
            response = staff.anon.request(method, _concrete(path), json={})
            assert response.status_code not in (401, 403), (method, path)


def test_a_bad_session_cookie_is_anonymous_and_a_bad_key_is_refused(staff: Staff) -> None:
    client = new_client(staff.app)
    client.cookies.set("openlfr_session", "forged")
    assert client.get("/api/deployments").status_code == 401
    client = new_client(staff.app)
    client.headers["X-API-Key"] = "olfr_forged"
    r = client.get("/api/node/deployments/1/watchlist")
    assert r.status_code == 401 and "unknown or revoked" in r.json()["detail"]


ROLE_MATRIX: list[tuple[str, str, object, set[str]]] = [
    # (method, path, body, roles allowed to get past the role check)
    ("GET", "/api/users", None, {"admin"}),
    ("POST", "/api/deployments", {}, {"planner"}),
    ("GET", "/api/deployments", None, {"operator", "planner", "authoriser", "oversight",
                                       "councillor", "admin"}),
    ("POST", "/api/deployments/1/overrides/countersign", {}, {"oversight"}),
    ("POST", "/api/deployments/1/amendments", {}, {"planner"}),
    ("POST", "/api/motions", {}, {"oversight", "councillor"}),
    ("POST", "/api/technology", {}, {"admin", "oversight"}),
    ("GET", "/api/audit/verify", None, {"admin", "oversight"}),
    ("POST", "/api/alerts/1/adjudication", {}, {"operator"}),
    ("GET", "/api/deployments/1/watchlist", None, {"planner", "authoriser", "operator"}),
    ("POST", "/api/deployments/1/comments", {}, {"oversight", "councillor"}),
    ("GET", "/api/node/deployments/1/watchlist", None, set()),
]


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ROLE_MATRIX,
                         ids=[f"{m} {p}" for m, p, _, _ in ROLE_MATRIX])
def test_role_matrix(staff: Staff, method: str, path: str, body: object,
                     allowed: set[str]) -> None:
    for role in ROLES:
        r = staff[role].request(method, path, json=body)
        if role in allowed:
            assert r.status_code not in (401, 403), (role, r.status_code, r.text)
        else:
            assert r.status_code == 403, (role, r.status_code)
            assert "needs one of these roles" in r.json()["detail"]


def test_transitions_are_limited_by_role(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.draft()
    for role in ("operator", "oversight", "admin", "authoriser"):
        r = staff[role].post(s.url("/propose"))
        assert r.status_code == 403, role
    ok(staff["planner"].post(s.url("/propose")))
    ok(staff["planner"].post(s.url("/publish-notice")))
    assert staff["planner"].post(s.url("/authorise")).status_code == 403


def test_node_keys_only_reach_node_routes_of_active_deployments(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.prepare()
    node = staff.node(s.deployment_id)
    assert node.get("/api/deployments").status_code == 403
    r = node.get(f"/api/node/deployments/{s.deployment_id}/watchlist")
    assert r.status_code == 409 and "not 'active'" in r.json()["detail"]
    r = node.post(f"/api/node/deployments/{s.deployment_id}/counters",
                  json={"batch_id": "batch-0001", "faces_seen": 1, "tracks": 1})
    assert r.status_code == 409
    # People cannot use the node API even with the right role elsewhere.
    assert staff["operator"].get(
        f"/api/node/deployments/{s.deployment_id}/watchlist").status_code == 403

    ok(staff["authoriser"].post(s.url("/authorise")))
    s.clock.now += timedelta(hours=12)
    ok(staff["operator"].post(s.url("/activate")))
    ok(node.get(f"/api/node/deployments/{s.deployment_id}/watchlist"))

    # A key for another deployment is told this one does not exist, as a missing one is.
    other_id = ok(staff["planner"].post("/api/deployments", json=s.deployment_body()), 201)["id"]
    other = staff.node(other_id, name="van-2")
    r = other.get(f"/api/node/deployments/{s.deployment_id}/watchlist")
    assert r.status_code == 404
    assert r.json() == {"detail": f"deployment {s.deployment_id} does not exist"}

    spare = staff.node(s.deployment_id, name="spare")
    ok(spare.get(f"/api/node/deployments/{s.deployment_id}/watchlist"))
    keys = ok(staff["admin"].get("/api/api-keys"))
    spare_key = next(k for k in keys if k["name"] == "spare")
    assert "secret" not in spare_key and "key_hash" not in spare_key
    ok(staff["admin"].post(f"/api/api-keys/{spare_key['id']}/revoke"))
    assert spare.get(f"/api/node/deployments/{s.deployment_id}/watchlist").status_code == 401


def test_a_node_key_for_no_deployment_is_not_issued_and_an_old_one_no_longer_works(
        scenario: Scenario) -> None:
    """A node key serves one deployment (the powers table). Asked for without one, it is
    refused naming the field; one issued before that rule (for every deployment) is
    refused when used, saying why, and the admin's keys page says it no longer works."""
    s, staff = scenario, scenario.staff
    s.activate()
    admin = staff["admin"]
    r = staff["authoriser"].post("/api/api-keys", json={"name": "van-9"})
    assert r.status_code == 422
    [problem] = r.json()["detail"]
    assert problem["loc"] == ["body", "deployment_id"]
    assert "a node key serves one deployment" in problem["msg"]
    assert "van-9" not in [k["name"] for k in ok(admin.get("/api/api-keys"))]

    old = _key_from_before(staff, "olfr_old_van", "node")  # issued for every deployment
    base = f"/api/node/deployments/{s.deployment_id}"
    for r in (old.get(f"{base}/watchlist"), old.get(base),
              old.get(f"/api/node/deployments/by-reference/{s.reference}"),
              old.post(f"{base}/alerts", json={
                  "alert_uid": "from-an-old-key", "occurred_at": staff.platform.clock()
                  .isoformat(), "camera": "cam-1", "track_id": "7", "score": 0.9,
                  "entry_id": 1})):
        assert r.status_code == 401, r.text
        assert r.json()["detail"].startswith(
            "this API key no longer works: a node key serves one deployment")
    row = admin.get("/staff/admin/api-keys").text.split("<code>olfr_old_van</code>")[1]
    assert 'data-test="retired">no longer works: a node key serves one deployment' in (
        row.split("</tr>")[0])


def test_a_node_key_learns_nothing_of_other_deployments(scenario: Scenario) -> None:
    """Every node route answers a deployment other than the key's exactly as a missing
    one: 404, in the same words (not 409, which would say it exists)."""
    s, staff = scenario, scenario.staff
    s.activate()
    own = s.deployment_id
    other_id = ok(staff["planner"].post("/api/deployments", json=s.deployment_body()), 201)["id"]
    other_reference = next(d["reference"] for d in ok(staff["planner"].get("/api/deployments"))
                           if d["id"] == other_id)
    node = staff.node(own)
    missing = 999_999
    alert = {"alert_uid": "probe-alert-1", "occurred_at": staff.platform.clock().isoformat(),
             "camera": "cam-1", "track_id": "7", "score": 0.9, "entry_id": 1}
    counters = {"batch_id": "probe-batch", "faces_seen": 1, "tracks": 1}
    dropped = {"run_id": "run-0001", "reason": "interrupted", "alerts_sent": 0,
               "outbox_pending": 0}

    def answers(deployment_id: int) -> list[tuple[int, str]]:
        base = f"/api/node/deployments/{deployment_id}"
        found = []
        for r in (node.get(base), node.get(f"{base}/watchlist"),
                  node.post(f"{base}/alerts", json=alert),
                  node.post(f"{base}/counters", json=counters),
                  node.post(f"{base}/batch", json={"alerts": [alert], "counters": [counters]}),
                  node.post(f"{base}/watchlist-dropped", json=dropped)):
            assert isinstance(r.json()["detail"], str), r.text
            found.append((r.status_code, r.json()["detail"].replace(str(deployment_id), "N")))
        return found

    assert answers(other_id) == answers(missing)
    assert {status for status, _ in answers(other_id)} == {404}
    r = node.get(f"/api/node/deployments/by-reference/{other_reference}")
    assert r.status_code == 404
    assert r.json()["detail"] == f"no deployment with reference {other_reference!r}"
    ok(node.get(f"/api/node/deployments/by-reference/{s.reference}"))


def test_an_authoriser_issues_a_node_key_shown_once_and_an_admin_or_operator_may_not(
        scenario: Scenario) -> None:
    """A node key reads its deployment's watchlist, which an admin may not, and sends the
    alerts an operator judges: authorisers issue them; the admin lists and revokes any
    key, an operator nodes' keys."""
    staff = scenario.staff
    scenario.draft()
    for role, why in (("admin", "a node key reads the deployment's watchlist"),
                      ("operator", "a node key sends the alerts an operator judges")):
        r = staff[role].post("/api/api-keys", json={
            "name": "van-8", "deployment_id": scenario.deployment_id})
        assert r.status_code == 403 and why in r.text, role
    created = ok(staff["authoriser"].post("/api/api-keys", json={
        "name": "van-9", "deployment_id": scenario.deployment_id}), 201)
    # Its issuer is never shown the secret: the operator who confirms it for the van is.
    assert created["secret"] is None and "an operator confirms it" in created["message"]
    assert created["key"]["deployment_id"] == scenario.deployment_id
    assert created["key"]["confirmed_at"] is None
    key_id = created["key"]["id"]
    assert staff["authoriser"].post(f"/api/api-keys/{key_id}/confirm").status_code == 403
    confirmed = ok(staff["operator"].post(f"/api/api-keys/{key_id}/confirm"))
    assert confirmed["secret"].startswith("olfr_")
    assert confirmed["key"]["confirmed_by"] == "operator"
    assert staff["operator"].post(f"/api/api-keys/{key_id}/confirm").status_code == 409
    client = new_client(staff.app)
    client.headers["X-API-Key"] = confirmed["secret"]
    assert client.get("/api/node/deployments/999/watchlist").status_code == 404
    r = staff["authoriser"].post("/api/api-keys", json={"name": "x", "deployment_id": 999})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "deployment_id"]
    # The operator sees and revokes nodes' keys only; the admin any key.
    audit = ok(staff["oversight"].post("/api/oversight/audit-keys", json={"name": "tool"}), 201)
    assert [k["name"] for k in ok(staff["operator"].get("/api/api-keys"))] == ["van-9"]
    assert staff["operator"].post(f"/api/api-keys/{audit['key']['id']}/revoke"
                                  ).status_code == 404
    ok(staff["operator"].post(f"/api/api-keys/{created['key']['id']}/revoke"))
    assert {k["name"] for k in ok(staff["admin"].get("/api/api-keys"))} == {"van-9", "tool"}


def test_oversight_issues_audit_tools_keys_and_they_do_nothing_more(
        staff: Staff, clock: FakeClock) -> None:
    """An audit tool's key records equity audits and reads the register. Oversight issues
    it, not the admin: the audits it records are what the threshold gate holds the
    force's deployments to. It is never an oversight member: it cannot countersign an
    override, manage accounts or send a node's alerts. A key issued as "oversight" (by an
    admin, before) works no more."""
    admin, oversight = staff["admin"], staff["oversight"]
    r = staff["authoriser"].post("/api/api-keys", json={"name": "audit-cli",
                                                        "role": "audit_tool"})
    assert r.status_code == 403 and r.json()["detail"].startswith(
        "an audit tool's key is issued by oversight")
    assert staff["authoriser"].post("/api/api-keys", json={"name": "x", "role": "oversight"}
                                    ).status_code == 422
    created = ok(oversight.post("/api/oversight/audit-keys", json={"name": "audit-cli"}), 201)
    assert created["key"]["role"] == "audit_tool"
    tool = new_client(staff.app)
    tool.headers["X-API-Key"] = created["secret"]
    assert tool.get("/api/node/deployments/1/watchlist").status_code == 403  # not a node
    ok(tool.get("/api/technology"))
    r = tool.post("/api/deployments/1/overrides/countersign", json={"justification": "x" * 60})
    assert r.status_code == 403 and "you are 'audit_tool'" in r.json()["detail"]
    assert tool.post("/api/oversight/accounts", json={
        "username": "fake.oversight", "password": "a-long-password-1",
        "role": "oversight"}).status_code == 403
    r = tool.post("/api/node/deployments/1/alerts", json={
        "alert_uid": "alert-from-a-tool", "occurred_at": "2026-03-02T09:00:00+00:00",
        "camera": "cam-1", "track_id": "7", "score": 0.9, "entry_id": 1})
    assert r.status_code == 403 and "you are 'audit_tool'" in r.json()["detail"]
    assert [k["name"] for k in ok(oversight.get("/api/oversight/audit-keys"))] == ["audit-cli"]
    ok(oversight.post(f"/api/oversight/audit-keys/{created['key']['id']}/revoke"))
    assert tool.get("/api/technology").status_code == 401
    draft = Scenario(staff, clock)
    draft.draft()
    node = staff.node(draft.deployment_id, name="van-9")  # not an audit tool's to revoke
    node_key = next(k for k in ok(admin.get("/api/api-keys")) if k["name"] == "van-9")
    assert oversight.post(f"/api/oversight/audit-keys/{node_key['id']}/revoke"
                          ).status_code == 404
    assert node.get(f"/api/node/deployments/{draft.deployment_id}").status_code != 401

    old = _key_from_before(staff, "olfr_old", "oversight")  # as the admin issued them
    assert old.get("/api/technology").status_code == 401
    row = admin.get("/staff/admin/api-keys").text.split("<code>olfr_old</code>")[1]
    assert 'data-test="retired">no longer works' in row.split("</tr>")[0]


def test_login_logout_and_bad_password(staff: Staff) -> None:
    staff.add_user("pat", "planner")
    client = new_client(staff.app)
    r = client.post("/api/auth/login", json={"username": "pat", "password": "wrong password!"})
    assert r.status_code == 401 and r.json()["detail"] == "wrong username or password"
    r = client.post("/api/auth/login", json={"username": "nobody", "password": "whatever12345"})
    assert r.status_code == 401 and r.json()["detail"] == "wrong username or password"
    client = staff.login("pat")
    assert ok(client.get("/api/auth/me")) == {"username": "pat", "role": "planner"}
    ok(client.post("/api/auth/logout"), 204)
    assert client.get("/api/auth/me").status_code == 401


def test_session_expires(staff: Staff, scenario: Scenario) -> None:
    client = staff["planner"]
    ok(client.get("/api/auth/me"))
    scenario.clock.now += timedelta(days=91)
    assert client.get("/api/auth/me").status_code == 401


def test_deactivated_user_is_logged_out_and_cannot_log_in(staff: Staff) -> None:
    planner = staff["planner"]
    users = ok(staff["admin"].get("/api/users"))
    pid = next(u["id"] for u in users if u["username"] == "planner")
    ok(staff["admin"].patch(f"/api/users/{pid}", json={"active": False}))
    assert planner.get("/api/auth/me").status_code == 401
    r = new_client(staff.app).post("/api/auth/login", json={
        "username": "planner", "password": "correct horse battery staple"})
    assert r.status_code == 401 and "deactivated" in r.json()["detail"]
    aid = next(u["id"] for u in users if u["username"] == "admin")
    r = staff["admin"].patch(f"/api/users/{aid}", json={"active": False})
    assert r.status_code == 409


def test_admin_creates_users_with_validation(staff: Staff) -> None:
    admin = staff["admin"]
    ok(admin.post("/api/users", json={"username": "op.two", "password": "x" * 12,
                                      "role": "operator"}), 201)
    r = admin.post("/api/users", json={"username": "op.two", "password": "x" * 12,
                                       "role": "operator"})
    assert r.status_code == 409 and "already exists" in r.json()["detail"]
    r = admin.post("/api/users", json={"username": "Bad Name", "password": "short",
                                       "role": "emperor"})
    assert r.status_code == 422
    fields = {e["loc"][-1] for e in r.json()["detail"]}
    assert fields == {"username", "password", "role"}


def test_cross_site_form_posts_cannot_use_the_session(scenario: Scenario) -> None:
    """A page on another site can make a browser send the cookie only with a "simple"
    request (form or text/plain body) and, with SameSite=Lax, not on POST at all. Bodies
    are read only when declared as JSON, so such a request changes nothing."""
    s, staff = scenario, scenario.staff
    s.draft()
    planner = staff["planner"]
    login = new_client(staff.app).post("/api/auth/login", json={
        "username": "planner", "password": "correct horse battery staple"})
    cookie = login.headers["set-cookie"].lower()
    assert "samesite=lax" in cookie and "httponly" in cookie
    as_text = planner.post("/api/deployments", content=json.dumps(s.deployment_body()).encode(),
                           headers={"content-type": "text/plain"})
    assert as_text.status_code == 422
    as_form = planner.post("/api/deployments", data={"title": "x"})
    assert as_form.status_code == 422
    assert len(ok(planner.get("/api/deployments"))) == 1


def test_repeated_failed_logins_are_throttled(staff: Staff) -> None:
    staff.add_user("pat", "planner")
    staff.add_user("sam", "planner")
    client = new_client(staff.app)
    allowed = staff.platform.settings.login_failures_allowed
    codes = [client.post("/api/auth/login", json={"username": "pat", "password": "guess-guess"}
                         ).status_code for _ in range(allowed)]
    # Back-off: half the allowance in a minute, then refused before the password is checked.
    assert codes == [401] * (allowed // 2) + [429] * (allowed - allowed // 2)
    right = {"username": "pat", "password": "correct horse battery staple"}
    r = client.post("/api/auth/login", json=right)
    assert r.status_code == 429 and "too many failed logins" in r.json()["detail"]
    # Another account from the same address is not blocked by pat's (per username and
    # address; spraying many usernames has its own, larger cap: tests/hardening).
    assert client.post("/api/auth/login", json={**right, "username": "sam"}).status_code == 200


def test_oversight_members_and_councillors_are_oversights_to_manage(staff: Staff) -> None:
    """The force's admin makes the force's staff; oversight makes oversight members and
    councillors. Else one admin could make an authoriser and an oversight member, or reset
    a member's password, and sign both halves of a two-person override alone."""
    admin, oversight = staff["admin"], staff["oversight"]
    _ = (staff["planner"], staff["councillor"])  # their accounts exist
    body = {"username": "ovi", "password": PASSWORD, "role": "oversight"}
    r = admin.post("/api/users", json=body)
    assert r.status_code == 403 and r.json()["detail"].startswith(
        "the accounts of oversight members and councillors are managed by oversight")
    member = ok(oversight.post("/api/oversight/accounts", json=body), 201)
    signed = staff.countersign(member)  # by another member of oversight
    assert staff.first_login("ovi", signed["first_login_code"]).get(
        "/api/auth/me").status_code == 200
    # The admin cannot reset the member's password, demote them, or promote anyone to it.
    for patch in ({"password": "another-long-password"}, {"role": "planner"},
                  {"active": False}):
        r = admin.patch(f"/api/users/{member['id']}", json=patch)
        assert r.status_code == 403, patch
    planner_id = next(u["id"] for u in ok(admin.get("/api/users"))
                      if u["username"] == "planner")
    assert admin.patch(f"/api/users/{planner_id}",
                       json={"role": "councillor", "areas": ["Lambeth"]}).status_code == 403
    # Oversight manages only its own kind, and cannot leave it alone.
    r = oversight.post("/api/oversight/accounts", json={**body, "username": "auth2",
                                                       "role": "authoriser"})
    assert r.status_code == 422 and "an authoriser is managed by an admin" in r.text
    r = oversight.patch(f"/api/oversight/accounts/{planner_id}", json={"active": False})
    assert r.status_code == 422 and "a planner is managed by an admin" in r.text
    r = oversight.patch(f"/api/oversight/accounts/{member['id']}", json={"role": "planner"})
    assert r.status_code == 422
    reset = ok(oversight.patch(f"/api/oversight/accounts/{member['id']}",
                               json={"password": "a-new-long-password"}))
    assert reset["held_change"]["fields"] == ["password"]
    me = next(u["id"] for u in ok(oversight.get("/api/oversight/accounts"))
              if u["username"] == "oversight")
    r = oversight.patch(f"/api/oversight/accounts/{me}", json={"active": False})
    assert r.status_code == 409 and "ask another member of oversight" in r.text
    listed = {u["username"] for u in ok(oversight.get("/api/oversight/accounts"))}
    assert {"oversight", "ovi", "councillor"} <= listed and "planner" not in listed
    [event] = [e for e in ok(admin.get("/api/audit/events?limit=1000"))
               if e["action"] == "user.created"
               and json.loads(e["details"])["username"] == "ovi"]
    assert event["actor"] == "oversight"
