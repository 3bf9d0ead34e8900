"""What followed an alert: the later outcome of an arrest that forces publish beside their
LFR figures (charged, cautioned, released without charge, no further action), the window
in which it may be recorded, and when an operator's decision on an alert (true, false,
unclear) or its recorded outcome may still change."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from openlfr.governance.answers import says_something
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


#: The shortest reason accepted for changing a decision after the deployment ended.
MIN_CHANGE_REASON = 20


def settled_change_refusal(what: str, before: str | None, after: str | None, *,
                           occurred_at: datetime, now: datetime, ended: bool,
                           window_days: int, reason: str | None) -> str | None:
    """Why an alert's ``what`` (its decision, its outcome) may not change from ``before``
    to ``after`` (None: it may). The first record and a repeat of it are always taken.
    While the deployment runs an operator may correct one (a mis-press in the van); once
    it has ended the published figures rest on these records, so a change needs a reason
    (published with it, in the review's new version) and may be made only within
    ``window_days`` of the alert: after that the figures settle, so a false alert cannot
    be relabelled out of them a year on, when the evidence (the probe crop) is gone."""
    if before is None or before == after:
        return None
    closes = occurred_at + timedelta(days=window_days)
    if now > closes:  # whatever the deployment's status or dates now say
        return (f"the alert's {what} settled on {closes.date().isoformat()} ({window_days} "
                f"days after the alert); it stays {before.replace('_', ' ')}")
    if not ended:
        return None
    if not says_something(reason, MIN_CHANGE_REASON):
        return (f"changing the {what} of an alert after the deployment ended needs a reason "
                f"that says why (at least {MIN_CHANGE_REASON} characters, in words), "
                "published with the change")
    return None


#: The groups an operator may record for a false alert, by default: the 2021 census's
#: high-level ethnic groups for England and Wales, and "Not stated". A force sets its own
#: list (``OPENLFR_DEMOGRAPHIC_GROUPS``), but every alert is recorded against that one list.
DEFAULT_DEMOGRAPHIC_GROUPS = (
    "Asian or Asian British", "Black, Black British, Caribbean or African",
    "Mixed or multiple ethnic groups", "White", "Other ethnic group", "Not stated")


def _folded(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def recorded_group(text: str | None, groups: Sequence[str]) -> str | None:
    """The group ``text`` names, as the list writes it (None: none recorded), or a
    ValueError listing the groups. One list, matched whatever the case and spacing, so the
    false alerts of one group cannot be split over "Black", "black" and "BLACK " until no
    column shows a disparity."""
    if text is None or not text.strip():
        return None
    for group in groups:
        if _folded(group) == _folded(text):
            return group
    raise ValueError("choose one of the recorded groups: " + "; ".join(groups))
