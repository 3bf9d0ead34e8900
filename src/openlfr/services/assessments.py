"""Use cases for the community impact assessment and the engagement log.

Both freeze when the deployment is authorised: after that they change only by a public
amendment (``services.amendments``). An engagement event must be dated between the
deployment's first draft (less ``engagement_window_days``) and its authorisation, never
in the future; it names the body or group met and may carry evidence (a link, or a PDF
uploaded here), which is published.

One thing changes at any status without an amendment: the PDF evidence, for the privacy of
the people in it (a residents' sign-in sheet). A planner may replace it by a redacted copy
once, and remove it, then or later, each with a published reason (``redact_evidence``);
nothing else of the event changes, so neither do the gates."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from openlfr.audit import append_event
from openlfr.governance.amendments import (
    Record,
    already_redacted,
    engagement_date_problem,
    require_open,
)
from openlfr.governance.answers import MIN_ANSWER_CHARS, says_something
from openlfr.governance.cia import (
    TYPED_SECTIONS,
    CiaFinding,
    completeness_findings,
    derive_consultation_findings,
    derive_engagement_summary,
)
from openlfr.governance.errors import Conflict, InvalidInput, NotFound
from openlfr.governance.lifecycle import DeploymentStatus
from openlfr.services.common import deployment_or_404
from openlfr.services.dossier import (
    cia_facts,
    consultation_facts,
    engagement_facts,
    feedback_facts,
)
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action, require
from openlfr.services.schemas import EngagementEventIn, ImpactAssessmentIn, Reason
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


def view_assessment(p: Platform, actor: Actor, deployment_id: int) -> AssessmentView:
    """The assessment as it reads now, drafts included (staff)."""
    require(actor, Action.ASSESSMENT_READ)
    with p.sessions() as s:
        deployment_or_404(s, deployment_id)
        return assessment_view_in(s, deployment_id)


def assessment_view_in(s: Session, deployment_id: int) -> AssessmentView:
    """The assessment with the derived sections written from the records, read in the
    caller's session (the public read model shows it once published)."""
    row = assessment_row(s, deployment_id)
    events = list(engagement_facts(s, deployment_id))
    consultation = consultation_facts(s, deployment_id)
    feedback = list(feedback_facts(s, deployment_id))
    sections = {k: getattr(row, k) if row else "" for k in TYPED_SECTIONS}
    return AssessmentView(
        deployment_id=deployment_id, sections=sections,
        engagement_summary=derive_engagement_summary(events),
        consultation_findings=derive_consultation_findings(consultation, feedback),
        findings=completeness_findings(cia_facts(row), events, consultation),
        published_at=row.published_at if row else None,
        updated_at=row.updated_at if row else None)


def assessment_row(s: Session, deployment_id: int) -> m.ImpactAssessment | None:
    return s.scalar(select(m.ImpactAssessment).where(
        m.ImpactAssessment.deployment_id == deployment_id))


def save_assessment(p: Platform, actor: Actor, deployment_id: int,
                    data: ImpactAssessmentIn) -> AssessmentView:
    """Write the typed sections. Any change un-publishes the assessment: what the public
    read must be what was checked. Refused once the deployment is authorised (then: an
    amendment)."""
    require(actor, Action.ASSESSMENT_WRITE)
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        require_open(DeploymentStatus(d.status), Record.ASSESSMENT, d.authorised_at,
                     d.first_authorised_at)
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
        return assessment_view_in(s, deployment_id)


def publish_assessment(p: Platform, actor: Actor, deployment_id: int) -> AssessmentView:
    """Publish the assessment; refused while the completeness check finds problems."""
    require(actor, Action.ASSESSMENT_PUBLISH)
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        require_open(DeploymentStatus(d.status), Record.ASSESSMENT, d.authorised_at,
                     d.first_authorised_at)
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
        return assessment_view_in(s, deployment_id)


@dataclass(frozen=True)
class Evidence:
    """A PDF uploaded as evidence of an engagement event (published)."""

    filename: str
    content: bytes


def add_engagement_event(p: Platform, actor: Actor, deployment_id: int,
                         data: EngagementEventIn,
                         evidence: Evidence | None = None) -> m.EngagementEvent:
    """Log an engagement event (who was met, how many, what they asked), with the PDF
    evidence of it if one is given."""
    require(actor, Action.ENGAGEMENT_WRITE)
    if evidence is not None:
        check_pdf(p, evidence)
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        # The date first: a claim dated after the decision is refused as such (422).
        check_event_date(p, d, data, now)
        require_open(DeploymentStatus(d.status), Record.ENGAGEMENT, d.authorised_at,
                     d.first_authorised_at)
        e = add_event_in(s, actor, d, data, now)
        if evidence is not None:
            publish_pdf(e, evidence)
    return e


