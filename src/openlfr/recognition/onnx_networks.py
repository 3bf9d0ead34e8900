"""dlib's face networks rebuilt as ONNX graphs, run with ONNX Runtime.

The graph is built in code from the weights that `face_recognition_models` installs (read
by dlib_format.py), at first use, and cached under the user's cache folder keyed by the
weights' SHA-256 and this builder's version: nothing is downloaded and nothing converted
is shipped. Each dlib `affine` layer (a frozen batch-norm) is folded into the convolution
before it, which leaves the function unchanged and saves a pass over the activations.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openlfr.recognition.dlib_format import (
    DlibFormatError,
    Layer,
    read_metric_network,
    read_mmod_network,
)
from openlfr.recognition.errors import ModelError

BUILDER_VERSION = 5
_OPSET = 17


def cache_dir() -> Path:
    """Where built graphs are kept: $OPENLFR_CACHE_DIR, else the user's cache folder."""
    configured = os.environ.get("OPENLFR_CACHE_DIR")
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir("openlfr")) / "onnx"


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModelError("onnx is missing; install it with: python3 -m pip install onnx") from exc
    return onnx


@dataclass
class _Shape:
    channels: int
    height: int
    width: int


class _GraphBuilder:
    """Accumulates ONNX nodes and initialisers while tracking tensor shapes."""

    def __init__(self) -> None:
        self.onnx = _onnx()
        self.nodes: list[object] = []
        self.initializers: list[object] = []
        self.macs = 0
        self._names = 0

    def name(self, prefix: str) -> str:
        self._names += 1
        return f"{prefix}_{self._names}"

    def constant(self, array: np.ndarray, prefix: str) -> str:
        name = self.name(prefix)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], prefix: str, **attrs: object) -> str:
        output = self.name(prefix)
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [output], **attrs))
        return output

    def conv(self, x: str, shape: _Shape, layer: Layer, affine: Layer | None) -> tuple[str, _Shape]:
        weight, bias = layer.params["weight"], layer.params["bias"]
        if affine is not None:  # gamma * (W x + b) + beta == (gamma W) x + (gamma b + beta)
            gamma, beta = affine.params["gamma"], affine.params["beta"]
            weight = weight * gamma[:, None, None, None]
            bias = bias * gamma + beta
        (sy, sx), (py, px) = layer.params["stride"], layer.params["pad"]
        filters, _, kh, kw = weight.shape
        out = _Shape(
            filters, (shape.height + 2 * py - kh) // sy + 1, (shape.width + 2 * px - kw) // sx + 1
        )
        self.macs += filters * out.height * out.width * shape.channels * kh * kw
        y = self.node(
            "Conv",
            [
                x,
                self.constant(weight.astype(np.float32), "w"),
                self.constant(bias.astype(np.float32), "b"),
            ],
            "conv",
            kernel_shape=[kh, kw],
            strides=[sy, sx],
            pads=[py, px, py, px],
        )
        return y, out

    def pool(self, x: str, shape: _Shape, layer: Layer) -> tuple[str, _Shape]:
        (kh, kw), (sy, sx), (py, px) = (
            layer.params["size"],
            layer.params["stride"],
            layer.params["pad"],
        )
        if kh == 0 and kw == 0:  # dlib's avg_pool_everything
            return self.node("GlobalAveragePool", [x], "gap"), _Shape(shape.channels, 1, 1)
        op = "MaxPool" if layer.kind == "max_pool" else "AveragePool"
        out = _Shape(
            shape.channels,
            (shape.height + 2 * py - kh) // sy + 1,
            (shape.width + 2 * px - kw) // sx + 1,
        )
        return self.node(
            op, [x], "pool", kernel_shape=[kh, kw], strides=[sy, sx], pads=[py, px, py, px]
        ), out

    def padded_add(self, a: str, a_shape: _Shape, b: str, b_shape: _Shape) -> tuple[str, _Shape]:
        """dlib's add_prev: the sum has the larger of each dimension; missing values are 0."""
        out = _Shape(
            max(a_shape.channels, b_shape.channels),
            max(a_shape.height, b_shape.height),
            max(a_shape.width, b_shape.width),
        )
        padded = []
        for name, shape in ((a, a_shape), (b, b_shape)):
            if shape != out:
                pads = np.array(
                    [
                        0,
                        0,
                        0,
                        0,
                        0,
                        out.channels - shape.channels,
                        out.height - shape.height,
                        out.width - shape.width,
                    ],
                    np.int64,
                )
                name = self.node("Pad", [name, self.constant(pads, "pads")], "pad")
            padded.append(name)
        return self.node("Add", padded, "add"), out


