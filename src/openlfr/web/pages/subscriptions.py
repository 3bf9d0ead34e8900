"""E-mail notice per area: the subscribe form (an address, nothing else), the page that
says a confirmation is on its way, and the confirm and unsubscribe links every e-mail
carries. Each link shows a page with a button and acts only on POST, so a mail scanner
that opens links neither confirms nor ends a subscription; mail programs' one-click
unsubscribe (RFC 8058) POSTs to the same address.

The answer to a subscription is the same whether or not the address was already
subscribed, and no page shows an address. Subscribing is rate limited per client
address, as the feedback form is."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from openlfr.governance.areas import UnknownArea
from openlfr.governance.errors import Conflict, InvalidInput, NotFound
from openlfr.services import notices, portal
from openlfr.services.powers import Action
from openlfr.services.rate_limits import POLICIES, TooManyRequests
from openlfr.storage import models as m
from openlfr.web.deps import client_address
from openlfr.web.pages.rendering import PageRoute, not_found, platform_of, read_form, render

#: Subscription requests a single client address may send per hour.
SUBSCRIBE_PER_HOUR = POLICIES[Action.NOTICE_SUBSCRIBE].item.amount


def _area(request: Request) -> portal.NoticeArea | Response:
    """The gazetteer area the path names (a 404 page with the closest names otherwise)."""
    try:
        return portal.notice_area(platform_of(request), request.path_params["area"])
    except UnknownArea as exc:
        return not_found(request, str(exc))


def _form(request: Request, area: portal.NoticeArea, email: str, error: str | None,
          status_code: int = 200) -> Response:
    return render(request, "subscribe_form.html", {
        "area": area, "email": email, "error": error,
        "retention_days": platform_of(request).settings.sent_email_retention_days},
        status_code=status_code)


def subscribe_form(request: Request) -> Response:
    """The form: one field, the e-mail address."""
    area = _area(request)
    if isinstance(area, Response):
        return area
    return _form(request, area, "", None)


def subscribe(request: Request) -> Response:
    """Validate, rate-limit, queue the confirmation e-mail, then send the browser to the
    "check your inbox" page (the same page whatever the address's history)."""
    area = _area(request)
    if isinstance(area, Response):
        return area
    form = read_form(request)
    email = str(form.get("email") or "")[:1000]
    try:
        notices.valid_address(email)
    except InvalidInput as exc:
        return _form(request, area, email, exc.message, status_code=422)
    try:
        notices.subscribe(platform_of(request), email, area.code, client_address(request))
    except TooManyRequests:
        return render(request, "subscribe_limited.html", {
            "area": area, "per_hour": SUBSCRIBE_PER_HOUR}, status_code=429)
    return RedirectResponse(str(request.url_for("subscribe_sent", area=area.code)),
                            status_code=303)


def subscribe_sent(request: Request) -> Response:
    """Check your inbox."""
    area = _area(request)
    if isinstance(area, Response):
        return area
    return render(request, "subscribe_sent.html", {"area": area})


def _subscription(request: Request) -> tuple[m.NoticeSubscription, str] | Response:
    """The subscription a link names, and its area's name; a 404 page for an unknown
    token."""
    p = platform_of(request)
    try:
        sub = notices.subscription_by_token(p, request.path_params["token"])
    except NotFound as exc:
        return not_found(request, str(exc))
    try:
        name = portal.notice_area(p, sub.area_code).name
    except UnknownArea:  # a legacy area that matched no gazetteer name
        name = sub.area_code
    return sub, name


def _link_page(request: Request, template: str, *, done: bool = False,
               problem: str | None = None, status_code: int = 200) -> Response:
    found = _subscription(request)
    if isinstance(found, Response):
        return found
    sub, area_name = found
    return render(request, template, {
        "token": sub.token, "area_code": sub.area_code, "area_name": area_name,
        "confirmed": sub.confirmed_at is not None, "ended": sub.unsubscribed_at is not None,
        "done": done, "problem": problem}, status_code=status_code)


def confirm_page(request: Request) -> Response:
    """The confirmation link: a button that confirms."""
    return _link_page(request, "subscribe_confirm.html")


def confirm(request: Request) -> Response:
    """Confirm the subscription; notices for the area are sent from now on."""
    try:
        notices.confirm_subscription(platform_of(request), request.path_params["token"])
    except NotFound as exc:
        return not_found(request, str(exc))
    except Conflict as exc:
        return _link_page(request, "subscribe_confirm.html", problem=str(exc), status_code=409)
    return _link_page(request, "subscribe_confirm.html", done=True)


def unsubscribe_page(request: Request) -> Response:
    """The unsubscribe link: a button that unsubscribes."""
    return _link_page(request, "subscribe_unsubscribe.html")


def unsubscribe(request: Request) -> Response:
    """End the subscription: from the page's button, or a mail program's one-click
    unsubscribe (which POSTs ``List-Unsubscribe=One-Click``)."""
    try:
        notices.unsubscribe(platform_of(request), request.path_params["token"])
    except NotFound as exc:
        return not_found(request, str(exc))
    return _link_page(request, "subscribe_unsubscribe.html", done=True)


PUBLIC_PATHS = ("/areas/{area}/subscribe", "/areas/{area}/subscribe/sent",
                "/subscriptions/{token}/confirm", "/subscriptions/{token}/unsubscribe")

routes = [
    PageRoute("/areas/{area}/subscribe", subscribe_form, methods=["GET"], name="subscribe_form"),
    PageRoute("/areas/{area}/subscribe", subscribe, methods=["POST"], name="subscribe"),
    PageRoute("/areas/{area}/subscribe/sent", subscribe_sent, methods=["GET"],
              name="subscribe_sent"),
    PageRoute("/subscriptions/{token}/confirm", confirm_page, methods=["GET"],
              name="subscription_confirm_page"),
    PageRoute("/subscriptions/{token}/confirm", confirm, methods=["POST"],
              name="subscription_confirm"),
    PageRoute("/subscriptions/{token}/unsubscribe", unsubscribe_page, methods=["GET"],
              name="unsubscribe_page"),
    PageRoute("/subscriptions/{token}/unsubscribe", unsubscribe, methods=["POST"],
              name="unsubscribe"),
]
