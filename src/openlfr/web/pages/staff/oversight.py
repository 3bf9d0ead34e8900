"""Oversight: formal comments on a deployment (oversight members; shown on the overview
and published), and the council motions register: record a motion (oversight or
planner), and publish the force's response to one (planner or authoriser). The roles are
the API's (``web/api/deployments.py`` and ``web/api/motions.py``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.governance.records import MotionStance
from openlfr.services import consultations
from openlfr.services import deployments as deployment_service
from openlfr.services.platform import Actor, Role
from openlfr.services.schemas import CommentIn, MotionIn, MotionResponseIn
from openlfr.web.pages.rendering import not_found, platform_of
from openlfr.web.pages.staff.common import (
    FORM,
    FormReader,
    attempt,
    deployment_form,
    done,
    notice_of,
    path_id,
    service_problem,
)
from openlfr.web.pages.staff.deployments import overview
from openlfr.web.pages.staff_access import staff_form, staff_page, staff_render

COMMENTERS = (Role.OVERSIGHT,)
MOTION_RECORDERS = (Role.OVERSIGHT, Role.PLANNER)
MOTION_RESPONDERS = (Role.PLANNER, Role.AUTHORISER)
MOTION_READERS = tuple(dict.fromkeys(MOTION_RECORDERS + MOTION_RESPONDERS))


async def add_comment(request: Request) -> Response:
    """Record a formal comment; errors are shown on the deployment overview."""
    checked = await deployment_form(request, *COMMENTERS)
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
    return staff_render(request, actor, "staff_motions.html", {
        "motions": consultations.list_motions(platform_of(request)),
        "stances": list(MotionStance), "may_record": actor.role in MOTION_RECORDERS,
        "may_respond": actor.role in MOTION_RESPONDERS, "values": values or {},
        "errors": errors or {}, "notice": notice_of(request)}, status_code=status_code)


def motions_page(request: Request) -> Response:
    actor = staff_page(request, *MOTION_READERS)
    if isinstance(actor, Response):
        return actor
    return _register(request, actor)


async def record_motion(request: Request) -> Response:
    checked = await staff_form(request, *MOTION_RECORDERS)
    if isinstance(checked, Response):
        return checked
    actor, form = checked
    reader = FormReader(form)
    data = reader.build(MotionIn, {
        "body": reader.text("body"), "passed_on": reader.text("passed_on"),
        "stance": reader.text("stance"), "summary": reader.text("summary"),
        "link": reader.optional("link"), "areas": reader.lines("areas")})
    p = platform_of(request)
    if data is not None and attempt(
            reader, lambda: consultations.record_motion(p, actor, data)):
        return done(request, "staff_motions", "motion_recorded")
    return _register(request, actor, reader.values, reader.problems, status_code=422)


async def respond_to_motion(request: Request) -> Response:
    checked = await staff_form(request, *MOTION_RESPONDERS)
    if isinstance(checked, Response):
        return checked
    actor, form = checked
    p = platform_of(request)
    motion_id = path_id(request, "motion_id")
    try:
        if motion_id is None:
            raise NotFound("no such council motion")
        consultations.get_motion(p, motion_id)
    except NotFound as exc:
        return not_found(request, str(exc))
    key = f"response-{motion_id}"
    reader = FormReader(form)
    data = reader.build(MotionResponseIn, {"response": reader.text(key)})
    if data is not None:
        try:
            consultations.respond_to_motion(p, actor, motion_id, data)
        except GovernanceError as exc:
            reader.problems[FORM] = service_problem(exc)[1]
        else:
            return done(request, "staff_motions", "motion_response", f"#motion-{motion_id}")
    problem = reader.problems.get("response") or next(iter(reader.problems.values()))
    return _register(request, actor, reader.values, {key: problem}, status_code=422)


STAFF_PATHS = ("/staff/deployments/{deployment_id:int}/comments", "/staff/motions",
               "/staff/motions/{motion_id:int}/response")

routes = [
    Route("/staff/deployments/{deployment_id:int}/comments", add_comment, methods=["POST"],
          name="staff_comment"),
    Route("/staff/motions", motions_page, methods=["GET"], name="staff_motions"),
    Route("/staff/motions", record_motion, methods=["POST"], name="staff_record_motion"),
    Route("/staff/motions/{motion_id:int}/response", respond_to_motion, methods=["POST"],
          name="staff_motion_response"),
]
