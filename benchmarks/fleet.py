"""Benchmark: the fleet on a local Ray cluster, N cameras of the bundled sample clip.

For N = 1, 2, 4, 8 cameras (each replaying ``short_hamilton_clip.mp4`` as fast as it can, as
a camera whose frames never wait), all bound to one active deployment of a platform served
on loopback (SQLite), for --seconds each:

* frames/s per camera and in total (frames the pipeline processed, from each camera's
  "watching" to its "stopping" event as the driver saw them: +-0.5 s of relay);
  against the clip's own frame rate, and against N = 1 (the baseline of the same run);
* the describers' batch sizes (faces per batch; batches are formed across cameras);
* frame-to-platform latency per alert: from the frame the node read (``occurred_at``) to
  the platform's ``received_at``, p50/p95 over all cameras;
* the descriptor network's cost per face one at a time against in a batch of 16, measured
  here on the sample chips (why the describers batch).

    python3 benchmarks/fleet.py [--cameras 1,2,4,8] [--seconds 30] [--describers 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import sqlalchemy as sa
import uvicorn

import openlfr
from openlfr.demo import story
from openlfr.fleet import Camera, FleetOptions, run_fleet, start_ray
from openlfr.node import NodeConfig
from openlfr.recognition import FaceAnalyzer
from openlfr.recognition.backends import DEFAULT_DESCRIPTOR, load_describer
from openlfr.recognition.images import read_image
from openlfr.services.platform import Platform
from openlfr.settings import Settings
from openlfr.storage import models as m
from openlfr.web import create_app
from openlfr.web.server import PlatformServer

SAMPLE = Path(openlfr.__file__).parent / "sample_data" / "faces"
CLIP = SAMPLE / "video" / "short_hamilton_clip.mp4"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    return float(np.percentile(values, q))


def per_face_cost() -> tuple[float, float]:
    """Milliseconds per face: one at a time, and in batches of 16 (the sample chips)."""
    analyzer = FaceAnalyzer()
    chips = []
    for photo in sorted((SAMPLE / "identities").rglob("*.jpg")):
        chips += [f.chip for f in analyzer.find_faces(read_image(photo), min_face_px=32,
                                                      max_px=1280).faces]
    chips = (chips * (64 // max(1, len(chips)) + 1))[:64]
    describer = load_describer("auto", DEFAULT_DESCRIPTOR, threads=1)
    describer.describe(chips[:16])  # warm up
    started = time.perf_counter()
    for chip in chips:
        describer.describe([chip])
    single = (time.perf_counter() - started) * 1000 / len(chips)
    started = time.perf_counter()
    for at in range(0, len(chips), 16):
        describer.describe(chips[at:at + 16])
    batched = (time.perf_counter() - started) * 1000 / len(chips)
    return single, batched


def serve(platform: Platform) -> tuple[str, PlatformServer, threading.Thread]:
    server = PlatformServer(uvicorn.Config(create_app(platform=platform), host="127.0.0.1",
                                           port=0, log_level="warning"), platform)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}", server, thread


def run_n(n: int, seconds: float, base: str, state: story.DemoState, outbox: Path,
          describers: int) -> dict[str, Any]:
    cameras = [Camera(f"n{n}-cam{i}", str(CLIP), state.reference, state.node_api_key,
                      loop=True) for i in range(1, n + 1)]
    options = FleetOptions(NodeConfig(platform_url=base, api_key="", deployment="", source="",
                                      outbox_dir=outbox, workers=1, counters_interval_s=5.0,
                                      flush_timeout_s=30), describers=describers)
    watching: dict[str, float] = {}
    stopping: dict[str, float] = {}
    stop = threading.Event()

    def report(event: dict[str, Any]) -> None:
        if event["type"] == "watching":
            watching[event["camera"]] = time.monotonic()
            if len(watching) == n:
                threading.Timer(seconds, stop.set).start()
        elif event["type"] == "stopping":
            stopping.setdefault(event["camera"], time.monotonic())
        elif event["type"] == "camera_failed":
            print(f"  {event['camera']} failed: {event['error']}", file=sys.stderr)

    summary = run_fleet(cameras, options, report, stop)
    fps = {}
    for result in summary.cameras:
        frames = (result.summary or {}).get("engine", {}) or {}
        span = stopping.get(result.camera, 0) - watching.get(result.camera, 0)
        fps[result.camera] = frames.get("frames_processed", 0) / span if span > 0 else 0.0
    return {"fps": fps, "batch_sizes": summary.batch_sizes,
            "cameras": [c.name for c in cameras]}


def latencies(platform: Platform, cameras: list[str]) -> list[float]:
    with platform.sessions() as session:
        rows = session.execute(sa.select(m.Alert.occurred_at, m.Alert.received_at)
                               .where(m.Alert.camera.in_(cameras))).all()
    return [(received - occurred).total_seconds() * 1000 for occurred, received in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", default="1,2,4,8",
                        help="camera counts to run, comma-separated (default 1,2,4,8)")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="seconds each fleet runs once every camera watches (default 30)")
    parser.add_argument("--describers", type=int, default=1,
                        help="describer actors (default 1)")
    args = parser.parse_args()
    counts = [int(n) for n in args.cameras.split(",")]
    capture = cv2.VideoCapture(str(CLIP))
    clip_fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    capture.release()
    print(f"cores: {os.cpu_count()}; clip: {CLIP.name} at {clip_fps:.1f} frames/s")
    single, batched = per_face_cost()
    print(f"descriptor cost per face: one at a time {single:.2f} ms, in batches of 16 "
          f"{batched:.2f} ms ({single / batched:.2f}x cheaper batched)")
    with tempfile.TemporaryDirectory(prefix="olfr-fleet-", dir="/tmp") as tmp:
        platform = Platform.open(Settings(data_dir=Path(tmp) / "platform", database_url=None))
        state = story.run_governance(platform, lambda line: None)
        story.run_watchlist_and_authorisation(platform, state, SAMPLE, lambda line: None)
        story.activate_now(platform, state, lambda line: None)
        base, server, thread = serve(platform)
        start_ray(None, temp_dir=Path(tmp) / "ray")
        print(f"\n{'cameras':>7} {'fps/camera (min-max)':>22} {'total fps':>10} "
              f"{'x N=1':>6} {'x clip':>7} {'mean batch':>10} {'max batch':>9} "
              f"{'latency p50':>12} {'p95':>8}")
        baseline = None
        for n in counts:
            result = run_n(n, args.seconds, base, state, Path(tmp) / "outbox", args.describers)
            fps = list(result["fps"].values())
            total = sum(fps)
            baseline = baseline or total
            sizes = result["batch_sizes"]
            faces = sum(k * v for k, v in sizes.items())
            mean_batch = faces / max(1, sum(sizes.values()))
            lat = latencies(platform, result["cameras"])
            lat_text = (f"{percentile(lat, 50):9.0f} ms {percentile(lat, 95):5.0f} ms"
                        if lat else f"{'no alerts':>21}")
            print(f"{n:>7} {statistics.mean(fps):8.1f} ({min(fps):5.1f}-{max(fps):5.1f}) "
                  f"{total:10.1f} {total / baseline:6.2f} {statistics.mean(fps) / clip_fps:7.2f} "
                  f"{mean_batch:10.2f} {max(sizes, default=0):9d} {lat_text}  "
                  f"(alerts: {len(lat)})", flush=True)
        import ray

        ray.shutdown()
        server.should_exit = True
        thread.join(timeout=15)
        platform.close()


if __name__ == "__main__":
    main()
