"""Use cases for deployments: draft, edit, move through the lifecycle, report gates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from openlfr.audit import append_event
from openlfr.governance.errors import GatesFailed, InvalidInput, NotFound
from openlfr.governance.gates import GateReport, GateResult, evaluate_gates
from openlfr.governance.lifecycle import (
    GATED_TRANSITIONS,
    PUBLIC_STATUSES,
    DeploymentStatus,
    Transition,
    next_status,
    require_editable,
    require_within_window,
)
from openlfr.services import notices
from openlfr.services.common import deployment_or_404, get_or_404
from openlfr.services.dossier import build_dossier
from openlfr.services.platform import Actor, Platform, Role
from openlfr.services.reports import generate_review_in, record_changed_after_completion
from openlfr.services.schemas import (
    CommentIn,
    DeploymentIn,
    DeploymentPatch,
    SiteIn,
    check_deployment_window,
)
from openlfr.services.watchlists import destroy_watchlist_in
from openlfr.storage import models as m


def _reference(deployment: m.Deployment) -> str:
    return f"LFR-{deployment.start_at.year}-{deployment.id:04d}"


def _check_technology(session: Session, technology_id: int | None) -> None:
    if technology_id is not None and session.get(m.Technology, technology_id) is None:
        raise InvalidInput("technology_id", f"technology register entry {technology_id} does "
                           "not exist; register the engine setup first")


def create_deployment(p: Platform, actor: Actor, data: DeploymentIn) -> m.Deployment:
    """Draft a new deployment; it stays private until notice is published."""
    now = p.clock()
    with p.sessions.begin() as s:
        _check_technology(s, data.technology_id)
        d = m.Deployment(
            reference="pending", title=data.title, borough=data.borough, ward=data.ward,
            purpose=data.purpose, offence_categories=list(data.offence_categories),
            intelligence_basis=data.intelligence_basis, legal_basis=data.legal_basis,
            threshold=data.threshold, camera_count=data.camera_count, signage=data.signage,
            start_at=data.start_at, end_at=data.end_at, status=DeploymentStatus.DRAFT.value,
            technology_id=data.technology_id, created_by=actor.audit_name, created_at=now,
            updated_at=now, gate_snapshots={}, sites=[_site(x) for x in data.sites])
        s.add(d)
        s.flush()  # the reference is built from the id
        d.reference = _reference(d)
        append_event(s, actor=actor.audit_name, action="deployment.created",
                     subject_type="deployment", subject_id=d.id,
                     details={"reference": d.reference, "status": d.status}, now=now)
    return d


def _site(site: SiteIn) -> m.Site:
    return m.Site(name=site.name, lat=site.lat, lon=site.lon)


def update_deployment(p: Platform, actor: Actor, deployment_id: int,
                      patch: DeploymentPatch) -> m.Deployment:
    """Change a deployment's plan; refused once notice is published."""
    now = p.clock()
    changes = patch.model_dump(exclude_unset=True)
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        require_editable(DeploymentStatus(d.status))
        for field in ("title", "borough", "purpose", "intelligence_basis", "legal_basis",
                      "signage", "start_at", "end_at", "threshold", "camera_count"):
            if field in changes:
                if changes[field] is None:
                    raise InvalidInput(field, "may not be null")
                setattr(d, field, getattr(patch, field))
        if "ward" in changes:
            d.ward = patch.ward
        if "offence_categories" in changes:
            if patch.offence_categories is None:
                raise InvalidInput("offence_categories", "may not be null")
            d.offence_categories = list(patch.offence_categories)
        if "technology_id" in changes:
            _check_technology(s, patch.technology_id)
            d.technology_id = patch.technology_id
        if "sites" in changes:
            if patch.sites is None:
                raise InvalidInput("sites", "may not be null")
            d.sites = [_site(x) for x in patch.sites]
        try:
            check_deployment_window(d.start_at, d.end_at)
        except ValueError as exc:
            raise InvalidInput("end_at", str(exc)) from None
        d.updated_at = now
        append_event(s, actor=actor.audit_name, action="deployment.updated",
                     subject_type="deployment", subject_id=d.id,
                     details={"fields": sorted(changes)}, now=now)
    return d


