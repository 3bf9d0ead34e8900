"""Use cases for consultations (anonymous, checked for leading wording), public feedback
with answer deadlines, and council motions with published responses."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openlfr.audit import append_event
from openlfr.governance.amendments import Record, require_open
from openlfr.governance.answers import (
    PRIVATE_KINDS,
    AnswerOutcome,
    answer_due_at,
    answer_problem,
    motion_response_problem,
)
from openlfr.governance.areas import Area, UnknownArea
from openlfr.governance.errors import Conflict, InvalidInput, NotFound
from openlfr.governance.gates import GateParameters, consultation_shortfall
from openlfr.governance.lifecycle import DeploymentStatus, is_published
from openlfr.governance.records import (
    KINDS_NEEDING_ANSWER,
    ConsultationFacts,
    ConsultationStatus,
    FeedbackKind,
)
from openlfr.governance.wording import (
    INFORMATION_SHEET,
    MIN_REASON_CHARS,
    WordingIssue,
    awaiting_countersignature,
    consultation_issues,
    describe_issues,
    is_kept,
    unresolved_issues,
)
from openlfr.services import moderation
from openlfr.services.answer_history import AnswerVersion, audited, revision_reason, with_version
from openlfr.services.common import deployment_or_404, get_or_404
from openlfr.services.gazetteer import gazetteer_for
from openlfr.services.objections import queue_item_emails
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action, may, require, require_area
from openlfr.services.reports import record_changed_after_completion
from openlfr.services.schemas import (
    AnswerIn,
    ConsultationIn,
    ConsultationResponseIn,
    FeedbackIn,
    KeptWordingIn,
    ModerationIn,
    MotionIn,
    MotionResponseIn,
)
from openlfr.settings import new_token
from openlfr.storage import models as m

# --- consultations --------------------------------------------------------------------


def wording_issues(c: m.Consultation) -> dict[str, list[WordingIssue]]:
    """Problems found per question id (its text and its choices), plus
    "information_sheet"; empty when all read fair."""
    return consultation_issues(c.benefits, c.risks, ((q["id"], q["text"]) for q in c.questions),
                               options={q["id"]: q.get("options") for q in c.questions})


def unresolved_wording(c: m.Consultation) -> dict[str, list[WordingIssue]]:
    """The flags no recorded reason covers: while any is left, the consultation cannot open."""
    return unresolved_issues(wording_issues(c), c.wording_exceptions or {})


@dataclass(frozen=True)
class KeptWording:
    """Flagged wording the planner kept on purpose, with the reason (published)."""

    where: str
    reason: str
    recorded_by: str
    recorded_at: datetime
    #: The flags the reason covers, as the check finds them now.
    issues: list[WordingIssue]
    #: The member of oversight who countersigned the reason, and their own words
    #: (None until then: the consultation cannot open).
    countersigned_by: str | None = None
    countersignature: str | None = None


def kept_wording(c: m.Consultation) -> list[KeptWording]:
    """Recorded reasons that cover a current flag, sheet first then by question. A reason
    for wording that is no longer flagged is left out: there is nothing left to explain."""
    issues = wording_issues(c)
    kept = []
    for where, exception in (c.wording_exceptions or {}).items():
        covered = [i for i in issues.get(where, ()) if is_kept(i, exception)]
        if covered:
            kept.append(KeptWording(where, exception["reason"], exception["by"],
                                    datetime.fromisoformat(exception["at"]), covered,
                                    exception.get("countersigned_by"),
                                    exception.get("countersignature")))
    order = [INFORMATION_SHEET, *(q["id"] for q in c.questions)]
    return sorted(kept, key=lambda k: order.index(k.where) if k.where in order else len(order))


def _wording_by_place(c: m.Consultation) -> dict[str, Any]:
    """The text each place's flags are about (a question's choices included): a reason
    stays only while it is unchanged."""
    return {INFORMATION_SHEET: (c.benefits, c.risks),
            **{q["id"]: (q["text"], tuple(q.get("options") or ())) for q in c.questions}}


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
    require(actor, Action.CONSULTATION_WRITE)
    now = p.clock()
    with p.sessions.begin() as s:
        _require_consultation_open(deployment_or_404(s, deployment_id, lock=True))
        c = s.scalar(select(m.Consultation).where(m.Consultation.deployment_id == deployment_id))
        if c is None:
            c = m.Consultation(deployment_id=deployment_id, status=ConsultationStatus.DRAFT.value,
                               created_at=now, opened_at=None, closed_at=None)
            s.add(c)
        elif c.status != ConsultationStatus.DRAFT.value:
            raise Conflict(f"the consultation is {c.status}; its questions can no longer change")
        before = _wording_by_place(c) if c.id is not None else {}
        c.benefits, c.risks, c.questions = data.benefits, data.risks, _questions(data)
        after = _wording_by_place(c)
        # A reason was given for particular wording: rewriting it withdraws the reason.
        exceptions = c.wording_exceptions or {}
        cleared = sorted(w for w in exceptions if before.get(w) != after.get(w))
        c.wording_exceptions = {w: e for w, e in exceptions.items() if w not in cleared}
        s.flush()
        details: dict[str, Any] = {"deployment_id": deployment_id, "questions": len(c.questions)}
        if cleared:
            details["wording_reasons_withdrawn"] = cleared
        append_event(s, actor=actor.audit_name, action="consultation.saved",
                     subject_type="consultation", subject_id=c.id, details=details, now=now)
    return c


def _require_consultation_open(d: m.Deployment) -> None:
    require_open(DeploymentStatus(d.status), Record.CONSULTATION, d.authorised_at,
                 d.first_authorised_at)


def get_consultation(p: Platform, actor: Actor, deployment_id: int) -> m.Consultation:
    """A deployment's consultation, drafts included (staff)."""
    require(actor, Action.CONSULTATION_READ)
    with p.sessions() as s:
        deployment_or_404(s, deployment_id)
        return _consultation(s, deployment_id)


