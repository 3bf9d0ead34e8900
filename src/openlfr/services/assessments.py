"""Use cases for the community impact assessment and the engagement log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from openlfr.audit import append_event
from openlfr.governance.cia import (
    CiaFinding,
    completeness_findings,
    derive_consultation_findings,
    derive_engagement_summary,
)
from openlfr.governance.errors import Conflict, NotFound
from openlfr.services.common import deployment_or_404
from openlfr.services.dossier import (
    cia_facts,
    consultation_facts,
    engagement_facts,
    feedback_facts,
)
from openlfr.services.platform import Actor, Platform
from openlfr.services.schemas import EngagementEventIn, ImpactAssessmentIn
from openlfr.storage import models as m


@dataclass(frozen=True)
class AssessmentView:
    """The assessment with its derived sections and completeness findings."""

    deployment_id: int
    sections: dict[str, str]
    engagement_summary: str
    consultation_findings: str
    findings: list[CiaFinding]
    published_at: datetime | None
    updated_at: datetime | None

    @property
    def complete(self) -> bool:
        return not self.findings


def view_assessment(p: Platform, deployment_id: int) -> AssessmentView:
    """The assessment as it reads now, derived sections written from the records."""
    with p.sessions() as s:
        deployment_or_404(s, deployment_id)
        row = s.scalar(select(m.ImpactAssessment).where(
            m.ImpactAssessment.deployment_id == deployment_id))
        events = list(engagement_facts(s, deployment_id))
        consultation = consultation_facts(s, deployment_id)
        feedback = list(feedback_facts(s, deployment_id))
        sections = {k: getattr(row, k) if row else "" for k in
                    ("area_profile", "risks", "mitigations", "equality_impact", "decision")}
        return AssessmentView(
            deployment_id=deployment_id, sections=sections,
            engagement_summary=derive_engagement_summary(events),
            consultation_findings=derive_consultation_findings(consultation, feedback),
            findings=completeness_findings(cia_facts(row), events, consultation),
            published_at=row.published_at if row else None,
            updated_at=row.updated_at if row else None)


def save_assessment(p: Platform, actor: Actor, deployment_id: int,
                    data: ImpactAssessmentIn) -> AssessmentView:
    """Write the typed sections. Any change un-publishes the assessment: what the public
    read must be what was checked."""
    now = p.clock()
    with p.sessions.begin() as s:
        deployment_or_404(s, deployment_id, lock=True)
        row = s.scalar(select(m.ImpactAssessment).where(
            m.ImpactAssessment.deployment_id == deployment_id))
        if row is None:
            row = m.ImpactAssessment(deployment_id=deployment_id, updated_at=now)
            s.add(row)
        for key, value in data.model_dump().items():
            setattr(row, key, value)
        row.published_at = None
        row.updated_at = now
        s.flush()
        append_event(s, actor=actor.audit_name, action="assessment.saved",
                     subject_type="deployment", subject_id=deployment_id,
                     details={"assessment_id": row.id}, now=now)
    return view_assessment(p, deployment_id)


def publish_assessment(p: Platform, actor: Actor, deployment_id: int) -> AssessmentView:
    """Publish the assessment; refused while the completeness check finds problems."""
    now = p.clock()
    with p.sessions.begin() as s:
        deployment_or_404(s, deployment_id, lock=True)
        row = s.scalar(select(m.ImpactAssessment).where(
            m.ImpactAssessment.deployment_id == deployment_id))
        if row is None:
            raise NotFound("no impact assessment has been written for this deployment")
        findings = completeness_findings(cia_facts(row), list(engagement_facts(s, deployment_id)),
                                         consultation_facts(s, deployment_id))
        if findings:
            raise Conflict("the assessment is incomplete: " + "; ".join(
                f"{f.section}: {f.problem}" for f in findings))
        row.published_at = now
        append_event(s, actor=actor.audit_name, action="assessment.published",
                     subject_type="deployment", subject_id=deployment_id,
                     details={"assessment_id": row.id}, now=now)
    return view_assessment(p, deployment_id)


def add_engagement_event(p: Platform, actor: Actor, deployment_id: int,
                         data: EngagementEventIn) -> m.EngagementEvent:
    """Log an engagement event (who was reached, how many, what they asked)."""
    now = p.clock()
    with p.sessions.begin() as s:
        deployment_or_404(s, deployment_id)
        e = m.EngagementEvent(deployment_id=deployment_id, held_on=data.held_on,
                              format=data.format.value, audience=data.audience.value,
                              attendees=data.attendees, materials=data.materials,
                              questions_raised=list(data.questions_raised), created_at=now)
        s.add(e)
        s.flush()
        append_event(s, actor=actor.audit_name, action="engagement.recorded",
                     subject_type="deployment", subject_id=deployment_id,
                     details={"event_id": e.id, "audience": e.audience,
                              "attendees": e.attendees}, now=now)
    return e


def replace_engagement_event(p: Platform, actor: Actor, deployment_id: int, event_id: int,
                             data: EngagementEventIn) -> m.EngagementEvent:
    """Correct a logged event (the audit log keeps that it was changed)."""
    now = p.clock()
    with p.sessions.begin() as s:
        e = s.get(m.EngagementEvent, event_id)
        if e is None or e.deployment_id != deployment_id:
            raise NotFound(f"engagement event {event_id} is not on deployment {deployment_id}")
        e.held_on, e.format, e.audience = data.held_on, data.format.value, data.audience.value
        e.attendees, e.materials = data.attendees, data.materials
        e.questions_raised = list(data.questions_raised)
        append_event(s, actor=actor.audit_name, action="engagement.corrected",
                     subject_type="deployment", subject_id=deployment_id,
                     details={"event_id": e.id, "audience": e.audience,
                              "attendees": e.attendees}, now=now)
    return e


def list_engagement_events(p: Platform, deployment_id: int) -> list[m.EngagementEvent]:
    with p.sessions() as s:
        deployment_or_404(s, deployment_id)
        return list(s.scalars(select(m.EngagementEvent).where(
            m.EngagementEvent.deployment_id == deployment_id).order_by(
            m.EngagementEvent.held_on, m.EngagementEvent.id)))


def delete_engagement_event(p: Platform, actor: Actor, deployment_id: int,
                            event_id: int) -> None:
    """Remove an event logged in error (the deletion itself is audited)."""
    now = p.clock()
    with p.sessions.begin() as s:
        e = s.get(m.EngagementEvent, event_id)
        if e is None or e.deployment_id != deployment_id:
            raise NotFound(f"engagement event {event_id} is not on deployment {deployment_id}")
        s.delete(e)
        append_event(s, actor=actor.audit_name, action="engagement.deleted",
                     subject_type="deployment", subject_id=deployment_id,
                     details={"event_id": event_id}, now=now)
