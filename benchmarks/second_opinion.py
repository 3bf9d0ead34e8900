"""Benchmark the rule behind the engine's second opinion (``--second-opinion``, off by
default; matcher.py), and variants of it, offline: dlib's descriptor as a second opinion
on the tracks the engine doubts. (The engine itself, with the rule built in, is measured
by ``engine_walkby.py --second-opinion``.)

The ``face_recognition`` loop finds people on the walk-by scenes that the engine's
descriptor misses (alex_lacamoire on every seed-7 scene: his best fused view is his own
entry's at cosine 0.38, first but short of an alert). This script asks whether a second,
independently trained network could lower the bar for such tracks without stopping
passers-by: an alert at the shipped score, or at a lower score (``from``) when dlib's
ResNet, on the same fused views, names the same subject first and within L2 distance
``within`` of that subject's entry.

It records every described view of every track on each walk-by scene (the shipped engine
at threshold 1.0 with ``describe_less_below`` 0, so every track is described to its end,
as for ``walkby_replay.py``) and, beside each, dlib's descriptor of the same face (dlib's
five landmarks and ResNet, the calls ``face_recognition`` makes). Entries get dlib's
descriptor of their enrolment photo (the fillers: the one ``engine_walkby.py`` judges
duplicates with). The decisions are then replayed through the engine's own tracker
(``walkby_replay.replayed``), with the scene's watchlist and with the 4,848 further
fillers, and each rule prints whom it finds beyond the shipped rule and its false alerts.

For each false alert it also prints how alike the named filler's photo is to the photo of
the walker the track followed (w600k cosine, dlib L2): UTKFace holds some people under
several names, and a pair the benchmark's duplicate check (two of three judges) lets
through shows here.

``--stills`` asks the same of single photos, as the audit (``openlfr evaluate``) searches:
the fillers split in two at random, one half enrolled (one photo each) with the 19
shared people (each of their photos enrolled in turn, their other photos searched as
mated probes), the other half searched as strangers (less those two of the three judges
call an entry's own face); TPIR and FPIR at thresholds 0.5 and 0.6 for each rule.

Run: python3 benchmarks/second_opinion.py [--seed 7] [--scenes s1,s2,s3] [--stills]
Recordings are cached in --work (about 3 minutes a scene to make).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pickle
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_walkby import (  # noqa: E402
    SCENE_SEED,
    DlibReference,
    Identified,
    RecordingWatcher,
    dlib_descriptors,
    first_alerts,
    judged_fillers,
    make_pool,
    make_scene,
    parse_scene_args,
    same_person_votes,
    scene_name,
    scene_parser,
    score_alerts,
    walker_of,
    with_fillers,
)
from walkby_replay import replayed  # noqa: E402

from openlfr.recognition import EngineConfig, FaceAnalyzer  # noqa: E402
from openlfr.recognition.analyzer import reference_model_id  # noqa: E402
from openlfr.recognition.enrolment import (  # noqa: E402
    PhotoRejected,
    build_watchlist,
    describe_enrolment_photo,
)
from openlfr.recognition.matcher import WatchlistIndex  # noqa: E402
from openlfr.recognition.sources import VideoFileSource  # noqa: E402
from openlfr.recognition.watchlist import EnrolledImage, Subject, Watchlist  # noqa: E402

FILLERS = 4940


class SecondOpinionWatcher(RecordingWatcher):
    """The shipped Watcher, recording dlib's descriptor of every face it describes too."""

    def __init__(self, *args, reference: DlibReference, **kwargs) -> None:  # type: ignore
        super().__init__(*args, **kwargs)
        self.reference = reference
        self.dlib: dict[int, list[np.ndarray]] = defaultdict(list)

    def _match(self, frame, sightings, described):  # type: ignore[no-untyped-def]
        import dlib

        for track, face in sightings:  # in the order the recording takes the sightings
            box = face.box
            shape = self.reference.shapes(
                frame.image, dlib.rectangle(box.left, box.top, box.right, box.bottom))
            self.dlib[track.id].append(np.asarray(
                self.reference.net.compute_face_descriptor(frame.image, shape, 1), np.float32))
        yield from super()._match(frame, sightings, described)


