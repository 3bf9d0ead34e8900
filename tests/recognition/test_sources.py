"""Frame sources: files, folders, corrupt input, and a live stream that drops."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from openlfr.recognition import SourceError, open_source
from openlfr.recognition.sources import (
    ImageFolderSource,
    LiveCaptureSource,
    PacedVideoSource,
    VideoFileSource,
)

from .conftest import CLIP, GROUPS


def test_the_sample_clip_has_all_its_frames_with_media_timestamps() -> None:
    source = open_source(str(CLIP))
    assert isinstance(source, VideoFileSource) and not source.is_live
    frames = list(source)
    assert len(frames) == 275
    assert frames[0].image.shape == (360, 640, 3) and frames[0].image.flags.c_contiguous
    assert frames[30].timestamp_s == pytest.approx(30 / 29.97, abs=1e-3)
    assert [f.index for f in frames] == list(range(275))


def test_a_folder_is_a_sequence_of_stills(tmp_path: Path) -> None:
    source = open_source(str(GROUPS))
    assert isinstance(source, ImageFolderSource)
    frames = list(source)
    assert len(frames) == 3 and all(f.still for f in frames)


def test_an_unreadable_image_in_a_folder_is_skipped_and_counted(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes((GROUPS / "two_people.jpg").read_bytes())
    (tmp_path / "b.jpg").write_bytes(b"not an image")
    source = ImageFolderSource(tmp_path)
    assert len(list(source)) == 1
    assert source.unreadable == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.mp4", "no such file"),
        (
            lambda p: (
                (p / "noise.mp4").write_bytes(np.random.default_rng(0).bytes(50_000))
                and p / "noise.mp4"
            ),
            "cannot decode video",
        ),
        (
            lambda p: (p / "empty.mp4").write_bytes(b"") == 0 and p / "empty.mp4",
            "cannot decode video",
        ),
        (
            lambda p: (p / "cut.mp4").write_bytes(CLIP.read_bytes()[-20_000:]) and p / "cut.mp4",
            "cannot decode video",
        ),
        (lambda p: p, "no images in this folder"),
    ],
)
def test_bad_sources_fail_with_a_clear_message(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SourceError, match=message):
        open_source(str(make(tmp_path)))


class FakeCapture:
    """Stands in for cv2.VideoCapture: opens or not, then gives n frames and fails."""

    def __init__(self, opens: bool, frames: int) -> None:
        self.opens, self.frames = opens, frames

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self.opens

    def read(self):  # type: ignore[no-untyped-def]
        if self.frames <= 0:
            return False, None
        self.frames -= 1
        return True, np.zeros((4, 4, 3), np.uint8)

    def release(self) -> None:
        pass


def test_a_dropped_stream_is_reopened_with_exponential_back_off() -> None:
    captures = iter(
        [FakeCapture(True, 3), FakeCapture(False, 0), FakeCapture(False, 0), FakeCapture(True, 2)]
        + [FakeCapture(False, 0)] * 10
    )
    sleeps: list[float] = []
    source = LiveCaptureSource(
        "rtsp://camera",
        max_reconnects=6,
        backoff_start_s=0.5,
        backoff_max_s=4.0,
        sleep=sleeps.append,
        open_capture=lambda _target: next(captures),
    )
    frames = list(source)
    assert len(frames) == 5
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    # back-off doubles up to the cap; the budget is per outage, renewed after a success
    assert sleeps == [0.5, 1.0, 2.0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert source.reconnects == 3 + 6


def test_a_stream_that_never_opens_is_a_clear_error() -> None:
    with pytest.raises(SourceError, match="cannot open"):
        LiveCaptureSource("rtsp://nowhere", open_capture=lambda _t: FakeCapture(False, 0))


def test_a_webcam_index_and_a_url_are_live_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[object] = []
    monkeypatch.setattr(cv2, "VideoCapture", lambda t: opened.append(t) or FakeCapture(True, 0))
    assert open_source("0").is_live and open_source("rtsp://cam/1").is_live
    assert opened == [0, "rtsp://cam/1"]


class FakeClock:
    """Time that moves only when slept through or pushed on (a stalled consumer)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_video_replayed_in_real_time_comes_at_its_frame_rate_and_never_waits_when_late(
) -> None:
    clock = FakeClock()
    source = PacedVideoSource(CLIP, clock=clock, sleep=clock.sleep)
    assert source.is_live and source.rate == pytest.approx(29.97, abs=0.01)
    delivered: list[tuple[int, float, float]] = []
    for frame in source:
        delivered.append((frame.index, clock.now, frame.timestamp_s))
        if frame.index == 9:
            clock.now += 1.0  # the consumer held this frame for a second
    assert [i for i, _, _ in delivered] == list(range(275))
    assert all(t == pytest.approx(i / 29.97, abs=1e-3) for i, _, t in delivered)  # media time
    for i, now, _ in delivered[:10]:  # on time: each at start + index / rate
        assert now == pytest.approx(100.0 + i / source.rate)
    stalled_at = delivered[9][1] + 1.0
    late = [now for i, now, _ in delivered if 10 <= i < 39]  # due before the stall ended
    assert late == [pytest.approx(stalled_at)] * len(late)  # handed on at once, no catch-up sleep
    assert delivered[-1][1] == pytest.approx(100.0 + 274 / source.rate)  # back on its rate


