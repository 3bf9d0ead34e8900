"""Alert photos: the probe crop a node sends and the watchlist's reference photo are
encrypted at rest, shown only to operators and authorisers, refused when they are not
real JPEGs, and deleted (audited) when their retention ends."""

from __future__ import annotations

import base64
import json

import cv2
import numpy as np
from platform_helpers import START, Scenario, descriptor, ok
from sqlalchemy import text

from openlfr.services.retention import apply_retention


def jpeg_b64(shade: int) -> str:
    image = np.full((48, 40, 3), shade, np.uint8)
    image[10:20, 10:30] = 255 - shade
    ok_, encoded = cv2.imencode(".jpg", image)
    assert ok_
    return base64.b64encode(encoded.tobytes()).decode()


def _alert_with_photos(s: Scenario) -> int:
    s.prepare()
    planner = s.staff["planner"]
    entry = ok(planner.post(s.url("/watchlist/entries"), json={
        "subject_ref": "CASE-777/B", "category": "missing_person", "source": "report",
        "authorised_by": "Insp. Example", "image_taken_on": "2026-02-01",
        "descriptors": [descriptor(0.5)], "image_jpeg_b64": jpeg_b64(40)}), 201)
    ok(planner.post(s.url("/watchlist/build")))
    ok(s.staff["authoriser"].post(s.url("/authorise")))
    s.clock.now = START
    ok(s.staff["operator"].post(s.url("/activate")))
    node = s.staff.node(s.deployment_id)
    alert = ok(node.post(f"/api/node/deployments/{s.deployment_id}/alerts", json={
        "alert_uid": "alert-photo-1", "occurred_at": START.isoformat(), "camera": "cam-1",
        "track_id": "7", "score": 0.71, "entry_id": entry["id"],
        "probe_crop_jpeg_b64": jpeg_b64(200)}), 201)
    assert alert["has_probe_crop"] is True
    return int(alert["id"])


def test_operators_see_both_photos_encrypted_at_rest(scenario: Scenario) -> None:
    s = scenario
    alert_id = _alert_with_photos(s)
    operator = s.staff["operator"]
    probe = operator.get(f"/api/alerts/{alert_id}/probe.jpg")
    reference = operator.get(f"/api/alerts/{alert_id}/reference.jpg")
    for r, shade in ((probe, 200), (reference, 40)):
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert r.headers["cache-control"] == "no-store"
        pixels = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
        assert abs(int(pixels[0, 0, 0]) - shade) < 8
    for role in ("planner", "oversight", "admin"):
        assert s.staff[role].get(f"/api/alerts/{alert_id}/probe.jpg").status_code == 403
    assert s.staff.anon.get(f"/api/alerts/{alert_id}/probe.jpg").status_code == 401
    with s.staff.platform.engine.connect() as conn:
        crop = bytes(conn.execute(text("SELECT probe_crop_encrypted FROM alerts")).scalar())
        photos = [bytes(x) for x in conn.execute(text(
            "SELECT image_encrypted FROM watchlist_entries WHERE image_encrypted IS NOT NULL"))
            .scalars()]
    assert not crop.startswith(b"\xff\xd8") and b"JFIF" not in crop
    assert photos and all(b"JFIF" not in p for p in photos)


def test_probe_crops_are_deleted_when_retention_ends(scenario: Scenario) -> None:
    s = scenario
    alert_id = _alert_with_photos(s)
    p = s.staff.platform
    s.clock.advance(hours=p.settings.probe_crop_retention_hours - 1)
    assert apply_retention(p).probe_crops_deleted == 0
    s.clock.advance(hours=2)
    assert apply_retention(p).probe_crops_deleted == 1
    r = s.staff["operator"].get(f"/api/alerts/{alert_id}/probe.jpg")
    assert r.status_code == 404 and "retention ended" in r.json()["detail"]
    alerts = ok(s.staff["operator"].get(s.url("/alerts")))
    assert alerts[0]["has_probe_crop"] is False and alerts[0]["probe_crop_purged_at"]
    events = ok(s.staff["admin"].get("/api/audit/events?limit=1000"))
    purged = [e for e in events if e["action"] == "alert.probe_crops_deleted"]
    assert len(purged) == 1 and json.loads(purged[0]["details"])["alert_ids"] == [alert_id]
    assert ok(s.staff["admin"].get("/api/audit/verify"))["ok"] is True


def test_bad_photos_are_refused_and_change_nothing(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    planner = s.staff["planner"]
    ok(planner.post(s.url("/watchlist"), json={"descriptor_model": "dlib-resnet-v1"}), 201)
    body = {"subject_ref": "CASE-1", "category": "missing_person", "source": "report",
            "authorised_by": "Insp. Example", "image_taken_on": "2026-02-01",
            "descriptors": [descriptor()]}
    png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    damaged = base64.b64decode(jpeg_b64(90))[:40]
    for bad, says in ((base64.b64encode(png).decode(), "not a JPEG"),
                      ("%%% not base64 %%%", "not valid base64"),
                      (base64.b64encode(damaged).decode(), "cannot be decoded")):
        r = planner.post(s.url("/watchlist/entries"), json={**body, "image_jpeg_b64": bad})
        assert r.status_code == 422 and says in r.text, r.text
    assert ok(planner.get(s.url("/watchlist")))["entries"] == []
