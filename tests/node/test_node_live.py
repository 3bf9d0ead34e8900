"""`openlfr node run` against a real platform on loopback, on the bundled sample clip:
refused unless the deployment is active (with the platform's reason); alerts arrive with
their probe crops, counts add up to the engine's own; killed before the platform
acknowledged an alert, the restarted node delivers it exactly once."""

from __future__ import annotations

import json
import signal
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from node_helpers import (
    CLIP,
    CLIP_PERFORMER,
    Gate,
    LivePlatform,
    NodeProcess,
    active_deployment,
    files_under,
    node_key,
    wait_until,
)
from platform_helpers import ok

from openlfr.node.outbox import OUTBOX_FILE_NAME


def _alerts(live: LivePlatform, deployment_id: int) -> list[dict[str, object]]:
    return list(ok(live.staff["operator"].get(f"/api/deployments/{deployment_id}/alerts")))


def _audit(live: LivePlatform, action: str, subject_id: int) -> list[dict[str, object]]:
    """The audit events of one kind about one subject (read page by page)."""
    found, after = [], 0
    while page := ok(live.staff["admin"].get(f"/api/audit/events?limit=1000&after_seq={after}")):
        found += [e for e in page
                  if e["action"] == action and e["subject_id"] == str(subject_id)]
        after = page[-1]["seq"]
    return found


def _outbox_uids(outbox: Path) -> list[str]:
    with sqlite3.connect(f"file:{outbox / OUTBOX_FILE_NAME}?mode=ro", uri=True) as conn:
        return [row[0] for row in conn.execute("SELECT uid FROM outbox_items ORDER BY id")]


def test_node_refuses_a_deployment_that_is_not_active_and_says_why(
        live: LivePlatform, tmp_path: Path) -> None:
    d = active_deployment(live.staff, subjects=("obama",), activate=False)
    key = node_key(live.platform, d.id)
    node = NodeProcess(["--platform", live.url, "--deployment", d.reference,
                        "--source", str(CLIP), "--outbox", str(tmp_path / "outbox")],
                       tmp_path / "home", key)
    code, summary = node.finish()
    assert code == 1
    assert node.stderr[-1] == (f"error: deployment {d.reference} is 'notice_published', not "
                               "'active': engine nodes may only run against an active "
                               "deployment")
    assert summary is not None and summary["stop_reason"] == "refused"
    assert not summary["watchlist_dropped"]  # it never had one
    released = _audit(live, "watchlist.released_to_node", d.id)
    assert released == []
    assert files_under(tmp_path / "outbox", tmp_path / "home") == []

    # A key for another deployment, and an unknown reference, are refused with reasons.
    other = NodeProcess(["--platform", live.url, "--deployment", "LFR-2026-9999",
                         "--source", str(CLIP), "--outbox", str(tmp_path / "outbox")],
                        tmp_path / "home", key)
    assert other.finish()[0] == 1
    assert other.stderr[-1] == "error: no deployment with reference 'LFR-2026-9999'"


@pytest.mark.slow
def test_alerts_arrive_with_probe_crops_and_counts_add_up(
        live: LivePlatform, open_gate: Gate, tmp_path: Path) -> None:
    d = active_deployment(live.staff)
    started = datetime.now().astimezone()
    node = NodeProcess(["--platform", live.url, "--deployment", d.reference,
                        "--source", str(CLIP), "--camera", "station-north",
                        "--flush-interval-s", "1"], tmp_path / "home", node_key(live.platform,
                                                                                 d.id))
    code, summary = node.finish()
    assert code == 0, node.transcript()
    assert summary is not None and summary["stop_reason"] == "source_ended"
    engine = summary["engine"]
    assert engine["frames_processed"] > 200
    queued = node.of_type("alert")  # the performer's first; any other names someone in shot
    assert engine["alerts"] == len(queued) and not d.misnamed(queued)
    recorded = _alerts(live, d.id)
    assert sorted(a["alert_uid"] for a in recorded) == sorted(q["alert_uid"] for q in queued)

    alert = next(a for a in recorded if a["alert_uid"] == queued[0]["alert_uid"])
    assert alert["entry_id"] == d.entries[CLIP_PERFORMER]
    assert alert["entry_category"] == d.categories[CLIP_PERFORMER]
    assert alert["camera"] == "station-north" and alert["has_probe_crop"]
    assert float(str(alert["score"])) >= 0.5
    occurred = datetime.fromisoformat(str(alert["occurred_at"]))
    assert started <= occurred <= datetime.now().astimezone()  # the frame's wall-clock time
    probe = live.staff["operator"].get(f"/api/alerts/{alert['id']}/probe.jpg")
    assert probe.status_code == 200 and probe.content.startswith(b"\xff\xd8\xff")
    reference = live.staff["operator"].get(f"/api/alerts/{alert['id']}/reference.jpg")
    assert reference.status_code == 200 and reference.content.startswith(b"\xff\xd8\xff")

    # The counts the platform holds are the engine's own, batch by batch.
    batches = node.of_type("counters")
    assert len(batches) >= 2 and summary["sent"]["counters"] == len(batches)
    public = ok(live.staff.anon.get(f"/api/public/deployments/{d.reference}"))
    assert public["figures"]["faces_seen"] == engine["faces_detected"]
    assert public["figures"]["tracks"] == engine["tracks"]
    assert sum(b["frames_processed"] for b in batches) == engine["frames_processed"]
    recorded = _audit(live, "counters.received", d.id)
    assert sum(json.loads(str(e["details"]))["frames_processed"] for e in recorded) == engine[
        "frames_processed"]

    # The run ended with the watchlist dropped, recorded by the platform; nothing left.
    (dropped,) = _audit(live, "node.watchlist_dropped", d.id)
    assert json.loads(str(dropped["details"]))["reason"] == "source_ended"
    assert summary["outbox_removed"] and summary["pending"] == 0
    assert files_under(tmp_path / "home") == []  # the default outbox folder included


