"""Area outlines from the gazetteer's boundaries file: features matched to areas by ONS
code or by name, refused features named with why, outlines simplified without losing
their shape, drawn under the sites on the deployment, home and area pages, and a plain
note where no boundary is on file.

The outlines here are made-up squares around the scenario's site, tagged with Lambeth's
real ONS code (E09000022): they are test data, not Lambeth's boundary."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from platform_helpers import Scenario, ok
from typer.testing import CliRunner

from openlfr.cli import app as cli_app
from openlfr.services.gazetteer import (
    DEFAULT_GAZETTEER,
    ONS_ATTRIBUTION,
    AreaOutline,
    check_boundaries,
    load_boundaries,
    load_gazetteer,
    simplify_ring,
)
from openlfr.services.platform import Platform
from openlfr.web.pages.site_map import HEIGHT, WIDTH, MapArea, MapSite, build_site_map

LONDON = load_gazetteer(DEFAULT_GAZETTEER)
#: The scenario's site (Station forecourt, Vauxhall) and one more, both in the squares.
SITE = (51.4952, -0.1115)
OTHER_SITE = (51.4990, -0.1180)


def _square(lon0: float, lat0: float, lon1: float, lat1: float) -> list[list[float]]:
    return [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]


def _feature(properties: dict[str, Any], geometry: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def _polygon(*rings: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


LAMBETH_SQUARE = _square(-0.130, 51.485, -0.100, 51.505)
VAUXHALL_SQUARE = _square(-0.122, 51.490, -0.108, 51.502)
def _lambeth_outline() -> AreaOutline:
    """The square above as the outline read from the file: one polygon of one ring."""
    ring = tuple((lon, lat) for lon, lat in LAMBETH_SQUARE)
    return AreaOutline("lambeth", ((ring,),))


GOOD_FEATURES = [
    # As ONS exports boroughs: the code, the name, and a Welsh name left empty.
    _feature({"LAD22CD": "E09000022", "LAD22NM": "Lambeth", "LAD22NMW": ""},
             _polygon(LAMBETH_SQUARE)),
    # A ward: named within its borough (the gazetteer's ward rows carry no ONS code).
    _feature({"LAD22CD": "E09000022", "WD22NM": "Vauxhall"}, _polygon(VAUXHALL_SQUARE)),
    # By name alone, as the gazetteer compares names; a MultiPolygon with a hole.
    _feature({"name": "London Borough of Newham"}, {"type": "MultiPolygon", "coordinates": [
        [_square(0.00, 51.50, 0.06, 51.55), _square(0.02, 51.52, 0.03, 51.53)],
        [_square(0.07, 51.50, 0.08, 51.51)]]}),
]


def _write(tmp_path: Path, features: list[dict[str, Any]], **members: Any) -> Path:
    path = tmp_path / "boundaries.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features,
                                **members}), encoding="utf-8")
    return path


def test_features_match_areas_by_ons_code_and_by_name(tmp_path: Path) -> None:
    check = check_boundaries(_write(tmp_path, GOOD_FEATURES), LONDON)
    assert check.problems == []
    assert set(check.outlines) == {"lambeth", "lambeth--vauxhall", "newham"}
    newham = check.outlines["newham"]
    assert len(newham.polygons) == 2 and len(newham.polygons[0]) == 2  # the hole is kept
    assert check.outlines["lambeth"] == _lambeth_outline()
    assert check.attribution == ONS_ATTRIBUTION
    assert check.summary(LONDON).endswith(
        "3 feature(s), 3 matched, 0 refused; outlines for 2 of 33 boroughs and 1 of 705 wards")
    own = check_boundaries(_write(tmp_path, GOOD_FEATURES, attribution="Our survey, 2026"),
                           LONDON)
    assert own.attribution == "Our survey, 2026"


def test_refused_features_are_named_with_why(tmp_path: Path) -> None:
    square = _polygon(LAMBETH_SQUARE)
    features = [
        *GOOD_FEATURES,
        _feature({"LAD22CD": "E06000001", "LAD22NM": "Hartlepool"}, square),
        _feature({"WD22CD": "E05000000", "WD22NM": "Vauxhall"}, square),
        _feature({"LAD22CD": "E09000022", "WD22CD": "E05000000", "WD22NM": "Nowhere"}, square),
        _feature({"name": "Hackney"}, {"type": "Point", "coordinates": [-0.05, 51.55]}),
        _feature({"name": "Camden"}, _polygon(LAMBETH_SQUARE[:-1])),
        _feature({"name": "Islington"}, _polygon(_square(530000, 180000, 531000, 181000))),
        _feature({"name": "Lambeth"}, square),
        _feature({"name": "Brent"}, None),
    ]
    path = _write(tmp_path, features)
    check = check_boundaries(path, LONDON)
    assert set(check.outlines) == {"lambeth", "lambeth--vauxhall", "newham"}
    assert check.problems == [
        "feature 3 (LAD22CD=E06000001, LAD22NM=Hartlepool): matches no area of the "
        "gazetteer: no property is a borough's ONS code or an area's name",
        "feature 4 (WD22CD=E05000000, WD22NM=Vauxhall): has a ward code but no property "
        "names its borough: wards are matched by name within their borough, so add the "
        "borough's ONS code (e.g. LAD22CD from ONS's ward to local authority lookup)",
        "feature 5 (LAD22CD=E09000022, WD22CD=E05000000, WD22NM=Nowhere): has a ward code "
        "but names no ward of Lambeth in the gazetteer",
        "feature 6 (name=Hackney): geometry is 'Point'; an outline is a Polygon or a "
        "MultiPolygon",
        "feature 7 (name=Camden): a ring is not closed (its last position must repeat its "
        "first)",
        "feature 8 (name=Islington): position [530000, 180000] is not longitude/latitude "
        "in degrees (British National Grid metres?); export the file in WGS84, EPSG:4326",
        "feature 9 (name=Lambeth): Lambeth again (feature 0 is its outline)",
        "feature 10 (name=Brent): has no geometry",
    ]
    with pytest.raises(ValueError, match=r"8 feature\(s\) refused") as refused:
        load_boundaries(path, DEFAULT_GAZETTEER)
    assert str(refused.value).splitlines()[1:] == check.problems
    with pytest.raises(ValueError, match="not WGS84"):
        check_boundaries(_write(tmp_path, GOOD_FEATURES, crs={
            "type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}}), LONDON)
    path.write_text('{"type": "Feature"}', encoding="utf-8")
    with pytest.raises(ValueError, match="not a GeoJSON FeatureCollection"):
        check_boundaries(path, LONDON)


def test_the_cli_checks_a_file_against_the_gazetteer(tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(cli_app, ["areas", "check-boundaries",
                                   str(_write(tmp_path, GOOD_FEATURES))])
    assert good.exit_code == 0, good.output
    assert "3 feature(s), 3 matched, 0 refused" in good.output
    bad = runner.invoke(cli_app, ["areas", "check-boundaries", str(_write(
        tmp_path, [*GOOD_FEATURES, _feature({"name": "Atlantis"}, None)]))])
    assert bad.exit_code == 1
    assert bad.output.splitlines()[0].startswith("feature 3 (name=Atlantis): matches no area")
    assert "4 feature(s), 3 matched, 1 refused" in bad.output



def test_the_server_will_not_start_on_a_refused_boundaries_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused at start, naming the feature, rather than failing every map page later."""
    path = _write(tmp_path, [*GOOD_FEATURES, _feature({"name": "Atlantis"}, None)])
    monkeypatch.setenv("OPENLFR_GAZETTEER_BOUNDARIES_FILE", str(path))
    started = CliRunner().invoke(cli_app, ["serve", "--data-dir", str(tmp_path / "data"),
                                           "--port", "1"])
    assert started.exit_code != 0
    assert "feature 3 (name=Atlantis): matches no area" in started.output

