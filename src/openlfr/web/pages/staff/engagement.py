"""The engagement log: every event (when, how, for whom, how many came, what was handed
out, what people asked), a form to log another, and who the engagement reached: the
resident share against the share required, the same numbers the engagement gate reads,
with the gate's own verdict."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openlfr.governance.errors import GovernanceError
from openlfr.governance.records import RESIDENT_FACING_AUDIENCES, AudienceCategory, EngagementFormat
from openlfr.services import assessments, portal
from openlfr.services import deployments as deployment_service
from openlfr.services.platform import Actor, Role
from openlfr.services.schemas import EngagementEventIn
from openlfr.storage import models as m
from openlfr.web.pages.rendering import platform_of
from openlfr.web.pages.staff.common import (
    FORM,
    GOVERNANCE_READERS,
    FormReader,
    attempt,
    deployment_form,
    deployment_page,
    done,
    notice_of,
    path_id,
)
from openlfr.web.pages.staff_access import staff_render

#: The gate whose verdict the page shows beside the numbers.
ENGAGEMENT_GATE = "engagement_reach"
#: Logging and removing events is the planner's (as in the API).
LOGGERS = (Role.PLANNER,)


def _log_page(request: Request, actor: Actor, d: m.Deployment,
              values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
              status_code: int = 200) -> Response:
    p = platform_of(request)
    gate = next(g for g in deployment_service.gate_report(p, d.id).results
                if g.name == ENGAGEMENT_GATE)
    return staff_render(request, actor, "staff_engagement.html", {
        "d": d, "events": assessments.list_engagement_events(p, d.id),
        "reach": portal.engagement_reach(p, d.id), "gate": gate,
        "formats": list(EngagementFormat), "audiences": list(AudienceCategory),
        "resident_facing": {a.value for a in RESIDENT_FACING_AUDIENCES},
        "may_log": actor.role in LOGGERS, "values": values or {}, "errors": errors or {},
        "notice": notice_of(request)}, status_code=status_code)


def engagement_page(request: Request) -> Response:
    checked = deployment_page(request, *GOVERNANCE_READERS)
    if isinstance(checked, Response):
        return checked
    actor, d = checked
    return _log_page(request, actor, d)


async def add_event(request: Request) -> Response:
    """Log an event through the assessments service."""
    checked = await deployment_form(request, *LOGGERS)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    reader = FormReader(form)
    data = reader.build(EngagementEventIn, {
        "held_on": reader.text("held_on"), "format": reader.text("format"),
        "audience": reader.text("audience"), "attendees": reader.text("attendees"),
        "materials": reader.text("materials"),
        "questions_raised": reader.lines("questions_raised")})
    p = platform_of(request)
    if data is not None and attempt(
            reader, lambda: assessments.add_engagement_event(p, actor, d.id, data)):
        return done(request, "staff_engagement", "engagement_added", deployment_id=d.id)
    return _log_page(request, actor, d, reader.values, reader.problems, status_code=422)


async def delete_event(request: Request) -> Response:
    """Remove an event logged in error (the service audits the removal)."""
    checked = await deployment_form(request, *LOGGERS)
    if isinstance(checked, Response):
        return checked
    actor, _, d = checked
    event_id = path_id(request, "event_id")
    try:
        if event_id is None:
            raise GovernanceError(f"engagement event is not on deployment {d.id}")
        assessments.delete_engagement_event(platform_of(request), actor, d.id, event_id)
    except GovernanceError as exc:
        return _log_page(request, actor, d, errors={FORM: str(exc)}, status_code=404)
    return done(request, "staff_engagement", "engagement_deleted", deployment_id=d.id)


BASE = "/staff/deployments/{deployment_id:int}/engagement"

STAFF_PATHS = (BASE, f"{BASE}/{{event_id:int}}/delete")

routes = [
    Route(BASE, engagement_page, methods=["GET"], name="staff_engagement"),
    Route(BASE, add_event, methods=["POST"], name="staff_add_engagement"),
    Route(f"{BASE}/{{event_id:int}}/delete", delete_event, methods=["POST"],
          name="staff_delete_engagement"),
]
