"""Who may act: the roles of the powers table. Pure names, so that the command line can
list them without loading the platform."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """The roles of the powers table (``services.powers``). ``public`` is anyone not
    logged in; ``node`` is an engine node's key; a ``councillor`` is oversight for the
    areas they were given."""

    PUBLIC = "public"
    OPERATOR = "operator"
    PLANNER = "planner"
    AUTHORISER = "authoriser"
    OVERSIGHT = "oversight"
    COUNCILLOR = "councillor"
    ADMIN = "admin"
    NODE = "node"


#: Roles a person can be given (nodes get API keys, not accounts).
PERSON_ROLES = (Role.OPERATOR, Role.PLANNER, Role.AUTHORISER, Role.OVERSIGHT,
                Role.COUNCILLOR, Role.ADMIN)
