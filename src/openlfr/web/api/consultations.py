"""Consultations (staff side) and public feedback handling."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path

from openlfr.governance.wording import WordingIssue, consultation_issues, is_kept
from openlfr.services import collective, consultations, deployments, objections
from openlfr.services.platform import Actor
from openlfr.services.powers import Action
from openlfr.services.schemas import (
    AnswerIn,
    ConsultationIn,
    KeptWordingIn,
    ModerationIn,
    OversightResponseIn,
    WordingCheckIn,
)
from openlfr.storage import models as m
from openlfr.web.api import AUTH_ERRORS, CONFLICT, NOT_FOUND
from openlfr.web.deps import IdPath, PlatformDep, power
from openlfr.web.schemas import (
    ConsultationResultsOut,
    ConsultationStaffOut,
    FeedbackStaffOut,
    KeptWordingOut,
    QuestionOut,
    WordingExceptionOut,
    WordingIssueOut,
)

router = APIRouter(tags=["consultations"], responses={**AUTH_ERRORS, **NOT_FOUND})
Reader = Annotated[Actor, power(Action.CONSULTATION_READ)]
Writer = Annotated[Actor, power(Action.CONSULTATION_WRITE)]

#: Where a flag is: a question id ("q2") or "information_sheet".
WherePath = Annotated[str, Path(pattern=r"^(?:q\d{1,2}|information_sheet)$",
                                description='A question id ("q2") or "information_sheet".')]


def wording_issue_out(where: str, i: WordingIssue, kept: bool = False) -> WordingIssueOut:
    return WordingIssueOut(where=where, excerpt=i.excerpt, problem=i.problem,
                           suggestion=i.suggestion, rule=i.rule, kept=kept)


def kept_wording_out(c: m.Consultation) -> list[KeptWordingOut]:
    """Flagged wording kept on purpose, with the reasons: published with the consultation."""
    return [KeptWordingOut(where=k.where, reason=k.reason, recorded_by=k.recorded_by,
                           countersigned_by=k.countersigned_by,
                           countersignature=k.countersignature,
                           recorded_at=k.recorded_at,
                           flags=[wording_issue_out(k.where, i, kept=True) for i in k.issues])
            for k in consultations.kept_wording(c)]


def consultation_staff_out(c: m.Consultation) -> ConsultationStaffOut:
    found = consultations.wording_issues(c)
    exceptions = c.wording_exceptions or {}
    issues = [wording_issue_out(where, i, is_kept(i, exceptions.get(where)))
              for where, listed in found.items() for i in listed]
    return ConsultationStaffOut(
        id=c.id, deployment_id=c.deployment_id, benefits=c.benefits, risks=c.risks,
        questions=[QuestionOut(**q) for q in c.questions], status=c.status,
        opened_at=c.opened_at, closed_at=c.closed_at, wording_issues=issues,
        kept_wording=kept_wording_out(c),
        wording_exceptions=[
            WordingExceptionOut(where=where, reason=e["reason"], recorded_by=e["by"],
                                recorded_at=datetime.fromisoformat(e["at"]), rules=e["rules"],
                                in_force=any(is_kept(i, e) for i in found.get(where, ())))
            for where, e in exceptions.items()])


def results_out(r: consultations.ConsultationResults) -> ConsultationResultsOut:
    return ConsultationResultsOut(responses=r.responses, tallies=r.tallies,
                                  by_district=r.by_district, insufficient=r.insufficient)


@router.get("/deployments/{deployment_id}/consultation", response_model=ConsultationStaffOut)
def get_consultation(deployment_id: IdPath, actor: Reader,
                     platform: PlatformDep) -> ConsultationStaffOut:
    """The consultation with any leading wording flagged."""
    return consultation_staff_out(consultations.get_consultation(platform, actor,
                                                                 deployment_id))


@router.put("/deployments/{deployment_id}/consultation", response_model=ConsultationStaffOut,
            responses=CONFLICT)
def save_consultation(deployment_id: IdPath, data: ConsultationIn, actor: Writer,
                      platform: PlatformDep) -> ConsultationStaffOut:
    """Create or rewrite the draft: information sheet (benefits and risks) and questions."""
    return consultation_staff_out(
        consultations.save_consultation(platform, actor, deployment_id, data))


@router.post("/deployments/{deployment_id}/consultation/wording-check",
             response_model=list[WordingIssueOut])
def check_wording(deployment_id: IdPath, data: WordingCheckIn, actor: Writer,
                  platform: PlatformDep) -> list[WordingIssueOut]:
    """Check draft text for leading wording without saving it (the same rules that decide
    whether the consultation may open). Questions are numbered q1, q2, ... in order."""
    deployments.get_deployment(platform, actor, deployment_id)
    found = consultation_issues(data.benefits, data.risks,
                                ((f"q{n}", text) for n, text in enumerate(data.questions, 1)))
    return [wording_issue_out(where, i) for where, listed in found.items() for i in listed]


@router.put("/deployments/{deployment_id}/consultation/wording-exceptions/{where}",
            response_model=ConsultationStaffOut, responses=CONFLICT)
def keep_flagged_wording(deployment_id: IdPath, where: WherePath, data: KeptWordingIn,
                         actor: Writer, platform: PlatformDep) -> ConsultationStaffOut:
    """Record why the flagged wording at ``where`` is kept (at least 40 characters;
    published with the consultation). Its flags then no longer stop it from opening."""
    return consultation_staff_out(
        consultations.keep_flagged_wording(platform, actor, deployment_id, where, data))


@router.post("/deployments/{deployment_id}/consultation/wording-exceptions/{where}/countersign",
             response_model=ConsultationStaffOut, responses=CONFLICT)
def countersign_kept_wording(
        deployment_id: IdPath, where: WherePath, data: KeptWordingIn,
        actor: Annotated[Actor, power(Action.CONSULTATION_COUNTERSIGN)],
        platform: PlatformDep) -> ConsultationStaffOut:
    """A member of oversight countersigns the reason for keeping flagged wording (their
    own words, at least 40 characters, published); without it the consultation cannot
    open."""
    return consultation_staff_out(consultations.countersign_kept_wording(
        platform, actor, deployment_id, where, data))


@router.delete("/deployments/{deployment_id}/consultation/wording-exceptions/{where}",
               response_model=ConsultationStaffOut, responses=CONFLICT)
def withdraw_wording_reason(deployment_id: IdPath, where: WherePath, actor: Writer,
                            platform: PlatformDep) -> ConsultationStaffOut:
    """Withdraw a recorded reason; the wording's flags block opening again."""
    return consultation_staff_out(
        consultations.withdraw_wording_reason(platform, actor, deployment_id, where))


