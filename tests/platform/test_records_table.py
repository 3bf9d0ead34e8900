"""Deployment records: the transparency page's table equals its CSV and JSON (same columns,
same values), the data dictionary describes exactly those columns, and the values come
from what happened (local London times, watchlist by category, alerts and arrests, what
followed an arrest within its window, notice given, objections answered on time)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

from platform_helpers import START, Scenario, ok

from openlfr.services.records import COLUMN_NAMES


class _Table(HTMLParser):
    """The records table's cells, row by row, as the page shows them."""

    def __init__(self) -> None:
        super().__init__()
        self.inside, self.header, self.rows, self.cell = False, [], [], None
        self.row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("data-test") == "records-table":
            self.inside = True
        elif self.inside and tag == "tr" and a.get("data-test") == "record-row":
            self.row = []
        elif self.inside and tag in ("td", "th"):
            self.cell = ""
            if tag == "th":
                self.header.append(a.get("data-column") or "")

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False
        elif tag == "td" and self.row is not None and self.cell is not None:
            self.row.append(self.cell)
            self.cell = None
        elif tag == "th":
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.rows.append(self.row)
            self.row = None


def _alert(s: Scenario, uid: str, entry_id: int) -> int:
    node = s.staff.node(s.deployment_id)
    alert = ok(node.post(f"/api/node/deployments/{s.deployment_id}/alerts", json={
        "alert_uid": uid, "occurred_at": s.clock.now.isoformat(), "camera": "c1",
        "track_id": uid, "score": 0.8, "entry_id": entry_id}), 201)
    return int(alert["id"])


def _ran_with_arrests(s: Scenario) -> list[int]:
    s.activate()
    entry = ok(s.staff.node(s.deployment_id).get(
        f"/api/node/deployments/{s.deployment_id}/watchlist"))["entries"][0]["entry_id"]
    operator = s.staff["operator"]
    ids = [_alert(s, f"alert-000{i}", entry) for i in range(3)]
    for alert_id, (verdict, outcome) in zip(ids, [("true_match", "arrest"),
                                                  ("true_match", "arrest"),
                                                  ("false_match", "not_engaged")], strict=True):
        ok(operator.post(f"/api/alerts/{alert_id}/adjudication", json={"adjudication": verdict}))
        ok(operator.post(f"/api/alerts/{alert_id}/outcome", json={"outcome": outcome}))
    return ids


def test_later_outcome_is_recorded_within_its_window(scenario: Scenario) -> None:
    s = scenario
    first, second, false_alert = _ran_with_arrests(s)
    operator = s.staff["operator"]
    charged = ok(operator.post(f"/api/alerts/{first}/later-outcome",
                               json={"later_outcome": "charged"}))
    assert charged["later_outcome"] == "charged"
    refused = operator.post(f"/api/alerts/{false_alert}/later-outcome",
                            json={"later_outcome": "charged"})
    assert refused.status_code == 409 and "follows an arrest" in refused.text
    assert s.staff["planner"].post(f"/api/alerts/{second}/later-outcome", json={
        "later_outcome": "cautioned"}).status_code == 403
    bad = operator.post(f"/api/alerts/{second}/later-outcome", json={"later_outcome": "jailed"})
    assert bad.status_code == 422
    window = s.staff.platform.settings.later_outcome_window_days
    s.clock.advance(days=window + 1)
    operator = s.staff.login("operator")  # the earlier session has expired
    late = operator.post(f"/api/alerts/{second}/later-outcome",
                         json={"later_outcome": "cautioned"})
    assert late.status_code == 409 and "window" in late.text
    events = [e["action"] for e in ok(s.staff.login("admin").get("/api/audit/events?limit=1000"))]
    assert events.count("alert.later_outcome_recorded") == 1


