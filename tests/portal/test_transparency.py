"""The transparency dashboard and its open data: the figures shown and downloadable, CSV
and JSON with exactly the same columns and values, the charts' library served from this
site, and nothing personal."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from figures_helpers import (
    A_APRIL,
    A_MARCH,
    A_TOTAL,
    B_TOTAL,
    complete_a,
    run_deployment_a,
    run_deployment_b,
)
from platform_helpers import Scenario, ok
from portal_helpers import assert_no_personal_data

#: What must never be in the figures: per-alert data and anything naming a subject.
PER_ALERT = ("alert-a1", "t-a1", "cam-1", "occurred_at", "alert_uid", "score", "subject",
             "track_id", "camera")


def _csv_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def _as_csv(value: Any) -> str:
    """How a JSON value is written in the CSV: null as an empty cell."""
    return "" if value is None else str(value)


def _two_deployments(s: Scenario) -> Scenario:
    run_deployment_a(s)
    complete_a(s)
    b = Scenario(s.staff, s.clock)
    run_deployment_b(b)
    return b


def _figure(html: str, test: str, column: str) -> str:
    section = re.search(rf'data-test="{test}".*?</dl>', html, re.S)
    assert section, test
    match = re.search(rf'data-column="{column}">([^<]*)<', section.group(0))
    assert match, column
    return match.group(1)


def _row(html: str, test: str, key: str) -> dict[str, str]:
    row = re.search(rf'<tr data-test="{test}-row" data-key="{re.escape(key)}">(.*?)</tr>',
                    html, re.S)
    assert row, (test, key)
    return dict(re.findall(r'<td data-column="([^"]+)">([^<]*)</td>', row.group(1)))


def test_dashboard_shows_totals_months_deployments_and_groups(scenario: Scenario) -> None:
    s = scenario
    b = _two_deployments(s)
    r = s.staff.anon.get("/transparency")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert _figure(html, "totals", "tracks") == "2,100"
    assert _figure(html, "totals", "alerts") == "10"
    assert _figure(html, "totals", "false_alerts") == "4"
    assert _figure(html, "totals", "false_alerts_per_adjudicated_alert") == "44.4%"
    assert _figure(html, "totals", "false_alerts_per_1000_tracks") == "1.9048"
    assert _figure(html, "totals", "stops") == "5"
    assert _figure(html, "totals", "arrests") == "2"
    march = _row(html, "by-month", "March 2026")
    assert march["tracks"] == "500" and march["false_alerts"] == "2"
    assert march["false_alerts_per_1000_tracks"] == "4" and march["stops"] == "2"
    april = _row(html, "by-month", "April 2026")
    assert april["pending"] == "1" and april["false_alerts_per_adjudicated_alert"] == "33.3%"
    may = _row(html, "by-month", "May 2026")
    assert may["tracks"] == "700" and may["arrests"] == "1"
    assert _row(html, "per-deployment", s.reference)["alerts"] == "8"
    assert _row(html, "per-deployment", b.reference)["false_alerts_per_1000_tracks"] == "1.4286"
    groups = dict(re.findall(r'data-test="group-row" data-group="([^"]*)"><td>[^<]*(?:<em>'
                             r'[^<]*</em>)?</td><td>(\d+)</td>', html))
    assert groups == {"White": "2", "Asian or Asian British": "1", "": "1"}
    # Links: the navigation, downloads, each deployment's data and review.
    assert 'data-test="nav-figures"' in html
    for href in ("/transparency.csv", "/transparency.json",
                 f"/deployments/{s.reference}/figures.csv", f"/deployments/{s.reference}/review"):
        assert f'href="http://testserver{href}"' in html or f'href="{href}"' in html, href
    assert_no_personal_data(html)
    for private in PER_ALERT[:3]:
        assert private not in html


def test_charts_are_drawn_from_the_table_data_with_a_library_served_here(
        scenario: Scenario) -> None:
    s = scenario
    _two_deployments(s)
    html = s.staff.anon.get("/transparency").text
    data = json.loads(re.search(r'<script type="application/json" id="figures-data">(.*?)'
                                r'</script>', html, re.S).group(1))  # type: ignore[union-attr]
    assert data["months"] == ["March 2026", "April 2026", "May 2026"]
    assert data["tracks"] == [500, 900, 700]
    assert data["false_alerts"] == [2, 1, 1] and data["confirmed"] == [1, 2, 1]
    assert data["false_alerts_per_1000_tracks"] == [4.0, 1.1111, 1.4286]
    scripts = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    assert scripts and all(re.match(r"(http://testserver)?/static/", src) for src in scripts)
    assert any(src.endswith("/static/vendor/chart.umd.min.js") for src in scripts)
    assert "cdn" not in html.lower()
    library = s.staff.anon.get("/static/vendor/chart.umd.min.js")
    assert library.status_code == 200 and "Chart.js v4" in library.text[:200]
    licence = s.staff.anon.get("/static/vendor/chart.js-LICENSE.md")
    assert licence.status_code == 200 and "MIT License" in licence.text
    assert s.staff.anon.get("/static/transparency.js").status_code == 200
    assert 'data-test="chart-alerts"' in html and 'data-test="chart-faces"' in html


def test_no_figures_yet_says_so_without_charts(scenario: Scenario) -> None:
    html = scenario.staff.anon.get("/transparency").text
    assert 'data-test="no-figures"' in html
    assert "chart.umd.min.js" not in html


def test_csv_and_json_have_the_same_columns_and_values(scenario: Scenario) -> None:
    s = scenario
    b = _two_deployments(s)
    csv_response = s.staff.anon.get("/transparency.csv")
    assert csv_response.status_code == 200
    assert csv_response.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_response.headers["content-disposition"]
    columns, rows = _csv_rows(csv_response.text)
    body = ok(s.staff.anon.get("/transparency.json"))
    assert body["columns"] == columns
    assert all(list(row) == columns for row in body["rows"])
    assert len(body["rows"]) == len(rows) == 9
    for json_row, csv_row in zip(body["rows"], rows, strict=True):
        assert {k: _as_csv(v) for k, v in json_row.items()} == csv_row
    by_scope = {(r["deployment"], r["month"]): r for r in body["rows"]}
    assert {k: by_scope[(s.reference, "2026-03")][k] for k in A_MARCH} == A_MARCH
    assert {k: by_scope[(s.reference, "2026-04")][k] for k in A_APRIL} == A_APRIL
    assert {k: by_scope[(s.reference, "total")][k] for k in A_TOTAL} == A_TOTAL
    assert {k: by_scope[(b.reference, "total")][k] for k in B_TOTAL} == B_TOTAL
    assert by_scope[("all", "total")]["faces_seen"] == 6500
    # A rate with nothing to divide by is blank: null in JSON, an empty cell in CSV.
    assert by_scope[("all", "2026-04")]["false_alerts_per_adjudicated_alert"] == 0.3333
    for text in (csv_response.text, json.dumps(body)):
        assert_no_personal_data(text)
        for private in PER_ALERT:
            assert private not in text, private


def test_each_deployment_has_its_own_downloads_with_the_same_columns(
        scenario: Scenario) -> None:
    s = scenario
    run_deployment_a(s)
    columns, rows = _csv_rows(s.staff.anon.get(f"/deployments/{s.reference}/figures.csv").text)
    body = ok(s.staff.anon.get(f"/deployments/{s.reference}/figures.json"))
    assert body["columns"] == columns and body["deployment"] == s.reference
    assert [r["month"] for r in rows] == ["2026-03", "2026-04", "total"]
    assert [r["month"] for r in body["rows"]] == ["2026-03", "2026-04", "total"]
    for json_row, csv_row in zip(body["rows"], rows, strict=True):
        assert list(json_row) == columns
        assert {k: _as_csv(v) for k, v in json_row.items()} == csv_row
    assert {k: body["rows"][2][k] for k in A_TOTAL} == A_TOTAL
    # The deployment page links to them, to the dashboard and to the review.
    html = s.staff.anon.get(f"/deployments/{s.reference}").text
    for test in ("figures-csv", "figures-json", "figures-dashboard", "review-link"):
        assert f'data-test="{test}"' in html, test


def test_a_deployment_with_nothing_counted_gives_blank_rates(scenario: Scenario) -> None:
    s = scenario
    s.prepare()
    columns, rows = _csv_rows(s.staff.anon.get(f"/deployments/{s.reference}/figures.csv").text)
    assert [r["month"] for r in rows] == ["total"]
    assert rows[0]["faces_seen"] == "0"
    assert rows[0]["false_alerts_per_adjudicated_alert"] == ""
    assert rows[0]["false_alerts_per_1000_tracks"] == ""
    body = ok(s.staff.anon.get(f"/deployments/{s.reference}/figures.json"))
    assert body["rows"][0]["false_alerts_per_1000_tracks"] is None


def test_downloads_of_unpublished_or_unknown_deployments_are_not_found(
        scenario: Scenario) -> None:
    s = scenario
    draft = ok(s.staff["planner"].post("/api/deployments", json=s.deployment_body()), 201)
    for path in (f"/deployments/{draft['reference']}/figures.csv",
                 f"/deployments/{draft['reference']}/figures.json",
                 "/deployments/LFR-2026-9999/figures.json", "/deployments/nonsense/figures.csv"):
        r = s.staff.anon.get(path)
        assert r.status_code == 404, path
        assert "Vauxhall high street" not in r.text
