"""Staff home: every deployment grouped by status with the next action this role can
take on it, the feedback still awaiting an answer with its due date (overdue first and
highlighted), and links to the other staff pages."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from openlfr.governance.lifecycle import DeploymentStatus
from openlfr.services import consultations
from openlfr.services import deployments as deployment_service
from openlfr.services.powers import Action
from openlfr.storage import models as m
from openlfr.web.pages.rendering import platform_of
from openlfr.web.pages.staff.common import NextAction, actions_for, overdue
from openlfr.web.pages.staff.deployments import record_links
from openlfr.web.pages.staff_access import StaffRoute, staff_page, staff_render


@dataclass(frozen=True)
class Listed:
    deployment: m.Deployment
    actions: list[NextAction]
    links: list[tuple[str, str, str]]


@dataclass(frozen=True)
class Awaiting:
    feedback: m.Feedback
    deployment: m.Deployment
    overdue: bool


def staff_home(request: Request) -> Response:
    actor = staff_page(request, Action.DEPLOYMENT_READ)
    if isinstance(actor, Response):
        return actor
    p = platform_of(request)
    now = p.clock()
    by_status: dict[DeploymentStatus, list[Listed]] = {s: [] for s in DeploymentStatus}
    for d in deployment_service.list_deployments(p, actor):
        by_status[DeploymentStatus(d.status)].append(
            Listed(d, actions_for(d, actor.role), record_links(d, actor.role)))
    awaiting = [Awaiting(f, d, overdue(f, now))
                for f, d in consultations.feedback_awaiting_answer(p, actor)]
    return staff_render(request, actor, "staff_home.html", {
        "groups": [(status, items) for status, items in by_status.items() if items],
        "awaiting": awaiting, "overdue_count": sum(1 for a in awaiting if a.overdue)})


routes = [StaffRoute("/staff", staff_home, action=Action.DEPLOYMENT_READ, methods=["GET"],
                     name="staff_home")]
