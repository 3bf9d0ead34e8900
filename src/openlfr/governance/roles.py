"""Who may act: the roles of the powers table. Pure names, so that the command line can
list them without loading the platform."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """The roles of the powers table (``services.powers``). ``public`` is anyone not
    logged in; ``node`` is an engine node's key; ``audit_tool`` is the key of a tool that
    records equity audits (``openlfr evaluate --register``); a ``councillor`` is oversight
    for the areas they were given."""

    PUBLIC = "public"
    OPERATOR = "operator"
    PLANNER = "planner"
    AUTHORISER = "authoriser"
    OVERSIGHT = "oversight"
    COUNCILLOR = "councillor"
    ADMIN = "admin"
    NODE = "node"
    AUDIT_TOOL = "audit_tool"


#: Roles a person can be given (nodes and audit tools get API keys, not accounts).
PERSON_ROLES = (Role.OPERATOR, Role.PLANNER, Role.AUTHORISER, Role.OVERSIGHT,
                Role.COUNCILLOR, Role.ADMIN)

#: The roles that hold the force to account (oversight countersigns overrides and
#: consultation wording; councillors record the motions the force must answer). Their
#: accounts are managed by oversight, never by the force's admin: an admin who could make
#: an oversight account could sign both halves of a two-person override alone.
INDEPENDENT_ROLES = (Role.OVERSIGHT, Role.COUNCILLOR)


#: How long an admin's change to a force account may wait for oversight's countersignature:
#: a request older than this is for a situation that may have changed (the officer moved,
#: the roster changed) and is refused; the admin asks again.
HELD_CHANGE_DAYS = 14


def held_for_countersign(changes: dict[str, object]) -> list[str]:
    """The fields of an admin's change to a force account that wait for oversight's
    countersignature: those that give a login (a password, a reactivation) or a power (a
    role). Taking a login away (deactivation) is at once; a new account waits whole. One
    person who could make or reset an account with powers over deployments could act as
    it: the same two-person rule as overrides."""
    held = [name for name in ("role", "password") if changes.get(name) is not None]
    if changes.get("active") is True:
        held.append("active")
    return held
