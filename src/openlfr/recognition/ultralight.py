"""A small, fast CNN face detector that finds faces down to about 20 px.

The network is the "ultra-light" anchor-based detector that the faceplugin package ships
as `fr_detect.onnx` (four feature maps at strides 8-64 with anchors of 10 to 256 px). As
shipped it takes exactly 320x240 and decodes boxes against anchors fixed for that size.
Here the graph is cut before that decoding and its input made any size, so it runs over
a whole frame at the scale the caller chooses; the anchors for that size are computed
below and the boxes decoded with the same variances, then overlapping boxes suppressed.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from openlfr.recognition.errors import ModelError
from openlfr.recognition.faces import Box, RGBImage, ScoredDetector
from openlfr.recognition.model_package import FACEPLUGIN, package_file

DETECTOR_FILE = "package/model/fr_detect.onnx"
# The graph's raw outputs before its fixed-size decoding: class logits and box offsets.
_LOGITS, _OFFSETS = "461", "462"
_ANCHOR_SIZES_PX = ((10, 16, 24), (32, 48), (64, 96), (128, 192, 256))
_STRIDES_PX = (8, 16, 32, 64)
_CENTRE_VARIANCE, _SIZE_VARIANCE = 0.1, 0.2
SIZE_MULTIPLE_PX = 32
"""Detection images are rounded to this multiple (the deepest stride divides it)."""

MAX_FACE_PX = 256
"""About the largest face (at detection scale) found whole, the largest anchor. Measured on
the 19 bundled faces scaled up (2026-12-04): all found whole up to 280 px wide, 14 at 320,
1 at 420; beyond, the detector finds parts of the face (eyes, mouth) as faces, or nothing.
FaceAnalyzer.locate_faces(large_faces=True) looks again at a coarser scale for them."""

MIN_FACE_PX = 20
"""About the smallest face (at detection scale) found reliably: the scale is chosen so the
smallest face wanted is this wide."""


def build_detector_graph(weights: Path) -> Any:
    """The shipped graph with any input size, uint8 RGB input and softmax scores.

    Input `image`: (1, H, W, 3) uint8 RGB; outputs `scores` (1, anchors) and `offsets`
    (1, anchors, 4) in the network's own encoding."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(weights))
    graph = model.graph
    producers = {output: node for node in graph.node for output in node.output}
    if _LOGITS not in producers or _OFFSETS not in producers:
        raise ModelError(f"{weights}: not the expected detector graph; reinstall the models")
    needed: set[int] = set()
    stack = [_LOGITS, _OFFSETS]
    while stack:
        node = producers.get(stack.pop())
        if node is None or id(node) in needed:
            continue
        needed.add(id(node))
        stack.extend(node.input)
    kept = [node for node in graph.node if id(node) in needed]
    network_input = graph.input[0].name
    prologue = [
        helper.make_node("Cast", ["image"], ["image_f"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["image_f", "pixel_mean"], ["image_c"]),
        helper.make_node("Mul", ["image_c", "pixel_scale"], ["image_s"]),
        helper.make_node("Transpose", ["image_s"], [network_input], perm=[0, 3, 1, 2]),
    ]
    epilogue = [
        helper.make_node("Softmax", [_LOGITS], ["probabilities"], axis=-1),
        helper.make_node("Gather", ["probabilities", "face_class"], ["scores"], axis=2),
        helper.make_node("Identity", [_OFFSETS], ["offsets"]),
    ]
    constants = [
        numpy_helper.from_array(np.array(127.0, np.float32), "pixel_mean"),
        numpy_helper.from_array(np.array(1 / 128, np.float32), "pixel_scale"),
        numpy_helper.from_array(np.array(1, np.int64), "face_class"),
    ]
    used = {name for node in kept + epilogue for name in node.input}
    initializers = [i for i in graph.initializer if i.name in used] + constants
    new_graph = helper.make_graph(
        prologue + kept + epilogue,
        "ultralight_face_detector",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, [1, "h", "w", 3])],
        [
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, "anchors"]),
            helper.make_tensor_value_info("offsets", TensorProto.FLOAT, [1, "anchors", 4]),
        ],
        initializers,
    )
    result = helper.make_model(
        new_graph, opset_imports=list(model.opset_import), producer_name="openlfr"
    )
    result.ir_version = model.ir_version
    onnx.checker.check_model(result)
    return result


