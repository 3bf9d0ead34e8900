"""Read-only use cases for the public portal: deployments grouped by phase and by area,
council motions covering an area, and who the engagement reached. Only public records
(notice published) are returned; the rules themselves stay in ``governance``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select

from openlfr.governance.lifecycle import DeploymentStatus
from openlfr.governance.records import (
    RESIDENT_FACING_AUDIENCES,
    AudienceCategory,
    CouncilMotionFacts,
    MotionStance,
    resident_share,
)
from openlfr.services.deployments import public_deployments
from openlfr.services.dossier import engagement_facts
from openlfr.services.platform import Platform
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

#: What an area slug looks like: "lambeth", or "lambeth--riverside" for one ward.
AREA_SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*(?:--[a-z0-9]+(?:-[a-z0-9]+)*)?$"
_AREA_SLUG = re.compile(AREA_SLUG_PATTERN)


def _slug(text: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))


def area_slug(borough: str, ward: str | None = None) -> str:
    """The URL name of a borough ("lambeth") or of one ward in it ("lambeth--riverside")."""
    return _slug(borough) + (f"--{_slug(ward)}" if ward else "")


def is_area_slug(text: str) -> bool:
    """True when ``text`` is shaped like an area slug (it may still match no deployment)."""
    return len(text) <= 200 and _AREA_SLUG.fullmatch(text) is not None


@dataclass(frozen=True)
class Area:
    """An area people can subscribe to: a borough, or a ward within one."""

    slug: str
    name: str


def deployment_areas(d: m.Deployment) -> list[Area]:
    """The areas a deployment is in: its borough and, when it names one, its ward."""
    areas = [Area(area_slug(d.borough), d.borough)]
    if d.ward:
        areas.append(Area(area_slug(d.borough, d.ward), f"{d.borough} / {d.ward}"))
    return areas


def public_areas(p: Platform) -> list[Area]:
    """Every area with at least one published deployment, by name."""
    found = {a.slug: a for d in public_deployments(p) for a in deployment_areas(d)}
    return sorted(found.values(), key=lambda a: a.name.lower())


def public_deployments_in_area(p: Platform, slug: str) -> tuple[Area, list[m.Deployment]]:
    """Published deployments in an area (a borough includes its wards), newest start
    first. An area with none yet gives an empty list, so people can subscribe before
    the first notice; its name is then spelled from the slug."""
    matching = [(d, a) for d in public_deployments(p) for a in deployment_areas(d)
                if a.slug == slug]
    if matching:
        return matching[0][1], [d for d, _ in matching]
    name = " / ".join(part.replace("-", " ").title() for part in slug.split("--"))
    return Area(slug, name), []


# --- council motions ----------------------------------------------------------------------


def _motion_facts(row: m.CouncilMotion) -> CouncilMotionFacts:
    return CouncilMotionFacts(body=row.body, passed_on=row.passed_on,
                              stance=MotionStance(row.stance), areas=tuple(row.areas),
                              response_published_at=row.response_published_at)


def motions_covering(p: Platform, borough: str, ward: str | None) -> list[m.CouncilMotion]:
    """Council motions covering a deployment's area (the council_motions gate's rule),
    newest first."""
    with p.sessions() as s:
        rows = s.scalars(select(m.CouncilMotion).order_by(m.CouncilMotion.passed_on.desc(),
                                                          m.CouncilMotion.id.desc()))
        return [r for r in rows if _motion_facts(r).covers(borough, ward)]


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
        events = engagement_facts(s, deployment_id)
    counts: dict[AudienceCategory, int] = {}
    for e in events:
        counts[e.audience] = counts.get(e.audience, 0) + e.attendees
    total = sum(counts.values())
    resident = sum(n for a, n in counts.items() if a in RESIDENT_FACING_AUDIENCES)
    return EngagementReach(
        total=total, resident_facing=resident, officials_and_others=total - resident,
        share=resident_share(events), required_share=p.settings.resident_share,
        by_audience=[AudienceCount(a.value, n, a in RESIDENT_FACING_AUDIENCES)
                     for a, n in sorted(counts.items(), key=lambda x: (-x[1], x[0].value))])
