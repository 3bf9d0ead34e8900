"""FastAPI dependencies: the platform, who is calling, and the powers table's check.

A route declares the action it takes (``power(Action.X)``); whether a caller may take it
is read from ``services.powers``, the same table the use case checks again."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import APIKeyCookie, APIKeyHeader
from itsdangerous import BadSignature, TimestampSigner
from starlette.concurrency import run_in_threadpool

from openlfr.services import users
from openlfr.services.platform import PUBLIC_ACTOR, Actor, Platform, Role
from openlfr.services.powers import Action, may, refusal, roles_for
from openlfr.services.schemas import MAX_ID

SESSION_COOKIE = "openlfr_session"


def set_session_cookie(response: Any, platform: Platform, result: users.LoginResult) -> None:
    """Put a session opened by the users service (a login, a password change) in the
    cookie: HTTP-only, same-site lax, secure where the platform says. The browser is
    marked known as well (``known_browser``)."""
    response.set_cookie(SESSION_COOKIE, result.token, max_age=result.expires_in_s,
                        httponly=True, samesite="lax", secure=platform.settings.cookie_secure)
    response.set_cookie(KNOWN_BROWSER_COOKIE, _browser_signer(platform).sign(b"known").decode(),
                        max_age=KNOWN_BROWSER_DAYS * 86_400, httponly=True, samesite="lax",
                        secure=platform.settings.cookie_secure)


#: A browser someone logged in on keeps, for this long, a signed cookie that says so (it
#: names nobody); a login sent with it may wait for the password threads when the queue is
#: full to others (``web/threads.py``), so a flood of logins from addresses that never
#: logged in does not turn away the officers who use this platform.
KNOWN_BROWSER_COOKIE = "openlfr_known_browser"
KNOWN_BROWSER_DAYS = 90


def _browser_signer(platform: Platform) -> TimestampSigner:
    return TimestampSigner(platform.settings.known_browser_key(), salt="openlfr known browser")


def known_browser(request: Request, platform: Platform) -> bool:
    """Whether the request comes from a browser someone logged in on in the last
    ``KNOWN_BROWSER_DAYS`` days (its cookie signed by this platform)."""
    cookie = request.cookies.get(KNOWN_BROWSER_COOKIE)
    if not cookie:
        return False
    try:
        _browser_signer(platform).unsign(cookie, max_age=KNOWN_BROWSER_DAYS * 86_400)
    except BadSignature:
        return False
    return True
API_KEY_HEADER = "X-API-Key"

session_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                              description="Set by POST /api/auth/login (people).")
api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                              description="An engine node's API key (created by an admin).")


# The dependencies that do no I/O are ``async``: FastAPI then calls them on the event loop
# instead of handing each to a worker thread and back (a node sends many requests a second).


async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def client_address(request: Request) -> str | None:
    """The caller's address, as the rate limits and the login throttle count it (the
    API's and the pages' one reading of it)."""
    return request.client.host if request.client else None


ClientDep = Annotated[str | None, Depends(client_address)]


def current_actor(
    platform: PlatformDep,
    session_token: Annotated[str | None, Depends(session_cookie)] = None,
    api_key: Annotated[str | None, Depends(api_key_header)] = None,
) -> Actor:
    """The caller: a node (API key), a person (session cookie), or the public. A key or
    cookie that is present but invalid is refused rather than treated as anonymous, so a
    node with a revoked key hears about it."""
    if api_key:
        try:
            return users.actor_for_api_key(platform, api_key)
        except users.UnknownApiKey as exc:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from None
    if session_token:
        actor = users.actor_for_session(platform, session_token)
        if actor is not None:
            return actor
    return PUBLIC_ACTOR


ActorDep = Annotated[Actor, Depends(current_actor)]


async def request_credentials(
    session_token: Annotated[str | None, Depends(session_cookie)] = None,
    api_key: Annotated[str | None, Depends(api_key_header)] = None,
) -> users.Credentials:
    """The session cookie and API key the request carried, for a route that asks again
    while it lasts whether they still stand for someone (``users.actor_for_credentials``)."""
    return users.Credentials(session_token, api_key)


CredentialsDep = Annotated[users.Credentials, Depends(request_credentials)]


@dataclass(frozen=True)
class RequirePower:
    """A dependency that lets through only callers whose role may take ``action`` in the
    powers table: anonymous callers get 401 (log in), others 403 (naming who may)."""

    action: Action

    async def __call__(self, actor: ActorDep) -> Actor:
        if actor.role is Role.PUBLIC:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                                "log in first (POST /api/auth/login) or send an API key")
        if not may(actor.role, self.action):
            raise HTTPException(status.HTTP_403_FORBIDDEN, refusal(actor.role, self.action))
        return actor


@dataclass(frozen=True)
class NodeWrite(RequirePower):
    """``RequirePower`` for a node's single writes (an alert, a counter batch): a request
    carrying an API key gets it back unchecked (``users.NodeKey``), for the use case to
    check in the very transaction that records the write (with the table, once a group of
    writes, and a revocation holding for every write committed after it). A request
    without one is checked here as any other."""

    async def __call__(  # type: ignore[override]
        self,
        platform: PlatformDep,
        session_token: Annotated[str | None, Depends(session_cookie)] = None,
        api_key: Annotated[str | None, Depends(api_key_header)] = None,
    ) -> Actor | users.NodeKey:
        if api_key:
            return users.NodeKey(api_key)
        actor = await run_in_threadpool(current_actor, platform, session_token, None)
        return await super().__call__(actor)


@dataclass(frozen=True)
class OpenTo:
    """The dependency of an action open to everyone: it checks nothing, and names the
    action so that the route can be compared with the powers table."""

    action: Action

    async def __call__(self) -> None:
        return None


def power(action: Action) -> Any:
    """``Depends`` on the powers table for ``action``: use as ``Annotated[Actor,
    power(Action.X)]`` for the caller, or in a route's ``dependencies``."""
    if Role.PUBLIC in roles_for(action):
        return Depends(OpenTo(action))
    return Depends(RequirePower(action))


def route_action(dependencies: Iterable[Any]) -> Action | None:
    """The powers-table action a route's dependency calls name: the route's own when both
    its router and it name one (None when none does)."""
    found = None
    for call in dependencies:
        if isinstance(call, RequirePower | OpenTo):
            found = call.action
    return found


#: A numeric id in a path, bounded so the database never sees an out-of-range integer.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
