"""Unit tests of the pure logic: boxes, scores, the watchlist index, the tracker."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openlfr.recognition import EngineConfig, WatchlistIndex
from openlfr.recognition.faces import Box, FoundFace
from openlfr.recognition.matcher import scores_from_distances
from openlfr.recognition.tracker import FaceTracker, Observation
from openlfr.recognition.watchlist import EnrolledImage, Subject, Watchlist

CHIP = np.zeros((150, 150, 3), np.uint8)

boxes = st.builds(
    lambda x, y, w, h: Box(x, y, x + w, y + h),
    st.integers(0, 500),
    st.integers(0, 500),
    st.integers(1, 300),
    st.integers(1, 300),
)


@given(boxes, boxes)
def test_iou_is_symmetric_and_bounded(a: Box, b: Box) -> None:
    assert a.iou(b) == pytest.approx(b.iou(a))
    assert 0.0 <= a.iou(b) <= 1.0
    assert a.iou(a) == pytest.approx(1.0)


def test_iou_of_known_boxes() -> None:
    assert Box(0, 0, 10, 10).iou(Box(5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert Box(0, 0, 10, 10).iou(Box(10, 10, 20, 20)) == 0.0


def test_score_is_one_minus_distance_clipped() -> None:
    assert scores_from_distances(np.array([0.0, 0.4, 0.6, 1.0, 1.3])).tolist() == pytest.approx(
        [1.0, 0.6, 0.4, 0.0, 0.0]
    )


def _watchlist(rng: np.random.Generator, images_per_subject: list[int]) -> Watchlist:
    subjects = [
        Subject(
            f"s{i}",
            [
                EnrolledImage(f"{j}.jpg", "x", rng.normal(size=128).astype(np.float32))
                for j in range(n)
            ],
        )
        for i, n in enumerate(images_per_subject)
    ]
    return Watchlist("model", subjects)


def test_index_scores_every_subject_by_its_best_image() -> None:
    rng = np.random.default_rng(1)
    watchlist = _watchlist(rng, [3, 1, 2])
    index = WatchlistIndex(watchlist)
    probes = rng.normal(size=(5, 128)).astype(np.float32)
    scores = index.subject_scores(probes)
    assert scores.shape == (5, 3)
    for p, probe in enumerate(probes):
        for s, subject in enumerate(watchlist.subjects):
            best = max(1 - np.linalg.norm(probe - d) for d in subject.descriptors)
            assert scores[p, s] == pytest.approx(max(0.0, best), abs=1e-5)


def test_index_finds_an_enrolled_descriptor_with_score_one() -> None:
    rng = np.random.default_rng(2)
    watchlist = _watchlist(rng, [2, 2, 2])
    index = WatchlistIndex(watchlist)
    target = watchlist.subjects[2].images[1].descriptor
    match = index.best_matches(target[None, :] + 0.001)[0]
    assert match.subject_ref == "s2"
    assert match.score > 0.98


def _face(x: int, quality: float = 100.0, width: int = 80) -> FoundFace:
    return FoundFace(Box(x, 50, x + width, 50 + width), CHIP, quality)


def _observe(tracker: FaceTracker, track, frame: int, scores: list[float]):  # type: ignore[no-untyped-def]
    return tracker.decide(
        track, Observation(frame, frame / 30, track.box, CHIP, np.asarray(scores, np.float32))
    )


def test_a_moving_face_is_one_track_described_on_first_sight_then_every_k_frames() -> None:
    tracker = FaceTracker(EngineConfig(embed_every_frames=10))
    described = []
    for frame in range(30):
        for track, _ in tracker.update([_face(100 + 2 * frame)], still=False):
            described.append(frame)
            _observe(tracker, track, frame, [0.1])
    assert tracker.tracks_started == 1
    assert described == [0, 10, 20]


def test_a_clearly_better_face_is_described_again_early() -> None:
    tracker = FaceTracker(EngineConfig(embed_every_frames=100, better_face_ratio=1.5))
    first = tracker.update([_face(100, quality=100)], still=False)
    _observe(tracker, first[0][0], 0, [0.1])
    assert tracker.update([_face(101, quality=120)], still=False) == []
    assert len(tracker.update([_face(102, quality=200)], still=False)) == 1


def test_two_people_far_apart_are_two_tracks_and_a_gap_ends_a_track() -> None:
    config = EngineConfig(track_max_missed_frames=5)
    tracker = FaceTracker(config)
    tracker.update([_face(0), _face(400)], still=False)
    assert tracker.tracks_started == 2
    for _ in range(5):
        tracker.update([_face(400)], still=False)
    tracker.update([_face(0)], still=False)  # missed 5 frames: still the same person
    assert tracker.tracks_started == 2
    for _ in range(6):
        tracker.update([_face(400)], still=False)
    tracker.update([_face(0)], still=False)  # missed 6 frames: a new track
    assert tracker.tracks_started == 3


def test_one_high_frame_is_not_enough_the_decision_is_the_mean_of_the_best_scores() -> None:
    tracker = FaceTracker(EngineConfig(threshold=0.6, min_track_embeddings=2, track_window=4))
    track = tracker.update([_face(100)], still=False)[0][0]
    assert _observe(tracker, track, 0, [0.9, 0.1]) is None
    track.describing += 1
    assert _observe(tracker, track, 10, [0.2, 0.1]) is None  # (0.9 + 0.2) / 2 = 0.55 < 0.6
    track.describing += 1
    decision = _observe(tracker, track, 20, [0.5, 0.3])  # (0.9 + 0.5) / 2 = 0.70 >= 0.6
    assert decision is not None
    assert decision.subject_index == 0
    assert decision.score == pytest.approx(0.7)
    assert decision.evidence.frame_index == 0  # the best sighting is the probe
    track.describing += 1
    assert _observe(tracker, track, 30, [0.9, 0.9]) is None  # one alert per track


def test_a_still_photo_decides_on_one_description() -> None:
    tracker = FaceTracker(EngineConfig(threshold=0.5, min_track_embeddings=2))
    track = tracker.update([_face(100)], still=True)[0][0]
    decision = _observe(tracker, track, 0, [0.2, 0.7])
    assert decision is not None and decision.subject_index == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": 1.5},
        {"threshold": -0.1},
        {"workers": -1},
        {"detect_max_px": 10},
        {"embed_every_frames": 0},
    ],
)
def test_config_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        EngineConfig(**kwargs)  # type: ignore[arg-type]


def test_auto_detector_is_the_cnn_for_live_sources_and_hog_for_files() -> None:
    from openlfr.recognition.backends import resolve_detector

    assert resolve_detector("auto", live=True) == "cnn"
    assert resolve_detector("auto", live=False) == "hog"
    assert resolve_detector("hog", live=True) == "hog"
    assert resolve_detector("cnn", live=False) == "cnn"
