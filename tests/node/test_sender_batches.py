"""The node's sender: a backlog goes to the platform in batch requests; a refused batch is
sent again item by item; a platform without the batch endpoint gets single items."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from receipts import receipt

from openlfr.node import Outbox, PlatformClient
from openlfr.node.runner import Sender

DEPLOYMENT = 7


def _sender(tmp_path: Path, handler: Any, items: int = 5) -> tuple[Sender, Outbox]:
    client = PlatformClient("http://platform.test", "olfr_test",
                            transport=httpx.MockTransport(handler))
    outbox = Outbox.in_folder(tmp_path / "outbox", "olfr_test")
    for n in range(items):
        kind = "alert" if n % 2 == 0 else "counters"
        key = "alert_uid" if kind == "alert" else "batch_id"
        outbox.put(client.api_root, DEPLOYMENT, kind, f"u-{n}", {"uid": f"u-{n}", key: f"u-{n}"})
    events: list[dict[str, Any]] = []
    return Sender(outbox, client, DEPLOYMENT, events.append, 0.01, 0.02), outbox


def test_a_backlog_goes_in_one_batch_request(tmp_path: Path) -> None:
    seen: list[tuple[str, Any]] = []

    def platform(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, json.loads(request.content)))
        return receipt(request)

    sender, outbox = _sender(tmp_path, platform)
    assert sender.send_due() and sender.pending() == 0
    ((path, body),) = seen
    assert path == f"/api/node/deployments/{DEPLOYMENT}/batch"
    assert [a["uid"] for a in body["alerts"]] == ["u-0", "u-2", "u-4"]
    assert [c["uid"] for c in body["counters"]] == ["u-1", "u-3"]
    assert dict(sender.sent) == {"alert": 3, "counters": 2}
    outbox.close_and_remove_if_empty()


def test_a_refused_batch_is_sent_item_by_item(tmp_path: Path) -> None:
    paths: list[str] = []

    def platform(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path.endswith("/batch"):
            return httpx.Response(409, json={"detail": "u-2 was recorded after the end"})
        if json.loads(request.content)["uid"] == "u-2":
            return httpx.Response(409, json={"detail": "recorded after the end"})
        return receipt(request)

    sender, outbox = _sender(tmp_path, platform)
    assert sender.send_due() and sender.pending() == 0
    assert paths[0].endswith("/batch") and len(paths) == 6
    assert sender.refused["alert"] == 1 and sum(sender.sent.values()) == 4
    outbox.close_and_remove_if_empty()


def test_an_older_platform_gets_single_items(tmp_path: Path) -> None:
    paths: list[str] = []

    def platform(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path.endswith("/batch"):
            return httpx.Response(404, json={"detail": "Not Found"})
        return receipt(request)

    sender, outbox = _sender(tmp_path, platform)
    assert sender.send_due() and sender.pending() == 0
    outbox.put(sender.platform, DEPLOYMENT, "alert", "u-9", {"uid": "u-9", "alert_uid": "u-9"})
    outbox.put(sender.platform, DEPLOYMENT, "alert", "u-10",
               {"uid": "u-10", "alert_uid": "u-10"})
    assert sender.send_due()
    assert sum(p.endswith("/batch") for p in paths) == 1  # asked once, then never again
    outbox.close_and_remove_if_empty()


def test_an_unreachable_platform_keeps_the_batch(tmp_path: Path) -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    sender, outbox = _sender(tmp_path, platform)
    assert not sender.send_due()
    assert sender.pending() == 5 and not sender.sent
    outbox.close_and_remove_if_empty()
