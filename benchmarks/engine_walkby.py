"""Benchmark: the engine on walk-by scenes with ground truth, stage by stage.

Makes three scenes with ``../shared/tools/walkby.py`` from the shared identities (the
people with two photos are enrolled from one and walk past with the other) and passers-by
taken from the filler photos (one photo each, padded so the face fills as much of the
photo as in the identities), then for each scene prints in one run:

* TPIR (enrolled people found), false alerts and fps of the engine as shipped (default
  detector, descriptor and threshold, 2 workers), scored by the rule of
  ``walkby_score.py`` (an alert counts when it names an enrolled person within 15 frames
  of a frame where they are in view; any other alert is false);
* the same with every other filler photo also enrolled (one photo each: 1:N at a real
  watchlist size), excluding fillers that are a walker's own face (UTKFace holds some
  people twice, under other file names): those that two of three networks (dlib's ResNet
  and both MobileFaceNets, each at a strict same-person cut: ``SAME_PERSON_CUTS``) call the
  walker's photo, so no one network judges its own test;
* the ratio of the engine's fps to the loop people write with ``face_recognition`` (HOG
  at full resolution on every frame, dlib's descriptor for every face; the same dlib calls
  face_recognition makes, timed on the first ``--baseline-frames`` frames);
* per-stage figures: detection recall (truth boxes matched by a detection) and false
  detections per frame, tracks per walker (fragmentation), descriptors per walker, each
  enrolled person's best score for themselves and the best score any passer-by reached,
  and the CPU milliseconds each stage took per frame (decode, whole-frame and near
  searches, describing, tracking and matching: ``pipeline.StageCpu``);
* for each false alert, the walker whose track raised it and how alike the named entry's
  photo is to that walker's (``on_whom``): a filler that is the walker's own face under
  another name shows a same-person similarity;
* with ``--sweep``: TPIR and false alerts at other thresholds, from the same run (an
  alert is the first identification of a track at or above the threshold);
* with ``--loop-tpir``: whom that loop finds over the whole scene with the scene's
  watchlist (an alert for any frame's face within 1 - L2 distance 0.5 of an entry), so a
  person the engine misses can be told from a person no plain loop finds either;
* with ``--realtime-fps N``: each scene delivered at N frames a second as a camera would
  deliver it (``PacedVideoSource``): above the engine's own fps, how it fares on a CPU too
  slow for its camera (the counters then show frames dropped and ``frames_near_behind``,
  the frames searched near the tracks to keep up; ``--shed-when-behind 1`` drops instead).

Run: python3 benchmarks/engine_walkby.py [--shared ../shared] [--work /tmp/openlfr-walkby]
Scenes, padded passers and the filler watchlist are cached in --work.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from openlfr.evaluation.duplicates import SAME_PERSON_CUTS, measure
from openlfr.recognition import DEFAULT_THRESHOLD, EngineConfig, FaceAnalyzer, Watcher, Watchlist
from openlfr.recognition.backends import (
    DEFAULT_DESCRIPTOR,
    DEFAULT_DETECTOR,
    DESCRIPTOR_NAMES,
    DETECTOR_NAMES,
)
from openlfr.recognition.enrolment import (
    PhotoRejected,
    build_watchlist,
    describe_enrolment_photo,
)
from openlfr.recognition.matcher import pair_similarities
from openlfr.recognition.pipeline import stage_cpu_line
from openlfr.recognition.sources import PacedVideoSource, VideoFileSource
from openlfr.recognition.watchlist import Subject

ROOT = Path(__file__).resolve().parents[1]

SCENES = {
    # name: (walkby.py options, what it stands for)
    "s1": (["--size", "1280x720", "--gap", "0.7", "--cross", "2.2", "--scale", "0.8,1.2"],
           "720p walk-by, faces ~100-150 px, ~3 in view"),
    "s2": (["--size", "1280x720", "--gap", "0.45", "--cross", "2.2", "--scale", "0.4,0.75",
            "--degrade"], "720p, faces ~45-90 px, blur, exposure, noise, ~5 in view"),
    "s3": (["--size", "1920x1080", "--gap", "0.25", "--cross", "3.0", "--scale", "0.35,0.6"],
           "1080p crowd, faces ~40-70 px, ~12 in view"),
}
MATCH_WINDOW = 15  # frames, as walkby_score.py


# ---------------------------------------------------------------- data


def pad_photo(src: Path, dst: Path, border: float = 0.25) -> None:
    """A filler chip (the face fills it) padded so the face fills as much as in a photo."""
    image = cv2.imread(str(src))
    pad = round(border * image.shape[0])
    cv2.imwrite(str(dst), cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE))


def make_pool(shared: Path, work: Path, passers: int, seed: int) -> tuple[Path, list[Path]]:
    """identities (shared people + padded filler passers); return the unused fillers."""
    fillers_dir = shared / "data" / "fillers"
    with (fillers_dir / "manifest.csv").open() as handle:
        files = [fillers_dir / row["file"] for row in csv.DictReader(handle)]
    random.Random(seed).shuffle(files)
    chosen, rest = files[:passers], files[passers:]
    pool = work / "pool"
    if not pool.exists():
        pool.mkdir(parents=True)
        for person in sorted((shared / "data" / "faces" / "identities").iterdir()):
            if person.is_dir():
                (pool / person.name).symlink_to(person)
        for k, path in enumerate(chosen):
            (pool / f"passer_{k:03d}").mkdir()
            pad_photo(path, pool / f"passer_{k:03d}" / path.name)
    return pool, rest


SCENE_SEED = 7
"""walkby.py's seed for the scenes (who is enrolled, which photo is enrolled and which
walks, the order of walkers); ``--seed`` draws other scenes of the same kinds."""


def scene_name(name: str, seed: int) -> str:
    return name if seed == SCENE_SEED else f"{name}_seed{seed}"


def make_scene(
    shared: Path, pool: Path, work: Path, name: str, enrolled: int, passers: int,
    seed: int = SCENE_SEED,
) -> Path:
    out = work / scene_name(name, seed)
    if not (out / "truth.json").exists():
        options, _ = SCENES[name]
        subprocess.run(
            [sys.executable, str(shared / "tools" / "walkby.py"), str(pool), str(out),
             "--enrolled", str(enrolled), "--passers", str(passers), "--seed", str(seed),
             *options],
            check=True, stdout=subprocess.DEVNULL,
        )
    return out


class DlibReference:
    """dlib's HOG detector and descriptor, the calls face_recognition makes."""

    def __init__(self) -> None:
        import dlib
        import face_recognition_models as frm

        self.detector = dlib.get_frontal_face_detector()
        self.shapes = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self.net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())

    def faces(self, rgb: np.ndarray, upsample: int = 1) -> list[np.ndarray]:
        out = []
        for rect in self.detector(rgb, upsample):
            shape = self.shapes(rgb, rect)
            out.append(np.asarray(self.net.compute_face_descriptor(rgb, shape, 1), np.float32))
        return out


