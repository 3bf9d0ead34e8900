"""The consultation builder (planners; authorisers may read it): write the information
sheet (benefits and risks) and the questions (free text, or multiple choice with one
option per line), save, and see every flag of the leading-wording check next to the text
it concerns with why and a neutral suggestion; record a reason to keep flagged wording
(it is published), open the consultation (refused, with the flags listed, while any flag
has no reason), close it, and read the results.

Every action goes through the consultation service, and the wording rules live only in
``governance.wording``: the page shows what they find. It works without JavaScript; a
small script (``static/consultation_builder.js``) re-checks the text as it is typed
through the JSON API's wording check, which runs the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from annotated_types import MaxLen
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from openlfr.governance.amendments import is_frozen
from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.governance.lifecycle import DeploymentStatus
from openlfr.governance.records import ConsultationStatus
from openlfr.governance.wording import (
    INFORMATION_SHEET,
    MIN_REASON_CHARS,
    Concern,
    WordingIssue,
    consultation_issues,
    is_kept,
)
from openlfr.services import consultations
from openlfr.services.platform import Actor
from openlfr.services.powers import Action, may
from openlfr.services.schemas import ConsultationIn, KeptWordingIn
from openlfr.storage import models as m
from openlfr.web.pages.consultation import results_view
from openlfr.web.pages.rendering import platform_of
from openlfr.web.pages.staff.common import (
    FORM,
    deployment_form,
    deployment_page,
    done,
    service_problem,
)
from openlfr.web.pages.staff_access import StaffRoute, staff_render

#: The most questions a consultation may have (the input schema's limit).
MAX_QUESTIONS: int = next(rule.max_length
                          for rule in ConsultationIn.model_fields["questions"].metadata
                          if isinstance(rule, MaxLen))
#: Empty question boxes offered after the saved ones (save again for more).
SPARE_QUESTIONS = 2

#: How each kind of flag is headed on the page.
CONCERN_LABELS: dict[Concern, str] = {
    Concern.ASKS_FOR_AGREEMENT: "Asks for agreement",
    Concern.PRESUPPOSES_AN_ANSWER: "Presupposes an answer",
    Concern.LOADED_LANGUAGE: "Loaded language",
    Concern.DOUBLE_BARRELLED: "Two questions in one",
    Concern.ONE_SIDED: "One-sided information",
}

#: What the page says after a successful action (``?done=KEY``).
NOTICES: dict[str, str] = {
    "saved": "The consultation was saved. Flags of the wording check are shown next to the "
             "text they concern.",
    "kept": "The reason was recorded; it will be published with the consultation once a "
            "member of oversight countersigns it (the consultation cannot open before).",
    "countersigned_wording": "Your countersignature was recorded; it is published with the "
                             "reason.",
    "withdrawn": "The reason was withdrawn; that wording's flags stop the consultation "
                 "opening again.",
    "opened": "The consultation is open: anyone can answer it anonymously on its public "
              "page.",
    "closed": "The consultation is closed; its results are published.",
}


@dataclass(frozen=True)
class Flag:
    """A flag of the wording check as the page shows it."""

    issue: WordingIssue
    #: A recorded reason keeps this wording on purpose.
    kept: bool


@dataclass(frozen=True)
class QuestionSlot:
    """One question box: its id when saved in this position, the text and the options
    (one per line)."""

    number: int
    text: str
    options: str

    @property
    def id(self) -> str:
        return f"q{self.number}"

    @property
    def choices(self) -> tuple[str, ...]:
        """The options as saved: one per non-empty line."""
        return tuple(o.strip() for o in self.options.splitlines() if o.strip())


@dataclass
class Draft:
    """What the form shows: the saved consultation, or what was typed."""

    benefits: str
    risks: str
    slots: list[QuestionSlot]

    def wording(self) -> dict[str, Any]:
        """The text each place's flags are about (as ``_saved_wording``)."""
        return {INFORMATION_SHEET: (self.benefits.strip(), self.risks.strip()),
                **{s.id: (s.text.strip(), s.choices) for s in self.slots if s.text.strip()}}


def _saved_draft(c: m.Consultation | None) -> Draft:
    if c is None:
        return Draft("", "", [])
    return Draft(c.benefits, c.risks, [
        QuestionSlot(n, q["text"], "\n".join(q["options"] or ()))
        for n, q in enumerate(c.questions, start=1)])


def _with_spare_slots(slots: list[QuestionSlot]) -> list[QuestionSlot]:
    spare = min(SPARE_QUESTIONS, MAX_QUESTIONS - len(slots))
    return slots + [QuestionSlot(len(slots) + i, "", "") for i in range(1, spare + 1)]


