"""A planner drafts a deployment and edits it while the plan may change; the overview
page shows where a deployment stands (status, gates and their reasons, overrides,
comments) with links to each of its records, and the lifecycle actions the role may take
from there: propose, publish notice, complete, review, cancel with a reason, reschedule
with new dates and a reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from openlfr.governance.amendments import PLAN_AMENDABLE_STATUSES, Record, require_amendable
from openlfr.governance.errors import GovernanceError
from openlfr.governance.lifecycle import (
    EDITABLE_STATUSES,
    DeploymentStatus,
    Transition,
    allowed_from,
    require_editable,
)
from openlfr.governance.overrides import OverrideStatus
from openlfr.services import amendments, public_view, rescheduling, technology
from openlfr.services import deployments as deployment_service
from openlfr.services.deployments import TRANSITION_POWERS
from openlfr.services.platform import Actor, Role
from openlfr.services.portal import area_list
from openlfr.services.powers import Action, may
from openlfr.services.schemas import (
    CancelIn,
    DeploymentIn,
    DeploymentPatch,
    Input,
    PlanAmendmentIn,
    PlanChangesIn,
    RescheduleIn,
    ReviewIn,
)
from openlfr.storage import models as m
from openlfr.web.pages.rendering import platform_of
from openlfr.web.pages.staff.common import (
    AMENDMENT_REASON,
    FORM,
    FormReader,
    actions_for,
    amend,
    datetime_local,
    deployment_form,
    deployment_page,
    done,
    may_take,
    notice_of,
    problem_status,
    service_problem,
)
from openlfr.web.pages.staff_access import StaffRoute, staff_form, staff_page, staff_render

#: The plan's fields in the order of the form, each with how the form's field is read.
PLAN_READERS: dict[str, Callable[[FormReader, str], Any]] = {
    "title": FormReader.text, "borough": FormReader.text, "ward": FormReader.optional,
    "sites": FormReader.sites, "start_at": FormReader.utc_moment,
    "end_at": FormReader.utc_moment, "purpose": FormReader.text,
    "offence_categories": FormReader.lines, "intelligence_basis": FormReader.text,
    "legal_basis": FormReader.text, "threshold": FormReader.text,
    "camera_count": FormReader.text, "signage": FormReader.text,
    "technology_id": FormReader.optional}
PLAN_FIELDS = tuple(PLAN_READERS)
#: The plan's fields an amendment may change (the area, the sites and the dates change
#: only by rescheduling, or not at all).
AMENDABLE_FIELDS = tuple(PlanChangesIn.model_fields)


# --- create and edit ---------------------------------------------------------------------


def site_line(name: str, lat: float, lon: float, street: str | None,
              postcode: str | None) -> str:
    """A site as the form's line: "name, latitude, longitude | street | postcode"."""
    line = f"{name}, {lat}, {lon}"
    if street or postcode:
        line += f" | {street or ''}"
    return line + (f" | {postcode}" if postcode else "")


def _plan_values(d: m.Deployment) -> dict[str, str]:
    """A deployment's plan as the form shows it."""
    return {
        "title": d.title, "borough": d.borough, "ward": d.ward or "",
        "sites": "\n".join(site_line(s.name, s.lat, s.lon, s.street, s.postcode)
                           for s in d.sites),
        "start_at": datetime_local(d.start_at), "end_at": datetime_local(d.end_at),
        "purpose": d.purpose, "offence_categories": "\n".join(d.offence_categories),
        "intelligence_basis": d.intelligence_basis, "legal_basis": d.legal_basis,
        "threshold": f"{d.threshold:g}", "camera_count": str(d.camera_count),
        "signage": d.signage, "technology_id": str(d.technology_id or "")}


def _plan_data(reader: FormReader, fields: tuple[str, ...]) -> dict[str, Any]:
    return {field: PLAN_READERS[field](reader, field) for field in fields}


def _read_plan(reader: FormReader) -> DeploymentIn | None:
    """The plan from the form, validated as the API validates it (None with problems)."""
    plan: DeploymentIn | None = reader.build(DeploymentIn, _plan_data(reader, PLAN_FIELDS),
                                             whole_form_field="end_at")
    return plan


def _plan_form(request: Request, actor: Actor, d: m.Deployment | None,
               values: dict[str, str], errors: dict[str, str],
               status_code: int = 200, amending: bool = False) -> Response:
    p = platform_of(request)
    return staff_render(request, actor, "staff_deployment_form.html", {
        "d": d, "values": values, "errors": errors, "areas": area_list(p),
        "technologies": [t for t, _ in technology.list_technologies(p)],
        "amending": amending, "reason_field": AMENDMENT_REASON},
        status_code=status_code)


