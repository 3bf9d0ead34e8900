"""Notice subscriptions per area: an iCalendar feed (each deployment an event, so it
appears in people's calendars, and a cancellation shows as cancelled) and an Atom feed
(each deployment an entry, updated when its status changes). Every change after notice
shows in both: new dates, each plan amendment (what changed, why, and whether the notice
restarted), a cancellation; the event's SEQUENCE counts them, so calendars update it.
Areas are the gazetteer's
(a name such as ``london-borough-of-newham`` redirects to the area's code, ``newham``). A
borough's feeds include its wards; an area with no deployment yet gives a valid empty
feed, so people can subscribe before the first notice. A deployment that went ahead
despite failed checks says so in its summary, status text and entry title."""

from __future__ import annotations

from datetime import datetime

from feedgen.feed import FeedGenerator
from icalendar import Calendar, Event
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from openlfr import __version__
from openlfr.governance.amendments import (
    field_words,
    notice_restarted,
    plan_changes,
    value_words,
    widened_by,
)
from openlfr.governance.areas import UnknownArea
from openlfr.governance.lifecycle import DeploymentStatus
from openlfr.services import amendments, portal, public_view, rescheduling
from openlfr.services.public_view import PublicSummary
from openlfr.services.schemas import without_control_characters
from openlfr.storage import models as m
from openlfr.web.pages.rendering import PageRoute, not_found, platform_of, when

ICAL_TYPE = "text/calendar; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"

#: iCalendar STATUS for each published deployment status.
_ICAL_STATUS = {
    DeploymentStatus.NOTICE_PUBLISHED: "TENTATIVE",
    DeploymentStatus.CANCELLED: "CANCELLED",
}


def area_in_path(request: Request) -> tuple[portal.NoticeArea, list[PublicSummary]] | Response:
    """The area the path names and its published deployments; a name that is not the
    area's code redirects to it, and text that names no area is the 404 page with the
    closest known names."""
    text: str = request.path_params["area"]
    try:
        area, listed = public_view.public_deployments_in_area(platform_of(request), text)
    except UnknownArea as exc:
        return not_found(request, str(exc))
    if area.code != text:
        url = request.url.replace(path=request.url.path.replace(f"/{text}/", f"/{area.code}/"))
        return RedirectResponse(str(url), status_code=301)
    return area, listed


def _summary(item: PublicSummary) -> str:
    return f"Live facial recognition: {item.deployment.title} ({item.status_text})"


def _amended(a: m.Amendment) -> str:
    """A plan amendment in a line: what changed (now, and before), why, and whether the
    notice restarted."""
    what = "; ".join(f"{field_words(str(c['field']))} now {value_words(c['after'])} (was "
                     f"{value_words(c['before'])})" for c in plan_changes(a.changes))
    line = f"Plan amended on {when(a.made_at)}: {what}. Why: {a.reason}"
    widened = "; ".join(widened_by(a.changes))
    if notice_restarted(a.changes):
        line += (f" It went further than the notice given before: {widened}. So the notice "
                 "period ran again from then, and it must be authorised on the amended "
                 "plan.")
    elif widened:
        line += (f" It went further than the notice given before, after the deployment had "
                 f"run: {widened}.")
    return line


def _description(item: PublicSummary, url: str, changes: list[rescheduling.Reschedule],
                 amended: list[m.Amendment]) -> str:
    d = item.deployment
    sites = "; ".join(s.name for s in d.sites)
    lines = [f"{d.reference}, {d.borough}" + (f" / {d.ward}" if d.ward else "") + ".",
             f"From {when(d.start_at)} to {when(d.end_at)}. Status: {item.status_text}.",
             f"Sites: {sites}.", f"Purpose: {d.purpose}",
             f"Offence categories: {', '.join(d.offence_categories)}."]
    lines += [f"Dates changed on {when(c.at)} (were {when(c.old_start_at)} to "
              f"{when(c.old_end_at)}): {c.reason}" for c in reversed(changes)]
    lines += [_amended(a) for a in reversed(amended)]
    if item.went_ahead_despite:
        lines.append("It went ahead despite failed checks ("
                     + ", ".join(n.replace("_", " ") for n in item.went_ahead_despite)
                     + "), by an override two people signed; their reasons are on its page.")
    if d.cancel_reason:
        lines.append(f"Cancelled: {d.cancel_reason}")
    lines.append(f"Details, checks, and how to object or ask a question: {url}")
    return "\n".join(lines)


