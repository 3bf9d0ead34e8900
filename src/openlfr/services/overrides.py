"""Two-person overrides: an authoriser asks to go ahead despite failing gates (through
``deployments.transition_deployment``, with a justification), a member of oversight
countersigns the request they read, by its id. The countersignature takes the step the
authoriser asked for, if that request is still the one awaiting, the gates fail then
exactly as they failed when it was asked for (each failure's key, ``governance.failures``)
and none of them can never be overridden. The area's subscribers are told by e-mail that
the deployment went ahead despite failed checks.

An override in force covers the failures it was signed for, by key, for the rest of that
authorisation (so activation is not stopped by them again): the same gate failing
otherwise is not covered. It lapses when the authorisation is withdrawn, and when the
watchlist is changed or rebuilt after authorisation so that a failure it covers is
another (``lapse_changed_in``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from openlfr.audit import append_event
from openlfr.governance.errors import Conflict
from openlfr.governance.gates import GateReport, evaluate_gates
from openlfr.governance.lifecycle import (
    DeploymentStatus,
    Transition,
    next_status,
    require_within_window,
)
from openlfr.governance.overrides import (
    WENT_AHEAD,
    Coverage,
    OverrideStatus,
    changed_since,
    require_justification,
    require_overridable,
    require_request_read,
    signed_failures,
)
from openlfr.governance.roles import require_second_person
from openlfr.services import notices
from openlfr.services.common import deployment_or_404
from openlfr.services.dossier import build_dossier
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action, require
from openlfr.services.schemas import CountersignIn
from openlfr.storage import models as m


def request_in(s: Session, p: Platform, actor: Actor, d: m.Deployment, action: Transition,
               report: GateReport, justification: str, now: datetime) -> m.GateOverride:
    """Record an authoriser's request to ``action`` despite the failing gates, in the
    caller's transaction. It replaces an earlier request still awaiting a countersignature;
    the deployment does not move."""
    text = require_justification("override_justification", justification,
                                 p.settings.override_min_justification_chars,
                                 "the authoriser asking for an override")
    for earlier in _with_status(s, d.id, OverrideStatus.AWAITING_COUNTERSIGNATURE):
        _close(earlier, OverrideStatus.SUPERSEDED, "replaced by a newer request", now)
    o = m.GateOverride(
        deployment_id=d.id, transition=action.value,
        failing_gates=signed_failures(report.failing),
        justification=text, recorded_by=actor.audit_name, recorded_at=now,
        status=OverrideStatus.AWAITING_COUNTERSIGNATURE.value)
    s.add(o)
    s.flush()
    append_event(s, actor=actor.audit_name, action="override.requested",
                 subject_type="deployment", subject_id=d.id,
                 details={"override_id": o.id, "transition": action.value,
                          "failing_gates": [g.name for g in report.failing]}, now=now)
    return o


def countersign_override(p: Platform, actor: Actor, deployment_id: int,
                         data: CountersignIn) -> m.GateOverride:
    """Countersign the override the signer read (``data.override_id``), which takes the
    step the authoriser asked for. Refused when that request is not the one awaiting a
    countersignature (replaced since, or no longer waiting), when the countersigner asked
    for it, when the justification is too short, when the deployment has moved on, when a
    gate fails that the request did not name or fails otherwise than when it was asked
    for, or when a failing gate can never be overridden."""
    require(actor, Action.OVERRIDE_COUNTERSIGN)
    from openlfr.services.deployments import apply_transition  # it imports this module

    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        waiting = _with_status(s, d.id, OverrideStatus.AWAITING_COUNTERSIGNATURE)
        if not waiting:
            raise Conflict(f"no override is awaiting a countersignature on {d.reference}")
        o = waiting[-1]
        read = s.get(m.GateOverride, data.override_id)
        require_request_read(data.override_id, o.id, None if read is None
                             or read.deployment_id != d.id else OverrideStatus(read.status))
        require_second_person(o.recorded_by, actor.audit_name, "an override",
                              "a member of oversight")
        text = require_justification("justification", data.justification,
                                     p.settings.override_min_justification_chars,
                                     "the member of oversight countersigning")
        action = Transition(o.transition)
        target = next_status(DeploymentStatus(d.status), action)
        if action is Transition.ACTIVATE:
            require_within_window(d.start_at, d.end_at, now)
        report = evaluate_gates(build_dossier(s, d, now), p.settings.gate_parameters())
        if report.all_passed:
            raise Conflict(f"every gate passes now: no override is needed, and the "
                           f"{action.value} can go ahead without one")
        new, otherwise = changed_since(report.failing, o.failing_gates)
        if new or otherwise:
            raise Conflict("since the override was asked for, "
                           + "; ".join(part for part in (
                               new and "these gates fail too: " + ", ".join(new),
                               otherwise and "these gates fail otherwise than they did: "
                               + ", ".join(otherwise)) if part)
                           + "; the authoriser must ask again, for the gates as they fail now")
        require_overridable(action.value, report.failing)
        o.status = OverrideStatus.IN_FORCE.value
        o.countersigned_by, o.countersigned_at, o.countersignature = actor.audit_name, now, text
        s.flush()
        append_event(s, actor=actor.audit_name, action="override.countersigned",
                     subject_type="deployment", subject_id=d.id,
                     details={"override_id": o.id, "transition": action.value,
                              "requested_by": o.recorded_by}, now=now)
        apply_transition(s, p, actor, d, action, target, report, now, override=o)
        notices.queue_deployment_notices(s, p.settings, d, notices.EmailKind.OVERRIDDEN, now,
                                         override=o)
    p.live.notify(d.id)
    return o


def covered_gates(s: Session, deployment_id: int) -> Coverage:
    """The failures that countersigned overrides in force on this deployment set aside: a
    set of gate names, each with the keys of the failures signed for (an override recorded
    by one person before countersignatures were required, or before failures were keyed,
    covers nothing)."""
    return Coverage(g for o in _with_status(s, deployment_id, OverrideStatus.IN_FORCE)
                    for g in o.failing_gates)


def lapse_changed_in(s: Session, p: Platform, actor: Actor, d: m.Deployment, why: str,
                     now: datetime) -> None:
    """Lapse, in the caller's transaction, the overrides in force on ``d`` that no longer
    cover what they were signed for: a gate they name fails now with another key (after
    the watchlist changed, say). A gate that passes now leaves them standing. Each lapse is
    an audit event."""
    in_force = _with_status(s, d.id, OverrideStatus.IN_FORCE)
    if not in_force:
        return
    report = evaluate_gates(build_dossier(s, d, now), p.settings.gate_parameters())
    for o in in_force:
        named = {g["name"] for g in o.failing_gates}
        _, otherwise = changed_since([g for g in report.failing if g.name in named],
                                     o.failing_gates)
        if not otherwise:
            continue
        _close(o, OverrideStatus.LAPSED, f"{why}, and it was signed for another failure of "
               f"{', '.join(otherwise)}", now)
        append_event(s, actor=actor.audit_name, action="override.lapsed",
                     subject_type="deployment", subject_id=d.id,
                     details={"override_id": o.id, "reason": o.closed_reason,
                              "gates": otherwise}, now=now)


def lapse_in(s: Session, deployment_id: int, reason: str, now: datetime, *,
             awaiting_only: bool = False) -> None:
    """Close the deployment's overrides awaiting a countersignature (and, unless
    ``awaiting_only``, those in force): their step, or the authorisation they led to, no
    longer holds."""
    statuses = [OverrideStatus.AWAITING_COUNTERSIGNATURE]
    if not awaiting_only:
        statuses.append(OverrideStatus.IN_FORCE)
    for o in _with_status(s, deployment_id, *statuses):
        _close(o, OverrideStatus.LAPSED, reason, now)


def published() -> ColumnElement[bool]:
    """The overrides the public sees: those under which a deployment went ahead, and
    countersigned ones that have since lapsed. A request never countersigned is not."""
    column = m.GateOverride.status
    return or_(column.in_([x.value for x in WENT_AHEAD]),
               and_(column == OverrideStatus.LAPSED.value,
                    m.GateOverride.countersigned_at.is_not(None)))


def went_ahead_despite(s: Session, deployment_id: int) -> list[str]:
    """The failed checks a deployment went ahead despite (overrides that took effect and
    still stand), by gate name: "authorised despite N failed checks"."""
    return sorted({g["name"] for o in _with_status(s, deployment_id, *WENT_AHEAD)
                   for g in o.failing_gates})


def _with_status(s: Session, deployment_id: int,
                 *statuses: OverrideStatus) -> list[m.GateOverride]:
    return list(s.scalars(select(m.GateOverride).where(
        m.GateOverride.deployment_id == deployment_id,
        m.GateOverride.status.in_([x.value for x in statuses])).order_by(m.GateOverride.id)))


def _close(o: m.GateOverride, status: OverrideStatus, reason: str, now: datetime) -> None:
    o.status, o.closed_at, o.closed_reason = status.value, now, reason