def consultation_of(s: Session, deployment_id: int) -> m.Consultation | None:
    return s.scalar(select(m.Consultation).where(m.Consultation.deployment_id == deployment_id))


def _published(s: Session, c: m.Consultation | None) -> bool:
    """The public may see ``c``: open or closed (drafts are not published), and of a
    deployment the public may see (notice given), so nobody answers, or reads, the
    consultation of a plan that is not public yet."""
    if c is None or c.status == ConsultationStatus.DRAFT.value:
        return False
    d = s.get(m.Deployment, c.deployment_id)
    return d is not None and is_published(DeploymentStatus(d.status), d.notice_published_at)


def public_consultation(p: Platform, consultation_id: int) -> m.Consultation:
    """A consultation the public may see (``_published``)."""
    with p.sessions() as s:
        c = s.get(m.Consultation, consultation_id)
        if not _published(s, c):
            raise NotFound(f"no open or closed consultation {consultation_id}")
        assert c is not None
        return c


def open_consultations(p: Platform) -> list[m.Consultation]:
    """Consultations taking responses now, of published deployments."""
    with p.sessions() as s:
        return [c for c in s.scalars(select(m.Consultation).where(
            m.Consultation.status == ConsultationStatus.OPEN.value).order_by(m.Consultation.id))
            if _published(s, c)]


def keep_flagged_wording(p: Platform, actor: Actor, deployment_id: int, where: str,
                         data: KeptWordingIn) -> m.Consultation:
    """Record why flagged wording at ``where`` (a question id or "information_sheet") is
    kept as it is; the reason covers the flags found there now and is published with the
    consultation. Possible only while it is a draft; recording again replaces the reason."""
    require(actor, Action.CONSULTATION_WRITE)
    now = p.clock()
    reason = data.reason.strip()
    with p.sessions.begin() as s:
        _require_consultation_open(deployment_or_404(s, deployment_id, lock=True))
        c = _consultation(s, deployment_id)
        _require_draft(c, "reasons for keeping flagged wording")
        places = _wording_by_place(c)
        if where not in places:
            raise NotFound(f"the consultation has no {where!r}; its parts are "
                           f"{', '.join(places)}")
        flags = wording_issues(c).get(where)
        if not flags:
            raise Conflict(f"{where} is not flagged; there is nothing to keep")
        if len(reason) < MIN_REASON_CHARS:
            raise InvalidInput("reason", f"a reason must be at least {MIN_REASON_CHARS} "
                               "characters; say why this wording is fair as it stands (it is "
                               "published with the consultation)")
        rules = sorted({i.rule for i in flags})
        c.wording_exceptions = {**(c.wording_exceptions or {}), where: {
            "reason": reason, "by": actor.audit_name, "at": now.isoformat(), "rules": rules}}
        append_event(s, actor=actor.audit_name, action="consultation.wording_kept",
                     subject_type="consultation", subject_id=c.id,
                     details={"deployment_id": deployment_id, "where": where, "rules": rules,
                              "reason": reason}, now=now)
    return c