def add_event_in(s: Session, actor: Actor, d: m.Deployment, data: EngagementEventIn,
                 now: datetime) -> m.EngagementEvent:
    """Add an event in the caller's transaction (the caller has checked its date)."""
    e = m.EngagementEvent(deployment_id=d.id, created_at=now, questions_raised=[])
    set_event(e, data)
    s.add(e)
    s.flush()
    append_event(s, actor=actor.audit_name, action="engagement.recorded",
                 subject_type="deployment", subject_id=d.id,
                 details={"event_id": e.id, "audience": e.audience,
                          "attendees": e.attendees}, now=now)
    return e


def check_event_date(p: Platform, d: m.Deployment, data: EngagementEventIn,
                     now: datetime) -> None:
    """Refuse (422 on held_on) a date outside the window governance allows."""
    problem = engagement_date_problem(data.held_on, d.created_at, d.authorised_at, now,
                                      p.settings.engagement_window_days)
    if problem is not None:
        raise InvalidInput("held_on", problem)


def set_event(e: m.EngagementEvent, data: EngagementEventIn) -> None:
    e.held_on, e.format, e.audience = data.held_on, data.format.value, data.audience.value
    e.met_with, e.attendees, e.materials = data.met_with, data.attendees, data.materials
    e.questions_raised = list(data.questions_raised)
    e.evidence_url = data.evidence_url


def event_of(s: Session, deployment_id: int, event_id: int) -> m.EngagementEvent:
    e = s.get(m.EngagementEvent, event_id)
    if e is None or e.deployment_id != deployment_id:
        raise NotFound(f"engagement event {event_id} is not on deployment {deployment_id}")
    return e


def replace_engagement_event(p: Platform, actor: Actor, deployment_id: int, event_id: int,
                             data: EngagementEventIn) -> m.EngagementEvent:
    """Correct a logged event (the audit log keeps that it was changed)."""
    require(actor, Action.ENGAGEMENT_WRITE)
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        check_event_date(p, d, data, now)
        require_open(DeploymentStatus(d.status), Record.ENGAGEMENT, d.authorised_at,
                     d.first_authorised_at)
        e = event_of(s, deployment_id, event_id)
        set_event(e, data)
        append_event(s, actor=actor.audit_name, action="engagement.corrected",
                     subject_type="deployment", subject_id=deployment_id,
                     details={"event_id": e.id, "audience": e.audience,
                              "attendees": e.attendees}, now=now)
    return e


def list_engagement_events(p: Platform, actor: Actor,
                           deployment_id: int) -> list[m.EngagementEvent]:
    """The engagement log (staff)."""
    require(actor, Action.ENGAGEMENT_READ)
    with p.sessions() as s:
        deployment_or_404(s, deployment_id)
        return engagement_events_in(s, deployment_id)


def engagement_events_in(s: Session, deployment_id: int) -> list[m.EngagementEvent]:
    return list(s.scalars(select(m.EngagementEvent).where(
        m.EngagementEvent.deployment_id == deployment_id).order_by(
        m.EngagementEvent.held_on, m.EngagementEvent.id)))


def delete_engagement_event(p: Platform, actor: Actor, deployment_id: int,
                            event_id: int) -> None:
    """Remove an event logged in error (the deletion itself is audited)."""
    require(actor, Action.ENGAGEMENT_WRITE)
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        require_open(DeploymentStatus(d.status), Record.ENGAGEMENT, d.authorised_at,
                     d.first_authorised_at)
        s.delete(event_of(s, deployment_id, event_id))
        append_event(s, actor=actor.audit_name, action="engagement.deleted",
                     subject_type="deployment", subject_id=deployment_id,
                     details={"event_id": event_id}, now=now)


#: What every PDF file starts with.
PDF_MAGIC = b"%PDF-"


def check_pdf(p: Platform, evidence: Evidence) -> None:
    """Refuse anything that is not a PDF, or is larger than
    ``engagement_evidence_max_bytes``."""
    limit = p.settings.engagement_evidence_max_bytes
    if not evidence.content.startswith(PDF_MAGIC):
        raise InvalidInput("evidence", f"{evidence.filename}: not a PDF; upload the minutes "
                           "or sign-in sheet as a PDF, or give a link in evidence_url")
    if len(evidence.content) > limit:
        raise InvalidInput("evidence", f"{evidence.filename}: {len(evidence.content)} bytes; "
                           f"at most {limit} are accepted")


def attach_evidence(p: Platform, actor: Actor, deployment_id: int, event_id: int,
                    evidence: Evidence) -> m.EngagementEvent:
    """Attach a PDF (minutes, a sign-in sheet) to an event as its published evidence,
    replacing any earlier one, and any redaction or removal of it: the new PDF is a plain
    upload, published as first uploaded. Refused once the log is frozen (then the PDF may
    only be redacted once, or removed: ``redact_evidence``), and for anything that is not a
    PDF or is too large."""
    require(actor, Action.ENGAGEMENT_WRITE)
    check_pdf(p, evidence)
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        require_open(DeploymentStatus(d.status), Record.ENGAGEMENT, d.authorised_at,
                     d.first_authorised_at)
        e = event_of(s, deployment_id, event_id)
        replaced = e.evidence_redaction
        publish_pdf(e, evidence)
        append_event(s, actor=actor.audit_name, action="engagement.evidence_attached",
                     subject_type="deployment", subject_id=deployment_id,
                     details={"event_id": e.id, "bytes": len(evidence.content),
                              "sha256": e.evidence_first_sha256,
                              "replaces_evidence": replaced}, now=now)
    return e


