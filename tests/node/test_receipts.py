"""An item leaves the outbox only on the platform's own receipt for it: a 2xx from anything
else (an empty 200 or a 204 from a proxy, a captive portal's ``{"status": "ok"}``, a
receipt for other items) keeps it, to be sent again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from receipts import receipt, receipt_json

from openlfr.node import Outbox, PlatformClient
from openlfr.node.runner import Sender

DEPLOYMENT = 7
KEY = "k" * 40
ALERT = {"alert_uid": "a-0001", "score": 0.7}
COUNTERS = {"batch_id": "c-0001", "faces_seen": 3}
NOT_RECEIPTS = {
    "empty 200": lambda request: httpx.Response(200),
    "204": lambda request: httpx.Response(204),
    "a proxy's JSON": lambda request: httpx.Response(200, json={"status": "ok"}),
    "a JSON list": lambda request: httpx.Response(201, json=[]),
    "another item's receipt": lambda request: httpx.Response(201, json=receipt_json(
        request.url.path, _renamed(json.loads(request.content)))),
    "a receipt without its keys": lambda request: httpx.Response(201, json=_stripped(
        receipt_json(request.url.path, json.loads(request.content)))),
}


def _renamed(body: dict[str, Any]) -> dict[str, Any]:
    """The same post, every item with another id (a receipt for something else)."""
    if "alerts" in body:
        return {k: [_renamed(i) for i in v] for k, v in body.items()}
    return {k: f"{v}-other" if k in ("alert_uid", "batch_id") else v for k, v in body.items()}


def _stripped(answer: dict[str, Any]) -> dict[str, Any]:
    """The receipt less an alert's ``id`` and ``alert_uid``, a counter batch's ``counted``."""
    if "alerts" in answer:
        return {k: [_stripped(i) for i in v] for k, v in answer.items()}
    return {k: v for k, v in answer.items() if k not in ("id", "alert_uid", "counted")}


def _sender(tmp_path: Path, answers: list[Any]) -> tuple[Sender, list[dict[str, Any]]]:
    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)(request) if answers else receipt(request)

    client = PlatformClient("https://lfr.example", KEY, transport=httpx.MockTransport(handler))
    events: list[dict[str, Any]] = []
    return Sender(Outbox.in_folder(tmp_path, KEY), client, DEPLOYMENT, events.append,
                  0.01, 0.02), events


@pytest.mark.parametrize("answer", NOT_RECEIPTS.values(), ids=NOT_RECEIPTS.keys())
@pytest.mark.parametrize("items", [["alert"], ["counters"], ["alert", "counters"]],
                         ids=["an alert", "a counter batch", "a batch request"])
def test_only_the_platforms_receipt_takes_an_item_out_of_the_outbox(
        tmp_path: Path, answer: Any, items: list[str]) -> None:
    sender, events = _sender(tmp_path, [answer])
    if "alert" in items:
        sender.outbox.put(sender.platform, DEPLOYMENT, "alert", "a-0001", ALERT)
    if "counters" in items:
        sender.outbox.put(sender.platform, DEPLOYMENT, "counters", "c-0001", COUNTERS)

    assert not sender.send_due()  # not acknowledged: kept, retried after a back-off
    assert sender.pending() == len(items) and not sender.sent
    (unreachable,) = [e for e in events if e["type"] == "unreachable"]
    assert "is not its receipt" in unreachable["error"]
    assert unreachable["pending"] == len(items)

    assert sender.send_due()  # the platform's receipt: delivered, and only now
    assert sender.pending() == 0 and sum(sender.sent.values()) == len(items)
    sender.outbox.close_and_remove_if_empty()


def test_a_batch_receipt_must_name_every_item_in_order(tmp_path: Path) -> None:
    def short(request: httpx.Request) -> httpx.Response:
        answer = receipt_json(request.url.path, json.loads(request.content))
        answer["alerts"] = answer["alerts"][:1]  # one alert of two
        return httpx.Response(201, json=answer)

    def swapped(request: httpx.Request) -> httpx.Response:
        answer = receipt_json(request.url.path, json.loads(request.content))
        answer["alerts"].reverse()
        return httpx.Response(201, json=answer)

    sender, events = _sender(tmp_path, [short, swapped])
    for uid in ("a-1", "a-2"):
        sender.outbox.put(sender.platform, DEPLOYMENT, "alert", uid, {"alert_uid": uid})
    assert not sender.send_due() and not sender.send_due()
    assert sender.pending() == 2 and not sender.sent
    assert sender.send_due() and sender.sent == {"alert": 2}
    sender.outbox.close_and_remove_if_empty()
