"""Find and describe faces in one image: scale, detect, skip small faces, align, describe."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from openlfr.recognition.backends import (
    DEFAULT_DESCRIPTOR,
    DEFAULT_DETECTOR,
    Backends,
    load_backends,
)
from openlfr.recognition.faces import Box, FoundFace, RGBImage

# Never enlarge a frame more than this for the detector: beyond it the cost grows with
# the square of the scale for faces too blurred to describe well anyway.
MAX_UPSCALE = 2.0
# A face whose landmarks sit this far (chip pixels, RMS) from a frontal face's counts half.
HALF_QUALITY_POSE_RESIDUAL = 3.0


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


def face_quality(box: Box, chip: RGBImage, pose_residual: float) -> float:
    """Larger, sharper and more frontal faces score higher (for choosing what to describe
    and which descriptors of a track to trust)."""
    pose = 1.0 / (1.0 + (pose_residual / HALF_QUALITY_POSE_RESIDUAL) ** 2)
    return float(box.area) * max(chip_sharpness(chip), 1.0) * pose


class FaceAnalyzer:
    """Runs a backend over images. One per process: it holds the loaded networks."""

    def __init__(
        self,
        backends: Backends | None = None,
        *,
        backend: str = "auto",
        detector: str = DEFAULT_DETECTOR,
        descriptor: str = DEFAULT_DESCRIPTOR,
        threads: int = 1,
    ) -> None:
        """Load `backend` ("auto": ONNX Runtime where it loads, else dlib) with `detector`
        and `descriptor` unless `backends` are given; `threads` is what this process may
        use for a network."""
        self.backends = backends or load_backends(backend, threads, detector, descriptor)

    @property
    def model_id(self) -> str:
        return self.backends.describer.model_id

    def detection_scale(self, height: int, width: int, *, min_face_px: int, max_px: int) -> float:
        """The scale at which a `min_face_px` face is the smallest the detector finds, capped
        so the long side is at most `max_px` (and never more than MAX_UPSCALE)."""
        scale = min(
            self.backends.detector.min_face_px / float(min_face_px),
            max_px / float(max(height, width)),
            MAX_UPSCALE,
        )
        return 1.0 if abs(scale - 1.0) <= 0.02 else scale

    def find_faces(self, image: RGBImage, *, min_face_px: int, max_px: int) -> FaceSearch:
        """Detect faces at detection_scale; chips come from the full-resolution image, so
        a reduced detection scale costs no descriptor quality."""
        height, width = image.shape[:2]
        scale = self.detection_scale(height, width, min_face_px=min_face_px, max_px=max_px)
        # A detector that needs sides in multiples of some size gets them from this one
        # resize (it would otherwise resize again).
        multiple = getattr(self.backends.detector, "size_multiple_px", 1)
        size = (max(multiple, round(width * scale / multiple) * multiple),
                max(multiple, round(height * scale / multiple) * multiple))
        scaled: np.ndarray = image
        if size != (width, height):
            interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
            scaled = cv2.resize(image, size, interpolation=interpolation)
        fx, fy = width / size[0], height / size[1]
        found = [
            (s, Box(round(b.left * fx), round(b.top * fy),
                    round(b.right * fx), round(b.bottom * fy)))
            for s, b in self.backends.detector.detect_scored(scaled)
        ]
        usable = [(s, b) for s, b in found if b.width >= min_face_px]
        aligned = self.backends.aligner.align(image, [b for _, b in usable])
        faces = [
            FoundFace(
                box=_clip(b, width, height),
                chip=chip,
                quality=face_quality(b, chip, residual),
                detection_score=s,
            )
            for (s, b), (chip, residual) in zip(usable, aligned, strict=True)
        ]
        return FaceSearch(faces=faces, too_small=len(found) - len(usable))

    def describe(self, chips: list[RGBImage]) -> np.ndarray:
        """Descriptors for chips, one row each (all in one call to the backend)."""
        return self.backends.describer.describe(chips)


def _clip(box: Box, width: int, height: int) -> Box:
    return Box(max(0, box.left), max(0, box.top), min(width, box.right), min(height, box.bottom))