def publish_pdf(e: m.EngagementEvent, evidence: Evidence) -> None:
    """Publish ``evidence`` as the event's PDF, a plain upload (before the log froze): its
    hash is the one first published, and a redaction or removal of an earlier PDF no longer
    describes what is shown (the audit log keeps it)."""
    e.evidence_pdf, e.evidence_filename = evidence.content, evidence.filename[:200]
    e.evidence_first_sha256 = hashlib.sha256(evidence.content).hexdigest()
    e.evidence_redaction = None
    e.evidence_redaction_reason = e.evidence_redacted_by = e.evidence_redacted_sha256 = None
    e.evidence_redacted_at = e.evidence_removed_at = None
    e.evidence_removal_reason = e.evidence_removed_by = None


class EvidenceRedaction(StrEnum):
    """What became of an event's PDF evidence for privacy (published with the reason)."""

    #: Replaced by a redacted copy.
    REDACTED = "redacted"
    #: Taken down: the event keeps everything else it says.
    REMOVED = "removed"


def redaction_reason_problem(reason: str) -> str | None:
    """Why ``reason`` cannot explain a redaction (None: it can): the test of substance every
    published reason passes (``governance.answers.says_something``)."""
    try:
        TypeAdapter(Reason).validate_python(reason)
    except ValidationError as exc:
        return exc.errors()[0]["msg"]
    if not says_something(reason):
        return (f"say what personal details the evidence held and why it changes, in at "
                f"least {MIN_ANSWER_CHARS} characters besides acknowledgements; the reason "
                "is published with the event")
    return None


def redact_evidence(p: Platform, actor: Actor, deployment_id: int, event_id: int,
                    reason: str, redacted: Evidence | None) -> m.EngagementEvent:
    """Replace an event's published PDF by a redacted copy (``redacted``), or remove it
    (None), for the privacy of the people in it, with a reason published with the event.
    Allowed at any status, the frozen log included: it changes what is shown of people,
    not what the log claims (the date, format, audience, body met and attendees stay as
    they were, and so do the gates). A PDF is replaced by a redacted copy once (409 on a
    second copy: ``already_redacted``) and may be removed, then or later; the redaction
    is published with the SHA-256 of the PDF as first published and of the copy, so
    anyone who kept the first can check it was the one replaced, and the removal with its
    own reason. An audit event keeps the reason and the SHA-256 before and after."""
    require(actor, Action.ENGAGEMENT_WRITE)
    reason = reason.strip()
    problem = redaction_reason_problem(reason)
    if problem is not None:
        raise InvalidInput("reason", problem)
    if redacted is not None:
        check_pdf(p, redacted)
    now = p.clock()
    with p.sessions.begin() as s:
        deployment_or_404(s, deployment_id, lock=True)
        e = event_of(s, deployment_id, event_id)
        if e.evidence_pdf is None:
            raise Conflict(f"engagement event {event_id} has no PDF evidence to redact or "
                           "remove" + ("" if e.evidence_removed_at is None else
                                       f": it was removed on {e.evidence_removed_at:%Y-%m-%d}"))
        again = None if redacted is None else already_redacted(
            e.evidence_redacted_at, e.evidence_redacted_by, e.evidence_redaction_reason)
        if again:
            raise Conflict(f"engagement event {event_id}: {again}")
        before = hashlib.sha256(e.evidence_pdf).hexdigest()
        # Evidence uploaded before its hash was kept: the PDF now shown was never redacted.
        if e.evidence_first_sha256 is None and e.evidence_redacted_at is None:
            e.evidence_first_sha256 = before
        after = None if redacted is None else hashlib.sha256(redacted.content).hexdigest()
        if redacted is None:
            what = EvidenceRedaction.REMOVED
            e.evidence_pdf, e.evidence_filename = None, None
            e.evidence_removal_reason, e.evidence_removed_at = reason, now
            e.evidence_removed_by = actor.audit_name
        else:
            what = EvidenceRedaction.REDACTED
            e.evidence_pdf, e.evidence_filename = redacted.content, redacted.filename[:200]
            e.evidence_redaction_reason, e.evidence_redacted_at = reason, now
            e.evidence_redacted_by, e.evidence_redacted_sha256 = actor.audit_name, after
        e.evidence_redaction = what.value
        append_event(s, actor=actor.audit_name, action=f"engagement.evidence_{what.value}",
                     subject_type="deployment", subject_id=deployment_id,
                     details={"event_id": e.id, "reason": reason, "previous_sha256": before,
                              "sha256": after,
                              "first_sha256": e.evidence_first_sha256}, now=now)
    return e