def countersign_kept_wording(p: Platform, actor: Actor, deployment_id: int, where: str,
                             data: KeptWordingIn) -> m.Consultation:
    """A member of oversight countersigns the planner's reason for keeping flagged wording
    at ``where``, in their own words (published with it). Without it the consultation
    cannot open; rewriting the wording or the reason withdraws it."""
    require(actor, Action.CONSULTATION_COUNTERSIGN)
    now = p.clock()
    words = data.reason.strip()
    with p.sessions.begin() as s:
        deployment_or_404(s, deployment_id, lock=True)
        c = _consultation(s, deployment_id)
        _require_draft(c, "countersignatures of kept wording")
        exception = (c.wording_exceptions or {}).get(where)
        if exception is None:
            raise NotFound(f"no reason is recorded for keeping the wording at {where!r}")
        if exception.get("by") == actor.audit_name:
            raise Conflict("the person who kept the wording cannot countersign it")
        if len(words) < MIN_REASON_CHARS:
            raise InvalidInput("reason", f"a countersignature must be at least "
                               f"{MIN_REASON_CHARS} characters; say why the kept wording is "
                               "fair (it is published with the consultation)")
        c.wording_exceptions = {**(c.wording_exceptions or {}), where: {
            **exception, "countersigned_by": actor.audit_name, "countersigned_at": now.isoformat(),
            "countersignature": words}}
        append_event(s, actor=actor.audit_name, action="consultation.wording_countersigned",
                     subject_type="consultation", subject_id=c.id,
                     details={"deployment_id": deployment_id, "where": where,
                              "countersignature": words}, now=now)
    return c


def withdraw_wording_reason(p: Platform, actor: Actor, deployment_id: int,
                            where: str) -> m.Consultation:
    """Withdraw the reason recorded for ``where``: its flags block opening again."""
    require(actor, Action.CONSULTATION_WRITE)
    now = p.clock()
    with p.sessions.begin() as s:
        _require_consultation_open(deployment_or_404(s, deployment_id, lock=True))
        c = _consultation(s, deployment_id)
        _require_draft(c, "reasons for keeping flagged wording")
        exceptions = dict(c.wording_exceptions or {})
        if exceptions.pop(where, None) is None:
            raise NotFound(f"no reason is recorded for {where!r}")
        c.wording_exceptions = exceptions
        append_event(s, actor=actor.audit_name, action="consultation.wording_reason_withdrawn",
                     subject_type="consultation", subject_id=c.id,
                     details={"deployment_id": deployment_id, "where": where}, now=now)
    return c


def _require_draft(c: m.Consultation, what: str) -> None:
    if c.status != ConsultationStatus.DRAFT.value:
        raise Conflict(f"the consultation is {c.status}; {what} can only change while it is a "
                       "draft")


def open_consultation(p: Platform, actor: Actor, deployment_id: int) -> m.Consultation:
    """Open for responses; refused while a question leads or the sheet hides the risks,
    unless the planner has recorded why that wording is kept."""
    require(actor, Action.CONSULTATION_WRITE)
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        _require_consultation_open(d)
        c = _consultation(s, deployment_id)
        if c.status != ConsultationStatus.DRAFT.value:
            raise Conflict(f"the consultation is already {c.status}")
        unresolved = unresolved_wording(c)
        if unresolved:
            raise Conflict("fix the wording, or record why it is kept, before opening: "
                           + describe_issues(unresolved))
        waiting = awaiting_countersignature(wording_issues(c), c.wording_exceptions or {})
        if waiting:
            raise Conflict("flagged wording kept at " + ", ".join(waiting) + " needs a member "
                           "of oversight to countersign the reason before the consultation "
                           "opens (or fix the wording)")
        if not is_published(DeploymentStatus(d.status), d.notice_published_at):
            raise Conflict("publish the deployment's notice first: a consultation opens when "
                           "the public can find it, and its days and responses count from then")
        c.status, c.opened_at = ConsultationStatus.OPEN.value, now
        append_event(s, actor=actor.audit_name, action="consultation.opened",
                     subject_type="consultation", subject_id=c.id,
                     details={"wording_kept": [k.where for k in kept_wording(c)]}, now=now)
    return c


