"""Node batches: several alerts and counter batches in one request and one transaction,
each recorded as the single endpoints record it (an audit event each, retries once, the
running figures moved), all or none; the single-item endpoints still work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from figures_helpers import A_START
from platform_helpers import Scenario, activate_at, ok
from sqlalchemy import func, select

from openlfr.audit import verify_chain
from openlfr.services import figures
from openlfr.storage import models as m


def _alert(i: int, entry: int, minutes: int = 10) -> dict[str, Any]:
    return {"alert_uid": f"batch-alert-{i}", "camera": "cam-1", "track_id": str(i),
            "score": 0.7, "entry_id": entry,
            "occurred_at": (A_START + timedelta(minutes=minutes + i)).isoformat()}


def _counters(i: int) -> dict[str, Any]:
    return {"batch_id": f"batch-counts-{i}", "faces_seen": 100 + i, "tracks": 10}


def test_a_batch_records_every_item_once_with_its_audit_event(scenario: Scenario) -> None:
    s = scenario
    entry = activate_at(s, A_START, hours=8)
    s.clock.now = A_START + timedelta(hours=2)
    node = s.staff.node(s.deployment_id)
    url = f"/api/node/deployments/{s.deployment_id}"
    body = {"alerts": [_alert(i, entry) for i in range(5)],
            "counters": [_counters(i) for i in range(3)]}
    first = ok(node.post(f"{url}/batch", json=body), 201)
    assert [a["alert_uid"] for a in first["alerts"]] == [f"batch-alert-{i}" for i in range(5)]
    assert [c["counted"] for c in first["counters"]] == [True] * 3
    # Sent again (the node never heard the answer): nothing counted twice.
    again = ok(node.post(f"{url}/batch", json=body), 201)
    assert [a["id"] for a in again["alerts"]] == [a["id"] for a in first["alerts"]]
    assert [c["counted"] for c in again["counters"]] == [False] * 3
    # The single-item endpoints still work beside it.
    ok(node.post(f"{url}/alerts", json=_alert(9, entry)), 201)
    ok(node.post(f"{url}/counters", json=_counters(9)), 201)
    p = s.staff.platform
    with p.sessions() as session:
        received = session.scalar(select(func.count()).select_from(m.AuditEvent).where(
            m.AuditEvent.action == "alert.received"))
        counted = session.scalar(select(func.count()).select_from(m.AuditEvent).where(
            m.AuditEvent.action == "counters.received"))
        total = figures.load_facts(session, [s.deployment_id]).total([s.deployment_id])
        assert verify_chain(session).ok
    assert (received, counted) == (6, 4)
    assert (total.alerts, total.faces_seen) == (6, 100 + 101 + 102 + 109)


def test_a_batch_with_a_bad_item_keeps_nothing(scenario: Scenario) -> None:
    s = scenario
    entry = activate_at(s, A_START, hours=8)
    s.clock.now = A_START + timedelta(hours=2)
    node = s.staff.node(s.deployment_id)
    url = f"/api/node/deployments/{s.deployment_id}"
    wrong_entry = _alert(2, entry + 999)
    answer = node.post(f"{url}/batch", json={
        "alerts": [_alert(1, entry), wrong_entry], "counters": [_counters(1)]})
    assert 400 <= answer.status_code < 500, answer.text
    with s.staff.platform.sessions() as session:
        assert session.scalar(select(func.count()).select_from(m.Alert)) == 0
        assert session.scalar(select(func.count()).select_from(m.CounterBatch)) == 0
    too_many = node.post(f"{url}/batch", json={"counters": [_counters(i) for i in range(201)]})
    assert too_many.status_code == 422
