"""What the staff pages share: reading forms (lines, sites, UTC times), turning the
services' errors into messages shown next to the field they concern, loading the
deployment a page is about, and the next actions a role can take.

The pages decide nothing themselves: every rule is asked of ``governance`` or of a
service, and an error the service raises is shown on the form it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from openlfr.governance.amendments import Record, notice_restarted
from openlfr.governance.errors import GovernanceError, InvalidInput, NotFound
from openlfr.governance.lifecycle import DeploymentStatus, Transition, allowed_from
from openlfr.services import amendments
from openlfr.services import deployments as deployment_service
from openlfr.services.deployments import TRANSITION_POWERS
from openlfr.services.dossier import feedback_fact
from openlfr.services.platform import Actor, PermissionDenied, Role
from openlfr.services.powers import Action, may
from openlfr.services.schemas import MAX_ID, AmendmentIn
from openlfr.storage import models as m
from openlfr.web.pages.rendering import not_found, platform_of
from openlfr.web.pages.staff_access import staff_form, staff_page

#: The key under which a problem with the whole form (not one field) is shown.
FORM = "form"

#: The form field of an amendment's reason.
AMENDMENT_REASON = "amendment_reason"

#: The format a datetime-local input sends and is given.
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


# --- reading forms ------------------------------------------------------------------------


class FormReader:
    """Reads a posted form field by field, keeping what was typed (to show it again) and
    the problems found while reading (before the input schema sees the values)."""

    def __init__(self, form: FormData) -> None:
        self.form = form
        self.values: dict[str, str] = {}
        self.problems: dict[str, str] = {}

    def text(self, name: str) -> str:
        """The field as typed ("" when absent)."""
        value = self.form.get(name)
        self.values[name] = value if isinstance(value, str) else ""
        return self.values[name]

    def optional(self, name: str) -> str | None:
        """The field, or None when left empty."""
        return self.text(name).strip() or None

    def lines(self, name: str) -> list[str]:
        """One entry per non-empty line."""
        return [line.strip() for line in self.text(name).splitlines() if line.strip()]

    def utc_moment(self, name: str) -> datetime | None:
        """A datetime-local field, read as UTC (the form says so)."""
        raw = self.text(name).strip()
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            self.problems[name] = "enter a date and time (UTC), e.g. 2026-03-22T10:00"
            return None
        if moment.tzinfo is not None:
            return moment.astimezone(UTC)
        return moment.replace(tzinfo=UTC)

    def sites(self, name: str) -> list[dict[str, Any]] | None:
        """Sites one per line as "name, latitude, longitude | street | postcode" (the name
        may hold commas; street and postcode may be left out)."""
        sites: list[dict[str, Any]] = []
        for number, line in enumerate(self.lines(name), start=1):
            place, *where = [p.strip() for p in line.split("|")]
            parts = [p.strip() for p in place.rsplit(",", 2)]
            try:
                if len(parts) != 3 or not parts[0] or len(where) > 2:
                    raise ValueError
                site: dict[str, Any] = {"name": parts[0], "lat": float(parts[1]),
                                        "lon": float(parts[2])}
            except ValueError:
                self.problems[name] = (
                    f"line {number}: write the site as \"name, latitude, longitude | street | "
                    "postcode\", e.g. \"Station forecourt, 51.4952, -0.1115 | Electric Avenue "
                    "| SW9 8JX\" (street and postcode may be left out)")
                return None
            for key, value in zip(("street", "postcode"), where, strict=False):
                if value:
                    site[key] = value
            sites.append(site)
        return sites

    def build(self, schema: type[BaseModel], data: dict[str, Any],
              whole_form_field: str = FORM, nested: str | None = None) -> Any:
        """Validate ``data`` with ``schema``; None (with the problems recorded) when the
        reading or the schema found any. Fields that could not be read are left out, so
        the problem found while reading is the one shown. ``nested`` names the part of
        ``data`` that holds the form's fields (an amendment's changes), so that their
        problems are shown next to them."""
        fields = (data.get(nested) or {}) if nested else data
        unread = {k for k in self.problems if k in fields}
        if nested:
            data = {**data, nested: {k: v for k, v in fields.items() if k not in unread}}
        try:
            result = schema.model_validate({k: v for k, v in data.items() if k not in unread})
        except ValidationError as exc:
            for field, problem in validation_problems(exc, whole_form_field, nested).items():
                self.problems.setdefault(field, problem)
            return None
        return None if self.problems else result


def validation_problems(exc: ValidationError, whole_form_field: str = FORM,
                        nested: str | None = None) -> dict[str, str]:
    """An input schema's errors by top-level field, in words; an item in a list is named
    by its line ("line 2: lat: ..."). Errors about the whole input go on
    ``whole_form_field``; those inside ``nested`` on the nested field."""
    problems: dict[str, str] = {}
    for error in exc.errors():
        loc = error["loc"]
        if nested and len(loc) > 1 and loc[0] == nested:
            loc = loc[1:]
        message = str(error["msg"]).removeprefix("Value error, ")
        field = str(loc[0]) if loc else whole_form_field
        where = [f"line {part + 1}" if isinstance(part, int) else str(part) for part in loc[1:]]
        problems.setdefault(field, ": ".join([*where, message]))
    return problems


def service_problem(exc: GovernanceError) -> tuple[str, str]:
    """The field a service's error belongs to (``FORM`` when it is about the action as a
    whole) and its message."""
    if isinstance(exc, InvalidInput):
        return exc.field, exc.message
    return FORM, str(exc)


def problem_status(exc: GovernanceError) -> int:
    """The status of a page re-rendered for a service's error, as the API answers: 422
    for a bad value, 403 for what the actor may not do (a councillor outside their
    areas), 409 for an action the current state does not allow."""
    if isinstance(exc, InvalidInput):
        return 422
    return 403 if isinstance(exc, PermissionDenied) else 409


# --- the deployment a page is about ---------------------------------------------------------


def path_id(request: Request, name: str) -> int | None:
    """A numeric id from the path, or None when the database could not hold it."""
    value = request.path_params[name]
    return value if isinstance(value, int) and 1 <= value <= MAX_ID else None


def form_about(request: Request, action: Action, id_name: str,
                     what: str) -> tuple[Actor, FormData, int] | Response:
    """A staff form posted about one thing (its id in the path as ``id_name``) by whoever
    may take ``action``: the actor, the form and the id; or the answer to give instead
    (the refusal, or the 404 page saying there is no such ``what``)."""
    checked = staff_form(request, action)
    if isinstance(checked, Response):
        return checked
    actor, form = checked
    thing_id = path_id(request, id_name)
    if thing_id is None:
        return not_found(request, f"no such {what}")
    return actor, form, thing_id


def load_deployment(request: Request, actor: Actor) -> m.Deployment | Response:
    """The deployment named by ``{deployment_id}``, or the 404 page."""
    deployment_id = path_id(request, "deployment_id")
    if deployment_id is None:
        return not_found(request, "no such deployment")
    try:
        return deployment_service.get_deployment(platform_of(request), actor, deployment_id)
    except NotFound as exc:
        return not_found(request, str(exc))


def deployment_page(request: Request, action: Action) -> tuple[Actor, m.Deployment] | Response:
    """``staff_page`` and ``load_deployment`` together: the actor and the deployment, or
    the response to send instead (login, 403 or 404)."""
    actor = staff_page(request, action)
    if isinstance(actor, Response):
        return actor
    d = load_deployment(request, actor)
    if isinstance(d, Response):
        return d
    return actor, d


def deployment_form(request: Request, action: Action
                          ) -> tuple[Actor, FormData, m.Deployment] | Response:
    """``staff_form`` and ``load_deployment`` together, for a post about a deployment."""
    checked = staff_form(request, action)
    if isinstance(checked, Response):
        return checked
    actor, form = checked
    d = load_deployment(request, actor)
    if isinstance(d, Response):
        return d
    return actor, form, d


def attempt(reader: FormReader, action: Callable[[], object]) -> int | None:
    """Run a service call; a refusal becomes a problem on the field it concerns. None
    when the call succeeded, else the status to answer with (``problem_status``)."""
    try:
        action()
    except GovernanceError as exc:
        field, message = service_problem(exc)
        reader.problems[field] = message
        return problem_status(exc)
    return None


def amend(request: Request, actor: Actor, d: m.Deployment, reader: FormReader,
          data: AmendmentIn | None, route: str) -> Response | int:
    """File an amendment read from a form: the redirect to ``route`` saying whether the
    deployment must be authorised again, or the status to show the form again with (the
    problems are then on ``reader``, named by the form's fields)."""
    made: list[m.Amendment] = []
    status_code = 422 if data is None else attempt(reader, lambda: made.append(
        amendments.amend_record(platform_of(request), actor, d.id, data)))
    if status_code is None:
        notice = ("amended_notice_restarted" if notice_restarted(made[0].changes)
                  else "amended" if made[0].status_after == d.status
                  else "amended_reauthorise")
        return done(request, route, notice, deployment_id=d.id)
    # The schema and the service name fields as the API takes them ("reason",
    # "changes.threshold", the record itself for "changes nothing").
    names = {"reason": AMENDMENT_REASON, **{r.value: FORM for r in Record}}
    reader.problems = {names.get(k, k.rpartition(".")[2]): v
                       for k, v in reader.problems.items()}
    return status_code


def done(request: Request, route: str, notice: str, anchor: str = "", **params: Any) -> Response:
    """After a successful post, go to ``route`` (so reloading does not post again),
    saying what was done."""
    url = request.url_for(route, **params).include_query_params(done=notice)
    return RedirectResponse(f"{url}{anchor}", status_code=303)


#: What the page says after a successful action (``?done=KEY``; nothing else is shown).
NOTICES: dict[str, str] = {
    "later_outcome": "What followed the arrest was recorded; the published records count it.",
    "user_added": "The person was added.",
    "user_added_held": "The account was added. It cannot log in until oversight (another "
                       "member, for an oversight or councillor account) countersigns it.",
    "user_changed": "The change was saved; their sessions were ended.",
    "user_change_held": "Asked for: a new role, areas, password or reactivation takes "
                        "effect when oversight countersigns it (another member of oversight, "
                        "for their own and councillors' accounts; a deactivation is at "
                        "once).",
    "change_countersigned": "Countersigned: the change took effect and the person's sessions "
                            "were ended.",
    "change_refused": "Refused: nothing of the change took effect; your reason is in the "
                      "audit log.",
    "password_changed": "Your password was changed. Every other session of yours was "
                        "ended; you stay logged in here.",
    "key_revoked": "The key was revoked: it no longer works.",
    "key_confirmed": "The key was confirmed: it works from now on.",
    "key_issued": "The key was issued. An operator confirms it on this page and is shown "
                  "its secret, once, to put in the van: you are never shown it.",
    "entry_published": "A new version of the register entry was published.",
    "created": "The deployment was drafted. It stays private until notice is published.",
    "updated": "The plan was saved.",
    "unchanged": "Nothing was changed.",
    "propose": "The deployment was proposed.",
    "publish_notice": "Notice was published: the deployment is now public and the notice "
                      "period has started.",
    "authorise": "The deployment was authorised.",
    "override_requested": "The override was asked for. The deployment has not moved: it "
                          "goes ahead only when a member of oversight countersigns.",
    "countersigned": "You countersigned the override: the deployment went ahead despite the "
                     "failing gates, both justifications are published and the area's "
                     "subscribers are e-mailed.",
    "activate": "The deployment was activated.",
    "complete": "The deployment was completed; its watchlist was destroyed.",
    "review": "The review was recorded and published.",
    "cancel": "The deployment was cancelled; the reason is published.",
    "reschedule": "The new dates and the reason were published and subscribers of the area "
                  "e-mailed. Notice runs again from now; the deployment must be authorised "
                  "again.",
    "comment": "Your comment was recorded and published.",
    "assessment_saved": "The assessment was saved. Saving un-publishes it until it is "
                        "published again.",
    "assessment_published": "The assessment was published.",
    "engagement_added": "The engagement event was logged.",
    "engagement_deleted": "The engagement event was removed (the audit log keeps that it was).",
    "evidence_attached": "The evidence was attached; it is published with the event.",
    "amended": "The amendment was recorded and published with its reason; the gates were "
               "checked again on the amended record.",
    "amended_reauthorise": "The amendment was recorded and published with its reason. It "
                           "changed a gate's answer: the deployment must be authorised "
                           "again.",
    "amended_notice_restarted": "The amendment was recorded, published with its reason and "
                                "e-mailed to the area's subscribers. It goes further than the "
                                "notice: the notice period runs again from now, and the "
                                "deployment must be authorised on the amended plan.",
    "answered": "The answer was published and e-mailed to its author and followers.",
    "oversight_responded": "Oversight's response was published and e-mailed to the author "
                           "and followers.",
    "hearing_recorded": "The hearing was recorded and published with the objection.",
    "hidden": "The text was hidden from the public; the public page says when and why.",
    "motion_recorded": "The motion was recorded.",
    "motion_response": "The response was published.",
}


def notice_of(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("done", ""))


# --- next actions ----------------------------------------------------------------------------


#: How each lifecycle action is offered to staff, and the page it is taken on.
ACTION_LABELS: dict[Transition, str] = {
    Transition.PROPOSE: "Propose",
    Transition.PUBLISH_NOTICE: "Publish notice",
    Transition.AUTHORISE: "Check the gates and authorise",
    Transition.ACTIVATE: "Check the gates and activate",
    Transition.COMPLETE: "Complete",
    Transition.REVIEW: "Review",
    Transition.CANCEL: "Cancel",
}
ACTION_PAGES: dict[Transition, str] = {
    Transition.AUTHORISE: "staff_gates",
    Transition.ACTIVATE: "staff_gates",
}


@dataclass(frozen=True)
class NextAction:
    transition: Transition
    label: str
    route: str


def actions_for(d: m.Deployment, role: Role) -> list[NextAction]:
    """The lifecycle actions ``role`` may take on ``d`` (cancelling aside), in lifecycle
    order: the lifecycle's transitions and the powers table."""
    return [NextAction(t, label, ACTION_PAGES.get(t, "staff_deployment"))
            for t, label in ACTION_LABELS.items()
            if t is not Transition.CANCEL and may_take(role, t, d)]


def may_take(role: Role, transition: Transition, d: m.Deployment) -> bool:
    """True when ``role`` may take ``transition`` on ``d`` as it stands (the service still
    checks everything, including the gates, when it is taken). Only the actions these
    pages offer are considered."""
    allowed = allowed_from(transition, has_run=d.activated_at is not None)
    return (transition in ACTION_LABELS and DeploymentStatus(d.status) in allowed
            and transition in TRANSITION_POWERS and may(role, TRANSITION_POWERS[transition]))



def overdue(f: m.Feedback, now: datetime) -> bool:
    """Feedback that is overdue, by the governance rule (``FeedbackFacts.overdue``)."""
    return feedback_fact(f).overdue(now)


def datetime_local(moment: datetime) -> str:
    """A UTC moment as a datetime-local input's value."""
    return moment.astimezone(UTC).strftime(DATETIME_LOCAL)
