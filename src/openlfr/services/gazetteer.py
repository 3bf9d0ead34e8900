"""The gazetteer the platform uses: the bundled list of London boroughs and wards, or the
CSV that ``OPENLFR_GAZETTEER_FILE`` names (see ``data/gazetteer/README.md``); and, when
``OPENLFR_GAZETTEER_BOUNDARIES_FILE`` names one, the areas' outlines from a GeoJSON file
(as ONS exports them), matched to the gazetteer's areas and simplified for drawing."""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import numpy as np

from openlfr.governance.areas import Area, AreaKind, Gazetteer
from openlfr.settings import Settings

#: The bundled list: London boroughs and their wards.
DEFAULT_GAZETTEER = Path(__file__).resolve().parent.parent / "data" / "gazetteer" / "london.csv"

COLUMNS = ("code", "name", "kind", "parent", "ons_code", "aliases")


def gazetteer_for(settings: Settings) -> Gazetteer:
    """The gazetteer the settings name (read once per file)."""
    return load_gazetteer(settings.gazetteer_file or DEFAULT_GAZETTEER)


@lru_cache(maxsize=4)
def load_gazetteer(path: Path) -> Gazetteer:
    """Read a gazetteer CSV (columns: code, name, kind, parent, ons_code, aliases); a
    malformed file is refused naming the line."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = set(COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"gazetteer {path}: missing column(s) "
                                 f"{', '.join(sorted(missing))}")
            areas = [_area(path, line, row) for line, row in enumerate(reader, start=2)]
    except OSError as exc:
        raise ValueError(f"gazetteer {path} cannot be read: {exc.strerror or exc}") from None
    return Gazetteer(areas, source=str(path))


def _area(path: Path, line: int, row: dict[str, str]) -> Area:
    try:
        kind = AreaKind(row["kind"].strip())
    except ValueError:
        raise ValueError(f"gazetteer {path}, line {line}: kind must be borough or ward, not "
                         f"{row['kind']!r}") from None
    code, name = row["code"].strip(), row["name"].strip()
    if not code or not name:
        raise ValueError(f"gazetteer {path}, line {line}: code and name are required")
    parent = row["parent"].strip() or None
    if (kind is AreaKind.WARD) != (parent is not None):
        raise ValueError(f"gazetteer {path}, line {line}: a ward names its borough in "
                         "parent, a borough leaves it empty")
    aliases = tuple(a.strip() for a in (row["aliases"] or "").split(";") if a.strip())
    return Area(code=code, name=name, kind=kind, parent=parent,
                ons_code=row["ons_code"].strip() or None, aliases=aliases)


# --- boundaries -------------------------------------------------------------------------

#: A ring of an outline: (longitude, latitude) pairs, closed (the last is the first).
Ring = tuple[tuple[float, float], ...]
#: A polygon: its outer ring, then any holes.
Polygon = tuple[Ring, ...]

#: Outlines are simplified to this when read (Douglas-Peucker): far below a pixel of any
#: map the portal draws, and a London borough shrinks from tens of thousands of points.
SIMPLIFY_M = 10.0
METRES_PER_DEG_LAT = 111_320.0
#: Shown under a map when the file names no attribution of its own ("attribution", a
#: member of the FeatureCollection); ONS boundary files are published on these terms.
ONS_ATTRIBUTION = ("Boundaries: Office for National Statistics, Open Government Licence "
                   "v3.0. Contains OS data © Crown copyright and database right.")
#: GSS codes of electoral wards (England, Wales, Scotland, Northern Ireland).
WARD_GSS_CODE = re.compile(r"(E05|W05|S13|N08)\d{6}")
_WGS84_NAMES = ("CRS84", "4326")


@dataclass(frozen=True)
class AreaOutline:
    """An area's outline: its gazetteer code and its polygons, longitude/latitude."""

    code: str
    polygons: tuple[Polygon, ...]

    @property
    def points(self) -> list[tuple[float, float]]:
        return [pt for polygon in self.polygons for ring in polygon for pt in ring]


@dataclass(frozen=True)
class BoundaryCheck:
    """A boundaries file read against a gazetteer: the outlines it gives, and one line
    for each feature refused (naming the feature's index and why)."""

    source: str
    features: int
    outlines: Mapping[str, AreaOutline]
    problems: list[str]
    attribution: str

    def summary(self, gazetteer: Gazetteer) -> str:
        """Matched and refused counts, and how much of the gazetteer has an outline."""
        boroughs = gazetteer.boroughs()
        wards = [w for b in boroughs for w in gazetteer.wards_of(b.code)]
        with_b = sum(b.code in self.outlines for b in boroughs)
        with_w = sum(w.code in self.outlines for w in wards)
        return (f"{self.source}: {self.features} feature(s), {len(self.outlines)} matched, "
                f"{len(self.problems)} refused; outlines for {with_b} of {len(boroughs)} "
                f"boroughs and {with_w} of {len(wards)} wards")