def get_deployment(p: Platform, deployment_id: int) -> m.Deployment:
    with p.sessions() as s:
        return deployment_or_404(s, deployment_id)


def list_deployments(p: Platform, status: DeploymentStatus | None = None) -> list[m.Deployment]:
    """All deployments (staff view), newest start first."""
    with p.sessions() as s:
        query = select(m.Deployment).order_by(m.Deployment.start_at.desc())
        if status is not None:
            query = query.where(m.Deployment.status == status.value)
        return list(s.scalars(query))


def public_deployments(p: Platform) -> list[m.Deployment]:
    """Deployments the public may see: notice published, and what followed."""
    with p.sessions() as s:
        return list(s.scalars(select(m.Deployment).where(
            m.Deployment.status.in_([x.value for x in PUBLIC_STATUSES])
            | m.Deployment.notice_published_at.is_not(None)
        ).order_by(m.Deployment.start_at.desc())))


def public_deployment(p: Platform, reference: str) -> m.Deployment:
    """One deployment by reference, if the public may see it (else NotFound)."""
    with p.sessions() as s:
        d = s.scalar(select(m.Deployment).where(m.Deployment.reference == reference))
        if d is None or (d.status not in PUBLIC_STATUSES and d.notice_published_at is None):
            raise NotFound(f"no published deployment with reference {reference!r}")
        return d


def gate_report(p: Platform, deployment_id: int) -> GateReport:
    """Every gate's current verdict for a deployment."""
    with p.sessions() as s:
        d = deployment_or_404(s, deployment_id)
        return evaluate_gates(build_dossier(s, d), p.settings.gate_parameters())


@dataclass(frozen=True)
class TransitionOutcome:
    deployment: m.Deployment
    gates: GateReport | None
    override: m.GateOverride | None


_TIMESTAMP_FIELD = {
    Transition.PUBLISH_NOTICE: "notice_published_at",
    Transition.AUTHORISE: "authorised_at",
    Transition.ACTIVATE: "activated_at",
    Transition.COMPLETE: "completed_at",
    Transition.REVIEW: "reviewed_at",
    Transition.CANCEL: "cancelled_at",
}

#: Who may take each action.
TRANSITION_ROLES: dict[Transition, tuple[Role, ...]] = {
    Transition.PROPOSE: (Role.PLANNER,),
    Transition.PUBLISH_NOTICE: (Role.PLANNER, Role.AUTHORISER),
    Transition.AUTHORISE: (Role.AUTHORISER,),
    Transition.ACTIVATE: (Role.OPERATOR, Role.AUTHORISER),
    Transition.COMPLETE: (Role.OPERATOR, Role.AUTHORISER),
    Transition.REVIEW: (Role.OVERSIGHT, Role.AUTHORISER),
    Transition.CANCEL: (Role.PLANNER, Role.AUTHORISER),
}


