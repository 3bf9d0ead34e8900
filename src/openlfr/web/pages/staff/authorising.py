"""The gate checklist: every gate with its plain-English reason, as the service reports
it now. An authoriser authorises when all pass, or overrides the failing ones with a
written justification (the service enforces its length; the override is published).
An operator or an authoriser activates from the same page; the gates run again then."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openlfr.governance.errors import GatesFailed, GovernanceError
from openlfr.governance.lifecycle import Transition
from openlfr.services import deployments as deployment_service
from openlfr.services.deployments import TRANSITION_ROLES
from openlfr.services.platform import Actor, Role
from openlfr.services.schemas import TransitionIn
from openlfr.storage import models as m
from openlfr.web.pages.rendering import platform_of
from openlfr.web.pages.staff.common import (
    FormReader,
    deployment_form,
    deployment_page,
    done,
    may,
    problem_status,
    service_problem,
)
from openlfr.web.pages.staff_access import staff_render

#: Who uses the checklist: those who authorise or activate.
CHECKLIST_ROLES = tuple(dict.fromkeys(TRANSITION_ROLES[Transition.AUTHORISE]
                                      + TRANSITION_ROLES[Transition.ACTIVATE]))
#: The gated actions offered on the page, in lifecycle order.
GATED = (Transition.AUTHORISE, Transition.ACTIVATE)


def _checklist(request: Request, actor: Actor, d: m.Deployment,
               errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
               failing_now: list[str] | None = None, status_code: int = 200) -> Response:
    p = platform_of(request)
    report = deployment_service.gate_report(p, d.id)
    return staff_render(request, actor, "staff_gates.html", {
        "d": d, "gates": report, "offered": [t for t in GATED if may(actor, t, d.status)],
        # Only an authoriser may override (the service refuses anyone else).
        "may_override": actor.role is Role.AUTHORISER,
        "min_justification": p.settings.override_min_justification_chars,
        "overrides": deployment_service.overrides_for(p, d.id),
        "errors": errors or {}, "values": values or {}, "failing_now": failing_now or []},
        status_code=status_code)


def gate_checklist(request: Request) -> Response:
    checked = deployment_page(request, *CHECKLIST_ROLES)
    if isinstance(checked, Response):
        return checked
    actor, d = checked
    return _checklist(request, actor, d)


def _gated_route(transition: Transition) -> Callable[[Request], Awaitable[Response]]:
    """Authorise or activate through the service, with the override justification when
    one was written; refusals are shown on the checklist."""
    field = f"{transition.value}_justification"

    async def take(request: Request) -> Response:
        checked = await deployment_form(request, *TRANSITION_ROLES[transition])
        if isinstance(checked, Response):
            return checked
        actor, form, d = checked
        reader = FormReader(form)
        data: TransitionIn | None = reader.build(TransitionIn, {
            "override_justification": reader.optional(field)})
        if data is None:
            problem = reader.problems.get("override_justification", "")
            return _checklist(request, actor, d, {field: problem}, {field: reader.values[field]},
                              status_code=422)
        try:
            outcome = deployment_service.transition_deployment(
                platform_of(request), actor, d.id, transition,
                override_justification=data.override_justification)
        except GatesFailed as exc:
            return _checklist(request, actor, d, {field: str(exc)}, reader.values,
                              [g.name for g in exc.failing], status_code=409)
        except GovernanceError as exc:
            return _checklist(request, actor, d, {field: service_problem(exc)[1]},
                              reader.values, status_code=problem_status(exc))
        notice = transition.value + ("_override" if outcome.override is not None else "")
        return done(request, "staff_deployment", notice, deployment_id=d.id)

    take.__name__ = f"staff_{transition.value}"
    return take


BASE = "/staff/deployments/{deployment_id:int}"

STAFF_PATHS = (f"{BASE}/gates", f"{BASE}/authorise", f"{BASE}/activate")

routes = [
    Route(f"{BASE}/gates", gate_checklist, methods=["GET"], name="staff_gates"),
    Route(f"{BASE}/authorise", _gated_route(Transition.AUTHORISE), methods=["POST"],
          name="staff_authorise"),
    Route(f"{BASE}/activate", _gated_route(Transition.ACTIVATE), methods=["POST"],
          name="staff_activate"),
]
