"""A map of deployment sites drawn as inline SVG from latitude and longitude, over the
outlines of their areas when the gazetteer has them (``OPENLFR_GAZETTEER_BOUNDARIES_FILE``):
no tile server, nothing fetched, so it reads the same offline. Points are projected
equirectangularly (longitude scaled by the cosine of the middle latitude, which is
accurate enough across a city) into the bounding box of the outlines and the sites, with
a scale bar. An area with no outline on file is named in a plain note under the map."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from openlfr.services.gazetteer import AreaOutline, Ring, boundaries_for, simplify_ring
from openlfr.services.portal import NoticeArea
from openlfr.settings import Settings

#: Drawing size in SVG user units.
WIDTH, HEIGHT, MARGIN = 640, 400, 48
#: Smallest span drawn, in degrees of latitude (~1.1 km), so one site is not a huge zoom.
MIN_SPAN_DEG = 0.01
METRES_PER_DEG_LAT = 111_320.0
#: Outlines are simplified again for the drawing: nothing finer than this many pixels.
OUTLINE_TOLERANCE_PX = 1.0

#: The projection: longitude, latitude to x, y on the drawing.
Projection = Callable[[float, float], tuple[float, float]]


@dataclass(frozen=True)
class MapSite:
    """One site to draw: what it is called, where, and which deployment it belongs to."""

    name: str
    lat: float
    lon: float
    reference: str
    area: str
    phase: str


@dataclass(frozen=True)
class MapArea:
    """An area the map is about: the name people read, and its outline when on file."""

    name: str
    outline: AreaOutline | None
    #: "borough" or "ward" (wards are drawn over their borough).
    kind: str = "borough"


@dataclass(frozen=True)
class PlacedSite:
    site: MapSite
    x: float
    y: float


@dataclass(frozen=True)
class DrawnOutline:
    """An area's outline on the drawing: its rings in SVG units (outer rings and holes)."""

    name: str
    kind: str
    rings: list[list[tuple[float, float]]]

    @property
    def path(self) -> str:
        """The SVG path data (draw with fill-rule evenodd, so holes stay holes)."""
        return "".join(
            "M" + "L".join(f"{x:.1f} {y:.1f}" for x, y in ring[:-1]) + "Z"
            for ring in self.rings)


@dataclass(frozen=True)
class SiteMap:
    """Sites placed on the drawing over their areas' outlines, the areas they cover and
    a scale bar."""

    width: int
    height: int
    placed: list[PlacedSite]
    areas: list[str]
    scale_px: float
    scale_label: str
    outlines: list[DrawnOutline] = field(default_factory=list)
    #: The areas of the map with no outline on file.
    no_boundary: list[str] = field(default_factory=list)
    #: Whose outlines they are (the boundaries file's attribution); None with none drawn.
    attribution: str | None = None

    @property
    def boundary_note(self) -> str | None:
        """Plain words for the areas drawn without an outline, or None."""
        if not self.no_boundary:
            return None
        drawn = [o.name for o in self.outlines]
        shows = (f"the outline of {_and(drawn)} and the sites" if drawn and self.placed
                 else f"the outline of {_and(drawn)}" if drawn else "the sites only")
        return f"No boundary for {_and(self.no_boundary)} is on file; the map shows {shows}."


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _nice_distance(metres: float) -> float:
    """The largest 1, 2 or 5 x 10^n metres not above ``metres``."""
    exponent = 10 ** math.floor(math.log10(metres))
    return max(step * exponent for step in (1, 2, 5) if step * exponent <= metres)


def site_map_for(settings: Settings, sites: list[MapSite],
                 areas: Iterable[NoticeArea]) -> SiteMap | None:
    """``sites`` over the outlines of ``areas`` from the gazetteer's boundaries file, when
    one is set and has them (a ward's code has two hyphens: ``lambeth--vauxhall``)."""
    boundaries = boundaries_for(settings)
    return build_site_map(sites, [
        MapArea(a.name, boundaries.get(a.code) if boundaries is not None else None,
                "ward" if "--" in a.code else "borough")
        for a in dict.fromkeys(areas)],
        attribution=boundaries.attribution if boundaries is not None else None)


def build_site_map(sites: list[MapSite], areas: Sequence[MapArea] = (),
                   attribution: str | None = None) -> SiteMap | None:
    """Place ``sites`` on a WIDTH x HEIGHT drawing (north up) over the outlines of
    ``areas`` that have one, fitted to both; None when there is nothing to draw."""
    outlined = [a for a in areas if a.outline is not None]
    if not sites and not outlined:
        return None
    points = [(s.lon, s.lat) for s in sites] + [
        pt for a in outlined if a.outline is not None for pt in a.outline.points]
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    mid_lat = (max(lats) + min(lats)) / 2
    x_scale = math.cos(math.radians(mid_lat))  # degrees of longitude shrink with latitude
    span_x = max((max(lons) - min(lons)) * x_scale, MIN_SPAN_DEG)
    span_y = max(max(lats) - min(lats), MIN_SPAN_DEG)
    cx, cy = (max(lons) + min(lons)) / 2 * x_scale, (max(lats) + min(lats)) / 2
    px_per_deg = min((WIDTH - 2 * MARGIN) / span_x, (HEIGHT - 2 * MARGIN) / span_y)

    def place(lon: float, lat: float) -> tuple[float, float]:
        return (WIDTH / 2 + (lon * x_scale - cx) * px_per_deg,
                HEIGHT / 2 - (lat - cy) * px_per_deg)

    placed = [PlacedSite(s, *place(s.lon, s.lat)) for s in sites]
    metres_per_px = METRES_PER_DEG_LAT / px_per_deg
    drawn = [DrawnOutline(a.name, a.kind, _rings(a.outline, place, metres_per_px))
             for a in sorted(outlined, key=lambda a: a.kind != "borough")
             if a.outline is not None]
    distance = _nice_distance(metres_per_px * WIDTH / 4)
    label = f"{distance / 1000:g} km" if distance >= 1000 else f"{distance:g} m"
    names = [a.name for a in areas] or sorted({s.area for s in sites}, key=str.lower)
    # "Lambeth / Vauxhall" says "Lambeth" already.
    names = [n for n in names if not any(o.startswith(f"{n} / ") for o in names)]
    return SiteMap(WIDTH, HEIGHT, placed, names, distance / metres_per_px, label,
                   outlines=[d for d in drawn if d.rings],
                   no_boundary=[a.name for a in areas if a.outline is None],
                   attribution=attribution if outlined else None)


def _rings(outline: AreaOutline, place: Projection, metres_per_px: float
           ) -> list[list[tuple[float, float]]]:
    """An outline's rings on the drawing, simplified to OUTLINE_TOLERANCE_PX."""
    rings: list[Ring] = [simplify_ring(ring, OUTLINE_TOLERANCE_PX * metres_per_px)
                         for polygon in outline.polygons for ring in polygon]
    return [[place(lon, lat) for lon, lat in ring] for ring in rings if ring]
