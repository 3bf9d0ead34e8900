"""The feedback inbox of a deployment: every item with its kind, text and due date, and
contact details for the roles that reply (never public); answer it (or revise the
answer); hide it for abuse, and only for abuse, with a reason that is published in place
of the text. Who may do which is the powers table's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from openlfr.governance.errors import GovernanceError
from openlfr.governance.records import KINDS_NEEDING_ANSWER
from openlfr.services import consultations
from openlfr.services.platform import Actor
from openlfr.services.powers import Action
from openlfr.services.schemas import AnswerIn, ModerationIn
from openlfr.storage import models as m
from openlfr.web.pages.rendering import not_found, platform_of
from openlfr.web.pages.staff.common import (
    FormReader,
    deployment_form,
    deployment_page,
    done,
    notice_of,
    overdue,
    path_id,
    service_problem,
)
from openlfr.web.pages.staff_access import StaffRoute, staff_render


def _inbox(request: Request, actor: Actor, d: m.Deployment,
           values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
           status_code: int = 200) -> Response:
    p = platform_of(request)
    now = p.clock()
    items = consultations.list_feedback(p, actor, d.id)
    return staff_render(request, actor, "staff_feedback.html", {
        "d": d, "items": items, "overdue": {f.id for f in items if overdue(f, now)},
        "needs_answer": {k.value for k in KINDS_NEEDING_ANSWER},
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
                    action: Action) -> Callable[[Request], Awaitable[Response]]:
    """A form post on one item of the inbox: its text field (``field-<id>`` on the page)
    is validated by ``schema`` and passed to the service's ``act``."""

    async def take(request: Request) -> Response:
        checked = await deployment_form(request, action)
        if isinstance(checked, Response):
            return checked
        actor, form, d = checked
        p = platform_of(request)
        feedback_id = path_id(request, "feedback_id")
        if feedback_id not in {f.id for f in consultations.list_feedback(p, actor, d.id)}:
            return not_found(request, f"no such feedback on {d.reference}")
        key = f"{field}-{feedback_id}"
        reader = FormReader(form)
        data = reader.build(schema, {schema_field: reader.text(key)})
        if data is not None:
            try:
                act(p, actor, feedback_id, data)
            except GovernanceError as exc:
                reader.problems[schema_field] = service_problem(exc)[1]
            else:
                return done(request, "staff_feedback", notice, f"#feedback-{feedback_id}",
                            deployment_id=d.id)
        problem = reader.problems.get(schema_field) or next(iter(reader.problems.values()))
        return _inbox(request, actor, d, reader.values, {key: problem}, status_code=422)

    take.__name__ = f"staff_{notice}_feedback"
    return take


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
]
