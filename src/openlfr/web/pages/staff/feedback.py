"""The feedback inbox of a deployment: every item with its kind, text and due date, and
contact details for the roles that reply (never public); answer it (or revise the
answer, with a reason: the earlier version stays published); withhold its text for abuse,
and only for abuse, with a reason that is published in place of the text (the item still
counts and still needs its answer). Collective objections, on the escalations page, get
oversight's hearing and the same moderation. Who may do which is the powers table's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from openlfr.governance.answers import KINDS_NEEDING_OUTCOME, AnswerOutcome
from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.governance.records import KINDS_NEEDING_ANSWER
from openlfr.services import amendments, collective, consultations, mailer, objections
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action, may
from openlfr.services.schemas import AnswerIn, HearingIn, ModerationIn, OversightResponseIn
from openlfr.storage import models as m
from openlfr.web.pages.rendering import not_found, platform_of
from openlfr.web.pages.staff.common import (
    FormReader,
    deployment_form,
    deployment_page,
    done,
    form_about,
    notice_of,
    overdue,
    path_id,
    service_problem,
)
from openlfr.web.pages.staff_access import StaffRoute, staff_page, staff_render


def _inbox(request: Request, actor: Actor, d: m.Deployment,
           values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
           status_code: int = 200) -> Response:
    p = platform_of(request)
    now = p.clock()
    items = consultations.list_feedback(p, actor, d.id)
    return staff_render(request, actor, "staff_feedback.html", {
        "d": d, "items": items, "overdue": {f.id for f in items if overdue(f, now)},
        "needs_answer": {k.value for k in KINDS_NEEDING_ANSWER},
        "needs_outcome": {k.value for k in KINDS_NEEDING_OUTCOME},
        "outcomes": [o.value for o in AnswerOutcome],
        "amendments": amendments.amendments_for(p, actor, d.id)
        if may(actor.role, Action.DEPLOYMENT_READ) else [],
        "values": values or {}, "errors": errors or {}, "notice": notice_of(request)},
        status_code=status_code)


def inbox(request: Request) -> Response:
    checked = deployment_page(request, Action.FEEDBACK_READ)
    if isinstance(checked, Response):
        return checked
    actor, d = checked
    return _inbox(request, actor, d)


def _feedback_route(field: str, notice: str, act: Callable[..., m.Feedback],
                    schema: type[AnswerIn] | type[ModerationIn], schema_field: str,
                    action: Action) -> Callable[[Request], Response]:
    """A form post on one item of the inbox: its text field (``field-<id>`` on the page)
    is validated by ``schema`` and passed to the service's ``act``."""

    def take(request: Request) -> Response:
        checked = deployment_form(request, action)
        if isinstance(checked, Response):
            return checked
        actor, form, d = checked
        p = platform_of(request)
        feedback_id = path_id(request, "feedback_id")
        if feedback_id not in {f.id for f in consultations.list_feedback(p, actor, d.id)}:
            return not_found(request, f"no such feedback on {d.reference}")
        key = f"{field}-{feedback_id}"
        reader = FormReader(form)
        fields: dict[str, object] = {schema_field: reader.text(key)}
        if schema is AnswerIn:  # what came of it, the amendment of a plan change, and why
            fields["outcome"] = reader.optional(f"outcome-{feedback_id}")  # a revision
            fields["amendment_id"] = reader.optional(f"amendment-{feedback_id}")
            fields["revision_reason"] = reader.optional(f"revision-{feedback_id}")
        data = reader.build(schema, fields)
        if data is not None:
            try:
                act(p, actor, feedback_id, data)
            except GovernanceError as exc:
                where, message = service_problem(exc)
                reader.problems[where if where in fields else schema_field] = message
            else:
                return done(request, "staff_feedback", notice, f"#feedback-{feedback_id}",
                            deployment_id=d.id)
        errors = {key if name == schema_field else f"{name.split('_')[0]}-{feedback_id}": problem
                  for name, problem in reader.problems.items()}
        return _inbox(request, actor, d, reader.values, errors, status_code=422)

    take.__name__ = f"staff_{notice}_feedback"
    return take


# --- escalations to oversight ------------------------------------------------------------


