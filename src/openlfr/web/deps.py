"""FastAPI dependencies: the platform, who is calling, and role checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import APIKeyCookie, APIKeyHeader

from openlfr.services import users
from openlfr.services.platform import PUBLIC_ACTOR, STAFF_ROLES, Actor, Platform, Role
from openlfr.services.schemas import MAX_ID

SESSION_COOKIE = "openlfr_session"
API_KEY_HEADER = "X-API-Key"

session_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                              description="Set by POST /api/auth/login (people).")
api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                              description="An engine node's API key (created by an admin).")


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def current_actor(
    platform: PlatformDep,
    session_token: Annotated[str | None, Depends(session_cookie)] = None,
    api_key: Annotated[str | None, Depends(api_key_header)] = None,
) -> Actor:
    """The caller: a node (API key), a person (session cookie), or the public. A key or
    cookie that is present but invalid is refused rather than treated as anonymous, so a
    node with a revoked key hears about it."""
    if api_key:
        actor = users.actor_for_api_key(platform, api_key)
        if actor is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                                "the API key is unknown or revoked; ask an admin for a new one")
        return actor
    if session_token:
        actor = users.actor_for_session(platform, session_token)
        if actor is not None:
            return actor
    return PUBLIC_ACTOR


ActorDep = Annotated[Actor, Depends(current_actor)]


def require(*roles: Role) -> Callable[[Actor], Actor]:
    """A dependency that lets through only callers with one of ``roles``: anonymous
    callers get 401 (log in), others 403 (wrong role)."""
    allowed = frozenset(roles)

    def check(actor: ActorDep) -> Actor:
        if actor.role is Role.PUBLIC:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                                "log in first (POST /api/auth/login) or send an API key")
        if actor.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"this needs one of these roles: {names}; you are "
                                f"'{actor.role.value}'")
        return actor

    check.__name__ = "require_" + "_or_".join(sorted(r.value for r in allowed))
    return check


Staff = Annotated[Actor, Depends(require(*STAFF_ROLES))]
Planner = Annotated[Actor, Depends(require(Role.PLANNER))]
PlannerOrAuthoriser = Annotated[Actor, Depends(require(Role.PLANNER, Role.AUTHORISER))]
Operator = Annotated[Actor, Depends(require(Role.OPERATOR))]
Oversight = Annotated[Actor, Depends(require(Role.OVERSIGHT))]
Admin = Annotated[Actor, Depends(require(Role.ADMIN))]
AuditReader = Annotated[Actor, Depends(require(Role.ADMIN, Role.OVERSIGHT))]
Node = Annotated[Actor, Depends(require(Role.NODE))]

#: A numeric id in a path, bounded so the database never sees an out-of-range integer.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