def test_records_table_equals_its_csv_and_json(scenario: Scenario) -> None:
    s = scenario
    first, _, _ = _ran_with_arrests(s)
    ok(s.staff["operator"].post(f"/api/alerts/{first}/later-outcome",
                                json={"later_outcome": "released_without_charge"}))
    s.clock.advance(hours=1)
    ok(s.staff["operator"].post(s.url("/complete")))  # the watchlist is destroyed

    page = s.staff.anon.get("/transparency")
    assert page.status_code == 200
    table = _Table()
    table.feed(page.text)
    assert tuple(table.header) == COLUMN_NAMES
    csv_rows = list(csv.reader(io.StringIO(s.staff.anon.get("/transparency/records.csv").text)))
    assert tuple(csv_rows[0]) == COLUMN_NAMES
    assert csv_rows[1:] == table.rows and len(table.rows) == 1

    data: dict[str, Any] = ok(s.staff.anon.get("/transparency/records.json"))
    assert tuple(data["columns"]) == COLUMN_NAMES
    assert [[("" if r[c] is None else str(r[c])) for c in COLUMN_NAMES]
            for r in data["rows"]] == table.rows
    row = data["rows"][0]
    # START is 10:00 UTC on 22 March (GMT until the 29th): London's clock says 10:00.
    assert (row["reference"], row["date"]) == (s.reference, START.date().isoformat())
    assert row["start_local"].endswith("10:00") and row["end_local"].endswith("18:00")
    assert (row["borough"], row["ward"], row["street"]) == ("Lambeth", "Vauxhall",
                                                            "Station forecourt")
    assert (row["watchlist_size"], row["watchlist_by_category"]) == (1, "wanted_for_arrest: 1")
    assert (row["alerts"], row["confirmed"], row["false_alerts"]) == (3, 2, 1)
    assert row["counts_beyond_cameras"] is False
    assert (row["stops"], row["arrests"]) == (2, 2)
    assert (row["later_released_without_charge"], row["later_charged"],
            row["later_not_recorded"]) == (1, 0, 1)
    assert row["notice_days"] == 20
    assert (row["gates_overridden"], row["gates_overridden_names"]) == (0, "")
    assert (row["objections_received"], row["objections_answered_on_time"]) == (1, 1)

    dictionary = ok(s.staff.anon.get("/transparency/records-schema.json"))
    assert tuple(f["name"] for f in dictionary["fields"]) == COLUMN_NAMES
    assert all(f["description"] and f["type"] in {"string", "integer", "date", "boolean"}
               for f in dictionary["fields"])


def test_local_times_follow_british_summer_time(scenario: Scenario) -> None:
    from openlfr.services.records import local

    summer = START.replace(month=7)  # 10:00 UTC is 11:00 in British Summer Time
    assert local(summer) == summer.strftime("%Y-%m-%d ") + "11:00"
    assert local(START) == START.strftime("%Y-%m-%d ") + "10:00"
    assert local(START + timedelta(days=8)).endswith("11:00")  # BST from 29 March


def test_staff_page_records_what_followed_an_arrest(scenario: Scenario) -> None:
    import re

    s = scenario
    first, _, _ = _ran_with_arrests(s)
    operator = s.staff["operator"]
    page = operator.get(f"/staff/deployments/{s.deployment_id}/arrests")
    assert page.status_code == 200 and page.text.count('data-test="arrest"') == 2
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = operator.post(f"/staff/deployments/{s.deployment_id}/arrests", data={
        "csrf_token": token, "alert_id": str(first), "later_outcome": "cautioned"},
        follow_redirects=True)
    assert r.status_code == 200 and 'data-later-outcome="cautioned"' in r.text
    r = operator.post(f"/staff/deployments/{s.deployment_id}/arrests", data={
        "csrf_token": token, "alert_id": str(first), "later_outcome": "jailed"})
    assert r.status_code == 422
    assert s.staff["planner"].get(
        f"/staff/deployments/{s.deployment_id}/arrests").status_code == 403
