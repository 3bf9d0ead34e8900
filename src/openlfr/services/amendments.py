"""Amendments of the frozen record: once a deployment is authorised, its plan, impact
assessment and engagement log change only here, each change a new version of that
record with a published reason and what changed. The gates are checked before and after
on the same clock; when a gate's answer changes, an authorised deployment goes back to
notice_published (its authorisation, and any override in force, withdrawn) and must be
authorised again. Such an amendment of an active deployment is refused: it is completed
first, by those who may, keeping what it ran under
(``governance.amendments.running_change_refusal``). A deployment that has already
finished keeps its status: the amendment, and the gates it moved, are
published and its review regenerated.

Every amendment is e-mailed to the area's subscribers (before and after, and the
reason) in the same transaction; plan amendments show in the area's feeds. The plan is
fixed from notice on, so it is amended from notice_published too. One that widens what
the public was told (``governance.amendments.widens_notice``) restarts the notice of a
deployment not yet run: the notice period runs again from the amendment, overrides
asked for or given lapse, and an authorised deployment goes back to notice_published to
be authorised on the amended plan.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openlfr.audit import append_event
from openlfr.governance.amendments import (
    WIDENS_KEY,
    Record,
    gate_changes,
    notice_restart_change,
    record_words,
    require_amendable,
    restarts_notice,
    running_change_refusal,
    status_after,
    widened_by,
    widening_words,
    widens_notice,
)
from openlfr.governance.errors import Conflict, InvalidInput
from openlfr.governance.gates import evaluate_gates
from openlfr.governance.lifecycle import DeploymentStatus, Transition
from openlfr.services import notices, overrides
from openlfr.services.assessments import (
    add_event_in,
    assessment_row,
    check_event_date,
    event_of,
    set_event,
)
from openlfr.services.common import deployment_or_404
from openlfr.services.dossier import build_dossier
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action, require
from openlfr.services.reports import record_changed_after_completion
from openlfr.services.schemas import (
    AmendmentIn,
    AssessmentAmendmentIn,
    EngagementAmendmentIn,
    PlanAmendmentIn,
)
from openlfr.storage import models as m

#: The audit action that records an amendment.
AMENDED = "record.amended"


def amend_record(p: Platform, actor: Actor, deployment_id: int,
                 data: AmendmentIn) -> m.Amendment:
    """Amend a frozen record with a published reason (see the module's docstring)."""
    require(actor, Action.RECORD_AMEND)
    record = Record(data.record)
    params = p.settings.gate_parameters()
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        status = DeploymentStatus(d.status)
        require_amendable(status, record, d.first_authorised_at)
        before = evaluate_gates(build_dossier(s, d, now), params)
        if isinstance(data, PlanAmendmentIn):
            changes = _amend_plan(s, d, data)
        elif isinstance(data, AssessmentAmendmentIn):
            changes = _amend_assessment(s, d, data, now)
        else:
            changes = _amend_engagement(s, p, actor, d, data, now)
        if not changes:
            raise InvalidInput(data.record, f"the amendment changes nothing in the "
                               f"{record_words(record)}; an amendment must change something")
        s.flush()
        moved = gate_changes(before, evaluate_gates(build_dossier(s, d, now), params))
        widened = [c["field"] for c in changes if c.get(WIDENS_KEY)]
        restart = record is Record.PLAN and restarts_notice(status, widened)
        refused = running_change_refusal(status, record, [g.name for g in moved],
                                         widened_by(changes))
        if refused:
            raise Conflict(refused)
        after = status_after(status, record, bool(moved), bool(widened))
        details: dict[str, Any] = {}
        if restart:
            restarted = notice_restart_change(d.notice_published_at, now)
            details["notice_restarted"] = {"was": restarted["before"],
                                           "because": widened_by(changes)}
            changes.append(restarted)
            d.notice_published_at = now
        if after is DeploymentStatus.NOTICE_PUBLISHED and status is not after:
            details["withdrawn_authorisation"] = {
                k: v for k, v in d.gate_snapshots.items()
                if k in (Transition.AUTHORISE.value, Transition.ACTIVATE.value)}
            d.gate_snapshots = {k: v for k, v in d.gate_snapshots.items()
                                if k not in details["withdrawn_authorisation"]}
            d.status, d.authorised_at = after.value, None
        if restart:
            # As after a reschedule: what was asked for, or signed, for the plan as
            # noticed does not carry over to a wider one.
            overrides.lapse_in(s, d.id, "the plan was amended to go further than its notice "
                               "said: the notice period runs again, and the deployment must "
                               "be authorised on the amended plan", now)
        elif after is DeploymentStatus.NOTICE_PUBLISHED and status is not after:
            overrides.lapse_in(s, d.id, f"the {record_words(record)} was amended and a gate's "
                               "answer changed: the deployment must be authorised again", now)
        version = 1 + (s.scalar(select(func.max(m.Amendment.version)).where(
            m.Amendment.deployment_id == d.id, m.Amendment.record == record.value)) or 1)
        amendment = m.Amendment(
            deployment_id=d.id, record=record.value, version=version, reason=data.reason,
            changes=changes, gate_changes=[asdict(g) for g in moved],
            status_before=status.value, status_after=after.value, made_by=actor.audit_name,
            made_at=now)
        s.add(amendment)
        d.updated_at = now
        s.flush()
        append_event(s, actor=actor.audit_name, action=AMENDED, subject_type="deployment",
                     subject_id=d.id, details={
                         "amendment_id": amendment.id, "record": record.value,
                         "version": version, "reason": data.reason,
                         "fields": [c["field"] for c in changes],
                         "gate_changes": amendment.gate_changes, "from": status.value,
                         "to": after.value, **details}, now=now)
        # Every amendment is public and announced: the plan, and the assessment and
        # engagement log the decision rested on.
        notices.queue_deployment_notices(s, p.settings, d, notices.EmailKind.AMENDED, now,
                                         amendment=amendment)
        record_changed_after_completion(
            s, actor, d.id, f"{record_words(record)} amended (version {version})", now)
    p.live.notify(d.id)
    return amendment


def amendments_for(p: Platform, actor: Actor, deployment_id: int) -> list[m.Amendment]:
    """A deployment's amendments, oldest first (staff)."""
    require(actor, Action.DEPLOYMENT_READ)
    with p.sessions() as s:
        deployment_or_404(s, deployment_id)
        return amendments_in(s, deployment_id)


def amendments_in(s: Session, deployment_id: int) -> list[m.Amendment]:
    return list(s.scalars(select(m.Amendment).where(
        m.Amendment.deployment_id == deployment_id).order_by(m.Amendment.id)))


def plan_amendments(p: Platform, deployment_ids: list[int]) -> dict[int, list[m.Amendment]]:
    """Every plan amendment of each deployment, oldest first (the public feeds: the plan
    is public from notice on, and so is every change to it)."""
    found: dict[int, list[m.Amendment]] = {i: [] for i in deployment_ids}
    if not deployment_ids:
        return found
    with p.sessions() as s:
        for a in s.scalars(select(m.Amendment).where(
                m.Amendment.deployment_id.in_(deployment_ids),
                m.Amendment.record == Record.PLAN.value).order_by(m.Amendment.id)):
            found[a.deployment_id].append(a)
    return found


def _change(field: str, before: Any, after: Any) -> dict[str, Any]:
    return {"field": field, "before": before, "after": after}


def _amend_plan(s: Session, d: m.Deployment, data: PlanAmendmentIn) -> list[dict[str, Any]]:
    changes = []
    for field, value in data.changes.model_dump(exclude_unset=True).items():
        if value is None:
            raise InvalidInput(f"changes.{field}", "may not be null")
        if field == "technology_id" and s.get(m.Technology, value) is None:
            raise InvalidInput("changes.technology_id", f"technology register entry {value} "
                               "does not exist")
        old = getattr(d, field)
        if old != value:
            changes.append(_change(field, old, value))
            setattr(d, field, list(value) if isinstance(value, list) else value)
    was = {c["field"]: c["before"] for c in changes}
    new = {c["field"]: c["after"] for c in changes}
    for field in widens_notice(was, new):
        c = next(c for c in changes if c["field"] == field)
        c[WIDENS_KEY] = widening_words(field, c["before"], c["after"])
    return changes


def _amend_assessment(s: Session, d: m.Deployment, data: AssessmentAmendmentIn,
                      now: datetime) -> list[dict[str, Any]]:
    row = assessment_row(s, d.id)
    if row is None:
        raise Conflict("this deployment has no impact assessment to amend")
    changes = []
    for field, value in data.sections.model_dump().items():
        if getattr(row, field) != value:
            changes.append(_change(field, getattr(row, field), value))
            setattr(row, field, value)
    if changes:
        row.updated_at = now  # it stays published: the amendment is itself published
    return changes


def _event_facts(e: m.EngagementEvent) -> dict[str, Any]:
    """An event as its amendment publishes it (before and after), its evidence's public
    trace included: an event removed by amendment keeps, in the amendment, that it had a
    PDF, its first hash and any redaction with its reason."""
    return {"held_on": e.held_on.isoformat(), "format": e.format, "audience": e.audience,
            "met_with": e.met_with, "attendees": e.attendees, "materials": e.materials,
            "questions_raised": list(e.questions_raised), "evidence_url": e.evidence_url,
            "evidence_pdf": e.evidence_pdf is not None,
            "evidence_first_sha256": e.evidence_first_sha256,
            "evidence_redaction": e.evidence_redaction,
            "evidence_redaction_reason": e.evidence_redaction_reason,
            "evidence_redacted_sha256": e.evidence_redacted_sha256}


def _amend_engagement(s: Session, p: Platform, actor: Actor, d: m.Deployment,
                      data: EngagementAmendmentIn, now: datetime) -> list[dict[str, Any]]:
    if data.event is not None:
        check_event_date(p, d, data.event, now)
    if data.event_id is None:
        assert data.event is not None  # the input schema asks for one or the other
        added = add_event_in(s, actor, d, data.event, now)
        return [_change(f"event {added.id}", None, _event_facts(added))]
    e = event_of(s, d.id, data.event_id)
    old = _event_facts(e)
    if data.event is None:
        s.delete(e)
        return [_change(f"event {data.event_id}", old, None)]
    set_event(e, data.event)
    new = _event_facts(e)
    return [_change(f"event {e.id}", old, new)] if new != old else []
