"""dlib's CNN face detector (MMOD) on ONNX Runtime, with dlib's exact pre- and post-processing.

dlib runs the network once over a *tiled image pyramid*: the frame and its copies shrunk
by 5/6 again and again, packed into one image with padding between them. Every output
location scoring above 0 is an 80x80 window in that packed image, mapped back to the
frame through the level it falls in; overlapping windows are then suppressed. All of that
is reproduced here so the boxes are dlib's (same count; corners within a pixel), while
the convolutions run on ONNX Runtime.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from openlfr.recognition.dlib_format import Layer, MmodOptions, read_mmod_network
from openlfr.recognition.faces import Box, RGBImage, ScoredDetector
from openlfr.recognition.models import model_files

PYRAMID_RATE = 5 / 6  # dlib's pyramid_down<6>
MIN_LEVEL_HEIGHT = 5

Rect = tuple[int, int, int, int]
"""dlib rectangle: left, top, right, bottom, all inclusive."""


def _height(r: Rect) -> int:
    return r[3] - r[1] + 1


def _width(r: Rect) -> int:
    return r[2] - r[0] + 1


def tiled_pyramid_layout(
    rows: int, cols: int, padding: int, outer_padding: int
) -> tuple[list[Rect], int, int]:
    """Where each pyramid level goes in the packed image, and the packed image's size:
    the levels run down a first column, then back up on the right of the small ones."""
    rects: list[Rect] = [(0, 0, cols - 1, rows - 1)]
    while True:
        rows, cols = math.floor(PYRAMID_RATE * rows), math.floor(PYRAMID_RATE * cols)
        if rows * cols == 0 or rows < MIN_LEVEL_HEIGHT:
            break
        rects.append((0, 0, cols - 1, rows - 1))
    first = rects[0]
    total = sum(_height(r) + padding for r in rects) - 2 * padding
    height = previous_width = 0
    for r in rects:
        if _width(r) <= _width(first) - previous_width - padding and (
            height - _height(first)
        ) * 2 >= total - _height(first):
            break
        height += _height(r) + padding
        previous_width = _width(r)
    height -= padding
    width = _width(first)
    placed = list(rects)
    y, i = outer_padding, 0
    while y < height + outer_padding and i < len(rects):
        r = rects[i]
        placed[i] = (r[0] + outer_padding, r[1] + y, r[2] + outer_padding, r[3] + y)
        y += _height(r) + padding
        i += 1
    y -= padding
    while i < len(rects):
        x1, y1 = outer_padding + width - 1, y - 1
        x2, y2 = x1 - rects[i][2], y1 - rects[i][3]
        rect = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
        p0 = placed[0]
        if not (rect[2] < p0[0] or rect[0] > p0[2] or rect[3] < p0[1] or rect[1] > p0[3]):
            break  # the next level would overlap the full-size image
        placed[i] = rect
        y -= _height(rect) + padding
        i += 1
    return placed[:i], height + 2 * outer_padding, width + 2 * outer_padding


def _resize_model_bytes() -> bytes:
    """A one-node ONNX graph: bilinear resize with corners mapped to corners, which is
    exactly how dlib shrinks each pyramid level (its tensor resize_bilinear)."""
    import onnx

    helper = onnx.helper
    node = helper.make_node(
        "Resize",
        ["image", "", "", "sizes"],
        ["resized"],
        mode="linear",
        coordinate_transformation_mode="align_corners",
    )
    graph = helper.make_graph(
        [node],
        "pyramid_level",
        [
            helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, [1, 3, "h", "w"]),
            helper.make_tensor_value_info("sizes", onnx.TensorProto.INT64, [4]),
        ],
        [helper.make_tensor_value_info("resized", onnx.TensorProto.FLOAT, [1, 3, "oh", "ow"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return bytes(model.SerializeToString())


def _round(value: float) -> int:
    """C++ std::round: halves away from zero (Python's round() goes to even)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


@dataclass(frozen=True)
class _Detection:
    score: float
    rect: Rect


class MmodFaceDetector(ScoredDetector):
    """The CNN face detector: finds frontal and turned faces from about 80 px up."""

    min_face_px = 80

    def __init__(self, threads: int = 1) -> None:
        from openlfr.recognition.onnx_networks import cached_detector_model, cpu_session

        weights = model_files().detector_mmod
        options, input_layer, layers = read_mmod_network(weights)
        self.options: MmodOptions = options
        self._mean = np.asarray(input_layer.params["mean_rgb"], np.float32)
        self._padding = int(input_layer.params["padding"])
        self._outer_padding = int(input_layer.params["outer_padding"])
        self._scale, self._offset = _output_to_input_map(layers)
        self._session = cpu_session(cached_detector_model(weights), threads)
        self._resize = cpu_session(_resize_model_bytes(), threads)

    def pyramid(self, image: RGBImage) -> tuple[np.ndarray, list[Rect]]:
        """The normalised tiled pyramid as dlib builds it, and where each level lies."""
        rows, cols = image.shape[:2]
        rects, height, width = tiled_pyramid_layout(rows, cols, self._padding, self._outer_padding)
        packed = np.zeros((3, height, width), np.float32)
        first = rects[0]
        packed[:, first[1] : first[3] + 1, first[0] : first[2] + 1] = (
            (image.astype(np.float32) - self._mean) / np.float32(256.0)
        ).transpose(2, 0, 1)
        for above, level in zip(rects, rects[1:], strict=False):
            source = np.ascontiguousarray(
                packed[None, :, above[1] : above[3] + 1, above[0] : above[2] + 1]
            )
            sizes = np.array([1, 3, _height(level), _width(level)], np.int64)
            packed[:, level[1] : level[3] + 1, level[0] : level[2] + 1] = self._resize.run(
                None, {"image": source, "sizes": sizes}
            )[0][0]
        return packed, rects

    def detect_scored(self, image: RGBImage) -> list[tuple[float, Box]]:
        """(score, box) for each face, best first; boxes may reach past the image edge."""
        packed, rects = self.pyramid(image)
        scores = self._session.run(None, {"pyramid": packed[None]})[0][0, 0]
        half_w, half_h = (self.options.window_width - 1) / 2, (self.options.window_height - 1) / 2
        found: list[_Detection] = []
        for r, c in zip(*np.nonzero(scores > 0), strict=True):
            x, y = c * self._scale + self._offset, r * self._scale + self._offset
            rect = _tensor_rect_to_image((x - half_w, y - half_h, x + half_w, y + half_h), rects)
            found.append(_Detection(float(scores[r, c]), rect))
        found.sort(key=lambda d: -d.score)
        kept: list[_Detection] = []
        for detection in found:
            if not any(self._overlaps(k.rect, detection.rect) for k in kept):
                kept.append(detection)
        # MMOD's scores are margins above 0; found faces count as certain, as with dlib's own.
        return [(1.0, Box(d.rect[0], d.rect[1], d.rect[2] + 1, d.rect[3] + 1)) for d in kept]


    def _overlaps(self, a: Rect, b: Rect) -> bool:
        """dlib's test_box_overlap: IoU against the pair's bounding box, or coverage."""
        inner_w = min(a[2], b[2]) - max(a[0], b[0]) + 1
        inner_h = min(a[3], b[3]) - max(a[1], b[1]) + 1
        if inner_w <= 0 or inner_h <= 0:
            return False
        inner = inner_w * inner_h
        outer = (max(a[2], b[2]) - min(a[0], b[0]) + 1) * (max(a[3], b[3]) - min(a[1], b[1]) + 1)
        covered = self.options.nms_covered
        return (
            inner / outer > self.options.nms_iou
            or inner / (_width(a) * _height(a)) > covered
            or inner / (_width(b) * _height(b)) > covered
        )


def _output_to_input_map(layers: list[Layer]) -> tuple[float, float]:
    """Output location p maps to input location p * scale + offset (dlib walks every
    convolution: p * stride - padding + kernel // 2)."""
    scale, offset = 1.0, 0.0
    for layer in reversed(layers):
        if layer.kind == "con":
            stride, pad = layer.params["stride"][0], layer.params["pad"][0]
            kernel = layer.params["weight"].shape[2]
            scale, offset = scale * stride, offset * stride - pad + kernel // 2
    return scale, offset


def _tensor_rect_to_image(rect: tuple[float, float, float, float], rects: list[Rect]) -> Rect:
    """Map a window in the packed pyramid back to the frame, through the nearest level."""
    cx, cy = (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2
    distances = [
        math.hypot(max(r[0] - cx, 0, cx - r[2]), max(r[1] - cy, 0, cy - r[3])) for r in rects
    ]
    level = int(np.argmin(distances))
    origin = rects[level]
    corners = []
    for x, y in (
        (rect[0] - origin[0], rect[1] - origin[1]),
        (rect[2] - origin[0], rect[3] - origin[1]),
    ):
        for _ in range(level):
            x, y = x / PYRAMID_RATE + 0.3, y / PYRAMID_RATE + 0.3
        corners += [x, y]
    return (_round(corners[0]), _round(corners[1]), _round(corners[2]), _round(corners[3]))