def _flags(draft: Draft, c: m.Consultation | None) -> dict[str, list[Flag]]:
    """The wording check's flags for the text shown, by place; a flag counts as kept only
    where the text shown is the saved text a reason was recorded for."""
    found = consultation_issues(draft.benefits, draft.risks,
                                [(s.id, s.text) for s in draft.slots if s.text.strip()],
                                options={s.id: s.choices for s in draft.slots})
    saved = _saved_draft(c).wording() if c is not None else {}
    shown = draft.wording()
    exceptions = (c.wording_exceptions or {}) if c is not None else {}
    return {where: [Flag(i, saved.get(where) == shown.get(where)
                         and is_kept(i, exceptions.get(where))) for i in issues]
            for where, issues in found.items()}


def _page(request: Request, actor: Actor, d: m.Deployment, c: m.Consultation | None,
          draft: Draft | None = None, values: dict[str, str] | None = None,
          errors: dict[str, str] | None = None, refusal: dict[str, list[Flag]] | None = None,
          status_code: int = 200) -> Response:
    p = platform_of(request)
    draft = draft or _saved_draft(c)
    is_draft = c is None or c.status == ConsultationStatus.DRAFT.value
    may_write = may(actor.role, Action.CONSULTATION_WRITE)
    may_edit = may_write and is_draft and not is_frozen(DeploymentStatus(d.status),
                                                          d.first_authorised_at)
    flags = _flags(draft, c)
    results = None
    if c is not None and not is_draft:
        results = results_view(c, consultations.consultation_results(p, actor, d.id))
    return staff_render(request, actor, "staff_consultation.html", {
        "d": d, "c": c, "draft": draft,
        "slots": _with_spare_slots(draft.slots) if may_edit else draft.slots,
        "flags": flags, "exceptions": (c.wording_exceptions or {}) if c is not None else {},
        "saved_wording": _saved_draft(c).wording() if c is not None else {},
        "shown_wording": draft.wording(),
        "unresolved": sum(1 for found in flags.values() for f in found if not f.kept),
        "kept": consultations.kept_wording(c) if c is not None else [],
        "results": results, "may_edit": may_edit,
        "may_open": may_edit and c is not None,
        "may_close": may_write and c is not None and c.status == ConsultationStatus.OPEN.value,
        "min_reason": MIN_REASON_CHARS, "sheet": INFORMATION_SHEET,
        "concern_labels": CONCERN_LABELS,
        "values": values or {}, "errors": errors or {}, "refusal": refusal or {},
        "notice": NOTICES.get(request.query_params.get("done", ""))},
        status_code=status_code)


def _consultation(request: Request, actor: Actor, d: m.Deployment) -> m.Consultation | None:
    try:
        return consultations.get_consultation(platform_of(request), actor, d.id)
    except NotFound:
        return None


def builder_page(request: Request) -> Response:
    """The builder (read-only for authorisers and once the consultation has opened)."""
    checked = deployment_page(request, Action.CONSULTATION_READ)
    if isinstance(checked, Response):
        return checked
    actor, d = checked
    return _page(request, actor, d, _consultation(request, actor, d))


def _read_draft(form: FormData) -> Draft:
    def text(name: str) -> str:
        value = form.get(name)
        return value if isinstance(value, str) else ""

    slots = []
    for n in range(1, MAX_QUESTIONS + 1):
        if f"q{n}_text" not in form:
            break
        slots.append(QuestionSlot(n, text(f"q{n}_text"), text(f"q{n}_options")))
    return Draft(text("benefits"), text("risks"), slots)


def _question_problem(error_type: str, part: str) -> str:
    if part == "options":
        return ("give at least two choices and at most ten, one per line (each up to 200 "
                "characters), or none for a free-text question")
    if error_type == "string_too_short":
        return "write the question (at least 5 characters)"
    return "a question may have at most 500 characters"


def _save_problems(exc: ValidationError, filled: list[QuestionSlot]) -> dict[str, str]:
    """The input schema's errors next to the box they concern."""
    problems: dict[str, str] = {}
    for error in exc.errors():
        loc = error["loc"]
        message = str(error["msg"]).removeprefix("Value error, ")
        if loc[0] == "questions" and len(loc) > 2 and isinstance(loc[1], int):
            slot = filled[loc[1]]
            part = "options" if loc[2] == "options" else "text"
            problems.setdefault(f"{slot.id}_{part}", _question_problem(error["type"], part))
        elif loc[0] == "questions":
            problems.setdefault(FORM, "write at least one question")
        else:
            problems.setdefault(str(loc[0]), message)
    return problems


def save(request: Request) -> Response:
    """Save the sheet and the questions (empty question boxes are left out)."""
    checked = deployment_form(request, Action.CONSULTATION_WRITE)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    draft = _read_draft(form)
    filled = [s for s in draft.slots if s.text.strip() or s.options.strip()]
    body = {"benefits": draft.benefits, "risks": draft.risks, "questions": [
        {"text": s.text, "options": list(s.choices) or None} for s in filled]}
    c = _consultation(request, actor, d)
    try:
        data = ConsultationIn.model_validate(body)
        consultations.save_consultation(platform_of(request), actor, d.id, data)
    except ValidationError as exc:
        return _page(request, actor, d, c, draft, errors=_save_problems(exc, filled),
                     status_code=422)
    except GovernanceError as exc:
        field, message = service_problem(exc)
        return _page(request, actor, d, c, draft, errors={field: message}, status_code=409)
    return done(request, "staff_consultation", "saved", deployment_id=d.id)