def close_consultation(p: Platform, actor: Actor, deployment_id: int) -> m.Consultation:
    """Close it; results are published from then on (closing changes nothing people
    answered, so it is possible after authorisation too)."""
    require(actor, Action.CONSULTATION_WRITE)
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
                    data: ConsultationResponseIn, client: str | None = None) -> None:
    """Record an anonymous response to an open consultation. A response counts once per
    ``client`` (its address) per consultation, and the address is rate limited besides
    (services.rate_limits): the page and the API alike."""
    require(actor, Action.CONSULTATION_ANSWER)
    p.rate_limits.hit(Action.CONSULTATION_ANSWER, client)
    with p.sessions() as s:  # only an open consultation uses up the client's one response
        c = s.get(m.Consultation, consultation_id)
        if c is None or not _published(s, c):
            raise NotFound(f"no open or closed consultation {consultation_id}")
        if c.status != ConsultationStatus.OPEN.value:
            raise Conflict(f"the consultation is {c.status}, not open for responses")
        by_id = {q["id"]: q for q in c.questions}
    for qid, answer in data.answers.items():  # a bad answer uses up nothing either
        q = by_id.get(qid)
        if q is None:
            raise InvalidInput(f"answers.{qid}", f"no question {qid!r}; questions are "
                               f"{', '.join(by_id)}")
        if q["options"] and answer not in q["options"]:
            raise InvalidInput(f"answers.{qid}", "choose one of: " + ", ".join(q["options"]))
    p.rate_limits.once(Action.CONSULTATION_ANSWER, client, str(consultation_id))
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
                                   postcode_district=data.postcode_district, submitted_at=now)
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
    #: postcode district -> responses from it (responses that gave none are not counted)
    by_district: dict[str, int]
    #: Why the result does not count ("insufficient response": open too briefly or too few
    #: responses; the consultation gate fails), None when it counts or is still open.
    insufficient: str | None = None


def consultation_results(p: Platform, actor: Actor, deployment_id: int) -> ConsultationResults:
    """The tallies so far, for staff (the public sees them once it is closed)."""
    require(actor, Action.CONSULTATION_READ)
    with p.sessions() as s:
        return results_in(s, _consultation(s, deployment_id), p.settings.gate_parameters())


def results_in(s: Session, c: m.Consultation,
               params: GateParameters | None = None) -> ConsultationResults:
    """The tallies, by district, and (given the gate's ``params``, once closed) whether
    the result counts (``governance.gates.consultation_shortfall``)."""
    rows = list(s.execute(select(m.ConsultationResponse.answers,
                                 m.ConsultationResponse.postcode_district).where(
        m.ConsultationResponse.consultation_id == c.id)))
    answers = [a for a, _ in rows]
    tallies: dict[str, dict[str, int]] = {}
    for q in c.questions:
        if q["options"]:
            counts = Counter(a.get(q["id"]) for a in answers if q["id"] in a)
            tallies[q["id"]] = {o: counts.get(o, 0) for o in q["options"]}
    districts = Counter(d for _, d in rows if d)
    insufficient = None
    if params is not None and c.status == ConsultationStatus.CLOSED.value:
        insufficient = consultation_shortfall(ConsultationFacts(
            status=ConsultationStatus.CLOSED, response_count=len(answers),
            closed_at=c.closed_at, opened_at=c.opened_at), params)
    return ConsultationResults(len(answers), tallies, dict(sorted(districts.items())),
                               insufficient)


# --- feedback -------------------------------------------------------------------------