def new_deployment(request: Request) -> Response:
    """The empty plan form."""
    actor = staff_page(request, Action.DEPLOYMENT_DRAFT)
    if isinstance(actor, Response):
        return actor
    return _plan_form(request, actor, None, {}, {})


def create_deployment(request: Request) -> Response:
    """Draft the deployment through the same service and input schema as the API."""
    checked = staff_form(request, Action.DEPLOYMENT_DRAFT)
    if isinstance(checked, Response):
        return checked
    actor, form = checked
    reader = FormReader(form)
    plan = _read_plan(reader)
    if plan is not None:
        try:
            d = deployment_service.create_deployment(platform_of(request), actor, plan)
        except GovernanceError as exc:
            field, message = service_problem(exc)
            reader.problems[field] = message
        else:
            return done(request, "staff_deployment", "created", deployment_id=d.id)
    return _plan_form(request, actor, None, reader.values, reader.problems, status_code=422)


def _editable_problem(d: m.Deployment) -> dict[str, str]:
    """The lifecycle's refusal to edit, when it applies, shown on the form."""
    try:
        require_editable(DeploymentStatus(d.status))
    except GovernanceError as exc:
        return {FORM: str(exc)}
    return {}


def edit_deployment(request: Request) -> Response:
    """The plan form filled with the deployment's plan."""
    checked = deployment_page(request, Action.DEPLOYMENT_EDIT)
    if isinstance(checked, Response):
        return checked
    actor, d = checked
    return _plan_form(request, actor, d, _plan_values(d), _editable_problem(d))


def _changes(d: m.Deployment, plan: DeploymentIn) -> dict[str, Any]:
    """The fields of ``plan`` that differ from the deployment (so the audit log names only
    what changed)."""
    current: dict[str, Any] = {
        "title": d.title, "borough": d.borough, "ward": d.ward,
        "sites": [(s.name, s.lat, s.lon, s.street, s.postcode) for s in d.sites],
        "start_at": d.start_at,
        "end_at": d.end_at, "purpose": d.purpose, "offence_categories": d.offence_categories,
        "intelligence_basis": d.intelligence_basis, "legal_basis": d.legal_basis,
        "threshold": d.threshold, "camera_count": d.camera_count, "signage": d.signage,
        "technology_id": d.technology_id}
    changes: dict[str, Any] = {}
    for field in PLAN_FIELDS:
        new = getattr(plan, field)
        comparable = ([(s.name, s.lat, s.lon, s.street, s.postcode) for s in new]
                      if field == "sites" else new)
        if field in ("start_at", "end_at"):
            # The form shows minutes; seconds set through the API are not a change.
            current[field] = current[field].replace(second=0, microsecond=0)
        if comparable != current[field]:
            changes[field] = new
    return changes


def update_deployment(request: Request) -> Response:
    """Save the changed fields through the service (which refuses once notice is out)."""
    checked = deployment_form(request, Action.DEPLOYMENT_EDIT)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    reader = FormReader(form)
    plan = _read_plan(reader)
    if plan is not None:
        changes = _changes(d, plan)
        if not changes:
            return done(request, "staff_deployment", "unchanged", deployment_id=d.id)
        try:
            deployment_service.update_deployment(platform_of(request), actor, d.id,
                                                 DeploymentPatch.model_validate(changes))
        except GovernanceError as exc:
            field, message = service_problem(exc)
            reader.problems[field] = message
        else:
            return done(request, "staff_deployment", "updated", deployment_id=d.id)
    return _plan_form(request, actor, d, reader.values, reader.problems, status_code=422)


def _amendable_problem(d: m.Deployment) -> dict[str, str]:
    """Why the plan cannot be amended now (it is edited before notice), shown on the form."""
    try:
        require_amendable(DeploymentStatus(d.status), Record.PLAN, d.first_authorised_at)
    except GovernanceError as exc:
        return {FORM: str(exc)}
    return {}


def amend_plan_page(request: Request) -> Response:
    """The plan form for an amendment: what may change, filled with the plan, and a
    reason (published)."""
    checked = deployment_page(request, Action.RECORD_AMEND)
    if isinstance(checked, Response):
        return checked
    actor, d = checked
    return _plan_form(request, actor, d, _plan_values(d), _amendable_problem(d),
                      amending=True)


def amend_plan(request: Request) -> Response:
    """A public amendment of the plan: the fields that differ from it, with a reason (the
    amendments service checks the gates again)."""
    checked = deployment_form(request, Action.RECORD_AMEND)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    reader = FormReader(form)
    changes = {k: v for k, v in _plan_data(reader, AMENDABLE_FIELDS).items() if v is not None}
    data = reader.build(PlanAmendmentIn, {
        "record": "plan", "reason": reader.text(AMENDMENT_REASON), "changes": changes},
        nested="changes")
    answer = amend(request, actor, d, reader, data, "staff_deployment")
    if isinstance(answer, Response):
        return answer
    return _plan_form(request, actor, d, reader.values, reader.problems, status_code=answer,
                      amending=True)