def _metres(lon: float, lat: float) -> tuple[float, float]:
    return lon * 111_320 * math.cos(math.radians(51.49)), lat * 111_320


def _distance_to_ring(point: tuple[float, float], ring: tuple[tuple[float, float], ...]
                      ) -> float:
    px, py = _metres(*point)
    xy = [_metres(*p) for p in ring]
    best = math.inf
    for (ax, ay), (bx, by) in zip(xy, xy[1:], strict=False):
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
        best = min(best, math.hypot(px - ax - t * dx, py - ay - t * dy))
    return best


def _area_m2(ring: tuple[tuple[float, float], ...]) -> float:
    xy = [_metres(*p) for p in ring]
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(xy, xy[1:], strict=False))) / 2


def test_simplification_keeps_the_shape() -> None:
    # A wobbly circle of ~1.5 km radius with 4,000 points, like a detailed boundary.
    n = 4000
    dense = [(-0.11 + 0.02 * math.cos(2 * math.pi * i / n) * (1 + 0.01 * math.sin(40 * i / n)),
              51.49 + 0.0135 * math.sin(2 * math.pi * i / n)) for i in range(n)]
    ring = (*dense, dense[0])
    simple = simplify_ring(ring, 10.0)
    assert 20 < len(simple) < n / 10
    assert simple[0] == simple[-1]
    # Every point of the original lies within the tolerance (plus rounding) of the result.
    assert max(_distance_to_ring(p, simple) for p in ring[::7]) < 10.0 + 1.5
    assert abs(_area_m2(simple) / _area_m2(ring) - 1) < 0.01
    # Points on a straight edge add nothing; a ring thinner than the tolerance is dropped.
    edged = ((0.0, 51.0), (0.005, 51.0), (0.01, 51.0), (0.01, 51.01), (0.0, 51.01), (0.0, 51.0))
    assert simplify_ring(edged, 10.0) == (
        (0.0, 51.0), (0.01, 51.0), (0.01, 51.01), (0.0, 51.01), (0.0, 51.0))
    assert simplify_ring(((0.0, 51.0), (0.01, 51.0), (0.01, 51.00005), (0.0, 51.0)), 10.0) == ()