def submit_feedback(p: Platform, actor: Actor, deployment_id: int,
                    data: FeedbackIn, client: str | None = None) -> m.Feedback:
    """Public feedback on a published deployment. An objection or question is due the
    earlier of the answer period and a lead time before the start (governance.answers);
    other kinds get the answer period. The author gets a private link (``author_token``)
    to reply once and to escalate. ``client`` (its address) is rate limited
    (services.rate_limits)."""
    require(actor, Action.FEEDBACK_SUBMIT)
    p.rate_limits.hit(Action.FEEDBACK_SUBMIT, client)
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id)
        if d.notice_published_at is None:
            raise NotFound(f"deployment {deployment_id} has not been published")
        due = answer_due_at(data.kind, now, d.start_at, p.settings.answer_deadline_days,
                            p.settings.answer_lead_hours)
        f = m.Feedback(deployment_id=d.id, kind=data.kind.value, text=data.text,
                       contact=data.contact, submitted_at=now, answer_due_at=due,
                       hidden_for_abuse=False, author_token=new_token())
        s.add(f)
        s.flush()
        # Text and contact stay out of the permanent audit log.
        append_event(s, actor=actor.audit_name, action="feedback.submitted",
                     subject_type="feedback", subject_id=f.id,
                     details={"deployment_id": d.id, "kind": f.kind}, now=now)
    return f


def list_feedback(p: Platform, actor: Actor, deployment_id: int) -> list[m.Feedback]:
    """A deployment's feedback (staff); contact details are blanked unless the role may
    see them (they reply)."""
    require(actor, Action.FEEDBACK_READ)
    with p.sessions() as s:
        deployment_or_404(s, deployment_id)
        items = feedback_in(s, deployment_id)
        if not may(actor.role, Action.FEEDBACK_CONTACT_READ):
            for f in items:
                s.expunge(f)
                f.contact = None
        return items


def feedback_in(s: Session, deployment_id: int) -> list[m.Feedback]:
    return list(s.scalars(select(m.Feedback).where(
        m.Feedback.deployment_id == deployment_id).order_by(m.Feedback.id)))


def answer_feedback(p: Platform, actor: Actor, feedback_id: int, data: AnswerIn) -> m.Feedback:
    """Publish an answer: what came of it (an outcome; a plan change links its amendment)
    and why, in words of substance (governance.answers). Revising a published answer needs
    a reason (``revision_reason``); the earlier version stays published with it
    (``answer_history``) and its text and outcome go into the audit event. The author,
    when they left an e-mail address, and everyone following the item are e-mailed the
    answer."""
    require(actor, Action.FEEDBACK_ANSWER)
    now = p.clock()
    with p.sessions.begin() as s:
        f = get_or_404(s, m.Feedback, feedback_id, "feedback")
        kind = FeedbackKind(f.kind)
        problem = answer_problem(kind, data.answer, data.outcome, data.amendment_id is not None,
                                 p.settings.answer_min_chars)
        if problem is not None:
            raise InvalidInput(*problem)
        if data.amendment_id is not None:
            amendment = s.get(m.Amendment, data.amendment_id)
            if amendment is None or amendment.deployment_id != f.deployment_id:
                raise InvalidInput("amendment_id", f"amendment {data.amendment_id} is not an "
                                   "amendment of this deployment; link the one that changed "
                                   "its plan")
        first = f.answered_at is None or f.answer is None
        details: dict[str, Any] = {}
        if not first:
            assert f.answer is not None and f.answered_at is not None
            earlier = AnswerVersion(
                text=f.answer, published_at=f.answered_at, published_by=f.answered_by,
                revised_at=now, revised_by=actor.audit_name,
                reason=revision_reason(data.revision_reason, "answer"), outcome=f.outcome,
                amendment_id=f.amendment_id)
            f.answer_history = with_version(f.answer_history, earlier)
            details = {"reason": earlier.reason,
                       "previous": audited(earlier, FeedbackKind(f.kind) in PRIVATE_KINDS)}
        f.answer, f.answered_at, f.answered_by = data.answer, now, actor.audit_name
        f.outcome = (data.outcome or AnswerOutcome.ANSWERED).value
        f.amendment_id = data.amendment_id
        append_event(s, actor=actor.audit_name,
                     action="feedback.answered" if first else "feedback.answer_revised",
                     subject_type="feedback", subject_id=f.id,
                     details={"late": now > f.answer_due_at, "outcome": f.outcome,
                              "amendment_id": f.amendment_id, **details}, now=now)
        queue_item_emails(s, p.settings, f, "answered" if first else "answer_revised", now)
        record_changed_after_completion(s, actor, f.deployment_id,
                                        f"feedback {f.id} answered after completion", now)
    return f