def _updated(deployments: list[m.Deployment], fallback: datetime) -> datetime:
    return max((d.updated_at for d in deployments), default=fallback)


def _changes(request: Request,
             listed: list[PublicSummary]) -> dict[int, list[rescheduling.Reschedule]]:
    return rescheduling.reschedule_history(platform_of(request),
                                           [x.deployment.id for x in listed])


def _amendments(request: Request, listed: list[PublicSummary]) -> dict[int, list[m.Amendment]]:
    return amendments.plan_amendments(platform_of(request), [x.deployment.id for x in listed])


def ical_feed(request: Request) -> Response:
    """The area's deployments as calendar events."""
    found = area_in_path(request)
    if isinstance(found, Response):
        return found
    area, listed = found
    now = platform_of(request).clock()
    cal = Calendar()
    cal.add("prodid", f"-//openlfr {__version__}//public portal//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"Live facial recognition in {area.name}")
    changes, amended = _changes(request, listed), _amendments(request, listed)
    for item in listed:
        d = item.deployment
        url = str(request.url_for("deployment", reference=d.reference))
        event = Event()
        # Calendars replace an event when its sequence goes up: new dates, an amended
        # plan, cancellation.
        event.add("sequence", len(changes[d.id]) + len(amended[d.id])
                  + (d.status == DeploymentStatus.CANCELLED.value))
        event.add("uid", f"{d.reference}@openlfr")
        event.add("dtstamp", now)
        event.add("last-modified", d.updated_at)
        event.add("dtstart", d.start_at)
        event.add("dtend", d.end_at)
        event.add("summary", _summary(item))
        event.add("location", "; ".join(s.name for s in d.sites))
        if d.sites:
            event.add("geo", (d.sites[0].lat, d.sites[0].lon))
        event.add("description", _description(item, url, changes[d.id], amended[d.id]))
        event.add("url", url)
        event.add("status", _ICAL_STATUS.get(DeploymentStatus(d.status), "CONFIRMED"))
        cal.add_component(event)
    return Response(cal.to_ical(), media_type=ICAL_TYPE, headers={
        "Content-Disposition": f'inline; filename="openlfr-{area.code}.ics"'})


def atom_feed(request: Request) -> Response:
    """The area's deployments as an Atom feed, newest start first."""
    found = area_in_path(request)
    if isinstance(found, Response):
        return found
    area, listed = found
    fg = FeedGenerator()
    self_url = str(request.url.replace(query=""))
    fg.id(self_url)
    fg.title(without_control_characters(f"Live facial recognition in {area.name}"))
    fg.subtitle("Notice of live facial recognition deployments, published before they "
                "happen, and changes to them.")
    fg.link(href=self_url, rel="self")
    fg.link(href=str(request.url_for("home")), rel="alternate")
    fg.author({"name": "openlfr public portal"})
    fg.generator("openlfr", version=__version__)
    fg.language("en")
    fg.updated(_updated([x.deployment for x in listed], platform_of(request).clock()))
    changes, amended = _changes(request, listed), _amendments(request, listed)
    for item in listed:
        d = item.deployment
        url = str(request.url_for("deployment", reference=d.reference))
        entry = fg.add_entry(order="append")
        entry.id(url)
        moved = (" (new dates)" if changes[d.id] else "") + (
            " (plan changed)" if amended[d.id] else "")
        # XML cannot carry control characters; a title stored before they were refused
        # must not break the feed for good (a published plan cannot be edited).
        entry.title(without_control_characters(
            f"{d.title}: {when(d.start_at)}{moved} ({item.status_text})"))
        entry.link(href=url, rel="alternate")
        entry.updated(d.updated_at)
        if d.notice_published_at is not None:
            entry.published(d.notice_published_at)
        entry.content(without_control_characters(
            _description(item, url, changes[d.id], amended[d.id])), type="text")
    return Response(fg.atom_str(pretty=True), media_type=ATOM_TYPE)


PUBLIC_PATHS = ("/areas/{area}/deployments.ics", "/areas/{area}/deployments.atom")

routes = [
    PageRoute("/areas/{area}/deployments.ics", ical_feed, methods=["GET"], name="area_ical"),
    PageRoute("/areas/{area}/deployments.atom", atom_feed, methods=["GET"], name="area_atom"),
]
