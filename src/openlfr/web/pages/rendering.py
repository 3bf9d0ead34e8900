"""What every page shares: the Jinja2 environment, date formatting and the HTML
not-found page."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from openlfr import localtime
from openlfr.services.answer_history import versions
from openlfr.services.platform import Platform
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


def render(request: Request, template: str, context: dict[str, Any],
           status_code: int = 200) -> Response:
    """Render ``template`` with ``context`` (autoescaped)."""
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def not_found(request: Request, message: str) -> Response:
    """The HTML 404 page, saying what was not found."""
    return render(request, "not_found.html", {"message": message}, status_code=404)
