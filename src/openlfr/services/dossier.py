"""Builds the governance domain's view of a deployment from storage."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session

from openlfr.governance.amendments import Record, notice_restarted
from openlfr.governance.areas import Gazetteer
from openlfr.governance.lifecycle import DeploymentStatus
from openlfr.governance.records import (
    AudienceCategory,
    CiaFacts,
    CollectiveObjectionFacts,
    ConsultationFacts,
    ConsultationStatus,
    CouncilMotionFacts,
    DeploymentDossier,
    DeploymentFacts,
    EngagementEventFacts,
    EngagementFormat,
    EquityAuditFacts,
    FeedbackFacts,
    FeedbackKind,
    MotionStance,
    WatchlistEntryFacts,
    WatchlistFacts,
)
from openlfr.services.technology import audited_rates, latest_audit_in
from openlfr.storage import models as m


def deployment_facts(d: m.Deployment) -> DeploymentFacts:
    return DeploymentFacts(
        reference=d.reference, status=DeploymentStatus(d.status), borough=d.borough,
        ward=d.ward, start_at=d.start_at, end_at=d.end_at, threshold=d.threshold,
        notice_published_at=d.notice_published_at, borough_code=d.borough_code,
        ward_code=d.ward_code)


def cia_facts(row: m.ImpactAssessment | None) -> CiaFacts | None:
    if row is None:
        return None
    return CiaFacts(area_profile=row.area_profile, risks=row.risks, mitigations=row.mitigations,
                    equality_impact=row.equality_impact, decision=row.decision,
                    published_at=row.published_at)


def engagement_facts(session: Session, deployment_id: int) -> tuple[EngagementEventFacts, ...]:
    rows = session.scalars(select(m.EngagementEvent).where(
        m.EngagementEvent.deployment_id == deployment_id).order_by(m.EngagementEvent.held_on))
    return tuple(EngagementEventFacts(held_on=r.held_on, audience=AudienceCategory(r.audience),
                                      attendees=r.attendees, format=EngagementFormat(r.format))
                 for r in rows)


def consultation_facts(session: Session, deployment_id: int) -> ConsultationFacts | None:
    row = session.scalar(select(m.Consultation).where(
        m.Consultation.deployment_id == deployment_id))
    if row is None:
        return None
    count = session.scalar(select(func.count()).select_from(m.ConsultationResponse).where(
        m.ConsultationResponse.consultation_id == row.id)) or 0
    return ConsultationFacts(status=ConsultationStatus(row.status), response_count=count,
                             closed_at=row.closed_at, opened_at=row.opened_at)


def feedback_fact(r: m.Feedback) -> FeedbackFacts:
    return FeedbackFacts(kind=FeedbackKind(r.kind), submitted_at=r.submitted_at,
                         answer_due_at=r.answer_due_at, answered_at=r.answered_at,
                         hidden_for_abuse=r.hidden_for_abuse)


def feedback_facts(session: Session, deployment_id: int) -> tuple[FeedbackFacts, ...]:
    rows = session.scalars(select(m.Feedback).where(m.Feedback.deployment_id == deployment_id))
    return tuple(feedback_fact(r) for r in rows)


def motion_fact(r: m.CouncilMotion) -> CouncilMotionFacts:
    return CouncilMotionFacts(body=r.body, passed_on=r.passed_on, stance=MotionStance(r.stance),
                              area_codes=tuple(r.area_codes),
                              response_published_at=r.response_published_at,
                              points=tuple(r.points), point_answers=tuple(r.point_answers),
                              response=r.response)


def motion_facts(session: Session) -> tuple[CouncilMotionFacts, ...]:
    rows = session.scalars(select(m.CouncilMotion).order_by(m.CouncilMotion.passed_on))
    return tuple(motion_fact(r) for r in rows)


def watchlist_facts(session: Session, deployment_id: int) -> WatchlistFacts | None:
    watchlist = session.scalar(select(m.Watchlist).where(
        m.Watchlist.deployment_id == deployment_id))
    if watchlist is None or watchlist.destroyed_at is not None:
        return None
    rows = session.execute(select(
        m.WatchlistEntry.category, m.WatchlistEntry.image_taken_on, m.WatchlistEntry.expires_on
    ).where(m.WatchlistEntry.watchlist_id == watchlist.id))
    entries = tuple(WatchlistEntryFacts(category=c, image_taken_on=t, expires_on=e)
                    for c, t, e in rows)
    return WatchlistFacts(entries=entries, built_at=watchlist.built_at,
                          descriptor_model=watchlist.descriptor_model,
                          reference_model=watchlist.reference_model)


def latest_equity_audit(session: Session, technology_id: int | None,
                        watchlist: WatchlistFacts | None = None) -> EquityAuditFacts | None:
    """The latest audit of the model the deployment's technology names, on any register
    entry of it, that decided as its ``watchlist`` decides where there is one; with no
    technology named, the latest of all (a deployment that does not say what it runs
    cannot escape the audit that exists)."""
    row = latest_audit_in(session, technology_id, watchlist)  # the register's join
    if row is None:
        return None
    rates = audited_rates(row)
    technology = session.get(m.Technology, row.technology_id)
    return EquityAuditFacts(conducted_on=row.conducted_on, fair_threshold=row.fair_threshold,
                            recommended_threshold=row.recommended_threshold,
                            identification=rates,
                            model=technology.model_version if technology else None,
                            second_opinion_model=row.second_opinion_model,
                            groups=tuple(sorted({g["group"] for g in row.group_results or ()})))


def build_dossier(session: Session, deployment: m.Deployment,
                  now: datetime | None = None) -> DeploymentDossier:
    """Everything the gates need about ``deployment``, read in the caller's transaction;
    ``now`` is the moment answer deadlines are judged against."""
    cia = session.scalar(select(m.ImpactAssessment).where(
        m.ImpactAssessment.deployment_id == deployment.id))
    watchlist = watchlist_facts(session, deployment.id)
    return DeploymentDossier(
        deployment=deployment_facts(deployment),
        cia=cia_facts(cia),
        engagement=engagement_facts(session, deployment.id),
        consultation=consultation_facts(session, deployment.id),
        feedback=feedback_facts(session, deployment.id),
        motions=motion_facts(session),
        watchlist=watchlist,
        latest_equity_audit=latest_equity_audit(session, deployment.technology_id, watchlist),
        as_of=now,
        collective_objections=collective_facts(session, deployment),
        plan_widened_at=plan_widened_at(session, deployment.id),
    )


def plan_widened_at(session: Session, deployment_id: int) -> datetime | None:
    """When the deployment's plan was last amended to go further than its notice said
    (the amendment restarted the notice), or None."""
    rows = session.execute(select(m.Amendment.made_at, m.Amendment.changes).where(
        m.Amendment.deployment_id == deployment_id, m.Amendment.record == Record.PLAN.value))
    return max((made for made, changes in rows if notice_restarted(changes)), default=None)


def collective_facts(session: Session,
                     deployment: m.Deployment) -> tuple[CollectiveObjectionFacts, ...]:
    """The collective objections that bind a deployment, with their confirmed signatures:
    those attached to it, and every other not yet heard that was filed in an area covering
    it (``Gazetteer.covers``: a ward's objection binds a deployment naming only its
    borough). Where it is attached does not free anyone: an objection attached to a decoy
    deployment, since cancelled, or to another in the same ward, binds this one until
    oversight has heard it."""
    unheard_nearby = m.CollectiveObjection.hearing_recorded_at.is_(None) & (
        # Every area covering it is its borough or in it (the rule itself is below).
        m.CollectiveObjection.area_code.startswith(deployment.borough_code, autoescape=True)
        if deployment.borough_code is not None else false())
    rows = session.execute(select(m.CollectiveObjection.id, m.CollectiveObjection.area_code,
                                  m.CollectiveObjection.deployment_id,
                                  m.CollectiveObjection.hearing_recorded_at).where(or_(
        m.CollectiveObjection.deployment_id == deployment.id, unheard_nearby)))
    facts = []
    for objection_id, area_code, attached_to, heard in rows:
        if attached_to != deployment.id and not Gazetteer.covers(
                area_code, deployment.borough_code, deployment.ward_code):
            continue
        signed = session.scalar(select(func.count()).select_from(m.CollectiveSignature).where(
            m.CollectiveSignature.objection_id == objection_id,
            m.CollectiveSignature.confirmed_at.is_not(None))) or 0
        facts.append(CollectiveObjectionFacts(signed, heard is not None))
    return tuple(facts)
