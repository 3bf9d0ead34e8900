"""Rate limits are the use cases' concern, one policy per action: the JSON API is
limited exactly as the pages are (a client the form has refused is refused by the API
too), and with Redis configured every server process shares the counts. Login
throttling slows a guesser per username and address, with back-off, never locks the
account holder out from elsewhere, and an admin can lift it."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import pytest
import redis
import sqlalchemy as sa
from argon2 import PasswordHasher
from platform_helpers import PASSWORD, FakeClock, Scenario, Staff, make_settings, new_client, ok
from starlette.testclient import TestClient

from openlfr.services import consultations, users
from openlfr.services.platform import PUBLIC_ACTOR, SYSTEM_ACTOR, Platform
from openlfr.services.powers import Action
from openlfr.services.rate_limits import POLICIES, TooManyAttempts, TooManyRequests
from openlfr.services.schemas import FeedbackIn, UserIn
from openlfr.storage import models as m


def _published(s: Scenario) -> None:
    s.draft()
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/publish-notice")))


def _feedback_rows(p: Platform) -> int:
    with p.sessions() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(m.Feedback)) or 0


def test_the_api_is_limited_like_the_form(scenario: Scenario) -> None:
    s = scenario
    _published(s)
    allowed = POLICIES[Action.FEEDBACK_SUBMIT].item.amount
    url = f"/api/public/deployments/{s.reference}/feedback"
    body = {"kind": "objection", "text": "I object to this deployment."}
    for _ in range(allowed - 1):
        ok(s.staff.anon.post(url, json=body), 201)
    form = s.staff.anon.get(f"/deployments/{s.reference}/feedback")
    assert form.status_code == 200
    r = s.staff.anon.post(f"/deployments/{s.reference}/feedback",
                          data={"kind": "objection", "text": "And from the form."},
                          follow_redirects=False)
    assert r.status_code == 303  # the last one allowed, through the form
    assert s.staff.anon.post(url, json=body).status_code == 429
    r = s.staff.anon.post(f"/deployments/{s.reference}/feedback",
                          data={"kind": "objection", "text": "Once more."})
    assert r.status_code == 429
    assert _feedback_rows(s.staff.platform) == allowed


def test_consultation_answers_through_the_api_are_limited(scenario: Scenario) -> None:
    """A response counts once per client per consultation (issue 13: 61 responses from
    one client stuffed a consultation through the API), and the page refuses the same
    client after the API took its one."""
    s = scenario
    _published(s)
    url = f"/api/public/consultations/{s.open_consultation()}/responses"
    allowed = POLICIES[Action.CONSULTATION_ANSWER].item.amount
    assert s.staff.anon.post(url, json={"answers": {"q1": "answer"}}).status_code == 204
    r = s.staff.anon.post(f"/deployments/{s.reference}/consultation", data={"q1": "again"})
    assert r.status_code == 429 and "once per client" in r.text
    codes = [s.staff.anon.post(url, json={"answers": {"q1": f"answer {i}"}}).status_code
             for i in range(allowed + 5)]
    assert codes == [429] * (allowed + 5)


def test_redis_shares_the_counts_between_server_processes(
        tmp_path: Path, clock: FakeClock) -> None:
    try:
        redis.Redis(socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("OPENLFR_REQUIRE_REDIS"):
            pytest.fail("OPENLFR_REQUIRE_REDIS is set but no Redis answers on 127.0.0.1:6379")
        pytest.skip("no Redis on 127.0.0.1:6379")
    db = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    storage = "redis://127.0.0.1:6379/0"
    first = Platform.open(make_settings(tmp_path / "a", db, rate_limit_storage=storage))
    second = Platform.open(make_settings(tmp_path / "b", db, rate_limit_storage=storage))
    try:
        first.clock = second.clock = clock
        s = Scenario(Staff(first), clock)
        _published(s)
        # Two platforms over one database, as two server processes; an address unique to
        # this run (Redis outlives it).
        address = f"198.51.100.1/{uuid.uuid4().hex}"
        body = {"kind": "question", "text": "When does it start?"}
        allowed = POLICIES[Action.FEEDBACK_SUBMIT].item.amount
        for n in range(allowed):
            p = (first, second)[n % 2]
            consultations.submit_feedback(p, PUBLIC_ACTOR, s.deployment_id, FeedbackIn(**body),
                                          address)
        with pytest.raises(TooManyRequests):
            consultations.submit_feedback(first, PUBLIC_ACTOR, s.deployment_id,
                                          FeedbackIn(**body), address)
        with pytest.raises(TooManyRequests):
            consultations.submit_feedback(second, PUBLIC_ACTOR, s.deployment_id,
                                          FeedbackIn(**body), address)
    finally:
        first.close()
        second.close()


def _login(client: object, username: str, password: str) -> int:
    return client.post("/api/auth/login", json={  # type: ignore[attr-defined]
        "username": username, "password": password}).status_code


def test_a_guesser_does_not_lock_out_the_account_holder(staff: Staff) -> None:
    staff.add_user("operator1", "operator")
    guesser = new_client(staff.app)  # address "testclient"
    codes = [_login(guesser, "operator1", "wrong password!!") for _ in range(12)]
    assert codes[0] == 401 and codes[-1] == 429
    assert 401 in codes[:5] and set(codes[5:]) == {429}  # back-off: refused before checking
    # The operator, from the van's own address, logs in at once.
    van = TestClient(staff.app, base_url="http://testserver", client=("203.0.113.7", 5000))
    assert _login(van, "operator1", PASSWORD) == 200
    # The guesser stays refused even with the right password, until an admin clears it.
    assert _login(guesser, "operator1", PASSWORD) == 429
    user_id = next(u["id"] for u in ok(staff["admin"].get("/api/users"))
                   if u["username"] == "operator1")
    assert staff["operator"].post(f"/api/users/{user_id}/login-block/clear").status_code == 403
    ok(staff["admin"].post(f"/api/users/{user_id}/login-block/clear"))
    assert _login(guesser, "operator1", PASSWORD) == 200
    events = ok(staff["admin"].get("/api/audit/events", params={"limit": 1000}))
    assert any(e["action"] == "user.login_throttle_cleared" for e in events)


def test_only_oversight_lifts_the_block_on_an_independent_account(staff: Staff) -> None:
    """Red team, round 14: an admin could lift the block on an oversight member's username
    as often as they liked and go on guessing (30 guesses in a second); one who got in
    would countersign their own account changes. Oversight lifts it, and only for the
    accounts it manages."""
    admin, oversight = staff["admin"], staff["oversight"]  # logged in before the guessing
    guesser = new_client(staff.app)
    codes = [_login(guesser, "oversight", "wrong password!!") for _ in range(12)]
    assert codes[-1] == 429
    ids = {u["username"]: u["id"] for u in ok(oversight.get(
        "/api/oversight/accounts"))}
    refused = admin.post(f"/api/users/{ids['oversight']}/login-block/clear")
    assert refused.status_code == 403 and "managed by oversight" in refused.json()["detail"]
    assert _login(guesser, "oversight", PASSWORD) == 429  # still blocked
    assert admin.post(
        f"/api/oversight/accounts/{ids['oversight']}/login-block/clear").status_code == 403
    ok(oversight.post(f"/api/oversight/accounts/{ids['oversight']}/login-block/clear"))
    assert _login(guesser, "oversight", PASSWORD) == 200
    events = ok(admin.get("/api/audit/events", params={"limit": 1000}))
    assert [e["actor"] for e in events
            if e["action"] == "user.login_throttle_cleared"] == ["oversight"]
    # The force's own accounts stay the admins'.
    staff.add_user("operator1", "operator")
    operator = next(u["id"] for u in ok(admin.get("/api/users"))
                    if u["username"] == "operator1")
    wrong_kind = oversight.post(
        f"/api/oversight/accounts/{operator}/login-block/clear")
    assert wrong_kind.status_code == 422 and "managed by an admin" in wrong_kind.text


def test_one_address_spraying_many_usernames_is_capped(staff: Staff) -> None:
    sprayer = new_client(staff.app)
    allowed = staff.platform.settings.login_failures_allowed * 5
    codes = [_login(sprayer, f"user{n:03d}", "wrong password!!") for n in range(allowed + 3)]
    assert codes[:allowed] == [401] * allowed and set(codes[allowed:]) == {429}
    staff.add_user("planner9", "planner")
    other = TestClient(staff.app, base_url="http://testserver", client=("203.0.113.9", 5000))
    assert _login(other, "planner9", PASSWORD) == 200


# --- simultaneous guesses ------------------------------------------------------------------


class _SlowHasher(PasswordHasher):
    """The test's cheap argon2, slowed to production speed and more: every attempt of a
    burst is inside its password check at once, the widest a race can be."""

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        time.sleep(0.25)
        return super().verify(hash, password)


@pytest.fixture(params=["memory", "redis"])
def throttled(request: pytest.FixtureRequest, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """A platform allowing 2 failed logins per username and address (10 per address
    across usernames), its counts in memory or in Redis, its password checks slow."""
    storage = None
    if request.param == "redis":
        try:
            redis.Redis(socket_connect_timeout=1).ping()
        except redis.exceptions.ConnectionError:
            if os.environ.get("OPENLFR_REQUIRE_REDIS"):
                pytest.fail("OPENLFR_REQUIRE_REDIS is set but no Redis answers on "
                            "127.0.0.1:6379")
            pytest.skip("no Redis on 127.0.0.1:6379")
        storage = "redis://127.0.0.1:6379/0"
    p = Platform.open(make_settings(tmp_path / "data", login_failures_allowed=2,
                                    rate_limit_storage=storage))
    slow = _SlowHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(users, "_hasher", slow)
    monkeypatch.setattr(users, "_DUMMY_HASH", slow.hash("not a real password"))
    try:
        yield p
    finally:
        p.close()


def _burst(p: Platform, address: str, usernames: list[str], password: str) -> Counter[str]:
    """Every login at once (a barrier), as many threads as usernames: how each ended."""
    barrier = threading.Barrier(len(usernames))

    def attempt(username: str) -> str:
        barrier.wait()
        try:
            users.log_in(p, username, password, client=address)
        except users.LoginFailed:
            return "checked"
        except TooManyAttempts:
            return "refused"
        return "logged in"

    with ThreadPoolExecutor(len(usernames)) as pool:
        return Counter(pool.map(attempt, usernames))


def test_simultaneous_guesses_are_checked_no_more_than_guesses_in_a_row(
        throttled: Platform) -> None:
    """Each attempt is counted before its password is checked, atomically: of a burst at
    one username, only as many passwords are checked as one after another (the first
    tier: 1 a minute here); the rest are refused unchecked."""
    run = uuid.uuid4().hex[:8]  # Redis outlives the test: names of this run only
    address = f"198.51.100.20/{run}"
    users.create_user(throttled, SYSTEM_ACTOR, UserIn(
        username=f"victim-{run}", password=PASSWORD, role="operator"))
    assert _burst(throttled, address, [f"victim-{run}"] * 8, "wrong password!!") == {
        "checked": 1, "refused": 7}
    with pytest.raises(TooManyAttempts):  # even the right password, until the block lifts
        users.log_in(throttled, f"victim-{run}", PASSWORD, client=address)


def test_simultaneous_guesses_at_many_usernames_stop_at_the_address_cap(
        throttled: Platform) -> None:
    run = uuid.uuid4().hex[:8]
    address = f"198.51.100.21/{run}"
    cap = throttled.settings.login_failures_allowed * 5
    names = [f"sprayed-{run}-{n:02d}" for n in range(cap + 6)]
    assert _burst(throttled, address, names, "wrong password!!") == {
        "checked": cap, "refused": 6}


def test_a_right_password_is_given_back(throttled: Platform) -> None:
    """Counting before the check does not hold successes against anyone: an office whose
    staff log in from one address many times is not capped by it."""
    run = uuid.uuid4().hex[:8]
    address = f"198.51.100.22/{run}"
    username = f"pat-{run}"
    users.create_user(throttled, SYSTEM_ACTOR, UserIn(
        username=username, password=PASSWORD, role="planner"))
    cap = throttled.settings.login_failures_allowed * 5
    for _ in range(cap + 2):
        users.log_in(throttled, username, PASSWORD, client=address)
    outcomes = []
    for n in range(cap + 1):
        try:
            users.log_in(throttled, f"nobody-{run}-{n:02d}", "wrong password!!",
                         client=address)
        except users.LoginFailed:
            outcomes.append("checked")
        except TooManyAttempts:
            outcomes.append("refused")
    assert outcomes == ["checked"] * cap + ["refused"]