def _where(form: FormData) -> str:
    where = form.get("where")
    return where if isinstance(where, str) else ""


def keep_wording(request: Request) -> Response:
    """Record why flagged wording is kept (the service checks it is flagged, long enough
    and still a draft)."""
    checked = deployment_form(request, Action.CONSULTATION_WRITE)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    where = _where(form)
    reason = form.get("reason")
    reason = reason if isinstance(reason, str) else ""
    field = f"reason_{where}"
    try:
        data = KeptWordingIn(reason=reason)
        consultations.keep_flagged_wording(platform_of(request), actor, d.id, where, data)
    except ValidationError:
        problem, status = {field: f"write the reason (at least {MIN_REASON_CHARS} "
                                  "characters)"}, 422
    except GovernanceError as exc:
        name, message = service_problem(exc)
        problem, status = ({field: message}, 422) if name == "reason" else ({FORM: message}, 409)
    else:
        return done(request, "staff_consultation", "kept", deployment_id=d.id)
    return _page(request, actor, d, _consultation(request, actor, d), values={field: reason},
                 errors=problem, status_code=status)


def countersign(request: Request) -> Response:
    """A member of oversight countersigns a kept reason (the service checks the rest)."""
    checked = deployment_form(request, Action.CONSULTATION_COUNTERSIGN)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    where = _where(form)
    words = form.get("countersignature")
    words = words if isinstance(words, str) else ""
    field = f"countersignature_{where}"
    try:
        data = KeptWordingIn(reason=words)
        consultations.countersign_kept_wording(platform_of(request), actor, d.id, where, data)
    except ValidationError:
        problem, status = {field: f"write the countersignature (at least {MIN_REASON_CHARS} "
                                  "characters)"}, 422
    except GovernanceError as exc:
        name, message = service_problem(exc)
        problem, status = ({field: message}, 422) if name == "reason" else ({FORM: message}, 409)
    else:
        return done(request, "staff_consultation", "countersigned_wording", deployment_id=d.id)
    return _page(request, actor, d, _consultation(request, actor, d), values={field: words},
                 errors=problem, status_code=status)


def withdraw_reason(request: Request) -> Response:
    checked = deployment_form(request, Action.CONSULTATION_WRITE)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    try:
        consultations.withdraw_wording_reason(platform_of(request), actor, d.id, _where(form))
    except GovernanceError as exc:
        return _page(request, actor, d, _consultation(request, actor, d), errors={FORM: str(exc)},
                     status_code=409)
    return done(request, "staff_consultation", "withdrawn", deployment_id=d.id)


def open_for_answers(request: Request) -> Response:
    """Open it; when the service refuses, the page lists the flags that have no reason."""
    checked = deployment_form(request, Action.CONSULTATION_WRITE)
    if isinstance(checked, Response):
        return checked
    actor, _, d = checked
    try:
        consultations.open_consultation(platform_of(request), actor, d.id)
    except GovernanceError as exc:
        c = _consultation(request, actor, d)
        refusal = {}
        if c is not None:
            unresolved = consultations.unresolved_wording(c)
            refusal = {where: [Flag(i, False) for i in found]
                       for where, found in unresolved.items()}
        message = ("the consultation cannot open while flagged wording has no recorded "
                   "reason: fix the wording, or record why it is kept"
                   if refusal else str(exc))
        return _page(request, actor, d, c, errors={FORM: message}, refusal=refusal,
                     status_code=409)
    return done(request, "staff_consultation", "opened", deployment_id=d.id)


def close_answers(request: Request) -> Response:
    checked = deployment_form(request, Action.CONSULTATION_WRITE)
    if isinstance(checked, Response):
        return checked
    actor, _, d = checked
    try:
        consultations.close_consultation(platform_of(request), actor, d.id)
    except GovernanceError as exc:
        return _page(request, actor, d, _consultation(request, actor, d), errors={FORM: str(exc)},
                     status_code=409)
    return done(request, "staff_consultation", "closed", deployment_id=d.id)


BASE = "/staff/deployments/{deployment_id:int}/consultation"

routes = [
    StaffRoute(BASE, builder_page, action=Action.CONSULTATION_READ, methods=["GET"],
               name="staff_consultation"),
    *(StaffRoute(f"{BASE}{path}", endpoint, action=Action.CONSULTATION_WRITE, methods=["POST"],
                 name=name)
      for path, endpoint, name in (
          ("", save, "staff_consultation_save"), ("/keep", keep_wording, "staff_consultation_keep"),
          ("/withdraw", withdraw_reason, "staff_consultation_withdraw"),
          ("/open", open_for_answers, "staff_consultation_open"),
          ("/close", close_answers, "staff_consultation_close"))),
    StaffRoute(f"{BASE}/countersign", countersign, action=Action.CONSULTATION_COUNTERSIGN,
               methods=["POST"], name="staff_consultation_countersign"),
]
