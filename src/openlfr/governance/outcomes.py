"""What followed an arrest after an alert: the later outcome forces publish beside their
LFR figures (charged, cautioned, released without charge, no further action), and the
window in which it may be recorded."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from openlfr.governance.records import AlertOutcome


class LaterOutcome(StrEnum):
    """What came of an arrest made after an alert."""

    CHARGED = "charged"
    CAUTIONED = "cautioned"
    RELEASED_WITHOUT_CHARGE = "released_without_charge"
    NO_FURTHER_ACTION = "no_further_action"


def later_outcome_refusal(outcome: str | None, occurred_at: datetime, now: datetime,
                          window_days: int) -> str | None:
    """Why a later outcome may not be recorded for an alert (None: it may): only after an
    arrest, and only within ``window_days`` of the alert, so the published figures settle
    instead of changing for ever."""
    if outcome != AlertOutcome.ARREST.value:
        shown = (outcome or "none yet").replace("_", " ")
        return (f"a later outcome follows an arrest; this alert's outcome is {shown}: record "
                "the arrest first")
    closes = occurred_at + timedelta(days=window_days)
    if now > closes:
        return (f"the window for recording what followed closed on {closes.date().isoformat()} "
                f"({window_days} days after the alert); it is counted as not recorded")
    return None
