"""The feedback form: anyone may object, ask, support, complain or ask for redress on a
published deployment, with optional contact details that are never published. It posts
through the same service as the public API (answer deadline, audit event), and is rate
limited per client address so the channel cannot be flooded."""

from __future__ import annotations

import re
from datetime import date

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from openlfr.governance.errors import NotFound
from openlfr.governance.records import KINDS_NEEDING_ANSWER, FeedbackKind
from openlfr.services import consultations
from openlfr.services import deployments as deployment_service
from openlfr.services.platform import PUBLIC_ACTOR
from openlfr.services.powers import Action
from openlfr.services.rate_limits import POLICIES, TooManyRequests
from openlfr.services.schemas import FeedbackIn
from openlfr.storage import models as m
from openlfr.web.deps import client_address
from openlfr.web.pages.deployments import REFERENCE
from openlfr.web.pages.rendering import PageRoute, not_found, platform_of, read_form, render

#: What a private link's key looks like (services.objections makes them).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,64}")

#: Feedback a single client address may send per hour.
FEEDBACK_PER_HOUR = POLICIES[Action.FEEDBACK_SUBMIT].item.amount

#: The kinds offered on the form, in order, with what each means to the person sending.
KIND_CHOICES: tuple[tuple[str, str], ...] = (
    (FeedbackKind.OBJECTION.value, "I object to this deployment"),
    (FeedbackKind.QUESTION.value, "I have a question"),
    (FeedbackKind.SUPPORT.value, "I support this deployment"),
    (FeedbackKind.COMPLAINT.value, "I want to complain"),
    (FeedbackKind.REDRESS_REQUEST.value, "I was affected and ask for redress"),
)


def _deployment(request: Request) -> m.Deployment | Response:
    reference: str = request.path_params["reference"]
    if not REFERENCE.fullmatch(reference):
        return not_found(request, f"{reference!r} is not a deployment reference")
    try:
        return deployment_service.public_deployment(platform_of(request), reference)
    except NotFound as exc:
        return not_found(request, str(exc))


def _form(request: Request, d: m.Deployment, values: dict[str, str],
          errors: dict[str, str], status_code: int = 200) -> Response:
    return render(request, "feedback_form.html", {
        "d": d, "kinds": KIND_CHOICES, "values": values, "errors": errors,
        "deadline_days": platform_of(request).settings.answer_deadline_days},
        status_code=status_code)


def feedback_form(request: Request) -> Response:
    """The empty form (a kind may be chosen in advance with ?kind=question)."""
    d = _deployment(request)
    if isinstance(d, Response):
        return d
    kind = request.query_params.get("kind", "")
    return _form(request, d, {"kind": kind if kind in dict(KIND_CHOICES) else ""}, {})


def submit_feedback_form(request: Request) -> Response:
    """Validate, rate-limit, record through the feedback service, then redirect to the
    thank-you page (so reloading it does not send the feedback twice)."""
    d = _deployment(request)
    if isinstance(d, Response):
        return d
    form = read_form(request)
    values = {k: str(form.get(k) or "") for k in ("kind", "text", "contact")}
    try:
        data = FeedbackIn(kind=values["kind"], text=values["text"],  # type: ignore[arg-type]
                          contact=values["contact"].strip() or None)
    except ValidationError as exc:
        errors = {str(e["loc"][0]): _problem(str(e["loc"][0]), e["msg"]) for e in exc.errors()}
        return _form(request, d, values, errors, status_code=422)
    try:
        f = consultations.submit_feedback(platform_of(request), PUBLIC_ACTOR, d.id, data,
                                          client_address(request))
    except TooManyRequests:
        return render(request, "feedback_limited.html", {"d": d, "per_hour": FEEDBACK_PER_HOUR},
                      status_code=429)
    # The thank-you page shows the author's private link (reply once, escalate).
    url = request.url_for("feedback_thanks", reference=d.reference).include_query_params(
        due=f.answer_due_at.date().isoformat(), kind=f.kind, item=str(f.id),
        key=f.author_token or "")
    return RedirectResponse(str(url), status_code=303)


def _problem(field: str, message: str) -> str:
    if field == "kind":
        return "Choose what you are telling us."
    if field == "text":
        return "Write at least a few words (up to 5,000 characters)."
    if field == "contact":
        return "Leave contact details empty, or give an e-mail or phone number (up to 300 " \
               "characters)."
    return message


def feedback_thanks(request: Request) -> Response:
    """Confirms receipt and says by when the public answer is due."""
    d = _deployment(request)
    if isinstance(d, Response):
        return d
    try:
        due: date | None = date.fromisoformat(request.query_params.get("due", ""))
    except ValueError:
        due = None
    kind = request.query_params.get("kind", "")
    item, key = request.query_params.get("item", ""), request.query_params.get("key", "")
    private_link = (request.url_for("feedback_yours", feedback_id=item, token=key)
                    if item.isdigit() and _TOKEN.fullmatch(key) else None)
    return render(request, "feedback_thanks.html", {
        "d": d, "due": due, "kind": kind if kind in dict(KIND_CHOICES) else "",
        "answer_needed": kind in {k.value for k in KINDS_NEEDING_ANSWER},
        "private_link": private_link})


PUBLIC_PATHS = ("/deployments/{reference}/feedback", "/deployments/{reference}/feedback/thanks")

routes = [
    PageRoute("/deployments/{reference}/feedback", feedback_form, methods=["GET"],
              name="feedback_form"),
    PageRoute("/deployments/{reference}/feedback", submit_feedback_form, methods=["POST"],
              name="feedback_submit"),
    PageRoute("/deployments/{reference}/feedback/thanks", feedback_thanks, methods=["GET"],
              name="feedback_thanks"),
]
