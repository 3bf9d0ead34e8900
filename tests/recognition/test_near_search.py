"""Where the engine's time goes: frames between whole-frame searches searched only near
the tracked faces; tracks that keep moving while unseen; only views that can change a
decision described; the descriptor graph without its slow PRelu."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from openlfr.recognition import EngineConfig, FaceAnalyzer, Watcher, Watchlist
from openlfr.recognition import pipeline as pipeline_module
from openlfr.recognition.analyzer import FaceSearch
from openlfr.recognition.faces import Box, FoundFace
from openlfr.recognition.images import read_image
from openlfr.recognition.sources import Frame, PacedVideoSource, VideoFileSource, open_source
from openlfr.recognition.tracker import NEAR_SEARCH_STEPS, FaceTracker, Sighting
from openlfr.samples import CLIP_PERFORMER, misnamed

from .conftest import CLIP, GROUPS

CHIP = np.zeros((112, 112, 3), np.uint8)
LOOK = {"min_face_px": 32, "max_px": 1280}


def _grown(box: Box, by: float) -> Box:
    d = round(max(box.width, box.height) * by)
    return Box(box.left - d, box.top - d, box.right + d, box.bottom + d)


@pytest.fixture(scope="module")
def group_photo() -> np.ndarray:
    return read_image(GROUPS / "two_people.jpg")


def test_a_region_around_a_face_finds_the_box_the_whole_frame_search_finds(
    analyzer: FaceAnalyzer, group_photo: np.ndarray
) -> None:
    whole = analyzer.locate_faces(group_photo, **LOOK).faces
    assert len(whole) >= 2
    near = analyzer.locate_faces_near(
        group_photo, [_grown(f.box, 0.5) for f in whole], **LOOK).faces
    assert len(near) == len(whole)
    for face in whole:
        best = max(near, key=lambda n: n.box.iou(face.box))
        assert best.box.iou(face.box) > 0.5  # the same face (the usual detection match)
        assert best.quality > 0


def test_a_face_cut_by_its_region_is_left_for_the_whole_frame_search(
    analyzer: FaceAnalyzer, group_photo: np.ndarray
) -> None:
    face = analyzer.locate_faces(group_photo, **LOOK).faces[0].box
    grown = _grown(face, 0.5)
    left_half = Box(grown.left, grown.top, (face.left + face.right) // 2, grown.bottom)
    near = analyzer.locate_faces_near(group_photo, [left_half], **LOOK).faces
    assert all(n.box.iou(face) < 0.3 for n in near)


@pytest.mark.parametrize("photo", ["two_people.jpg", "selfie-many-people.jpg"])
def test_a_face_whole_in_one_region_and_cut_by_another_counts_once_whole(
    analyzer: FaceAnalyzer, photo: str
) -> None:
    """Overlapping regions, one holding a face whole and one cutting it (0.6-0.9 of its
    width kept, either side, either region first): the detector's box for the cut face can
    stop short of the cut (half faces at IoU 0.2-0.8 with the whole face, measured), so
    IoU alone let it through as a second face, which started a track of its own."""
    image = read_image(GROUPS / photo)
    tried = 0
    for face in (f.box for f in analyzer.locate_faces(image, **LOOK).faces):
        d = round(max(face.width, face.height) * 0.5)
        whole = _grown(face, 0.5)
        if not any(n.box.iou(face) > 0.5
                   for n in analyzer.locate_faces_near(image, [whole], **LOOK).faces):
            continue  # a face only the whole frame's context shows (one, at a photo's edge)
        tried += 1
        for share in (0.6, 0.7, 0.8, 0.9):
            keep = round(share * face.width)
            for cut in (Box(face.left - d, face.top - d, face.left + keep, face.bottom + d),
                        Box(face.right - keep, face.top - d, face.right + d, face.bottom + d)):
                for regions in ([whole, cut], [cut, whole]):
                    near = analyzer.locate_faces_near(image, regions, **LOOK).faces
                    on_face = [n.box for n in near if n.box.intersection(face) > 0]
                    assert len(on_face) == 1, (face, share, regions, on_face)
                    assert on_face[0].iou(face) > 0.5
    assert tried >= 2


def test_box_overlap_of_the_smaller() -> None:
    outer, inner = Box(0, 0, 100, 100), Box(10, 10, 50, 50)
    assert outer.overlap_of_smaller(inner) == inner.overlap_of_smaller(outer) == 1.0
    assert outer.iou(inner) == pytest.approx(0.16)
    assert Box(0, 0, 10, 10).overlap_of_smaller(Box(5, 0, 25, 10)) == 0.5
    assert Box(0, 0, 10, 10).overlap_of_smaller(Box(10, 0, 20, 10)) == 0.0
    assert Box(0, 0, 10, 10).intersection(Box(20, 20, 30, 30)) == 0


def test_overlapping_regions_count_a_face_once_and_no_region_finds_nothing(
    analyzer: FaceAnalyzer, group_photo: np.ndarray
) -> None:
    face = analyzer.locate_faces(group_photo, **LOOK).faces[0].box
    twice = analyzer.locate_faces_near(
        group_photo, [_grown(face, 0.5), _grown(face, 0.8)], **LOOK).faces
    assert len([n for n in twice if n.box.iou(face) > 0.5]) == 1
    assert analyzer.locate_faces_near(group_photo, [], **LOOK).faces == []


def _face(x: int, quality: float = 100.0, width: int = 40, y: int = 50) -> FoundFace:
    return FoundFace(Box(x, y, x + width, y + width), CHIP, quality)


def test_a_track_unseen_for_a_few_frames_is_expected_where_its_speed_takes_it() -> None:
    tracker = FaceTracker(EngineConfig())
    for x in (100, 115, 130):  # 15 px a frame, faces 40 px wide
        tracker.update([_face(x)], still=False)
    for _ in range(3):
        tracker.update([], still=False)  # hidden behind someone for three frames
    tracker.update([_face(190)], still=False)  # four steps on: the same person
    assert tracker.tracks_started == 1


def test_frames_a_live_source_dropped_carry_a_face_on_as_far_as_they_would_have() -> None:
    """Under load a live source drops frames: the tracker is told each frame's index, and
    expects a face as far on as the frames that passed carried it."""
    tracker = FaceTracker(EngineConfig())
    for frame in (0, 1, 2):  # 15 px a frame, faces 40 px wide
        tracker.update([_face(100 + 15 * frame)], still=False, frame=frame)
    (region,) = tracker.regions_ahead(8)  # frames 3-7 dropped: expected at 220
    assert region.left < 220 and region.right > 260
    tracker.update([_face(220)], still=False, frame=8)
    assert tracker.tracks_started == 1
    for frame in (14, 20):  # every sixth frame looked at: still one person
        tracker.update([_face(100 + 15 * frame)], still=False, frame=frame)
    assert tracker.tracks_started == 1
    # Counted in frames looked at, as it was (a frame index of None: the next frame),
    # the dropped frames would have left the face 5 frames behind where it is.
    steps = FaceTracker(EngineConfig())
    for x in (100, 115, 130, 220):
        steps.update([_face(x)], still=False)
    assert steps.tracks_started == 2


def test_a_face_seen_once_may_have_moved_as_far_as_the_frames_dropped_since_allow() -> None:
    tracker = FaceTracker(EngineConfig())
    tracker.update([_face(100, width=33)], still=False, frame=0)
    tracker.update([_face(175, width=33)], still=False, frame=3)  # 25 px a frame
    assert tracker.tracks_started == 1
    tracker = FaceTracker(EngineConfig())
    tracker.update([_face(100, width=33)], still=False, frame=0)
    tracker.update([_face(175, width=33)], still=False, frame=1)  # 75 px in one frame
    assert tracker.tracks_started == 2


def test_regions_follow_the_tracks_and_leave_the_lost_and_the_photos() -> None:
    tracker = FaceTracker(EngineConfig())
    tracker.update([_face(100), _face(600)], still=False)
    # Seen once, motion unknown: grown by the face's size on every side.
    assert sorted(tracker.regions_ahead(), key=lambda r: r.left) == [
        Box(60, 10, 180, 130), Box(560, 10, 680, 130)]
    tracker.update([_face(120)], still=False)  # one moves 20 px a frame; one is not seen
    moving, lost = sorted(tracker.regions_ahead(), key=lambda r: r.left)
    # Expected at 140 one frame on, grown by half its size and half its move.
    assert moving == Box(140 - 30, 50 - 30, 180 + 30, 90 + 30)
    assert lost.left < 600 < lost.right
    for _ in range(NEAR_SEARCH_STEPS):
        tracker.update([_face(140 + 20 * _)], still=False)
    assert len(tracker.regions_ahead()) == 1  # the other is left to the whole frame
    photos = FaceTracker(EngineConfig())
    photos.update([_face(100)], still=True)
    assert photos.regions_ahead() == []


def test_a_face_that_cannot_join_the_fused_views_is_not_described() -> None:
    tracker = FaceTracker(EngineConfig(embed_every_frames=1, fuse_best=2, track_memory=3))
    track = tracker.update([_face(100, quality=100)], still=False)[0][0]
    unit = np.ones(4, np.float32) / 2
    for frame, quality in ((0, 100.0), (1, 90.0)):
        if frame:
            assert tracker.update([_face(100, quality=quality)], still=False)
        tracker.add_sighting(track, Sighting(frame, frame / 30, track.box, CHIP, quality, unit))
    # The second-best view fused has quality 90: a face of 80 could not replace it...
    assert tracker.update([_face(100, quality=80)], still=False) == []
    # ...one of 95 could, so it is described.
    assert len(tracker.update([_face(100, quality=95)], still=False)) == 1


@pytest.mark.parametrize(("score", "every"), [(0.05, 8), (0.19, 8), (0.2, 4), (0.9, 4)])
def test_a_track_like_no_one_on_the_watchlist_is_described_half_as_often(
    score: float, every: int
) -> None:
    """Once its best views are fused, a track scoring under describe_less_below (0.2) is
    described every 8 frames instead of 4; one that might be someone, every 4; before
    its views are fused, any track every 4."""
    unit = np.ones(4, np.float32) / 2

    def steps_described(views: int) -> list[int]:
        tracker = FaceTracker(EngineConfig(fuse_best=2, track_memory=3))
        track = tracker.update([_face(100)], still=False)[0][0]
        for frame in range(views):
            tracker.add_sighting(track, Sighting(frame, 0.0, track.box, CHIP, 100.0, unit))
        track.score = score  # as the pipeline records it after identifying the fused view
        # Faces a little better than the fused ones (they could join them), not clearly.
        return [step for step in range(1, 17)
                if tracker.update([_face(100, quality=110.0)], still=False)]

    assert steps_described(2) == list(range(every, 17, every))
    assert steps_described(1) == [4, 8, 12, 16]
    tracker = FaceTracker(EngineConfig(fuse_best=2, track_memory=3))
    track = tracker.update([_face(100)], still=False)[0][0]
    for frame in (0, 1):
        tracker.add_sighting(track, Sighting(frame, 0.0, track.box, CHIP, 100.0, unit))
    track.score = score
    # A clearly better face is described at once, however low the score.
    assert tracker.update([_face(100, quality=200.0)], still=False)


def test_while_behind_a_track_is_described_less_often_but_a_better_face_at_once() -> None:
    """The pipeline sets the tracker's ``slower`` to shed_when_behind while it is behind a
    live source: periodic descriptions come that many times further apart; a new track's
    first view and a clearly better face are described at once as ever."""
    unit = np.ones(4, np.float32) / 2

    def steps_described(slower: int, quality: float) -> list[int]:
        tracker = FaceTracker(EngineConfig(fuse_best=2, track_memory=3))
        tracker.slower = slower
        assert tracker.update([_face(100)], still=False)  # a new track: at once
        track = tracker.active[0]
        tracker.add_sighting(track, Sighting(0, 0.0, track.box, CHIP, 100.0, unit))
        described = []
        for step in range(1, 17):
            if tracker.update([_face(100, quality=quality)], still=False):
                described.append(step)
                tracker.add_sighting(track, Sighting(step, 0.0, track.box, CHIP, 100.0, unit))
        return described

    assert steps_described(1, 110.0) == [4, 8, 12, 16]
    assert steps_described(2, 110.0) == [8, 16]
    assert steps_described(2, 200.0)[0] == 1  # clearly better than any described: at once


def test_the_pipeline_records_each_tracks_score_for_the_describing_rule(
    sample_watchlist: Watchlist, analyzer: FaceAnalyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every fused descriptor's score lands on its track, alert or not, so the tracker
    knows which tracks look like no one (the clip: the performer and passers-by)."""
    scores: list[float | None] = []
    original = FaceTracker._should_describe

    def spy(self: FaceTracker, track: object, face: FoundFace) -> bool:
        scores.append(track.score)  # type: ignore[attr-defined]
        return original(self, track, face)  # type: ignore[arg-type]

    monkeypatch.setattr(FaceTracker, "_should_describe", spy)
    watcher = Watcher(sample_watchlist, EngineConfig(workers=0), analyzer)
    list(watcher.run(open_source(str(CLIP))))
    known = [s for s in scores if s is not None]
    assert known and all(0.0 <= s <= 1.0 for s in known)
    assert min(known) < 0.2  # someone on the clip looks like no one on the watchlist


