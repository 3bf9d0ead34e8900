"""Use cases for consultations (anonymous, checked for leading wording), public feedback
with answer deadlines, and council motions with published responses."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openlfr.audit import append_event
from openlfr.governance.errors import Conflict, InvalidInput, NotFound
from openlfr.governance.records import ConsultationStatus, answer_due_at
from openlfr.governance.wording import (
    WordingIssue,
    information_sheet_issues,
    leading_question_issues,
)
from openlfr.services.common import deployment_or_404, get_or_404
from openlfr.services.platform import Actor, Platform
from openlfr.services.schemas import (
    AnswerIn,
    ConsultationIn,
    ConsultationResponseIn,
    FeedbackIn,
    ModerationIn,
    MotionIn,
    MotionResponseIn,
)
from openlfr.storage import models as m

# --- consultations --------------------------------------------------------------------


def wording_issues(c: m.Consultation) -> dict[str, list[WordingIssue]]:
    """Problems found per question id, plus "information_sheet"; empty when all read fair."""
    issues: dict[str, list[WordingIssue]] = {}
    sheet = information_sheet_issues(c.benefits, c.risks)
    if sheet:
        issues["information_sheet"] = sheet
    for q in c.questions:
        found = leading_question_issues(q["text"])
        if found:
            issues[q["id"]] = found
    return issues


def _consultation(s: Session, deployment_id: int) -> m.Consultation:
    c = s.scalar(select(m.Consultation).where(m.Consultation.deployment_id == deployment_id))
    if c is None:
        raise NotFound(f"deployment {deployment_id} has no consultation")
    return c


def _questions(data: ConsultationIn) -> list[dict[str, Any]]:
    return [{"id": f"q{i}", "text": q.text, "options": q.options}
            for i, q in enumerate(data.questions, start=1)]


def save_consultation(p: Platform, actor: Actor, deployment_id: int,
                      data: ConsultationIn) -> m.Consultation:
    """Create or rewrite a consultation; possible only while it is a draft."""
    now = p.clock()
    with p.sessions.begin() as s:
        deployment_or_404(s, deployment_id, lock=True)
        c = s.scalar(select(m.Consultation).where(m.Consultation.deployment_id == deployment_id))
        if c is None:
            c = m.Consultation(deployment_id=deployment_id, status=ConsultationStatus.DRAFT.value,
                               created_at=now, opened_at=None, closed_at=None)
            s.add(c)
        elif c.status != ConsultationStatus.DRAFT.value:
            raise Conflict(f"the consultation is {c.status}; its questions can no longer change")
        c.benefits, c.risks, c.questions = data.benefits, data.risks, _questions(data)
        s.flush()
        append_event(s, actor=actor.audit_name, action="consultation.saved",
                     subject_type="consultation", subject_id=c.id,
                     details={"deployment_id": deployment_id, "questions": len(c.questions)},
                     now=now)
    return c


def get_consultation(p: Platform, deployment_id: int) -> m.Consultation:
    with p.sessions() as s:
        return _consultation(s, deployment_id)


def public_consultation(p: Platform, consultation_id: int) -> m.Consultation:
    """A consultation the public may see: open or closed (drafts are not published)."""
    with p.sessions() as s:
        c = s.get(m.Consultation, consultation_id)
        if c is None or c.status == ConsultationStatus.DRAFT.value:
            raise NotFound(f"no open or closed consultation {consultation_id}")
        return c


def open_consultations(p: Platform) -> list[m.Consultation]:
    """Consultations taking responses now."""
    with p.sessions() as s:
        return list(s.scalars(select(m.Consultation).where(
            m.Consultation.status == ConsultationStatus.OPEN.value).order_by(m.Consultation.id)))


def open_consultation(p: Platform, actor: Actor, deployment_id: int) -> m.Consultation:
    """Open for responses; refused while any question leads or the sheet hides the risks."""
    now = p.clock()
    with p.sessions.begin() as s:
        c = _consultation(s, deployment_id)
        if c.status != ConsultationStatus.DRAFT.value:
            raise Conflict(f"the consultation is already {c.status}")
        issues = wording_issues(c)
        if issues:
            listed = "; ".join(f"{where}: {i.problem}" + (f" ({i.excerpt!r})" if i.excerpt else "")
                               for where, found in issues.items() for i in found)
            raise Conflict(f"fix the wording before opening: {listed}")
        c.status, c.opened_at = ConsultationStatus.OPEN.value, now
        append_event(s, actor=actor.audit_name, action="consultation.opened",
                     subject_type="consultation", subject_id=c.id, details={}, now=now)
    return c


def close_consultation(p: Platform, actor: Actor, deployment_id: int) -> m.Consultation:
    """Close it; results are published from then on."""
    now = p.clock()
    with p.sessions.begin() as s:
        c = _consultation(s, deployment_id)
        if c.status != ConsultationStatus.OPEN.value:
            raise Conflict(f"only an open consultation can be closed; this one is {c.status}")
        c.status, c.closed_at = ConsultationStatus.CLOSED.value, now
        append_event(s, actor=actor.audit_name, action="consultation.closed",
                     subject_type="consultation", subject_id=c.id, details={}, now=now)
    return c


def submit_response(p: Platform, actor: Actor, consultation_id: int,
                    data: ConsultationResponseIn) -> None:
    """Record an anonymous response to an open consultation."""
    now = p.clock()
    with p.sessions.begin() as s:
        c = get_or_404(s, m.Consultation, consultation_id, "consultation")
        if c.status != ConsultationStatus.OPEN.value:
            raise Conflict(f"the consultation is {c.status}, not open for responses")
        by_id = {q["id"]: q for q in c.questions}
        for qid, answer in data.answers.items():
            q = by_id.get(qid)
            if q is None:
                raise InvalidInput(f"answers.{qid}", f"no question {qid!r}; questions are "
                                   f"{', '.join(by_id)}")
            if q["options"] and answer not in q["options"]:
                raise InvalidInput(f"answers.{qid}", "choose one of: " + ", ".join(q["options"]))
        r = m.ConsultationResponse(consultation_id=c.id, answers=dict(data.answers),
                                   submitted_at=now)
        s.add(r)
        s.flush()
        append_event(s, actor=actor.audit_name, action="consultation.response_received",
                     subject_type="consultation", subject_id=c.id,
                     details={"response_id": r.id}, now=now)


@dataclass(frozen=True)
class ConsultationResults:
    responses: int
    #: question id -> option -> count (choice questions only; free text is not published
    #: because it may identify the person who wrote it)
    tallies: dict[str, dict[str, int]]


def consultation_results(p: Platform, consultation_id: int) -> ConsultationResults:
    with p.sessions() as s:
        c = get_or_404(s, m.Consultation, consultation_id, "consultation")
        answers = list(s.scalars(select(m.ConsultationResponse.answers).where(
            m.ConsultationResponse.consultation_id == c.id)))
        tallies: dict[str, dict[str, int]] = {}
        for q in c.questions:
            if q["options"]:
                counts = Counter(a.get(q["id"]) for a in answers if q["id"] in a)
                tallies[q["id"]] = {o: counts.get(o, 0) for o in q["options"]}
        return ConsultationResults(len(answers), tallies)


# --- feedback -------------------------------------------------------------------------


def submit_feedback(p: Platform, actor: Actor, deployment_id: int,
                    data: FeedbackIn) -> m.Feedback:
    """Public feedback on a published deployment; the answer deadline starts now."""
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id)
        if d.notice_published_at is None:
            raise NotFound(f"deployment {deployment_id} has not been published")
        f = m.Feedback(deployment_id=d.id, kind=data.kind.value, text=data.text,
                       contact=data.contact, submitted_at=now,
                       answer_due_at=answer_due_at(now, p.settings.answer_deadline_days),
                       hidden_for_abuse=False)
        s.add(f)
        s.flush()
        # Text and contact stay out of the permanent audit log.
        append_event(s, actor=actor.audit_name, action="feedback.submitted",
                     subject_type="feedback", subject_id=f.id,
                     details={"deployment_id": d.id, "kind": f.kind}, now=now)
    return f


def list_feedback(p: Platform, deployment_id: int) -> list[m.Feedback]:
    with p.sessions() as s:
        deployment_or_404(s, deployment_id)
        return list(s.scalars(select(m.Feedback).where(
            m.Feedback.deployment_id == deployment_id).order_by(m.Feedback.id)))


def answer_feedback(p: Platform, actor: Actor, feedback_id: int, data: AnswerIn) -> m.Feedback:
    """Publish an answer (or a corrected one; the audit log keeps that it changed)."""
    now = p.clock()
    with p.sessions.begin() as s:
        f = get_or_404(s, m.Feedback, feedback_id, "feedback")
        first = f.answered_at is None
        f.answer, f.answered_at, f.answered_by = data.answer, now, actor.audit_name
        append_event(s, actor=actor.audit_name,
                     action="feedback.answered" if first else "feedback.answer_revised",
                     subject_type="feedback", subject_id=f.id,
                     details={"late": now > f.answer_due_at}, now=now)
    return f


def hide_feedback(p: Platform, actor: Actor, feedback_id: int, data: ModerationIn) -> m.Feedback:
    """Hide abusive text from the public view; the record and its reason remain."""
    now = p.clock()
    with p.sessions.begin() as s:
        f = get_or_404(s, m.Feedback, feedback_id, "feedback")
        f.hidden_for_abuse, f.moderation_reason = True, data.reason
        append_event(s, actor=actor.audit_name, action="feedback.hidden_for_abuse",
                     subject_type="feedback", subject_id=f.id, details={}, now=now)
    return f


def public_feedback(p: Platform, deployment_id: int) -> list[m.Feedback]:
    """Feedback the public may read (contact details are never part of the public view)."""
    return list_feedback(p, deployment_id)


def feedback_counts(p: Platform, deployment_id: int) -> dict[str, int]:
    with p.sessions() as s:
        rows = s.execute(select(m.Feedback.kind, func.count()).where(
            m.Feedback.deployment_id == deployment_id).group_by(m.Feedback.kind))
        return {k: int(n) for k, n in rows}


# --- council motions ------------------------------------------------------------------


def record_motion(p: Platform, actor: Actor, data: MotionIn) -> m.CouncilMotion:
    """Record a council motion; deployments in the areas it covers wait for a response."""
    now = p.clock()
    with p.sessions.begin() as s:
        motion = m.CouncilMotion(body=data.body, passed_on=data.passed_on,
                                 stance=data.stance.value, summary=data.summary, link=data.link,
                                 areas=list(data.areas), response=None,
                                 response_published_at=None, recorded_by=actor.audit_name,
                                 created_at=now)
        s.add(motion)
        s.flush()
        append_event(s, actor=actor.audit_name, action="motion.recorded",
                     subject_type="motion", subject_id=motion.id,
                     details={"stance": motion.stance, "areas": motion.areas}, now=now)
    return motion


def get_motion(p: Platform, motion_id: int) -> m.CouncilMotion:
    with p.sessions() as s:
        return get_or_404(s, m.CouncilMotion, motion_id, "council motion")


def correct_motion(p: Platform, actor: Actor, motion_id: int, data: MotionIn) -> m.CouncilMotion:
    """Correct how a motion was recorded (body, date, stance, summary, link, areas)."""
    now = p.clock()
    with p.sessions.begin() as s:
        motion = get_or_404(s, m.CouncilMotion, motion_id, "council motion")
        motion.body, motion.passed_on, motion.stance = data.body, data.passed_on, data.stance.value
        motion.summary, motion.link, motion.areas = data.summary, data.link, list(data.areas)
        append_event(s, actor=actor.audit_name, action="motion.corrected",
                     subject_type="motion", subject_id=motion.id,
                     details={"stance": motion.stance, "areas": motion.areas}, now=now)
    return motion


def respond_to_motion(p: Platform, actor: Actor, motion_id: int,
                      data: MotionResponseIn) -> m.CouncilMotion:
    """Publish the force's response to a motion."""
    now = p.clock()
    with p.sessions.begin() as s:
        motion = get_or_404(s, m.CouncilMotion, motion_id, "council motion")
        motion.response, motion.response_published_at = data.response, now
        append_event(s, actor=actor.audit_name, action="motion.response_published",
                     subject_type="motion", subject_id=motion.id, details={}, now=now)
    return motion


def list_motions(p: Platform) -> list[m.CouncilMotion]:
    with p.sessions() as s:
        return list(s.scalars(select(m.CouncilMotion).order_by(m.CouncilMotion.passed_on.desc(),
                                                                m.CouncilMotion.id.desc())))
