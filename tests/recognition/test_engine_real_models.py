"""The engine with dlib's real networks on real photos and the sample clip."""

from __future__ import annotations

import csv
import http.server
import shutil
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from openlfr.recognition import (
    EngineConfig,
    FaceAnalyzer,
    Watcher,
    Watchlist,
    WatchlistError,
    build_watchlist,
    open_source,
)
from openlfr.recognition.faces import RGBImage
from openlfr.recognition.images import read_image
from openlfr.recognition.sources import Frame, FrameSource, LiveCaptureSource, VideoFileSource

from .conftest import CLIP, GROUPS, IDENTITIES, PEOPLE_IN_PROBES, SAMPLE, SHARED

pytestmark = pytest.mark.slow


def test_enrolling_the_bundled_identities(sample_watchlist: Watchlist) -> None:
    enrolled = {s.ref: len(s.images) for s in sample_watchlist.subjects}
    expected = {d.name: len(list(d.iterdir())) for d in IDENTITIES.iterdir()}
    assert set(enrolled) == set(expected)
    assert sum(enrolled.values()) >= sum(expected.values()) - 1  # img67 may hold a second face


def test_photos_with_no_face_or_several_faces_are_reported_and_skipped(
    analyzer: FaceAnalyzer, tmp_path: Path
) -> None:
    (tmp_path / "cup").mkdir()
    shutil.copy(SAMPLE / "noface" / "coffee.png", tmp_path / "cup" / "coffee.png")
    (tmp_path / "pair").mkdir()
    shutil.copy(GROUPS / "two_people.jpg", tmp_path / "pair" / "two.jpg")
    shutil.copy(IDENTITIES / "biden" / "biden2.jpg", tmp_path / "pair" / "biden2.jpg")
    (tmp_path / "pair" / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    watchlist, report = build_watchlist(tmp_path, analyzer, workers=0)
    problems = {o.path.name: o.problem for o in report.skipped}
    assert problems["coffee.png"] == "no face found; use a frontal photo"
    assert problems["two.jpg"].startswith("2 faces found")
    assert "not a readable image" in problems["broken.jpg"]
    assert [s.ref for s in watchlist.subjects] == ["pair"]
    assert [i.name for i in watchlist.subjects[0].images] == ["biden2.jpg"]


def test_a_folder_with_no_usable_photo_is_an_error(analyzer: FaceAnalyzer, tmp_path: Path) -> None:
    (tmp_path / "cup").mkdir()
    shutil.copy(SAMPLE / "noface" / "coffee.png", tmp_path / "cup" / "coffee.png")
    with pytest.raises(WatchlistError, match="no subject could be enrolled"):
        build_watchlist(tmp_path, analyzer, workers=0)


def _alerts(watchlist: Watchlist, source: str, analyzer: FaceAnalyzer, **config: object):  # type: ignore[no-untyped-def]
    watcher = Watcher(watchlist, EngineConfig(**config), analyzer)  # type: ignore[arg-type]
    return list(watcher.run(open_source(source))), watcher.counters


def test_group_photos_alert_for_each_enrolled_person_in_them(
    sample_watchlist: Watchlist, analyzer: FaceAnalyzer, tmp_path: Path
) -> None:
    for name in ("two_people.jpg", "kit_with_rose.jpg"):
        shutil.copy(GROUPS / name, tmp_path / name)
    alerts, counters = _alerts(sample_watchlist, str(tmp_path), analyzer, workers=0)
    by_frame = {(a.frame, a.subject) for a in alerts}
    assert by_frame == {(0, "kit_harington"), (0, "rose_leslie"), (1, "biden"), (1, "obama")}
    # 4 faces; the small detector may also take a hand for a face (it matches no one)
    assert counters.frames_processed == 2 and 4 <= counters.faces_detected <= 5
    for alert in alerts:
        assert alert.probe_crop.shape == (112, 112, 3)
        assert 0.5 <= alert.score <= 1.0


def test_the_clip_alerts_for_the_performer_once_on_two_cores(
    sample_watchlist: Watchlist, analyzer: FaceAnalyzer
) -> None:
    alerts, counters = _alerts(sample_watchlist, str(CLIP), analyzer, workers=2)
    assert [a.subject for a in alerts] == ["lin_manuel_miranda"]
    assert counters.frames == counters.frames_processed == 275
    assert counters.frames_dropped == 0  # a file never drops
    assert counters.descriptors < counters.faces_detected / 5  # tracks, not every face
    assert counters.alerts == 1


def test_nobody_off_the_watchlist_raises_an_alert_at_the_default_threshold(
    strangers_watchlist: Watchlist, analyzer: FaceAnalyzer
) -> None:
    """Group photos, the clip and every photo of people in them, against a watchlist of
    other people: 1:N with the default threshold must stay silent."""
    watched = {s.ref for s in strangers_watchlist.subjects}
    assert not watched & PEOPLE_IN_PROBES
    for source in [str(GROUPS), str(CLIP)] + [str(IDENTITIES / who) for who in PEOPLE_IN_PROBES]:
        alerts, counters = _alerts(strangers_watchlist, source, analyzer, workers=0)
        assert alerts == [], f"false alert on {source}: {[(a.subject, a.score) for a in alerts]}"
        assert counters.faces_detected > 0


class _FastLiveSource(FrameSource):
    """A 'camera' that delivers 100 frames a second: faster than one core can look at them."""

    is_live = True
    name = "fast live"

    def __init__(self, image: RGBImage, count: int) -> None:
        self.image, self.count = image, count

    def __iter__(self):  # type: ignore[no-untyped-def]
        for index in range(self.count):
            time.sleep(0.01)
            yield Frame(index, index / 100.0, self.image)


def test_a_live_source_that_outruns_the_engine_drops_and_counts_frames(
    sample_watchlist: Watchlist, analyzer: FaceAnalyzer
) -> None:
    image = read_image(GROUPS / "two_people.jpg")
    config = EngineConfig(workers=0, queue_frames=2, embed_every_frames=3)
    watcher = Watcher(sample_watchlist, config, analyzer)
    alerts = list(watcher.run(_FastLiveSource(image, 300)))
    counters = watcher.counters
    assert counters.frames == 300
    assert counters.frames_dropped > 0
    assert counters.frames_processed + counters.frames_dropped == 300
    assert {a.subject for a in alerts} == {"obama", "biden"}
    # Without workers the searches run on the calling thread, yet count as searching,
    # not as tracking and matching.
    cpu = watcher.stage_cpu
    assert cpu.search_whole_s > 0 and cpu.describe_s > 0
    assert 0 <= cpu.track_match_s < cpu.search_whole_s


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/faces is not beside this checkout")
def test_every_shared_identity_photo_is_found_and_identified(analyzer: FaceAnalyzer) -> None:
    """The full shared set: enrol all identities, then each photo must come back as its own
    identity when searched against everyone else's photos plus its other photos."""
    rows = list(csv.DictReader((SHARED / "manifest.csv").open()))
    identity_rows = [r for r in rows if r["file"].startswith("identities/")]
    watchlist, report = build_watchlist(SHARED / "identities", analyzer, workers=2)
    assert len(watchlist.subjects) == len({r["identity"] for r in identity_rows})
    assert report.enrolled_images >= len(identity_rows) - 3
    group_faces = {"two_people.jpg": 2, "kit_with_rose.jpg": 2, "couple.jpg": 2}
    for name, count in group_faces.items():
        image = read_image(SHARED / "groups" / name)
        found = analyzer.find_faces(image, min_face_px=40, max_px=1600)
        # Every face, confidently; at most one doubtful extra (a hand or a neck at this
        # scale), which matches no one and is never enrolled (enrolment takes the main face).
        sure = [f for f in found.faces if f.detection_score >= 0.99]
        assert len(sure) == count, name
        assert len(found.faces) - len(sure) <= 1, name
    for name in ("noise.jpg", "coffee.png"):
        found = analyzer.find_faces(
            read_image(SHARED / "noface" / name), min_face_px=40, max_px=1600
        )
        assert found.faces == [], name
    assert np.isfinite(
        np.stack([s.descriptors for s in watchlist.subjects if len(s.images)][0])
    ).all()


class _MjpegCamera(http.server.BaseHTTPRequestHandler):
    """An IP camera on loopback: the clip as an MJPEG stream (multipart JPEGs over HTTP).
    Its first connection drops after 100 frames; the next one carries on."""

    frames: list[bytes] = []
    sent = 0
    connections = 0

    def log_message(self, *_args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        cls = type(self)
        cls.connections += 1
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace;boundary=frame")
        self.end_headers()
        budget = 100 if cls.connections == 1 else len(cls.frames)
        try:
            while cls.sent < len(cls.frames) and budget > 0:
                jpeg = cls.frames[cls.sent]
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n")
                self.wfile.write(b"Content-Length: %d\r\n\r\n" % len(jpeg) + jpeg + b"\r\n")
                cls.sent += 1
                budget -= 1
        except (BrokenPipeError, ConnectionResetError):
            pass


def test_an_mjpeg_camera_that_drops_is_reconnected_and_watched_live(
    sample_watchlist: Watchlist, analyzer: FaceAnalyzer
) -> None:
    _MjpegCamera.frames = [
        cv2.imencode(".jpg", np.ascontiguousarray(f.image[:, :, ::-1]))[1].tobytes()
        for f in VideoFileSource(CLIP)
    ]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _MjpegCamera)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/stream.mjpg"
        source = LiveCaptureSource(url, max_reconnects=2, backoff_start_s=0.05)
        watcher = Watcher(sample_watchlist, EngineConfig(workers=2), analyzer)
        alerts = list(watcher.run(source))
    finally:
        server.shutdown()
    counters = watcher.counters
    assert _MjpegCamera.connections >= 2 and source.reconnects >= 1
    assert counters.frames == 275  # 100 before the drop, 175 after the reconnect
    assert counters.frames_processed + counters.frames_dropped == 275
    assert counters.faces_detected > 0
    assert {a.subject for a in alerts} <= {"lin_manuel_miranda"}
