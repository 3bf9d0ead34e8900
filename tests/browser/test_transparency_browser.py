"""The transparency dashboard in Chromium: its charts are drawn (pixels on the canvas, in
the colours of each series) from the figures in its tables, with the charting library
served by this site and no request to any other."""

from __future__ import annotations

from typing import Any

from figures_helpers import complete_a, run_deployment_a
from platform_helpers import Scenario

#: Counts of painted pixels per series colour (the colours transparency.js gives them).
PAINTED = """(id) => {
  const canvas = document.getElementById(id);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const counts = {painted: 0, confirmed: 0, false_alerts: 0, faces: 0};
  const near = (i, r, g, b) => Math.abs(pixels[i] - r) < 8 && Math.abs(pixels[i + 1] - g) < 8
                               && Math.abs(pixels[i + 2] - b) < 8 && pixels[i + 3] > 200;
  for (let i = 0; i < pixels.length; i += 4) {
    if (pixels[i + 3] > 0) counts.painted++;
    if (near(i, 0x1d, 0x6b, 0x2f)) counts.confirmed++;
    if (near(i, 0xa3, 0x23, 0x1f)) counts.false_alerts++;
    if (near(i, 0x1f, 0x4e, 0x8c)) counts.faces++;
  }
  return counts;
}"""


def test_dashboard_charts_are_drawn_with_nothing_from_other_sites(
        page: Any, scenario: Scenario, live_url: str) -> None:
    run_deployment_a(scenario)
    complete_a(scenario)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(f"{live_url}/transparency")
    page.wait_for_selector("[data-test=chart-alerts][data-drawn=true]")
    page.wait_for_selector("[data-test=chart-faces][data-drawn=true]")

    alerts = page.evaluate(PAINTED, "chart-alerts")
    assert alerts["confirmed"] > 500 and alerts["false_alerts"] > 500, alerts
    faces = page.evaluate(PAINTED, "chart-faces")
    assert faces["faces"] > 1000 and faces["false_alerts"] > 20, faces
    # The charts draw the same numbers as the table.
    drawn = page.evaluate("""() => {
      const chart = Chart.getChart(document.getElementById("chart-alerts"));
      return {labels: chart.data.labels,
              series: Object.fromEntries(chart.data.datasets.map(d => [d.label, d.data]))};
    }""")
    assert drawn["labels"] == ["March 2026", "April 2026"]
    assert drawn["series"]["Confirmed"] == [1, 2]
    assert drawn["series"]["False alerts"] == [2, 1]
    march = page.inner_text("[data-test=by-month-row][data-key='March 2026'] "
                            "td[data-column=false_alerts]")
    assert march == "2"

    assert any(u == f"{live_url}/static/vendor/chart.umd.min.js" for u in requested)
    outside = [u for u in requested if not u.startswith(live_url)]
    assert outside == []
