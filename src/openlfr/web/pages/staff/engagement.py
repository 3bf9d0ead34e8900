"""The engagement log: every event (when, how, for whom, which body or group was met, how
many came, what was handed out, what people asked, the evidence), a form to log another
(with a PDF of the minutes or sign-in sheet, or a link), and who the engagement reached:
the resident share against the share required, the same numbers the engagement gate
reads, with the gate's own verdict. Once the deployment is authorised the log is frozen:
the forms then record public amendments, each with a reason. At any status a PDF of
evidence can be replaced by a redacted copy, or removed, for privacy, with a published
reason."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from openlfr.governance.amendments import is_frozen
from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.governance.lifecycle import DeploymentStatus
from openlfr.governance.records import RESIDENT_FACING_AUDIENCES, AudienceCategory, EngagementFormat
from openlfr.services import assessments, portal
from openlfr.services import deployments as deployment_service
from openlfr.services.platform import Actor
from openlfr.services.powers import Action
from openlfr.services.schemas import EngagementAmendmentIn, EngagementEventIn
from openlfr.storage import models as m
from openlfr.web.pages.rendering import platform_of
from openlfr.web.pages.staff.common import (
    AMENDMENT_REASON,
    FORM,
    FormReader,
    amend,
    attempt,
    deployment_form,
    deployment_page,
    done,
    notice_of,
    path_id,
    problem_status,
    service_problem,
)
from openlfr.web.pages.staff_access import StaffRoute, staff_render

#: The gate whose verdict the page shows beside the numbers.
ENGAGEMENT_GATE = "engagement_reach"
#: What the page says after a redaction (``?done=KEY``), beside the shared notices.
REDACTION_NOTICES = {
    "evidence_redacted": "The evidence was replaced by the redacted copy; the public page "
                         "says when and why.",
    "evidence_removed": "The evidence was removed; the public page says when and why.",
}


def _log_page(request: Request, actor: Actor, d: m.Deployment,
              values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
              status_code: int = 200) -> Response:
    p = platform_of(request)
    gate = next(g for g in deployment_service.gate_report(p, actor, d.id).results
                if g.name == ENGAGEMENT_GATE)
    return staff_render(request, actor, "staff_engagement.html", {
        "d": d, "events": assessments.list_engagement_events(p, actor, d.id),
        "reach": portal.engagement_reach(p, d.id), "gate": gate,
        "formats": list(EngagementFormat), "audiences": list(AudienceCategory),
        "resident_facing": {a.value for a in RESIDENT_FACING_AUDIENCES},
        "frozen": is_frozen(DeploymentStatus(d.status), d.first_authorised_at),
        "reason_field": AMENDMENT_REASON,
        "window_days": p.settings.engagement_window_days,
        "values": values or {}, "errors": errors or {},
        "notice": notice_of(request) or REDACTION_NOTICES.get(
            request.query_params.get("done", ""))}, status_code=status_code)


def engagement_page(request: Request) -> Response:
    checked = deployment_page(request, Action.ENGAGEMENT_READ)
    if isinstance(checked, Response):
        return checked
    actor, d = checked
    return _log_page(request, actor, d)


def _event(reader: FormReader) -> dict[str, Any]:
    """An event's fields from the form, as EngagementEventIn takes them."""
    return {
        "held_on": reader.text("held_on"), "format": reader.text("format"),
        "audience": reader.text("audience"), "met_with": reader.text("met_with"),
        "attendees": reader.text("attendees"), "materials": reader.text("materials"),
        "evidence_url": reader.optional("evidence_url"),
        "questions_raised": reader.lines("questions_raised")}


def _evidence(reader: FormReader) -> assessments.Evidence | None:
    upload = reader.form.get("evidence")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    return assessments.Evidence(upload.filename, upload.file.read())


def add_event(request: Request) -> Response:
    """Log an event (and its PDF evidence, if one is attached) through the service."""
    checked = deployment_form(request, Action.ENGAGEMENT_WRITE)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    reader = FormReader(form)
    data = reader.build(EngagementEventIn, _event(reader))
    evidence = _evidence(reader)
    status_code = 422 if data is None else attempt(reader, lambda: (
        assessments.add_engagement_event(platform_of(request), actor, d.id, data, evidence)))
    if status_code is None:
        return done(request, "staff_engagement", "engagement_added", deployment_id=d.id)
    return _log_page(request, actor, d, reader.values, reader.problems, status_code=status_code)


