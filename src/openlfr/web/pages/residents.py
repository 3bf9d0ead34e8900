"""Pages for residents finding their way: every area of the gazetteer (search by name;
subscribe, feeds and collective objections for any area, planned deployment or not), and
"your rights": can I avoid the cameras, what happens if I am stopped, how long my image is
kept, how to complain or ask for redress, with the force's published policy links."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openlfr.services import portal
from openlfr.web.pages.rendering import platform_of, render

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


def rights_page(request: Request) -> Response:
    settings = platform_of(request).settings
    return render(request, "rights.html", {
        "probe_days": settings.probe_crop_retention_hours // 24,
        "answer_days": settings.answer_deadline_days,
        "lead_hours": settings.answer_lead_hours,
        "policy_links": settings.rights_policy_links})


PUBLIC_PATHS = ("/areas", "/your-rights")

routes = [
    Route("/areas", areas_page, methods=["GET"], name="areas"),
    Route("/your-rights", rights_page, methods=["GET"], name="your_rights"),
]
