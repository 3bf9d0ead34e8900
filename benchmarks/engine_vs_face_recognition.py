"""Benchmark: `openlfr watch` against the loop people write with `face_recognition`.

Both run on the same clip, in this one process tree:

(a) baseline: for every frame, `face_recognition.face_locations` at full size (HOG,
    upsample 1, its default) and `face_encodings` for every face found, then a distance
    check against the watchlist; one process, so one core.
(b) openlfr: `openlfr watch CLIP --watchlist W --json` in a subprocess (both cores), with
    its default networks (UltraLight detector, MobileFaceNet descriptor) and threshold.

Prints frames per second of each (and of openlfr including its start-up), the ratio,
whether both raised alerts for the same identities, and ms per descriptor.

Needs the baseline library next to dlib-bin (it would pull in a source build of dlib):
    python3 -m pip install pillow && python3 -m pip install --no-deps face_recognition
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import openlfr
from openlfr.recognition import DEFAULT_THRESHOLD, FaceAnalyzer, Watchlist, build_watchlist
from openlfr.recognition.sources import VideoFileSource

SAMPLE = Path(openlfr.__file__).parent / "sample_data" / "faces"


def baseline_loop(
    clip: Path, watchlist: Watchlist, threshold: float
) -> tuple[float, set[str], int]:
    """The usual face_recognition loop; returns (fps, identities alerted, descriptors)."""
    import face_recognition

    known = np.concatenate([s.descriptors for s in watchlist.subjects])
    owners = [s.ref for s in watchlist.subjects for _ in s.images]
    max_distance = 1.0 - threshold  # the same decision rule as openlfr's score threshold
    capture = cv2.VideoCapture(str(clip))
    frames = descriptors = 0
    alerted: set[str] = set()
    started = time.perf_counter()
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        locations = face_recognition.face_locations(rgb)
        for encoding in face_recognition.face_encodings(rgb, locations):
            descriptors += 1
            distances = face_recognition.face_distance(known, encoding)
            best = int(np.argmin(distances))
            if distances[best] <= max_distance:
                alerted.add(owners[best])
        frames += 1
    elapsed = time.perf_counter() - started
    capture.release()
    return frames / elapsed, alerted, descriptors


def openlfr_watch(
    clip: Path,
    watchlist_file: Path,
    threshold: float = DEFAULT_THRESHOLD,
    backend: str = "auto",
    detector: str = "ultralight",
) -> tuple[float, float, set[str], dict]:
    """Run the CLI; returns (engine fps, fps with start-up, identities, summary)."""
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "openlfr",
            "watch",
            str(clip),
            "--watchlist",
            str(watchlist_file),
            "--threshold",
            str(threshold),
            "--backend",
            backend,
            "--detector",
            detector,
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    summary = lines[-1]
    alerted = {line["subject"] for line in lines if line["type"] == "alert"}
    return summary["fps"], summary["frames_processed"] / wall, alerted, summary


def ms_per_descriptor(analyzer: FaceAnalyzer, clip: Path, count: int = 30) -> float:
    chips = []
    for frame in VideoFileSource(clip):
        chips += [
            f.chip for f in analyzer.find_faces(frame.image, min_face_px=64, max_px=1280).faces
        ]
        if len(chips) >= count:
            break
    timings = []
    for chip in chips:
        started = time.perf_counter()
        analyzer.describe([chip])
        timings.append(time.perf_counter() - started)
    return 1000 * statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clip", type=Path, default=SAMPLE / "video" / "short_hamilton_clip.mp4")
    parser.add_argument(
        "--subjects",
        type=Path,
        default=SAMPLE / "identities",
        help="folder of subject folders to enrol as the watchlist",
    )
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    args = parser.parse_args()

    # The baseline compares dlib descriptors (its own); openlfr watches with its default
    # networks and a watchlist built by them.
    dlib_watchlist, _ = build_watchlist(
        args.subjects, FaceAnalyzer(detector="hog", descriptor="dlib"), workers=2)
    watchlist, _ = build_watchlist(args.subjects, FaceAnalyzer(), workers=2)
    with tempfile.TemporaryDirectory() as tmp:
        watchlist_file = Path(tmp) / "watchlist.json"
        watchlist.save(watchlist_file)
        print(
            f"clip {args.clip.name}; watchlist {len(watchlist.subjects)} subjects / "
            f"{watchlist.image_count} images; threshold {args.threshold}"
        )
        base_fps, base_ids, base_desc = baseline_loop(args.clip, dlib_watchlist, 0.5)
        print(
            f"(a) face_recognition loop, 1 process : {base_fps:6.1f} fps, {base_desc} descriptors, "
            f"alerts for {sorted(base_ids)}"
        )
        ours_fps, ours_wall_fps, ours_ids, summary = openlfr_watch(
            args.clip, watchlist_file, args.threshold
        )
        print(
            f"(b) openlfr watch, 2 workers        : {ours_fps:6.1f} fps "
            f"({ours_wall_fps:.1f} fps counting start-up), {summary['descriptors']} descriptors, "
            f"alerts for {sorted(ours_ids)}"
        )
    clip_fps = cv2.VideoCapture(str(args.clip)).get(cv2.CAP_PROP_FPS)
    print(
        f"ratio (b)/(a)                       : {ours_fps / base_fps:6.2f}x "
        f"(with start-up {ours_wall_fps / base_fps:.2f}x); clip is {clip_fps:.2f} fps, so "
        f"openlfr runs at {ours_fps / clip_fps:.2f}x real time"
    )
    print(f"same identities alerted             : {base_ids == ours_ids}")
    for label, analyzer in (
        ("dlib on dlib", FaceAnalyzer(backend="dlib", detector="hog", descriptor="dlib")),
        ("dlib on onnx", FaceAnalyzer(backend="onnx", detector="hog", descriptor="dlib")),
        ("w600k", FaceAnalyzer(descriptor="w600k")),
        ("mobilefacenet", FaceAnalyzer(descriptor="mobilefacenet")),
    ):
        ms = ms_per_descriptor(analyzer, args.clip)
        print(f"ms per descriptor, {label:13}: {ms:6.1f}")


if __name__ == "__main__":
    main()
