"""The recognition engine: video in, alerts out; faces that match nobody never stored.

A small public surface (everything else is internal)::

    from openlfr.recognition import FaceAnalyzer, Watcher, build_watchlist, open_source

    analyzer = FaceAnalyzer()                       # loads dlib's networks once
    watchlist, report = build_watchlist(Path("subjects/"), analyzer)
    watcher = Watcher(watchlist, EngineConfig(threshold=0.5), analyzer)
    for alert in watcher.run(open_source("clip.mp4")):
        print(alert.subject, alert.score)
    print(watcher.counters)

This package imports nothing from the platform (web, database): it can run on an edge
box with only NumPy, OpenCV, dlib and ONNX Runtime.
"""

import os

# ONNX Runtime's telemetry writes a device id and an event store under the user's cache
# and uploads usage events. An LFR engine sends nothing anywhere: opt out before it loads
# (both names the runtime has used; the user can still override them).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("ORT_TELEMETRY_DISABLED", "1")

from openlfr.recognition.analyzer import FaceAnalyzer
from openlfr.recognition.config import DEFAULT_THRESHOLD, EngineConfig
from openlfr.recognition.enrolment import (
    EnrolmentPhoto,
    EnrolmentReport,
    ImageOutcome,
    PhotoRejected,
    build_watchlist,
    describe_enrolment_photo,
)
from openlfr.recognition.errors import ModelError, RecognitionError, SourceError, WatchlistError
from openlfr.recognition.faces import Box
from openlfr.recognition.matcher import WatchlistIndex
from openlfr.recognition.pipeline import Alert, Counters, Watcher
from openlfr.recognition.sources import Frame, FrameSource, open_source
from openlfr.recognition.watchlist import Watchlist

__all__ = [
    "DEFAULT_THRESHOLD",
    "Alert",
    "Box",
    "Counters",
    "EngineConfig",
    "EnrolmentPhoto",
    "EnrolmentReport",
    "FaceAnalyzer",
    "Frame",
    "FrameSource",
    "ImageOutcome",
    "ModelError",
    "PhotoRejected",
    "RecognitionError",
    "SourceError",
    "Watcher",
    "Watchlist",
    "WatchlistError",
    "WatchlistIndex",
    "build_watchlist",
    "describe_enrolment_photo",
    "open_source",
]
