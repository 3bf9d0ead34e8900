"""The detection settings a node or fleet is given reach the engine it runs; the threshold
and the second opinion stay the deployment's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import openlfr.fleet
from openlfr.cli import app, node_command
from openlfr.fleet import FleetError
from openlfr.node import NodeConfig, NodeError
from openlfr.recognition import EngineConfig

SETTINGS = ["--min-face-px", "40", "--detect-max-px", "960", "--full-detection-every", "2",
            "--full-detection-every-small", "2", "--shed-when-behind", "3"]


def test_the_engine_gets_the_nodes_detection_settings_and_the_deployments_rule() -> None:
    node = NodeConfig(platform_url="http://platform.test", api_key="olfr_test",
                      deployment="LFR-2026-0007", source="clip.mp4", workers=3,
                      min_face_px=40, detect_max_px=960, full_detection_every=2,
                      full_detection_every_small=2, shed_when_behind=3)
    engine = node.engine_config(0.62, second_opinion=True)
    assert (engine.threshold, engine.second_opinion, engine.workers) == (0.62, True, 3)
    assert (engine.min_face_px, engine.detect_max_px) == (40, 960)
    assert (engine.full_detection_every, engine.full_detection_every_small) == (2, 2)
    assert engine.shed_when_behind == 3
    shipped = NodeConfig(platform_url="http://platform.test", api_key="olfr_test",
                         deployment="LFR-2026-0007", source="clip.mp4"
                         ).engine_config(0.6, second_opinion=False)
    assert shipped.full_detection_every == EngineConfig.full_detection_every
    assert shipped.full_detection_every_small == EngineConfig.full_detection_every_small == 1
    assert shipped.shed_when_behind == EngineConfig.shed_when_behind == 2


def test_node_run_passes_the_settings_on(monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[NodeConfig] = []

    class Runner:
        def __init__(self, config: NodeConfig, report: Any) -> None:
            given.append(config)

        def run(self) -> None:
            raise NodeError("stopped by the test")

    monkeypatch.setattr(node_command, "NodeRunner", Runner)
    result = CliRunner().invoke(app, [
        "node", "run", "--platform", "http://127.0.0.1:9", "--api-key", "olfr_test",
        "--deployment", "LFR-2026-0007", "--source", "clip.mp4", *SETTINGS])
    assert result.exit_code == 1 and "stopped by the test" in result.output
    (config,) = given
    assert (config.min_face_px, config.detect_max_px, config.full_detection_every,
            config.full_detection_every_small, config.shed_when_behind) == (40, 960, 2, 2, 3)
    refused = CliRunner().invoke(app, [
        "node", "run", "--platform", "http://127.0.0.1:9", "--api-key", "olfr_test",
        "--deployment", "LFR-2026-0007", "--source", "clip.mp4",
        "--full-detection-every-small", "0"])
    assert refused.exit_code == 2 and len(given) == 1


def test_fleet_run_passes_the_settings_to_every_camera(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[Any] = []

    def run_fleet(cameras: Any, options: Any, report: Any, stop: Any) -> None:
        given.append(options)
        raise FleetError("stopped by the test")

    monkeypatch.setattr(openlfr.fleet, "start_ray", lambda address: None)
    monkeypatch.setattr(openlfr.fleet, "run_fleet", run_fleet)
    cameras = tmp_path / "cameras.toml"
    cameras.write_text("[[camera]]\nname = 'van-1'\nsource = 'clip.mp4'\n"
                       "deployment = 'LFR-2026-0007'\n", encoding="utf-8")
    result = CliRunner().invoke(app, [
        "fleet", "run", "--platform", "http://127.0.0.1:9", "--api-key", "olfr_test",
        "--cameras", str(cameras), *SETTINGS])
    assert result.exit_code == 1 and "stopped by the test" in result.output
    (options,) = given
    node = options.node
    assert (node.min_face_px, node.detect_max_px, node.full_detection_every,
            node.full_detection_every_small, node.shed_when_behind) == (40, 960, 2, 2, 3)
