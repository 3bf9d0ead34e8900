"""A deployment's watchlist (staff): a planner creates it, enrols subjects from photos (the
platform's engine finds the face and computes the descriptors), removes entries and
builds it; authorisers and operators read it. Subject references are shown here, to
these roles only; descriptors never are.

The page decides nothing: every rule is the watchlist service's, and its errors are shown
next to the field they concern.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.services import watchlist_photos, watchlists
from openlfr.services.platform import Actor
from openlfr.services.powers import Action, may
from openlfr.services.schemas import WatchlistSubjectIn
from openlfr.storage import models as m
from openlfr.web.pages.rendering import not_found, platform_of
from openlfr.web.pages.staff.common import (
    FORM,
    deployment_form,
    deployment_page,
    done,
    path_id,
    problem_status,
    service_problem,
)
from openlfr.web.pages.staff_access import StaffRoute, staff_render

SUBJECT_FIELDS = ("subject_ref", "category", "source", "authorised_by", "image_taken_on",
                  "expires_on")

#: What the page says after a successful action (``?done=KEY``).
NOTICES = {
    "created": "The watchlist was created. Enrol subjects from their photos, then build it.",
    "enrolled": "The subject was enrolled from the photos; the watchlist must be built "
                "again.",
    "removed": "The entry and its descriptors and photo were deleted.",
    "built": "The watchlist was built: the gates check it against the 24-hour rule.",
}

BASE = "/staff/deployments/{deployment_id:int}/watchlist"


def _page(request: Request, actor: Actor, d: m.Deployment, *,
          values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
          status_code: int = 200) -> Response:
    p = platform_of(request)
    try:
        watchlist, entries = watchlists.get_watchlist(p, actor, d.id)
    except NotFound:
        watchlist, entries = None, []
    may_edit = may(actor.role, Action.WATCHLIST_WRITE)
    editable = may_edit and watchlist is not None and watchlist.destroyed_at is None and (
        d.status in {s.value for s in watchlists.WATCHLIST_EDITABLE})
    return staff_render(request, actor, "staff_watchlist.html", {
        "d": d, "watchlist": watchlist, "entries": entries,
        "counts": watchlists.category_counts(p, d.id),
        "may_create": may_edit and watchlist is None
        and d.status in {s.value for s in watchlists.WATCHLIST_EDITABLE},
        "editable": editable, "categories": p.settings.watchlist_allowed_categories,
        "built_within_hours": p.settings.watchlist_built_within_hours,
        "values": values or {}, "errors": errors or {},
        "notice": NOTICES.get(request.query_params.get("done", "")),
    }, status_code=status_code)


def _done(request: Request, d: m.Deployment, notice: str) -> Response:
    return done(request, "staff_watchlist", notice, deployment_id=d.id)


def watchlist_page(request: Request) -> Response:
    checked = deployment_page(request, Action.WATCHLIST_READ)
    if isinstance(checked, Response):
        return checked
    actor, d = checked
    return _page(request, actor, d)


def create_watchlist(request: Request) -> Response:
    checked = deployment_form(request, Action.WATCHLIST_WRITE)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    p = platform_of(request)
    try:
        watchlists.create_watchlist(p, actor, d.id, watchlist_photos.photo_watchlist(
            second_opinion=form.get("second_opinion") == "on"))
    except GovernanceError as exc:
        return _page(request, actor, d, errors={FORM: str(exc)}, status_code=409)
    return _done(request, d, "created")


def _subject(form: FormData) -> tuple[dict[str, str], WatchlistSubjectIn | None,
                                      dict[str, str]]:
    values = {name: str(form.get(name) or "") for name in SUBJECT_FIELDS}
    data: dict[str, Any] = {k: v for k, v in values.items() if k != "expires_on"}
    data["expires_on"] = values["expires_on"].strip() or None
    try:
        return values, WatchlistSubjectIn.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else FORM
            errors.setdefault(field, str(error["msg"]).removeprefix("Value error, "))
        return values, None, errors


def enrol_subject(request: Request) -> Response:
    checked = deployment_form(request, Action.WATCHLIST_WRITE)
    if isinstance(checked, Response):
        return checked
    actor, form, d = checked
    values, subject, errors = _subject(form)
    uploads = [f for f in form.getlist("photo") if isinstance(f, UploadFile) and f.filename]
    if not uploads:
        errors["photo"] = "choose at least one photo of the subject"
    if subject is None or errors:
        return _page(request, actor, d, values=values, errors=errors, status_code=422)
    photos = [watchlist_photos.Photo(str(u.filename), u.file.read()) for u in uploads]
    try:
        watchlist_photos.enrol_from_photos(platform_of(request), actor, d.id, subject,
                                           photos)
    except GovernanceError as exc:
        field, message = service_problem(exc)
        return _page(request, actor, d, values=values, errors={field: message},
                     status_code=problem_status(exc))
    return _done(request, d, "enrolled")


def remove_entry(request: Request) -> Response:
    checked = deployment_form(request, Action.WATCHLIST_WRITE)
    if isinstance(checked, Response):
        return checked
    actor, _, d = checked
    entry_id = path_id(request, "entry_id")
    try:
        if entry_id is None:
            raise NotFound(f"watchlist entry {request.path_params['entry_id']} does not exist")
        watchlists.remove_entry(platform_of(request), actor, d.id, entry_id)
    except GovernanceError as exc:
        return _page(request, actor, d, errors={FORM: str(exc)}, status_code=409)
    return _done(request, d, "removed")


def build_watchlist(request: Request) -> Response:
    checked = deployment_form(request, Action.WATCHLIST_WRITE)
    if isinstance(checked, Response):
        return checked
    actor, _, d = checked
    try:
        watchlists.build_watchlist(platform_of(request), actor, d.id)
    except GovernanceError as exc:
        return _page(request, actor, d, errors={FORM: str(exc)}, status_code=409)
    return _done(request, d, "built")


def reference_photo(request: Request) -> Response:
    """An entry's reference photo (the aligned face the engine found), for the roles that
    read the watchlist; never cached."""
    checked = deployment_page(request, Action.WATCHLIST_READ)
    if isinstance(checked, Response):
        return checked
    actor, d = checked
    entry_id = path_id(request, "entry_id")
    try:
        if entry_id is None:
            raise NotFound(f"watchlist entry {request.path_params['entry_id']} does not exist")
        jpeg = watchlist_photos.reference_photo(platform_of(request), actor, d.id, entry_id)
    except NotFound as exc:
        return not_found(request, str(exc))
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


routes = [
    StaffRoute(BASE, watchlist_page, action=Action.WATCHLIST_READ, methods=["GET"],
               name="staff_watchlist"),
    StaffRoute(f"{BASE}/create", create_watchlist, action=Action.WATCHLIST_WRITE,
               methods=["POST"], name="staff_create_watchlist"),
    StaffRoute(f"{BASE}/photos", enrol_subject, action=Action.WATCHLIST_WRITE, methods=["POST"],
               name="staff_enrol_subject"),
    StaffRoute(f"{BASE}/build", build_watchlist, action=Action.WATCHLIST_WRITE, methods=["POST"],
               name="staff_build_watchlist"),
    StaffRoute(f"{BASE}/entries/{{entry_id:int}}/remove", remove_entry,
               action=Action.WATCHLIST_WRITE, methods=["POST"], name="staff_remove_entry"),
    StaffRoute(f"{BASE}/entries/{{entry_id:int}}/photo.jpg", reference_photo,
               action=Action.WATCHLIST_READ, methods=["GET"], name="staff_entry_photo"),
]
