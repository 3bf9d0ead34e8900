"""Deployment pages: the home page (upcoming, active and past deployments with their
gate status and a map of sites) and one page per published deployment."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openlfr.governance.errors import NotFound
from openlfr.governance.records import KINDS_NEEDING_ANSWER
from openlfr.services import deployments as deployment_service
from openlfr.services import portal
from openlfr.storage import models as m

# The API's public views, reused so a page shows exactly what /api/public shows.
from openlfr.web.api.public import public_deployment, published_gates
from openlfr.web.pages.rendering import not_found, platform_of, render
from openlfr.web.pages.site_map import MapSite, build_site_map
from openlfr.web.schemas import GateOut

#: A deployment reference as the platform writes them, e.g. LFR-2026-0007.
REFERENCE = re.compile(r"LFR-\d{4}-\d{4,}")


@dataclass(frozen=True)
class GateStatus:
    """A deployment's published gates in a line: how many passed, on what basis."""

    gates: list[GateOut]
    basis: str

    @property
    def passed(self) -> int:
        return sum(1 for g in self.gates if g.passed)

    @property
    def failing(self) -> list[GateOut]:
        return [g for g in self.gates if not g.passed]


@dataclass(frozen=True)
class Listed:
    deployment: m.Deployment
    gates: GateStatus


def home(request: Request) -> Response:
    """Upcoming, active and past deployments, each with its gate status, and a map."""
    p = platform_of(request)
    grouped = portal.deployments_by_phase(p)
    listed = {phase: [Listed(d, GateStatus(*published_gates(p, d)[:2])) for d in items]
              for phase, items in grouped.items()}
    site_map = build_site_map([
        MapSite(s.name, s.lat, s.lon, d.reference, d.borough, phase.value)
        for phase, items in grouped.items() if phase is not portal.Phase.PAST
        for d in items for s in d.sites])
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
        d = deployment_service.public_deployment(p, reference)
    except NotFound as exc:
        return not_found(request, str(exc))
    view = public_deployment(reference, p)
    site_map = build_site_map([MapSite(s.name, s.lat, s.lon, d.reference, d.borough,
                                       portal.deployment_phase(d, p.clock()).value)
                               for s in d.sites])
    return render(request, "deployment.html", {
        "d": view, "phase": portal.deployment_phase(d, p.clock()),
        "reach": portal.engagement_reach(p, d.id),
        "motions": portal.motions_covering(p, d.borough, d.ward),
        "needs_answer": {k.value for k in KINDS_NEEDING_ANSWER},
        "site_map": site_map, "areas": portal.deployment_areas(d)})


PUBLIC_PATHS = ("/", "/deployments/{reference}")

routes = [
    Route("/", home, methods=["GET"], name="home"),
    Route("/deployments/{reference}", deployment_page, methods=["GET"], name="deployment"),
]
