"""At start a node waits out a platform that does not answer, or answers 5xx, for the
deployment's status and for its watchlist alike (with back-off, up to connect_timeout_s); a
refusal (4xx) is final. A platform that restarts between the two calls must not cost a
camera its run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from openlfr.node import NodeConfig, NodeError, NodeRunner, PlatformClient

WATCHLIST_PATH = "/api/node/deployments/7/watchlist"


def _runner(tmp_path: Path, answers: list[httpx.Response | None],
            connect_timeout_s: float = 5.0) -> tuple[NodeRunner, list[dict[str, Any]],
                                                      list[str]]:
    """A runner whose platform gives ``answers`` in turn (None: no answer at all)."""
    events: list[dict[str, Any]] = []
    asked: list[str] = []
    config = NodeConfig(platform_url="http://platform.test", api_key="olfr_test",
                        deployment="LFR-2026-0007", source="unused", outbox_dir=tmp_path,
                        backoff_start_s=0.01, backoff_max_s=0.02,
                        connect_timeout_s=connect_timeout_s)
    runner = NodeRunner(config, events.append)
    pending = iter(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        answer = next(pending, answers[-1])
        if answer is None:
            raise httpx.ConnectError("connection refused", request=request)
        return answer

    runner._client = lambda: PlatformClient(  # type: ignore[method-assign]
        "http://platform.test", "olfr_test", transport=httpx.MockTransport(handler))
    return runner, events, asked


def _fetch(runner: NodeRunner) -> dict[str, Any]:
    client = runner._client()
    return runner._patiently(lambda: client.watchlist(7), "could not fetch the watchlist")


def test_the_watchlist_is_fetched_after_the_platform_comes_back(tmp_path: Path) -> None:
    released = {"subjects": []}
    runner, events, asked = _runner(tmp_path, [
        httpx.Response(503, text="restarting"), None,
        httpx.Response(200, json=released)])
    assert _fetch(runner) == released
    assert asked == [WATCHLIST_PATH] * 3
    waits = [e for e in events if e["type"] == "unreachable"]
    assert [w["retry_in_s"] for w in waits] == [0.01, 0.02]
    assert "503" in waits[0]["error"]


def test_a_refused_watchlist_is_not_asked_again(tmp_path: Path) -> None:
    runner, events, asked = _runner(tmp_path, [
        httpx.Response(403, json={"detail": "this key is revoked"})])
    with pytest.raises(NodeError, match="could not fetch the watchlist: this key is revoked"):
        _fetch(runner)
    assert asked == [WATCHLIST_PATH] and events == []


def test_a_platform_down_past_the_connect_timeout_is_an_error(tmp_path: Path) -> None:
    runner, events, asked = _runner(tmp_path, [httpx.Response(503, text="down")],
                                    connect_timeout_s=0.1)
    with pytest.raises(NodeError,
                       match="could not fetch the watchlist: the platform answered 503"):
        _fetch(runner)
    assert len(asked) >= 2 and len(events) == len(asked) - 1


def test_the_status_is_waited_for_in_the_same_way(tmp_path: Path) -> None:
    status = {"deployment_id": 7, "reference": "LFR-2026-0007", "status": "active",
              "start_at": "2026-12-05T10:00:00+00:00", "end_at": "2026-12-05T18:00:00+00:00",
              "threshold": 0.6, "may_run": True, "reason": None, "late_delivery_until": None}
    runner, events, asked = _runner(tmp_path, [None, httpx.Response(502),
                                               httpx.Response(200, json=status)])
    resolved = runner._resolve(runner._client())
    assert resolved.deployment_id == 7 and len(asked) == 3
    assert [e["type"] for e in events] == ["unreachable", "unreachable"]

    runner, _, _ = _runner(tmp_path, [None], connect_timeout_s=0.05)
    with pytest.raises(NodeError, match="cannot reach the platform at http://platform.test"):
        runner._resolve(runner._client())