# --- overview and lifecycle actions ------------------------------------------------------------


def overview(request: Request, actor: Actor, d: m.Deployment,
             errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
             status_code: int = 200) -> Response:
    """The deployment overview; forms on it that failed are shown with their errors."""
    p = platform_of(request)
    role = actor.role
    listed = deployment_service.overrides_for(p, actor, d.id)
    return staff_render(request, actor, "staff_deployment.html", {
        "d": d, "gates_live": public_view.gates_rerun_meaningful(d),
        "gates": (deployment_service.gate_report(p, actor, d.id)
                  if public_view.gates_rerun_meaningful(d) else None),
        "decisions": public_view.decision_gates(d),
        "overrides": listed,
        "awaiting": [o for o in listed if o.status == OverrideStatus.AWAITING_COUNTERSIGNATURE],
        "amendments": amendments.amendments_for(p, actor, d.id),
        "comments": deployment_service.comments_for(p, actor, d.id),
        "next_actions": actions_for(d, role),
        "may_edit": may(role, Action.DEPLOYMENT_EDIT)
        and DeploymentStatus(d.status) in EDITABLE_STATUSES,
        "may_amend": may(role, Action.RECORD_AMEND)
        and DeploymentStatus(d.status) in PLAN_AMENDABLE_STATUSES,
        "may_transition": {t.value: may_take(role, t, d) for t in Transition},
        "may_reschedule": may_reschedule(role, d),
        "current_dates": {"reschedule_start_at": datetime_local(d.start_at),
                          "reschedule_end_at": datetime_local(d.end_at)},
        "links": record_links(d, role),
        "errors": errors or {}, "values": values or {}, "notice": notice_of(request)},
        status_code=status_code)


#: The pages about a deployment, with the power each needs to be offered.
RECORD_PAGES: tuple[tuple[str, str, str, Action], ...] = (
    ("Gate checklist and overrides", "gates", "gates", Action.DEPLOYMENT_READ),
    ("Community impact assessment", "assessment", "assessment", Action.ASSESSMENT_READ),
    ("Engagement log", "engagement", "engagement", Action.ENGAGEMENT_READ),
    ("Consultation", "consultation", "consultation", Action.CONSULTATION_READ),
    ("Feedback inbox", "feedback", "feedback", Action.FEEDBACK_READ),
    ("Watchlist", "watchlist", "watchlist", Action.WATCHLIST_READ),
    ("What followed arrests", "arrests", "arrests", Action.LATER_OUTCOME_RECORD),
)
#: Statuses in which the operator console is offered.
CONSOLE_STATUSES = frozenset({DeploymentStatus.AUTHORISED.value, DeploymentStatus.ACTIVE.value})


def record_links(d: m.Deployment, role: Role) -> list[tuple[str, str, str]]:
    """(label, URL, data-test name) of the pages about this deployment that ``role`` may
    read (the powers table)."""
    base = f"/staff/deployments/{d.id}"
    links = [(label, f"{base}/{path}", name) for label, path, name, action in RECORD_PAGES
             if may(role, action)]
    if may(role, Action.CONSOLE_WATCH) and d.status in CONSOLE_STATUSES:
        links.append(("Operator console", f"{base}/console", "console"))
    if d.notice_published_at is not None:
        links.append(("Public page", f"/deployments/{d.reference}", "public"))
    return links


def deployment_overview(request: Request) -> Response:
    """Any staff role may read the overview."""
    checked = deployment_page(request, Action.DEPLOYMENT_READ)
    if isinstance(checked, Response):
        return checked
    actor, d = checked
    return overview(request, actor, d)


@dataclass(frozen=True)
class Note:
    """The written note a transition needs: the form field, its input schema, and the
    schema's field."""

    form_field: str
    schema: type[Input]
    schema_field: str


NOTES: dict[Transition, Note] = {
    Transition.CANCEL: Note("cancel_reason", CancelIn, "reason"),
    Transition.REVIEW: Note("review_summary", ReviewIn, "summary"),
}


