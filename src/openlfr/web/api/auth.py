"""Log in and out (people); who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response

from openlfr.services import users
from openlfr.services.platform import Actor
from openlfr.services.powers import Action
from openlfr.services.schemas import LoginIn, PasswordChangeIn
from openlfr.web.api import AUTH_ERRORS
from openlfr.web.deps import SESSION_COOKIE, ClientDep, PlatformDep, power, set_session_cookie
from openlfr.web.schemas import MeOut, Problem
from openlfr.web.threads import run_checking_passwords

router = APIRouter(prefix="/auth", tags=["auth"])
Staff = Annotated[Actor, power(Action.SESSION_USE)]
#: How a login or a password change may be turned away before its password is checked.
LOGIN_REFUSALS: dict[int | str, dict[str, object]] = {
    429: {"model": Problem, "description": "Too many failed logins, or 2 logins from your "
          "address already waiting to be checked."},
    503: {"model": Problem, "description": "Too many logins are waiting to be checked; "
          "nothing was changed. Try again after Retry-After seconds."}}


@router.post("/login", response_model=MeOut, responses={
    **AUTH_ERRORS, **LOGIN_REFUSALS},
    dependencies=[power(Action.LOG_IN)])
async def login(data: LoginIn, request: Request, response: Response, platform: PlatformDep,
                client: ClientDep) -> MeOut:
    """Check username and password; on success set the session cookie. Repeated failures
    of a username from one address are refused for a while, longer each time (429)."""
    result = await run_checking_passwords(
        request, users.log_in, platform, data.username, data.password, client,
        first_login_code=data.first_login_code, new_password=data.new_password)
    set_session_cookie(response, platform, result)
    return MeOut(username=result.user.username, role=result.user.role)


@router.post("/logout", status_code=204, responses=AUTH_ERRORS)
def logout(request: Request, response: Response, actor: Staff, platform: PlatformDep) -> None:
    """End this session."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        users.log_out(platform, actor, token)
    response.delete_cookie(SESSION_COOKIE)


@router.post("/password", status_code=204, responses={
    **AUTH_ERRORS, **LOGIN_REFUSALS})
async def change_password(data: PasswordChangeIn, request: Request, response: Response,
                          actor: Staff, platform: PlatformDep, client: ClientDep) -> None:
    """Change your own password (give the one you have now). Every session of yours ends,
    this one too; the answer sets the cookie of a new one. A wrong current password counts
    as a failed login."""
    result = await run_checking_passwords(request, users.change_password, platform, actor,
                                          data.password, data.new_password, client)
    set_session_cookie(response, platform, result)


@router.get("/me", response_model=MeOut, responses=AUTH_ERRORS)
def me(actor: Staff) -> MeOut:
    """The logged-in person."""
    return MeOut(username=actor.name, role=actor.role.value)
