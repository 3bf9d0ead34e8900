"""What followed an arrest after an alert (charged, cautioned, released without charge,
no further action), recorded by an officer within a window; the deployment records and the
annual report count them (``later_outcome_counts_in``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from openlfr.audit import append_event
from openlfr.governance.errors import Conflict, NotFound
from openlfr.governance.outcomes import LaterOutcome, later_outcome_refusal
from openlfr.governance.records import AlertOutcome
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action, require
from openlfr.services.reports import record_changed_after_completion
from openlfr.services.schemas import Input
from openlfr.storage import models as m

#: The count of arrests whose later outcome was not recorded (in time).
NOT_RECORDED = "not_recorded"


class LaterOutcomeIn(Input):
    """What followed the arrest."""

    later_outcome: LaterOutcome


def record_later_outcome(p: Platform, actor: Actor, alert_id: int,
                         data: LaterOutcomeIn) -> m.Alert:
    """Record (or correct, within the window) what followed an arrest after an alert.
    Refused for an alert whose outcome is not an arrest and after the window
    (``OPENLFR_LATER_OUTCOME_WINDOW_DAYS`` from the alert)."""
    require(actor, Action.LATER_OUTCOME_RECORD)
    now = p.clock()
    with p.sessions.begin() as s:
        alert = s.get(m.Alert, alert_id, with_for_update=True)
        if alert is None:
            raise NotFound(f"alert {alert_id} does not exist")
        refusal = later_outcome_refusal(alert.outcome, alert.occurred_at, now,
                                        p.settings.later_outcome_window_days)
        if refusal:
            raise Conflict(f"alert {alert_id}: {refusal}")
        before = alert.later_outcome
        alert.later_outcome = data.later_outcome.value
        alert.later_outcome_recorded_at, alert.later_outcome_recorded_by = now, actor.audit_name
        append_event(s, actor=actor.audit_name, action="alert.later_outcome_recorded",
                     subject_type="alert", subject_id=alert.id,
                     details={"later_outcome": alert.later_outcome, "before": before}, now=now)
        record_changed_after_completion(s, actor, alert.deployment_id,
                                        f"alert {alert.id}: what followed the arrest recorded",
                                        now)
    return alert


@dataclass(frozen=True)
class ArrestFollowUp:
    """An arrest after an alert and what followed it (staff)."""

    alert_id: int
    occurred_at: object
    entry_category: str
    later_outcome: str | None
    recorded_at: object
    open: bool


def arrests_of(p: Platform, actor: Actor, deployment_id: int) -> list[ArrestFollowUp]:
    """A deployment's arrests after alerts with what followed each, and whether it may
    still be recorded (staff who may record it)."""
    require(actor, Action.LATER_OUTCOME_RECORD)
    now = p.clock()
    window = p.settings.later_outcome_window_days
    with p.sessions() as s:
        rows = s.scalars(select(m.Alert).where(
            m.Alert.deployment_id == deployment_id,
            m.Alert.outcome == AlertOutcome.ARREST.value).order_by(m.Alert.occurred_at))
        return [ArrestFollowUp(a.id, a.occurred_at, a.entry_category, a.later_outcome,
                               a.later_outcome_recorded_at,
                               later_outcome_refusal(a.outcome, a.occurred_at, now,
                                                     window) is None)
                for a in rows]


def later_outcome_counts_in(s: Session, deployment_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Per deployment: arrests after alerts by what followed (every LaterOutcome, 0 when
    none) and ``not_recorded``."""
    ids = list(deployment_ids)
    counts: dict[int, Counter[str]] = {i: Counter() for i in ids}
    if ids:
        for deployment_id, later in s.execute(select(m.Alert.deployment_id, m.Alert.later_outcome)
                                              .where(m.Alert.deployment_id.in_(ids),
                                                     m.Alert.outcome == AlertOutcome.ARREST.value)):
            counts[deployment_id][later or NOT_RECORDED] += 1
    return {i: {**{o.value: c[o.value] for o in LaterOutcome}, NOT_RECORDED: c[NOT_RECORDED]}
            for i, c in counts.items()}
