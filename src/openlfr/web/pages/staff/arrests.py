"""What followed an arrest: a deployment's arrests after alerts, and a form for each to
record what came of it (charged, cautioned, released without charge, no further action)
while its window is open. Counted in the deployment records and the annual report."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from openlfr.governance.errors import GovernanceError
from openlfr.governance.outcomes import LaterOutcome
from openlfr.services import outcomes
from openlfr.services.platform import Actor
from openlfr.services.powers import Action
from openlfr.storage import models as m
from openlfr.web.pages.rendering import platform_of
from openlfr.web.pages.staff.common import (
    deployment_form,
    deployment_page,
    done,
    notice_of,
    problem_status,
    service_problem,
)
from openlfr.web.pages.staff_access import StaffRoute, staff_render

BASE = "/staff/deployments/{deployment_id:int}"


def _page(request: Request, actor: Actor, d: m.Deployment, errors: dict[int, str] | None = None,
          status_code: int = 200) -> Response:
    p = platform_of(request)
    return staff_render(request, actor, "staff_arrests.html", {
        "d": d, "arrests": outcomes.arrests_of(p, actor, d.id), "choices": list(LaterOutcome),
        "window_days": p.settings.later_outcome_window_days, "errors": errors or {},
        "notice": notice_of(request)}, status_code=status_code)


def arrests_page(request: Request) -> Response:
    checked = deployment_page(request, Action.LATER_OUTCOME_RECORD)
    if isinstance(checked, Response):
        return checked
    return _page(request, *checked)


def record(request: Request) -> Response:
    checked = deployment_form(request, Action.LATER_OUTCOME_RECORD)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    sent = str(form.get("alert_id") or "")
    alert_id = int(sent) if sent.isdigit() and len(sent) < 10 else 0
    try:
        data = outcomes.LaterOutcomeIn.model_validate(
            {"later_outcome": str(form.get("later_outcome") or "")})
    except ValueError:
        return _page(request, actor, d, {alert_id: "choose what followed the arrest"}, 422)
    if alert_id not in {a.alert_id for a in outcomes.arrests_of(platform_of(request), actor,
                                                                d.id)}:
        return _page(request, actor, d, {alert_id: "no such arrest in this deployment"}, 404)
    try:
        outcomes.record_later_outcome(platform_of(request), actor, alert_id, data)
    except GovernanceError as exc:
        return _page(request, actor, d, {alert_id: service_problem(exc)[1]},
                     problem_status(exc))
    return done(request, "staff_arrests", "later_outcome", f"#alert-{alert_id}",
                deployment_id=d.id)


routes = [
    StaffRoute(f"{BASE}/arrests", arrests_page, action=Action.LATER_OUTCOME_RECORD,
               methods=["GET"], name="staff_arrests"),
    StaffRoute(f"{BASE}/arrests", record, action=Action.LATER_OUTCOME_RECORD,
               methods=["POST"], name="staff_arrests_record"),
]