def build_descriptor_graph(input_layer: Layer, layers: list[Layer]) -> tuple[object, int]:
    """The ResNet descriptor network as an ONNX model, and its multiply-accumulate count
    per face. Input `chips`: (n, 150, 150, 3) uint8 RGB; output `descriptors`: (n, 128)."""
    onnx = _onnx()
    g = _GraphBuilder()
    height, width = input_layer.params["size"]
    mean = np.asarray(input_layer.params["mean_rgb"], np.float32).reshape(1, 3, 1, 1)
    x = g.node("Cast", ["chips"], "cast", to=onnx.TensorProto.FLOAT)
    x = g.node("Transpose", [x], "nchw", perm=[0, 3, 1, 2])
    x = g.node("Sub", [x, g.constant(mean, "mean")], "centre")
    x = g.node("Mul", [x, g.constant(np.array(1 / 256, np.float32), "scale")], "scale")
    shape = _Shape(3, height, width)
    block_input: tuple[str, _Shape] | None = None
    block_output: tuple[str, _Shape] | None = None
    # Blocks start after the stem's max-pool and after the ReLU that ends each block.
    at_block_boundary = False
    previous = "input"
    index = 0
    while index < len(layers):
        layer = layers[index]
        if layer.kind == "con":
            if at_block_boundary:
                block_input = (x, shape)  # a residual block starts here
                at_block_boundary = False
            following = layers[index + 1] if index + 1 < len(layers) else None
            affine = following if following is not None and following.kind == "affine" else None
            if affine is not None and not affine.params["conv_mode"]:
                raise DlibFormatError(
                    "an affine layer in fully connected mode follows a convolution"
                )
            x, shape = g.conv(x, shape, layer, affine)
            index += 2 if affine is not None else 1
            previous = "affine" if affine is not None else "con"
            continue
        if layer.kind == "relu":
            x = g.node("Relu", [x], "relu")
            at_block_boundary = previous == "add_prev"
        elif layer.kind == "max_pool" or (
            layer.kind == "avg_pool" and layer.params["size"] == (0, 0)
        ):
            x, shape = g.pool(x, shape, layer)
            at_block_boundary = layer.kind == "max_pool"
        elif layer.kind == "avg_pool":
            # A down-sampling block: its output waits (tag2) while the block's input is pooled.
            if block_input is None:
                raise DlibFormatError("a pooling shortcut without a residual block")
            block_output = (x, shape)
            x, shape = g.pool(*block_input, layer)
        elif layer.kind == "add_prev":
            other = block_output or block_input
            if other is None:
                raise DlibFormatError("a residual addition without a residual block")
            x, shape = g.padded_add(x, shape, *other)
            block_output = None
        elif layer.kind == "fc":
            x = g.node("Flatten", [x], "flat", axis=1)
            weight = layer.params["weight"].astype(np.float32)
            g.macs += weight.size
            x = g.node("MatMul", [x, g.constant(weight, "fc")], "fc")
            if layer.params["bias"] is not None:
                x = g.node(
                    "Add", [x, g.constant(layer.params["bias"].astype(np.float32), "fcb")], "fcb"
                )
        else:
            raise DlibFormatError(f"unsupported layer {layer.kind!r} in the descriptor network")
        previous = layer.kind
        index += 1
    g.nodes.append(onnx.helper.make_node("Identity", [x], ["descriptors"]))
    graph = onnx.helper.make_graph(
        g.nodes,
        "dlib_face_descriptor",
        [
            onnx.helper.make_tensor_value_info(
                "chips", onnx.TensorProto.UINT8, ["n", height, width, 3]
            )
        ],
        [onnx.helper.make_tensor_value_info("descriptors", onnx.TensorProto.FLOAT, ["n", None])],
        g.initializers,
    )
    model = onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", _OPSET)], producer_name="openlfr"
    )
    model.metadata_props.add(key="macs_per_face", value=str(g.macs))
    onnx.checker.check_model(model)
    return model, g.macs


