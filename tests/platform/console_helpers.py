"""Helpers for the operator console's tests (live stream, page, browser): an active
deployment whose watchlist entry has a reference photo, and alerts posted by its node with
a probe crop, both real JPEGs."""

from __future__ import annotations

import base64
from typing import Any

import cv2
import numpy as np
from platform_helpers import START, Scenario, descriptor, ok


def jpeg_b64(shade: int) -> str:
    """A small JPEG (a grey square with a lighter band), base64."""
    image = np.full((48, 40, 3), shade, np.uint8)
    image[10:20, 10:30] = 255 - shade
    encoded, data = cv2.imencode(".jpg", image)
    assert encoded
    return base64.b64encode(data.tobytes()).decode()


def authorised_with_photo(s: Scenario) -> int:
    """The scenario's deployment, authorised, with a second watchlist entry that has a
    reference photo; returns that entry's id. The clock is 12 hours before the start."""
    s.prepare()
    planner = s.staff["planner"]
    entry = ok(planner.post(s.url("/watchlist/entries"), json={
        "subject_ref": "CASE-777/B", "category": "missing_person", "source": "report",
        "authorised_by": "Insp. Example", "image_taken_on": "2026-02-01",
        "descriptors": [descriptor(0.5)], "image_jpeg_b64": jpeg_b64(40)}), 201)
    ok(planner.post(s.url("/watchlist/build")))
    ok(s.staff["authoriser"].post(s.url("/authorise")))
    return int(entry["id"])


def active_with_photo(s: Scenario) -> int:
    """As ``authorised_with_photo``, then activated at the start time."""
    entry_id = authorised_with_photo(s)
    s.clock.now = START
    ok(s.staff["operator"].post(s.url("/activate")))
    return entry_id


def post_alert(s: Scenario, node: Any, entry_id: int, uid: str, *, score: float = 0.71,
               camera: str = "cam-1", with_photo: bool = True) -> Any:
    """The node reports an alert (uid: 8+ characters); returns the AlertOut."""
    body: dict[str, Any] = {
        "alert_uid": uid, "occurred_at": s.clock.now.isoformat(), "camera": camera,
        "track_id": "7", "score": score, "entry_id": entry_id}
    if with_photo:
        body["probe_crop_jpeg_b64"] = jpeg_b64(200)
    return ok(node.post(f"/api/node/deployments/{s.deployment_id}/alerts", json=body), 201)
