"""Page handlers run off the server's event loop (stop 48 left this out: only the login
and the password change did). A form post whose use case waits, for a password's hash or
a row another request holds on PostgreSQL, must not stall every other request with it."""

from __future__ import annotations

import inspect
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from platform_helpers import PASSWORD, Staff, new_client
from starlette.routing import Route

from openlfr.services import users
from openlfr.web.deps import KNOWN_BROWSER_COOKIE
from openlfr.web.pages.rendering import PageRoute
from openlfr.web.threads import WAITING_PER_THREAD

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "browser"))
from live_server import serve  # noqa: E402


def test_every_page_handler_runs_on_a_worker_thread(staff: Staff) -> None:
    """A page's handler is a plain function, run on a worker thread by ``PageRoute``; a
    coroutine would run on the loop itself, where a blocking use case holds up the whole
    server."""
    pages = [r for r in staff.app.routes if isinstance(r, Route) and not isinstance(r, APIRoute)
             and r.endpoint.__module__.startswith("openlfr.")]  # not FastAPI's /docs
    assert len(pages) > 60  # the staff and public pages, forms included
    assert [r.path for r in pages if not isinstance(r, PageRoute)] == []
    on_the_loop = [r.path for r in pages if inspect.iscoroutinefunction(r.endpoint.__wrapped__)]
    assert on_the_loop == []


def test_a_slow_form_post_does_not_hold_up_other_requests(
        staff: Staff, monkeypatch: pytest.MonkeyPatch) -> None:
    staff.add_user("planner", "planner")
    real_log_out = users.log_out
    started = threading.Event()

    def slow_log_out(*args: Any, **kwargs: Any) -> None:
        started.set()
        time.sleep(2.0)  # as a use case waiting on a row another request holds
        real_log_out(*args, **kwargs)

    monkeypatch.setattr(users, "log_out", slow_log_out)
    with serve(staff.app) as url, httpx.Client(base_url=url, timeout=20) as officer:
        r = officer.post("/api/auth/login", json={"username": "planner",
                                                  "password": PASSWORD})
        assert r.status_code == 200, r.text
        page = officer.get("/staff/account")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        posted: dict[str, int] = {}
        post = threading.Thread(target=lambda: posted.update(status=officer.post(
            "/staff/logout", data={"csrf_token": token.group(1)}).status_code))
        post.start()
        assert started.wait(10)
        t0 = time.monotonic()
        assert httpx.get(f"{url}/healthz", timeout=20).status_code == 200
        assert httpx.get(f"{url}/", timeout=20).status_code == 200
        waited = time.monotonic() - t0
        post.join(20)
    assert posted == {"status": 303}
    assert waited < 1.0, f"other requests waited {waited:.2f} s for the form post"


def test_forms_sent_slowly_hold_no_worker_thread(staff: Staff) -> None:
    """A form's body is read on the event loop before its handler takes a worker thread:
    more clients than there are threads (anyio's 40 here; ``server_threads`` when served),
    each sending the login form a few bytes at a time, leave the pages and the API
    answering."""
    with serve(staff.app) as url:
        port = int(url.rsplit(":", 1)[1])
        slow = []
        try:
            for _ in range(45):
                sock = socket.create_connection(("127.0.0.1", port))
                sock.sendall(b"POST /staff/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Content-Type: application/x-www-form-urlencoded\r\n"
                             b"Content-Length: 1000\r\n\r\nusername=")
                slow.append(sock)
            time.sleep(0.5)  # every one of them is waiting for the rest of its body
            t0 = time.monotonic()
            assert httpx.get(f"{url}/healthz", timeout=20).status_code == 200
            assert httpx.get(f"{url}/", timeout=20).status_code == 200
            waited = time.monotonic() - t0
        finally:
            for sock in slow:
                sock.close()
    assert waited < 1.0, f"other requests waited {waited:.2f} s behind the slow forms"


