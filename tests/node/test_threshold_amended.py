"""A threshold the platform changes while the deployment runs (an amendment that raises it
keeps the deployment active) is the one the running engine decides with from then on,
and the node says so."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from openlfr.cli.fleet_command import fleet_event_text
from openlfr.cli.node_command import event_text
from openlfr.node import NodeConfig, NodeRunner, PlatformClient
from openlfr.node import runner as runner_module
from openlfr.node.client import DeploymentStatus, PlatformUnreachable
from openlfr.recognition import Watcher

NOW = datetime.now(UTC)
MODEL = "mobilefacenet_w600k_512"
RELEASED = {"descriptor_model": MODEL, "reference_model": None,
            "entries": [{"entry_id": 3, "category": "missing_person",
                         "descriptors": [[0.04] * 512]}]}


def _status(threshold: float) -> dict[str, Any]:
    return {"deployment_id": 7, "reference": "LFR-2026-0007", "status": "active",
            "start_at": (NOW - timedelta(hours=1)).isoformat(),
            "end_at": (NOW + timedelta(hours=3)).isoformat(), "threshold": threshold,
            "may_run": True, "reason": None, "late_delivery_until": None}


class _Analyzer:
    model_id = MODEL


#: The engine checks only the analyzer's model against the watchlist's; no frame is looked at.
_ANALYZER: Any = _Analyzer()


class _FramesWatcher(Watcher):
    """The real engine's decision settings, fed no frames: each "frame" only calls
    ``on_progress`` (where the node applies what the platform says) and notes the
    threshold the tracker decides with, until it has seen ``until`` or time runs out."""

    until: float = 0.0
    seen: list[float] = []

    def run(self, source: Any, on_progress: Any = None) -> Any:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.tracker.config.threshold != self.until:
            on_progress(self.counters)
            self.seen.append(self.tracker.config.threshold)
            time.sleep(0.01)
        for _ in range(5):  # a few frames more: applied once, and it stays
            on_progress(self.counters)
            self.seen.append(self.tracker.config.threshold)
        return
        yield  # a generator, as the engine's


@pytest.mark.parametrize("amended", [0.72, 0.55])
def test_the_platforms_new_threshold_is_applied_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, amended: float) -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/watchlist"):
            return httpx.Response(200, json=RELEASED)
        if path.endswith("/watchlist-dropped"):
            return httpx.Response(204)
        asked.append(path)  # the start's question, then the polls: amended since
        return httpx.Response(200, json=_status(0.6 if len(asked) == 1 else amended))

    monkeypatch.setattr(_FramesWatcher, "until", amended)
    monkeypatch.setattr(_FramesWatcher, "seen", [])
    monkeypatch.setattr(runner_module, "Watcher", _FramesWatcher)
    monkeypatch.setattr(runner_module, "ClockedSource", lambda *a, **k: type(
        "Source", (), {"name": "cam", "close": lambda self: None})())
    events: list[dict[str, Any]] = []
    config = NodeConfig(platform_url="http://platform.test", api_key="olfr_test",
                        deployment="7", source="unused", outbox_dir=tmp_path,
                        poll_interval_s=0.05)
    runner = NodeRunner(config, events.append, make_analyzer=lambda model: _ANALYZER)
    transport = httpx.MockTransport(handler)
    runner._client = lambda: PlatformClient(  # type: ignore[method-assign]
        "http://platform.test", "olfr_test", transport=transport)

    summary = runner.run()

    assert summary.stop_reason == "source_ended"
    seen = _FramesWatcher.seen
    assert seen[0] == 0.6 and seen[-6:] == [amended] * 6  # decided with it from then on
    (changed,) = [e for e in events if e["type"] == "threshold_changed"]
    assert changed == {"type": "threshold_changed", "threshold": amended, "previous": 0.6}
    assert event_text(changed) == (
        f"node: the platform changed the deployment's threshold from 0.60 to {amended:.2f}; "
        "deciding with it now")
    assert fleet_event_text({**changed, "camera": "van-1"}) == f"[van-1] {event_text(changed)}"


@pytest.mark.parametrize("threshold", [7.0, -0.1, float("nan")])
def test_a_status_whose_threshold_is_no_score_is_not_the_platforms(threshold: float) -> None:
    """Retried as another service's answer, never applied to the engine."""
    with pytest.raises(PlatformUnreachable, match="not a deployment's status"):
        DeploymentStatus.from_json(_status(threshold))
