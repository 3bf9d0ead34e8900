"""The node's outbox and sender without a platform: items persist until acknowledged,
survive a crash and a reopen, are overwritten when deleted; a damaged file is refused with
a clear message; the sender keeps what was not acknowledged and retries with back-off."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from receipts import receipt

from openlfr.node import Outbox, OutboxError, PlatformClient
from openlfr.node.outbox import OUTBOX_FILE_NAME
from openlfr.node.runner import Sender

PLATFORM = "http://platform.test"
KEY = "olfr_node_key_for_tests"


def _alert(uid: str, marker: str = "") -> dict[str, Any]:
    return {"alert_uid": uid, "score": 0.7, "entry_id": 3, "probe_crop_jpeg_b64": marker}


def test_items_persist_until_acknowledged_and_survive_reopen(tmp_path: Path) -> None:
    outbox = Outbox.in_folder(tmp_path / "box", KEY)
    outbox.put(PLATFORM, 7, "alert", "a-0001", _alert("a-0001"))
    outbox.put(PLATFORM, 7, "counters", "c-0001", {"batch_id": "c-0001", "faces_seen": 3})
    outbox.put(PLATFORM, 7, "alert", "a-0001", _alert("a-0001"))  # the same uid: once
    outbox.put(PLATFORM, 8, "alert", "a-0002", _alert("a-0002"))
    outbox.put("http://other.test", 7, "alert", "a-0003", _alert("a-0003"))
    outbox.close()

    reopened = Outbox.in_folder(tmp_path / "box", KEY)
    items = reopened.pending(PLATFORM, 7)
    assert [(i.kind, i.uid) for i in items] == [("alert", "a-0001"), ("counters", "c-0001")]
    assert items[0].payload == _alert("a-0001") and items[0].attempts == 0
    assert reopened.count() == 4 and reopened.count(PLATFORM, 7, "alert") == 1
    reopened.failed(items[0].id, "ConnectError: refused")
    reopened.ack(items[1].id)
    reopened.close()

    again = Outbox.in_folder(tmp_path / "box", KEY)
    (left,) = again.pending(PLATFORM, 7)
    assert (left.uid, left.attempts, left.last_error) == ("a-0001", 1, "ConnectError: refused")
    assert not again.close_and_remove_if_empty()  # items wait: the file stays
    assert (tmp_path / "box" / OUTBOX_FILE_NAME).exists()


def test_file_is_private_and_acknowledged_items_leave_no_trace(tmp_path: Path) -> None:
    outbox = Outbox.in_folder(tmp_path / "box", KEY)
    path = tmp_path / "box" / OUTBOX_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "box").stat().st_mode) == 0o700
    marker = "PROBE-CROP-BYTES-" + "Q" * 2000
    outbox.put(PLATFORM, 7, "alert", "a-0001", _alert("a-0001", marker))
    sealed = path.read_bytes()
    assert marker[:40].encode() not in sealed  # sealed while it waits
    (row,) = sqlite3.connect(path).execute("SELECT payload FROM outbox_items").fetchall()
    assert len(row[0]) > 2000 and "PROBE" not in row[0]
    assert outbox.pending(PLATFORM, 7)[0].payload["probe_crop_jpeg_b64"] == marker
    outbox.ack(outbox.pending(PLATFORM, 7)[0].id)
    assert row[0][:60].encode() not in path.read_bytes()  # overwritten, not just unlinked
    assert outbox.close_and_remove_if_empty()
    assert list((tmp_path / "box").iterdir()) == []


def test_items_sealed_with_another_key_are_refused_with_what_to_do(tmp_path: Path) -> None:
    outbox = Outbox.in_folder(tmp_path / "box", KEY)
    outbox.put(PLATFORM, 7, "alert", "a-0001", _alert("a-0001", "crop"))
    outbox.close()
    other_key = Outbox.in_folder(tmp_path / "box", "olfr_a_new_key")
    assert other_key.count(PLATFORM, 7) == 1  # still there, not sent, not lost
    with pytest.raises(OutboxError, match="sealed with another API key"):
        other_key.pending(PLATFORM, 7)
    other_key.close()
    assert Outbox.in_folder(tmp_path / "box", KEY).pending(PLATFORM, 7)[0].uid == "a-0001"


def test_an_item_is_on_disk_once_put_even_if_the_process_is_killed(tmp_path: Path) -> None:
    script = (
        "import os, signal, sys\n"
        "from openlfr.node import Outbox\n"
        "box = Outbox.in_folder(sys.argv[1], 'k')\n"
        "box.put('http://platform.test', 7, 'alert', 'a-killed-1', {'alert_uid': 'a-killed-1'})\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "box")], timeout=60)
    assert done.returncode == -9
    (item,) = Outbox.in_folder(tmp_path / "box", "k").pending(PLATFORM, 7)
    assert item.uid == "a-killed-1"


def test_a_damaged_or_foreign_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    (box / OUTBOX_FILE_NAME).write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(OutboxError) as damaged:
        Outbox.in_folder(box, KEY)
    message = str(damaged.value)
    assert str(box / OUTBOX_FILE_NAME) in message and "damaged" in message
    assert "move it aside" in message

    other = tmp_path / "other"
    other.mkdir()
    with sqlite3.connect(other / OUTBOX_FILE_NAME) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER)")
    with pytest.raises(OutboxError, match="not an openlfr node outbox"):
        Outbox.in_folder(other, KEY)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutboxError, match="cannot create the outbox folder"):
        Outbox.in_folder(tmp_path / "afile" / "box", KEY)


class FakePlatform:
    """Answers the node's posts with a scripted status per call."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.received: list[dict[str, Any]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        status = self.statuses.pop(0) if self.statuses else 201
        if status == 0:
            raise httpx.ConnectError("connection refused", request=request)
        if status < 300:
            body = json.loads(request.content)
            if request.url.path.endswith("/batch"):  # a backlog: the items in order
                self.received += body["alerts"] + body["counters"]
            else:
                self.received.append(body)
            return receipt(request, status)
        return httpx.Response(status, json={"detail": f"scripted {status}"})


