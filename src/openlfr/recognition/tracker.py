"""Tracking: one person walking past is one track, described a few times, not every frame.

Detections are joined to tracks by box overlap (greedy, best IoU first). Gaps and
intervals count frames the tracker looked at, not source frames: when a live source
drops frames under load, a person in view is still the same track. A track is
described when it is first seen, when its face is clearly better (larger or sharper)
than any it was described with, and at least every K frames. Its decision uses several
descriptors: the mean of its best few scores for a subject, so one odd frame can
neither raise nor hide an alert on its own.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from openlfr.recognition.config import EngineConfig
from openlfr.recognition.faces import Box, FoundFace, RGBImage


@dataclass
class Observation:
    """One described sighting of a track, kept only while the track lives."""

    frame_index: int
    timestamp_s: float
    box: Box
    chip: RGBImage
    subject_scores: np.ndarray


@dataclass
class Track:
    id: int
    box: Box
    still: bool
    last_seen_step: int
    last_described_step: int = -(10**9)
    best_described_quality: float = 0.0
    descriptions: int = 0
    describing: int = 0
    """Descriptions requested and not yet back."""
    alerted: bool = False
    recent: deque[Observation] = field(default_factory=deque)


@dataclass(frozen=True)
class TrackDecision:
    subject_index: int
    score: float
    evidence: Observation
    """The sighting that scored best for the subject (its chip is the probe crop)."""


class FaceTracker:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.active: list[Track] = []
        self.tracks_started = 0
        self._ids = itertools.count(1)
        self._step = 0
        """Frames looked at so far."""

    def update(self, faces: list[FoundFace], still: bool) -> list[tuple[Track, FoundFace]]:
        """Join this frame's faces to tracks; return the (track, face) pairs to describe."""
        self._step += 1
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
                track = Track(
                    id=next(self._ids), box=face.box, still=still, last_seen_step=self._step
                )
                track.recent = deque(maxlen=self.config.track_window)
                self.active.append(track)
                self.tracks_started += 1
            track.box = face.box
            track.last_seen_step = self._step
            if self._should_describe(track, face):
                track.last_described_step = self._step
                track.best_described_quality = max(track.best_described_quality, face.quality)
                track.describing += 1
                to_describe.append((track, face))
        return to_describe

    def _associate(self, faces: list[FoundFace]) -> dict[int, Track]:
        candidates = sorted(
            (
                (face.box.iou(track.box), fi, ti)
                for fi, face in enumerate(faces)
                for ti, track in enumerate(self.active)
            ),
            reverse=True,
        )
        joined: dict[int, Track] = {}
        used_tracks: set[int] = set()
        for iou, fi, ti in candidates:
            if iou < self.config.track_min_iou:
                break
            if fi in joined or ti in used_tracks:
                continue
            joined[fi] = self.active[ti]
            used_tracks.add(ti)
        return joined

    def _should_describe(self, track: Track, face: FoundFace) -> bool:
        if track.alerted:
            return False  # one alert per track; no more work on it
        if track.descriptions == 0 and track.describing == 0:
            return True
        if face.quality >= self.config.better_face_ratio * track.best_described_quality:
            return True
        return self._step - track.last_described_step >= self.config.embed_every_frames

    def decide(self, track: Track, observation: Observation) -> TrackDecision | None:
        """Record a described sighting; return an alert decision the first time the track's
        score for some subject reaches the threshold."""
        track.describing -= 1
        track.descriptions += 1
        track.recent.append(observation)
        if track.alerted or observation.subject_scores.size == 0:
            return None
        needed = 1 if track.still else self.config.min_track_embeddings
        if len(track.recent) < needed:
            return None
        scores = np.stack([o.subject_scores for o in track.recent])  # (sightings, subjects)
        top = -np.sort(-scores, axis=0)[:needed]
        track_scores = top.mean(axis=0)
        subject = int(track_scores.argmax())
        if track_scores[subject] < self.config.threshold:
            return None
        track.alerted = True
        best = max(track.recent, key=lambda o: float(o.subject_scores[subject]))
        return TrackDecision(subject, float(track_scores[subject]), best)