@router.post("/deployments/{deployment_id}/consultation/open",
             response_model=ConsultationStaffOut, responses=CONFLICT)
def open_consultation(deployment_id: IdPath, actor: Writer,
                      platform: PlatformDep) -> ConsultationStaffOut:
    """Open for anonymous responses; refused while the wording check finds problems that
    no recorded reason covers."""
    return consultation_staff_out(consultations.open_consultation(platform, actor, deployment_id))


@router.post("/deployments/{deployment_id}/consultation/close",
             response_model=ConsultationStaffOut, responses=CONFLICT)
def close_consultation(deployment_id: IdPath, actor: Writer,
                       platform: PlatformDep) -> ConsultationStaffOut:
    """Close; results become public."""
    return consultation_staff_out(
        consultations.close_consultation(platform, actor, deployment_id))


@router.get("/deployments/{deployment_id}/consultation/results",
            response_model=ConsultationResultsOut)
def consultation_results(deployment_id: IdPath, actor: Reader,
                         platform: PlatformDep) -> ConsultationResultsOut:
    return results_out(consultations.consultation_results(platform, actor, deployment_id))


@router.get("/deployments/{deployment_id}/feedback", response_model=list[FeedbackStaffOut])
def list_feedback(deployment_id: IdPath, actor: Annotated[Actor, power(Action.FEEDBACK_READ)],
                  platform: PlatformDep) -> list[FeedbackStaffOut]:
    """Feedback with answer deadlines. Contact details are shown only to the roles that
    reply (the powers table's feedback.read_contact); others see them blanked."""
    return [FeedbackStaffOut.model_validate(f)
            for f in consultations.list_feedback(platform, actor, deployment_id)]


