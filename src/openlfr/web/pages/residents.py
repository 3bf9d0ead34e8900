"""Pages for residents finding their way: every area of the gazetteer (search by name;
subscribe, feeds and collective objections for any area, planned deployment or not), one
page per area (its outline and deployments' sites on a map, its deployments), and
"your rights": can I avoid the cameras, what happens if I am stopped, how long my image is
kept, how to complain or ask for redress, with the force's published policy links."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from openlfr.governance.areas import UnknownArea
from openlfr.services import portal, public_view
from openlfr.web.pages.rendering import PageRoute, not_found, platform_of, render
from openlfr.web.pages.site_map import MapSite, site_map_for

#: A UK postcode district, the part before the space ("SW9", "SE11", "EC1A").
POSTCODE_DISTRICT = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?")


def areas_page(request: Request) -> Response:
    """Every borough and ward; ``?q=`` keeps those whose name (or borough's) contains it."""
    query = request.query_params.get("q", "").strip()[:100]
    words = query.lower()
    listed = []
    for borough, wards in portal.area_list(platform_of(request)):
        if not words or words in borough.name.lower() or borough.code.startswith(words):
            listed.append((borough, wards))
            continue
        matching = [w for w in wards if words in w.name.lower()]
        if matching:
            listed.append((borough, matching))
    district = query.upper().replace(" ", "")
    by_postcode = (portal.deployments_in_postcode_district(platform_of(request), district)
                   if POSTCODE_DISTRICT.fullmatch(district) else [])
    return render(request, "areas.html", {"areas": listed, "q": query,
                                          "by_postcode": by_postcode})


def area_page(request: Request) -> Response:
    """One area: its outline with the sites of its upcoming and active deployments (when
    the gazetteer has the outline, or there are sites), its published deployments, and
    how to get notice or object there. A name that is not the area's code redirects to
    it; text that names no area is the 404 page with the closest known names."""
    p = platform_of(request)
    text: str = request.path_params["area"]
    try:
        area, listed = public_view.public_deployments_in_area(p, text)
    except UnknownArea as exc:
        return not_found(request, str(exc))
    if area.code != text:
        return RedirectResponse(str(request.url_for("area", area=area.code)), status_code=301)
    now = p.clock()
    phased = [(portal.deployment_phase(item.deployment, now), item) for item in listed]
    site_map = site_map_for(p.settings, [
        MapSite(s.name, s.lat, s.lon, item.deployment.reference, item.deployment.borough,
                phase.value)
        for phase, item in phased if phase is not portal.Phase.PAST
        for s in item.deployment.sites], [area])
    return render(request, "area.html", {"area": area, "listed": phased,
                                         "site_map": site_map})


def rights_page(request: Request) -> Response:
    settings = platform_of(request).settings
    return render(request, "rights.html", {
        "probe_days": settings.probe_crop_retention_hours // 24,
        "answer_days": settings.answer_deadline_days,
        "lead_hours": settings.answer_lead_hours,
        "policy_links": settings.rights_policy_links})


PUBLIC_PATHS = ("/areas", "/areas/{area}", "/your-rights")

routes = [
    PageRoute("/areas", areas_page, methods=["GET"], name="areas"),
    PageRoute("/areas/{area}", area_page, methods=["GET"], name="area"),
    PageRoute("/your-rights", rights_page, methods=["GET"], name="your_rights"),
]
