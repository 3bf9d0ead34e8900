"""Use cases for deployments: draft, edit, move through the lifecycle, report gates.

Authorise and activate run every gate. When one fails, the deployment stays where it is:
an authoriser may ask for an override with a written justification, which a member of
oversight then countersigns (``services.overrides``); only the countersignature moves
the deployment on. Gates that failed at authorisation and were overridden then do not
stop activation; a gate that fails anew needs its own two-person override.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from openlfr.audit import append_event
from openlfr.governance.areas import Area, UnknownArea
from openlfr.governance.errors import GatesFailed, InvalidInput, NotFound
from openlfr.governance.gates import GateReport, evaluate_gates
from openlfr.governance.lifecycle import (
    GATED_TRANSITIONS,
    PUBLIC_STATUSES,
    DeploymentStatus,
    Transition,
    is_published,
    next_status,
    require_editable,
    require_within_window,
)
from openlfr.governance.overrides import OverrideStatus, require_overridable, uncovered
from openlfr.services import collective, notices, overrides
from openlfr.services.common import deployment_or_404, get_or_404
from openlfr.services.dossier import build_dossier
from openlfr.services.gazetteer import gazetteer_for
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action, require, require_area
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


@dataclass(frozen=True)
class PlaceIn:
    """A deployment's area as the gazetteer names it."""

    borough: str
    borough_code: str
    ward: str | None
    ward_code: str | None


def resolve_place(p: Platform, borough: str, ward: str | None) -> PlaceIn:
    """The borough (and ward) typed, as gazetteer names and codes; free text that names no
    known area is refused (InvalidInput on the field) with the closest known names."""
    g = gazetteer_for(p.settings)
    try:
        b = g.borough(borough)
    except UnknownArea as exc:
        raise InvalidInput("borough", str(exc)) from None
    if not ward:
        return PlaceIn(b.name, b.code, None, None)
    try:
        w = g.ward(b, ward)
    except UnknownArea as exc:
        raise InvalidInput("ward", str(exc)) from None
    return PlaceIn(b.name, b.code, w.name, w.code)


