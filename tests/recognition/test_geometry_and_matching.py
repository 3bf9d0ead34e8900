"""Unit tests of the pure logic: boxes, scores, the watchlist index, the tracker."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openlfr.recognition import DEFAULT_THRESHOLD, EngineConfig, WatchlistIndex
from openlfr.recognition.faces import Box, FoundFace
from openlfr.recognition.matcher import (
    Calibration,
    score_from_standout,
    similarities_from_distances,
    standout_for_score,
)
from openlfr.recognition.tracker import ALERTED_CHECK_EVERY, FaceTracker, Sighting
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


def test_dlib_similarity_is_one_minus_distance_clipped() -> None:
    assert similarities_from_distances(np.array([0.0, 0.4, 0.6, 1.0, 1.3])).tolist() == (
        pytest.approx([1.0, 0.6, 0.4, 0.0, 0.0])
    )


DLIB = "dlib_face_recognition_resnet_model_v1:test"
ARCFACE = "mobilefacenet_arcface_512:test"


def _unit(rng: np.random.Generator, n: int, dim: int = 512) -> np.ndarray:
    rows = rng.normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _watchlist(rng: np.random.Generator, images_per_subject: list[int],
               model: str = DLIB) -> Watchlist:
    dim = 128 if model == DLIB else 512
    subjects = [
        Subject(
            f"s{i}",
            [EnrolledImage(f"{j}.jpg", "x", _unit(rng, 1, dim)[0]) for j in range(n)],
        )
        for i, n in enumerate(images_per_subject)
    ]
    return Watchlist(model, subjects)


@pytest.mark.parametrize("model", [DLIB, ARCFACE])
def test_index_compares_every_subject_by_its_best_image(model: str) -> None:
    rng = np.random.default_rng(1)
    watchlist = _watchlist(rng, [3, 1, 2], model)
    index = WatchlistIndex(watchlist)
    probes = _unit(rng, 5, watchlist.descriptor_dim)
    similarities = index.subject_similarities(probes)
    assert similarities.shape == (5, 3)
    for p, probe in enumerate(probes):
        for s, subject in enumerate(watchlist.subjects):
            if model == DLIB:  # 1 - L2, clipped to 0..1
                best = max(0.0, max(1 - np.linalg.norm(probe - d) for d in subject.descriptors))
            else:  # the cosine itself: the cohort statistics need the negative ones too
                best = max(float(probe @ d) for d in subject.descriptors)
            assert similarities[p, s] == pytest.approx(best, abs=1e-5)


def _brute_force_standout(similarities: np.ndarray, calibration: Calibration) -> float:
    best = int(similarities.argmax())
    others = np.delete(similarities, best).astype(np.float64)
    w = calibration.cohort_weight
    mean = (others.sum() + w * calibration.cohort_mean) / (len(others) + w)
    variance = (
        ((others - mean) ** 2).sum()
        + w * (calibration.cohort_sd**2 + (calibration.cohort_mean - mean) ** 2)
    ) / (len(others) + w)
    return float((similarities[best] - mean) / np.sqrt(variance))


@pytest.mark.parametrize("subjects", [1, 2, 20, 3000])
def test_the_decision_is_how_far_the_best_subject_stands_out_from_the_rest(subjects: int) -> None:
    rng = np.random.default_rng(subjects)
    index = WatchlistIndex(_watchlist(rng, [1] * subjects, ARCFACE))
    probes = _unit(rng, 4)
    similarities = index.subject_similarities(probes)
    for probe_similarities, found in zip(similarities, index.identify(probes), strict=True):
        assert found.subject_index == int(probe_similarities.argmax())
        shown = max(0.0, float(probe_similarities.max()))  # reported clipped to 0..1
        assert found.similarity == pytest.approx(shown, abs=1e-6)
        expected = _brute_force_standout(probe_similarities, index.calibration)
        assert found.standout == pytest.approx(expected, rel=1e-4, abs=1e-4)
        assert found.score == pytest.approx(
            float(score_from_standout(found.standout, index.calibration, subjects)), abs=1e-6
        )


@pytest.mark.parametrize("subjects", [1, 20, 5000])
def test_score_is_monotonic_in_standout_and_reaches_the_threshold_at_its_inverse(
    subjects: int,
) -> None:
    calibration = WatchlistIndex(_watchlist(np.random.default_rng(0), [1], ARCFACE)).calibration
    standouts = np.linspace(-3, 40, 200)
    scores = score_from_standout(standouts, calibration, subjects)
    assert (np.diff(scores) >= 0).all() and scores.min() >= 0.0 and scores.max() <= 1.0
    needed = standout_for_score(DEFAULT_THRESHOLD, calibration, subjects)
    assert float(score_from_standout(needed, calibration, subjects)) == pytest.approx(
        DEFAULT_THRESHOLD
    )
    assert float(score_from_standout(needed - 0.05, calibration, subjects)) < DEFAULT_THRESHOLD


def test_a_larger_watchlist_needs_a_face_to_stand_out_further() -> None:
    """The best of 5,000 strangers stands out further by chance than the best of 20: the
    same score needs more standout in a larger watchlist."""
    calibration = WatchlistIndex(_watchlist(np.random.default_rng(0), [1], ARCFACE)).calibration
    small = standout_for_score(DEFAULT_THRESHOLD, calibration, 20)
    large = standout_for_score(DEFAULT_THRESHOLD, calibration, 5000)
    assert large - small == pytest.approx(np.sqrt(2 * np.log(5000)) - np.sqrt(2 * np.log(20)))
    assert large > small + 1.5


@pytest.mark.parametrize("subjects", [20, 5000])
def test_an_enrolled_face_is_found_and_random_strangers_are_not_at_any_watchlist_size(
    subjects: int,
) -> None:
    rng = np.random.default_rng(7)
    watchlist = _watchlist(rng, [1] * subjects, ARCFACE)
    index = WatchlistIndex(watchlist)
    target = watchlist.subjects[subjects // 2].images[0].descriptor
    # The same person seen again: similarity about 0.7 (a good ArcFace match).
    seen = 0.7 * target + np.sqrt(1 - 0.7**2) * _unit(rng, 1)[0]
    found = index.identify(seen[None, :] / np.linalg.norm(seen))[0]
    assert found.subject_index == subjects // 2 and found.score >= DEFAULT_THRESHOLD
    strangers = index.identify(_unit(rng, 500))
    assert max(s.score for s in strangers) < DEFAULT_THRESHOLD


def test_a_face_like_everyone_stands_out_from_no_one() -> None:
    """A dark or blurred face is fairly similar to every subject: in a large watchlist its
    best similarity is high but it does not stand out, so it cannot alert."""
    rng = np.random.default_rng(4)
    watchlist = _watchlist(rng, [1] * 2000, ARCFACE)
    common = _unit(rng, 1)[0]
    for subject in watchlist.subjects:  # everyone shares a component (like lighting)
        d = 0.6 * common + 0.8 * subject.images[0].descriptor
        subject.images[0].descriptor = (d / np.linalg.norm(d)).astype(np.float32)
    index = WatchlistIndex(watchlist)
    found = index.identify(common[None, :])[0]
    assert found.similarity > 0.55  # plain similarity would have alerted
    assert found.score < DEFAULT_THRESHOLD


def test_index_build_is_linear_in_the_number_of_subjects() -> None:
    rng = np.random.default_rng(5)

    def build_seconds(n: int) -> float:
        rows = _unit(rng, n, 128)
        watchlist = Watchlist(
            DLIB, [Subject(f"s{i}", [EnrolledImage("a", "x", rows[i])]) for i in range(n)]
        )
        started = time.perf_counter()
        WatchlistIndex(watchlist)
        return time.perf_counter() - started

    build_seconds(1000)  # warm up
    # The best of three: on a machine busy with other work, the run least slowed by it.
    small = min(build_seconds(10_000) for _ in range(3))
    large = min(build_seconds(80_000) for _ in range(3))
    # Linear: 8x the subjects costs about 8x; the old quadratic build cost 64x.
    assert large < 20 * small + 0.05, (small, large)
    assert large < 2.0


def test_index_finds_an_enrolled_descriptor_with_a_high_score() -> None:
    rng = np.random.default_rng(2)
    watchlist = _watchlist(rng, [2, 2, 2])
    index = WatchlistIndex(watchlist)
    target = watchlist.subjects[2].images[1].descriptor
    found = index.identify(target[None, :] + 0.001)[0]
    assert index.subject_refs[found.subject_index] == "s2"
    assert found.score >= DEFAULT_THRESHOLD


def _face(x: int, quality: float = 100.0, width: int = 80) -> FoundFace:
    return FoundFace(Box(x, 50, x + width, 50 + width), CHIP, quality)


def _sighting(frame: int, descriptor: np.ndarray, quality: float = 100.0) -> Sighting:
    return Sighting(frame, frame / 30, Box(0, 0, 80, 80), CHIP, quality, descriptor)


def _observe(tracker: FaceTracker, track, frame: int, scores: list[float]):  # type: ignore[no-untyped-def]
    """Hand the tracker a described sighting (descriptor unused by these tests)."""
    return tracker.add_sighting(track, _sighting(frame, np.ones(4, np.float32)))


def test_a_moving_face_is_one_track_described_on_first_sight_then_every_k_frames() -> None:
    tracker = FaceTracker(EngineConfig(embed_every_frames=10))
    described = []
    for frame in range(30):
        for track, _ in tracker.update([_face(100 + 2 * frame)], still=False):
            described.append(frame)
            _observe(tracker, track, frame, [0.1])
    assert tracker.tracks_started == 1
    assert described == [0, 10, 20]


def test_a_small_face_crossing_fast_is_one_track_from_its_second_frame() -> None:
    # 33 px wide, 25 px a frame (a 1080p crowd crossed in 3 s): consecutive boxes overlap
    # by IoU 0.14, below track_min_iou; the first step is joined by nearness, then by
    # overlap with where the track's motion puts it.
    tracker = FaceTracker(EngineConfig())
    for frame in range(20):
        tracker.update([_face(100 + 25 * frame, width=33)], still=False)
    assert tracker.tracks_started == 1
    # It is also found again two frames later (a detection missed in between).
    tracker = FaceTracker(EngineConfig())
    tracker.update([_face(100, width=33)], still=False)
    tracker.update([], still=False)
    tracker.update([_face(150, width=33)], still=False)
    assert tracker.tracks_started == 1


def test_nearness_never_takes_a_face_from_the_track_it_overlaps() -> None:
    tracker = FaceTracker(EngineConfig())
    tracker.update([_face(100, width=40), _face(140, width=40)], still=False)  # side by side
    assert tracker.tracks_started == 2
    left, right = tracker.active
    tracker.update([_face(101, width=40), _face(141, width=40)], still=False)
    assert (left.box.left, right.box.left) == (101, 141)  # each keeps its own face
    assert tracker.tracks_started == 2


def test_a_face_seen_once_does_not_reach_a_face_too_far_or_of_another_size() -> None:
    tracker = FaceTracker(EngineConfig())
    tracker.update([_face(100, width=40)], still=False)
    tracker.update([_face(145, width=40)], still=False)  # moved more than its width
    assert tracker.tracks_started == 2
    tracker = FaceTracker(EngineConfig())
    tracker.update([_face(100, width=40)], still=False)
    tracker.update([_face(110, width=80)], still=False)  # twice the size: someone nearer
    assert tracker.tracks_started == 2
    # Once a track's motion is known it only continues where that motion puts it.
    tracker = FaceTracker(EngineConfig())
    for x in (100, 102, 104):
        tracker.update([_face(x, width=40)], still=False)
    tracker.update([_face(135, width=40)], still=False)
    assert tracker.tracks_started == 2


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


def test_a_track_decides_on_the_mean_of_its_best_sightings_not_on_one_frame() -> None:
    tracker = FaceTracker(EngineConfig(min_track_embeddings=2, fuse_best=2, track_memory=3))
    track = tracker.update([_face(100)], still=False)[0][0]
    # Three views of one face: alike (cosine 0.8 and 0.65 to the others), not the same.
    a, b, odd = (v / np.linalg.norm(v) for v in np.array(
        [[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.6, 0.6, 1.0]], np.float32))
    assert tracker.add_sighting(track, _sighting(0, a, quality=300)) is None  # 1 of 2
    track.describing += 1
    fused = tracker.add_sighting(track, _sighting(4, b, quality=200))
    assert fused is not None
    np.testing.assert_allclose(fused, (a + b) / np.linalg.norm(a + b), atol=1e-6)  # unit mean
    track.describing += 1
    # A worse (lower quality) odd frame is kept in memory but not fused.
    fused = tracker.add_sighting(track, _sighting(8, odd, quality=50))
    np.testing.assert_allclose(fused, (a + b) / np.linalg.norm(a + b), atol=1e-6)
    assert [s.frame_index for s in track.sightings] == [0, 4, 8]


def test_one_alert_per_track_and_only_at_the_threshold() -> None:
    tracker = FaceTracker(EngineConfig(threshold=0.6))
    track = tracker.update([_face(100)], still=False)[0][0]
    evidence = _sighting(0, np.ones(4, np.float32))
    assert tracker.decide(track, 0, 0.59, evidence) is None
    assert tracker.decide(track, -1, 0.9, evidence) is None  # an empty watchlist matches nobody
    decision = tracker.decide(track, 1, 0.6, evidence)
    assert decision is not None and decision.subject_index == 1 and decision.evidence is evidence
    assert tracker.decide(track, 1, 0.99, evidence) is None  # one alert per track
    assert tracker.update([_face(101)], still=False) == []  # and no more work on it


def test_a_broken_track_of_the_same_subject_does_not_alert_twice() -> None:
    tracker = FaceTracker(EngineConfig(repeat_alert_s=10.0))
    first = tracker.update([_face(100)], still=False)[0][0]
    assert tracker.decide(first, 3, 0.9, _sighting(30, np.ones(4, np.float32))) is not None
    for _ in range(12):  # the face is lost: the track ends
        tracker.update([], still=False)
    second = tracker.update([_face(100)], still=False)[0][0]
    assert second is not first
    assert tracker.decide(second, 3, 0.9, _sighting(90, np.ones(4, np.float32))) is None  # 2 s on
    assert tracker.decide(second, 4, 0.9, _sighting(90, np.ones(4, np.float32))) is None  # decided
    third = tracker.update([_face(400)], still=False)[0][0]
    assert tracker.decide(third, 4, 0.9, _sighting(95, np.ones(4, np.float32))) is not None
    fourth = tracker.update([_face(700)], still=False)[0][0]  # 20 s later: a new sighting
    assert tracker.decide(fourth, 3, 0.9, _sighting(30 + 600, np.ones(4, np.float32))) is not None


def _person(seed: int, dim: int = 512) -> np.ndarray:
    """A unit descriptor; two seeds are two people (cosine about 0 in 512 dimensions)."""
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def _view(person: np.ndarray, seed: int, noise: float = 0.8) -> np.ndarray:
    """Another view of `person`: cosine to them about 1 / sqrt(1 + noise**2)."""
    v = person + noise * _person(seed, len(person))
    return v / np.linalg.norm(v)


def _described(tracker: FaceTracker, frame: int, descriptor: np.ndarray):  # type: ignore[no-untyped-def]
    """Track a face at a fixed place on `frame`; hand back its description if asked."""
    pairs = tracker.update([_face(100)], still=False)
    track = tracker.active[0]
    if not pairs:
        return track, None
    return track, tracker.add_sighting(track, _sighting(frame, descriptor))


def test_a_track_that_takes_another_persons_face_goes_on_as_a_new_track() -> None:
    # Two people cross, or one leaves the frame where another enters: the boxes join, but
    # the second face looks no more like the first than strangers do.
    tracker = FaceTracker(EngineConfig(embed_every_frames=2))
    first, second = _person(1), _person(2)
    ids, fused = set(), None
    for frame in range(8):
        track, got = _described(tracker, frame, _view(first, 10 + frame))
        ids.add(track.id)
    assert tracker.tracks_split == 0 and len(ids) == 1  # its own views: cosine ~0.6
    for frame in range(8, 14):
        track, got = _described(tracker, frame, _view(second, 20 + frame))
        fused = got if got is not None else fused
    assert tracker.tracks_split == 1 and tracker.tracks_started == 2
    assert track.id not in ids
    assert all(s.frame_index >= 8 for s in track.sightings)  # no view of the first person
    assert float(fused @ second) > 0.75 and abs(float(fused @ first)) < 0.2


def test_one_odd_view_is_left_out_and_does_not_split_the_track() -> None:
    # A face half out of the frame, or blurred: unlike the track, and unlike the next view.
    tracker = FaceTracker(EngineConfig())
    track = tracker.update([_face(100)], still=False)[0][0]
    person = _person(1)
    tracker.add_sighting(track, _sighting(0, _view(person, 3)))
    track.describing += 4
    assert tracker.add_sighting(track, _sighting(4, _person(7))) is None  # held apart
    assert tracker.add_sighting(track, _sighting(8, _view(person, 4))) is not None
    assert tracker.add_sighting(track, _sighting(12, _person(8))) is None
    assert tracker.add_sighting(track, _sighting(16, _person(9))) is None  # unlike each other
    assert tracker.tracks_split == 0
    assert sorted(s.frame_index for s in track.sightings) == [0, 8]  # odd views not fused


def test_a_view_described_before_the_split_is_not_the_new_persons() -> None:
    # Descriptions come back out of order (two workers): a view of the first person that
    # arrives after the track became the second person's is dropped, not split again.
    tracker = FaceTracker(EngineConfig())
    track = tracker.update([_face(100)], still=False)[0][0]
    tracker.add_sighting(track, _sighting(0, _view(_person(1), 3)))
    track.describing += 3
    tracker.add_sighting(track, _sighting(8, _view(_person(2), 4)))
    tracker.add_sighting(track, _sighting(12, _view(_person(2), 5)))
    assert tracker.tracks_split == 1 and track.since_frame == 8
    assert tracker.add_sighting(track, _sighting(4, _view(_person(1), 6))) is None
    assert tracker.tracks_split == 1
    assert sorted(s.frame_index for s in track.sightings) == [8, 12]


def test_an_alerted_track_is_looked_at_again_and_the_next_face_can_alert() -> None:
    every = 2
    tracker = FaceTracker(EngineConfig(embed_every_frames=every, repeat_alert_s=0.0))
    first, second = _person(1), _person(2)
    track, _ = _described(tracker, 0, _view(first, 1))
    assert tracker.decide(track, 0, 0.9, track.sightings[0]) is not None
    looked = []
    for frame in range(1, 20):  # still the same person: looked at, never alerted again
        track, got = _described(tracker, frame, _view(first, 100 + frame))
        if track.last_described_step == frame + 1:
            looked.append(frame)
        assert got is None
    interval = ALERTED_CHECK_EVERY * every
    assert len(looked) >= 2 and looked == list(range(interval, 20, interval))
    assert tracker.tracks_split == 0 and len(track.sightings) == 1
    track.score = 0.9  # as the pipeline recorded it for the first person
    fused = None
    for frame in range(20, 20 + interval + 1):  # someone else's face now
        track, got = _described(tracker, frame, _view(second, 200 + frame))
        fused = got if got is not None else fused
    assert tracker.tracks_split == 1 and not track.alerted and fused is not None
    assert track.score is None  # the new face's score is its own, once identified
    decision = tracker.decide(track, 1, 0.9, track.sightings[0])
    assert decision is not None and decision.evidence.frame_index >= 20


def test_dlib_descriptors_are_told_apart_on_their_own_metric() -> None:
    # dlib's 128-D descriptors are not unit length: the check uses 1 - L2 distance, and
    # the same person's views (distance 0.4) stay one track; a stranger's (1.0) does not.
    tracker = FaceTracker(EngineConfig(), metric="l2")
    track = tracker.update([_face(100)], still=False)[0][0]
    base = 0.5 * _person(1, 128)
    tracker.add_sighting(track, _sighting(0, base))
    track.describing += 3
    tracker.add_sighting(track, _sighting(4, base + 0.4 * _person(2, 128)))
    stranger = base + 1.0 * _person(3, 128)
    tracker.add_sighting(track, _sighting(8, stranger))
    assert tracker.tracks_split == 0
    tracker.add_sighting(track, _sighting(12, stranger + 0.3 * _person(4, 128)))
    assert tracker.tracks_split == 1


def test_a_still_photo_decides_on_one_description() -> None:
    tracker = FaceTracker(EngineConfig(min_track_embeddings=2))
    track = tracker.update([_face(100)], still=True)[0][0]
    assert tracker.add_sighting(track, _sighting(0, np.ones(4, np.float32))) is not None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": 1.5},
        {"threshold": -0.1},
        {"workers": -1},
        {"detect_max_px": 10},
        {"embed_every_frames": 0},
        {"full_detection_every": 0},
        {"full_detection_every_small": 0},
    ],
)
def test_config_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        EngineConfig(**kwargs)  # type: ignore[arg-type]


def test_auto_detector_is_the_default_small_cnn_for_live_sources_and_files() -> None:
    from openlfr.recognition.backends import resolve_detector

    assert resolve_detector("auto") == "ultralight"
    assert resolve_detector("hog") == "hog"
    assert resolve_detector("cnn") == "cnn"