@pytest.mark.slow
def test_node_killed_before_the_platform_answered_delivers_the_alert_once(
        live: LivePlatform, open_gate: Gate, tmp_path: Path) -> None:
    d = active_deployment(live.staff, subjects=("lin_manuel_miranda",))
    key, outbox = node_key(live.platform, d.id), tmp_path / "outbox"
    args = ["--platform", live.url, "--deployment", str(d.id), "--source", str(CLIP),
            "--outbox", str(outbox), "--flush-interval-s", "1", "--backoff-max-s", "1"]
    open_gate.mode = "hold"  # the platform records alerts but its answers never arrive
    node = NodeProcess(args, tmp_path / "home", key)
    queued = node.wait_for(lambda e: e.get("type") == "alert", what="an alert")
    uid = queued["alert_uid"]
    wait_until(lambda: open_gate.held == 1, what="the alert's post to reach the platform")
    node.kill()
    assert [a["alert_uid"] for a in _alerts(live, d.id)] == [uid]  # recorded...
    assert uid in _outbox_uids(outbox)  # ...but not acknowledged, so still in the outbox
    assert not node.of_type("sent") or all(e["uid"] != uid for e in node.of_type("sent"))

    # The operator completes the deployment while the node is down; the watchlist goes.
    ok(live.staff["operator"].post(f"/api/deployments/{d.id}/complete"))
    open_gate.mode = None
    open_gate.release.set()
    again = NodeProcess(args, tmp_path / "home", key)
    code, summary = again.finish()
    assert code == 1 and "'completed', not 'active'" in again.stderr[-1]
    assert summary is not None and summary["stop_reason"] == "refused"
    assert summary["sent"]["alert"] == 1 and summary["pending"] == 0
    assert any(e["uid"] == uid for e in again.of_type("sent"))
    alerts = _alerts(live, d.id)
    assert [a["alert_uid"] for a in alerts] == [uid]  # delivered exactly once
    assert summary["outbox_removed"] and files_under(outbox) == []


@pytest.mark.slow
def test_sigterm_keeps_pending_alerts_for_the_next_start_within_late_delivery(
        live: LivePlatform, open_gate: Gate, tmp_path: Path) -> None:
    d = active_deployment(live.staff, subjects=("lin_manuel_miranda", "obama"))
    key, outbox = node_key(live.platform, d.id), tmp_path / "outbox"
    args = ["--platform", live.url, "--deployment", d.reference, "--source", str(CLIP),
            "--outbox", str(outbox), "--backoff-max-s", "1"]
    node = NodeProcess(args, tmp_path / "home", key)
    node.wait_for(lambda e: e.get("type") == "watching", what="the engine to start")
    open_gate.mode = "down"  # from now on the platform cannot be reached (it answers 503)
    queued = node.wait_for(lambda e: e.get("type") == "alert", what="an alert")
    node.wait_for(lambda e: e.get("type") == "unreachable", what="a failed delivery")
    node.proc.send_signal(signal.SIGTERM)
    code, summary = node.finish()
    assert code == 130, node.transcript()
    assert summary is not None and summary["stop_reason"] == "interrupted"
    assert summary["watchlist_dropped"] and summary["pending"] >= 1
    assert queued["alert_uid"] in _outbox_uids(outbox)
    assert _alerts(live, d.id) == []

    # Completed meanwhile (its watchlist destroyed); the next start still delivers, late.
    ok(live.staff["operator"].post(f"/api/deployments/{d.id}/complete"))
    open_gate.mode = None
    again = NodeProcess(args, tmp_path / "home", key)
    code, summary = again.finish()
    assert code == 1 and "'completed', not 'active'" in again.stderr[-1]
    assert summary is not None and summary["pending"] == 0 and summary["outbox_removed"]
    recorded = _alerts(live, d.id)  # all the first start queued, each once
    assert sorted(a["alert_uid"] for a in recorded) == sorted(
        e["alert_uid"] for e in node.of_type("alert"))
    assert not d.misnamed(node.of_type("alert"))
    alert = next(a for a in recorded if a["alert_uid"] == queued["alert_uid"])
    assert alert["has_probe_crop"]
    assert alert["entry_id"] is None  # the entry went with the watchlist...
    assert alert["entry_category"] == d.categories[CLIP_PERFORMER]  # ...its category not
    assert files_under(outbox, tmp_path / "home") == []
