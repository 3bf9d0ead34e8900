"""Benchmark: building and searching the watchlist index at 10k, 100k and 1M entries.

Random unit 512-D descriptors (the default descriptor's shape), one image per subject.
Prints, per size: the index build time, and the time per probe of `identify` (the
engine's whole decision: similarities to every entry, the best subject, its standout and
score) for one probe at a time and in batches of 8 and 64, next to the baseline a plain
NumPy product with an argmax costs for the same batch (the least any search must do).

Run: python3 benchmarks/watchlist_index.py [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from openlfr.recognition.matcher import WatchlistIndex
from openlfr.recognition.watchlist import EnrolledImage, Subject, Watchlist

MODEL = "mobilefacenet_arcface_512:benchmark"


def unit_rows(rng: np.random.Generator, n: int, dim: int = 512) -> np.ndarray:
    rows = rng.standard_normal((n, dim), dtype=np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def best_of(seconds: list[float]) -> float:
    return min(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'entries':>9} {'build s':>8} | per probe, ms: "
          f"{'1':>7} {'8':>7} {'64':>7} {'256':>7} | plain product+argmax, ms: "
          f"{'1':>7} {'8':>7} {'64':>7} {'256':>7}")
    for size in (int(s) for s in args.sizes.split(",")):
        rows = unit_rows(rng, size)
        watchlist = Watchlist(MODEL, [
            Subject(f"s{i}", [EnrolledImage("photo.jpg", "", rows[i])]) for i in range(size)
        ])
        started = time.perf_counter()
        index = WatchlistIndex(watchlist)
        build = time.perf_counter() - started
        ours, plain = [], []
        for batch in (1, 8, 64, 256):
            probes = unit_rows(rng, batch)
            index.identify(probes)  # warm up
            timings = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                index.identify(probes)
                timings.append(time.perf_counter() - started)
            ours.append(1000 * best_of(timings) / batch)
            timings = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                (probes @ rows.T).argmax(axis=1)
                timings.append(time.perf_counter() - started)
            plain.append(1000 * best_of(timings) / batch)
        ours_text = " ".join(f"{v:>7.3f}" for v in ours)
        plain_text = " ".join(f"{v:>7.3f}" for v in plain)
        print(f"{size:>9,} {build:>8.2f} | {'':>15}{ours_text} | {'':>26}{plain_text}"
              f"  (x{ours[3] / plain[3]:.2f} at 256)")
        del watchlist, index, rows


if __name__ == "__main__":
    main()
