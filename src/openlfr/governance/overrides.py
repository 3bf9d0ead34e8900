"""Overrides that need two people: an authoriser asks to go ahead despite failing gates,
with a written justification, and a member of oversight (another person) countersigns
with their own. Until then the deployment stays where it was. Some failures can never be
overridden (see ``gates``); an override covers the gates that failed when it was asked
for, and no others.
"""

from __future__ import annotations

from enum import StrEnum

from openlfr.governance.errors import Conflict, GatesFailed, InvalidInput
from openlfr.governance.gates import GateResult


class OverrideStatus(StrEnum):
    """Where an override stands."""

    #: Asked for by an authoriser; nothing has moved yet.
    AWAITING_COUNTERSIGNATURE = "awaiting_countersignature"
    #: Countersigned: the deployment went ahead despite the gates it names.
    IN_FORCE = "in_force"
    #: Replaced by a newer request before it was countersigned.
    SUPERSEDED = "superseded"
    #: No longer holds: the authorisation it led to was withdrawn (new dates, or an
    #: amendment that changed a gate's answer), or the deployment moved on unsigned.
    LAPSED = "lapsed"
    #: Recorded by one person before countersignatures were required (older data).
    SINGLE_SIGNATURE = "single_signature"


#: Overrides under which a deployment went ahead: it is marked "authorised despite N
#: failed checks" wherever it is shown.
WENT_AHEAD = frozenset({OverrideStatus.IN_FORCE, OverrideStatus.SINGLE_SIGNATURE})


class GatesNeverOverridable(GatesFailed):
    """Failing gates include one that no override can set aside."""

    def __init__(self, action: str, failing: list[GateResult]) -> None:
        hard = [g for g in failing if not g.overridable]
        reasons = " ".join(f"{g.name}: {g.override_refusal}" for g in hard)
        super().__init__(action, failing, f"cannot {action}: {len(hard)} failing gate(s) can "
                         f"never be overridden. {reasons}")


def require_overridable(action: str, failing: list[GateResult]) -> None:
    """Refuse an override when any failing gate can never be overridden."""
    if any(not g.overridable for g in failing):
        raise GatesNeverOverridable(action, failing)


def require_justification(field: str, text: str | None, minimum: int, who: str) -> str:
    """The justification, stripped; refused when missing or shorter than ``minimum``."""
    cleaned = (text or "").strip()
    if len(cleaned) < minimum:
        raise InvalidInput(field, f"{who} must write a justification of at least {minimum} "
                           "characters, saying why going ahead despite the failing gates is "
                           "necessary and proportionate (it is published)")
    return cleaned


def require_second_person(requested_by: str, countersigner: str) -> None:
    """The countersignature must come from someone other than the one who asked."""
    if requested_by == countersigner:
        raise Conflict("an override needs two people: the countersignature must come from a "
                       "member of oversight other than the authoriser who asked for it")


def uncovered(failing: list[GateResult], covered: set[str]) -> list[GateResult]:
    """Failing gates that no override in force covers."""
    return [g for g in failing if g.name not in covered]
