"""Tracking: one person walking past is one track, described several times, decided once.

Detections are joined to tracks by box overlap with where each track is expected to be
(its last box moved by its last step: a small face crossing a wide frame moves more than
its own width between frames), greedy, best overlap first; a face seen only once has no
motion yet, so its next detection may also join it by nearness (a small face crossing the
frame fast overlaps where it was too little). Motion is measured in source frames: when a
live source drops frames under load, a face is expected as far on as the frames that
passed carried it, not one frame's step (until 2026-12-05 a step was a frame looked at,
so under load every small fast face started a new track on each frame looked at, and
each was described afresh). How long a track lives unseen, and how often it is
described, count frames looked at: a person in view stays the same track however many
frames the source drops.

A track is described when it is first seen, when its face is clearly better (larger,
sharper, more frontal) than any it was described with, and at least every K frames
unless the face could not join the views its decision fuses. It keeps its best-quality
sightings, and its decision is made on their descriptors fused
into one (the mean of the unit descriptors of its best few): several views of a face
describe it better than any one, and one odd frame can neither raise nor hide an alert.

Boxes cannot tell two faces apart where they cross, or where one person leaves the frame
as another enters at the same place: a track may take the other face. A described view
that looks no more like its track than strangers do is held apart (not fused); when the
next view is also unlike the track and like the one held apart, the track has taken
another person's face, and from the first of the two it is a new track (new id, those
two views, no alert). One person's views are then not fused with another's, and an alert
on one person does not cover the next face that takes their track. A single odd view (a
face half out of the frame, a blurred or turned one) is only left out. An alerted track
is described again now and then for that check alone.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from openlfr.recognition.config import EngineConfig
from openlfr.recognition.faces import Box, FoundFace, RGBImage
from openlfr.recognition.matcher import CALIBRATIONS, pair_similarities

FIRST_STEP_REACH = 1.0
"""How far (in its own widths a frame, for up to two frames) a face seen once may have moved
and still be the same track: until a track is seen twice its motion is unknown, and a small
face crossing the frame moves most of its width a frame (a 33 px face at 25 px a frame
overlaps where it was by IoU 0.14), so overlap alone started a new track on every frame."""

FIRST_STEP_SIZE_RATIO = 1.5
"""The most a face seen once may change in size between frames and still be that track."""

ANOTHER_PERSON_SD = 2.0
"""Two views are unlike when their similarity is below the descriptor's typical
non-matching similarity plus this many deviations (cosine: 0.06 + 2 x 0.08 = 0.22). On
the walk-by scenes (seed 7), a view of one person fell below 0.22 against their track's
fused descriptor about once in 150 (21 of 3,192, all of passers-by, most where two walkers
overlap), and the first view after a track took another face 15 times in 16."""

UNLIKE_ANYONE_SLOWER = 2
"""A track scoring under EngineConfig.describe_less_below is described every this many
times embed_every_frames (README, "Score and threshold")."""

ALERTED_CHECK_EVERY = 3
"""An alerted track is described every this many times embed_every_frames, only to see
whether its face is still the person it alerted on."""

NEAR_SEARCH_STEPS = 3
"""A track is looked for near where it is expected for this many frames after it was last
seen (walk-by scenes: fewer lose faces behind others, more cost time and find no more)."""


@dataclass
class Sighting:
    """One described sighting of a track, kept only while the track lives."""

    frame_index: int
    timestamp_s: float
    box: Box
    chip: RGBImage
    quality: float
    descriptor: np.ndarray
    reference: np.ndarray | None = None
    """The second opinion's descriptor of the face, when it was asked (matcher.py)."""