def build_detector_graph(
    layers: list[Layer], counted_size: tuple[int, int] = (480, 640)
) -> tuple[Any, int]:
    """The MMOD face detector's convolutions as an ONNX model, and its multiply-accumulate
    count for an input tensor of `counted_size` (height, width). Input `pyramid`:
    (1, 3, H, W) float32, the normalised tiled image pyramid; output `scores`."""
    onnx = _onnx()
    g = _GraphBuilder()
    x = "pyramid"
    shape = _Shape(3, *counted_size)
    index = 0
    while index < len(layers):
        layer = layers[index]
        if layer.kind == "con":
            following = layers[index + 1] if index + 1 < len(layers) else None
            affine = following if following is not None and following.kind == "affine" else None
            x, shape = g.conv(x, shape, layer, affine)
            index += 2 if affine is not None else 1
            continue
        if layer.kind != "relu":
            raise DlibFormatError(f"unsupported layer {layer.kind!r} in the detector network")
        x = g.node("Relu", [x], "relu")
        index += 1
    g.nodes.append(onnx.helper.make_node("Identity", [x], ["scores"]))
    graph = onnx.helper.make_graph(
        g.nodes,
        "dlib_mmod_face_detector",
        [onnx.helper.make_tensor_value_info("pyramid", onnx.TensorProto.FLOAT, [1, 3, "h", "w"])],
        [onnx.helper.make_tensor_value_info("scores", onnx.TensorProto.FLOAT, [1, 1, "sh", "sw"])],
        g.initializers,
    )
    model = onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", _OPSET)], producer_name="openlfr"
    )
    onnx.checker.check_model(model)
    return model, g.macs


def flush_subnormal_weights(graph: Any) -> None:
    """Set the weights too small for a normal float32 (below 1.2e-38) to zero. They change
    no output, but a CPU multiplies subnormal numbers in microcode: the MobileFaceNet's
    8,938 of them made a descriptor cost 55 ms instead of 15 on a Xeon with AVX-512."""
    from onnx import numpy_helper

    tiny = np.finfo(np.float32).tiny
    for index, initializer in enumerate(graph.initializer):
        weights = numpy_helper.to_array(initializer)
        if weights.dtype != np.float32:
            continue
        subnormal = (weights != 0) & (np.abs(weights) < tiny)
        if subnormal.any():
            graph.initializer[index].CopyFrom(numpy_helper.from_array(
                np.where(subnormal, np.float32(0), weights), initializer.name))


def cached_model(weights: Path, kind: str, build: Any) -> Path:
    """The ONNX file built by `build(weights)` for these weights, its subnormal weights set
    to zero, cached on first use."""
    digest = hashlib.sha256(Path(weights).read_bytes()).hexdigest()
    target = cache_dir() / f"{kind}-{digest[:16]}-v{BUILDER_VERSION}.onnx"
    if target.is_file():
        return target
    model = build(weights)
    flush_subnormal_weights(model.graph)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{kind}-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(model.SerializeToString())
        os.replace(tmp, target)  # atomic: a concurrent builder never sees half a file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def cached_descriptor_model(weights: Path) -> Path:
    """The descriptor network's ONNX file for these weights, built and cached on first use."""
    return cached_model(
        weights, "descriptor", lambda w: build_descriptor_graph(*read_metric_network(w))[0]
    )


def cached_detector_model(weights: Path) -> Path:
    """The MMOD detector's ONNX file for these weights, built and cached on first use."""
    return cached_model(
        weights, "detector", lambda w: build_detector_graph(read_mmod_network(w)[2])[0]
    )


def cpu_session(model: Path | bytes, threads: int = 1) -> Any:
    """An ONNX Runtime session on the CPU using `threads` threads for one call (the
    pipeline runs one worker per core, so one thread each by default)."""
    from openlfr.recognition.backends import onnxruntime_module

    onnxruntime = onnxruntime_module()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    source = model if isinstance(model, bytes) else str(model)
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])