def _transition_route(transition: Transition) -> Callable[[Request], Response]:
    """A form post that takes ``transition`` through the service (with its note, if it
    needs one, validated by the note's input schema); errors are shown on the overview."""
    note_spec = NOTES.get(transition)
    error_field = note_spec.form_field if note_spec else FORM

    def take(request: Request) -> Response:
        checked = deployment_form(request, TRANSITION_POWERS[transition])
        if isinstance(checked, Response):
            return checked
        actor, form, d = checked
        reader = FormReader(form)
        note: str | None = None
        if note_spec is not None:
            data = reader.build(note_spec.schema, {
                note_spec.schema_field: reader.text(note_spec.form_field)})
            if data is None:
                problem = reader.problems.get(note_spec.schema_field) or next(
                    iter(reader.problems.values()))
                return overview(request, actor, d, {error_field: problem}, reader.values, 422)
            note = getattr(data, note_spec.schema_field)
        try:
            deployment_service.transition_deployment(platform_of(request), actor, d.id,
                                                     transition, note=note)
        except GovernanceError as exc:
            _, message = service_problem(exc)
            return overview(request, actor, d, {error_field: message}, reader.values,
                            problem_status(exc))
        return done(request, "staff_deployment", transition.value, deployment_id=d.id)

    take.__name__ = f"staff_{transition.value}"
    return take


def may_reschedule(role: Role, d: m.Deployment) -> bool:
    """Dates change after notice only by rescheduling, and never for a deployment that has
    run (the service checks again)."""
    allowed = allowed_from(Transition.RESCHEDULE, has_run=d.activated_at is not None)
    return may(role, Action.DEPLOYMENT_RESCHEDULE) and DeploymentStatus(d.status) in allowed


#: The reschedule form's fields, by the input schema's field they fill.
RESCHEDULE_FIELDS = {"start_at": "reschedule_start_at", "end_at": "reschedule_end_at",
                     "reason": "reschedule_reason"}


def reschedule(request: Request) -> Response:
    """New dates with a published reason, through the same use case as the API: notice
    runs again and an authorisation for the old dates is withdrawn."""
    checked = deployment_form(request, Action.DEPLOYMENT_RESCHEDULE)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    reader = FormReader(form)
    data = reader.build(RescheduleIn, {
        "start_at": reader.utc_moment(RESCHEDULE_FIELDS["start_at"]),
        "end_at": reader.utc_moment(RESCHEDULE_FIELDS["end_at"]),
        "reason": reader.text(RESCHEDULE_FIELDS["reason"])},
        whole_form_field=RESCHEDULE_FIELDS["end_at"])
    status_code = 422
    if data is not None:
        try:
            rescheduling.reschedule_deployment(platform_of(request), actor, d.id, data)
        except GovernanceError as exc:
            field, message = service_problem(exc)
            reader.problems[field] = message
            status_code = problem_status(exc)
        else:
            return done(request, "staff_deployment", "reschedule", deployment_id=d.id)
    # Problems found by the schema are named by its fields; the form's names differ.
    errors = {RESCHEDULE_FIELDS.get(k, k): v for k, v in reader.problems.items()}
    return overview(request, actor, d, errors, reader.values, status_code)


BASE = "/staff/deployments/{deployment_id:int}"

routes = [
    StaffRoute("/staff/deployments/new", new_deployment, action=Action.DEPLOYMENT_DRAFT,
               methods=["GET"], name="staff_new_deployment"),
    StaffRoute("/staff/deployments/new", create_deployment, action=Action.DEPLOYMENT_DRAFT,
               methods=["POST"], name="staff_create_deployment"),
    StaffRoute(BASE, deployment_overview, action=Action.DEPLOYMENT_READ, methods=["GET"],
               name="staff_deployment"),
    StaffRoute(f"{BASE}/edit", edit_deployment, action=Action.DEPLOYMENT_EDIT, methods=["GET"],
               name="staff_edit_deployment"),
    StaffRoute(f"{BASE}/edit", update_deployment, action=Action.DEPLOYMENT_EDIT,
               methods=["POST"], name="staff_update_deployment"),
    StaffRoute(f"{BASE}/amend", amend_plan_page, action=Action.RECORD_AMEND, methods=["GET"],
               name="staff_amend_plan_form"),
    StaffRoute(f"{BASE}/amend", amend_plan, action=Action.RECORD_AMEND, methods=["POST"],
               name="staff_amend_plan"),
    *(StaffRoute(f"{BASE}/{path}", _transition_route(t), action=TRANSITION_POWERS[t],
                 methods=["POST"], name=f"staff_{t.value}")
      for path, t in (("propose", Transition.PROPOSE),
                      ("publish-notice", Transition.PUBLISH_NOTICE),
                      ("complete", Transition.COMPLETE), ("review", Transition.REVIEW),
                      ("cancel", Transition.CANCEL))),
    StaffRoute(f"{BASE}/reschedule", reschedule, action=Action.DEPLOYMENT_RESCHEDULE,
               methods=["POST"], name="staff_reschedule"),
]