@router.post("/feedback/{feedback_id}/answer", response_model=FeedbackStaffOut)
def answer_feedback(feedback_id: IdPath, data: AnswerIn,
                    actor: Annotated[Actor, power(Action.FEEDBACK_ANSWER)],
                    platform: PlatformDep) -> FeedbackStaffOut:
    """Publish an answer."""
    return FeedbackStaffOut.model_validate(
        consultations.answer_feedback(platform, actor, feedback_id, data))


@router.post("/feedback/{feedback_id}/hide", response_model=FeedbackStaffOut)
def hide_feedback(feedback_id: IdPath, data: ModerationIn,
                  actor: Annotated[Actor, power(Action.FEEDBACK_MODERATE)],
                  platform: PlatformDep) -> FeedbackStaffOut:
    """Withhold abusive text from the public view (moderation is for abuse only)."""
    return FeedbackStaffOut.model_validate(
        consultations.hide_feedback(platform, actor, feedback_id, data))


def collective_out(c: collective.PublicCollective) -> dict[str, Any]:
    """A collective objection as JSON: the text (None where withheld for abuse, with the
    published reason), the confirmed signature count (never who), the deployment it is
    attached to (None: standing) and oversight's hearing."""
    return {"id": c.id, "area": c.area_code, "text": c.text, "signatures": c.signatures,
            "threshold": c.threshold, "needs_hearing": c.needs_hearing,
            "deployment": c.deployment_reference, "created_at": c.created_at,
            "published_at": c.published_at, "hidden_for_abuse": c.hidden_for_abuse,
            "moderation_reason": c.moderation_reason, "moderated_at": c.moderated_at,
            "hearing_held_on": c.hearing_held_on, "hearing_record": c.hearing_record}


@router.post("/collective-objections/{objection_id}/hide")
def hide_collective_objection(objection_id: IdPath, data: ModerationIn,
                              actor: Annotated[Actor, power(Action.FEEDBACK_MODERATE)],
                              platform: PlatformDep) -> dict[str, Any]:
    """Withhold a collective objection's abusive text from the public, as feedback's (the
    reason is published in its place; the objection, its signatures and its hearing
    requirement stay)."""
    return collective_out(collective.hide_collective_text(platform, actor, objection_id, data))


@router.get("/feedback/escalations", response_model=list[FeedbackStaffOut])
def escalations(actor: Annotated[Actor, power(Action.FEEDBACK_READ)],
                platform: PlatformDep) -> list[FeedbackStaffOut]:
    """Feedback escalated to oversight, those awaiting its response first."""
    return [FeedbackStaffOut.model_validate(f)
            for f, _ in objections.escalations(platform, actor)]


@router.post("/feedback/{feedback_id}/oversight-response", response_model=FeedbackStaffOut)
def respond_to_escalation(feedback_id: IdPath, data: OversightResponseIn,
                          actor: Annotated[Actor, power(Action.ESCALATION_RESPOND)],
                          platform: PlatformDep) -> FeedbackStaffOut:
    """Oversight's published response to an escalated item (e-mailed to its author and
    followers)."""
    return FeedbackStaffOut.model_validate(
        objections.respond_to_escalation(platform, actor, feedback_id, data))
