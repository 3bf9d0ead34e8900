"""The offline site map: geometry only, no HTTP."""

from __future__ import annotations

from openlfr.web.pages.site_map import HEIGHT, MARGIN, WIDTH, MapSite, build_site_map


def _site(name: str, lat: float, lon: float) -> MapSite:
    return MapSite(name, lat, lon, "LFR-2026-0001", "Lambeth", "upcoming")


def test_sites_keep_their_bearings_inside_the_drawing() -> None:
    north = _site("north", 51.50, -0.11)
    south = _site("south", 51.48, -0.11)
    east = _site("east", 51.49, -0.08)
    drawn = build_site_map([north, south, east])
    assert drawn is not None
    at = {p.site.name: (p.x, p.y) for p in drawn.placed}
    assert at["north"][1] < at["south"][1]  # north is up
    assert at["east"][0] > at["north"][0]  # east is right
    for x, y in at.values():
        assert MARGIN - 1 <= x <= WIDTH - MARGIN + 1 and MARGIN - 1 <= y <= HEIGHT - MARGIN + 1
    # 0.02 degrees of latitude is about 2.2 km; the scale bar must agree with the drawing.
    metres_per_px = 0.02 * 111_320 / (at["south"][1] - at["north"][1])
    bar_metres = float(drawn.scale_label.split()[0]) * (
        1000 if drawn.scale_label.endswith("km") else 1)
    assert abs(drawn.scale_px * metres_per_px - bar_metres) < 1
    assert drawn.areas == ["Lambeth"]


def test_one_site_is_centred_and_no_site_is_no_map() -> None:
    drawn = build_site_map([_site("only", 51.49, -0.11)])
    assert drawn is not None
    assert (drawn.placed[0].x, drawn.placed[0].y) == (WIDTH / 2, HEIGHT / 2)
    assert drawn.scale_label.endswith("m")
    assert build_site_map([]) is None

