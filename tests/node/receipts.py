"""The platform's receipts, for fake platforms: what its node API answers when it records
an alert (the alert, naming its ``alert_uid``), a counter batch (``batch_id``, ``counted``)
or a batch of both (the lists, in the order sent). The node deletes an item only on it."""

from __future__ import annotations

import json
from typing import Any

import httpx


def _alert(payload: dict[str, Any]) -> dict[str, Any]:
    return {"id": 1, "alert_uid": payload.get("alert_uid"), "score": payload.get("score")}


def _counters(payload: dict[str, Any]) -> dict[str, Any]:
    return {"batch_id": payload.get("batch_id"), "counted": True}


def receipt_json(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The platform's answer to a post of ``body`` to ``path``."""
    if path.endswith("/batch"):
        return {"alerts": [_alert(a) for a in body["alerts"]],
                "counters": [_counters(c) for c in body["counters"]]}
    return _alert(body) if path.endswith("/alerts") else _counters(body)


def receipt(request: httpx.Request, status: int = 201) -> httpx.Response:
    """The platform's receipt for what ``request`` posted."""
    return httpx.Response(status, json=receipt_json(request.url.path,
                                                   json.loads(request.content)))