@dataclass
class Track:
    id: int
    box: Box
    still: bool
    last_seen_step: int
    """The frame looked at (tracker step) it was last seen on."""
    last_seen_frame: int = 0
    """The source frame it was last seen on."""
    step_dx: float = 0.0
    """Motion in pixels per source frame."""
    step_dy: float = 0.0
    moving_known: bool = False
    """Whether step_dx/step_dy were measured (the track was seen twice)."""
    last_described_step: int = -(10**9)
    best_described_quality: float = 0.0
    descriptions: int = 0
    describing: int = 0
    """Descriptions requested and not yet back."""
    alerted: bool = False
    score: float | None = None
    """The decision score of the track's latest fused descriptor, set by whoever
    identifies it (None before one): how often the track is described next."""
    doubt: Sighting | None = None
    """A view unlike the track's, held apart until the next view says whose it is."""
    since_frame: int = -1
    """The first frame of the person this track now follows (a view described from an
    earlier frame is of the face the track had before it became another person's)."""
    sightings: list[Sighting] = field(default_factory=list)
    """The best sightings by quality (at most EngineConfig.track_memory)."""

    def predicted_box(self, frames: int = 1) -> Box:
        """Where the face is expected `frames` source frames after it was last seen (it
        keeps moving while a detection misses it, another face hides it or the frames
        between were dropped)."""
        dx, dy = round(self.step_dx * frames), round(self.step_dy * frames)
        b = self.box
        return Box(b.left + dx, b.top + dy, b.right + dx, b.bottom + dy)


@dataclass(frozen=True)
class TrackDecision:
    subject_index: int
    score: float
    evidence: Sighting
    """The sighting most like the subject (its chip is the probe crop)."""


