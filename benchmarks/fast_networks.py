"""Benchmark: dlib's face descriptor network vs the same weights on ONNX Runtime.

Prints, from one run on this machine:
* ms per descriptor, dlib vs ours, for one face and for a batch of 32, and the ratios;
* the network's multiply-accumulate count (from the built graph) and the GFLOP/s we reach,
  next to what a plain large float32 matmul reaches here (the machine's practical limit);
* dlib's CNN face detector vs ours on a 480p and a 1080p frame, and what it costs;
* faces found by the HOG and the CNN detector on the photos and the clip;
* the engine benchmark (`openlfr watch` on the sample clip) with each backend.

Run: python3 benchmarks/fast_networks.py [--threads 2] [--repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from engine_vs_face_recognition import openlfr_watch  # the benchmark script beside this one

import openlfr
from openlfr.recognition import FaceAnalyzer, build_watchlist
from openlfr.recognition.backends import DlibCnnDetector, DlibResNetDescriber, OnnxResNetDescriber
from openlfr.recognition.cnn_detector import MmodFaceDetector
from openlfr.recognition.dlib_format import read_metric_network, read_mmod_network
from openlfr.recognition.images import is_image_file, read_image
from openlfr.recognition.models import model_files
from openlfr.recognition.onnx_networks import build_descriptor_graph, build_detector_graph
from openlfr.recognition.sources import VideoFileSource

SAMPLE = Path(openlfr.__file__).parent / "sample_data" / "faces"


def median_ms(call, repeats: int) -> float:  # type: ignore[no-untyped-def]
    call()  # warm-up
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return 1000 * statistics.median(timings)


def matmul_gflops(threads: int, size: int = 2048) -> float:
    """A plain float32 matmul through NumPy's BLAS: the practical peak for dense math."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # without it the BLAS picks its own thread count
        threadpool_limits = None  # noqa: N806
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((size, size), dtype=np.float32)
    if threadpool_limits is not None:
        with threadpool_limits(threads):
            ms = median_ms(lambda: a @ b, 5)
    else:
        ms = median_ms(lambda: a @ b, 5)
    return 2 * size**3 / (ms / 1000) / 1e9


def detector_figures(threads: int) -> None:
    """dlib's CNN detector vs ours on a 480p and a 1080p frame (same picture, resized)."""
    photo = read_image(SAMPLE / "groups" / "two_people.jpg")
    ours = MmodFaceDetector(threads=threads)
    theirs = DlibCnnDetector()
    _, _, layers = read_mmod_network(model_files().detector_mmod)
    for width, height in ((640, 480), (1920, 1080)):
        frame = np.ascontiguousarray(cv2.resize(photo, (width, height)))
        packed, _ = ours.pyramid(frame)
        _, macs = build_detector_graph(layers, packed.shape[1:])
        dlib_ms = median_ms(lambda f=frame: theirs.detect(f), 1)
        ours_ms = median_ms(lambda f=frame: ours.detect(f), 5)
        same = len(theirs.detect(frame)) == len(ours.detect(frame))
        print(
            f"CNN detector {height}p: dlib {dlib_ms:8.0f} ms, ours {ours_ms:6.0f} ms "
            f"({dlib_ms / ours_ms:5.1f}x); {macs / 1e9:5.1f} GMAC over the tiled pyramid "
            f"({2 * macs / (ours_ms / 1000) / 1e9:5.1f} GFLOP/s); same face count: {same}"
        )


