"""Who is looking at a staff page, and the checks every staff page and form makes.

Staff pages use the same session cookie as the JSON API (set by logging in on either).
Every staff route names the action it takes in the powers table (``StaffRoute``); the page
answers a missing login with a redirect to the login page and a role the table does not
allow with a 403 page naming the roles that may. What a page offers (links, buttons,
forms) is read from the same table (``may`` in every staff template). Forms also carry a
CSRF token bound to the session, because a form post is a request another site can make
a browser send.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from openlfr.services import users
from openlfr.services.platform import Actor
from openlfr.services.powers import Action, may, ordered, roles_for
from openlfr.web.deps import SESSION_COOKIE
from openlfr.web.pages.rendering import PageRoute, platform_of, read_form, render

CSRF_FIELD = "csrf_token"


def page_actor(request: Request) -> Actor | None:
    """The logged-in person, or None (anonymous, expired or unknown session)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return users.actor_for_session(platform_of(request), token)


def csrf_token(request: Request) -> str:
    """The token staff forms carry: an HMAC of the session token, so only a page that was
    served to this session can know it (the cookie itself is HttpOnly)."""
    session = request.cookies.get(SESSION_COOKIE, "")
    return hmac.new(session.encode(), b"openlfr staff form", hashlib.sha256).hexdigest()


def login_redirect(request: Request) -> Response:
    """Send an anonymous visitor to the login page, coming back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = request.url_for("login_form").include_query_params(next=target)
    return RedirectResponse(str(url), status_code=303)


class StaffRoute(PageRoute):
    """A staff page's route, with the action of the powers table it takes (the page
    checks it with ``staff_page``/``staff_form``; a test walks every staff route and role
    against the table)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *, action: Action,
                 methods: list[str], name: str, checks_passwords: bool = False) -> None:
        super().__init__(path, endpoint, methods=methods, name=name,
                         checks_passwords=checks_passwords)
        self.action = action

    def reads_form_first(self, request: Request) -> bool:
        """Not for a post without a session: its handler answers with the way to the login
        page and never reads the form, so nobody's form is read (or its files stored)
        before they log in."""
        return super().reads_form_first(request) and SESSION_COOKIE in request.cookies


def forbidden(request: Request, actor: Actor, action: Action) -> Response:
    """The 403 page: who you are, and which roles may do this."""
    return staff_render(request, actor, "staff_forbidden.html",
                        {"roles": [r.value for r in ordered(roles_for(action))]},
                        status_code=403)


def staff_page(request: Request, action: Action) -> Actor | Response:
    """The actor when logged in with a role that may take ``action``; otherwise the
    response to send instead (login redirect or 403 page)."""
    actor = page_actor(request)
    if actor is None:
        return login_redirect(request)
    if not may(actor.role, action):
        return forbidden(request, actor, action)
    return actor


def staff_form(request: Request, action: Action) -> tuple[Actor, FormData] | Response:
    """Like ``staff_page`` for a form post, and the CSRF token must match; returns the
    actor and the form fields."""
    actor = staff_page(request, action)
    if isinstance(actor, Response):
        return actor
    form = read_form(request)
    sent = str(form.get(CSRF_FIELD) or "")
    if not hmac.compare_digest(sent, csrf_token(request)):
        return staff_render(request, actor, "staff_forbidden.html", {
            "roles": [], "message": "This form has expired or did not come from this site. "
                                    "Go back, reload the page and send it again."},
                            status_code=403)
    return actor, form


def staff_render(request: Request, actor: Actor, template: str, context: dict[str, Any],
                 status_code: int = 200) -> Response:
    """Render a staff template with the actor, the CSRF token every form needs, and
    ``may(A.X)``: whether the actor's role may take action X (the powers table)."""
    return render(request, template, {
        "actor": actor, "csrf_token": csrf_token(request), "csrf_field": CSRF_FIELD,
        "A": Action, "may": lambda action: may(actor.role, action), **context},
        status_code=status_code)
