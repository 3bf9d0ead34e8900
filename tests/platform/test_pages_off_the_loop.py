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
