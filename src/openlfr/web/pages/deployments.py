"""Deployment pages: the home page (upcoming, active and past deployments with their
gate status and a map of sites over their boroughs' outlines) and one page per published
deployment (its sites over its borough's and ward's outlines). Both render the
public read model (``services.public_view``), as ``/api/public`` does."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from openlfr.governance.errors import NotFound
from openlfr.services import portal, public_view
from openlfr.web.pages.rendering import PageRoute, not_found, platform_of, render
from openlfr.web.pages.site_map import MapSite, site_map_for

#: A deployment reference as the platform writes them, e.g. LFR-2026-0007.
REFERENCE = re.compile(r"LFR-\d{4}-\d{4,}")


def home(request: Request) -> Response:
    """Upcoming, active and past deployments, each with its gate status, and a map."""
    p = platform_of(request)
    listed = public_view.summaries_by_phase(p)
    current = [(phase, item.deployment) for phase, items in listed.items()
               if phase is not portal.Phase.PAST for item in items]
    boroughs = sorted({portal.deployment_areas(d)[0] for _, d in current},
                      key=lambda a: a.name.lower())
    site_map = site_map_for(p.settings, [
        MapSite(s.name, s.lat, s.lon, d.reference, d.borough, phase.value)
        for phase, d in current for s in d.sites], boroughs)
    return render(request, "home.html", {"listed": listed, "phases": list(portal.Phase),
                                         "site_map": site_map,
                                         "areas": portal.public_areas(p)})


def deployment_page(request: Request) -> Response:
    """Everything published about one deployment."""
    reference: str = request.path_params["reference"]
    if not REFERENCE.fullmatch(reference):
        return not_found(request, f"{reference!r} is not a deployment reference; references "
                         "look like LFR-2026-0007")
    p = platform_of(request)
    try:
        view = public_view.public_deployment(p, reference)
    except NotFound as exc:
        return not_found(request, str(exc))
    d = view.deployment
    phase = portal.deployment_phase(d, p.clock())
    site_map = site_map_for(p.settings, [
        MapSite(s.name, s.lat, s.lon, d.reference, d.borough, phase.value) for s in d.sites],
        view.areas)
    sections = ({**view.assessment.sections,
                 "engagement_summary": view.assessment.engagement_summary,
                 "consultation_findings": view.assessment.consultation_findings}
                if view.assessment is not None else {})
    return render(request, "deployment.html", {
        "view": view, "d": d, "phase": phase, "assessment": sections,
        "site_map": site_map})


PUBLIC_PATHS = ("/", "/deployments/{reference}")

routes = [
    PageRoute("/", home, methods=["GET"], name="home"),
    PageRoute("/deployments/{reference}", deployment_page, methods=["GET"], name="deployment"),
]