def transition_deployment(
    p: Platform,
    actor: Actor,
    deployment_id: int,
    action: Transition,
    *,
    override_justification: str | None = None,
    note: str | None = None,
) -> TransitionOutcome:
    """Move a deployment on by ``action``. Authorise and activate run every gate and refuse
    (GatesFailed) unless all pass or an authoriser records a written justification to
    override them; the override is stored and published with the deployment."""
    if action not in TRANSITION_ROLES:  # e.g. reschedule: it needs dates and a reason
        raise InvalidInput("action", f"{action.value} is not a plain transition; use its own "
                           "use case (services.rescheduling for reschedule)")
    actor.require(*TRANSITION_ROLES[action], doing=action.value)
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        previous = DeploymentStatus(d.status)
        target = next_status(previous, action)
        if action is Transition.ACTIVATE:
            require_within_window(d.start_at, d.end_at, now)
        report: GateReport | None = None
        override: m.GateOverride | None = None
        if action in GATED_TRANSITIONS:
            report = evaluate_gates(build_dossier(s, d), p.settings.gate_parameters())
            if not report.all_passed:
                override = _override(p, actor, d, action, report.failing,
                                      override_justification, now)
                s.add(override)
            # A new dict, not an in-place change, so the JSON column is seen as modified.
            d.gate_snapshots = {**d.gate_snapshots, action.value: {
                "at": now.isoformat(),
                "results": [{"name": g.name, "passed": g.passed, "reason": g.reason}
                            for g in report.results]}}
        setattr(d, _TIMESTAMP_FIELD.get(action, "updated_at"), now)
        if action is Transition.CANCEL:
            d.cancel_reason = note
        if action is Transition.REVIEW:
            d.review_summary = note
        d.status = target.value
        d.updated_at = now
        details: dict[str, object] = {"from": previous.value, "to": target.value}
        if report is not None:
            details["failing_gates"] = [g.name for g in report.failing]
        if override is not None:
            details["override"] = True
        append_event(s, actor=actor.audit_name, action=f"deployment.{action.value}",
                     subject_type="deployment", subject_id=d.id, details=details, now=now)
        # Subscribers to the area are told in the same transaction (the e-mail outbox).
        notices.announce_transition(s, p.settings, d, action, now)
        if action in (Transition.COMPLETE, Transition.CANCEL):
            # The watchlist exists for one deployment and goes with it.
            destroy_watchlist_in(s, actor, d.id, now)
        if action is Transition.COMPLETE:
            generate_review_in(s, actor, d, "deployment completed", now)
        elif action is Transition.REVIEW:
            generate_review_in(s, actor, d, "oversight review recorded", now)
    p.live.notify(d.id)  # operator consoles show the new status
    return TransitionOutcome(d, report, override)


def _override(p: Platform, actor: Actor, d: m.Deployment, action: Transition,
              failing: list[GateResult], justification: str | None,
              now: datetime) -> m.GateOverride:
    if justification is None or not justification.strip():
        raise GatesFailed(action.value, failing)
    actor.require(Role.AUTHORISER, doing="overriding failing gates")
    minimum = p.settings.override_min_justification_chars
    if len(justification.strip()) < minimum:
        raise InvalidInput("override_justification",
                           f"a justification must be at least {minimum} characters; say why "
                           "going ahead despite the failing gates is necessary and "
                           "proportionate")
    return m.GateOverride(
        deployment_id=d.id, transition=action.value,
        failing_gates=[{"name": g.name, "reason": g.reason} for g in failing],
        justification=justification.strip(), recorded_by=actor.audit_name, recorded_at=now)


def overrides_for(p: Platform, deployment_id: int) -> list[m.GateOverride]:
    with p.sessions() as s:
        return list(s.scalars(select(m.GateOverride).where(
            m.GateOverride.deployment_id == deployment_id).order_by(m.GateOverride.id)))


def add_comment(p: Platform, actor: Actor, deployment_id: int,
                data: CommentIn) -> m.OversightComment:
    """Record a formal oversight comment on a deployment (published)."""
    now = p.clock()
    with p.sessions.begin() as s:
        deployment_or_404(s, deployment_id)
        c = m.OversightComment(deployment_id=deployment_id, author=actor.audit_name,
                               body=data.body, created_at=now)
        s.add(c)
        s.flush()
        append_event(s, actor=actor.audit_name, action="comment.recorded",
                     subject_type="deployment", subject_id=deployment_id,
                     details={"comment_id": c.id}, now=now)
        record_changed_after_completion(s, actor, deployment_id,
                                        "oversight comment recorded", now)
    return c


def comments_for(p: Platform, deployment_id: int) -> list[m.OversightComment]:
    with p.sessions() as s:
        get_or_404(s, m.Deployment, deployment_id, "deployment")
        return list(s.scalars(select(m.OversightComment).where(
            m.OversightComment.deployment_id == deployment_id).order_by(m.OversightComment.id)))
