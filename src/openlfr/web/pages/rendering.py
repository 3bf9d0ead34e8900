"""What every page shares: its route (``PageRoute``: the handler off the event loop, the
form received first), the Jinja2 environment, date formatting and the HTML not-found page."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import anyio.from_thread
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from openlfr import localtime
from openlfr.services.answer_history import versions
from openlfr.services.platform import Platform
from openlfr.web.security import PLAIN_FORM, media_type
from openlfr.web.threads import PasswordChecksBusy, run_checking_passwords
from openlfr.web.urls import template_url_for

WEB_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


def when(moment: datetime | date | None) -> str:
    """A date or time as people read it, London first then UTC (``openlfr.localtime``),
    e.g. "Sun 22 March 2026, 10:00 GMT (10:00 UTC)"."""
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        return localtime.when(moment)
    return day(moment)


def day(moment: datetime | date | None) -> str:
    """The date alone, as London's calendar has it, e.g. "22 March 2026"."""
    if moment is None:
        return ""
    return localtime.day(moment)


def words(identifier: str) -> str:
    """A code such as "council_officials" as words: "council officials"."""
    return identifier.replace("_", " ")


templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
templates.env.filters.update(when=when, day=day, words=words, versions=versions)
templates.env.globals["percent"] = lambda share: f"{share:.0%}"
# Links to pages by name from an index built once, not a walk of every route per link.
templates.env.globals["url_for"] = template_url_for


def platform_of(request: Request) -> Platform:
    """The platform the app was built with."""
    platform: Platform = request.app.state.platform
    return platform


class PageRoute(Route):
    """A page's route. Its handler is a plain function, run on a worker thread, so a use
    case that waits (a password's hash, a record another request holds: PostgreSQL's row
    locks) holds up only its own request, never the event loop and everyone's pages, API
    calls and live streams with it. A form's body is received first, on the event loop: a
    client that sends it slowly holds no worker thread (there are ``server_threads``
    of them, one per database connection). A plain form is parsed on the worker thread
    (``read_form``), a multipart one (files) on the loop as it arrives. A route that
    ``checks_passwords`` runs on the password threads (``web/threads.py``)."""

    def __init__(self, path: str, endpoint: Callable[[Request], Response], *,
                 methods: list[str], name: str, checks_passwords: bool = False) -> None:
        super().__init__(path, _off_the_loop(endpoint, self.reads_form_first,
                                             checks_passwords),
                         methods=methods, name=name)

    def reads_form_first(self, request: Request) -> bool:
        """Whether the form is read before the handler runs: for a post."""
        return request.method == "POST"


def _off_the_loop(handler: Callable[[Request], Response],
                  reads_form_first: Callable[[Request], bool], checks_passwords: bool
                  ) -> Callable[[Request], Awaitable[Response]]:
    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        if reads_form_first(request):
            if _multipart(request):
                await _read_form(request)  # kept on the request: read_form answers from it
            else:
                await request.body()  # likewise; read_form parses it
        if not checks_passwords:
            return await run_in_threadpool(handler, request)
        try:
            return await run_checking_passwords(request, handler, request)
        except PasswordChecksBusy as exc:
            return render(request, "try_again.html", {
                "message": str(exc), "back": request.url.path},
                status_code=exc.status_code, headers={"Retry-After": str(exc.retry_after_s)})
    return endpoint


FORM_FIELDS_MAX = 1000
"""The most fields a form may have, plain or multipart (Starlette's own limit for both)."""


def read_form(request: Request) -> FormData:
    """The form posted to a page's handler (``PageRoute``), its body received on the event
    loop. A plain (URL-encoded) form is parsed here, on the worker thread, and one of more
    than ``FORM_FIELDS_MAX`` fields is refused (400) before any is split off: parsed on
    the loop, a 4 MB body of ``&`` held every other request for about half a second."""
    form: FormData | None = getattr(request.state, "form", None)
    if form is None:
        if _multipart(request):
            form = anyio.from_thread.run(_read_form, request)
        else:
            form = _parse_plain_form(request, anyio.from_thread.run(request.body))
        request.state.form = form
    return form


def _multipart(request: Request) -> bool:
    return media_type(request.headers) == "multipart/form-data"


def _parse_plain_form(request: Request, body: bytes) -> FormData:
    if media_type(request.headers) != PLAIN_FORM:
        return FormData()  # as Starlette reads a post of any other type
    try:
        # Decoded as Starlette does: the bytes as Latin-1, each %-escape as UTF-8.
        fields: list[tuple[str, str | UploadFile]] = list(parse_qsl(
            body.decode("latin-1"), keep_blank_values=True, max_num_fields=FORM_FIELDS_MAX))
    except ValueError:
        raise HTTPException(400, f"a form has at most {FORM_FIELDS_MAX} fields") from None
    return FormData(fields)


async def _read_form(request: Request) -> FormData:
    return await request.form(max_fields=FORM_FIELDS_MAX)


def render(request: Request, template: str, context: dict[str, Any],
           status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Render ``template`` with ``context`` (autoescaped)."""
    return templates.TemplateResponse(request, template, context, status_code=status_code,
                                      headers=headers)


def not_found(request: Request, message: str) -> Response:
    """The HTML 404 page, saying what was not found."""
    return render(request, "not_found.html", {"message": message}, status_code=404)
