"""`openlfr fleet`: two cameras on a local Ray cluster against a real platform on loopback.
One camera's actor process is killed (SIGKILL) while an alert waits in its outbox: Ray
restarts the actor, the fleet restarts the camera's run, and the alert is delivered once.
Afterwards no face is anywhere in Ray's folders (object store, spill, logs) or /dev/shm."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from node_helpers import (
    CLIP,
    IDENTITIES,
    Gate,
    LivePlatform,
    NodeProcess,
    active_deployment,
    node_key,
    wait_until,
)
from platform_helpers import ok

from openlfr.fleet import Camera, FleetOptions, FleetSummary, run_fleet, start_ray
from openlfr.node import NodeConfig
from openlfr.recognition.analyzer import reference_model_id

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recognition.test_privacy import face_data_in  # noqa: E402

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

#: As in test_node_second_opinion.py: the engine alone doubts the performer's first track.
SECOND_OPINION_THRESHOLD = 0.75


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Path]:
    # Short: Ray's socket paths live under it (at most 107 characters).
    temp_dir = Path(tempfile.mkdtemp(prefix="olfr-ray-", dir="/tmp"))
    start_ray(None, temp_dir=temp_dir, num_cpus=2)
    try:
        yield temp_dir
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _alerts(live: LivePlatform, deployment_id: int) -> list[dict[str, Any]]:
    return list(ok(live.staff["operator"].get(f"/api/deployments/{deployment_id}/alerts")))


def _files(root: Path) -> list[Path]:
    return [Path(d) / n for d, _, names in os.walk(root) for n in names
            if not (Path(d) / n).is_symlink() and (Path(d) / n).is_file()]


def test_two_cameras_one_killed_lose_no_alert_and_leave_no_face(
        live: LivePlatform, open_gate: Gate, ray_cluster: Path, tmp_path: Path) -> None:
    d = active_deployment(live.staff, subjects=("lin_manuel_miranda", "obama"))
    key = node_key(live.platform, d.id, name="fleet")
    cameras = [Camera("cam-a", str(CLIP), d.reference, key),
               Camera("cam-b", str(CLIP), d.reference, key)]
    options = FleetOptions(NodeConfig(
        platform_url=live.url, api_key="", deployment="", source="",
        outbox_dir=tmp_path / "outbox", workers=1, backoff_start_s=0.2, backoff_max_s=0.5,
        counters_interval_s=2.0, poll_interval_s=1.0, flush_timeout_s=60,
        # cam-b may still be starting when the gate goes down: it waits (with back-off)
        # until the gate opens after cam-a's restart, however slow this machine.
        connect_timeout_s=300))
    events: list[dict[str, Any]] = []
    lock, restarted = threading.Lock(), threading.Event()

    def report(event: dict[str, Any]) -> None:
        with lock:
            events.append(event)
            if (event.get("camera") == "cam-a" and event.get("type") == "watching"
                    and not restarted.is_set()):
                open_gate.mode = "down"  # nothing is acknowledged until the restart
            if event.get("type") == "camera_restarted":
                restarted.set()

    def of(camera: str, kind: str) -> list[dict[str, Any]]:
        with lock:
            return [e for e in events if e.get("camera") == camera and e.get("type") == kind]

    result: list[FleetSummary] = []
    driver = threading.Thread(target=lambda: result.append(run_fleet(cameras, options, report)),
                              daemon=True)
    driver.start()
    wait_until(lambda: bool(of("cam-a", "alert")), timeout_s=180, what="cam-a's first alert")
    queued = of("cam-a", "alert")[0]["alert_uid"]
    (started,) = [e for e in events if e["type"] == "fleet_started"]
    os.kill(started["cameras"]["cam-a"], signal.SIGKILL)  # the actor's worker process
    assert restarted.wait(60), "Ray did not restart cam-a"
    open_gate.mode = None
    driver.join(timeout=300)
    assert not driver.is_alive(), "the fleet did not stop when the clips ended"
    (summary,) = result

    by_camera = {c.camera: c for c in summary.cameras}
    assert by_camera["cam-a"].restarts == 1 and by_camera["cam-b"].restarts == 0
    for camera in by_camera.values():
        assert camera.error is None and camera.summary is not None, camera
        assert camera.summary["stop_reason"] == "source_ended"
        assert camera.summary["pending"] == 0 and camera.summary["watchlist_dropped"]
    delivered = [a["alert_uid"] for a in _alerts(live, d.id)]
    assert delivered.count(queued) == 1  # queued before the kill, delivered once after
    for camera in ("cam-a", "cam-b"):
        raised = [e["alert_uid"] for e in of(camera, "alert")]
        assert raised and set(raised) <= set(delivered)
    assert sum(summary.batch_sizes.values()) > 0
    assert max(summary.batch_sizes) > 1, summary.batch_sizes  # batched across streams

    # No face anywhere Ray writes: its session folders (logs, object store, spill) and the
    # shared memory that holds the object store.
    found = []
    for path in [*_files(ray_cluster), *_files(Path("/dev/shm"))]:
        try:
            blob = path.read_bytes()
        except OSError:
            continue
        why = face_data_in(blob)
        if why:
            found.append(f"{path}: {why}")
    assert found == []


def test_the_command_stops_every_camera_on_sigterm(live: LivePlatform, open_gate: Gate,
                                                  tmp_path: Path) -> None:
    # As an operator runs it: its own local cluster, cameras replaying the clip until the
    # deployment ends, stopped by SIGTERM (what a service manager sends). The watchlist
    # decides with a second opinion: each camera's actor asks dlib's network itself (the
    # shared describers run only the engine's), and at this threshold the performer's
    # first alert is one the engine alone doubted (test_node_second_opinion.py).
    subjects = tuple(sorted(p.name for p in IDENTITIES.iterdir() if p.is_dir()))
    d = active_deployment(live.staff, subjects=subjects, threshold=SECOND_OPINION_THRESHOLD,
                          second_opinion=True)
    key = node_key(live.platform, d.id, name="fleet-cli")
    cameras = tmp_path / "cameras.toml"
    cameras.write_text("".join(
        f'[[camera]]\nname = "{name}"\nsource = "{CLIP}"\ndeployment = "{d.reference}"\n'
        f"loop = true\n\n" for name in ("north", "south")))
    fleet = NodeProcess(["--platform", live.url, "--cameras", str(cameras),
                         "--outbox", str(tmp_path / "outbox")], tmp_path / "home", key,
                        command=("fleet", "run"))
    for name in ("north", "south"):
        fleet.wait_for(lambda e, n=name: e.get("type") == "alert" and e["camera"] == n,
                       timeout_s=180, what=f"camera {name}'s first alert")
    fleet.proc.send_signal(signal.SIGTERM)
    code, _ = fleet.finish()
    assert code == 130, fleet.transcript()
    (summary,) = fleet.of_type("fleet_summary")
    assert {c["camera"] for c in summary["cameras"]} == {"north", "south"}
    for camera in summary["cameras"]:
        assert camera["summary"]["stop_reason"] == "interrupted"
        assert camera["summary"]["watchlist_dropped"]
    for name in ("north", "south"):
        (received,) = [e for e in fleet.of_type("watchlist") if e["camera"] == name]
        assert received["second_opinion"] == reference_model_id()
        first = next(e for e in fleet.of_type("alert") if e["camera"] == name)
        assert first["entry_id"] == d.entries["lin_manuel_miranda"]
        assert first["second_opinion"] is True, first  # lifted: the actor asked dlib
    assert not d.misnamed(fleet.of_type("alert"))
    lifted = [a for a in _alerts(live, d.id) if a["second_opinion"]]
    assert lifted and all(a["score"] >= SECOND_OPINION_THRESHOLD for a in lifted)


def test_joining_a_token_cluster_without_its_token_says_how_to_get_it(tmp_path: Path) -> None:
    """RAY_AUTH_MODE=token with no token on this machine: one FleetError naming where the
    token goes, not Ray's traceback (in a process of its own: Ray keeps its settings)."""
    import subprocess

    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")}
    env.update(RAY_AUTH_MODE="token", HOME=str(tmp_path))  # no ~/.ray/auth_token
    result = subprocess.run(
        [sys.executable, "-c", "from openlfr.fleet import FleetError, start_ray\n"
         "try:\n    start_ray('127.0.0.1:9')\nexcept FleetError as exc:\n    print(exc)"],
        capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "cannot join the Ray cluster at 127.0.0.1:9" in result.stdout
    assert "~/.ray/auth_token" in result.stdout and "RAY_AUTH_TOKEN" in result.stdout
