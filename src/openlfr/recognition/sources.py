"""Frame sources: a video file, a stream URL (RTSP/HTTP), a webcam, or a folder of images.

`open_source(spec)` picks one from a string as a user types it. Every source yields
`Frame`s with an index and a timestamp; live sources (streams, webcams) are marked so the
pipeline may drop frames rather than fall behind.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import cv2

from openlfr.recognition.errors import SourceError
from openlfr.recognition.faces import RGBImage
from openlfr.recognition.images import ImageError, bgr_to_rgb, is_image_file, read_image

log = logging.getLogger(__name__)

# FFmpeg writes its own complaints to stderr from C; the engine reports problems itself in
# one clear line, so keep FFmpeg quiet unless the user asks (AV_LOG_QUIET is -8).
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


@dataclass
class Frame:
    index: int
    """0-based position in the source (counts frames the pipeline later drops, too)."""
    timestamp_s: float
    """Seconds from the start of the source (media time for files, wall time for live)."""
    image: RGBImage
    still: bool = False
    """A photo rather than a video frame: it has no neighbours to track across."""


class FrameSource:
    """Base class: iterate for frames; `close()` releases the device or file."""

    name: str = ""
    is_live: bool = False
    frame_count: int | None = None
    """Frames in the source when known (files and folders), for progress."""
    unreadable: int = 0
    """Frames or images that could not be decoded and were skipped."""

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        return None


class VideoFileSource(FrameSource):
    """A video file decoded with OpenCV (FFmpeg). Never drops a frame."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        if not self.path.exists():
            raise SourceError(f"{self.path}: no such file")
        if not self.path.is_file():
            raise SourceError(f"{self.path}: not a file")
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            raise SourceError(f"{self.path}: cannot decode video (corrupt or unsupported format)")
        ok, first = self._capture.read()
        if not ok or first is None:
            self._capture.release()
            raise SourceError(f"{self.path}: cannot decode video (corrupt, empty or unsupported)")
        self._first = first
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else 25.0
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 else None

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        ok, frame = True, self._first
        while ok and frame is not None:
            yield Frame(index, index / self.fps, bgr_to_rgb(frame))
            index += 1
            ok, frame = self._capture.read()
        self.frame_count = index

    def close(self) -> None:
        self._capture.release()


class PacedVideoSource(VideoFileSource):
    """A video file delivered at a frame rate, as a camera delivers it (the file's own rate
    unless told another): a live source, so the engine drops the frames it cannot keep up
    with and sheds work as it does on a camera. To check on recorded footage that a machine
    keeps up with a camera, or (at a higher rate) how the engine fares on a slower CPU.
    Timestamps stay the file's own."""

    is_live = True

    def __init__(
        self,
        path: Path,
        fps: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if fps is not None and not fps > 0:
            raise SourceError(f"the replay rate must be above 0 frames a second, got {fps}")
        super().__init__(path)
        self.rate = fps or self.fps
        self._clock = clock
        self._sleep = sleep

    def __iter__(self) -> Iterator[Frame]:
        start = self._clock()
        for frame in super().__iter__():
            early = start + frame.index / self.rate - self._clock()
            if early > 0:
                self._sleep(early)
            yield frame


def without_secrets(address: str) -> str:
    """A stream's address as it may be shown, printed and logged: without the user name
    and password a camera's address often carries (``rtsp://user:pass@host/...``)."""
    parts = urlsplit(address)
    if parts.username is None and parts.password is None:
        return address
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit(parts._replace(netloc=netloc))


class LiveCaptureSource(FrameSource):
    """A stream URL or webcam. When it drops, it is reopened with exponential back-off."""

    is_live = True

    def __init__(
        self,
        target: str | int,
        *,
        max_reconnects: int | None = 20,
        # attempts per outage (None: forever); the budget renews once a reconnect works
        backoff_start_s: float = 0.5,
        backoff_max_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        open_capture: Callable[[str | int], cv2.VideoCapture] | None = None,
    ) -> None:
        self.target = target
        self.name = f"webcam {target}" if isinstance(target, int) else without_secrets(target)
        self.max_reconnects = max_reconnects
        self.backoff_start_s = backoff_start_s
        self.backoff_max_s = backoff_max_s
        self.reconnects = 0
        self._sleep = sleep
        self._open_capture = open_capture or cv2.VideoCapture
        self._capture = self._open_capture(target)
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(
                f"{self.name}: cannot open (check the address, credentials or device)"
            )

    def _reopen(self) -> bool:
        """Try to reopen with back-off; False after `max_reconnects` failures in a row."""
        delay = self.backoff_start_s
        attempts = 0
        self._capture.release()
        while self.max_reconnects is None or attempts < self.max_reconnects:
            attempts += 1
            self.reconnects += 1
            log.warning(
                "%s: stream lost; reconnect attempt %d in %.1f s", self.name, attempts, delay
            )
            self._sleep(delay)
            self._capture = self._open_capture(self.target)
            if self._capture.isOpened():
                return True
            self._capture.release()
            delay = min(delay * 2, self.backoff_max_s)
        log.error("%s: gave up after %d reconnect attempts in a row", self.name, attempts)
        return False

    def __iter__(self) -> Iterator[Frame]:
        start = time.monotonic()
        index = 0
        while True:
            ok, frame = self._capture.read()
            if not ok or frame is None:
                if not self._reopen():
                    return
                continue
            yield Frame(index, time.monotonic() - start, bgr_to_rgb(frame))
            index += 1

    def close(self) -> None:
        self._capture.release()


class ImageFolderSource(FrameSource):
    """Every image in a folder (sorted by name), or one image file: each is a still frame."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        if self.path.is_dir():
            self._files = sorted(p for p in self.path.iterdir() if is_image_file(p))
            if not self._files:
                raise SourceError(f"{self.path}: no images in this folder (.jpg, .png, ...)")
        else:
            self._files = [self.path]
        self.frame_count = len(self._files)

    def __iter__(self) -> Iterator[Frame]:
        for index, file in enumerate(self._files):
            try:
                image = read_image(file)
            except ImageError as exc:
                if len(self._files) == 1:
                    raise SourceError(str(exc)) from exc
                log.warning("skipped %s", exc)
                self.unreadable += 1
                continue
            yield Frame(index, float(index), image, still=True)


def open_source(
    spec: str,
    *,
    max_reconnects: int | None = 20,
    realtime: bool = False,
    realtime_fps: float | None = None,
) -> FrameSource:
    """Open a source from what a user typed: a digit is a webcam index, a URL a stream,
    a folder a set of images, an image file one still, any other file a video. With
    ``realtime`` (or a ``realtime_fps``) a video file is delivered as a camera would
    deliver it (`PacedVideoSource`); other sources are refused then."""
    paced = realtime or realtime_fps is not None
    if spec.isdigit() or spec.lower().startswith(STREAM_SCHEMES):
        if paced:
            raise SourceError(f"{spec}: already a live source; --realtime replays video files")
        target: str | int = int(spec) if spec.isdigit() else spec
        return LiveCaptureSource(target, max_reconnects=max_reconnects)
    path = Path(spec)
    if path.is_dir() or is_image_file(path):
        if paced:
            raise SourceError(f"{path}: --realtime replays a video file, not photos")
        return ImageFolderSource(path)
    return PacedVideoSource(path, realtime_fps) if paced else VideoFileSource(path)