def create_deployment(p: Platform, actor: Actor, data: DeploymentIn) -> m.Deployment:
    """Draft a new deployment; it stays private until notice is published."""
    require(actor, Action.DEPLOYMENT_DRAFT)
    place = resolve_place(p, data.borough, data.ward)
    now = p.clock()
    with p.sessions.begin() as s:
        _check_technology(s, data.technology_id)
        d = m.Deployment(
            reference="pending", title=data.title, borough=place.borough, ward=place.ward,
            borough_code=place.borough_code, ward_code=place.ward_code,
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
    return m.Site(name=site.name, lat=site.lat, lon=site.lon, street=site.street,
                  postcode=site.postcode)


def update_deployment(p: Platform, actor: Actor, deployment_id: int,
                      patch: DeploymentPatch) -> m.Deployment:
    """Change a deployment's plan; refused once notice is published (after that, the plan
    changes only by rescheduling or by a public amendment)."""
    require(actor, Action.DEPLOYMENT_EDIT)
    now = p.clock()
    changes = patch.model_dump(exclude_unset=True)
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        require_editable(DeploymentStatus(d.status))
        for field in ("title", "purpose", "intelligence_basis", "legal_basis",
                      "signage", "start_at", "end_at", "threshold", "camera_count"):
            if field in changes:
                if changes[field] is None:
                    raise InvalidInput(field, "may not be null")
                setattr(d, field, getattr(patch, field))
        if "borough" in changes or "ward" in changes:
            if changes.get("borough", d.borough) is None:
                raise InvalidInput("borough", "may not be null")
            place = resolve_place(p, patch.borough or d.borough,
                                  patch.ward if "ward" in changes else d.ward)
            d.borough, d.borough_code = place.borough, place.borough_code
            d.ward, d.ward_code, d.area_flag = place.ward, place.ward_code, None
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


def get_deployment(p: Platform, actor: Actor, deployment_id: int) -> m.Deployment:
    """One deployment, drafts included (staff)."""
    require(actor, Action.DEPLOYMENT_READ)
    with p.sessions() as s:
        return deployment_or_404(s, deployment_id)


def list_deployments(p: Platform, actor: Actor,
                     status: DeploymentStatus | None = None) -> list[m.Deployment]:
    """All deployments (staff view), newest start first."""
    require(actor, Action.DEPLOYMENT_READ)
    with p.sessions() as s:
        query = select(m.Deployment).order_by(m.Deployment.start_at.desc())
        if status is not None:
            query = query.where(m.Deployment.status == status.value)
        return list(s.scalars(query))


def public_deployments(p: Platform) -> list[m.Deployment]:
    """Deployments the public may see: notice published, and what followed."""
    with p.sessions() as s:
        return public_deployments_in(s)


def public_deployments_in(s: Session) -> list[m.Deployment]:
    """``public_deployments`` in the caller's session, newest start first."""
    return list(s.scalars(select(m.Deployment).where(
        m.Deployment.status.in_([x.value for x in PUBLIC_STATUSES])
        | m.Deployment.notice_published_at.is_not(None)
    ).order_by(m.Deployment.start_at.desc(), m.Deployment.id.desc())))


def public_deployment(p: Platform, reference: str) -> m.Deployment:
    """One deployment by reference, if the public may see it (else NotFound)."""
    with p.sessions() as s:
        return public_row_in(s, reference)


def public_row_in(s: Session, reference: str) -> m.Deployment:
    """``public_deployment`` in the caller's session."""
    d = s.scalar(select(m.Deployment).where(m.Deployment.reference == reference))
    if d is None or not is_published(DeploymentStatus(d.status), d.notice_published_at):
        raise NotFound(f"no published deployment with reference {reference!r}")
    return d


def gate_report(p: Platform, actor: Actor, deployment_id: int) -> GateReport:
    """Every gate's current verdict for a deployment (staff)."""
    require(actor, Action.DEPLOYMENT_READ)
    return current_gates(p, deployment_id)


def current_gates(p: Platform, deployment_id: int) -> GateReport:
    """Every gate's verdict now, for a use case that has checked its own power."""
    with p.sessions() as s:
        d = deployment_or_404(s, deployment_id)
        return evaluate_gates(build_dossier(s, d, p.clock()), p.settings.gate_parameters())


@dataclass(frozen=True)
class TransitionOutcome:
    """What a lifecycle action did: the deployment as it now stands, the gates it was
    checked against, and the override asked for, if gates failed and one was."""

    deployment: m.Deployment
    gates: GateReport | None
    override: m.GateOverride | None

    @property
    def awaiting_countersignature(self) -> bool:
        return (self.override is not None
                and self.override.status == OverrideStatus.AWAITING_COUNTERSIGNATURE.value)


_TIMESTAMP_FIELD = {
    Transition.PUBLISH_NOTICE: "notice_published_at",
    Transition.AUTHORISE: "authorised_at",
    Transition.ACTIVATE: "activated_at",
    Transition.COMPLETE: "completed_at",
    Transition.REVIEW: "reviewed_at",
    Transition.CANCEL: "cancelled_at",
}

#: The power each plain lifecycle action needs (rescheduling has its own use case).
TRANSITION_POWERS: dict[Transition, Action] = {
    Transition.PROPOSE: Action.DEPLOYMENT_PROPOSE,
    Transition.PUBLISH_NOTICE: Action.DEPLOYMENT_PUBLISH_NOTICE,
    Transition.AUTHORISE: Action.DEPLOYMENT_AUTHORISE,
    Transition.ACTIVATE: Action.DEPLOYMENT_ACTIVATE,
    Transition.COMPLETE: Action.DEPLOYMENT_COMPLETE,
    Transition.REVIEW: Action.DEPLOYMENT_REVIEW,
    Transition.CANCEL: Action.DEPLOYMENT_CANCEL,
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
    (GatesFailed) unless all pass, or the failing ones were overridden at authorisation
    (activation), or an authoriser asks for an override with a written justification: the
    override then awaits a countersignature and the deployment stays where it is."""
    if action not in TRANSITION_POWERS:  # e.g. reschedule: it needs dates and a reason
        raise InvalidInput("action", f"{action.value} is not a plain transition; use its own "
                           "use case (services.rescheduling for reschedule)")
    require(actor, TRANSITION_POWERS[action])
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        target = next_status(DeploymentStatus(d.status), action,
                             has_run=d.activated_at is not None)
        if action is Transition.ACTIVATE:
            require_within_window(d.start_at, d.end_at, now)
        report: GateReport | None = None
        if action in GATED_TRANSITIONS:
            report = evaluate_gates(build_dossier(s, d, now), p.settings.gate_parameters())
            covered = overrides.covered_gates(s, d.id) if action is Transition.ACTIVATE else set()
            if uncovered(report.failing, covered):
                if override_justification is None or not override_justification.strip():
                    raise GatesFailed(action.value, report.failing)
                require(actor, Action.OVERRIDE_REQUEST)
                require_overridable(action.value, report.failing)
                asked = overrides.request_in(s, p, actor, d, action, report, override_justification,
                                             now)
                return TransitionOutcome(d, report, asked)
        apply_transition(s, p, actor, d, action, target, report, now, note=note)
    p.live.notify(d.id)  # operator consoles show the new status
    return TransitionOutcome(d, report, None)


def apply_transition(s: Session, p: Platform, actor: Actor, d: m.Deployment, action: Transition,
                     target: DeploymentStatus, report: GateReport | None, now: datetime, *,
                     note: str | None = None, override: m.GateOverride | None = None) -> None:
    """Move ``d`` to ``target`` in the caller's transaction, with everything that goes with
    it: the gate snapshot, the timestamp, the audit event, the e-mails to the area's
    subscribers, the watchlist's destruction and the review. The caller has checked the
    power, the lifecycle, the window and the gates (or the countersigned ``override``)."""
    previous = DeploymentStatus(d.status)
    if report is not None:
        # A new dict, not an in-place change, so the JSON column is seen as modified.
        d.gate_snapshots = {**d.gate_snapshots, action.value: {
            "at": now.isoformat(),
            "results": [{"name": g.name, "passed": g.passed, "reason": g.reason}
                        for g in report.results],
            "overridden": sorted(overrides.covered_gates(s, d.id) & {
                g.name for g in report.failing})}}
    setattr(d, _TIMESTAMP_FIELD.get(action, "updated_at"), now)
    if action is Transition.AUTHORISE and d.first_authorised_at is None:
        d.first_authorised_at = now  # never cleared: the record stays frozen (is_frozen)
    if action is Transition.CANCEL:
        d.cancel_reason = note
        overrides.lapse_in(s, d.id, "the deployment was cancelled", now)
    if action is Transition.REVIEW:
        d.review_summary = note
    d.status = target.value
    d.updated_at = now
    details: dict[str, object] = {"from": previous.value, "to": target.value}
    if report is not None:
        details["failing_gates"] = [g.name for g in report.failing]
    if override is not None:
        details["override_id"] = override.id
    elif report is not None and report.failing:
        details["covered_by_override"] = True
    append_event(s, actor=actor.audit_name, action=f"deployment.{action.value}",
                 subject_type="deployment", subject_id=d.id, details=details, now=now)
    if action in GATED_TRANSITIONS and override is None:
        # An override asked for this step and not countersigned is no longer needed.
        overrides.lapse_in(s, d.id, f"the deployment was {action.value}d without it", now,
                           awaiting_only=True)
    # Subscribers to the area are told in the same transaction (the e-mail outbox).
    notices.announce_transition(s, p.settings, d, action, now)
    if action in (Transition.PROPOSE, Transition.PUBLISH_NOTICE):
        # Standing objections in the area attach to the next deployment proposed there.
        collective.attach_standing(s, d, now)
    if action in (Transition.COMPLETE, Transition.CANCEL):
        # The watchlist exists for one deployment and goes with it.
        destroy_watchlist_in(s, actor, d.id, now)
    if action is Transition.COMPLETE:
        generate_review_in(s, actor, d, "deployment completed", now)
    elif action is Transition.REVIEW:
        generate_review_in(s, actor, d, "oversight review recorded", now)


def overrides_for(p: Platform, actor: Actor, deployment_id: int) -> list[m.GateOverride]:
    """Every override of a deployment, those awaiting a countersignature included (staff)."""
    require(actor, Action.DEPLOYMENT_READ)
    with p.sessions() as s:
        deployment_or_404(s, deployment_id)
        return list(s.scalars(select(m.GateOverride).where(
            m.GateOverride.deployment_id == deployment_id).order_by(m.GateOverride.id)))


def add_comment(p: Platform, actor: Actor, deployment_id: int,
                data: CommentIn) -> m.OversightComment:
    """Record a formal oversight comment on a deployment (published). A councillor may
    comment on deployments in their areas."""
    require(actor, Action.COMMENT_RECORD)
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id)
        require_area(actor, deployment_places(p, d), "commenting on this deployment")
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


def comments_for(p: Platform, actor: Actor, deployment_id: int) -> list[m.OversightComment]:
    require(actor, Action.DEPLOYMENT_READ)
    with p.sessions() as s:
        get_or_404(s, m.Deployment, deployment_id, "deployment")
        return list(s.scalars(select(m.OversightComment).where(
            m.OversightComment.deployment_id == deployment_id).order_by(m.OversightComment.id)))


def deployment_places(p: Platform, d: m.Deployment) -> list[Area]:
    """The gazetteer's area of a deployment (its ward, else its borough), for checks of a
    councillor's areas; empty for a legacy area that matched no gazetteer name."""
    g = gazetteer_for(p.settings)
    found = g.get(d.ward_code) or g.get(d.borough_code)
    return [found] if found is not None else []