def record(args: argparse.Namespace) -> dict[str, dict]:
    """Each scene's truth, watchlists (w600k and dlib rows) and both networks' views."""
    pool, rest = make_pool(args.shared, args.work, 60, seed=11)
    analyzer = FaceAnalyzer()
    reference = DlibReference()
    big = judged_fillers(rest, args.work, analyzer, "w600k", FILLERS, reference)
    runs = {}
    for name in args.scenes.split(","):
        label = scene_name(name, args.seed)
        cache = args.work / f"second_opinion_{label}.pkl"
        if cache.exists():
            runs[label] = pickle.loads(cache.read_bytes())
            continue
        scene = make_scene(args.shared, pool, args.work, name, 18, 60, args.seed)
        truth = json.loads((scene / "truth.json").read_text())
        small, _ = build_watchlist(scene / "watchlist", analyzer, workers=2)
        small_dlib = dlib_descriptors(
            [next((scene / "watchlist" / s.ref).iterdir()) for s in small.subjects],
            args.work / f"{label}_entries_dlib.npy", reference)
        walkers = big.judge_walkers(pool, truth, args.work / f"{label}_walkers", reference)
        own = big.own_faces(walkers)
        large, _ = with_fillers(small, big.fillers, own)
        watcher = SecondOpinionWatcher(
            small, EngineConfig(threshold=1.0, workers=2, describe_less_below=0.0), analyzer,
            reference=reference)
        print(f"{label}: recording both networks' views ...", flush=True)
        for _ in watcher.run(VideoFileSource(scene / "walkby.mp4")):
            pass
        runs[label] = {
            "truth": truth, "small": small, "large": large, "small_dlib": small_dlib,
            "large_dlib": np.concatenate([small_dlib, big.judged["dlib"][~own]]),
            "sightings": dict(watcher.recording.sightings), "dlib": dict(watcher.dlib),
            "walkers_w600k": walkers["w600k"], "walkers_dlib": walkers["dlib"],
            "detections": dict(watcher.recording.detections)}
        cache.write_bytes(pickle.dumps(runs[label]))
    return runs


@dataclass
class Decision(Identified):
    """One identification of a track (or a photo) and what dlib says of the same face."""

    subject_index: int = -1
    dlib_first: int = -1
    """The entry dlib puts first (-1: dlib saw no face)."""
    dlib_distance: float = float("inf")
    """Its L2 distance to that entry."""


def with_dlib(subjects: list[Subject], rows: np.ndarray, model: str) -> Watchlist:
    """One-photo `subjects` carrying dlib's descriptors `rows` (NaN: dlib found no face),
    as a watchlist built with ``--second-opinion`` does: the engine's index then says
    which entry dlib puts first (``WatchlistIndex.reference_nearest``)."""
    assert all(len(s.images) == 1 for s in subjects), "one photo an entry"
    return Watchlist(model, [
        Subject(s.ref, [replace(s.images[0], reference=None if np.isnan(r).any() else r)])
        for s, r in zip(subjects, rows, strict=True)], reference_model=reference_model_id())


def decisions(run: dict, size: str) -> list[Decision]:
    """Every decision of the replayed tracks: the engine's best subject and score, and what
    dlib says of the same fused views."""
    watchlist = run[size]
    index = WatchlistIndex(with_dlib(watchlist.subjects, run[f"{size}_dlib"],
                                     watchlist.descriptor_model))
    config = EngineConfig()
    rows = []
    for track_id, track, frame, ident in replayed(run, config, index, carried=run["dlib"]):
        views = np.mean([s.chip for s in track.sightings[: config.fuse_best]], axis=0)
        rows.append(Decision(track_id, frame, index.subject_refs[ident.subject_index],
                             ident.score, ident.subject_index,
                             *index.reference_nearest(views)))
    return rows


Rule = Callable[[Decision], bool]