def delete_event(request: Request) -> Response:
    """Remove an event logged in error (the service audits the removal)."""
    checked = deployment_form(request, Action.ENGAGEMENT_WRITE)
    if isinstance(checked, Response):
        return checked
    actor, _, d = checked
    event_id = path_id(request, "event_id")
    try:
        if event_id is None:
            raise NotFound(f"engagement event is not on deployment {d.id}")
        assessments.delete_engagement_event(platform_of(request), actor, d.id, event_id)
    except GovernanceError as exc:
        return _log_page(request, actor, d, errors={FORM: str(exc)},
                         status_code=404 if isinstance(exc, NotFound) else 409)
    return done(request, "staff_engagement", "engagement_deleted", deployment_id=d.id)


def redact_evidence(request: Request) -> Response:
    """Replace an event's PDF by a redacted copy (``act=replace`` with the file) or remove
    it (``act=remove``), for privacy, with a published reason: at any status."""
    checked = deployment_form(request, Action.ENGAGEMENT_WRITE)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    event_id = path_id(request, "event_id")
    if event_id is None:
        return _log_page(request, actor, d, errors={FORM: "no such engagement event"},
                         status_code=404)
    reader = FormReader(form)
    reason_key, file_key = f"redaction-reason-{event_id}", f"redacted-{event_id}"
    removing, reason = reader.text("act") == "remove", reader.text(reason_key)
    upload = form.get(file_key)
    redacted = (assessments.Evidence(upload.filename, upload.file.read())
                if isinstance(upload, UploadFile) and upload.filename else None)
    status_code = 422
    if not removing and redacted is None:
        reader.problems["evidence"] = ("choose the redacted copy (a PDF), or remove the "
                                       "evidence instead")
    else:
        try:
            assessments.redact_evidence(platform_of(request), actor, d.id, event_id,
                                        reason, redacted)
        except NotFound as exc:
            return _log_page(request, actor, d, errors={FORM: str(exc)}, status_code=404)
        except GovernanceError as exc:
            field, message = service_problem(exc)
            reader.problems[field] = message
            status_code = problem_status(exc)
        else:
            return done(request, "staff_engagement",
                        "evidence_removed" if removing else "evidence_redacted",
                        f"#event-{event_id}", deployment_id=d.id)
    where = {"reason": reason_key, "evidence": file_key}
    errors = {where.get(k, k): v for k, v in reader.problems.items()}
    return _log_page(request, actor, d, reader.values, errors, status_code=status_code)


def amend_log(request: Request) -> Response:
    """A public amendment of the frozen log, with a reason: add an event (the form's
    fields), or remove one (``event_id`` alone)."""
    checked = deployment_form(request, Action.RECORD_AMEND)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    reader = FormReader(form)
    removing = reader.optional("event_id")
    data = reader.build(EngagementAmendmentIn, {
        "record": "engagement", "reason": reader.text(AMENDMENT_REASON), "event_id": removing,
        "event": None if removing else _event(reader)}, nested="event")
    answer = amend(request, actor, d, reader, data, "staff_engagement")
    if isinstance(answer, Response):
        return answer
    errors = {FORM if k == "event" else k: v for k, v in reader.problems.items()}
    return _log_page(request, actor, d, reader.values, errors, status_code=answer)


BASE = "/staff/deployments/{deployment_id:int}/engagement"

routes = [
    StaffRoute(BASE, engagement_page, action=Action.ENGAGEMENT_READ, methods=["GET"],
               name="staff_engagement"),
    StaffRoute(BASE, add_event, action=Action.ENGAGEMENT_WRITE, methods=["POST"],
               name="staff_add_engagement"),
    StaffRoute(f"{BASE}/{{event_id:int}}/delete", delete_event, action=Action.ENGAGEMENT_WRITE,
               methods=["POST"], name="staff_delete_engagement"),
    StaffRoute(f"{BASE}/amend", amend_log, action=Action.RECORD_AMEND, methods=["POST"],
               name="staff_amend_engagement"),
    StaffRoute(f"{BASE}/{{event_id:int}}/evidence/redact", redact_evidence,
               action=Action.ENGAGEMENT_WRITE, methods=["POST"],
               name="staff_redact_evidence"),
]
