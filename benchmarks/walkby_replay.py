"""Replay a walk-by recording's track decisions offline, under other fusion settings.

``engine_walkby.py --threshold 1.0 --dump FILE`` records, for every run, the truth, the
watchlist and each track's described sightings (frame, quality, descriptor) in the order
the tracker received them; at threshold 1.0 no track alerts, so every track is described
to its end. This script feeds those sightings again through the engine's own tracker
(``FaceTracker.add_sighting``: the same memory and fusion code) and the engine's
``WatchlistIndex``, and prints TPIR and false alerts at each threshold, for the shipped
``fuse_best`` / ``track_memory`` and for the others asked for. The shipped row reproduces
the engine's own figures, which is the check that the replay is faithful; other rows show
what a setting would change without running the video again (seconds instead of minutes).

``--describe-less-below`` replays how often tracks are described: a track whose fused score
is under the value (once ``fuse_best`` views are fused) skips the recorded sightings that
come sooner after the last one it took than the tracker's own ``describe_every`` allows,
unless the face is clearly better (its ``better_face``); the row shows
the share of descriptions kept. Replay it from a dump made with the rule off
(``engine_walkby.py --describe-less-below 0 --threshold 1.0 --dump FILE``).

Run: python3 benchmarks/walkby_replay.py DUMP [--fuse-best 3,5,8] [--thresholds 0.45,0.5]
     [--describe-less-below 0.1,0.2]
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_walkby import Identified, Recording, sweep  # noqa: E402

from openlfr.recognition import EngineConfig  # noqa: E402
from openlfr.recognition.faces import Box  # noqa: E402
from openlfr.recognition.matcher import Identification, WatchlistIndex  # noqa: E402
from openlfr.recognition.tracker import FaceTracker, Sighting, Track  # noqa: E402

NO_BOX = Box(0, 0, 1, 1)


def replayed(run: dict, config: EngineConfig, index: WatchlistIndex,
             carried: dict[int, list[Any]] | None = None, counts: list[int] | None = None,
             ) -> Iterator[tuple[int, Track, int, Identification]]:
    """Feed a recording's sightings again through the engine's tracker, deciding with
    `config`: yields (recorded track id, track, frame, identification) for each fused
    descriptor the engine would have identified. ``carried[track id]`` holds one object per
    recorded sighting, kept in its Sighting's ``chip`` (a caller reads what the fused views
    carried: the first ``fuse_best`` of ``track.sightings``). ``counts`` gets [sightings
    kept, recorded]."""
    tracker = FaceTracker(config)
    kept = total = 0
    for track_id, sightings in run["sightings"].items():
        track = Track(id=track_id, box=NO_BOX, still=False, last_seen_step=0)
        extra = carried[track_id] if carried is not None else [None] * len(sightings)
        last_frame = None
        for (frame, quality, descriptor), chip in zip(sightings, extra, strict=True):
            total += 1
            every = tracker.describe_every(track)
            if (
                last_frame is not None
                and every > config.embed_every_frames  # longer than the dump was made with
                and frame - last_frame < every
                and not tracker.better_face(track, quality)
            ):
                continue  # the engine's tracker would not have described this one
            kept += 1
            last_frame = frame
            track.best_described_quality = max(track.best_described_quality, quality)
            track.describing += 1
            fused = tracker.add_sighting(track, Sighting(frame, 0.0, NO_BOX, chip, quality,
                                                         descriptor))
            if fused is not None:  # one probe at a time: the score steers what comes next
                ident = index.identify(fused[None])[0]
                track.score = ident.score
                yield track_id, track, frame, ident
    if counts is not None:
        counts[:] = [kept, total]


def replay(run: dict, config: EngineConfig, index: WatchlistIndex,
           thresholds: list[float]) -> tuple[list[tuple[float, float, int]], float]:
    """(threshold, TPIR, false alerts) had the run decided with `config`, and the share
    of the recorded descriptions it would have made."""
    recording = Recording()
    counts: list[int] = []
    for track_id, _, frame, ident in replayed(run, config, index, counts=counts):
        recording.identified.append(Identified(
            track_id, frame, index.subject_refs[ident.subject_index], ident.score))
    kept, total = counts
    return sweep(run["truth"], recording, thresholds), kept / max(total, 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dump", type=Path, help="a file written by engine_walkby.py --dump")
    parser.add_argument("--fuse-best", default="",
                        help="other fuse_best values to replay, comma-separated")
    parser.add_argument("--thresholds", default="0.40,0.45,0.50,0.55,0.60")
    parser.add_argument("--describe-less-below", default="",
                        help="other describe_less_below values to replay, comma-separated "
                        "(from a dump made with the rule off: see above)")
    args = parser.parse_args()
    runs = pickle.loads(args.dump.read_bytes())
    if not runs or "sightings" not in next(iter(runs.values())):
        sys.exit(f"{args.dump}: no sightings recorded; make it with engine_walkby.py --dump")
    thresholds = [float(t) for t in args.thresholds.split(",")]
    shipped = EngineConfig()
    settings = [("shipped", shipped)]
    for value in filter(None, args.fuse_best.split(",")):
        k = int(value)
        settings.append((f"fuse_best {k}", EngineConfig(
            fuse_best=k, track_memory=max(k, shipped.track_memory))))
    for value in filter(None, args.describe_less_below.split(",")):
        settings.append((f"less below {float(value):.2f}",
                         EngineConfig(describe_less_below=float(value))))
    for label, run in runs.items():
        index = WatchlistIndex(run["watchlist"])
        print(f"{label}")
        for name, config in settings:
            rows, kept = replay(run, config, index, thresholds)
            cells = "  ".join(f"{t:.2f}: TPIR {tpir:.2f}, {fa} false" for t, tpir, fa in rows)
            print(f"  {name:<21} {cells}  (descriptions kept: {kept:.2f})")


if __name__ == "__main__":
    main()