def _sender(tmp_path: Path, fake: FakePlatform) -> tuple[Sender, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    client = PlatformClient(PLATFORM, "olfr_test", transport=httpx.MockTransport(fake.handler))
    outbox = Outbox.in_folder(tmp_path / "box", KEY)
    return Sender(outbox, client, 7, events.append, 0.01, 0.04), events


def test_sender_keeps_what_was_not_acknowledged_and_backs_off(tmp_path: Path) -> None:
    fake = FakePlatform(0, 503, 0, 201)  # the two items go in one batch request
    sender, events = _sender(tmp_path, fake)
    sender.outbox.put(sender.platform, 7, "alert", "a-0001", _alert("a-0001"))
    sender.outbox.put(sender.platform, 7, "counters", "c-0001",
                      {"batch_id": "c-0001", "faces_seen": 2})
    assert not sender.send_due()  # unreachable: nothing lost, nothing sent
    assert sender.pending() == 2
    assert sender.flush(timeout_s=5)
    assert [r.get("alert_uid") or r.get("batch_id") for r in fake.received] == ["a-0001",
                                                                                 "c-0001"]
    waits = [e["retry_in_s"] for e in events if e["type"] == "unreachable"]
    assert waits == [0.01, 0.02, 0.04]  # doubling, then reset by the first success
    assert sender.delay_s == 0.01 and sender.sent == {"alert": 1, "counters": 1}
    assert sender.pending() == 0


def test_sender_sets_aside_what_the_platform_refuses_for_good_and_goes_on(
        tmp_path: Path) -> None:
    # The batch of four is refused (409); sent one by one: 409, 422, 201, 401.
    fake = FakePlatform(409, 409, 422, 201, 401)
    sender, events = _sender(tmp_path, fake)
    sender.outbox.put(sender.platform, 7, "counters", "c-late",
                      {"batch_id": "c-late", "faces_seen": 5, "tracks": 1})
    sender.outbox.put(sender.platform, 7, "alert", "a-bad", _alert("a-bad"))
    sender.outbox.put(sender.platform, 7, "alert", "a-0001", _alert("a-0001"))
    sender.outbox.put(sender.platform, 7, "alert", "a-0002", _alert("a-0002"))
    assert not sender.flush(timeout_s=5)
    # 409 and 422: the platform will never take these items; they are kept aside, with the
    # status and the reason, counted as refused, and the items behind them go on.
    assert sender.refused == {"counters": 1, "alert": 1}
    assert sender.refused_counts["faces_seen"] == 5
    assert sender.ended is not None and "scripted 409" in sender.ended.detail
    assert [(q.uid, q.status_code, q.reason) for q in sender.outbox.quarantined()] == [
        ("c-late", 409, "scripted 409"), ("a-bad", 422, "scripted 422")]
    assert sender.sent == {"alert": 1}
    assert [r["alert_uid"] for r in fake.received] == ["a-0001"]
    # 401: about every item (the key), not this one: sending stops, the item waits.
    assert sender.fatal is not None and sender.fatal.status_code == 401
    assert [i.uid for i in sender.outbox.pending(sender.platform, 7)] == ["a-0002"]
    refused = [(e["uid"], e["status_code"]) for e in events if e["type"] == "refused"]
    assert refused == [("c-late", 409), ("a-bad", 422)]
    # Nothing refused is deleted: the file stays while they are in it.
    assert sender.outbox.count(state=None) == 3
    assert not sender.outbox.close_and_remove_if_empty()


def test_the_node_package_imports_no_platform_code() -> None:
    """An edge box talks to the platform only through its API."""
    code = ("import sys, openlfr.node, openlfr.node.runner\n"
            "print(','.join(sorted(m for m in sys.modules if m.startswith(("
            "'openlfr.storage', 'openlfr.services', 'openlfr.web', 'sqlalchemy', 'fastapi')))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
