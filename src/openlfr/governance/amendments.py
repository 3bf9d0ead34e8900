"""A record that cannot be rewritten: from authorisation on, a deployment's plan, impact
assessment, engagement log and consultation are frozen. A change after that is a public
amendment (a new version with a reason, shown with its history); the gates are checked
again on the amended record, and when a gate's answer changes (or a failing gate fails
otherwise: the threshold lowered on an engine never audited) the deployment needs
authorising again.

Also here: when an engagement event may have happened. It must lie between the
deployment's first draft (less a window for engagement that led to it) and the moment of
authorisation, and never in the future: engagement claimed afterwards did not inform the
decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from openlfr.governance.errors import Conflict
from openlfr.governance.gates import GateReport
from openlfr.governance.lifecycle import DeploymentStatus

_S = DeploymentStatus


class Record(StrEnum):
    """The parts of a deployment's record that freeze at authorisation."""

    PLAN = "plan"
    ASSESSMENT = "assessment"
    ENGAGEMENT = "engagement"
    CONSULTATION = "consultation"


#: Statuses in which the record is frozen: it changes only by a public amendment.
FROZEN_STATUSES = frozenset({_S.AUTHORISED, _S.ACTIVE, _S.COMPLETED, _S.REVIEWED})
#: Statuses in which the plan may be amended (it is fixed once notice is public).
PLAN_AMENDABLE_STATUSES = FROZEN_STATUSES | {_S.NOTICE_PUBLISHED}
#: Statuses in which a changed gate answer sends the deployment back to notice_published,
#: to be authorised again. A deployment that has run keeps its status; the amendment and
#: its gate changes are published and the review regenerated.
REAUTHORISE_FROM = frozenset({_S.AUTHORISED, _S.ACTIVE})

_WORDS = {Record.PLAN: "plan", Record.ASSESSMENT: "impact assessment",
          Record.ENGAGEMENT: "engagement log", Record.CONSULTATION: "consultation"}


def record_words(record: Record) -> str:
    return _WORDS[record]


def is_frozen(status: DeploymentStatus) -> bool:
    return status in FROZEN_STATUSES


def require_open(status: DeploymentStatus, record: Record,
                 authorised_at: datetime | None) -> None:
    """Refuse a plain edit of a frozen (or cancelled) record, saying what to do instead."""
    what = record_words(record)
    if status is _S.CANCELLED:
        raise Conflict(f"the deployment is cancelled; its {what} can no longer change")
    if status in FROZEN_STATUSES:
        since = f" on {authorised_at:%Y-%m-%d %H:%M} UTC" if authorised_at else ""
        raise Conflict(
            f"the {what} is frozen: the deployment was authorised{since} and is now "
            f"'{status.value}'; a change now is a public amendment with a published reason "
            "(POST /api/deployments/{id}/amendments), after which the gates are checked "
            "again")


def require_amendable(status: DeploymentStatus, record: Record) -> None:
    """An amendment is for a frozen record; before that, the record is simply edited."""
    allowed = PLAN_AMENDABLE_STATUSES if record is Record.PLAN else FROZEN_STATUSES
    if status not in allowed:
        if status is _S.CANCELLED:
            raise Conflict("the deployment is cancelled; its record can no longer change")
        raise Conflict(f"the {record_words(record)} is not frozen while the deployment is "
                       f"'{status.value}': edit it directly; amendments are for the record "
                       "after authorisation")
    if record is Record.CONSULTATION:
        raise Conflict("the consultation cannot be amended: people answered it as it was. "
                       "If it was flawed, say so in an amendment of the impact assessment, or "
                       "cancel the deployment and consult again")


@dataclass(frozen=True)
class GateChange:
    """A gate whose answer an amendment changed: it passes where it failed, fails where it
    passed, or fails otherwise than it did (``failure_changed``: the key of its failure,
    ``governance.failures``, is another, so an override signed for it no longer covers
    it)."""

    name: str
    passed_before: bool
    passed_after: bool
    failure_changed: bool = False


def gate_changes(before: GateReport, after: GateReport) -> list[GateChange]:
    """The gates whose answer differs between two reports (same clock): pass/fail, or a
    failure whose key changed."""
    was = {g.name: g for g in before.results}
    changes = []
    for g in after.results:
        old = was.get(g.name)
        if old is None:
            continue
        if old.passed != g.passed:
            changes.append(GateChange(g.name, old.passed, g.passed))
        elif not g.passed and g.failure_key != old.failure_key:
            changes.append(GateChange(g.name, False, False, failure_changed=True))
    return changes


def engagement_date_problem(held_on: date, drafted_at: datetime,
                            authorised_at: datetime | None, now: datetime,
                            window_days: int) -> str | None:
    """Why an engagement event cannot be dated ``held_on`` (None when it can)."""
    earliest = (drafted_at - timedelta(days=window_days)).date()
    if held_on > now.date():
        return (f"{held_on.isoformat()} is in the future; log an event once it has been "
                "held")
    if authorised_at is not None and held_on > authorised_at.date():
        return (f"{held_on.isoformat()} is after the deployment was authorised on "
                f"{authorised_at.date().isoformat()}; engagement after the decision did not "
                "inform it")
    if held_on < earliest:
        return (f"{held_on.isoformat()} is more than {window_days} days before the "
                f"deployment was first drafted ({drafted_at.date().isoformat()}); the earliest "
                f"date accepted is {earliest.isoformat()}")
    return None
