"""The community impact assessment editor. The planner types the typed sections; the
engagement summary and consultation findings are written from the records by
``governance.cia`` and shown read-only; the completeness check's findings are listed
beside the sections they concern; publishing is refused, with the findings, while any
remain (the assessments service decides). Once the deployment is authorised the
assessment is frozen: the same form then records a public amendment, with a reason."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from openlfr.governance.amendments import is_frozen
from openlfr.governance.cia import TYPED_SECTIONS
from openlfr.governance.errors import GovernanceError
from openlfr.governance.lifecycle import DeploymentStatus
from openlfr.services import assessments
from openlfr.services.platform import Actor
from openlfr.services.powers import Action
from openlfr.services.schemas import AssessmentAmendmentIn, ImpactAssessmentIn
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
)
from openlfr.web.pages.staff_access import StaffRoute, staff_render

#: The document's sections in reading order, with their headings and what each should say.
SECTIONS: dict[str, tuple[str, str]] = {
    "area_profile": ("The area", "Who lives and works there (residents, businesses, "
                     "visitors), what the place is like, and what residents have said."),
    "engagement_summary": ("Engagement", "Written from the engagement log."),
    "consultation_findings": ("Consultation findings", "Written from the consultation and "
                              "public feedback."),
    "risks": ("Risks", "Including false alerts and misidentification, and their effect on "
              "people and trust."),
    "mitigations": ("Mitigations", "What is done about each risk."),
    "equality_impact": ("Equality impact", "How people with each protected characteristic "
                        "could be affected, including by false alerts."),
    "decision": ("Decision", "What was decided and on what conditions."),
}

#: The amendment's reason field.


def _editor(request: Request, actor: Actor, d: m.Deployment, values: dict[str, str] | None,
            errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    view = assessments.view_assessment(platform_of(request), actor, d.id)
    frozen = is_frozen(DeploymentStatus(d.status), d.first_authorised_at)
    shown = values if values is not None else dict(view.sections)
    findings_by_section: dict[str, list[str]] = {}
    for f in view.findings:
        findings_by_section.setdefault(f.section, []).append(f.problem)
    return staff_render(request, actor, "staff_assessment.html", {
        "d": d, "view": view, "values": shown, "sections": SECTIONS,
        "typed": TYPED_SECTIONS, "derived": {"engagement_summary": view.engagement_summary,
                                             "consultation_findings": view.consultation_findings},
        "findings_by_section": findings_by_section, "frozen": frozen,
        "reason_field": AMENDMENT_REASON, "errors": errors or {},
        "notice": notice_of(request)}, status_code=status_code)


def assessment_page(request: Request) -> Response:
    checked = deployment_page(request, Action.ASSESSMENT_READ)
    if isinstance(checked, Response):
        return checked
    actor, d = checked
    return _editor(request, actor, d, None)


def save_assessment(request: Request) -> Response:
    """Save the typed sections (un-publishing the assessment, as the service does)."""
    checked = deployment_form(request, Action.ASSESSMENT_WRITE)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    reader = FormReader(form)
    data = reader.build(ImpactAssessmentIn, {name: reader.text(name) for name in TYPED_SECTIONS})
    p = platform_of(request)
    refused = 422 if data is None else attempt(
        reader, lambda: assessments.save_assessment(p, actor, d.id, data))
    if refused is None:
        return done(request, "staff_assessment", "assessment_saved", deployment_id=d.id)
    return _editor(request, actor, d, reader.values, reader.problems, status_code=refused)


def publish_assessment(request: Request) -> Response:
    """Publish; the service refuses while the completeness check finds problems."""
    checked = deployment_form(request, Action.ASSESSMENT_PUBLISH)
    if isinstance(checked, Response):
        return checked
    actor, _, d = checked
    try:
        assessments.publish_assessment(platform_of(request), actor, d.id)
    except GovernanceError as exc:
        return _editor(request, actor, d, None, {FORM: str(exc)}, status_code=409)
    return done(request, "staff_assessment", "assessment_published", deployment_id=d.id)


def amend_assessment(request: Request) -> Response:
    """A public amendment of the frozen assessment, with a reason (the amendments service
    checks the gates again)."""
    checked = deployment_form(request, Action.RECORD_AMEND)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    reader = FormReader(form)
    data = reader.build(AssessmentAmendmentIn, {
        "record": "assessment", "reason": reader.text(AMENDMENT_REASON),
        "sections": {name: reader.text(name) for name in TYPED_SECTIONS}}, nested="sections")
    answer = amend(request, actor, d, reader, data, "staff_assessment")
    if isinstance(answer, Response):
        return answer
    return _editor(request, actor, d, reader.values, reader.problems, status_code=answer)


BASE = "/staff/deployments/{deployment_id:int}/assessment"

routes = [
    StaffRoute(BASE, assessment_page, action=Action.ASSESSMENT_READ, methods=["GET"],
               name="staff_assessment"),
    StaffRoute(BASE, save_assessment, action=Action.ASSESSMENT_WRITE, methods=["POST"],
               name="staff_save_assessment"),
    StaffRoute(f"{BASE}/publish", publish_assessment, action=Action.ASSESSMENT_PUBLISH,
               methods=["POST"], name="staff_publish_assessment"),
    StaffRoute(f"{BASE}/amend", amend_assessment, action=Action.RECORD_AMEND, methods=["POST"],
               name="staff_amend_assessment"),
]
