"""Oversight: formal comments on a deployment (oversight, and councillors in their areas;
shown on the overview and published), and the council motions register: record a motion
with its points (oversight, and councillors for their areas), and publish the force's
response, point by point. Who may do which is the powers table's."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.governance.records import MotionStance
from openlfr.services import consultations
from openlfr.services import deployments as deployment_service
from openlfr.services.platform import Actor
from openlfr.services.powers import Action
from openlfr.services.public_view import area_names
from openlfr.services.schemas import CommentIn, MotionIn, MotionResponseIn
from openlfr.web.pages.rendering import not_found, platform_of
from openlfr.web.pages.staff.common import (
    FormReader,
    attempt,
    deployment_form,
    done,
    notice_of,
    path_id,
    service_problem,
)
from openlfr.web.pages.staff.deployments import overview
from openlfr.web.pages.staff_access import StaffRoute, staff_form, staff_page, staff_render


def add_comment(request: Request) -> Response:
    """Record a formal comment; errors are shown on the deployment overview."""
    checked = deployment_form(request, Action.COMMENT_RECORD)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    reader = FormReader(form)
    data = reader.build(CommentIn, {"body": reader.text("comment_body")})
    if data is not None:
        try:
            deployment_service.add_comment(platform_of(request), actor, d.id, data)
        except GovernanceError as exc:
            reader.problems["body"] = service_problem(exc)[1]
        else:
            return done(request, "staff_deployment", "comment", "#comments", deployment_id=d.id)
    problem = reader.problems.get("body") or next(iter(reader.problems.values()))
    return overview(request, actor, d, {"comment_body": problem}, reader.values, 422)


# --- council motions ------------------------------------------------------------------------


def _register(request: Request, actor: Actor, values: dict[str, str] | None = None,
              errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    p = platform_of(request)
    motions = consultations.list_motions(p, actor)
    return staff_render(request, actor, "staff_motions.html", {
        "motions": motions, "area_names": {x.id: area_names(p, x.area_codes) for x in motions},
        "stances": list(MotionStance), "values": values or {},
        "errors": errors or {}, "notice": notice_of(request)}, status_code=status_code)


def motions_page(request: Request) -> Response:
    actor = staff_page(request, Action.MOTION_READ)
    if isinstance(actor, Response):
        return actor
    return _register(request, actor)


def record_motion(request: Request) -> Response:
    checked = staff_form(request, Action.MOTION_RECORD)
    if isinstance(checked, Response):
        return checked
    actor, form = checked
    reader = FormReader(form)
    data = reader.build(MotionIn, {
        "body": reader.text("body"), "passed_on": reader.text("passed_on"),
        "stance": reader.text("stance"), "summary": reader.text("summary"),
        "link": reader.optional("link"), "areas": reader.lines("areas"),
        "points": reader.lines("points")})
    p = platform_of(request)
    refused = 422 if data is None else attempt(
        reader, lambda: consultations.record_motion(p, actor, data))
    if refused is None:
        return done(request, "staff_motions", "motion_recorded")
    return _register(request, actor, reader.values, reader.problems, status_code=refused)


def respond_to_motion(request: Request) -> Response:
    checked = staff_form(request, Action.MOTION_RESPOND)
    if isinstance(checked, Response):
        return checked
    actor, form = checked
    p = platform_of(request)
    motion_id = path_id(request, "motion_id")
    try:
        if motion_id is None:
            raise NotFound("no such council motion")
        motion = consultations.get_motion(p, actor, motion_id)
    except NotFound as exc:
        return not_found(request, str(exc))
    key = f"response-{motion_id}"
    reader = FormReader(form)
    data = reader.build(MotionResponseIn, {
        "response": reader.text(key),
        "point_answers": [reader.text(f"{key}-point-{n}") for n in range(len(motion.points))],
        "revision_reason": reader.optional(f"{key}-revision")})
    if data is not None:
        try:
            consultations.respond_to_motion(p, actor, motion_id, data)
        except GovernanceError as exc:
            where, message = service_problem(exc)
            reader.problems[where] = message
        else:
            return done(request, "staff_motions", "motion_response", f"#motion-{motion_id}")
    errors: dict[str, str] = {}
    for name, problem in reader.problems.items():
        # "point_answers.1" is the second point's box; the reason has its own.
        if name.startswith("point_answers."):
            errors[f"{key}-point-{name.rsplit('.', 1)[1]}"] = problem
        elif name == "revision_reason":
            errors[f"{key}-revision"] = problem
        else:
            errors.setdefault(key, problem)
    return _register(request, actor, reader.values, errors, status_code=422)


routes = [
    StaffRoute("/staff/deployments/{deployment_id:int}/comments", add_comment,
               action=Action.COMMENT_RECORD, methods=["POST"], name="staff_comment"),
    StaffRoute("/staff/motions", motions_page, action=Action.MOTION_READ, methods=["GET"],
               name="staff_motions"),
    StaffRoute("/staff/motions", record_motion, action=Action.MOTION_RECORD, methods=["POST"],
               name="staff_record_motion"),
    StaffRoute("/staff/motions/{motion_id:int}/response", respond_to_motion,
               action=Action.MOTION_RESPOND, methods=["POST"], name="staff_motion_response"),
]
