"""The gate checklist: every gate with its plain-English reason, as the service reports
it now, and the overrides of the deployment. An authoriser authorises when all pass, or
asks for an override of the failing ones with a written justification; a member of
oversight (another person) countersigns it here with their own, and only then does the
deployment move. Failures no override can set aside are marked as such. An operator or
an authoriser activates from the same page; the gates run again then. Once completed,
reviewed or cancelled, the page shows the gates as they stood at authorisation and at
activation (the decisions' record), not the gates run again against ended records."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from openlfr.governance.errors import GatesFailed, GovernanceError
from openlfr.governance.gates import GateReport
from openlfr.governance.lifecycle import Transition
from openlfr.governance.overrides import OverrideStatus
from openlfr.services import deployments as deployment_service
from openlfr.services import overrides, public_view
from openlfr.services.deployments import TRANSITION_POWERS
from openlfr.services.platform import Actor
from openlfr.services.powers import Action
from openlfr.services.schemas import CountersignIn, TransitionIn
from openlfr.storage import models as m
from openlfr.web.pages.rendering import platform_of
from openlfr.web.pages.staff.common import (
    FormReader,
    deployment_form,
    deployment_page,
    done,
    may_take,
    notice_of,
    problem_status,
    service_problem,
)
from openlfr.web.pages.staff_access import StaffRoute, staff_render

#: The gated actions offered on the page, in lifecycle order.
GATED = (Transition.AUTHORISE, Transition.ACTIVATE)
#: The countersignature's form fields: the justification, and the id of the request read.
COUNTERSIGN_FIELD = "countersign_justification"
COUNTERSIGN_ID_FIELD = "override_id"


def _checklist(request: Request, actor: Actor, d: m.Deployment,
               errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
               failing_now: list[str] | None = None, status_code: int = 200) -> Response:
    p = platform_of(request)
    live = public_view.gates_rerun_meaningful(d)
    report = (deployment_service.gate_report(p, actor, d.id) if live
              else GateReport(()))
    listed = deployment_service.overrides_for(p, actor, d.id)
    return staff_render(request, actor, "staff_gates.html", {
        "d": d, "gates": report, "live": live, "decisions": public_view.decision_gates(d),
        "offered": [t for t in GATED if may_take(actor.role, t, d)],
        "never_overridable": [g for g in report.failing if not g.overridable],
        "min_justification": p.settings.override_min_justification_chars,
        "overrides": listed,
        "awaiting": next((o for o in reversed(listed)
                          if o.status == OverrideStatus.AWAITING_COUNTERSIGNATURE), None),
        "countersign_field": COUNTERSIGN_FIELD, "countersign_id_field": COUNTERSIGN_ID_FIELD,
        "errors": errors or {}, "values": values or {}, "failing_now": failing_now or [],
        "notice": notice_of(request)}, status_code=status_code)


def gate_checklist(request: Request) -> Response:
    checked = deployment_page(request, Action.DEPLOYMENT_READ)
    if isinstance(checked, Response):
        return checked
    actor, d = checked
    return _checklist(request, actor, d)


def _gated_route(transition: Transition) -> Callable[[Request], Response]:
    """Authorise or activate through the service, or ask for an override when a
    justification was written; refusals are shown on the checklist."""
    field = f"{transition.value}_justification"

    def take(request: Request) -> Response:
        checked = deployment_form(request, TRANSITION_POWERS[transition])
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
        if outcome.awaiting_countersignature:
            return done(request, "staff_gates", "override_requested", deployment_id=d.id)
        return done(request, "staff_deployment", transition.value, deployment_id=d.id)

    take.__name__ = f"staff_{transition.value}"
    return take


def countersign(request: Request) -> Response:
    """A member of oversight countersigns the override they read, named by the form's
    hidden id (the service refuses a request replaced since, the one who asked, a short
    justification, and gates that changed since)."""
    checked = deployment_form(request, Action.OVERRIDE_COUNTERSIGN)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    reader = FormReader(form)
    data = reader.build(CountersignIn, {"override_id": reader.text(COUNTERSIGN_ID_FIELD),
                                        "justification": reader.text(COUNTERSIGN_FIELD)})
    if data is None:
        problem = reader.problems.get("justification") or (
            "the form does not say which request you read; reload the page, read the "
            "request awaiting a countersignature and countersign it"
            if "override_id" in reader.problems else "write your justification")
        return _checklist(request, actor, d, {COUNTERSIGN_FIELD: problem}, reader.values,
                          status_code=422)
    try:
        overrides.countersign_override(platform_of(request), actor, d.id, data)
    except GovernanceError as exc:
        return _checklist(request, actor, d, {COUNTERSIGN_FIELD: service_problem(exc)[1]},
                          reader.values, status_code=problem_status(exc))
    return done(request, "staff_deployment", "countersigned", deployment_id=d.id)


BASE = "/staff/deployments/{deployment_id:int}"

routes = [
    StaffRoute(f"{BASE}/gates", gate_checklist, action=Action.DEPLOYMENT_READ, methods=["GET"],
               name="staff_gates"),
    StaffRoute(f"{BASE}/authorise", _gated_route(Transition.AUTHORISE),
               action=TRANSITION_POWERS[Transition.AUTHORISE], methods=["POST"],
               name="staff_authorise"),
    StaffRoute(f"{BASE}/activate", _gated_route(Transition.ACTIVATE),
               action=TRANSITION_POWERS[Transition.ACTIVATE], methods=["POST"],
               name="staff_activate"),
    StaffRoute(f"{BASE}/overrides/countersign", countersign, action=Action.OVERRIDE_COUNTERSIGN,
               methods=["POST"], name="staff_countersign"),
]