def hog_vs_cnn() -> None:
    """Faces each detector finds on the photos (long side 1024 px) and the clip."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
    root = shared if shared.is_dir() else SAMPLE
    photos = sorted(p for p in root.rglob("*") if is_image_file(p))
    analyzers = {name: FaceAnalyzer(detector=name) for name in ("ultralight", "hog", "cnn")}
    for name, analyzer in analyzers.items():
        faces = found_in = 0
        for photo in photos:
            n = len(analyzer.find_faces(read_image(photo), min_face_px=40, max_px=1024).faces)
            faces += n
            found_in += n > 0
        frames_with_face = clip_faces = 0
        for frame in VideoFileSource(SAMPLE / "video" / "short_hamilton_clip.mp4"):
            n = len(analyzer.find_faces(frame.image, min_face_px=64, max_px=1280).faces)
            clip_faces += n
            frames_with_face += n > 0
        print(
            f"{name}: {faces} faces in {found_in} of {len(photos)} photos; clip: faces in "
            f"{frames_with_face} of 275 frames, {clip_faces} in all"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2, help="threads for our batched runs")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    analyzer = FaceAnalyzer(backend="dlib", detector="hog", descriptor="dlib")
    image = read_image(SAMPLE / "groups" / "two_people.jpg")
    chip = analyzer.find_faces(image, min_face_px=40, max_px=1600).faces[0].chip
    batch = [chip] * 32
    dlib_net = DlibResNetDescriber()
    ours_1 = OnnxResNetDescriber(threads=1)
    ours_n = OnnxResNetDescriber(threads=args.threads)
    _, macs = build_descriptor_graph(*read_metric_network(model_files().descriptor_resnet))

    rows = [
        ("dlib, 1 face", median_ms(lambda: dlib_net.describe([chip]), args.repeats), 1),
        ("dlib, batch of 32", median_ms(lambda: dlib_net.describe(batch), 3), 32),
        ("ours, 1 face, 1 thread", median_ms(lambda: ours_1.describe([chip]), args.repeats), 1),
        ("ours, batch of 32, 1 thread", median_ms(lambda: ours_1.describe(batch), 5), 32),
        (
            f"ours, batch of 32, {args.threads} threads",
            median_ms(lambda: ours_n.describe(batch), 5),
            32,
        ),
    ]
    print(f"descriptor network: {macs / 1e9:.2f} GMAC per face ({2 * macs / 1e9:.2f} GFLOP)")
    print(f"{'':34} {'ms/face':>9} {'GFLOP/s':>9}")
    per_face = {}
    for name, ms, count in rows:
        per_face[name] = ms / count
        print(f"{name:34} {ms / count:9.2f} {2 * macs / (ms / count / 1000) / 1e9:9.1f}")
    single = per_face["dlib, 1 face"] / per_face["ours, 1 face, 1 thread"]
    print(f"ratio, 1 face (dlib / ours 1 thread)      : {single:6.1f}x")
    best_batch = min(per_face[name] for name, _, count in rows[3:])
    print(
        f"ratio, batch of 32 (dlib / ours, best)    : "
        f"{per_face['dlib, batch of 32'] / best_batch:6.1f}x"
    )
    for threads in (1, args.threads):
        gflops = matmul_gflops(threads)
        print(f"plain float32 matmul 2048^3, {threads} thread(s): {gflops:7.1f} GFLOP/s")

    detector_figures(args.threads)
    hog_vs_cnn()

    clip = SAMPLE / "video" / "short_hamilton_clip.mp4"
    # dlib's descriptor on both backends (the networks these figures are about)
    watchlist, _ = build_watchlist(
        SAMPLE / "identities", FaceAnalyzer(detector="hog", descriptor="dlib"), workers=2)
    with tempfile.TemporaryDirectory() as tmp:
        watchlist_file = Path(tmp) / "watchlist.json"
        watchlist.save(watchlist_file)
        for backend, detector in (("dlib", "hog"), ("onnx", "hog"), ("onnx", "cnn")):
            fps, _, _, summary = openlfr_watch(
                clip, watchlist_file, backend=backend, detector=detector
            )
            print(
                f"openlfr watch, {backend:4} backend, {detector} detector: {fps:6.1f} fps, "
                f"{summary['descriptors']} descriptors, {summary['alerts']} alerts"
            )


if __name__ == "__main__":
    main()
