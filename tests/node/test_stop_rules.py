"""When a node decides to stop, without a pipeline: the platform says the deployment may no
longer run; the published end passes by the node's own clock while the platform is
unreachable; and a pipeline that notices nothing (a stalled camera) is interrupted."""

from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from openlfr.interrupts import sigterm_as_interrupt
from openlfr.node import NodeConfig, NodeRunner, PlatformClient
from openlfr.node import runner as runner_module
from openlfr.node.client import DeploymentStatus

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
    try:
        with sigterm_as_interrupt(), pytest.raises(KeyboardInterrupt):
            poller.start()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        signal.signal(signal.SIGINT, previous)
    poller.join(timeout=10)
    assert runner._stop_reason == "deployment_ended"