def test_a_staff_form_is_not_read_before_its_sender_logs_in(staff: Staff) -> None:
    """Red team, round 13: reading every form first read (and stored the files of) an
    anonymous post to a staff page too, and answered a broken one 400, not with the way
    to log in."""
    anon = new_client(staff.app)
    r = anon.post("/staff/deployments/1/watchlist/photos", content=b"garbage",
                  headers={"Content-Type": "multipart/form-data; boundary=x"},
                  follow_redirects=False)
    assert r.status_code == 303 and "/staff/login" in r.headers["location"]


class _Held:
    """``users.<use_case>`` made to wait until ``release``, as argon2 checks at a flood's
    scale; ``most`` is how many ran at once at most."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, use_case: str) -> None:
        real = getattr(users, use_case)
        self.now = self.most = 0
        self.released = threading.Event()
        lock = threading.Lock()

        def held(*args: Any, **kwargs: Any) -> Any:
            with lock:
                self.now += 1
                self.most = max(self.most, self.now)
            try:
                assert self.released.wait(30)
                return real(*args, **kwargs)
            finally:
                with lock:
                    self.now -= 1

        monkeypatch.setattr(users, use_case, held)

    def until(self, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.02)


def _taken(staff: Staff) -> int:
    """Requests being checked or waiting on the password threads (none before the first
    comes)."""
    queue = getattr(staff.app.state, "password_queue", None)
    return 0 if queue is None else int(queue.taken)


def _all_at_once(count: int, send: Callable[[int], Any]) -> list[threading.Thread]:
    threads = [threading.Thread(target=send, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads


def _from(url: str, address: str) -> httpx.Client:
    """A client whose requests come from ``address`` (any of 127.0.0.0/8)."""
    return httpx.Client(base_url=url, timeout=60,
                        transport=httpx.HTTPTransport(local_address=address))


def _log_in(client: httpx.Client, i: int, username: str, password: str) -> httpx.Response:
    """The API's login for odd ``i``, the page's for even."""
    if i % 2:
        return client.post("/api/auth/login", json={"username": username,
                                                     "password": password})
    return client.post("/staff/login", data={"username": username, "password": password})


def test_a_flood_of_logins_waits_for_its_own_threads(
        staff: Staff, monkeypatch: pytest.MonkeyPatch) -> None:
    """Red team, round 13: every login checks an argon2 hash, which costs time on purpose,
    and a flood of them took every worker thread, so the pages and the API waited behind
    it. Logins (page and API) now run on ``password_threads`` threads of their own; 32 may
    wait for each, and the rest are told at once to come back (503), not left waiting;
    except a login from a browser someone logged in on before, which has places kept for
    it (red team, round 14: 40 addresses inventing usernames turned away every officer)."""
    staff.add_user("officer", "operator")
    staff.add_user("stranger", "operator")
    answers: dict[int, httpx.Response] = {}
    flood_size, taken = 75, 2 + 2 * WAITING_PER_THREAD
    with serve(staff.app) as url:
        known: dict[str, str] = {}
        with _from(url, "127.0.0.7") as officer_before:  # the officer's browser, last week
            assert _log_in(officer_before, 1, "officer", PASSWORD).status_code == 200
            known.update(officer_before.cookies)
        assert KNOWN_BROWSER_COOKIE in known
        held = _Held(monkeypatch, "log_in")

        def log_in(i: int) -> None:
            with _from(url, f"127.0.1.{i + 1}") as client:  # a botnet: one login each
                answers[i] = _log_in(client, i, f"nobody{i}", "wrong")

        flood = _all_at_once(flood_size, log_in)  # more than the 40 threads pages run on
        held.until(lambda: held.most == 2 and len(answers) + _taken(staff) == flood_size)
        t0 = time.monotonic()
        assert httpx.get(f"{url}/healthz", timeout=20).status_code == 200
        assert httpx.get(f"{url}/", timeout=20).status_code == 200
        assert httpx.get(f"{url}/api/public/deployments", timeout=20).status_code == 200
        waited = time.monotonic() - t0
        # The queue is full: a browser nobody logged in on is turned away, a forged mark
        # too, and the officer's own browser waits for its turn.
        with _from(url, "127.0.0.8") as stranger:
            assert _log_in(stranger, 1, "stranger", PASSWORD).status_code == 503
            stranger.cookies.set(KNOWN_BROWSER_COOKIE, "known.AAAAAA.forged")
            assert _log_in(stranger, 1, "stranger", PASSWORD).status_code == 503
        officer: dict[str, httpx.Response] = {}
        with _from(url, "127.0.0.7") as browser:
            browser.cookies.update(known)
            waiting = threading.Thread(target=lambda: officer.update(
                r=_log_in(browser, 0, "officer", PASSWORD)))
            waiting.start()
            held.until(lambda: _taken(staff) == taken + 1)
            held.released.set()
            waiting.join(60)
        for thread in flood:
            thread.join(60)
    assert officer["r"].status_code == 303, officer["r"].text  # the page's login, let in
    assert waited < 1.0, f"other requests waited {waited:.2f} s behind the logins"
    assert held.most == staff.platform.settings.password_threads == 2
    codes = [r.status_code for r in answers.values()]
    assert codes.count(401) == taken and codes.count(503) == flood_size - taken
    assert {(r.headers.get("retry-after"), r.json()["detail"])
            for r in answers.values() if r.status_code == 503 and r.headers[
                "content-type"].startswith("application/json")} == {(
                    "2", "too many logins are waiting to be checked; nothing was checked "
                    "or changed, try again in a few seconds")}
    pages = [r for r in answers.values() if r.status_code == 503
             and r.headers["content-type"].startswith("text/html")]
    assert pages and all("Try again in a few seconds" in r.text and
                         r.headers.get("retry-after") == "2" for r in pages)


def test_one_address_cannot_fill_the_queue_for_logins(
        staff: Staff, monkeypatch: pytest.MonkeyPatch) -> None:
    """Red team, round 14: the 503 cap let one source (an insider logging in with their
    own password in a loop, which the throttle never stops) fill the queue and turn every
    officer away. One address has at most two logins waiting or being checked."""
    staff.add_user("insider", "councillor")
    staff.add_user("officer", "operator")
    held = _Held(monkeypatch, "log_in")
    answers: dict[int, httpx.Response] = {}
    with serve(staff.app) as url:
        def insider(i: int) -> None:
            with _from(url, "127.0.0.2") as client:
                answers[i] = _log_in(client, i, "insider", PASSWORD)

        loop = _all_at_once(20, insider)
        held.until(lambda: len(answers) == 18 and held.most == 2)
        queue = staff.app.state.password_queue
        officer: dict[str, httpx.Response] = {}
        with _from(url, "127.0.0.3") as client:
            waiting = threading.Thread(target=lambda: officer.update(
                r=_log_in(client, 1, "officer", PASSWORD)))
            waiting.start()
            held.until(lambda: "127.0.0.3" in queue.by_address)  # the officer is queued
            held.released.set()
            waiting.join(30)
        for thread in loop:
            thread.join(30)
    codes = [r.status_code for r in answers.values()]
    assert codes.count(429) == 18 and set(codes) - {429} <= {200, 303}, codes  # 2 got in
    refused = next(r for r in answers.values() if r.status_code == 429)
    assert "2 logins from your address are already waiting" in refused.text
    assert officer["r"].status_code == 200, officer["r"].text


def test_password_changes_run_on_the_password_threads(
        staff: Staff, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other use case that checks a typed password, on the page and the API."""
    staff.add_user("planner", "planner")
    with serve(staff.app) as url:
        with httpx.Client(base_url=url, timeout=60) as first:
            assert first.post("/api/auth/login", json={
                "username": "planner", "password": PASSWORD}).status_code == 200
            cookies = dict(first.cookies)
            token = re.search(r'name="csrf_token" value="([^"]+)"',
                              first.get("/staff/account").text)
        assert token is not None
        held = _Held(monkeypatch, "change_password")
        answers: list[int] = []

        def change(i: int) -> None:
            wrong = {"password": "not my password", "new_password": "a long new password"}
            with _from(url, f"127.0.2.{i + 1}") as client:
                client.cookies.update(cookies)
                if i % 2:
                    r = client.post("/api/auth/password", json=wrong)
                else:
                    r = client.post("/staff/account", data={
                        **wrong, "new_password_again": wrong["new_password"],
                        "csrf_token": token.group(1)})
            answers.append(r.status_code)

        changes = _all_at_once(8, change)
        held.until(lambda: held.most == 2 and _taken(staff) == 8)
        held.released.set()
        for thread in changes:
            thread.join(60)
    assert held.most == 2
    assert answers == [422] * 8  # each checked: a wrong current password