def feedback_awaiting_answer(p: Platform,
                             actor: Actor) -> list[tuple[m.Feedback, m.Deployment]]:
    """Feedback on every deployment that needs a public answer and has none yet (those
    whose text is withheld for abuse too: they still need one), with its deployment,
    soonest due first: the staff's to-do list."""
    require(actor, Action.FEEDBACK_READ)
    with p.sessions() as s:
        rows = s.execute(select(m.Feedback, m.Deployment).join(
            m.Deployment, m.Feedback.deployment_id == m.Deployment.id).where(
            m.Feedback.kind.in_([k.value for k in KINDS_NEEDING_ANSWER]),
            m.Feedback.answered_at.is_(None)).order_by(m.Feedback.answer_due_at,
                                                      m.Feedback.id))
        return [(f, d) for f, d in rows]


def hide_feedback(p: Platform, actor: Actor, feedback_id: int, data: ModerationIn) -> m.Feedback:
    """Withhold abusive text from the public view, with a reason that says what makes it
    abusive (governance.answers.moderation_problem; published in its place). Only the
    text is withheld: the item still counts as received, in the gates and the figures,
    and still needs its published answer."""
    require(actor, Action.FEEDBACK_MODERATE)
    moderation.require_reason(data.reason)
    now = p.clock()
    with p.sessions.begin() as s:
        f = get_or_404(s, m.Feedback, feedback_id, "feedback")
        moderation.withhold(s, f, "feedback", f"feedback {f.id}", actor, data.reason, now)
        record_changed_after_completion(s, actor, f.deployment_id,
                                        f"feedback {f.id} moderated after completion", now)
    return f


def feedback_counts(p: Platform, deployment_id: int) -> dict[str, int]:
    with p.sessions() as s:
        rows = s.execute(select(m.Feedback.kind, func.count()).where(
            m.Feedback.deployment_id == deployment_id).group_by(m.Feedback.kind))
        return {k: int(n) for k, n in rows}


# --- council motions ------------------------------------------------------------------


def motion_areas(p: Platform, texts: list[str]) -> list[Area]:
    """The gazetteer areas a motion names; free text is refused with the closest names."""
    g = gazetteer_for(p.settings)
    found = []
    for n, text in enumerate(texts):
        try:
            found.append(g.resolve(text))
        except UnknownArea as exc:
            raise InvalidInput("areas", f"line {n + 1}: {exc}") from None
    return list({a.code: a for a in found}.values())


def _motion_scope(p: Platform, actor: Actor, motion: m.CouncilMotion) -> None:
    """A councillor may correct only a motion wholly in their areas."""
    g = gazetteer_for(p.settings)
    areas = [a for a in (g.get(c) for c in motion.area_codes) if a is not None]
    require_area(actor, areas, "correcting this motion")


def record_motion(p: Platform, actor: Actor, data: MotionIn) -> m.CouncilMotion:
    """Record a council motion (oversight; a councillor for their areas); deployments in
    the areas it covers wait for a response, and a motion asking to stop LFR keeps them
    waiting for a countersigned override too."""
    require(actor, Action.MOTION_RECORD)
    areas = motion_areas(p, data.areas)
    require_area(actor, areas, "recording a motion")
    now = p.clock()
    with p.sessions.begin() as s:
        motion = m.CouncilMotion(body=data.body, passed_on=data.passed_on,
                                 stance=data.stance.value, summary=data.summary, link=data.link,
                                 area_codes=[a.code for a in areas], unmatched_areas=[],
                                 points=list(data.points), point_answers=[], response=None,
                                 response_published_at=None, recorded_by=actor.audit_name,
                                 created_at=now)
        s.add(motion)
        s.flush()
        append_event(s, actor=actor.audit_name, action="motion.recorded",
                     subject_type="motion", subject_id=motion.id,
                     details={"stance": motion.stance, "areas": motion.area_codes,
                              "points": len(motion.points)}, now=now)
    return motion


