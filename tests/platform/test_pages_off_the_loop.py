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
from openlfr.web.pages.rendering import PageRoute

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


def _slowed(monkeypatch: pytest.MonkeyPatch, use_case: str, seconds: float) -> dict[str, int]:
    """``users.<use_case>`` made to take ``seconds`` first, as argon2 at a flood's scale;
    the returned counts say how many ran at once at most."""
    real = getattr(users, use_case)
    counts = {"now": 0, "most": 0}
    lock = threading.Lock()

    def slow(*args: Any, **kwargs: Any) -> Any:
        with lock:
            counts["now"] += 1
            counts["most"] = max(counts["most"], counts["now"])
        try:
            time.sleep(seconds)
            return real(*args, **kwargs)
        finally:
            with lock:
                counts["now"] -= 1

    monkeypatch.setattr(users, use_case, slow)
    return counts


def _all_at_once(count: int, send: Callable[[int], int]) -> list[threading.Thread]:
    threads = [threading.Thread(target=send, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads


def test_a_flood_of_logins_waits_for_its_own_threads(
        staff: Staff, monkeypatch: pytest.MonkeyPatch) -> None:
    """Red team, round 13: every login checks an argon2 hash, which costs time on purpose,
    and a flood of them took every worker thread, so the pages and the API waited behind
    it. Logins (page and API) now run on ``password_threads`` threads of their own."""
    counts = _slowed(monkeypatch, "log_in", 1.0)
    answers: list[int] = []
    with serve(staff.app) as url:
        def log_in(i: int) -> int:
            with httpx.Client(base_url=url, timeout=60) as client:
                if i % 2:
                    r = client.post("/api/auth/login", json={"username": f"nobody{i}",
                                                             "password": "wrong"})
                else:
                    r = client.post("/staff/login", data={"username": f"nobody{i}",
                                                          "password": "wrong"})
            answers.append(r.status_code)
            if r.status_code == 503:
                busy.add((r.headers.get("retry-after"), r.json()["detail"]))
            return r.status_code

        busy: set[tuple[str | None, str]] = set()
        flood = _all_at_once(45, log_in)  # more than the 40 threads pages run on here
        deadline = time.monotonic() + 10
        while counts["most"] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # the rest of the flood has arrived and waits
        t0 = time.monotonic()
        assert httpx.get(f"{url}/healthz", timeout=20).status_code == 200
        assert httpx.get(f"{url}/", timeout=20).status_code == 200
        assert httpx.get(f"{url}/api/public/deployments", timeout=20).status_code == 200
        waited = time.monotonic() - t0
        for thread in flood:
            thread.join(60)
    assert waited < 1.0, f"other requests waited {waited:.2f} s behind the logins"
    assert counts["most"] == staff.platform.settings.password_threads == 2
    # Two checked at once and 32 waiting (16 a thread): the rest are told at once to
    # come back (503), not left waiting behind them.
    assert set(answers) == {401, 503} and len(answers) == 45
    assert answers.count(401) >= 34, answers
    assert busy == {("2", "too many logins are waiting to be checked; nothing was changed, "
                          "try again in a few seconds")}


def test_password_changes_run_on_the_password_threads(
        staff: Staff, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other use case that checks a typed password, on the page and the API."""
    staff.add_user("planner", "planner")
    with serve(staff.app) as url, httpx.Client(base_url=url, timeout=60) as officer:
        assert officer.post("/api/auth/login", json={
            "username": "planner", "password": PASSWORD}).status_code == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"',
                          officer.get("/staff/account").text)
        assert token is not None
        counts = _slowed(monkeypatch, "change_password", 0.5)
        answers: list[int] = []

        def change(i: int) -> int:
            wrong = {"password": "not my password", "new_password": "a long new password"}
            if i % 2:
                r = officer.post("/api/auth/password", json=wrong)
            else:
                r = officer.post("/staff/account", data={
                    **wrong, "new_password_again": wrong["new_password"],
                    "csrf_token": token.group(1)})
            answers.append(r.status_code)
            return r.status_code

        for thread in _all_at_once(8, change):
            thread.join(60)
    assert counts["most"] == 2
    # a wrong current password, then the throttle (a wrong one counts as a failed login)
    assert set(answers) <= {422, 429} and len(answers) == 8


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
