"""Read-only use cases for the public portal: deployments grouped by phase and by area
(areas from the gazetteer), council motions covering an area, and who the engagement
reached. Only public records (notice published) are returned; the rules themselves stay
in ``governance``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from openlfr.governance.areas import Area, Gazetteer
from openlfr.governance.lifecycle import DeploymentStatus
from openlfr.governance.records import (
    RESIDENT_FACING_AUDIENCES,
    AudienceCategory,
    resident_share,
)
from openlfr.services.deployments import public_deployments
from openlfr.services.dossier import engagement_facts, motion_fact
from openlfr.services.gazetteer import gazetteer_for
from openlfr.services.platform import Platform
from openlfr.settings import Settings
from openlfr.storage import models as m


class Phase(StrEnum):
    """Where a published deployment stands for someone reading the portal."""

    UPCOMING = "upcoming"
    ACTIVE = "active"
    PAST = "past"


_FINISHED = frozenset({DeploymentStatus.COMPLETED, DeploymentStatus.REVIEWED,
                       DeploymentStatus.CANCELLED})


def deployment_phase(d: m.Deployment, now: datetime) -> Phase:
    """Active while its status says so; past once finished or its window has ended;
    upcoming otherwise."""
    status = DeploymentStatus(d.status)
    if status is DeploymentStatus.ACTIVE:
        return Phase.ACTIVE
    if status in _FINISHED or d.end_at <= now:
        return Phase.PAST
    return Phase.UPCOMING


def deployments_by_phase(p: Platform) -> dict[Phase, list[m.Deployment]]:
    """Published deployments grouped by phase: upcoming soonest first, the rest newest
    first."""
    now = p.clock()
    grouped: dict[Phase, list[m.Deployment]] = {phase: [] for phase in Phase}
    for d in public_deployments(p):
        grouped[deployment_phase(d, now)].append(d)
    grouped[Phase.UPCOMING].sort(key=lambda d: d.start_at)
    return grouped


# --- areas ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeArea:
    """An area people can subscribe to: a borough, or a ward within one. ``code`` is the
    gazetteer's code, which is also the area's address (``/areas/{code}/...``)."""

    code: str
    name: str


def _slug(text: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))


def deployment_areas(d: m.Deployment) -> list[NoticeArea]:
    """The areas a deployment is in: its borough and, when it names one, its ward. A legacy
    free-text area that matched no gazetteer name keeps the address it had (its text in
    lower case with hyphens), so its feeds and subscriptions still meet."""
    borough = d.borough_code or _slug(d.borough)
    areas = [NoticeArea(borough, d.borough)]
    if d.ward:
        areas.append(NoticeArea(d.ward_code or f"{borough}--{_slug(d.ward)}",
                                f"{d.borough} / {d.ward}"))
    return areas


def reaches(d: m.Deployment, code: str) -> bool:
    """The area ``code`` hears of ``d``: its borough, its ward, or, for a deployment that
    names only its borough, any ward of that borough (``Gazetteer.covers``)."""
    areas = deployment_areas(d)
    return Gazetteer.covers(code, areas[0].code, areas[1].code if len(areas) > 1 else None)


def public_areas(p: Platform) -> list[NoticeArea]:
    """Every area with at least one published deployment, by name."""
    found = {a.code: a for d in public_deployments(p) for a in deployment_areas(d)}
    return sorted(found.values(), key=lambda a: a.name.lower())


def notice_area(p: Platform, text: str) -> NoticeArea:
    """The area an address names: a gazetteer code (or a name: "newham", "london-borough-
    of-newham"), or the address of a legacy free-text area with published deployments.
    UnknownArea, with the closest known names, otherwise."""
    g = gazetteer_for(p.settings)
    known = g.get(text)
    if known is None:
        legacy = [a for d in public_deployments(p) for a in deployment_areas(d) if a.code == text]
        if legacy:
            return legacy[0]
        known = g.resolve(text.replace("--", "/").replace("-", " ")[:200])
    return NoticeArea(known.code, g.label(known.code))


def deployments_in_postcode_district(p: Platform, district: str) -> list[m.Deployment]:
    """Published deployments with a site in a postcode district ("SW9"), newest first."""
    district = district.upper()
    return [d for d in public_deployments(p)
            if any((s.postcode or "").upper().replace(" ", "")[:-3] == district
                   for s in d.sites)]


def notice_area_name(settings: Settings, code: str) -> str:
    """The name people read for an area's code ("Lambeth / Vauxhall")."""
    return gazetteer_for(settings).label(code)


def public_deployments_in_area(p: Platform, area: NoticeArea) -> list[m.Deployment]:
    """Published deployments in an area (a borough includes its wards; a ward includes its
    borough's deployments that name no ward: ``reaches``), newest start first; an area
    with none yet gives an empty list, so people can subscribe before the first notice."""
    return [d for d in public_deployments(p) if reaches(d, area.code)]


def area_list(p: Platform) -> list[tuple[Area, list[Area]]]:
    """The gazetteer: every borough with its wards, for people choosing an area."""
    g = gazetteer_for(p.settings)
    return [(b, g.wards_of(b.code)) for b in g.boroughs()]


# --- council motions ----------------------------------------------------------------------


def motions_covering(p: Platform, d: m.Deployment) -> list[m.CouncilMotion]:
    """Council motions covering a deployment's area (the council_motions gate's rule),
    newest first."""
    with p.sessions() as s:
        rows = s.scalars(select(m.CouncilMotion).order_by(m.CouncilMotion.passed_on.desc(),
                                                          m.CouncilMotion.id.desc()))
        return [r for r in rows if motion_fact(r).covers(d.borough_code, d.ward_code)]


# --- engagement ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AudienceCount:
    audience: str
    attendees: int
    resident_facing: bool


@dataclass(frozen=True)
class EngagementReach:
    """Who the engagement reached, in numbers: residents and community audiences against
    officials and everyone else."""

    total: int
    resident_facing: int
    officials_and_others: int
    share: float
    required_share: float
    by_audience: list[AudienceCount]

    @property
    def meets_requirement(self) -> bool:
        return self.total > 0 and self.share >= self.required_share


def engagement_reach(p: Platform, deployment_id: int) -> EngagementReach:
    """Attendees by audience for a deployment's engagement log, with the resident share
    the engagement_reach gate reads and the share it requires."""
    with p.sessions() as s:
        return engagement_reach_in(s, p, deployment_id)


def engagement_reach_in(s: Session, p: Platform, deployment_id: int) -> EngagementReach:
    """``engagement_reach`` in the caller's session."""
    events = engagement_facts(s, deployment_id)
    counts: dict[AudienceCategory, int] = {}
    for e in events:
        counts[e.audience] = counts.get(e.audience, 0) + e.people_met
    total = sum(counts.values())
    resident = sum(n for a, n in counts.items() if a in RESIDENT_FACING_AUDIENCES)
    return EngagementReach(
        total=total, resident_facing=resident, officials_and_others=total - resident,
        share=resident_share(events), required_share=p.settings.resident_share,
        by_audience=[AudienceCount(a.value, n, a in RESIDENT_FACING_AUDIENCES)
                     for a, n in sorted(counts.items(), key=lambda x: (-x[1], x[0].value))])
