"""The fleet's cameras file: what it accepts, and a clear line for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from openlfr.cli import app
from openlfr.cli.fleet_command import fleet_event_text
from openlfr.fleet import Camera, CamerasError, FleetOptions, load_cameras
from openlfr.fleet.runner import camera_config
from openlfr.node import NodeConfig


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cameras.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_cameras_get_their_deployment_key_or_the_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAN2_KEY", "olfr_van2")
    path = _file(tmp_path, """
[[camera]]
name = "van-1"
source = "rtsp://10.0.0.5/live"
deployment = "LFR-2026-0007"

[[camera]]
name = "van-2"
source = 0
deployment = 12
api_key_env = "VAN2_KEY"
loop = true
""")
    assert load_cameras(path, "olfr_default") == [
        Camera("van-1", "rtsp://10.0.0.5/live", "LFR-2026-0007", "olfr_default"),
        Camera("van-2", "0", "12", "olfr_van2", loop=True)]


def test_a_camera_may_have_its_own_detection_settings(tmp_path: Path) -> None:
    path = _file(tmp_path, """
[[camera]]
name = "far-street"
source = "rtsp://10.0.0.5/live"
deployment = "LFR-2026-0007"
min_face_px = 24
full_detection_every_small = 2
shed_when_behind = 1

[[camera]]
name = "doorway"
source = "rtsp://10.0.0.6/live"
deployment = "LFR-2026-0007"
""")
    far, doorway = load_cameras(path, "olfr_default")
    assert far.detection == (("full_detection_every_small", 2), ("min_face_px", 24),
                             ("shed_when_behind", 1))
    fleet = FleetOptions(NodeConfig(platform_url="http://platform.test", api_key="",
                                    deployment="", source="", min_face_px=40,
                                    detect_max_px=960, full_detection_every=4))
    own = camera_config(fleet, far)
    assert (own.min_face_px, own.detect_max_px, own.full_detection_every,
            own.full_detection_every_small, own.shed_when_behind) == (24, 960, 4, 2, 1)
    assert (own.camera, own.source, own.api_key) == (
        "far-street", "rtsp://10.0.0.5/live", "olfr_default")
    shared = camera_config(fleet, doorway)  # the fleet's options
    assert (shared.min_face_px, shared.detect_max_px, shared.full_detection_every,
            shared.full_detection_every_small, shared.shed_when_behind) == (40, 960, 4, 1, 2)
    engine = own.engine_config(0.6, second_opinion=False)  # the threshold: the deployment's
    assert (engine.min_face_px, engine.full_detection_every_small, engine.threshold) == (
        24, 2, 0.6)


@pytest.mark.parametrize(("text", "message"), [
    ("", "lists no cameras"),
    ("[[camera]]\nname = 'a'\nsource = 'x'\n", "'deployment' is required"),
    ("[[camera]]\nname = 'a b'\nsource = 'x'\ndeployment = 'D'\n", "must be 1-64 letters"),
    ("[[camera]]\nname = 'a'\nsource = 'x'\ndeployment = 'D'\nspeed = 2\n",
     "unknown keys speed"),
    ("[[camera]]\nname = 'a'\nsource = 'x'\ndeployment = 'D'\nloop = 'yes'\n",
     "'loop' must be true or false"),
    ("[[camera]]\nname = 'a'\nsource = 'x'\ndeployment = 'D'\napi_key_env = 'NOPE_KEY'\n",
     r"NOPE_KEY \(its API key\) is not set"),
    ("[[camera]]\nname = 'a'\nsource = 'x'\ndeployment = 'D'\n"
     "[[camera]]\nname = 'a'\nsource = 'y'\ndeployment = 'D'\n", "must be unique: a"),
    ("[camera\n", "is not valid TOML"),
    ("[[camera]]\nname = 'a'\nsource = 'x'\ndeployment = 'D'\nmin_face_px = 'big'\n",
     "camera 'a': 'min_face_px' must be a whole number"),
    ("[[camera]]\nname = 'a'\nsource = 'x'\ndeployment = 'D'\nfull_detection_every = true\n",
     "'full_detection_every' must be a whole number"),
    ("[[camera]]\nname = 'a'\nsource = 'x'\ndeployment = 'D'\ndetect_max_px = 10\n",
     "camera 'a': detect_max_px must be at least 64, got 10"),
    ("[[camera]]\nname = 'a'\nsource = 'x'\ndeployment = 'D'\nshed_when_behind = 0\n",
     "shed_when_behind must be at least 1"),
    ("[[camera]]\nname = 'a'\nsource = 'x'\ndeployment = 'D'\nthreshold = 0.3\n",
     "unknown keys threshold"),
])
def test_mistakes_in_the_cameras_file_are_named(tmp_path: Path, text: str,
                                                message: str) -> None:
    with pytest.raises(CamerasError, match=message):
        load_cameras(_file(tmp_path, text), "olfr_default")


def test_a_camera_without_a_key_is_refused(tmp_path: Path) -> None:
    path = _file(tmp_path, "[[camera]]\nname = 'a'\nsource = 'x'\ndeployment = 'D'\n")
    with pytest.raises(CamerasError, match="has no API key: pass --api-key"):
        load_cameras(path, None)


def test_the_command_says_what_is_wrong_before_starting_anything(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["fleet", "run", "--platform", "http://127.0.0.1:9",
                                      "--cameras", str(tmp_path / "missing.toml")])
    assert result.exit_code == 1
    assert "cannot read the cameras file" in result.output


def test_camera_events_are_printed_with_their_camera() -> None:
    assert fleet_event_text({"type": "watching", "camera": "van-1", "source": "clip.mp4"}) \
        == "[van-1] node: watching clip.mp4 as van-1"
    assert fleet_event_text({"type": "camera_restarted", "camera": "van-1", "restarts": 1}) \
        .startswith("warning: van-1: its actor died; Ray restarted it")


def test_a_camera_whose_outbox_set_items_aside_counts_as_failed() -> None:
    """Items the platform refused and the outbox quarantined are kept for a person to
    look at (``openlfr node outbox``): the fleet's run is not clean while they are."""
    from openlfr.fleet.runner import CameraResult, FleetSummary

    def result(name: str, **summary: object) -> CameraResult:
        return CameraResult(camera=name, summary={"stop_reason": "ended", "pending": 0,
                                                "quarantined": 0, **summary})

    fleet = FleetSummary(cameras=[result("clean"), result("set-aside", quarantined=2),
                                  result("behind", pending=3)])
    assert [c.camera for c in fleet.failed] == ["set-aside", "behind"]


def test_a_stopped_camera_says_how_many_items_were_set_aside() -> None:
    stopped = {"type": "camera_stopped", "camera": "van-1", "stop_reason": "source_ended",
               "alerts_raised": 3, "sent": {"alert": 1}, "pending": 0, "quarantined": 0}
    assert fleet_event_text(stopped) == (
        "[van-1] stopped (source ended); alerts raised 3, sent 1; 0 pending")
    assert fleet_event_text({**stopped, "quarantined": 2}) == (
        "[van-1] stopped (source ended); alerts raised 3, sent 1; 0 pending, 2 refused by "
        "the platform and kept aside (openlfr node outbox)")
