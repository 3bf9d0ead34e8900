"""After feedback is filed: the author's private page (their item, its answer, one reply,
escalation to oversight), and following an item by e-mail (double opt-in: the confirm and
unfollow links show a page with a button and act only on POST, so a mail scanner that
opens links changes nothing). Every action goes through ``services.objections``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from openlfr.governance.errors import Conflict, GovernanceError, InvalidInput, NotFound
from openlfr.services import objections, public_view
from openlfr.services.platform import PUBLIC_ACTOR
from openlfr.services.public_view import PublicDeployment
from openlfr.services.rate_limits import TooManyRequests
from openlfr.services.schemas import FollowIn, ReplyIn
from openlfr.web.deps import client_address
from openlfr.web.pages.deployments import REFERENCE
from openlfr.web.pages.rendering import PageRoute, not_found, platform_of, read_form, render

_DONE = {
    "replied": "Your reply was published with the answer.",
    "escalated": "Your item was escalated to the oversight board; its response will be "
                 "published here and on the deployment's page.",
}


def _ids(request: Request) -> tuple[int, str] | None:
    raw = request.path_params["feedback_id"]
    return (int(raw), request.path_params["token"]) if raw.isdigit() and len(raw) < 10 else None


def _yours(request: Request, errors: dict[str, str] | None = None,
           values: dict[str, str] | None = None, status_code: int = 200) -> Response:
    ids = _ids(request)
    try:
        if ids is None:
            raise NotFound("this link is not valid")
        view = objections.author_view(platform_of(request), PUBLIC_ACTOR, *ids)
    except NotFound as exc:
        return not_found(request, str(exc))
    return render(request, "feedback_yours.html", {
        "view": view, "f": view.feedback, "d": view.deployment, "errors": errors or {},
        "values": values or {}, "notice": _DONE.get(request.query_params.get("done", "")),
        "token": ids[1]}, status_code=status_code)


def yours(request: Request) -> Response:
    """The author's page: what they wrote, the answer, and what they may do next."""
    return _yours(request)


def act(request: Request) -> Response:
    """Reply once (``act=reply``) or escalate to oversight (``act=escalate``)."""
    ids = _ids(request)
    if ids is None:
        return not_found(request, "this link is not valid")
    form = read_form(request)
    field = "escalation" if form.get("act") == "escalate" else "reply"
    text = str(form.get(field) or "")
    take = objections.escalate if field == "escalation" else objections.reply
    try:
        take(platform_of(request), PUBLIC_ACTOR, *ids, ReplyIn(text=text))
    except NotFound as exc:
        return not_found(request, str(exc))
    except (GovernanceError, ValueError) as exc:
        message = (str(exc) if isinstance(exc, GovernanceError)
                   else "write a few words (up to 5,000 characters)")
        return _yours(request, {field: message}, {field: text},
                      409 if isinstance(exc, Conflict) else 422)
    url = request.url_for("feedback_yours", feedback_id=str(ids[0]), token=ids[1]
                          ).include_query_params(done="escalated" if field == "escalation"
                                                 else "replied")
    return RedirectResponse(str(url), status_code=303)


def _public(request: Request) -> PublicDeployment | Response:
    reference = request.path_params["reference"]
    if not REFERENCE.fullmatch(reference):
        return not_found(request, f"{reference!r} is not a deployment reference")
    try:
        return public_view.public_deployment(platform_of(request), reference)
    except NotFound as exc:
        return not_found(request, str(exc))


def follow_page(request: Request) -> Response:
    """Follow one of a deployment's items by e-mail (``?item=ID`` chooses it)."""
    view = _public(request)
    if isinstance(view, Response):
        return view
    return render(request, "follow_form.html", {
        "view": view, "d": view.deployment, "chosen": request.query_params.get("item", ""),
        "error": None, "email": ""})


def follow(request: Request) -> Response:
    """Ask to follow an item: a confirmation e-mail goes to the address."""
    view = _public(request)
    if isinstance(view, Response):
        return view
    form = read_form(request)
    email, item = str(form.get("email") or ""), str(form.get("feedback_id") or "")
    ids = {f.id for f in view.feedback if f.followable}
    problem, status = None, 200
    try:
        if not item.isdigit() or int(item) not in ids:
            raise InvalidInput("feedback_id", "choose one of this deployment's items")
        objections.follow(platform_of(request), PUBLIC_ACTOR, int(item),
                          FollowIn(email=email), client_address(request))
    except TooManyRequests as exc:
        problem, status = str(exc), 429
    except (InvalidInput, ValueError) as exc:
        problem = exc.message if isinstance(exc, InvalidInput) else "give an e-mail address"
        status = 422
    if problem:
        return render(request, "follow_form.html", {
            "view": view, "d": view.deployment, "chosen": item, "error": problem,
            "email": email}, status_code=status)
    return render(request, "follow_done.html", {"sent": True, "d": view.deployment})


def _follow_link(request: Request, ask: str) -> Response:
    token = request.path_params["token"]
    try:
        row = objections.follow_by_token(platform_of(request), token)
    except NotFound as exc:
        return not_found(request, str(exc))
    if ask == "confirm" and row.confirmed_at is not None and row.unsubscribed_at is None:
        return render(request, "follow_done.html", {"confirmed": True})
    return render(request, "follow_done.html", {"ask": ask, "token": token})


def confirm_page(request: Request) -> Response:
    return _follow_link(request, "confirm")


def unfollow_page(request: Request) -> Response:
    return _follow_link(request, "unfollow")


def confirm(request: Request) -> Response:
    try:
        objections.confirm_follow(platform_of(request), request.path_params["token"])
    except NotFound as exc:
        return not_found(request, str(exc))
    except Conflict as exc:
        return render(request, "follow_done.html", {"problem": str(exc)}, status_code=409)
    return render(request, "follow_done.html", {"confirmed": True})


def unfollow(request: Request) -> Response:
    try:
        objections.unfollow(platform_of(request), request.path_params["token"])
    except NotFound as exc:
        return not_found(request, str(exc))
    return render(request, "follow_done.html", {"ended": True})


PUBLIC_PATHS = ("/feedback/{feedback_id}/yours/{token}", "/deployments/{reference}/follow",
                "/feedback/follows/{token}/confirm", "/feedback/follows/{token}/unfollow")

routes = [
    PageRoute("/feedback/{feedback_id}/yours/{token}", yours, methods=["GET"],
              name="feedback_yours"),
    PageRoute("/feedback/{feedback_id}/yours/{token}", act, methods=["POST"], name="feedback_act"),
    PageRoute("/deployments/{reference}/follow", follow_page, methods=["GET"], name="follow_form"),
    PageRoute("/deployments/{reference}/follow", follow, methods=["POST"], name="feedback_follow"),
    PageRoute("/feedback/follows/{token}/confirm", confirm_page, methods=["GET"],
              name="follow_confirm_page"),
    PageRoute("/feedback/follows/{token}/confirm", confirm, methods=["POST"],
              name="follow_confirm"),
    PageRoute("/feedback/follows/{token}/unfollow", unfollow_page, methods=["GET"],
              name="unfollow_page"),
    PageRoute("/feedback/follows/{token}/unfollow", unfollow, methods=["POST"], name="unfollow"),
]