def test_a_replay_rate_can_be_set_and_must_be_positive() -> None:
    clock = FakeClock()
    source = PacedVideoSource(CLIP, 300.0, clock=clock, sleep=clock.sleep)
    frames = list(source)
    assert clock.now == pytest.approx(100.0 + 274 / 300.0)
    assert frames[30].timestamp_s == pytest.approx(30 / 29.97, abs=1e-3)  # still media time
    with pytest.raises(SourceError, match="above 0"):
        PacedVideoSource(CLIP, 0.0)


def test_real_time_replay_is_for_video_files_only(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(open_source(str(CLIP), realtime=True), PacedVideoSource)
    paced = open_source(str(CLIP), realtime_fps=50.0)
    assert isinstance(paced, PacedVideoSource) and paced.rate == 50.0
    monkeypatch.setattr(cv2, "VideoCapture", lambda t: FakeCapture(True, 0))
    for spec in ("0", "rtsp://cam/1"):
        with pytest.raises(SourceError, match="already a live source"):
            open_source(spec, realtime=True)
    with pytest.raises(SourceError, match="not photos"):
        open_source(str(GROUPS), realtime=True)


def test_a_camera_address_is_shown_without_its_credentials() -> None:
    """The name a live source prints and logs (stream lost, gave up, the node's events,
    `watch --json`) never carries the password in its address."""
    from openlfr.recognition.sources import without_secrets
    assert without_secrets("rtsp://admin:S3cret@10.0.0.5/live") == "rtsp://10.0.0.5/live"
    assert without_secrets("rtsp://admin:S3cret@cam.local:554/s1?x=1") == \
        "rtsp://cam.local:554/s1?x=1"
    assert without_secrets("rtsp://u:p@[fe80::1]:554/x") == "rtsp://[fe80::1]:554/x"
    assert without_secrets("rtsp://10.0.0.5/live") == "rtsp://10.0.0.5/live"
    assert without_secrets("clips/street.mp4") == "clips/street.mp4"
    opened: list[object] = []
    with pytest.raises(SourceError) as refused:
        LiveCaptureSource("rtsp://admin:S3cret@10.0.0.5/live",
                          open_capture=lambda t: opened.append(t) or FakeCapture(False, 0))
    assert "S3cret" not in str(refused.value) and "rtsp://10.0.0.5/live" in str(refused.value)
    assert opened == ["rtsp://admin:S3cret@10.0.0.5/live"]  # the camera still gets them
