"""Overrides that need two people: an authoriser asks to go ahead despite failing gates,
with a written justification, and a member of oversight (another person) countersigns
with their own. Until then the deployment stays where it was. Some failures can never be
overridden (see ``gates``). An override covers the failures it was asked and signed for,
each by its key (``governance.failures``): not another gate, and not the same gate
failing otherwise (the threshold lowered, the watchlist changed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from enum import StrEnum
from typing import Any

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


def signed_failures(failing: list[GateResult]) -> list[dict[str, Any]]:
    """What a request records of each failing gate: its name, its reason as it read, and
    the key of its failure, which is what the signatures cover."""
    return [{"name": g.name, "reason": g.reason, "key": g.failure_key} for g in failing]


class Coverage(frozenset[str]):
    """The gates overrides set aside, by name (a set, as such), with the failure keys they
    were signed for in ``signed``. A gate recorded without a key (an override signed
    before keys were recorded) covers nothing."""

    signed: dict[str, frozenset[str]]

    def __new__(cls, recorded: Iterable[Mapping[str, Any]] = ()) -> Coverage:
        signed: dict[str, set[str]] = {}
        for g in recorded:
            if g.get("key"):
                signed.setdefault(str(g["name"]), set()).add(str(g["key"]))
        self = super().__new__(cls, signed)
        self.signed = {name: frozenset(keys) for name, keys in signed.items()}
        return self

    def covers(self, gate: GateResult) -> bool:
        """True when ``gate`` fails exactly as it failed when the override was signed."""
        return gate.failure_key is not None and gate.failure_key in self.signed.get(
            gate.name, frozenset())


def uncovered(failing: list[GateResult], covered: AbstractSet[str]) -> list[GateResult]:
    """Failing gates that no override in force covers. ``covered`` is a ``Coverage``; a
    set of bare gate names covers nothing: a name alone never covers a failure."""
    if not isinstance(covered, Coverage):
        return list(failing)
    return [g for g in failing if not covered.covers(g)]


def changed_since(failing: list[GateResult],
                  recorded: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """Of the ``failing`` gates a request did not cover: those it did not name at all, and
    those it named but that fail otherwise now (or were recorded without a key)."""
    recorded = list(recorded)
    named = {str(g["name"]) for g in recorded}
    new = uncovered(failing, Coverage(recorded))
    return ([g.name for g in new if g.name not in named],
            [g.name for g in new if g.name in named])


def require_request_read(read_id: int, awaiting_id: int,
                         read_status: OverrideStatus | None) -> None:
    """A countersignature is of the request the signer read (``read_id``), which must be
    the one still awaiting (``awaiting_id``): the authoriser may have replaced it since,
    with other words, and a countersignature written about one request never puts
    another in force."""
    if read_id == awaiting_id:
        return
    if read_status is None:
        what = "is not a request on this deployment"
    elif read_status is OverrideStatus.SUPERSEDED:
        what = "was replaced by a newer request"
    else:
        what = f"is {read_status.value.replace('_', ' ')}, not awaiting a countersignature"
    raise Conflict(f"override {read_id} {what}; the request awaiting a countersignature is "
                   f"override {awaiting_id}: read its justification and the gates it names, "
                   "then countersign it by its id if you agree")
