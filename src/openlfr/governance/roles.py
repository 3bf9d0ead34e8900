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
