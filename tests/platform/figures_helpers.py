"""Planted figures for the figures, transparency and report tests: a deployment over the
end of March 2026 whose engine counts and alerts fall in two months, adjudicated with
every kind of decision and outcome, and the figures they must give; and a second one in
May in another borough."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from platform_helpers import Scenario, activate_at, ok

from openlfr.services import figures
from openlfr.storage import models as m

#: Deployment A: Lambeth / Vauxhall, 31 March 2026 20:00 to 1 April 04:00 (UTC).
A_START = datetime(2026, 3, 31, 20, 0, tzinfo=UTC)
#: Deployment B: Hackney / Dalston, 12 May 2026 10:00 to 18:00.
B_START = datetime(2026, 5, 12, 10, 0, tzinfo=UTC)

#: Deployment A's alerts: (uid, minutes after start, adjudication, outcome, group).
A_ALERTS: list[tuple[str, int, str | None, str | None, str | None]] = [
    ("a1", 60, "true_match", "arrest", None),                    # March
    ("a2", 90, "false_match", "not_engaged", "White"),        # March
    ("a3", 120, "false_match", "words_of_advice", "Asian or Asian British"),   # March
    ("a4", 210, "unclear", None, None),                          # March (23:30)
    ("a5", 270, "true_match", "no_further_action", None),        # April (00:30)
    ("a6", 300, "false_match", "not_engaged", None),             # April
    ("a7", 360, None, None, None),                               # April, left pending
    ("a8", 420, "true_match", "other", None),                    # April
]

#: The figures deployment A must give, by month and in total (the open-data columns).
A_MARCH: dict[str, Any] = {
    "faces_seen": 1500, "tracks": 500, "frames_processed": 7000, "frames_dropped": 12,
    "alerts": 4, "confirmed": 1, "false_alerts": 2, "false_alerts_per_adjudicated_alert": 0.5,
    "false_alerts_per_1000_tracks": 4.0, "unclear": 1, "pending": 0, "stops": 2,
    "arrests": 1, "outcome_no_further_action": 0, "outcome_words_of_advice": 1,
    "outcome_safeguarding": 0, "outcome_not_engaged": 1, "outcome_other": 0,
    "outcome_not_recorded": 1, "false_alerts_group_not_recorded": 0,
    "false_alerts_group:White": 1, "false_alerts_group:Asian or Asian British": 1}
A_APRIL: dict[str, Any] = {
    "faces_seen": 3000, "tracks": 900, "frames_processed": 0, "frames_dropped": 0,
    "alerts": 4, "confirmed": 2, "false_alerts": 1, "false_alerts_per_adjudicated_alert": 0.3333,
    "false_alerts_per_1000_tracks": 1.1111, "unclear": 0, "pending": 1, "stops": 2,
    "arrests": 0, "outcome_no_further_action": 1, "outcome_words_of_advice": 0,
    "outcome_safeguarding": 0, "outcome_not_engaged": 1, "outcome_other": 1,
    "outcome_not_recorded": 0, "false_alerts_group_not_recorded": 1,
    "false_alerts_group:White": 0, "false_alerts_group:Asian or Asian British": 0}
A_TOTAL: dict[str, Any] = {
    "faces_seen": 4500, "tracks": 1400, "frames_processed": 7000, "frames_dropped": 12,
    "alerts": 8, "confirmed": 3, "false_alerts": 3, "false_alerts_per_adjudicated_alert": 0.4286,
    "false_alerts_per_1000_tracks": 2.1429, "unclear": 1, "pending": 1, "stops": 4,
    "arrests": 1, "outcome_no_further_action": 1, "outcome_words_of_advice": 1,
    "outcome_safeguarding": 0, "outcome_not_engaged": 2, "outcome_other": 1,
    "outcome_not_recorded": 1, "false_alerts_group_not_recorded": 1,
    "false_alerts_group:White": 1, "false_alerts_group:Asian or Asian British": 1}

#: Deployment B: 2,000 faces, an arrest and a false alert recorded for White.
B_TOTAL: dict[str, Any] = {
    "faces_seen": 2000, "tracks": 700, "alerts": 2, "confirmed": 1, "false_alerts": 1,
    "false_alerts_per_adjudicated_alert": 0.5, "false_alerts_per_1000_tracks": 1.4286, "stops": 1,
    "arrests": 1, "outcome_not_engaged": 1, "false_alerts_group:White": 1}


def post_alert(s: Scenario, node: Any, uid: str, occurred_at: datetime, entry_id: int) -> int:
    body = ok(node.post(f"/api/node/deployments/{s.deployment_id}/alerts", json={
        "alert_uid": f"alert-{uid}", "occurred_at": occurred_at.isoformat(), "camera": "cam-1",
        "track_id": f"t-{uid}", "score": 0.7, "entry_id": entry_id}), 201)
    return int(body["id"])


def post_counters(s: Scenario, node: Any, batch_id: str, faces_seen: int, tracks: int) -> None:
    ok(node.post(f"/api/node/deployments/{s.deployment_id}/counters", json={
        "batch_id": f"batch-{batch_id}", "faces_seen": faces_seen, "tracks": tracks}), 201)


def set_batch(s: Scenario, batch_id: str, **values: Any) -> None:
    """Set fields of a counter batch the node API may not carry (period, frames)."""
    with s.staff.platform.sessions.begin() as session:
        session.execute(sa.update(m.CounterBatch).where(
            m.CounterBatch.deployment_id == s.deployment_id,
            m.CounterBatch.batch_id == f"batch-{batch_id}").values(**values))
        # Rows changed outside the use cases: recount the running figures.
        figures.rebuild_tallies(session, [s.deployment_id])


def decide(s: Scenario, alert_id: int, adjudication: str | None, outcome: str | None = None,
           group: str | None = None) -> None:
    operator = s.staff["operator"]
    if adjudication is not None:
        ok(operator.post(f"/api/alerts/{alert_id}/adjudication",
                         json={"adjudication": adjudication}))
    if outcome is not None:
        body: dict[str, Any] = {"outcome": outcome}
        if group is not None:
            body["demographic_group"] = group
        ok(operator.post(f"/api/alerts/{alert_id}/outcome", json=body))


def run_deployment_a(s: Scenario) -> dict[str, int]:
    """Deployment A through activation, its counts and alerts posted by the node and
    decided by the operator; left active at its last alert. Returns alert ids by uid.

    Counts: batch m1 received in March (1,000 faces); batch a1 received in April (3,000);
    batch m2 received in April but with a period ending in March (500 faces, 7,000
    frames processed, 12 dropped), so it counts in March."""
    entry = activate_at(s, A_START, hours=8)
    node = s.staff.node(s.deployment_id)
    s.clock.now = A_START + timedelta(hours=1)
    post_counters(s, node, "m1", 1000, 400)
    ids: dict[str, int] = {}
    for uid, minutes, *_ in A_ALERTS:
        s.clock.now = A_START + timedelta(minutes=minutes)
        ids[uid] = post_alert(s, node, uid, s.clock.now, entry)
    post_counters(s, node, "a1", 3000, 900)
    post_counters(s, node, "m2", 500, 100)
    set_batch(s, "m2", period_start=A_START, period_end=datetime(2026, 3, 31, 23, 59,
                                                                  tzinfo=UTC),
              frames_processed=7000, frames_dropped=12)
    for uid, _, adjudication, outcome, group in A_ALERTS:
        decide(s, ids[uid], adjudication, outcome, group)
    return ids


def complete_a(s: Scenario) -> None:
    """Complete deployment A at its planned end."""
    s.clock.now = max(s.clock.now, A_START + timedelta(hours=8))
    ok(s.staff["operator"].post(s.url("/complete")))


def run_deployment_b(s: Scenario) -> None:
    """Deployment B in Hackney in May, completed: 2,000 faces, two alerts."""
    entry = activate_at(s, B_START, hours=8, borough="Hackney", ward="Dalston",
                        title="Dalston market")
    node = s.staff.node(s.deployment_id)
    s.clock.now = B_START + timedelta(hours=1)
    post_counters(s, node, "b1", 2000, 700)
    arrest = post_alert(s, node, "b-1", s.clock.now, entry)
    false = post_alert(s, node, "b-2", s.clock.now + timedelta(minutes=5), entry)
    decide(s, arrest, "true_match", "arrest")
    decide(s, false, "false_match", "not_engaged", "White")
    s.clock.now = B_START + timedelta(hours=8)
    ok(s.staff["operator"].post(s.url("/complete")))
