"""Errors the domain raises. Each message says what is wrong and what to do about it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openlfr.governance.gates import GateResult


class GovernanceError(Exception):
    """Base class: a rule of the platform refused an action."""


class NotFound(GovernanceError):
    """The thing asked for does not exist (or the caller may not know it exists)."""


class Conflict(GovernanceError):
    """The action is not possible in the current state; the message says why."""


class InvalidTransition(Conflict):
    """A deployment cannot move from its current status to the one asked for."""


class InvalidInput(GovernanceError):
    """A value is not acceptable; ``field`` names it so a form can show the message there."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class GatesFailed(Conflict):
    """One or more policy gates failed and no override was recorded."""

    def __init__(self, action: str, failing: list[GateResult],
                 message: str | None = None) -> None:
        names = ", ".join(g.name for g in failing)
        super().__init__(message or (
            f"cannot {action}: {len(failing)} gate(s) failed ({names}); fix them, or ask for "
            "an override: an authoriser's written justification, countersigned by a member "
            "of oversight"))
        self.action = action
        self.failing = failing