def test_on_video_the_frames_between_whole_searches_are_searched_near_the_tracks(
    sample_watchlist: Watchlist, analyzer: FaceAnalyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"whole": 0, "near": 0}

    def counted(name: str, task: Callable[..., object]) -> Callable[..., object]:
        def run(*args: object) -> object:
            calls[name] += 1
            return task(*args)
        return run

    monkeypatch.setattr(pipeline_module, "locate_task",
                        counted("whole", pipeline_module.locate_task))
    monkeypatch.setattr(pipeline_module, "locate_near_task",
                        counted("near", pipeline_module.locate_near_task))
    # The clip is 640x360: a long side of 480 makes it "larger than detect_max_px" (the
    # detection scale, set by min_face_px, stays the same); at 640 full_detection_every_small
    # rules it.
    for every, small, max_px in ((1, 1, 480), (3, 1, 480), (3, 1, 640), (3, 2, 640)):
        calls.update(whole=0, near=0)
        config = EngineConfig(workers=2, full_detection_every=every, detect_max_px=max_px,
                              full_detection_every_small=small)
        watcher = Watcher(sample_watchlist, config, analyzer)
        alerts = list(watcher.run(open_source(str(CLIP))))
        assert alerts[0].subject == CLIP_PERFORMER
        assert not misnamed((a.subject, a.frame) for a in alerts)
        assert watcher.counters.frames_processed == 275
        cpu = watcher.stage_cpu  # each stage's CPU goes to its own stage
        assert cpu.decode_s > 0 and cpu.search_whole_s > 0 and cpu.describe_s > 0
        assert cpu.track_match_s > 0
        per_frame = cpu.per_frame_ms(275)
        assert per_frame["total"] == pytest.approx(
            sum(v for k, v in per_frame.items() if k != "total"), abs=0.05)
        assert per_frame["describe"] == pytest.approx(1000 * cpu.describe_s / 275, abs=0.01)
        n = every if max_px < 640 else small
        if n == 1:
            assert calls == {"whole": 275, "near": 0}
            assert cpu.search_near_s == 0.0
        else:
            # One frame in n whole; between them near the tracks, or whole again
            # where the performer's face near the camera fills much of the frame.
            assert calls["near"] > 0
            assert calls["whole"] + calls["near"] <= 275
            assert calls["whole"] >= -(-275 // n)
            assert cpu.search_near_s > 0


def test_a_live_source_that_falls_behind_searches_and_describes_less_often_until_caught_up(
    sample_watchlist: Watchlist, analyzer: FaceAnalyzer
) -> None:
    watcher = Watcher(sample_watchlist, EngineConfig(workers=0, queue_frames=8), analyzer)
    hd, full_hd = (Frame(0, 0.0, np.zeros(shape, np.uint8))
                   for shape in ((720, 1280, 3), (1080, 1920, 3)))
    cadence = lambda: (watcher._full_every(hd) * watcher._shed(),  # noqa: E731
                       watcher._full_every(full_hd) * watcher._shed())
    nothing = FaceSearch(faces=[], too_small=0)
    assert cadence() == (1, 3)  # as shipped: 720p whole on every frame, 1080p one in 3
    watcher._note_backlog(3)
    assert cadence() == (1, 3)  # a few frames waiting is not behind
    watcher._note_backlog(4)  # half the queue: behind
    assert cadence() == (2, 6)
    assert (watcher._full_every(hd), watcher._full_every(full_hd)) == (1, 3)  # kept up
    watcher._track(hd, nothing)
    assert watcher.tracker.slower == 2  # tracks described half as often too
    watcher._note_backlog(1)
    assert cadence() == (2, 6)  # still behind until nothing waits
    watcher._note_backlog(0)
    assert cadence() == (1, 3)
    watcher._track(hd, nothing)
    assert watcher.tracker.slower == 1
    never = Watcher(sample_watchlist, EngineConfig(workers=0, shed_when_behind=1), analyzer)
    never._note_backlog(8)
    assert never._shed() == 1
    with pytest.raises(ValueError, match="shed_when_behind"):
        EngineConfig(shed_when_behind=0)


def test_an_engine_too_slow_for_its_camera_sheds_whole_frame_searches_before_dropping(
    sample_watchlist: Watchlist, analyzer: FaceAnalyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clip (640x360: every frame searched whole as shipped) delivered as a camera at
    100 frames a second to an engine whose whole-frame search is made to take 30 ms (two
    workers: at most 66 whole searches a second). Shedding searches near the tracks instead
    while it is behind; without it, frames are dropped. A file is never behind."""
    calls = {"whole": 0, "near": 0}
    whole_task, near_task = pipeline_module.locate_task, pipeline_module.locate_near_task

    def slow_whole(*args: object) -> object:
        calls["whole"] += 1
        time.sleep(0.03)
        return whole_task(*args)

    def near(*args: object) -> object:
        calls["near"] += 1
        return near_task(*args)

    monkeypatch.setattr(pipeline_module, "locate_task", slow_whole)
    monkeypatch.setattr(pipeline_module, "locate_near_task", near)
    runs = {}
    for label, shed, source in (("shed", 2, PacedVideoSource(CLIP, 100.0)),
                                ("drop", 1, PacedVideoSource(CLIP, 100.0)),
                                ("file", 2, VideoFileSource(CLIP))):
        calls.update(whole=0, near=0)
        watcher = Watcher(sample_watchlist, EngineConfig(workers=2, shed_when_behind=shed),
                          analyzer)
        alerts = [a.subject for a in watcher.run(source)]
        c = watcher.counters
        assert c.frames == 275 and c.frames_processed + c.frames_dropped == 275
        runs[label] = (alerts, c, dict(calls))
    alerts, c, searches = runs["shed"]
    assert c.frames_near_behind > 0 and searches["near"] > 0  # (no track: nothing to search)
    assert alerts == ["lin_manuel_miranda"]
    dropped_alerts, dropped, searches = runs["drop"]
    assert dropped.frames_near_behind == 0 and searches["near"] == 0
    assert dropped.frames_dropped > c.frames_dropped
    file_alerts, on_file, searches = runs["file"]
    assert on_file.frames_dropped == 0 and on_file.frames_near_behind == 0
    assert searches == {"whole": 275, "near": 0} and file_alerts == ["lin_manuel_miranda"]


SHIPPED_INPUT = {"w600k": (127.5, 127.5, "RGB"), "mobilefacenet": (127.0, 128.0, "BGR")}
"""How each network was trained to be fed: (x - mean) / deviation, channel order (from its
publishers' code, not from ours)."""


@pytest.mark.parametrize("descriptor", sorted(SHIPPED_INPUT))
def test_the_descriptor_graph_gives_what_the_shipped_network_gives(
    analyzer: FaceAnalyzer, group_photo: np.ndarray, descriptor: str
) -> None:
    """Our graph takes RGB chips in batches, with PRelu written as products, Relu and sums,
    w600k's grouped convolution cut into depthwise ones, any BGR swap folded into the first
    convolution and no subnormal weight (slow on a CPU): the
    same descriptors as the shipped graph run on its own input (NCHW, one chip at a time,
    then made unit length)."""
    import onnx
    import onnxruntime
    from onnx import numpy_helper

    from openlfr.recognition.arcface import NETWORKS, ArcFaceDescriber, cached_describer_model

    network = NETWORKS[descriptor]
    faces = analyzer.locate_faces(group_photo, **LOOK).faces
    chips = [chip for chip, _ in analyzer.backends.aligner.align(
        group_photo, [f.box for f in faces])]
    ours = ArcFaceDescriber(network).describe(chips)
    graph = onnx.load(str(cached_describer_model(network))).graph
    assert not any(n.op_type == "PRelu" for n in graph.node)
    for node in graph.node:
        if node.op_type == "Conv":
            groups = next((a.i for a in node.attribute if a.name == "group"), 1)
            kernel = next(i for i in graph.initializer if i.name == node.input[1])
            assert groups == 1 or kernel.dims[1] == 1, node.name
    read = {name for node in graph.node for name in node.input}
    assert all(i.name in read for i in graph.initializer)  # ONNX Runtime warns of each
    tiny = np.finfo(np.float32).tiny
    for initializer in graph.initializer:
        weights = numpy_helper.to_array(initializer)
        assert not np.any((weights != 0) & (np.abs(weights) < tiny)), initializer.name
    shipped = onnxruntime.InferenceSession(str(network.locate()),
                                           providers=["CPUExecutionProvider"])
    name = shipped.get_inputs()[0].name
    mean, deviation, order = SHIPPED_INPUT[descriptor]
    assert len(chips) >= 3
    for chip, descriptor_row in zip(chips, ours, strict=True):
        network_input = (chip.astype(np.float32) - mean) / deviation
        if order == "BGR":
            network_input = network_input[..., ::-1]
        raw = shipped.run(None, {name: network_input.transpose(2, 0, 1)[None].copy()})[0][0]
        np.testing.assert_allclose(descriptor_row, raw / np.linalg.norm(raw), atol=1e-5)


@pytest.mark.parametrize("descriptor", sorted(SHIPPED_INPUT))
def test_the_descriptor_graph_stays_in_onnx_runtimes_blocked_layout(
    tmp_path: Path, descriptor: str
) -> None:
    """On x86 ONNX Runtime runs convolutions in a blocked channel layout (NCHWc). Every
    operation it cannot run there moves the tensor out and back: with PRelu written as
    Max(x, s·x) and w600k's grouped convolution, 66 moves out per chip (a fifth of the
    descriptor's time). Our graph leaves the layout once, for the final 512-D vector."""
    import onnx
    import onnxruntime

    from openlfr.recognition.arcface import NETWORKS, cached_describer_model

    options = onnxruntime.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    onnxruntime.InferenceSession(str(cached_describer_model(NETWORKS[descriptor])), options,
                                 providers=["CPUExecutionProvider"])
    nodes = onnx.load(options.optimized_model_filepath).graph.node
    if not any(n.domain == "com.microsoft.nchwc" for n in nodes):
        pytest.skip("this CPU has no blocked layout in ONNX Runtime")
    assert sum(n.op_type == "ReorderOutput" for n in nodes) <= 1
    assert not any(n.op_type in ("Max", "PRelu") for n in nodes if n.output[0] != "safe_norm")
