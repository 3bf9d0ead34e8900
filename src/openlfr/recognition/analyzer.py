"""Find and describe faces in one image: scale, detect, skip small faces, align, describe."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from openlfr.recognition.backends import Backends, load_backends
from openlfr.recognition.faces import Box, FoundFace, RGBImage

# Both detectors (HOG and the MMOD CNN) slide an 80x80 window: about the smallest face
# they find at a given scale.
DETECTOR_WINDOW_PX = 80


@dataclass
class FaceSearch:
    """What a look at one image found."""

    faces: list[FoundFace]
    too_small: int
    """Faces that were detected but are narrower than the minimum size, so not used."""


def chip_sharpness(chip: RGBImage) -> float:
    """Variance of the Laplacian of the grey chip: higher for sharper faces."""
    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


class FaceAnalyzer:
    """Runs a backend over images. One per process: it holds the loaded networks."""

    def __init__(
        self,
        backends: Backends | None = None,
        *,
        backend: str = "auto",
        detector: str = "hog",
        threads: int = 1,
    ) -> None:
        """Load `backend` ("auto": ONNX Runtime where it loads, else dlib) with `detector`
        ("hog" or "cnn") unless `backends` are given; `threads` is what this process may
        use for a network."""
        self.backends = backends or load_backends(backend, threads, detector)

    @property
    def model_id(self) -> str:
        return self.backends.describer.model_id

    def find_faces(self, image: RGBImage, *, min_face_px: int, max_px: int) -> FaceSearch:
        """Detect faces at the scale where a `min_face_px` face fills the detector's window,
        capped so the long side is at most `max_px`. Chips come from the full-resolution
        image, so a reduced detection scale costs no descriptor quality."""
        height, width = image.shape[:2]
        scale = min(DETECTOR_WINDOW_PX / float(min_face_px), max_px / float(max(height, width)))
        scaled: np.ndarray = image
        if abs(scale - 1.0) > 0.02:
            interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
            scaled = cv2.resize(
                image, (round(width * scale), round(height * scale)), interpolation=interpolation
            )
        else:
            scale = 1.0
        boxes = [
            _clip(b.scaled(1.0 / scale), width, height)
            for b in self.backends.detector.detect(scaled)
        ]
        usable = [b for b in boxes if b.width >= min_face_px]
        chips = self.backends.aligner.chips(image, usable)
        faces = [
            FoundFace(box=b, chip=c, quality=float(b.area) * max(chip_sharpness(c), 1.0))
            for b, c in zip(usable, chips, strict=True)
        ]
        return FaceSearch(faces=faces, too_small=len(boxes) - len(usable))

    def describe(self, chips: list[RGBImage]) -> np.ndarray:
        """Descriptors for chips, one row each (all in one call to the backend)."""
        return self.backends.describer.describe(chips)


def _clip(box: Box, width: int, height: int) -> Box:
    return Box(max(0, box.left), max(0, box.top), min(width, box.right), min(height, box.bottom))
