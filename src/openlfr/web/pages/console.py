"""The operator console: a deployment's alerts as they arrive, the face the camera saw
beside the watchlist's photo, to confirm or dismiss and then record what happened; live
counters; activating and completing the deployment.

The page works without JavaScript: it lists the alerts as they stood when it was rendered,
and its forms post to the staff paths below. With JavaScript (``static/console.js``) it
follows the live stream (``GET /api/deployments/{id}/live``, resumed from the position the
page was rendered at) and sends decisions to the JSON API. Decisions are taken by the
same use cases either way; this module decides nothing itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from openlfr.governance.errors import GatesFailed, GovernanceError, InvalidInput, NotFound
from openlfr.governance.lifecycle import Transition
from openlfr.governance.records import Adjudication, AlertOutcome
from openlfr.services import alerts as alert_service
from openlfr.services import deployments as deployment_service
from openlfr.services import live
from openlfr.services.deployments import TRANSITION_POWERS
from openlfr.services.platform import Actor
from openlfr.services.powers import Action
from openlfr.services.public_view import status_text
from openlfr.services.schemas import AdjudicationIn, OutcomeIn
from openlfr.web.pages.rendering import not_found, platform_of
from openlfr.web.pages.staff.common import form_about, path_id
from openlfr.web.pages.staff_access import StaffRoute, staff_form, staff_page, staff_render

#: How each decision is offered (the API's values, in the order of the buttons).
ADJUDICATION_LABELS: dict[str, str] = {
    Adjudication.TRUE_MATCH.value: "Confirm: true match",
    Adjudication.FALSE_MATCH.value: "Dismiss: false alert",
    Adjudication.UNCLEAR.value: "Unclear",
}
#: What the card says about an alert's decision.
ADJUDICATION_STATES: dict[str, str] = {
    Adjudication.PENDING.value: "Waiting for a decision",
    Adjudication.TRUE_MATCH.value: "Confirmed: true match",
    Adjudication.FALSE_MATCH.value: "Dismissed: false alert",
    Adjudication.UNCLEAR.value: "Unclear",
}
#: The outcomes, as officers describe them, in the order offered.
OUTCOME_LABELS: dict[str, str] = {
    AlertOutcome.NOT_ENGAGED.value: "No stop (not engaged)",
    AlertOutcome.WORDS_OF_ADVICE.value: "Spoken to (words of advice)",
    AlertOutcome.ARREST.value: "Arrested",
    AlertOutcome.NO_FURTHER_ACTION.value: "Stopped, no further action",
    AlertOutcome.SAFEGUARDING.value: "Safeguarding",
    AlertOutcome.OTHER.value: "Other",
}

NOTICES: dict[str, str] = {
    "activated": "The deployment is active: the engine node may fetch the watchlist, and "
                 "alerts will appear here.",
    "override_requested": "The override was asked for. The deployment has not moved: it is "
                          "activated only when a member of oversight countersigns it.",
    "completed": "The deployment is completed: the engine is refused from now on and the "
                 "watchlist was destroyed.",
    "adjudicated": "The decision was recorded.",
    "outcome": "The outcome was recorded.",
}


def _console(request: Request, actor: Actor, deployment_id: int, *,
             error: str | None = None, failing_gates: list[Any] | None = None,
             card_errors: dict[int, str] | None = None, status_code: int = 200) -> Response:
    """Render the console (or the 404 page for an unknown deployment)."""
    p = platform_of(request)
    try:
        view = live.console_view(p, actor, deployment_id)
    except NotFound as exc:
        return not_found(request, str(exc))
    notice = NOTICES.get(request.query_params.get("done", "")) if error is None else None
    return staff_render(request, actor, "console.html", {
        "view": view, "d": view.deployment, "state": view.state, "counters": view.counters,
        "status_text": status_text(view.deployment.status, view.went_ahead_despite),
        "live_url": f"/api/deployments/{deployment_id}/live?after={view.position}",
        "adjudication_labels": ADJUDICATION_LABELS,
        "adjudication_states": ADJUDICATION_STATES, "outcome_labels": OUTCOME_LABELS,
        "demographic_groups": p.settings.demographic_groups, "notice": notice,
        "error": error, "failing_gates": failing_gates or [],
        "card_errors": card_errors or {},
        "changes_need_reason": alert_service.has_ended(view.deployment, p.clock())},
        status_code=status_code)


def console_page(request: Request) -> Response:
    """The console, for operators (who decide) and authorisers (who watch)."""
    actor = staff_page(request, Action.CONSOLE_WATCH)
    if isinstance(actor, Response):
        return actor
    deployment_id = path_id(request, "deployment_id")
    if deployment_id is None:
        return not_found(request, "no such deployment")
    return _console(request, actor, deployment_id)


def _back(request: Request, deployment_id: int, done: str, anchor: str = "") -> Response:
    """After a successful post, back to the console (a reload does not post again)."""
    url = request.url_for("console", deployment_id=deployment_id).include_query_params(
        done=done)
    return RedirectResponse(f"{url}{anchor}", status_code=303)


def _problem(exc: ValidationError | GovernanceError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}"
                         for e in exc.errors())
    if isinstance(exc, InvalidInput):
        return f"{exc.field.replace('_', ' ')}: {exc.message}"
    return str(exc)


def _alert_form(request: Request) -> tuple[Actor, int, int, dict[str, str]] | Response:
    """An operator's form about one of this deployment's alerts: the actor, deployment id,
    alert id and fields; or the response to send instead."""
    checked = staff_form(request, Action.ALERT_DECIDE)
    if isinstance(checked, Response):
        return checked
    actor, form = checked
    deployment_id, alert_id = path_id(request, "deployment_id"), path_id(request, "alert_id")
    if deployment_id is None or alert_id is None:
        return not_found(request, "no such alert")
    try:
        listed = alert_service.list_alerts(platform_of(request), actor, deployment_id)
    except NotFound as exc:
        return not_found(request, str(exc))
    if alert_id not in {a.id for a in listed}:
        return not_found(request, f"deployment {deployment_id} has no alert {alert_id}")
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    return actor, deployment_id, alert_id, fields


def adjudicate(request: Request) -> Response:
    """Confirm, dismiss or mark unclear (the no-JavaScript form)."""
    checked = _alert_form(request)
    if isinstance(checked, Response):
        return checked
    actor, deployment_id, alert_id, fields = checked
    try:
        data = AdjudicationIn.model_validate({"adjudication": fields.get("adjudication"),
                                              "reason": fields.get("reason", "").strip() or None})
        alert_service.adjudicate_alert(platform_of(request), actor, alert_id, data)
    except (ValidationError, GovernanceError) as exc:
        return _console(request, actor, deployment_id, card_errors={alert_id: _problem(exc)},
                        status_code=409 if isinstance(exc, GovernanceError) else 422)
    return _back(request, deployment_id, "adjudicated", f"#alert-{alert_id}")


def record_outcome(request: Request) -> Response:
    """Record what happened, and optionally the demographic group (no-JavaScript form)."""
    checked = _alert_form(request)
    if isinstance(checked, Response):
        return checked
    actor, deployment_id, alert_id, fields = checked
    try:
        data = OutcomeIn.model_validate({
            "outcome": fields.get("outcome"),
            "demographic_group": fields.get("demographic_group", "").strip() or None,
            "reason": fields.get("reason", "").strip() or None})
        alert_service.record_outcome(platform_of(request), actor, alert_id, data)
    except (ValidationError, GovernanceError) as exc:
        return _console(request, actor, deployment_id, card_errors={alert_id: _problem(exc)},
                        status_code=409 if isinstance(exc, GovernanceError) else 422)
    return _back(request, deployment_id, "outcome", f"#alert-{alert_id}")


def _lifecycle_route(transition: Transition,
                     done: str) -> Callable[[Request], Response]:
    """Activate or complete, after the confirmation step on the page; refusals (failing
    gates with their reasons, outside the window, wrong status) are shown on the console."""

    def take(request: Request) -> Response:
        posted = form_about(request, TRANSITION_POWERS[transition], "deployment_id",
                                  "deployment")
        if isinstance(posted, Response):
            return posted
        actor, form, deployment_id = posted
        if form.get("confirm") != "yes":
            return _console(request, actor, deployment_id, status_code=422, error=(
                f"Confirm that you want to {transition.value} the deployment: open the "
                f"{transition.value} step and press its button."))
        justification = str(form.get("override_justification") or "").strip() or None
        p = platform_of(request)
        try:
            outcome = deployment_service.transition_deployment(
                p, actor, deployment_id, transition, override_justification=justification)
        except NotFound as exc:
            return not_found(request, str(exc))
        except GatesFailed as exc:
            return _console(request, actor, deployment_id, error=str(exc),
                            failing_gates=exc.failing, status_code=409)
        except GovernanceError as exc:
            return _console(request, actor, deployment_id, error=_problem(exc),
                            status_code=422 if isinstance(exc, InvalidInput) else 409)
        return _back(request, deployment_id,
                     "override_requested" if outcome.awaiting_countersignature else done)

    take.__name__ = f"console_{transition.value}"
    return take


BASE = "/staff/deployments/{deployment_id:int}/console"
ALERT = BASE + "/alerts/{alert_id:int}"

routes = [
    StaffRoute(BASE, console_page, action=Action.CONSOLE_WATCH, methods=["GET"], name="console"),
    StaffRoute(f"{BASE}/activate", _lifecycle_route(Transition.ACTIVATE, "activated"),
               action=TRANSITION_POWERS[Transition.ACTIVATE], methods=["POST"],
               name="console_activate"),
    StaffRoute(f"{BASE}/complete", _lifecycle_route(Transition.COMPLETE, "completed"),
               action=TRANSITION_POWERS[Transition.COMPLETE], methods=["POST"],
               name="console_complete"),
    StaffRoute(f"{ALERT}/adjudication", adjudicate, action=Action.ALERT_DECIDE,
               methods=["POST"], name="console_adjudicate"),
    StaffRoute(f"{ALERT}/outcome", record_outcome, action=Action.ALERT_DECIDE, methods=["POST"],
               name="console_outcome"),
]