class FaceTracker:
    def __init__(self, config: EngineConfig, *, metric: str = "cosine") -> None:
        """`metric`: the descriptor model's ("cosine" or "l2")."""
        self.config = config
        self.metric = metric
        calibration = CALIBRATIONS[metric]
        self.another_person_below = (
            calibration.cohort_mean + ANOTHER_PERSON_SD * calibration.cohort_sd)
        self.active: list[Track] = []
        self.tracks_started = 0
        self.tracks_split = 0
        """Tracks that took another person's face and went on as a new track."""
        self._ids = itertools.count(1)
        self._step = 0
        """Frames looked at so far."""
        self._frame = -1
        """The source frame looked at last."""
        self._last_alert_s: dict[int, float] = {}
        """Subject index -> time of its last video alert (for repeat_alert_s)."""
        self.slower = 1
        """Set by the pipeline: while it is behind a live source, periodic descriptions
        come this many times further apart (EngineConfig.shed_when_behind); a track's first
        view and a clearly better face are still described at once."""

    def update(self, faces: list[FoundFace], still: bool, frame: int | None = None
               ) -> list[tuple[Track, FoundFace]]:
        """Join the faces of source frame ``frame`` (None: the one after the last) to
        tracks; return the (track, face) pairs to describe."""
        self._step += 1
        self._frame = self._next_frame(frame)
        if still:
            self.active.clear()  # photos are unrelated to each other
        else:
            limit = self.config.track_max_missed_frames
            self.active = [t for t in self.active if self._step - t.last_seen_step - 1 <= limit]
        pairs = self._associate(faces)
        to_describe: list[tuple[Track, FoundFace]] = []
        for face_index, face in enumerate(faces):
            track = pairs.get(face_index)
            if track is None:
                track = Track(id=next(self._ids), box=face.box, still=still,
                              last_seen_step=self._step, last_seen_frame=self._frame)
                self.active.append(track)
                self.tracks_started += 1
            else:
                gap = max(1, self._frame - track.last_seen_frame)
                track.step_dx = ((face.box.left + face.box.right) - (
                    track.box.left + track.box.right)) / 2 / gap
                track.step_dy = ((face.box.top + face.box.bottom) - (
                    track.box.top + track.box.bottom)) / 2 / gap
                track.moving_known = True
            track.box = face.box
            track.last_seen_step = self._step
            track.last_seen_frame = self._frame
            if self._should_describe(track, face):
                track.last_described_step = self._step
                track.best_described_quality = max(track.best_described_quality, face.quality)
                track.describing += 1
                to_describe.append((track, face))
        return to_describe

    def regions_ahead(self, frame: int | None = None) -> list[Box]:
        """Where the faces of the tracks seen lately may be on source frame ``frame``, the
        next to look at (None: the one after the last tracked), for ``locate_faces_near``:
        each track's predicted box grown on every side by half its size and half how far
        it moves meanwhile, or by its whole size while its motion is unknown (seen once).
        A track unseen for more than NEAR_SEARCH_STEPS frames looked at is left to the next
        whole-frame search, which finds it where it has got to."""
        frame = self._next_frame(frame)
        regions = []
        for track in self.active:
            if track.still or self._step + 1 - track.last_seen_step > NEAR_SEARCH_STEPS:
                continue
            ahead = frame - track.last_seen_frame
            b = track.predicted_box(ahead)
            size = max(b.width, b.height)
            if track.moving_known:
                moved = (abs(track.step_dx) + abs(track.step_dy)) * ahead
                grow = round((size + moved) / 2)
            else:
                grow = size
            regions.append(Box(b.left - grow, b.top - grow, b.right + grow, b.bottom + grow))
        return regions

    def _next_frame(self, frame: int | None) -> int:
        """Source frame ``frame``, or the one after the last looked at when it is None or
        not after it (a source that starts again)."""
        return frame if frame is not None and frame > self._frame else self._frame + 1

    def _associate(self, faces: list[FoundFace]) -> dict[int, Track]:
        """Greedy, best affinity first: overlap with where a track is expected; then, for
        the tracks seen once (motion unknown), nearness within FIRST_STEP_REACH, ranked
        below every overlap so a face never leaves the track it overlaps for another."""
        expected = [(t, t.predicted_box(self._frame - t.last_seen_frame)) for t in self.active]
        candidates = sorted(
            (
                (affinity, fi, ti)
                for ti, (track, box) in enumerate(expected)
                for fi, face in enumerate(faces)
                if (affinity := self._affinity(track, box, face.box)) > 0.0
            ),
            reverse=True,
        )
        joined: dict[int, Track] = {}
        used_tracks: set[int] = set()
        for _, fi, ti in candidates:
            if fi in joined or ti in used_tracks:
                continue
            joined[fi] = self.active[ti]
            used_tracks.add(ti)
        return joined

    def _affinity(self, track: Track, expected: Box, box: Box) -> float:
        """How well a detection continues a track: its overlap with the `expected` box
        when that reaches track_min_iou; for a track whose motion is unknown, a value below
        track_min_iou falling with the distance moved; 0 when it cannot be the track."""
        minimum = self.config.track_min_iou
        iou = box.iou(expected)
        if iou >= minimum:
            return iou
        if track.moving_known or track.still:
            return 0.0
        last = track.box
        size = max(last.width, last.height)
        ratio = max(box.width, box.height) / max(size, 1)
        if not 1 / FIRST_STEP_SIZE_RATIO <= ratio <= FIRST_STEP_SIZE_RATIO:
            return 0.0
        moved = float(np.hypot((box.left + box.right - last.left - last.right) / 2,
                               (box.top + box.bottom - last.top - last.bottom) / 2))
        # Up to two frames looked at, each as many source frames on as they were apart.
        steps = self._step - track.last_seen_step
        frames = self._frame - track.last_seen_frame
        reach = FIRST_STEP_REACH * size * min(steps, 2) * frames / steps
        return minimum * (1.0 - moved / reach) if moved < reach else 0.0

    def describe_every(self, track: Track) -> int:
        """How many frames apart the track's periodic descriptions are: embed_every_frames
        (``slower`` times that while the pipeline is behind a live source);
        UNLIKE_ANYONE_SLOWER times that for a track that looks like no one
        (describe_less_below, once its best views are fused); ALERTED_CHECK_EVERY times that
        for an alerted track, unless a view of it is held apart."""
        every = self.config.embed_every_frames * self.slower
        if track.alerted:
            return every if track.doubt else ALERTED_CHECK_EVERY * every
        if (track.score is not None and track.score < self.config.describe_less_below
                and track.descriptions >= self.config.fuse_best):
            return UNLIKE_ANYONE_SLOWER * every  # a passer-by, as far as its best views tell
        return every

    def better_face(self, track: Track, quality: float) -> bool:
        """A face clearly better than any the track has had described: described at once."""
        return quality >= self.config.better_face_ratio * track.best_described_quality

    def _should_describe(self, track: Track, face: FoundFace) -> bool:
        due = self._step - track.last_described_step >= self.describe_every(track)
        if track.alerted:  # one alert per track; only a look now and then to see whose face
            return due
        if track.descriptions == 0 and track.describing == 0:
            return True
        if self.better_face(track, face.quality):
            return True
        fused = self.config.fuse_best
        if len(track.sightings) >= fused and face.quality <= track.sightings[fused - 1].quality:
            # A described view's quality is at most its box's (the pose only lowers it):
            # this face cannot join the best few that the decision fuses, so describing it
            # could change nothing.
            return False
        return due

    def add_sighting(self, track: Track, sighting: Sighting) -> np.ndarray | None:
        """Record a described sighting; return the track's fused descriptor once it has
        enough sightings to decide (1 for a photo, min_track_embeddings for video), else
        None. A video view unlike the track's is held apart, and two in a row that are
        alike make the track a new one (module docstring). After an alert the track takes
        no more sightings."""
        track.describing -= 1
        if sighting.frame_index < track.since_frame:
            return None  # of the face the track followed before it became a new one
        if not track.still and track.sightings:
            if self._unlike(self.fused_descriptor(track), sighting):
                doubt, track.doubt = track.doubt, sighting
                if doubt is None or self._unlike(doubt.descriptor, sighting):
                    track.descriptions += 1
                    return None
                self._start_anew(track, doubt)
            track.doubt = None  # a view held apart that the next one does not follow: odd
        track.descriptions += 1
        if track.alerted:
            return None
        track.sightings.append(sighting)
        track.sightings.sort(key=lambda s: -s.quality)
        del track.sightings[self.config.track_memory :]
        needed = 1 if track.still else self.config.min_track_embeddings
        if track.descriptions < needed:
            return None
        return self.fused_descriptor(track)

    def _unlike(self, descriptor: np.ndarray, sighting: Sighting) -> bool:
        similarity = pair_similarities(descriptor, sighting.descriptor, self.metric)[0]
        return bool(similarity < self.another_person_below)

    def _start_anew(self, track: Track, first: Sighting) -> None:
        """The track has taken another person's face: from the view `first` on it is a new
        track (the box and its motion go on; the views, the alert and the id do not)."""
        track.id = next(self._ids)
        track.since_frame = first.frame_index
        track.sightings[:] = [first]
        track.descriptions = 1
        track.best_described_quality = first.quality
        track.alerted = False
        track.score = None  # the score was the other person's
        self.tracks_started += 1
        self.tracks_split += 1

    def fused_descriptor(self, track: Track) -> np.ndarray:
        """The mean of the track's best few descriptors (unit length again for a cosine
        model): one descriptor that several views agree on."""
        best = np.stack([s.descriptor for s in track.sightings[: self.config.fuse_best]])
        fused = best.mean(axis=0)
        if self.metric == "cosine":
            fused /= max(float(np.linalg.norm(fused)), 1e-12)
        return fused.astype(np.float32)

    def fused_reference(self, track: Track) -> np.ndarray | None:
        """The mean second-opinion descriptor of the track's best few views that have one
        (as fused_descriptor, in dlib's L2 space: no renormalising); None without any."""
        views = [s.reference for s in track.sightings if s.reference is not None]
        if not views:
            return None
        return np.mean(views[: self.config.fuse_best], axis=0).astype(np.float32)

    def decide(
        self, track: Track, subject_index: int, score: float, evidence: Sighting
    ) -> TrackDecision | None:
        """An alert decision the first time the track's fused score reaches the threshold,
        unless the same subject alerted on another video track within repeat_alert_s."""
        if track.alerted or subject_index < 0 or score < self.config.threshold:
            return None
        track.alerted = True  # decided: no more work on this track either way
        if not track.still:
            last = self._last_alert_s.get(subject_index)
            self._last_alert_s[subject_index] = evidence.timestamp_s
            if last is not None and abs(evidence.timestamp_s - last) < self.config.repeat_alert_s:
                return None  # the same sighting on a broken track: alerted already
        return TrackDecision(subject_index, score, evidence)