def get_motion(p: Platform, actor: Actor, motion_id: int) -> m.CouncilMotion:
    require(actor, Action.MOTION_READ)
    with p.sessions() as s:
        return get_or_404(s, m.CouncilMotion, motion_id, "council motion")


def correct_motion(p: Platform, actor: Actor, motion_id: int, data: MotionIn) -> m.CouncilMotion:
    """Correct how a motion was recorded (body, date, stance, summary, link, areas,
    points). Answers to points that changed are dropped: the force answers again (the
    published response and its answers stay in ``response_history``)."""
    require(actor, Action.MOTION_RECORD)
    areas = motion_areas(p, data.areas)
    require_area(actor, areas, "correcting this motion")
    now = p.clock()
    with p.sessions.begin() as s:
        motion = get_or_404(s, m.CouncilMotion, motion_id, "council motion")
        _motion_scope(p, actor, motion)
        if list(data.points) != list(motion.points):
            if motion.response is not None and motion.response_published_at is not None \
                    and motion.point_answers:
                motion.response_history = with_version(motion.response_history, AnswerVersion(
                    text=motion.response, published_at=motion.response_published_at,
                    published_by=motion.response_published_by, revised_at=now,
                    revised_by=actor.audit_name, reason="The motion's points were corrected; "
                    "these answers were to the points as first recorded.",
                    point_answers=tuple(motion.point_answers)))
            motion.point_answers = []
        motion.body, motion.passed_on, motion.stance = data.body, data.passed_on, data.stance.value
        motion.summary, motion.link = data.summary, data.link
        motion.area_codes, motion.unmatched_areas = [a.code for a in areas], []
        motion.points = list(data.points)
        append_event(s, actor=actor.audit_name, action="motion.corrected",
                     subject_type="motion", subject_id=motion.id,
                     details={"stance": motion.stance, "areas": motion.area_codes,
                              "points": len(motion.points)}, now=now)
    return motion


def respond_to_motion(p: Platform, actor: Actor, motion_id: int,
                      data: MotionResponseIn) -> m.CouncilMotion:
    """Publish the force's response to a motion, with an answer to each of its points, all
    in words of substance (governance.answers.motion_response_problem: "Noted." or "n/a"
    is refused, naming the field). Revising a published response needs a reason
    (``revision_reason``); the earlier version stays published with it
    (``response_history``) and its text goes into the audit event."""
    require(actor, Action.MOTION_RESPOND)
    now = p.clock()
    with p.sessions.begin() as s:
        motion = get_or_404(s, m.CouncilMotion, motion_id, "council motion")
        problem = motion_response_problem(motion.points, data.response, data.point_answers,
                                          p.settings.answer_min_chars)
        if problem is not None:
            raise InvalidInput(*problem)
        details: dict[str, Any] = {}
        if motion.response is not None and motion.response_published_at is not None:
            earlier = AnswerVersion(
                text=motion.response, published_at=motion.response_published_at,
                published_by=motion.response_published_by, revised_at=now,
                revised_by=actor.audit_name,
                reason=revision_reason(data.revision_reason, "response"),
                point_answers=tuple(motion.point_answers))
            motion.response_history = with_version(motion.response_history, earlier)
            details = {"reason": earlier.reason, "previous": audited(earlier)}
        motion.response, motion.response_published_at = data.response, now
        motion.response_published_by = actor.audit_name
        motion.point_answers = list(data.point_answers)
        append_event(s, actor=actor.audit_name,
                     action="motion.response_revised" if details
                     else "motion.response_published",
                     subject_type="motion", subject_id=motion.id,
                     details={"point_answers": len(motion.point_answers), **details}, now=now)
    return motion


def list_motions(p: Platform, actor: Actor) -> list[m.CouncilMotion]:
    """Every council motion, newest first (staff)."""
    require(actor, Action.MOTION_READ)
    with p.sessions() as s:
        return motions_in(s)


def motions_in(s: Session) -> list[m.CouncilMotion]:
    return list(s.scalars(select(m.CouncilMotion).order_by(m.CouncilMotion.passed_on.desc(),
                                                            m.CouncilMotion.id.desc())))
