"""A track that takes another person's face, end to end on real faces: the next face gets
its own track and its own decision (recognition/tracker.py)."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from openlfr.recognition import EngineConfig, FaceAnalyzer, Watcher, Watchlist
from openlfr.recognition.images import read_image
from openlfr.recognition.sources import Frame, FrameSource

from .conftest import IDENTITIES

FACE_PX = 150
STEP_PX = 6
SWAP_AT = 30
FRAMES = 64


def _face_tile(analyzer: FaceAnalyzer, photo: str) -> np.ndarray:
    """The photo's face with a margin, FACE_PX square."""
    image = read_image(IDENTITIES / photo)
    face = analyzer.find_faces(image, min_face_px=40, max_px=1600, large_faces=True).faces[0]
    box = face.box
    cx, cy, half = (box.left + box.right) // 2, (box.top + box.bottom) // 2, box.width
    padded = cv2.copyMakeBorder(image, half, half, half, half, cv2.BORDER_REPLICATE)
    crop = padded[cy:cy + 2 * half, cx:cx + 2 * half]
    return cv2.resize(crop, (FACE_PX, FACE_PX), interpolation=cv2.INTER_AREA)


class _Walk(FrameSource):
    """One person walks right; at SWAP_AT they are gone and another stands where they
    were and walks on (as where one walker leaves the frame and the next enters)."""

    name = "walk"

    def __init__(self, first: np.ndarray, second: np.ndarray) -> None:
        self.tiles = (first, second)
        rng = np.random.default_rng(5)
        self.background = np.clip(rng.normal(120, 8, (360, 640, 3)), 0, 255).astype(np.uint8)
        self.frame_count = FRAMES

    def __iter__(self) -> Iterator[Frame]:
        for index in range(FRAMES):
            image = self.background.copy()
            x = 20 + STEP_PX * index
            image[100:100 + FACE_PX, x:x + FACE_PX] = self.tiles[index >= SWAP_AT]
            yield Frame(index, index / 25.0, image)


def test_an_alert_on_one_face_does_not_pass_to_the_next_face_its_track_takes(
    sample_watchlist: Watchlist, analyzer: FaceAnalyzer
) -> None:
    first = _face_tile(analyzer, "deepface_jeff/img20.jpg")
    second = _face_tile(analyzer, "deepface_sundar/img24.jpg")
    watcher = Watcher(sample_watchlist, EngineConfig(workers=0), analyzer)
    alerts = list(watcher.run(_Walk(first, second)))
    assert [a.subject for a in alerts] == ["deepface_jeff", "deepface_sundar"]
    jeff, sundar = alerts
    assert jeff.frame < SWAP_AT <= sundar.frame  # each on their own face
    assert jeff.track != sundar.track
    assert watcher.tracker.tracks_split == 1 and watcher.tracker.tracks_started == 2
