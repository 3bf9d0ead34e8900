"""Small value types that flow through the engine."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

RGBImage = npt.NDArray[np.uint8]
"""An H x W x 3 uint8 array in RGB order, C-contiguous."""

Descriptor = npt.NDArray[np.float32]
"""A 128-D face descriptor."""


@dataclass(frozen=True)
class Box:
    """A face box in pixel coordinates of the original frame (right/bottom exclusive)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    def intersection(self, other: Box) -> int:
        """The area the two boxes share."""
        inter_w = min(self.right, other.right) - max(self.left, other.left)
        inter_h = min(self.bottom, other.bottom) - max(self.top, other.top)
        return inter_w * inter_h if inter_w > 0 and inter_h > 0 else 0

    def iou(self, other: Box) -> float:
        """Intersection over union of two boxes, 0..1."""
        inter = self.intersection(other)
        return inter / float(self.area + other.area - inter) if inter else 0.0

    def overlap_of_smaller(self, other: Box) -> float:
        """Their intersection's share of the smaller box's area, 0..1 (1: one holds the
        other)."""
        return self.intersection(other) / float(max(1, min(self.area, other.area)))

    def scaled(self, factor: float) -> Box:
        return Box(
            round(self.left * factor),
            round(self.top * factor),
            round(self.right * factor),
            round(self.bottom * factor),
        )

    def as_list(self) -> list[int]:
        return [self.left, self.top, self.right, self.bottom]


@dataclass
class FoundFace:
    """A detected face: its box, its aligned chip (in memory only) and a quality figure.

    The chip is what the descriptor network sees. It never leaves the process unless the
    face matches a watchlist entry.
    """

    box: Box
    chip: RGBImage
    quality: float
    """Larger, sharper (and, once aligned, more frontal) faces score higher:
    analyzer.face_quality, or analyzer.box_quality for a face located but not aligned,
    whose chip is then analyzer.NO_CHIP."""
    detection_score: float = 1.0
    """The detector's confidence (0..1) that this is a face."""


class ScoredDetector:
    """Adds `detect` (boxes only) to a detector that has `detect_scored`."""

    def detect_scored(self, image: RGBImage) -> list[tuple[float, Box]]:
        raise NotImplementedError

    def detect(self, image: RGBImage) -> list[Box]:
        return [box for _, box in self.detect_scored(image)]