@dataclass(frozen=True)
class Boundaries:
    """The outlines the platform draws, by gazetteer code, and whose data they are."""

    outlines: Mapping[str, AreaOutline]
    attribution: str
    source: str

    def get(self, code: str | None) -> AreaOutline | None:
        return self.outlines.get(code) if code else None


def boundaries_for(settings: Settings) -> Boundaries | None:
    """The outlines ``OPENLFR_GAZETTEER_BOUNDARIES_FILE`` gives (read once per file), or
    None when no file is set. A file with a refused feature raises ValueError, one line
    per feature: check it first with ``openlfr areas check-boundaries``."""
    if settings.gazetteer_boundaries_file is None:
        return None
    return load_boundaries(Path(settings.gazetteer_boundaries_file),
                           Path(settings.gazetteer_file or DEFAULT_GAZETTEER))


@lru_cache(maxsize=4)
def load_boundaries(path: Path, gazetteer_path: Path) -> Boundaries:
    """The outlines of a boundaries file checked against the gazetteer at
    ``gazetteer_path``; ValueError naming every refused feature if any is."""
    check = check_boundaries(path, load_gazetteer(gazetteer_path))
    if check.problems:
        raise ValueError(f"boundaries {path}: {len(check.problems)} feature(s) refused "
                         "(fix the file, or leave OPENLFR_GAZETTEER_BOUNDARIES_FILE unset):\n"
                         + "\n".join(check.problems))
    return Boundaries(check.outlines, check.attribution, str(path))