def dlib_descriptors(paths: list[Path], cache: Path, reference: DlibReference) -> np.ndarray:
    """dlib's descriptor of the first face its HOG finds in each photo (NaN where none;
    the photos here hold one face each), cached."""
    if cache.exists():
        return np.load(cache)
    rows = np.full((len(paths), 128), np.nan, np.float32)
    for i, path in enumerate(paths):
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        found = reference.faces(rgb, upsample=1)
        if found:
            rows[i] = found[0]
    np.save(cache, rows)
    return rows


# The judges of "this filler is a walker's own face" are openlfr evaluate's judges of one
# person under two identities (evaluation/duplicates.py, SAME_PERSON_CUTS). Of the 384,150
# walker-filler pairs (78 walkers, 4,925 fillers) dlib marks 404, faceplugin's MobileFaceNet
# 190 and the w600k 29, true duplicates included; a filler is left out when two of the
# three agree (77 fillers).


def judge_descriptors(paths: list[Path], cache: Path, reference: DlibReference,
                      judges: dict[str, FaceAnalyzer]) -> dict[str, np.ndarray]:
    """Each judge's descriptor of each photo (NaN where it finds no face), cached."""
    found = {"dlib": dlib_descriptors(paths, cache.with_name(cache.name + "_dlib.npy"),
                                      reference)}
    for name, analyzer in judges.items():
        target = cache.with_name(f"{cache.name}_{name}.npy")
        if not target.exists():
            rows = np.full((len(paths), analyzer.backends.describer.dim), np.nan, np.float32)
            for i, path in enumerate(paths):
                with contextlib.suppress(PhotoRejected):
                    rows[i] = describe_enrolment_photo(path.read_bytes(), path.name,
                                                       analyzer).descriptor
            np.save(target, rows)
        found[name] = np.load(target)
    return found


