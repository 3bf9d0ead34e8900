"""The public consultation page: the information sheet (benefits and risks), any flagged
wording the planner kept on purpose with the published reason, the questions, and an
anonymous answer form. Nothing identifying is asked for: only, optionally, a postcode
district (the first part of a UK postcode). Answers go through the same service as the
public API; one client address may send a limited number an hour. Results (counts per
choice and by district; never free text) are shown only once the consultation closes."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from openlfr.governance.errors import Conflict, InvalidInput, NotFound
from openlfr.services import consultations, public_view
from openlfr.services import deployments as deployment_service
from openlfr.services.consultations import ConsultationResults, KeptWording
from openlfr.services.platform import PUBLIC_ACTOR
from openlfr.services.powers import Action
from openlfr.services.rate_limits import POLICIES, TooManyRequests
from openlfr.services.schemas import ConsultationResponseIn
from openlfr.storage import models as m
from openlfr.web.deps import client_address
from openlfr.web.pages.deployments import REFERENCE
from openlfr.web.pages.rendering import PageRoute, not_found, platform_of, read_form, render

#: Responses a single client address may send per hour (households and libraries share
#: addresses, so a little more than the feedback form allows).
RESPONSES_PER_HOUR = POLICIES[Action.CONSULTATION_ANSWER].item.amount
#: The form field of the optional postcode district.
DISTRICT_FIELD = "postcode_district"
#: Where a problem with the whole form is shown.
FORM = "form"


# --- results, as people read them ---------------------------------------------------------

@dataclass(frozen=True)
class ChoiceCount:
    option: str
    count: int
    #: Share of the people who answered this question (0 when nobody did).
    share: float


@dataclass(frozen=True)
class QuestionResult:
    id: str
    text: str
    #: People who chose an option (choice questions only).
    answered: int
    #: Counts per option; None for a free-text question (free text is never published).
    choices: list[ChoiceCount] | None


@dataclass(frozen=True)
class ResultsView:
    responses: int
    questions: list[QuestionResult]
    #: (district, responses, share of all responses), most responses first.
    districts: list[tuple[str, int, float]]
    #: Responses that gave no district.
    no_district: int
    #: Why the result does not count ("insufficient response"), None when it counts.
    insufficient: str | None = None


def results_view(c: m.Consultation, r: ConsultationResults) -> ResultsView:
    """The service's results with the shares worked out, in question order."""
    questions = []
    for q in c.questions:
        tally = r.tallies.get(q["id"])
        if tally is None:
            questions.append(QuestionResult(q["id"], q["text"], 0, None))
            continue
        answered = sum(tally.values())
        questions.append(QuestionResult(q["id"], q["text"], answered, [
            ChoiceCount(option, n, n / answered if answered else 0.0)
            for option, n in tally.items()]))
    districts = sorted(r.by_district.items(), key=lambda item: (-item[1], item[0]))
    return ResultsView(
        r.responses, questions,
        [(d, n, n / r.responses if r.responses else 0.0) for d, n in districts],
        r.responses - sum(r.by_district.values()), r.insufficient)


# --- the page -----------------------------------------------------------------------------

def _deployment(request: Request) -> m.Deployment | Response:
    reference: str = request.path_params["reference"]
    if not REFERENCE.fullmatch(reference):
        return not_found(request, f"{reference!r} is not a deployment reference")
    try:
        return deployment_service.public_deployment(platform_of(request), reference)
    except NotFound as exc:
        return not_found(request, str(exc))


def _published(request: Request, d: m.Deployment) -> m.Consultation | None:
    """The deployment's consultation once opened (a draft is not published)."""
    found = public_view.published_consultation(platform_of(request), d.id)
    return found.consultation if found is not None else None


def _page(request: Request, d: m.Deployment, c: m.Consultation | None,
          values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
          status_code: int = 200) -> Response:
    results = None
    kept: list[KeptWording] = []
    found = public_view.published_consultation(platform_of(request), d.id)
    if c is not None and found is not None:
        kept = consultations.kept_wording(found.consultation)
        if found.results is not None:
            results = results_view(found.consultation, found.results)
    return render(request, "consultation.html", {
        "d": d, "c": c, "kept": kept, "results": results, "values": values or {},
        "errors": errors or {}, "district_field": DISTRICT_FIELD}, status_code=status_code)


def consultation_page(request: Request) -> Response:
    """The sheet, the questions and the form while open; the results once closed."""
    d = _deployment(request)
    if isinstance(d, Response):
        return d
    return _page(request, d, _published(request, d))


def submit_answers(request: Request) -> Response:
    """Validate, rate-limit, record through the consultation service, then redirect to
    the thank-you page (so reloading it does not answer twice)."""
    d = _deployment(request)
    if isinstance(d, Response):
        return d
    c = _published(request, d)
    if c is None:
        return not_found(request, f"{d.reference} has no consultation taking answers")
    form = read_form(request)
    values = {q["id"]: str(form.get(q["id"]) or "") for q in c.questions}
    values[DISTRICT_FIELD] = str(form.get(DISTRICT_FIELD) or "")
    answers = {qid: text.strip() for qid, text in values.items()
               if qid != DISTRICT_FIELD and text.strip()}
    try:
        data = ConsultationResponseIn(
            answers=answers, postcode_district=values[DISTRICT_FIELD].strip() or None)
    except ValidationError as exc:
        return _page(request, d, c, values, _problems(exc), status_code=422)
    try:
        consultations.submit_response(platform_of(request), PUBLIC_ACTOR, c.id, data,
                                      client_address(request))
    except TooManyRequests as exc:
        return render(request, "consultation_limited.html",
                      {"d": d, "per_hour": RESPONSES_PER_HOUR, "message": str(exc)},
                      status_code=429)
    except InvalidInput as exc:
        return _page(request, d, c, values, {exc.field.removeprefix("answers."): exc.message},
                     status_code=422)
    except Conflict:
        # Closed while the form was open: show the page as it is now.
        return _page(request, d, _published(request, d), values, {
            FORM: "This consultation is no longer taking answers."}, status_code=409)
    return RedirectResponse(str(request.url_for("consultation_thanks", reference=d.reference)),
                            status_code=303)


def _problems(exc: ValidationError) -> dict[str, str]:
    """The schema's errors as words, by form field."""
    problems: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        message = str(error["msg"]).removeprefix("Value error, ")
        if loc[:1] == [DISTRICT_FIELD]:
            problems[DISTRICT_FIELD] = message
        elif loc[:1] == ["answers"] and len(loc) > 1:
            problems[loc[1]] = "Write at most 2,000 characters."
        else:
            problems[FORM] = "Answer at least one question."
    return problems


def consultation_thanks(request: Request) -> Response:
    """Confirms the answers were recorded, anonymously, and says when results appear."""
    d = _deployment(request)
    if isinstance(d, Response):
        return d
    return render(request, "consultation_thanks.html", {"d": d})


PUBLIC_PATHS = ("/deployments/{reference}/consultation",
                "/deployments/{reference}/consultation/thanks")

routes = [
    PageRoute("/deployments/{reference}/consultation", consultation_page, methods=["GET"],
              name="consultation_page"),
    PageRoute("/deployments/{reference}/consultation", submit_answers, methods=["POST"],
              name="consultation_submit"),
    PageRoute("/deployments/{reference}/consultation/thanks", consultation_thanks,
              methods=["GET"], name="consultation_thanks"),
]