def stills(args: argparse.Namespace) -> None:
    """Single-photo 1:N with each rule (module docstring, ``--stills``)."""
    _, rest = make_pool(args.shared, args.work, 60, seed=11)
    analyzer = FaceAnalyzer()
    reference = DlibReference()
    big = judged_fillers(rest, args.work, analyzer, "w600k", FILLERS, reference)
    people: list[tuple[str, np.ndarray, np.ndarray]] = []  # (who, w600k, dlib)
    for folder in sorted((args.shared / "data" / "faces" / "identities").iterdir()):
        for photo in sorted(folder.iterdir()) if folder.is_dir() else []:
            data = photo.read_bytes()
            with contextlib.suppress(PhotoRejected):
                w600k = describe_enrolment_photo(data, photo.name, analyzer).descriptor
                found = reference.faces(cv2.cvtColor(
                    cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR),
                    cv2.COLOR_BGR2RGB))
                people.append((folder.name, w600k, found[0] if found else
                               np.full(128, np.nan, np.float32)))
    order = np.random.default_rng(args.seed).permutation(len(big.fillers.subjects))
    entries, strangers = order[: len(order) // 2], order[len(order) // 2:]
    own = same_person_votes({k: v[strangers] for k, v in big.judged.items()},
                            {k: v[entries] for k, v in big.judged.items()}) >= 2
    strangers = strangers[~own.any(axis=1)]
    photos: dict[str, list[int]] = defaultdict(list)
    for k, (who, _, _) in enumerate(people):
        photos[who].append(k)
    rows: list[tuple[str, Decision]] = []  # (whose photo, '' for a stranger; decision)
    for turn in range(max(len(ks) for ks in photos.values())):
        # Each photo enrolled in turn (a person's turn-th photo), the person's others
        # searched; strangers are searched once, against the first turn's watchlist.
        enrolled = {who: ks[turn] for who, ks in photos.items() if len(ks) > turn}
        subjects = [Subject(who, [EnrolledImage(who, "", people[k][1])])
                    for who, k in enrolled.items()]
        subjects += [big.fillers.subjects[i] for i in entries]
        entry_dlib = np.concatenate([np.stack([people[k][2] for k in enrolled.values()]),
                                     big.judged["dlib"][entries]])
        index = WatchlistIndex(with_dlib(subjects, entry_dlib, big.fillers.descriptor_model))
        probes = [(who, w, d) for k, (who, w, d) in enumerate(people)
                  if who in enrolled and enrolled[who] != k]
        if turn == 0:
            probes += [("", big.fillers.subjects[i].images[0].descriptor,
                        big.judged["dlib"][i]) for i in strangers]
        for (who, _, dlib_view), ident in zip(probes, index.identify(np.stack(
                [w for _, w, _ in probes])), strict=True):
            rows.append((who, Decision(len(rows), 0, index.subject_refs[ident.subject_index],
                                       ident.score, ident.subject_index,
                                       *index.reference_nearest(dlib_view))))
    mated = [(who, r) for who, r in rows if who]
    unmated = [r for who, r in rows if not who]
    print(f"{len(photos)} people ({len(people)} photos, each enrolled in turn) and "
          f"{len(entries)} fillers enrolled; "
          f"{len(mated)} mated searches, {len(unmated)} strangers ({int(own.any(axis=1).sum())} "
          "left out as an entry's own face)")
    for threshold in (0.5, 0.6):
        for name, rule in rules(threshold).items():
            hits = sum(1 for who, r in mated if r.subject == who and rule(r))
            false = sum(1 for r in unmated if rule(r))
            print(f"  threshold {threshold}: {name:<40} TPIR {hits}/{len(mated)} = "
                  f"{hits / len(mated):.3f}, FPIR {false}/{len(unmated)} = "
                  f"{false / len(unmated):.4f}")


def rules(threshold: float) -> dict[str, Rule]:
    def agree(lower: float, within: float) -> Rule:
        return lambda r: r.score >= threshold or (
            r.score >= lower and r.dlib_first == r.subject_index and r.dlib_distance <= within)

    out: dict[str, Rule] = {"shipped": lambda r: r.score >= threshold}
    for lift in (0.25, 0.2, 0.1):  # the lower bar: the threshold less the lift
        lower = round(threshold - lift, 2)
        out[f"w600k alone, score >= {lower}"] = lambda r, t=lower: r.score >= t
    for lift in (0.25, 0.2):
        lower = round(threshold - lift, 2)
        for within in (0.5, 0.55, 0.6):
            out[f"dlib agrees, score >= {lower}, L2 <= {within}"] = agree(lower, within)
    return out


def how_alike(run: dict, size: str, alert: dict) -> str:
    """The named entry's photo against the photo of the walker the track followed."""
    k = walker_of(run["truth"], run["detections"], alert["track"])
    if k < 0:
        return "walker unknown"
    watchlist = run[size]
    entry = next(i for i, s in enumerate(watchlist.subjects) if s.ref == alert["subject"])
    walker = run["truth"]["walkers"][k]["identity"]
    cosine = float(watchlist.subjects[entry].images[0].descriptor @ run["walkers_w600k"][k])
    l2 = float(np.linalg.norm(run[f"{size}_dlib"][entry] - run["walkers_dlib"][k]))
    dlib_says = "dlib found no face in one" if np.isnan(l2) else f"dlib L2 {l2:.2f}"
    return f"walker {walker}: photos' w600k cosine {cosine:.2f}, {dlib_says}"


def main() -> None:
    parser = scene_parser(__doc__)
    parser.add_argument("--seed", type=int, default=SCENE_SEED)
    parser.add_argument("--stills", action="store_true",
                        help="single photos instead of the walk-by scenes (see above)")
    args = parse_scene_args(parser)
    if args.stills:
        stills(args)
        return
    runs = record(args)
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for label, run in runs.items():
        enrolled = {w["identity"] for w in run["truth"]["walkers"] if w["enrolled"]}
        for size in ("small", "large"):
            rows = decisions(run, size)
            print(f"\n{label}, {len(run[size].subjects)} entries")
            shipped: set[str] = set()
            for name, rule in rules(EngineConfig().threshold).items():
                raised = first_alerts(rows, rule)
                found, false = score_alerts(run["truth"], raised)
                shipped = found if name == "shipped" else shipped
                total = totals[(size, name)]
                total[0] += len(found)
                total[1] += len(enrolled)
                total[2] += len(false)
                more = ", ".join(sorted(found - shipped)) or "-"
                print(f"  {name:<40} found {len(found)}/{len(enrolled)} (more: {more}), "
                      f"false alerts {len(false)}")
                for who, frame in false:
                    alert = next(a for a in raised if a["subject"] == who and a["frame"] == frame)
                    print(f"    false: {who} at frame {frame} ({how_alike(run, size, alert)})")
    print("\nall scenes")
    for (size, name), (found_n, enrolled_n, false_n) in totals.items():
        entries = "scene's" if size == "small" else "+fillers"
        print(f"  {entries:<8} {name:<40} found {found_n}/{enrolled_n}, "
              f"false alerts {false_n}")


if __name__ == "__main__":
    main()
