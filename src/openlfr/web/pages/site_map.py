"""A map of deployment sites drawn as inline SVG from latitude and longitude: no tile
server, nothing fetched, so it reads the same offline. Points are projected
equirectangularly (longitude scaled by the cosine of the mean latitude, which is
accurate enough across a city) into the sites' bounding box, with a scale bar."""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Drawing size in SVG user units.
WIDTH, HEIGHT, MARGIN = 640, 400, 48
#: Smallest span drawn, in degrees of latitude (~1.1 km), so one site is not a huge zoom.
MIN_SPAN_DEG = 0.01
METRES_PER_DEG_LAT = 111_320.0


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
class PlacedSite:
    site: MapSite
    x: float
    y: float


@dataclass(frozen=True)
class SiteMap:
    """Sites placed on the drawing, the areas they cover and a scale bar."""

    width: int
    height: int
    placed: list[PlacedSite]
    areas: list[str]
    scale_px: float
    scale_label: str


def _nice_distance(metres: float) -> float:
    """The largest 1, 2 or 5 x 10^n metres not above ``metres``."""
    exponent = 10 ** math.floor(math.log10(metres))
    return max(step * exponent for step in (1, 2, 5) if step * exponent <= metres)


def build_site_map(sites: list[MapSite]) -> SiteMap | None:
    """Place ``sites`` on a WIDTH x HEIGHT drawing (north up); None when there are none."""
    if not sites:
        return None
    mean_lat = sum(s.lat for s in sites) / len(sites)
    x_scale = math.cos(math.radians(mean_lat))  # degrees of longitude shrink with latitude
    xs = [s.lon * x_scale for s in sites]
    ys = [s.lat for s in sites]
    span = max(max(xs) - min(xs), max(ys) - min(ys), MIN_SPAN_DEG)
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    px_per_deg = min(WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN) / span
    placed = [PlacedSite(s, WIDTH / 2 + (x - cx) * px_per_deg,
                         HEIGHT / 2 - (y - cy) * px_per_deg)
              for s, x, y in zip(sites, xs, ys, strict=True)]
    metres_per_px = METRES_PER_DEG_LAT / px_per_deg
    distance = _nice_distance(metres_per_px * WIDTH / 4)
    label = f"{distance / 1000:g} km" if distance >= 1000 else f"{distance:g} m"
    areas = sorted({s.area for s in sites}, key=str.lower)
    return SiteMap(WIDTH, HEIGHT, placed, areas, distance / metres_per_px, label)