def test_a_form_of_too_many_fields_is_refused_before_it_is_split(staff: Staff) -> None:
    """Red team, round 13: a 4 MB body of ``&`` took about a second of the event loop to
    parse (Starlette's parser calls back into Python for every byte of it), holding up
    every other request. A plain form is now parsed on the worker thread, and one of more
    than 1,000 fields is refused before it is split."""
    anon = new_client(staff.app)
    assert anon.get("/staff/login").status_code == 200  # the app warmed up
    t0 = time.perf_counter()
    r = anon.post("/staff/login", content=b"&" * (4 * 1024 * 1024 - 1024),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    took = time.perf_counter() - t0
    assert r.status_code == 400 and "at most 1000 fields" in r.text
    assert took < 0.5, f"{took:.2f} s"
    many = "&".join(f"f{i}=1" for i in range(1001)) + "&username=x&password=y"
    r = anon.post("/staff/login", content=many.encode(),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400
    enough = "&".join(f"f{i}=1" for i in range(998)) + "&username=x&password=y"
    r = anon.post("/staff/login", content=enough.encode(),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 401  # read whole, and the login refused


@pytest.mark.parametrize("path", ["/api/deployments/1/watchlist/photos",
                                  "/api/deployments/1/engagement/1/evidence"])
def test_the_api_refuses_a_plain_form_unread(staff: Staff, path: str) -> None:
    """Red team, round 14: FastAPI parsed a URL-encoded body sent to an API route that
    takes files on the event loop, before the caller's login was checked (4 MB of ``&``:
    about a second, every other request waiting). One of more than 64 KiB, or of no
    stated length, is refused (413) before it is read."""
    anon = new_client(staff.app)
    t0 = time.perf_counter()
    r = anon.post(path, content=b"&" * (4 * 1024 * 1024 - 1024),
                  headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    took = time.perf_counter() - t0
    assert r.status_code == 413 and "at most 64 KiB" in r.json()["detail"]
    assert took < 0.5, f"{took:.2f} s"
    chunked = anon.post(path, content=iter([b"reason=x"]), headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert chunked.status_code == 413
    assert anon.post(path, data={"reason": "x" * 60_000}).status_code == 401  # read
    assert anon.post(path, files={"photo": ("a.jpg", b"x")}).status_code == 401


@pytest.mark.parametrize("body", [
    b"a=1&b=&c&=d&e=%C3%A9+x&f=%ZZ&g=a;b&h=caf\xc3\xa9&&a=2", b"", b"&&&", b"x=%E9",
    b"k%20y=v%2B1&next=%2Fstaff%3Fa%3D1%26b%3D2"])
def test_a_plain_form_reads_as_starlette_reads_it(body: bytes) -> None:
    """``read_form`` parses a plain form itself (off the loop, fields counted first); the
    fields are Starlette's, byte for byte, on the cases its parser treats specially."""
    import asyncio

    from starlette.requests import Request

    from openlfr.web.pages.rendering import _parse_plain_form

    def request() -> Request:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return Request({"type": "http", "method": "POST", "headers": [
            (b"content-type", b"application/x-www-form-urlencoded")]}, receive)

    async def starlettes() -> list[tuple[str, Any]]:
        return list((await request().form()).multi_items())

    ours = list(_parse_plain_form(request(), body).multi_items())
    assert ours == asyncio.run(starlettes())