@cache
def anchors(height: int, width: int) -> np.ndarray:
    """(n, 4) anchors (centre x, centre y, width, height) in pixels, in the network's order:
    feature map by feature map, row by row, then each anchor size of a location."""
    rows = []
    for sizes, stride in zip(_ANCHOR_SIZES_PX, _STRIDES_PX, strict=True):
        fh, fw = math.ceil(height / stride), math.ceil(width / stride)
        ys, xs = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        centres = np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], 1)
        for_location = np.repeat(centres, len(sizes), axis=0)
        size_col = np.tile(np.asarray(sizes, np.float64), len(centres))
        rows.append(np.column_stack([for_location, size_col, size_col]))
    return np.concatenate(rows).astype(np.float32)


def decode(
    scores: np.ndarray, offsets: np.ndarray, height: int, width: int, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (left, top, right, bottom, in detection-image pixels) and scores of the anchors
    scoring at least `threshold`, before overlap suppression."""
    prior = anchors(height, width)
    if len(prior) != len(scores):
        raise ModelError(
            f"detector returned {len(scores)} anchors for {width}x{height}, expected {len(prior)}"
        )
    keep = scores >= threshold
    prior, off = prior[keep], offsets[keep]
    centre = prior[:, :2] + off[:, :2] * _CENTRE_VARIANCE * prior[:, 2:]
    size = prior[:, 2:] * np.exp(off[:, 2:] * _SIZE_VARIANCE)
    return np.hstack([centre - size / 2, centre + size / 2]), scores[keep]


# Its boxes are taller than dlib's (forehead to chin): dlib's convention, which the
# landmark predictor was trained on, is a square about 1.07 of this box's width, on the
# same centre (median over the bundled photos and HOG's boxes on them).
_DLIB_SIDE_PER_WIDTH = 1.07


def dlib_convention(left: float, top: float, right: float, bottom: float) -> Box:
    """This detector's box as the square dlib's detectors would put around the face."""
    half = (right - left) * _DLIB_SIDE_PER_WIDTH / 2
    cx, cy = (left + right) / 2, (top + bottom) / 2
    return Box(round(cx - half), round(cy - half), round(cx + half), round(cy + half))


COVERED_FRACTION = 0.5
"""A box this much inside a more confident one is part of that face (the network also
fires on the upper half of a large face), not another face."""


def _covered(box: np.ndarray, by: np.ndarray) -> bool:
    inner_w = min(box[2], by[2]) - max(box[0], by[0])
    inner_h = min(box[3], by[3]) - max(box[1], by[1])
    if inner_w <= 0 or inner_h <= 0:
        return False
    area = (box[2] - box[0]) * (box[3] - box[1])
    return bool(inner_w * inner_h >= COVERED_FRACTION * area)


class UltraLightDetector(ScoredDetector):
    """Finds faces from about MIN_FACE_PX wide (at the scale it is given), frontal or turned."""

    min_face_px = MIN_FACE_PX
    max_face_px = MAX_FACE_PX
    size_multiple_px = SIZE_MULTIPLE_PX

    def __init__(self, threads: int = 1, score_threshold: float = 0.6, nms_iou: float = 0.4):
        from openlfr.recognition.onnx_networks import cached_model, cpu_session

        weights = package_file(FACEPLUGIN, DETECTOR_FILE)
        self._session = cpu_session(
            cached_model(weights, "ultralight", build_detector_graph), threads
        )
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou

    def detect_scored(self, image: RGBImage) -> list[tuple[float, Box]]:
        """(score, box) for each face in `image`, best first, in dlib's box convention. The
        image is used at its own size rounded to a multiple of SIZE_MULTIPLE_PX; boxes are
        in its pixels and may reach past its edges."""
        height, width = image.shape[:2]
        net_h = max(SIZE_MULTIPLE_PX, round(height / SIZE_MULTIPLE_PX) * SIZE_MULTIPLE_PX)
        net_w = max(SIZE_MULTIPLE_PX, round(width / SIZE_MULTIPLE_PX) * SIZE_MULTIPLE_PX)
        resized: np.ndarray = image
        if (net_h, net_w) != (height, width):
            resized = cv2.resize(image, (net_w, net_h), interpolation=cv2.INTER_LINEAR)
        scores, offsets = self._session.run(None, {"image": np.ascontiguousarray(resized)[None]})
        boxes, kept_scores = decode(scores[0], offsets[0], net_h, net_w, self.score_threshold)
        if len(boxes) == 0:
            return []
        boxes *= np.array([width / net_w, height / net_h] * 2, np.float32)
        rects = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes]
        chosen = cv2.dnn.NMSBoxes(rects, kept_scores.tolist(), self.score_threshold, self.nms_iou)
        order = sorted(np.asarray(chosen, dtype=int).reshape(-1), key=lambda i: -kept_scores[i])
        kept: list[int] = []
        for i in order:
            if not any(_covered(boxes[i], boxes[k]) for k in kept):
                kept.append(i)
        return [(float(kept_scores[i]), dlib_convention(*boxes[i])) for i in kept]
