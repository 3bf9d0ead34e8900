"""When a node decides to stop, without a pipeline: the platform says the deployment may no
longer run; the published end passes by the node's own clock while the platform is
unreachable; a pipeline that notices nothing (a stalled camera) is interrupted; what
SIGTERM does in each phase of a run; and that an interrupted wait for a background thread
(the demo's server) still knows the thread runs."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from openlfr.interrupts import Background, sigterm_as_interrupt
from openlfr.node import NodeConfig, NodeRunner, PlatformClient
from openlfr.node import runner as runner_module
from openlfr.node.client import DeploymentStatus
from openlfr.node.outbox import Outbox
from openlfr.node.runner import NodeSummary, Sender

NOW = datetime.now(UTC)


def _status(may_run: bool = True, end_at: datetime | None = None) -> dict[str, Any]:
    return {"deployment_id": 7, "reference": "LFR-2026-0007",
            "status": "active" if may_run else "completed",
            "start_at": (NOW - timedelta(hours=1)).isoformat(),
            "end_at": (end_at or NOW + timedelta(hours=3)).isoformat(), "threshold": 0.6,
            "may_run": may_run,
            "reason": None if may_run else "deployment LFR-2026-0007 is 'completed'",
            "late_delivery_until": None}


def _runner(tmp_path: Path, handler: Any) -> NodeRunner:
    config = NodeConfig(platform_url="http://platform.test", api_key="olfr_test",
                        deployment="LFR-2026-0007", source="unused", outbox_dir=tmp_path,
                        poll_interval_s=0.05)
    runner = NodeRunner(config, lambda event: None)
    transport = httpx.MockTransport(handler)
    runner._client = lambda: PlatformClient(  # type: ignore[method-assign]
        "http://platform.test", "olfr_test", transport=transport)
    return runner


def _poll_until_stopped(runner: NodeRunner, status: DeploymentStatus) -> None:
    poller = threading.Thread(target=runner._poll, args=(status,), daemon=True)
    poller.start()
    assert runner._stop_requested.wait(10)
    runner._stop_noticed.set()  # the pipeline noticed: no interrupt needed
    poller.join(timeout=10)
    assert not poller.is_alive()


def test_stops_when_the_platform_says_the_deployment_may_not_run(tmp_path: Path) -> None:
    answers = iter([_status(), _status(), _status(may_run=False)])
    runner = _runner(tmp_path, lambda request: httpx.Response(200, json=next(answers)))
    _poll_until_stopped(runner, DeploymentStatus.from_json(_status()))
    assert runner._stop_reason == "deployment_ended"
    assert runner._stop_detail == "deployment LFR-2026-0007 is 'completed'"


def test_stops_at_the_published_end_even_when_the_platform_is_unreachable(
        tmp_path: Path) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    runner = _runner(tmp_path, down)
    ended = DeploymentStatus.from_json(_status(end_at=NOW - timedelta(seconds=1)))
    _poll_until_stopped(runner, ended)
    assert runner._stop_reason == "deployment_ended"
    assert runner._stop_detail is not None and "published end" in runner._stop_detail


def test_a_pipeline_that_notices_nothing_is_interrupted(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner_module, "STOP_GRACE_S", 0.3)
    runner = _runner(tmp_path, lambda request: httpx.Response(200, json=_status(False)))
    poller = threading.Thread(target=runner._poll,
                              args=(DeploymentStatus.from_json(_status()),), daemon=True)
    # What a stalled pipeline receives; through SIGTERM's handler, so that it works where
    # SIGINT is ignored (a node started in the background by a script).
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    runner._safe_stop = True  # as inside the pipeline: the watchdog still interrupts
    try:
        with sigterm_as_interrupt(runner._ask_to_stop), pytest.raises(KeyboardInterrupt):
            poller.start()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        signal.signal(signal.SIGINT, previous)
    poller.join(timeout=10)
    assert runner._stop_reason == "deployment_ended"


def _signal_self_and_wait(seconds: float = 2.0) -> None:
    """SIGTERM to this process; the handler runs in the main thread (this one) at once."""
    os.kill(os.getpid(), signal.SIGTERM)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)


def test_in_the_pipeline_the_first_sigterm_asks_and_the_second_interrupts(
        tmp_path: Path) -> None:
    # An exception raised by a handler can land inside a lock held by the pipeline's queues
    # and executors and leave the node hung: the first signal must only ask.
    runner = _runner(tmp_path, lambda request: httpx.Response(200, json=_status()))
    runner._safe_stop = True
    with sigterm_as_interrupt(runner._ask_to_stop):
        _signal_self_and_wait(0.2)
        assert runner._signalled.is_set() and runner._stop_requested.is_set()
        assert runner._stop_reason == "interrupted"
        with pytest.raises(KeyboardInterrupt):
            _signal_self_and_wait()


def test_before_the_pipeline_sigterm_interrupts_at_once(tmp_path: Path) -> None:
    runner = _runner(tmp_path, lambda request: httpx.Response(200, json=_status()))
    with sigterm_as_interrupt(runner._ask_to_stop), pytest.raises(KeyboardInterrupt):
        _signal_self_and_wait()
    assert not runner._signalled.is_set()


def test_an_interrupted_wait_for_a_background_thread_still_knows_it_runs() -> None:
    # Thread.join interrupted by a KeyboardInterrupt (Python 3.11) can mark a thread that
    # still runs as stopped: the demo then closed its platform under its server and could
    # crash on exit (SIGSEGV). The wait must stay truthful after the interrupt.
    release = threading.Event()
    worker = Background(lambda: release.wait(10), name="test-background").start()
    signaller = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM))
    with sigterm_as_interrupt(), pytest.raises(KeyboardInterrupt):
        signaller.start()
        worker.wait()
    assert worker.running() and not worker.wait(0.1)
    release.set()
    assert worker.wait(5) and not worker.running()


def test_sigterm_during_an_endless_final_flush_gives_up_and_keeps_the_items(
        tmp_path: Path) -> None:
    # The source ended while the platform is down: the node keeps flushing (no flush
    # timeout) until a SIGTERM, which must end the run, keeping what is pending.
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    runner = _runner(tmp_path, down)
    client = runner._client()
    outbox = Outbox.in_folder(tmp_path / "outbox", "olfr_test")
    sender = Sender(outbox, client, 7, lambda event: None, 0.05, 0.1)
    outbox.put(sender.platform, 7, "alert", "a-1", {"alert_uid": "a-1"})
    summary = NodeSummary(deployment="LFR-2026-0007", deployment_id=7, stop_reason="error")
    runner._safe_stop = True
    timer = threading.Timer(0.5, os.kill, args=(os.getpid(), signal.SIGTERM))
    started = time.monotonic()
    with sigterm_as_interrupt(runner._ask_to_stop):
        timer.start()
        runner._finish("source_ended", None, sender, summary)
    assert time.monotonic() - started < 10
    assert summary.stop_reason == "interrupted" and summary.watchlist_dropped
    assert sender.pending() == 1
    client.close()
    outbox.close_and_remove_if_empty()


def test_an_unexpected_failure_still_drops_the_watchlist_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk under the outbox fills, or a library fails, mid-run: the descriptors are
    overwritten on the way out all the same, and the platform's audit log hears of the
    drop (reason "error"); the failure is not swallowed."""
    reported: list[dict[str, Any]] = []
    released = {"descriptor_model": "m", "reference_model": None,
                "entries": [{"entry_id": 3, "category": "missing_person",
                             "descriptors": [[0.5] * 8]}]}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/watchlist"):
            return httpx.Response(200, json=released)
        if path.endswith("/watchlist-dropped"):
            reported.append(json.loads(request.content))
            return httpx.Response(201, json={})
        return httpx.Response(200, json=_status())

    kept: list[Any] = []

    class FailingWatcher:
        def __init__(self, watchlist: Any, config: Any, analyzer: Any) -> None:
            kept.append(watchlist)
            self.index = type("Index", (), {"clear": lambda self: None})()

        def run(self, source: Any, on_progress: Any) -> Any:
            raise RuntimeError("database or disk is full")
            yield  # a generator, as the engine's

    monkeypatch.setattr(runner_module, "Watcher", FailingWatcher)
    monkeypatch.setattr(runner_module, "ClockedSource", lambda *a, **k: type(
        "Source", (), {"name": "cam", "close": lambda self: None})())
    runner = _runner(tmp_path, handler)
    runner._make_analyzer = lambda model: object()
    with pytest.raises(RuntimeError, match="disk is full"):
        runner.run()
    [watchlist] = kept
    assert watchlist.subjects == []  # overwritten and dropped
    assert [r["reason"] for r in reported] == ["error"]
