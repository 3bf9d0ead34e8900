"""Collective and standing objections: an area's page lists the published ones (their
starter confirmed) with how many confirmed signatures each has (never who signed), the
text or why it was withheld for abuse, and lets anyone start one or co-sign one with an
e-mail address (double opt-in: the confirm link shows a page with a button and acts only
on POST). Every action goes through ``services.collective``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from openlfr.governance.areas import UnknownArea
from openlfr.governance.errors import Conflict, InvalidInput, NotFound
from openlfr.services import collective, portal
from openlfr.services.platform import PUBLIC_ACTOR
from openlfr.services.rate_limits import TooManyRequests
from openlfr.services.schemas import CollectiveObjectionIn, FollowIn
from openlfr.web.deps import client_address
from openlfr.web.pages.rendering import PageRoute, not_found, platform_of, read_form, render


def _page(request: Request, area: portal.NoticeArea, error: str | None = None,
          values: dict[str, str] | None = None, sent: bool = False,
          status_code: int = 200) -> Response:
    p = platform_of(request)
    return render(request, "collective.html", {
        "area": area, "items": collective.collective_in_area(p, area.code), "error": error,
        "values": values or {}, "sent": sent,
        "threshold": p.settings.collective_objection_threshold}, status_code=status_code)


def _area(request: Request) -> portal.NoticeArea | Response:
    try:
        return portal.notice_area(platform_of(request), request.path_params["area"])
    except UnknownArea as exc:
        return not_found(request, str(exc))


def area_objections(request: Request) -> Response:
    area = _area(request)
    if isinstance(area, Response):
        return area
    return _page(request, area)


def act(request: Request) -> Response:
    """Start one (``act=start``: text and e-mail) or co-sign one (``act=sign``)."""
    area = _area(request)
    if isinstance(area, Response):
        return area
    form = read_form(request)
    values = {k: str(form.get(k) or "") for k in ("act", "text", "email", "objection_id")}
    p = platform_of(request)
    try:
        if values["act"] == "start":
            collective.file_collective(p, PUBLIC_ACTOR, area.code, CollectiveObjectionIn(
                text=values["text"], email=values["email"]), client_address(request))
        else:
            ids = {c.id for c in collective.collective_in_area(p, area.code)}
            if not values["objection_id"].isdigit() or int(values["objection_id"]) not in ids:
                raise InvalidInput("objection_id", "choose one of this area's objections")
            collective.sign(p, PUBLIC_ACTOR, int(values["objection_id"]),
                            FollowIn(email=values["email"]), client_address(request))
    except TooManyRequests as exc:
        return _page(request, area, str(exc), values, status_code=429)
    except InvalidInput as exc:
        return _page(request, area, exc.message, values, status_code=422)
    except Conflict as exc:  # its text was withheld for abuse
        return _page(request, area, str(exc), values, status_code=409)
    except ValueError:
        return _page(request, area, "write the objection (at least 10 characters) and give "
                     "an e-mail address", values, status_code=422)
    return _page(request, area, sent=True)


def confirm_page(request: Request) -> Response:
    token = request.path_params["token"]
    try:
        row = collective.signature_by_token(platform_of(request), token)
    except NotFound as exc:
        return not_found(request, str(exc))
    return render(request, "collective_confirm.html", {
        "token": token, "confirmed": row.confirmed_at is not None})


def confirm(request: Request) -> Response:
    try:
        collective.confirm_signature(platform_of(request), request.path_params["token"])
    except NotFound as exc:
        return not_found(request, str(exc))
    return render(request, "collective_confirm.html", {"confirmed": True})


PUBLIC_PATHS = ("/areas/{area}/objections", "/collective/signatures/{token}/confirm")

routes = [
    PageRoute("/areas/{area}/objections", area_objections, methods=["GET"],
              name="collective_objections"),
    PageRoute("/areas/{area}/objections", act, methods=["POST"], name="collective_act"),
    PageRoute("/collective/signatures/{token}/confirm", confirm_page, methods=["GET"],
              name="signature_confirm_page"),
    PageRoute("/collective/signatures/{token}/confirm", confirm, methods=["POST"],
              name="signature_confirm"),
]