def _escalations(request: Request, actor: Actor, values: dict[str, str] | None = None,
                 errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    p = platform_of(request)
    items = objections.escalations(p, actor)
    return staff_render(request, actor, "staff_escalations.html", {
        "items": items, "collective": collective.collective_objections(p, actor),
        "values": values or {}, "errors": errors or {},
        "notice": notice_of(request)}, status_code=status_code)


def escalations_page(request: Request) -> Response:
    """Feedback escalated to oversight: awaiting a response first."""
    actor = staff_page(request, Action.FEEDBACK_READ)
    if isinstance(actor, Response):
        return actor
    return _escalations(request, actor)


def respond(request: Request) -> Response:
    """Publish oversight's response to one escalated item."""
    posted = form_about(request, Action.ESCALATION_RESPOND, "feedback_id", "feedback")
    if isinstance(posted, Response):
        return posted
    actor, form, feedback_id = posted
    key, revision_key = f"response-{feedback_id}", f"revision-{feedback_id}"
    reader = FormReader(form)
    data = reader.build(OversightResponseIn, {"response": reader.text(key),
                                              "revision_reason": reader.optional(revision_key)})
    if data is not None:
        try:
            objections.respond_to_escalation(platform_of(request), actor, feedback_id, data)
        except GovernanceError as exc:
            where, message = service_problem(exc)
            reader.problems[where if where == "revision_reason" else "response"] = message
        else:
            return done(request, "staff_escalations", "oversight_responded",
                        f"#escalation-{feedback_id}")
    errors = {revision_key if name == "revision_reason" else key: problem
              for name, problem in reader.problems.items()}
    return _escalations(request, actor, reader.values, errors, status_code=422)


def hearing(request: Request) -> Response:
    """Record oversight's hearing of a collective objection (published)."""
    return _on_collective(
        request, Action.COLLECTIVE_HEARING, "hearing", "hearing_recorded",
        lambda reader, i: reader.build(HearingIn, {"held_on": reader.text(f"held-{i}"),
                                                   "record": reader.text(f"hearing-{i}")}),
        collective.record_hearing)


def hide_collective(request: Request) -> Response:
    """Withhold a collective objection's text for abuse, with a published reason (the rule
    and power of feedback's moderation; the objection and its signatures stay)."""
    return _on_collective(
        request, Action.FEEDBACK_MODERATE, "collective-reason", "hidden",
        lambda reader, i: reader.build(ModerationIn,
                                       {"reason": reader.text(f"collective-reason-{i}")}),
        collective.hide_collective_text)


def _on_collective(request: Request, action: Action, field: str, notice: str,
                         read: Callable[[FormReader, int], Any],
                         act: Callable[[Platform, Actor, int, Any], Any]) -> Response:
    """A form under a collective objection on the escalations page: the power, the
    objection, the input (``read``), the use case (``act``); done, or the page again with
    what was wrong under the form's ``field``."""
    posted = form_about(request, action, "objection_id", "collective objection")
    if isinstance(posted, Response):
        return posted
    actor, form, objection_id = posted
    reader = FormReader(form)
    key = f"{field}-{objection_id}"
    data = read(reader, objection_id)
    if data is not None:
        try:
            act(platform_of(request), actor, objection_id, data)
        except NotFound as exc:
            return not_found(request, str(exc))
        except GovernanceError as exc:
            reader.problems[key] = service_problem(exc)[1]
        else:
            return done(request, "staff_escalations", notice, f"#collective-{objection_id}")
    problem = "; ".join(reader.problems.values())
    return _escalations(request, actor, reader.values, {key: problem}, status_code=422)


def mailbox(request: Request) -> Response:
    """The demo's local mailbox: what the platform sent or queued (404 outside the demo)."""
    actor = staff_page(request, Action.MAILBOX_READ)
    if isinstance(actor, Response):
        return actor
    try:
        emails = mailer.demo_mailbox(platform_of(request), actor)
    except NotFound as exc:
        return not_found(request, str(exc))
    return staff_render(request, actor, "staff_mailbox.html", {"emails": emails})


BASE = "/staff/deployments/{deployment_id:int}/feedback"

routes = [
    StaffRoute(BASE, inbox, action=Action.FEEDBACK_READ, methods=["GET"], name="staff_feedback"),
    StaffRoute(f"{BASE}/{{feedback_id:int}}/answer",
               _feedback_route("answer", "answered", consultations.answer_feedback, AnswerIn,
                               "answer", Action.FEEDBACK_ANSWER),
               action=Action.FEEDBACK_ANSWER, methods=["POST"], name="staff_answer_feedback"),
    StaffRoute(f"{BASE}/{{feedback_id:int}}/hide",
               _feedback_route("reason", "hidden", consultations.hide_feedback, ModerationIn,
                               "reason", Action.FEEDBACK_MODERATE),
               action=Action.FEEDBACK_MODERATE, methods=["POST"], name="staff_hide_feedback"),
    StaffRoute("/staff/escalations", escalations_page, action=Action.FEEDBACK_READ,
               methods=["GET"], name="staff_escalations"),
    StaffRoute("/staff/escalations/{feedback_id:int}/respond", respond,
               action=Action.ESCALATION_RESPOND, methods=["POST"], name="staff_respond_escalation"),
    StaffRoute("/staff/mailbox", mailbox, action=Action.MAILBOX_READ, methods=["GET"],
               name="staff_mailbox"),
    StaffRoute("/staff/collective/{objection_id:int}/hearing", hearing,
               action=Action.COLLECTIVE_HEARING, methods=["POST"], name="staff_collective_hearing"),
    StaffRoute("/staff/collective/{objection_id:int}/hide", hide_collective,
               action=Action.FEEDBACK_MODERATE, methods=["POST"], name="staff_hide_collective"),
]
