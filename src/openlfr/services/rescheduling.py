"""Rescheduling: the one way a deployment's dates change once notice is public.

The new dates are published with a reason, the notice period runs again from the
reschedule, and an authorisation given for the old dates no longer holds (the deployment
goes back to notice_published and must be authorised again). The audit event keeps the
history: old and new dates and the reason. Subscribers of the area are e-mailed in the
same transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from openlfr.audit import append_event
from openlfr.governance.answers import answer_due_at
from openlfr.governance.lifecycle import (
    DeploymentStatus,
    Transition,
    next_status,
    require_new_window,
)
from openlfr.governance.records import FeedbackKind
from openlfr.services import notices, overrides
from openlfr.services.common import deployment_or_404
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action, require
from openlfr.services.schemas import RescheduleIn
from openlfr.storage import models as m

#: The audit action that records a reschedule (and from which the history is read).
RESCHEDULE_ACTION = f"deployment.{Transition.RESCHEDULE.value}"


@dataclass(frozen=True)
class Reschedule:
    """One change of a deployment's published dates."""

    at: datetime
    old_start_at: datetime
    old_end_at: datetime
    new_start_at: datetime
    new_end_at: datetime
    reason: str


def reschedule_deployment(p: Platform, actor: Actor, deployment_id: int,
                          data: RescheduleIn) -> m.Deployment:
    """Move a deployment with published notice (notice_published or authorised) to new
    dates. It returns to notice_published; notice counts from now; an authorisation for
    the old dates is withdrawn (its gate snapshot is kept in the audit event)."""
    require(actor, Action.DEPLOYMENT_RESCHEDULE)
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        previous = DeploymentStatus(d.status)
        target = next_status(previous, Transition.RESCHEDULE,
                             has_run=d.activated_at is not None)
        old_start, old_end = d.start_at, d.end_at
        require_new_window((old_start, old_end), data.start_at, data.end_at, now)
        details: dict[str, object] = {
            "from": previous.value, "to": target.value,
            "old_start_at": old_start.isoformat(), "old_end_at": old_end.isoformat(),
            "new_start_at": data.start_at.isoformat(), "new_end_at": data.end_at.isoformat(),
            "reason": data.reason}
        if previous is DeploymentStatus.AUTHORISED:
            details["withdrawn_authorisation"] = d.gate_snapshots.get(
                Transition.AUTHORISE.value)
            d.gate_snapshots = {k: v for k, v in d.gate_snapshots.items()
                                if k != Transition.AUTHORISE.value}
            d.authorised_at = None
        # Overrides asked for, or given, for the old dates do not carry over to the new.
        overrides.lapse_in(s, d.id, "the deployment was rescheduled", now)
        d.start_at, d.end_at = data.start_at, data.end_at
        # Unanswered objections and questions are due before the new start as well.
        for f in s.scalars(select(m.Feedback).where(m.Feedback.deployment_id == d.id,
                                                    m.Feedback.answered_at.is_(None))):
            f.answer_due_at = answer_due_at(
                FeedbackKind(f.kind), f.submitted_at, d.start_at,
                p.settings.answer_deadline_days, p.settings.answer_lead_hours)
        d.status = target.value
        d.notice_published_at = d.rescheduled_at = d.updated_at = now
        append_event(s, actor=actor.audit_name, action=RESCHEDULE_ACTION,
                     subject_type="deployment", subject_id=d.id, details=details, now=now)
        notices.queue_deployment_notices(
            s, p.settings, d, notices.EmailKind.RESCHEDULED, now,
            change=notices.DateChange(old_start, old_end, data.reason))
    return d


def reschedule_history(p: Platform, deployment_ids: list[int]) -> dict[int, list[Reschedule]]:
    """Every reschedule of each deployment, oldest first, from the audit log (which keeps
    the old and new dates and the published reason)."""
    found: dict[int, list[Reschedule]] = {i: [] for i in deployment_ids}
    if not deployment_ids:
        return found
    with p.sessions() as s:
        rows = s.execute(select(m.AuditEvent.subject_id, m.AuditEvent.occurred_at,
                                m.AuditEvent.details).where(
            m.AuditEvent.action == RESCHEDULE_ACTION,
            m.AuditEvent.subject_type == "deployment",
            m.AuditEvent.subject_id.in_([str(i) for i in deployment_ids]))
            .order_by(m.AuditEvent.seq)).all()
    for subject_id, occurred_at, details in rows:
        e = json.loads(details)
        found[int(subject_id)].append(Reschedule(
            at=datetime.fromisoformat(occurred_at),
            old_start_at=datetime.fromisoformat(e["old_start_at"]),
            old_end_at=datetime.fromisoformat(e["old_end_at"]),
            new_start_at=datetime.fromisoformat(e["new_start_at"]),
            new_end_at=datetime.fromisoformat(e["new_end_at"]), reason=e["reason"]))
    return found
