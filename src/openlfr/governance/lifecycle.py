"""The deployment status lifecycle: which status may follow which, and by what action.

draft -> proposed -> notice_published -> authorised -> active -> completed -> reviewed,
or cancelled from any status before active. After notice, the dates can change only by
rescheduling, which leads back to notice_published: the notice period runs again from the
reschedule, and an authorisation given for the old dates no longer holds.

A deployment that has run (it was activated once) can never be cancelled or rescheduled:
an amendment that changes a gate's answer sends an active deployment back to
notice_published, and cancelling it from there would take what it did (faces seen,
alerts, false alerts, stops) out of every published total, and rescheduling it would put
what it did on other dates and open it again (its alerts' decisions with it). It is
completed instead, from wherever it stands.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from openlfr.governance.errors import Conflict, InvalidInput, InvalidTransition


class DeploymentStatus(StrEnum):
    """Where a deployment is in its life."""

    DRAFT = "draft"
    PROPOSED = "proposed"
    NOTICE_PUBLISHED = "notice_published"
    AUTHORISED = "authorised"
    ACTIVE = "active"
    COMPLETED = "completed"
    REVIEWED = "reviewed"
    CANCELLED = "cancelled"


class Transition(StrEnum):
    """The actions that move a deployment from one status to the next."""

    PROPOSE = "propose"
    PUBLISH_NOTICE = "publish_notice"
    AUTHORISE = "authorise"
    ACTIVATE = "activate"
    COMPLETE = "complete"
    REVIEW = "review"
    CANCEL = "cancel"
    RESCHEDULE = "reschedule"


_S = DeploymentStatus
#: action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[Transition, tuple[frozenset[DeploymentStatus], DeploymentStatus]] = {
    Transition.PROPOSE: (frozenset({_S.DRAFT}), _S.PROPOSED),
    Transition.PUBLISH_NOTICE: (frozenset({_S.PROPOSED}), _S.NOTICE_PUBLISHED),
    Transition.AUTHORISE: (frozenset({_S.NOTICE_PUBLISHED}), _S.AUTHORISED),
    Transition.ACTIVATE: (frozenset({_S.AUTHORISED}), _S.ACTIVE),
    Transition.COMPLETE: (frozenset({_S.ACTIVE}), _S.COMPLETED),
    Transition.REVIEW: (frozenset({_S.COMPLETED}), _S.REVIEWED),
    Transition.CANCEL: (
        frozenset({_S.DRAFT, _S.PROPOSED, _S.NOTICE_PUBLISHED, _S.AUTHORISED}),
        _S.CANCELLED,
    ),
    # New dates after notice: the public is told again, and must be told in time again.
    Transition.RESCHEDULE: (frozenset({_S.NOTICE_PUBLISHED, _S.AUTHORISED}), _S.NOTICE_PUBLISHED),
}

#: Transitions that may only happen when every policy gate passes (or is overridden).
GATED_TRANSITIONS = frozenset({Transition.AUTHORISE, Transition.ACTIVATE})

#: Statuses in which the plan (dates, sites, threshold, purpose) may still be edited:
#: once notice is public, the public must be able to rely on what it was told.
EDITABLE_STATUSES = frozenset({_S.DRAFT, _S.PROPOSED})

#: Statuses the public can see: notice has been given (or was, before a cancellation).
PUBLIC_STATUSES = frozenset(
    {_S.NOTICE_PUBLISHED, _S.AUTHORISED, _S.ACTIVE, _S.COMPLETED, _S.REVIEWED}
)

def is_published(status: DeploymentStatus, notice_published_at: datetime | None) -> bool:
    """The public may see the deployment (and its consultation): notice has been given."""
    return status in PUBLIC_STATUSES or notice_published_at is not None


#: Statuses after which the watchlist must no longer exist.
FINISHED_STATUSES = frozenset({_S.COMPLETED, _S.REVIEWED, _S.CANCELLED})


def watchlist_must_go(status: DeploymentStatus, end_at: datetime, now: datetime,
                      late: timedelta) -> bool:
    """A watchlist exists for one deployment's window: it goes when the deployment is
    finished, or once its published window and the late delivery after it (``late``) are
    over, whatever its status, so a deployment nobody completes or cancels does not keep
    its photos and descriptors for ever."""
    return status in FINISHED_STATUSES or now >= end_at + late


def allowed_from(action: Transition, *, has_run: bool) -> frozenset[DeploymentStatus]:
    """The statuses ``action`` may start from, for a deployment that has run (was ever
    activated) or not: one that has run may be completed from any status it can be sent
    back to, and never cancelled."""
    statuses, _ = TRANSITIONS[action]
    if has_run and action in (Transition.CANCEL, Transition.RESCHEDULE):
        # Cancelled, it left the totals; rescheduled, its record would say it ran on
        # other dates, and what it did would not have ended: running again is a new
        # deployment, with its own notice.
        return frozenset()
    if has_run and action is Transition.COMPLETE:
        return statuses | {_S.NOTICE_PUBLISHED, _S.AUTHORISED}
    return statuses


def next_status(current: DeploymentStatus, action: Transition, *,
                has_run: bool = False) -> DeploymentStatus:
    """The status ``action`` leads to from ``current`` (``has_run``: the deployment was
    activated once); raises InvalidTransition if the action is not allowed from there,
    saying which statuses it is allowed from."""
    allowed = allowed_from(action, has_run=has_run)
    if current not in allowed:
        if not allowed:
            raise InvalidTransition(
                f"cannot {action.value} a deployment that has run: what it did stays in "
                "the published figures, on the dates it ran; complete it instead (running "
                "again is a new deployment, with its own notice)")
        options = ", ".join(sorted(s.value for s in allowed))
        raise InvalidTransition(
            f"cannot {action.value} a deployment that is '{current.value}'; "
            f"{action.value} is only possible from: {options}"
        )
    return TRANSITIONS[action][1]


def require_editable(current: DeploymentStatus) -> None:
    """Refuse edits to the plan once notice has been published."""
    if current not in EDITABLE_STATUSES:
        raise InvalidTransition(
            f"the deployment is '{current.value}': its plan is fixed once notice is published; "
            "cancel it and propose a new deployment to change it"
        )


#: How long before its published start a deployment may be switched on (set-up time).
ACTIVATION_LEAD = timedelta(hours=1)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def require_within_window(start_at: datetime, end_at: datetime, now: datetime) -> None:
    """A deployment may be activated only inside the window the public was told about
    (from an hour before the start, for setting up, until the end)."""
    if now < start_at - ACTIVATION_LEAD:
        raise Conflict(f"too early: the published window starts {_when(start_at)}; activation "
                       f"is possible from {_when(start_at - ACTIVATION_LEAD)}")
    if now >= end_at:
        raise Conflict(f"the published window ended {_when(end_at)}; a deployment cannot be "
                       "activated after its notice period and window")


def require_running_window(end_at: datetime, now: datetime) -> None:
    """Engine nodes may work for an active deployment only until its published end; after
    that the deployment must be completed, not quietly kept running."""
    if now >= end_at:
        raise Conflict(f"the deployment's published window ended {_when(end_at)}; the engine "
                       "must stop and the operator must complete the deployment")


#: Statuses of a deployment that has run: a node may still deliver what it recorded.
RAN_STATUSES = frozenset({_S.ACTIVE, _S.COMPLETED, _S.REVIEWED})


def has_ended(status: DeploymentStatus, end_at: datetime, completed_at: datetime | None,
              activated_at: datetime | None, now: datetime) -> bool:
    """The deployment was completed, its published window is over, or it ran and is no
    longer active (an amendment sent it back): from then on its alerts' decisions and
    outcomes settle (``governance.outcomes.settled_change_refusal``)."""
    return (completed_at is not None or now >= end_at
            or (activated_at is not None and status is not _S.ACTIVE))


def ended_at(end_at: datetime, completed_at: datetime | None) -> datetime:
    """When the engine had to stop: completion, or the published end if that came first."""
    return end_at if completed_at is None else min(end_at, completed_at)


def require_late_delivery(ended: datetime, recorded_at: datetime | None, now: datetime,
                          late: timedelta) -> None:
    """After a deployment ended, a node may still deliver what it recorded before the end
    (its outbox, after a node or network outage), for ``late`` after the end; nothing
    recorded after the end is taken."""
    if recorded_at is None or recorded_at >= ended:
        raise Conflict(f"the deployment ended {_when(ended)}; only alerts and counts "
                       "recorded before then are still accepted")
    if now >= ended + late:
        raise Conflict(f"the deployment ended {_when(ended)} and late delivery closed "
                       f"{_when(ended + late)}; the node's outbox can no longer be accepted")


def require_recorded_while_running(field: str, recorded_at: datetime, began: datetime,
                                   ended: datetime, now: datetime, skew: timedelta) -> None:
    """What a node reports happened while the deployment ran: not before it began, not
    after it ended, never in the future; ``skew`` allows for a node's clock being a little
    off the platform's. Otherwise open data would span whatever a node's clock said."""
    if recorded_at < began - skew:
        raise InvalidInput(field, f"{_when(recorded_at)} is before the deployment began "
                           f"({_when(began)}); check the node's clock (it may be off by at "
                           f"most {int(skew.total_seconds())} s)")
    latest = min(ended, now)
    if recorded_at > latest + skew:
        which = "the deployment ended" if ended <= now else "the platform's time now"
        raise InvalidInput(field, f"{_when(recorded_at)} is after {which} ({_when(latest)}); "
                           f"check the node's clock (it may be off by at most "
                           f"{int(skew.total_seconds())} s)")


#: How far under the threshold a reported score may lie: nodes send scores rounded to 4
#: decimals.
SCORE_ROUNDING = 1e-4


#: Statuses a deployment is in before it first runs, and after it has stopped running.
_NOT_YET_RUN = frozenset({_S.DRAFT, _S.PROPOSED, _S.NOTICE_PUBLISHED, _S.AUTHORISED})
_STOPPED = frozenset({_S.COMPLETED, _S.REVIEWED})


def _ran_while(seen: set[DeploymentStatus]) -> bool:
    """A value in force while the deployment was seen in ``seen`` (the statuses around
    it, in order of time) was in force while it ran: it was active, or it went from not yet
    run to stopped (activated and completed in between)."""
    return _S.ACTIVE in seen or bool(seen & _NOT_YET_RUN and seen & _STOPPED)


def lowest_threshold(current: float, status: DeploymentStatus,
                     amendments: Iterable[tuple[str, str, Sequence[Mapping[str, Any]]]]
                     ) -> float:
    """The lowest match threshold a deployment's nodes may have decided by: the lowest of
    the values in force while it ran. ``amendments``: every amendment of its record, in
    order, as (status before, status after, changes ``{"field", "before", "after"}``); a
    plan can change only by amendment once notice is out, so these are every change. A
    value set before activation and replaced before it, or set after completion, or while
    the deployment was sent back to notice and replaced before it ran again, never ran,
    and is no floor: a node may deliver late what it decided before a raise, so alerts
    are held to the lowest value that ran, never to one it has not had."""
    timeline = list(amendments)
    changes = [c for _, _, cs in timeline for c in cs if c.get("field") == "threshold"]
    value = float(changes[0]["before"]) if changes else current
    seen: set[DeploymentStatus] = {_S.DRAFT}
    ran: list[float] = []
    for before, after, cs in timeline:
        seen.add(DeploymentStatus(before))
        moved = [c for c in cs if c.get("field") == "threshold"]
        if moved:
            if _ran_while(seen):
                ran.append(value)
            value, seen = float(moved[-1]["after"]), set()
        seen.add(DeploymentStatus(after))
    seen.add(status)
    if _ran_while(seen):
        ran.append(value)
    return min(ran, default=current)


def threshold_during(current: float, changes: Sequence[tuple[datetime, float, float]],
                     start: datetime, end: datetime) -> float:
    """The lowest match threshold in force at any moment from ``start`` to ``end`` (an
    alert's time, give or take the nodes' clock skew): ``changes`` are the threshold's
    amendments in order, as (when, before, after), and ``current`` the value after the
    last. An alert is held to the threshold in force when it was raised, so a threshold
    raised while a deployment runs binds the alerts raised after it (a node delivering
    late what it decided before the raise is held to the value it had then)."""
    if not changes:
        return current
    value = changes[0][1]
    for when, _, after in changes:
        if when > start:
            break
        value = after
    in_window = [value, *(after for when, _, after in changes if start < when <= end)]
    return min(in_window)


def require_score_at_threshold(score: float, threshold: float) -> None:
    """An alert is a score at or above the deployment's threshold (``lowest_threshold``):
    a node that sends one below it decided by another threshold than the one the gates
    passed and the public was told of."""
    if score < threshold - SCORE_ROUNDING:
        raise InvalidInput("score", f"{score:.4f} is below the deployment's threshold "
                           f"({threshold:.2f}): an engine node alerts only at or above it; "
                           "check the node runs the deployment's threshold")


def require_new_window(published: tuple[datetime, datetime], start_at: datetime,
                       end_at: datetime, now: datetime) -> None:
    """Rescheduling must change the published dates and move the deployment to a window
    that has not begun yet (the window's own length rules are checked with the input)."""
    if (start_at, end_at) == published:
        raise InvalidInput("start_at", f"the deployment is already published for "
                           f"{_when(start_at)} to {_when(end_at)}; give different dates")
    if start_at <= now:
        raise InvalidInput("start_at", f"the new start {_when(start_at)} has already passed; "
                           "a deployment can only be moved to a future date")