def _inside(x: float, y: float, ring: list[tuple[float, float]]) -> bool:
    """Ray casting: is (x, y) inside the polygon ``ring``?"""
    inside = False
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def _site(name: str, at: tuple[float, float]) -> MapSite:
    return MapSite(name, at[0], at[1], "LFR-2026-0001", "Lambeth", "upcoming")


def test_the_outline_is_drawn_under_the_sites_and_fitted_to_both() -> None:
    outline = _lambeth_outline()
    drawn = build_site_map([_site("forecourt", SITE), _site("market", OTHER_SITE)],
                           [MapArea("Lambeth", outline)], attribution=ONS_ATTRIBUTION)
    assert drawn is not None and drawn.boundary_note is None
    assert [o.name for o in drawn.outlines] == ["Lambeth"] and drawn.areas == ["Lambeth"]
    ring = drawn.outlines[0].rings[0]
    assert re.fullmatch(r"M[\d. ]+(L[\d. ]+){3}Z", drawn.outlines[0].path)
    for p in drawn.placed:
        assert _inside(p.x, p.y, ring), p.site.name
    for x, y in ring:
        assert 0 <= x <= WIDTH and 0 <= y <= HEIGHT
    # Fitted to the outline, not the two sites: the square fills most of the height.
    ys = [y for _, y in ring]
    assert max(ys) - min(ys) > HEIGHT / 2
    assert drawn.attribution == ONS_ATTRIBUTION
    # The outline alone (an area with no deployment yet) is a map too.
    alone = build_site_map([], [MapArea("Lambeth", outline)])
    assert alone is not None and alone.placed == [] and alone.outlines