def same_person_votes(fillers: dict[str, np.ndarray], walkers: dict[str, np.ndarray]
                      ) -> np.ndarray:
    """(fillers, walkers): how many judges call the filler the walker's own face."""
    votes = np.zeros((len(fillers["dlib"]), len(walkers["dlib"])), np.int32)
    for name, cut in SAME_PERSON_CUTS.items():
        a, b = fillers[name], walkers[name]
        if measure(name) == "L2":  # |a - b| from the products: thousands by thousands fit
            squared = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2 * a @ b.T
            distance = np.sqrt(np.maximum(squared, 0.0))
            votes += np.nan_to_num(distance, nan=9.0) < cut
        else:
            votes += np.nan_to_num(a @ b.T, nan=-1.0) > cut
    return votes


def with_fillers(small: Watchlist, fillers: Watchlist, same: np.ndarray
                 ) -> tuple[Watchlist, int]:
    """The scene's watchlist plus every filler not marked `same` (a walker's own face);
    also how many were left out."""
    kept = [s for s, dup in zip(fillers.subjects, same, strict=True) if not dup]
    large = Watchlist(small.descriptor_model,
                      [*small.subjects, *[Subject(s.ref, s.images) for s in kept]],
                      reference_model=small.reference_model)
    return large, int(same.sum())


@dataclass
class JudgedFillers:
    """The filler watchlist, and each judge's descriptor of every filler in it."""

    fillers: Watchlist
    judged: dict[str, np.ndarray]
    judges: dict[str, FaceAnalyzer]

    def judge_walkers(self, pool: Path, truth: dict, cache: Path,
                      reference: DlibReference) -> dict[str, np.ndarray]:
        """Each judge's descriptor of each walker's photo (cached)."""
        return judge_descriptors([pool / w["file"] for w in truth["walkers"]], cache,
                                 reference, self.judges)

    def own_faces(self, walkers: dict[str, np.ndarray]) -> np.ndarray:
        """For each filler, whether it is a scene walker's own face (two judges say so)."""
        return (same_person_votes(self.judged, walkers) >= 2).any(axis=1)


def judged_fillers(rest: list[Path], work: Path, analyzer: FaceAnalyzer, descriptor: str,
                   size: int, reference: DlibReference, second_opinion: bool = False
                   ) -> JudgedFillers:
    """`size` fillers enrolled by `analyzer` (running `descriptor`; with `second_opinion`,
    the second network's descriptors too), and judged (cached). The judges run the default
    detector whatever the engine's, so every engine is judged alike and their caches hold."""
    default_detector = analyzer.backends.detector_name == DEFAULT_DETECTOR
    judges = {name: analyzer if name == descriptor and default_detector
              else FaceAnalyzer(descriptor=name)
              for name in SAME_PERSON_CUTS if name != "dlib"}
    fillers = filler_watchlist(rest, work, analyzer, size, second_opinion)
    refs = [s.ref for s in fillers.subjects]
    # dlib's descriptor of every filler photo, enrolled or not: rows found by name, so
    # engines that enrol different fillers share one cache.
    every = [f"filler_{path.stem}" for path in rest[:size]]
    dlib_rows = dlib_descriptors([next((work / f"fillers_{size}" / ref).iterdir())
                                  for ref in every],
                                 work / f"fillers_{size}_every_dlib.npy", reference)
    row = {ref: i for i, ref in enumerate(every)}
    judged = {"dlib": dlib_rows[[row[ref] for ref in refs]]}
    for judge_name, judge in judges.items():  # from each judge's own filler watchlist
        enrolled = {s.ref: s.images[0].descriptor
                    for s in filler_watchlist(rest, work, judge, size).subjects}
        judged[judge_name] = np.stack([
            enrolled.get(ref, np.full(judge.backends.describer.dim, np.nan, np.float32))
            for ref in refs])
    return JudgedFillers(fillers, judged, judges)


def filler_watchlist(rest: list[Path], work: Path, analyzer: FaceAnalyzer, size: int,
                     second_opinion: bool = False) -> Watchlist:
    """`size` unused fillers, one subject each, enrolled by the engine (cached); with
    `second_opinion`, with the second network's descriptors too."""
    second = "_second_opinion" if second_opinion else ""
    detector = analyzer.backends.detector_name
    other_detector = "" if detector == DEFAULT_DETECTOR else f"_{detector}"
    cache = work / (f"fillers_{size}_{analyzer.model_id.replace(':', '_')}{other_detector}"
                    f"{second}.json")
    if cache.exists():
        return Watchlist.load(cache)
    folder = work / f"fillers_{size}"
    if not folder.exists():
        folder.mkdir()
        for path in rest[:size]:
            (folder / f"filler_{path.stem}").mkdir()
            pad_photo(path, folder / f"filler_{path.stem}" / path.name)
    started = time.perf_counter()
    watchlist, report = build_watchlist(folder, analyzer, workers=2,
                                        second_opinion=second_opinion)
    elapsed = time.perf_counter() - started
    print(f"  filler watchlist: {len(watchlist.subjects)} of {size} photos enrolled "
          f"in {elapsed:.0f} s ({size / elapsed:.0f} photos/s)")
    watchlist.save(cache)
    return watchlist


