"""Benchmark: dlib's face descriptor network vs the same weights on ONNX Runtime.

Prints, from one run on this machine:
* ms per descriptor, dlib vs ours, for one face and for a batch of 32, and the ratios;
* the network's multiply-accumulate count (from the built graph) and the GFLOP/s we reach,
  next to what a plain large float32 matmul reaches here (the machine's practical limit);
* the engine benchmark (`openlfr watch` on the sample clip) with each backend.

Run: python3 benchmarks/fast_networks.py [--threads 2] [--repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from engine_vs_face_recognition import openlfr_watch  # the benchmark script beside this one

import openlfr
from openlfr.recognition import FaceAnalyzer, build_watchlist
from openlfr.recognition.backends import DlibResNetDescriber, OnnxResNetDescriber
from openlfr.recognition.dlib_format import read_metric_network
from openlfr.recognition.images import read_image
from openlfr.recognition.models import model_files
from openlfr.recognition.onnx_networks import build_descriptor_graph

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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2, help="threads for our batched runs")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    analyzer = FaceAnalyzer(backend="dlib")
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

    clip = SAMPLE / "video" / "short_hamilton_clip.mp4"
    watchlist, _ = build_watchlist(SAMPLE / "identities", FaceAnalyzer(), workers=2)
    with tempfile.TemporaryDirectory() as tmp:
        watchlist_file = Path(tmp) / "watchlist.json"
        watchlist.save(watchlist_file)
        for backend in ("dlib", "onnx"):
            fps, _, _, summary = openlfr_watch(clip, watchlist_file, backend=backend)
            print(
                f"openlfr watch, {backend:4} backend: {fps:6.1f} fps, "
                f"{summary['descriptors']} descriptors, {summary['alerts']} alerts"
            )


if __name__ == "__main__":
    main()