def test_an_area_with_no_boundary_on_file_says_so() -> None:
    drawn = build_site_map([_site("forecourt", SITE)], [MapArea("Lambeth", None)])
    assert drawn is not None and drawn.outlines == [] and drawn.attribution is None
    assert drawn.boundary_note == ("No boundary for Lambeth is on file; the map shows the "
                                   "sites only.")
    outline = _lambeth_outline()
    part = build_site_map([_site("forecourt", SITE)], [
        MapArea("Lambeth", outline), MapArea("Lambeth / Vauxhall", None, "ward")])
    assert part is not None and part.areas == ["Lambeth / Vauxhall"]
    assert part.boundary_note == ("No boundary for Lambeth / Vauxhall is on file; the map "
                                  "shows the outline of Lambeth and the sites.")
    assert build_site_map([], [MapArea("Lambeth", None)]) is None


def _publish(s: Scenario) -> str:
    d = ok(s.staff["planner"].post("/api/deployments", json=s.deployment_body(sites=[
        {"name": "Station forecourt", "street": "Wandsworth Road", "postcode": "SW8 1SR",
         "lat": SITE[0], "lon": SITE[1]},
        {"name": "Market", "lat": OTHER_SITE[0], "lon": OTHER_SITE[1]}])), 201)
    ok(s.staff["planner"].post(f"/api/deployments/{d['id']}/propose"))
    ok(s.staff["planner"].post(f"/api/deployments/{d['id']}/publish-notice"))
    return str(d["reference"])


def _outlines(html: str) -> list[str]:
    return re.findall(r'data-test="map-outline" data-area="([^"]+)"', html)


def test_pages_draw_the_outline_when_a_boundary_is_on_file(
        platform: Platform, scenario: Scenario, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform.settings, "gazetteer_boundaries_file",
                        _write(tmp_path, GOOD_FEATURES))
    reference = _publish(scenario)
    anon = scenario.staff.anon
    page = anon.get(f"/deployments/{reference}").text
    assert _outlines(page) == ["Lambeth", "Lambeth / Vauxhall"]
    assert 'data-test="map-no-boundary"' not in page and "Crown copyright" in page
    assert page.count('data-test="map-site"') == 2 and '/areas/lambeth--vauxhall"' in page
    assert _outlines(anon.get("/").text) == ["Lambeth"]
    area = anon.get("/areas/lambeth")
    assert area.status_code == 200 and _outlines(area.text) == ["Lambeth"]
    assert area.text.count('data-test="map-site"') == 2 and reference in area.text
    assert _outlines(anon.get("/areas/lambeth--vauxhall").text) == ["Lambeth / Vauxhall"]
    # An area with no deployment yet: its outline alone, and says there is none.
    newham = anon.get("/areas/newham").text
    assert _outlines(newham) == ["Newham"] and 'data-test="no-deployment"' in newham
    # Another borough with neither an outline nor a site: no map at all.
    hackney = anon.get("/areas/hackney").text
    assert 'data-test="site-map"' not in hackney and 'data-test="no-deployment"' in hackney
    assert anon.get("/areas/atlantis").status_code == 404
    moved = anon.get("/areas/London-Borough-of-Newham", follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"].endswith("/areas/newham")


def test_pages_say_when_no_boundary_is_on_file(scenario: Scenario) -> None:
    reference = _publish(scenario)
    page = scenario.staff.anon.get(f"/deployments/{reference}").text
    assert _outlines(page) == [] and page.count('data-test="map-site"') == 2
    assert ("No boundary for Lambeth and Lambeth / Vauxhall is on file; the map shows the "
            "sites only.") in page
    area = scenario.staff.anon.get("/areas/lambeth").text
    assert "No boundary for Lambeth is on file; the map shows the sites only." in area
