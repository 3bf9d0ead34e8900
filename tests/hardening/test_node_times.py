"""A node may report only times inside the time its deployment ran (give or take the
configured clock skew): an alert dated 2000 or 2100 is refused with the reason, and open
data never spans a century."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from platform_helpers import START, Scenario, ok

from openlfr.storage import models as m


def _alert(uid: str, entry_id: int, when: datetime) -> dict[str, object]:
    return {"alert_uid": uid, "occurred_at": when.isoformat(), "camera": "cam-1",
            "track_id": "7", "score": 0.7, "entry_id": entry_id}


def _rows(s: Scenario) -> tuple[int, int]:
    with s.staff.platform.sessions() as session:
        return (session.scalar(sa.select(sa.func.count()).select_from(m.Alert)) or 0,
                session.scalar(sa.select(sa.func.count()).select_from(m.CounterBatch)) or 0)


@pytest.mark.parametrize("when,why", [
    (datetime(2000, 1, 1, tzinfo=UTC), "before the deployment began"),
    (datetime(2100, 1, 1, tzinfo=UTC), "after the platform's time now"),
    (START - timedelta(minutes=6), "before the deployment began"),
    (START + timedelta(hours=1, minutes=6), "after the platform's time now"),
])
def test_alerts_and_counts_outside_the_running_time_are_refused(
        scenario: Scenario, when: datetime, why: str) -> None:
    s = scenario
    s.activate()
    s.clock.now = START + timedelta(hours=1)
    node = s.staff.node(s.deployment_id)
    base = f"/api/node/deployments/{s.deployment_id}"
    entry_id = ok(node.get(f"{base}/watchlist"))["entries"][0]["entry_id"]
    r = node.post(f"{base}/alerts", json=_alert("alert-0001", entry_id, when))
    assert r.status_code == 422 and why in r.text and "clock" in r.text, r.text
    r = node.post(f"{base}/counters", json={
        "batch_id": "batch-0001", "faces_seen": 3, "tracks": 2,
        "period_start": min(when, START).isoformat(),
        "period_end": max(when, START + timedelta(minutes=1)).isoformat()})
    assert r.status_code == 422 and "clock" in r.text, r.text
    assert _rows(s) == (0, 0)


def test_times_within_the_skew_allowance_are_accepted(scenario: Scenario) -> None:
    s = scenario
    s.activate()
    s.clock.now = START + timedelta(hours=1)
    node = s.staff.node(s.deployment_id)
    base = f"/api/node/deployments/{s.deployment_id}"
    entry_id = ok(node.get(f"{base}/watchlist"))["entries"][0]["entry_id"]
    ok(node.post(f"{base}/alerts", json=_alert(
        "alert-0001", entry_id, START - timedelta(minutes=4))), 201)
    ok(node.post(f"{base}/alerts", json=_alert(
        "alert-0002", entry_id, s.clock.now + timedelta(minutes=4))), 201)
    ok(node.post(f"{base}/counters", json={
        "batch_id": "batch-0001", "faces_seen": 3, "tracks": 2,
        "period_start": START.isoformat(),
        "period_end": (s.clock.now + timedelta(seconds=30)).isoformat()}), 201)
    assert _rows(s) == (2, 1)
