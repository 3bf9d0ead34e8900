"""Staff log in and out on the portal (the same session as POST /api/auth/login)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from openlfr.governance.errors import GovernanceError
from openlfr.services import users
from openlfr.services.powers import Action
from openlfr.services.rate_limits import TooManyAttempts
from openlfr.services.schemas import PasswordChangeIn
from openlfr.web.deps import SESSION_COOKIE, client_address, set_session_cookie
from openlfr.web.pages.rendering import PageRoute, platform_of, read_form, render
from openlfr.web.pages.staff.common import (
    FormReader,
    done,
    notice_of,
    problem_status,
    service_problem,
)
from openlfr.web.pages.staff_access import (
    StaffRoute,
    page_actor,
    staff_form,
    staff_page,
    staff_render,
)
from openlfr.web.security import foreign_origin

STAFF_HOME = "/staff"


def _safe_next(target: str) -> str:
    """Only a path on this site: a login link must not send people elsewhere."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return STAFF_HOME
    return target


def login_form(request: Request) -> Response:
    """The login form (or straight on, when already logged in)."""
    target = _safe_next(request.query_params.get("next", STAFF_HOME))
    if page_actor(request) is not None:
        return RedirectResponse(target, status_code=303)
    return render(request, "login.html", {"next": target, "username": "", "error": None})


def login_submit(request: Request) -> Response:
    """Check the password through the users service; set the session cookie and go on."""
    form = read_form(request)
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    code = str(form.get("first_login_code") or "").strip() or None
    new_password = str(form.get("new_password") or "") or None
    target = _safe_next(str(form.get("next") or STAFF_HOME))
    p = platform_of(request)
    client = client_address(request)
    if (foreign_origin(request.headers, p.settings.public_url) is not None
            or request.headers.get("sec-fetch-site") == "cross-site"):
        # Another site posting this form would log an officer into the attacker's account
        # (what they then type would be the attacker's to read): only our own pages log in.
        return render(request, "login.html", {
            "next": STAFF_HOME, "username": "",
            "error": "log in from this site's own login page"}, status_code=403)
    try:
        if not username or not password:
            raise GovernanceError("enter your username and password")
        if new_password is not None and len(new_password) < 12:
            raise GovernanceError("a new password needs at least 12 characters")
        result = users.log_in(p, username, password, client, first_login_code=code,
                              new_password=new_password)
    except TooManyAttempts as exc:
        return render(request, "login.html", {"next": target, "username": username,
                                              "error": str(exc)}, status_code=429)
    except GovernanceError as exc:
        return render(request, "login.html", {
            "next": target, "username": username, "error": str(exc),
            "first_login": code is not None or str(exc) == users.FIRST_LOGIN},
            status_code=401)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, p, result)
    return response


def logout_submit(request: Request) -> Response:
    """End the session (a form post with the CSRF token, so no other site can log you out)."""
    checked = staff_form(request, Action.SESSION_USE)
    if isinstance(checked, Response):
        return checked
    actor, _ = checked
    users.log_out(platform_of(request), actor, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse(str(request.url_for("home")), status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def account_page(request: Request) -> Response:
    """Your account: change your own password."""
    actor = staff_page(request, Action.SESSION_USE)
    if isinstance(actor, Response):
        return actor
    return staff_render(request, actor, "staff_account.html", {
        "errors": {}, "notice": notice_of(request)})


def change_password(request: Request) -> Response:
    """Change your own password (the one you have, a new one twice): every session of
    yours ends and a new one is set in the cookie."""
    checked = staff_form(request, Action.SESSION_USE)
    if isinstance(checked, Response):
        return checked
    actor, form = checked
    reader = FormReader(form)
    data = reader.build(PasswordChangeIn, {"password": reader.text("password"),
                                           "new_password": reader.text("new_password")})
    if data is not None and reader.text("new_password_again") != data.new_password:
        reader.problems["new_password_again"] = "the two new passwords differ"
        data = None
    status = 422
    if data is not None:
        try:
            result = users.change_password(platform_of(request), actor, data.password,
                                           data.new_password, client_address(request))
        except TooManyAttempts as exc:
            reader.problems["password"], status = str(exc), 429
        except GovernanceError as exc:
            field, message = service_problem(exc)
            reader.problems[field], status = message, problem_status(exc)
        else:
            response = done(request, "staff_account", "password_changed")
            set_session_cookie(response, platform_of(request), result)
            return response
    # Nothing typed is shown again: every field here is a password.
    return staff_render(request, actor, "staff_account.html", {
        "errors": reader.problems, "notice": None}, status_code=status)


PUBLIC_PATHS = ("/staff/login",)

routes = [
    PageRoute("/staff/login", login_form, methods=["GET"], name="login_form"),
    PageRoute("/staff/login", login_submit, methods=["POST"], name="login_submit",
              checks_passwords=True),
    StaffRoute("/staff/logout", logout_submit, action=Action.SESSION_USE, methods=["POST"],
               name="logout"),
    StaffRoute("/staff/account", account_page, action=Action.SESSION_USE, methods=["GET"],
               name="staff_account"),
    StaffRoute("/staff/account", change_password, action=Action.SESSION_USE,
               methods=["POST"], name="staff_change_password", checks_passwords=True),
]