def check_boundaries(path: Path, gazetteer: Gazetteer,
                     simplify_m: float = SIMPLIFY_M) -> BoundaryCheck:
    """Read a GeoJSON FeatureCollection and match each feature to a gazetteer area (see
    ``match_feature``); each outline is simplified to ``simplify_m`` metres. A file that
    is not such a collection raises ValueError; a feature that cannot be used is one
    line of ``problems``, never dropped in silence."""
    try:
        with open(path, encoding="utf-8") as handle:
            collection = json.load(handle)
    except OSError as exc:
        raise ValueError(f"boundaries {path} cannot be read: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"boundaries {path} is not GeoJSON: {exc}") from None
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection" \
            or not isinstance(collection.get("features"), list):
        raise ValueError(f"boundaries {path}: not a GeoJSON FeatureCollection (an object "
                         'with "type": "FeatureCollection" and a list of "features")')
    crs = json.dumps(collection.get("crs") or "CRS84")
    if not any(name in crs for name in _WGS84_NAMES):
        raise ValueError(f"boundaries {path}: coordinates are in {crs}, not WGS84 "
                         "longitude/latitude; export the file in EPSG:4326")
    outlines: dict[str, AreaOutline] = {}
    first_feature: dict[str, int] = {}
    problems: list[str] = []
    for index, feature in enumerate(collection["features"]):
        try:
            area = match_feature(feature, gazetteer)
            polygons = _polygons(feature.get("geometry"), simplify_m)
            if area.code in first_feature:
                raise ValueError(f"{gazetteer.label(area.code)} again (feature "
                                 f"{first_feature[area.code]} is its outline)")
        except ValueError as exc:
            problems.append(f"feature {index}{_described(feature)}: {exc}")
            continue
        first_feature[area.code] = index
        outlines[area.code] = AreaOutline(area.code, polygons)
    attribution = collection.get("attribution")
    return BoundaryCheck(
        str(path), len(collection["features"]), MappingProxyType(outlines), problems,
        attribution.strip() if isinstance(attribution, str) and attribution.strip()
        else ONS_ATTRIBUTION)


def match_feature(feature: object, gazetteer: Gazetteer) -> Area:
    """The gazetteer area a GeoJSON feature is the outline of, from its properties.

    A borough: a property whose value is its ONS code (``LAD22CD``: ``E09000022``), or
    else one whose value is its name or an alias, compared as the gazetteer compares
    names. A ward: a property naming the ward within a borough named as above (ward
    rows carry no ONS code, so ``WD22CD`` alone cannot place one). A feature with a ward
    code (E05...) must be matched to a ward. ValueError, saying why, otherwise."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ValueError('not a GeoJSON Feature (an object with "type": "Feature")')
    properties = feature.get("properties")
    texts = [v.strip() for v in (properties or {}).values() if isinstance(v, str)
             and v.strip()] if isinstance(properties, dict) else []
    by_ons_code = {b.ons_code: b for b in gazetteer.boroughs() if b.ons_code}
    named: dict[str, tuple[Area, set[str]]] = {}  # borough code -> borough, texts naming it
    for text in texts:
        if text in by_ons_code:
            found = by_ons_code[text]
            named.setdefault(found.code, (found, set()))[1].add(text)
    if not named:
        for text in texts:
            borough = gazetteer.borough_named(text)
            if borough is not None:
                named.setdefault(borough.code, (borough, set()))[1].add(text)
    wards: dict[str, Area] = {}
    for area, naming in named.values():
        for text in texts:
            ward = None if text in naming else gazetteer.ward_named(area, text)
            if ward is not None:
                wards.setdefault(ward.code, ward)
    if len(wards) == 1:
        return next(iter(wards.values()))
    if len(wards) > 1:
        raise ValueError("names several wards: " + ", ".join(
            sorted(gazetteer.label(code) for code in wards)))
    ward_coded = any(WARD_GSS_CODE.fullmatch(t) for t in texts)
    if ward_coded and named:
        raise ValueError("has a ward code but names no ward of " + " or ".join(
            sorted(b.name for b, _ in named.values())) + " in the gazetteer")
    if ward_coded:
        raise ValueError("has a ward code but no property names its borough: wards are "
                         "matched by name within their borough, so add the borough's ONS "
                         "code (e.g. LAD22CD from ONS's ward to local authority lookup)")
    if len(named) > 1:
        raise ValueError("names several boroughs: " + ", ".join(
            sorted(b.name for b, _ in named.values())))
    if named:
        return next(iter(named.values()))[0]
    raise ValueError("matches no area of the gazetteer: no property is a borough's ONS "
                     "code or an area's name")


def _described(feature: object) -> str:
    """A feature's first few text properties, to find it in the file."""
    properties = feature.get("properties") if isinstance(feature, dict) else None
    if not isinstance(properties, dict):
        return ""
    shown = [f"{k}={v.strip()[:40]}" for k, v in properties.items()
             if isinstance(v, str) and v.strip()][:3]
    return f" ({', '.join(shown)})" if shown else ""


def _polygons(geometry: object, simplify_m: float) -> tuple[Polygon, ...]:
    """The polygons of a Polygon or MultiPolygon geometry, checked and simplified."""
    if not isinstance(geometry, dict):
        raise ValueError("has no geometry")
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon":
        polygons = [coordinates]
    elif kind == "MultiPolygon" and isinstance(coordinates, list):
        polygons = coordinates
    else:
        raise ValueError(f"geometry is {kind!r}; an outline is a Polygon or a MultiPolygon")
    drawn: list[Polygon] = []
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            raise ValueError("a polygon is not a list of rings")
        rings = [simplify_ring(_ring(ring), simplify_m) for ring in polygon]
        if rings[0]:  # an islet smaller than the tolerance is not drawn; its holes neither
            drawn.append(tuple(r for r in rings if r))
    if not drawn:
        raise ValueError("every polygon is smaller than the simplification tolerance "
                         f"({simplify_m:g} m)")
    return tuple(drawn)


def _ring(ring: object) -> Ring:
    """A linear ring's positions, checked: numbers, in degrees, at least 4, closed."""
    if not isinstance(ring, list) or len(ring) < 4:
        raise ValueError("a ring has fewer than 4 positions")
    points: list[tuple[float, float]] = []
    for position in ring:
        if not isinstance(position, list) or len(position) < 2 or not all(
                isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c)
                for c in position[:2]):
            raise ValueError(f"position {json.dumps(position)[:60]} is not [longitude, "
                             "latitude]")
        lon, lat = float(position[0]), float(position[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(f"position [{lon:g}, {lat:g}] is not longitude/latitude in "
                             "degrees (British National Grid metres?); export the file in "
                             "WGS84, EPSG:4326")
        points.append((lon, lat))
    if points[0] != points[-1]:
        raise ValueError("a ring is not closed (its last position must repeat its first)")
    return tuple(points)


def simplify_ring(ring: Ring, tolerance_m: float) -> Ring:
    """A closed ring simplified by Douglas-Peucker: no point of the original is more than
    ``tolerance_m`` metres from the result (distances on a local equirectangular plane),
    rounded to 5 decimals (about a metre). Empty when the ring is within the tolerance
    of a line (too small to draw)."""
    pts = np.asarray(ring, dtype=float)
    scale = np.array([math.cos(math.radians(float(pts[:, 1].mean()))), 1.0])
    xy = pts * scale * METRES_PER_DEG_LAT
    last = len(xy) - 1
    keep = np.zeros(len(xy), dtype=bool)
    keep[0] = keep[last] = True
    far = int(np.argmax(np.hypot(*(xy - xy[0]).T)))
    stack = [(0, far), (far, last)] if 0 < far < last else []
    keep[far] = True
    while stack:
        i, j = stack.pop()
        if j - i < 2:
            continue
        distances = _distances(xy[i + 1:j], xy[i], xy[j])
        k = i + 1 + int(np.argmax(distances))
        if distances[k - i - 1] > tolerance_m:
            keep[k] = True
            stack += [(i, k), (k, j)]
    kept = pts[keep]
    if len(kept) < 4:
        return ()
    width = np.ptp(xy[keep], axis=0)
    if min(width) <= tolerance_m:
        return ()
    return tuple((round(float(lon), 5), round(float(lat), 5)) for lon, lat in kept)


def _distances(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Each point's distance to the segment from ``a`` to ``b``."""
    ab = b - a
    length2 = float(ab @ ab)
    if length2 == 0.0:
        return np.hypot(*(points - a).T)
    t = np.clip((points - a) @ ab / length2, 0.0, 1.0)
    return np.hypot(*(points - (a + t[:, None] * ab)).T)
