"""Who may act: the roles of the powers table. Pure names, so that the command line can
list them without loading the platform."""

from __future__ import annotations

from enum import StrEnum

from openlfr.governance.errors import Conflict


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


#: How long a change to an account may wait for its countersignature: a request older than
#: this is for a situation that may have changed (the officer moved, the roster changed)
#: and is refused; whoever asked asks again.
HELD_CHANGE_DAYS = 14


def held_for_countersign(changes: dict[str, object]) -> list[str]:
    """The fields of a change to an account that wait for a countersignature (an admin's
    change to a force account, oversight's; one member of oversight's change to an
    oversight member's or a councillor's account, another member's): those that give a
    login (a password, a reactivation) or a power (a role, a councillor's areas). Taking a
    login away (deactivation) is at once; a new account waits whole. One person who could
    make or reset an account with powers could act as it: the same two-person rule as
    overrides."""
    held = [name for name in ("role", "areas", "password") if changes.get(name) is not None]
    if changes.get("active") is True:
        held.append("active")
    return held


def require_second_person(requested_by: str, countersigner: str, what: str,
                          who: str) -> None:
    """Nobody countersigns what they asked for themselves: the second signature of a
    two-person rule (an override, a change to an account) is another person's."""
    if requested_by == countersigner:
        raise Conflict(f"{what} needs two people: the countersignature must come from {who} "
                       f"other than {requested_by}, who asked for it")