# ---------------------------------------------------------------- one run, recorded


@dataclass
class Identified:
    track: int
    frame: int
    subject: str
    score: float


@dataclass
class Recording:
    detections: dict[int, list[tuple[tuple[int, ...], int, float]]] = field(
        default_factory=lambda: defaultdict(list))
    """frame -> [(box, track id, detection score)]"""
    identified: list[Identified] = field(default_factory=list)
    described: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    """track id -> descriptors"""
    sightings: dict[int, list[tuple[int, float, np.ndarray]]] = field(
        default_factory=lambda: defaultdict(list))
    """track id -> [(frame, quality, descriptor)] of every described sighting, in the
    order the tracker received them (for --dump: fusion rules can be replayed offline)"""


class RecordingWatcher(Watcher):
    """The shipped Watcher, recording what each stage did (for this benchmark only)."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.recording = Recording()

    def _track(self, frame, search):  # type: ignore[no-untyped-def]
        pending = super()._track(frame, search)
        for face in search.faces:
            track = next((t.id for t in self.tracker.active if t.box is face.box), -1)
            self.recording.detections[frame.index].append(
                (tuple(face.box.as_list()), track, face.detection_score))
        return pending

    def _match(self, frame, sightings, described):  # type: ignore[no-untyped-def]
        for track, _ in sightings:
            self.recording.described[track.id] += 1
        deciding = []  # tracks whose fused descriptor goes to identify, in its order
        add_sighting, identify = self.tracker.add_sighting, self._identify

        def recording_add(track, sighting):  # type: ignore[no-untyped-def]
            self.recording.sightings[track.id].append(
                (sighting.frame_index, sighting.quality, sighting.descriptor))
            fused = add_sighting(track, sighting)
            if fused is not None:
                deciding.append(track)
            return fused

        def recording_identify(tracks, probes):  # type: ignore[no-untyped-def]
            found = identify(tracks, probes)
            for track, ident in zip(deciding, found, strict=True):
                self.recording.identified.append(Identified(
                    track.id, frame.index, self.index.subject_refs[ident.subject_index],
                    ident.score))
            return found

        self.tracker.add_sighting = recording_add  # type: ignore[method-assign]
        self._identify = recording_identify  # type: ignore[method-assign]
        try:
            yield from super()._match(frame, sightings, described)
        finally:
            self.tracker.add_sighting = add_sighting  # type: ignore[method-assign]
            del self._identify  # the class's own again


def run_engine(clip: Path, watchlist: Watchlist, analyzer: FaceAnalyzer, config: EngineConfig,
               realtime_fps: float | None = None) -> tuple[list[dict], float, Recording, dict]:
    """Run the engine on a scene: read as fast as the engine goes, or, with
    ``realtime_fps``, delivered at that rate as a camera would (frames shed or dropped)."""
    watcher = RecordingWatcher(watchlist, config, analyzer)
    source = VideoFileSource(clip) if realtime_fps is None else PacedVideoSource(
        clip, realtime_fps)
    started = time.perf_counter()
    alerts = [{"subject": a.subject, "frame": a.frame, "score": a.score, "track": a.track}
              for a in watcher.run(source)]
    elapsed = time.perf_counter() - started
    counters = watcher.counters.to_json()
    counters["tracks_split"] = watcher.tracker.tracks_split  # took another face: tracker.py
    counters["cpu_ms_per_frame"] = watcher.stage_cpu.per_frame_ms(
        watcher.counters.frames_processed)
    return alerts, watcher.counters.frames_processed / elapsed, watcher.recording, counters


def score_alerts(truth: dict, alerts: list[dict]) -> tuple[set[str], list[tuple[str, int]]]:
    enrolled = {w["identity"] for w in truth["walkers"] if w["enrolled"]}
    visible: dict[str, set[int]] = defaultdict(set)
    for w in truth["walkers"]:
        if w["enrolled"]:
            visible[w["identity"]].update(int(k) for k in w.get("boxes", {}))
    found, false = set(), []
    for alert in alerts:
        who, frame = alert["subject"], alert["frame"]
        if who in enrolled and any(abs(frame - g) <= MATCH_WINDOW for g in visible[who]):
            found.add(who)
        else:
            false.append((who, frame))
    return found, false


def walkers_in_view(truth: dict) -> dict[int, list[tuple[int, list[int]]]]:
    """frame -> [(walker index, box)] of the walkers in view."""
    in_view: dict[int, list[tuple[int, list[int]]]] = defaultdict(list)
    for k, walker in enumerate(truth["walkers"]):
        for frame_key, box in walker.get("boxes", {}).items():
            in_view[int(frame_key)].append((k, box))
    return in_view


def detection_walkers(truth: dict, detections: dict) -> dict[tuple[int, int], int]:
    """(frame, detection's place in it) -> the walker it found: of the walkers whose box
    holds the detection's centre, the one whose photo is centred nearest it."""
    found: dict[tuple[int, int], int] = {}
    for frame, walkers_here in walkers_in_view(truth).items():
        for j, (box, _, _) in enumerate(detections.get(frame, [])):
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            holding = [(abs(cx - (b[0] + b[2]) / 2) + abs(cy - (b[1] + b[3]) / 2), k)
                       for k, b in walkers_here if b[0] <= cx <= b[2] and b[1] <= cy <= b[3]]
            if holding:
                found[(frame, j)] = min(holding)[1]
    return found


def track_walkers(detections: dict, found: dict[tuple[int, int], int]) -> dict[int, int]:
    """track id -> the walker most of its detections found (`found`: detection_walkers)."""
    votes: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for (frame, j), k in found.items():
        votes[detections[frame][j][1]][k] += 1
    return {t: max(v, key=v.__getitem__) for t, v in votes.items()}


def walker_of(truth: dict, detections: dict, track: int) -> int:
    """The walker (index in the truth) the track followed (as ``stages`` attributes tracks);
    -1 when none."""
    return track_walkers(detections, detection_walkers(truth, detections)).get(track, -1)


def on_whom(truth: dict, detections: dict, alert: dict, watchlist: Watchlist,
            walker_views: np.ndarray | None) -> str:
    """Whose face a false alert's track followed, and (given the engine's descriptor of each
    walker's photo) how alike the named entry's photo is to that walker's: a filler that is
    the walker's own face under another name (UTKFace holds some people twice) shows as a
    similarity near a same-person one, a true false alert as a stranger's."""
    k = walker_of(truth, detections, alert["track"])
    if k < 0:
        return "no walker's track"
    walker = truth["walkers"][k]["identity"]
    if walker_views is None or np.isnan(walker_views[k]).any():
        return f"on {walker}'s track"
    entry = next(s for s in watchlist.subjects if s.ref == alert["subject"])
    similarity = pair_similarities(entry.images[0].descriptor, walker_views[k],
                                   watchlist.metric)[0]
    return f"on {walker}'s track; the entry's photo and the walker's: similarity {similarity:.2f}"


Ident = TypeVar("Ident", bound="Identified")


def first_alerts(identified: list[Ident], fires: Callable[[Ident], bool]) -> list[dict]:
    """The alert each track would raise: its first identification that `fires`."""
    by_track: dict[int, list[Ident]] = defaultdict(list)
    for ident in identified:
        by_track[ident.track].append(ident)
    firsts = (next((i for i in idents if fires(i)), None) for idents in by_track.values())
    return [{"subject": first.subject, "frame": first.frame, "track": first.track}
            for first in firsts if first is not None]


def sweep(truth: dict, recording: Recording, thresholds: list[float]) -> list[tuple]:
    """TPIR and false alerts had the threshold been each of `thresholds` (same run)."""
    enrolled = {w["identity"] for w in truth["walkers"] if w["enrolled"]}
    rows = []
    for threshold in thresholds:
        found, false = score_alerts(truth, first_alerts(
            recording.identified, lambda i, t=threshold: i.score >= t))
        rows.append((threshold, len(found) / len(enrolled), len(false)))
    return rows


def stages(truth: dict, recording: Recording) -> tuple[dict[str, float], dict[str, float]]:
    """Detection recall, false detections, fragmentation, descriptors, scores; and each
    enrolled walker's best score for themselves (0 when never named)."""
    width, height = truth["size"]
    present = matched = 0
    walker_tracks: dict[int, set[int]] = defaultdict(set)
    track_walker: dict[int, int] = {}
    claimed_boxes: set[tuple[int, int]] = set()
    in_view = walkers_in_view(truth)
    found_walker = detection_walkers(truth, recording.detections)
    track_walker.update(track_walkers(recording.detections, found_walker))
    seen = {(frame, k) for (frame, _), k in found_walker.items()}
    for frame, walkers_here in in_view.items():
        for k, (x0, _, x1, _) in walkers_here:
            if x0 <= 0 or x1 >= width:
                continue  # entering or leaving: partly out of view
            present += 1
            matched += (frame, k) in seen
    claimed_boxes.update(found_walker)
    for track, k in track_walker.items():
        walker_tracks[k].add(track)
    frames = max(1, truth["frames"])
    false_detections = sum(
        1 for frame, boxes in recording.detections.items() for j in range(len(boxes))
        if (frame, j) not in claimed_boxes
    )
    walkers = len(truth["walkers"])
    descriptors = defaultdict(int)
    for track, count in recording.described.items():
        if track in track_walker:
            descriptors[track_walker[track]] += count
    own_best: dict[str, float] = {}
    passer_best = 0.0
    for ident in recording.identified:
        k = track_walker.get(ident.track)
        if k is None:
            passer_best = max(passer_best, ident.score)
            continue
        walker = truth["walkers"][k]
        if walker["enrolled"] and ident.subject == walker["identity"]:
            own_best[walker["identity"]] = max(own_best.get(walker["identity"], 0), ident.score)
        elif not walker["enrolled"] or ident.subject != walker["identity"]:
            passer_best = max(passer_best, ident.score)
    enrolled = [w["identity"] for w in truth["walkers"] if w["enrolled"]]
    own = [own_best.get(who, 0.0) for who in enrolled]
    return {
        "detection recall": matched / max(1, present),
        "false detections per frame": false_detections / frames,
        "tracks per walker": statistics.mean(len(walker_tracks[k]) for k in range(walkers)),
        "descriptors per walker": sum(descriptors.values()) / walkers,
        "enrolled: median best own score": statistics.median(own),
        "enrolled: lowest best own score": min(own),
        "best score of anyone else": passer_best,
    }, {who: own_best.get(who, 0.0) for who in enrolled}


# ---------------------------------------------------------------- the baseline loop


def baseline_fps(clip: Path, reference: DlibReference, frames: int) -> float:
    capture = cv2.VideoCapture(str(clip))
    done = 0
    started = time.perf_counter()
    while done < frames:
        ok, bgr = capture.read()
        if not ok:
            break
        reference.faces(np.ascontiguousarray(bgr[:, :, ::-1]), upsample=1)
        done += 1
    capture.release()
    return done / (time.perf_counter() - started)


LOOP_ALERT_AT = 0.5
"""The loop alerts on a frame's face whose nearest entry is at 1 - L2 distance >= this (the
issue's "alert when one frame scores >= 0.5")."""


def _loop_part(job: tuple[str, int, int, np.ndarray]) -> list[tuple[int, int]]:
    """Every `parts`-th frame from `part` on: (frame, entry) for each face that alerts."""
    clip, part, parts, entries = job
    reference = DlibReference()
    capture = cv2.VideoCapture(clip)
    hits, index = [], 0
    while True:
        ok = capture.grab()
        if not ok:
            break
        if index % parts == part:
            _, bgr = capture.retrieve()
            for descriptor in reference.faces(np.ascontiguousarray(bgr[:, :, ::-1]), 1):
                distances = np.linalg.norm(entries - descriptor, axis=1)
                best = int(np.nanargmin(distances))
                if 1.0 - distances[best] >= LOOP_ALERT_AT:
                    hits.append((index, best))
        index += 1
    capture.release()
    return hits


def loop_tpir(clip: Path, truth: dict, watchlist_dir: Path, reference: DlibReference,
              cache: Path) -> tuple[set[str], set[str]]:
    """What the face_recognition loop finds on the whole scene: HOG at full size on every
    frame, dlib's descriptor for every face, an alert for each face whose nearest entry
    (dlib's descriptor of each enrolment photo) is within LOOP_ALERT_AT. Returns the
    enrolled people found and the names alerted falsely (each name once: a loop has no
    tracks, so it alerts on every frame). Two processes share the frames."""
    from concurrent.futures import ProcessPoolExecutor

    photos = sorted(p for p in watchlist_dir.glob("*/*") if p.is_file())
    entries = dlib_descriptors(photos, cache, reference)
    refs = [p.parent.name for p in photos]
    with ProcessPoolExecutor(2) as pool:
        parts = list(pool.map(_loop_part, [(str(clip), k, 2, entries) for k in range(2)]))
    alerts = [{"subject": refs[entry], "frame": frame} for hits in parts for frame, entry in hits]
    found, false = score_alerts(truth, alerts)
    return found, {who for who, _ in false}


# ---------------------------------------------------------------- main


def scene_parser(description: str | None) -> argparse.ArgumentParser:
    """A command line with the options every walk-by benchmark takes: where ../shared is,
    the cache folder and the scenes."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/openlfr-walkby"))
    parser.add_argument("--scenes", default="s1,s2,s3")
    return parser


def parse_scene_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The arguments, once ../shared's walkby.py is there and the cache folder made."""
    args = parser.parse_args()
    if not (args.shared / "tools" / "walkby.py").exists():
        sys.exit(f"{args.shared}/tools/walkby.py not found: pass --shared")
    args.work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return args


def main() -> None:
    parser = scene_parser(__doc__)
    parser.add_argument("--enrolled", type=int, default=18)
    parser.add_argument("--passers", type=int, default=60)
    parser.add_argument("--fillers", type=int, default=5000,
                        help="extra one-photo watchlist entries (0: skip the large watchlist)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--seed", type=int, default=SCENE_SEED,
                        help="walkby.py's seed: other draws of who is enrolled, with which "
                        f"photo, and in what order they walk (default {SCENE_SEED}: the "
                        "scenes the README's figures come from)")
    parser.add_argument("--baseline-frames", type=int, default=60)
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--descriptor", choices=DESCRIPTOR_NAMES, default=DEFAULT_DESCRIPTOR,
                        help="the engine's descriptor (default: shipped)")
    parser.add_argument("--min-face-px", type=int, help="engine setting (default: shipped)")
    parser.add_argument("--min-track-embeddings", type=int,
                        help="engine setting (default: shipped)")
    parser.add_argument("--full-detection-every", type=int,
                        help="engine setting (default: shipped)")
    parser.add_argument("--full-detection-every-small", type=int,
                        help="engine setting (default: shipped)")
    parser.add_argument("--detector", choices=DETECTOR_NAMES, default=DEFAULT_DETECTOR,
                        help="the engine's detector, for the scenes and every watchlist "
                        "(default: shipped)")
    parser.add_argument("--shed-when-behind", type=int,
                        help="engine setting (default: shipped); only acts with "
                        "--realtime-fps")
    parser.add_argument("--realtime-fps", type=float,
                        help="deliver each scene at this rate as a camera would (the "
                        "engine sheds or drops what it cannot keep up with; its fps is "
                        "then at most this rate): above the engine's own fps, how a slower "
                        "CPU would fare")
    parser.add_argument("--embed-every-frames", type=int,
                        help="engine setting (default: shipped)")
    parser.add_argument("--describe-less-below", type=float,
                        help="engine setting (default: shipped; 0: every track described "
                        "as often, the dump to replay other values from)")
    parser.add_argument("--second-opinion", action="store_true",
                        help="engine setting: ask dlib's network about tracks in doubt "
                        "(watchlists, fillers included, built with its descriptors)")
    parser.add_argument("--loop-tpir", action="store_true",
                        help="also run the face_recognition loop over every frame of each "
                        "scene and print whom it finds (slow: about 2 fps at 720p, 1 at "
                        "1080p, on 2 processes)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--dump", type=Path,
                        help="pickle every run's truth, watchlist and recording here, every "
                        "described sighting included: with --threshold 1.0 no track "
                        "alerts, every track is described to its end, and walkby_replay.py "
                        "replays the decisions offline under other fusion rules")
    args = parse_scene_args(parser)
    pool, rest = make_pool(args.shared, args.work, args.passers, seed=11)
    analyzer = FaceAnalyzer(detector=args.detector, descriptor=args.descriptor)
    reference = DlibReference()
    big = None
    if args.fillers:
        big = judged_fillers(rest, args.work, analyzer, args.descriptor,
                             min(args.fillers, len(rest)), reference, args.second_opinion)

    config = EngineConfig(threshold=args.threshold, workers=2,
                          second_opinion=args.second_opinion, **{
        k: v for k, v in (("min_face_px", args.min_face_px),
                          ("min_track_embeddings", args.min_track_embeddings),
                          ("full_detection_every", args.full_detection_every),
                          ("full_detection_every_small", args.full_detection_every_small),
                          ("shed_when_behind", args.shed_when_behind),
                          ("embed_every_frames", args.embed_every_frames),
                          ("describe_less_below", args.describe_less_below))
        if v is not None})
    figures: dict[str, dict] = {}
    dumps: dict[str, tuple] = {}
    print(f"engine: {analyzer.backends.detector_name} detector, "
          f"{analyzer.backends.descriptor_name} descriptor, threshold {args.threshold}"
          + (", second opinion (dlib)" if args.second_opinion else ""))
    for name in args.scenes.split(","):
        scene_label = scene_name(name, args.seed)
        scene = make_scene(args.shared, pool, args.work, name, args.enrolled, args.passers,
                           args.seed)
        truth = json.loads((scene / "truth.json").read_text())
        clip = scene / "walkby.mp4"
        small, report = build_watchlist(scene / "watchlist", analyzer, workers=2,
                                        second_opinion=args.second_opinion)
        for outcome in report.skipped:
            print(f"  not enrolled: {outcome.subject_ref}/{outcome.path.name}: {outcome.problem}")
        print(f"\n{scene_label}: {SCENES[name][1]}; {truth['frames']} frames, "
              f"{len(truth['walkers'])} walkers, {len(small.subjects)} enrolled")
        results = {}
        runs = [(f"watchlist of {len(small.subjects)}", small)]
        walker_views = None  # the engine's descriptor of each walker's photo
        if big is not None:
            walkers = big.judge_walkers(pool, truth, args.work / f"{scene_label}_walkers",
                                        reference)
            walker_views = walkers[args.descriptor]
            large, excluded = with_fillers(small, big.fillers, big.own_faces(walkers))
            runs.append((f"+{len(large.subjects) - len(small.subjects)} fillers ({excluded} "
                         "excluded as a walker's own face)", large))
        for label, watchlist in runs:
            alerts, fps, recording, counters = run_engine(clip, watchlist, analyzer, config,
                                                          args.realtime_fps)
            found, false = score_alerts(truth, alerts)
            dumps[f"{scene_label} {label}"] = {
                "truth": truth, "watchlist": watchlist, "detections": dict(recording.detections),
                "identified": [asdict(i) for i in recording.identified],
                "sightings": dict(recording.sightings)}
            enrolled = len({w["identity"] for w in truth["walkers"] if w["enrolled"]})
            tpir = len(found) / enrolled
            print(f"  {label}: TPIR {tpir:.2f} ({len(found)}/{enrolled}), "
                  f"false alerts {len(false)}, {fps:.1f} fps")
            figure, own_best = stages(truth, recording)
            missed = sorted({w['identity'] for w in truth['walkers'] if w['enrolled']} - found)
            if missed:  # a best score of 0: never named as themselves (or never seen)
                print("    missed (best own score): " + ", ".join(
                    f"{who} ({own_best[who]:.2f})" for who in missed))
            for who, frame in false:
                alert = next(a for a in alerts if a["subject"] == who and a["frame"] == frame)
                print(f"    false alert: {who} at frame {frame} ("
                      f"{on_whom(truth, recording.detections, alert, watchlist, walker_views)})")
            for key, value in figure.items():
                print(f"    {key}: {value:.3f}")
            cpu = counters.pop("cpu_ms_per_frame")
            print(f"    counters: {counters}")
            print(f"    {stage_cpu_line(cpu)}")
            if args.sweep:
                for t, tp, fa in sweep(truth, recording, [0.40, 0.45, 0.5, 0.55, 0.6, 0.65]):
                    print(f"    threshold {t:.2f}: TPIR {tp:.2f}, false alerts {fa}")
            results[label] = {"tpir": tpir, "false_alerts": len(false), "fps": fps, **figure,
                              "cpu_ms_per_frame": cpu}
        base = baseline_fps(clip, reference, args.baseline_frames)
        ratio = results[runs[0][0]]["fps"] / base
        print(f"  face_recognition loop: {base:.2f} fps on the first {args.baseline_frames} "
              f"frames; engine {ratio:.1f}x")
        figures[scene_label] = {"runs": results, "baseline_fps": base, "ratio": ratio}
        if args.loop_tpir:
            started = time.perf_counter()
            found, false = loop_tpir(clip, truth, scene / "watchlist", reference,
                                     args.work / f"{scene_label}_enrolled_dlib.npy")
            enrolled = {w["identity"] for w in truth["walkers"] if w["enrolled"]}
            print(f"  face_recognition loop, every frame: TPIR {len(found) / len(enrolled):.2f} "
                  f"({len(found)}/{len(enrolled)}), falsely alerted names {len(false)} "
                  f"({time.perf_counter() - started:.0f} s)")
            if enrolled - found:
                print(f"    missed: {', '.join(sorted(enrolled - found))}")
            figures[scene_label]["loop"] = {"tpir": len(found) / len(enrolled),
                                            "false_names": sorted(false)}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if args.dump:
        import pickle

        args.dump.write_bytes(pickle.dumps(dumps))


if __name__ == "__main__":
    main()
