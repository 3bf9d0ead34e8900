"""Staff log in and out on the portal: the same session as the API, safe redirects,
throttling, CSRF on staff forms and the role check of staff pages."""

from __future__ import annotations

from platform_helpers import PASSWORD, Staff, new_client
from portal_helpers import csrf_from
from starlette.requests import Request
from starlette.responses import Response

from openlfr.services.powers import Action
from openlfr.web.pages import staff_access
from openlfr.web.pages.rendering import PageRoute


def test_log_in_on_the_portal_then_use_the_api_and_log_out(staff: Staff) -> None:
    staff.add_user("pat", "planner")
    client = new_client(staff.app)
    form = client.get("/staff/login?next=/register")
    assert form.status_code == 200 and 'data-test="login-form"' in form.text
    r = client.post("/staff/login", data={"username": "pat", "password": PASSWORD,
                                          "next": "/register"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/register"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert client.get("/api/auth/me").json() == {"username": "pat", "role": "planner"}
    # Already logged in: the form sends you straight on.
    assert client.get("/staff/login?next=/", follow_redirects=False).headers["location"] == "/"
    # Logging out needs the page's CSRF token.
    assert client.post("/staff/logout", data={"csrf_token": "0" * 64}).status_code == 403
    assert client.get("/api/auth/me").status_code == 200
    home = client.get("/staff/login?next=/staff/logout-target", follow_redirects=False)
    assert home.status_code == 303  # still logged in after the refused logout


def test_wrong_password_and_unsafe_next(staff: Staff) -> None:
    staff.add_user("pat", "planner")
    client = new_client(staff.app)
    r = client.post("/staff/login", data={"username": "pat", "password": "nope-nope-nope",
                                          "next": "https://evil.example/"})
    assert r.status_code == 401 and "wrong username or password" in r.text.lower()
    assert 'value="pat"' in r.text  # the username is kept, the password is not
    r = client.post("/staff/login", data={"username": "pat", "password": PASSWORD,
                                          "next": "https://evil.example/"},
                    follow_redirects=False)
    assert r.headers["location"] == "/staff"
    r = new_client(staff.app).post("/staff/login", data={"username": "", "password": ""})
    assert r.status_code == 401 and "enter your username and password" in r.text.lower()


def test_another_site_cannot_log_an_officer_into_its_account(staff: Staff) -> None:
    """Login CSRF: a form on another site posting a username and password would swap a
    logged-in officer's session for the attacker's account."""
    staff.add_user("mallory", "planner")
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        client = new_client(staff.app)
        r = client.post("/staff/login", data={"username": "mallory", "password": PASSWORD},
                        headers=headers, follow_redirects=False)
        assert r.status_code == 403 and "set-cookie" not in r.headers, headers
    r = new_client(staff.app).post(
        "/staff/login", data={"username": "mallory", "password": PASSWORD},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False)
    assert r.status_code == 303 and "openlfr_session=" in r.headers["set-cookie"]


def test_repeated_failures_are_throttled_on_the_page(staff: Staff) -> None:
    staff.add_user("pat", "planner")
    client = new_client(staff.app)
    for _ in range(staff.platform.settings.login_failures_allowed):
        client.post("/staff/login", data={"username": "pat", "password": "wrong-wrong-wrong"})
    r = client.post("/staff/login", data={"username": "pat", "password": PASSWORD})
    assert r.status_code == 429 and "too many failed logins" in r.text.lower()


def _probe_page(request: Request) -> Response:
    actor = staff_access.staff_page(request, Action.DEPLOYMENT_AUTHORISE)
    if isinstance(actor, Response):
        return actor
    return staff_access.staff_render(request, actor, "staff_forbidden.html",
                                     {"roles": [], "message": "probe page reached"})


def _probe_form(request: Request) -> Response:
    checked = staff_access.staff_form(request, Action.DEPLOYMENT_AUTHORISE)
    if isinstance(checked, Response):
        return checked
    return Response("accepted")


def test_staff_pages_check_role_and_csrf(staff: Staff) -> None:
    staff.app.router.routes.insert(0, PageRoute("/staff/probe", _probe_page, methods=["GET"],
                                                name="probe_page"))
    staff.app.router.routes.insert(0, PageRoute("/staff/probe", _probe_form, methods=["POST"],
                                                name="probe_form"))
    r = staff.anon.get("/staff/probe", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "http://testserver/staff/login?next=%2Fstaff%2Fprobe"
    planner = staff["planner"]
    r = planner.get("/staff/probe")
    assert r.status_code == 403 and "for the authoriser role" in r.text
    assert planner.post("/staff/probe", data={}).status_code == 403
    authoriser = staff["authoriser"]
    page = authoriser.get("/staff/probe")
    assert page.status_code == 200 and "probe page reached" in page.text
    token = csrf_from(page.text)
    assert authoriser.post("/staff/probe", data={"csrf_token": token}).text == "accepted"
    assert authoriser.post("/staff/probe", data={"csrf_token": "f" * 64}).status_code == 403
    # A token belongs to its session: another authoriser's session cannot use it.
    staff.add_user("other", "authoriser")
    other = staff.login("other")
    assert other.post("/staff/probe", data={"csrf_token": token}).status_code == 403
    # Logging out with the page's token ends the session.
    r = authoriser.post("/staff/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "http://testserver/"
    assert authoriser.get("/api/auth/me").status_code == 401
