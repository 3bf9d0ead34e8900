"""Reading dlib's serialised DNN files (the `.dat` weights in face_recognition_models).

dlib writes a network top-down but recursively: each `add_layer` writes a version number,
then its whole sub-network, then its own layer's details and some bookkeeping (flags and
empty gradient tensors). So the file holds the loss layer, a run of version numbers, the
input layer, and then every layer's details from the input upwards. We read that last
part as a flat list of `Layer`s in input-to-output order; the structure (which layers
a residual addition joins) is rebuilt from the known layout by the network builder.

Primitives, as dlib writes them:

* integer: one byte `n | sign<<7`, then `n` little-endian bytes of magnitude;
* float/double: mantissa and base-2 exponent, each an integer as above;
* string: length (integer), then the bytes;
* bool: the character '0' or '1';
* tensor (version 2): num_samples, k, nr, nc, then that many little-endian float32s;
* alias_tensor (version 1): num_samples, k, nr, nc (a view into a layer's params).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from openlfr.recognition.errors import ModelError


class DlibFormatError(ModelError):
    """The file is not a dlib network of a supported kind, or is damaged."""


@dataclass
class Layer:
    kind: str
    """dlib's layer name without version suffix: con, affine, relu, max_pool, avg_pool,
    add_prev, fc, input_rgb_image_sized, ..."""
    params: dict[str, Any] = field(default_factory=dict)


class _Reader:
    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.pos, self.name = data, 0, name

    def _fail(self, what: str) -> DlibFormatError:
        return DlibFormatError(
            f"{self.name}: {what} at byte {self.pos}; the weights file is "
            "damaged or not a supported dlib network (reinstall "
            "face_recognition_models)"
        )

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise self._fail("unexpected end of file")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def integer(self) -> int:
        head = self.byte()
        size = head & 0x7F
        if size > 8 or self.pos + size > len(self.data):
            raise self._fail("malformed integer")
        value = int.from_bytes(self.data[self.pos : self.pos + size], "little")
        self.pos += size
        return -value if head & 0x80 else value

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        return float(mantissa) * 2.0**exponent

    def string(self) -> str:
        length = self.integer()
        if not 0 <= length <= 256 or self.pos + length > len(self.data):
            raise self._fail("malformed string")
        text = self.data[self.pos : self.pos + length]
        self.pos += length
        try:
            return text.decode("ascii")
        except UnicodeDecodeError:
            raise self._fail("malformed string") from None

    def boolean(self) -> bool:
        value = self.byte()
        if value not in (0x30, 0x31):
            raise self._fail("malformed flag")
        return value == 0x31

    def tensor(self) -> np.ndarray:
        if self.integer() != 2:
            raise self._fail("unsupported tensor version")
        shape = tuple(self.integer() for _ in range(4))
        count = int(np.prod(shape))
        if min(shape) < 0 or self.pos + 4 * count > len(self.data):
            raise self._fail("malformed tensor")
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos)
        self.pos += 4 * count
        return values.astype(np.float32).reshape(shape)

    def alias(self) -> tuple[int, int, int, int]:
        if self.integer() != 1:
            raise self._fail("unsupported alias_tensor version")
        n, k, nr, nc = (self.integer() for _ in range(4))
        return n, k, nr, nc


def _read_details(reader: _Reader, name: str) -> Layer:
    """One layer's own fields, in the order dlib writes them."""
    if name in ("con_4", "con_5"):
        params = reader.tensor().ravel()
        num_filters, nr, nc, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(7))
        filters, _biases = reader.alias(), reader.alias()
        for _ in range(4):  # learning-rate and weight-decay multipliers: training only
            reader.real()
        has_bias = reader.boolean() if name == "con_5" else True
        size = int(np.prod(filters))
        weight = params[:size].reshape(num_filters, filters[1], nr, nc)
        bias = params[size : size + num_filters] if has_bias else np.zeros(num_filters, np.float32)
        return Layer(
            "con",
            {"weight": weight, "bias": bias, "stride": (stride_y, stride_x), "pad": (pad_y, pad_x)},
        )
    if name == "affine_":
        params = reader.tensor().ravel()
        gamma = reader.alias()
        reader.alias()
        mode = reader.integer()
        channels = int(np.prod(gamma))
        return Layer(
            "affine",
            {
                "gamma": params[:channels],
                "beta": params[channels : 2 * channels],
                "conv_mode": mode == 0,
            },
        )
    if name == "bn_con2":
        # A batch-norm layer saved from training: at inference it is the affine map
        # gamma * (x - running_mean) / sqrt(running_var + eps) + beta, as dlib applies it.
        params = reader.tensor().ravel()
        gamma = reader.alias()
        reader.alias()
        reader.tensor()  # batch means: training only
        reader.tensor()  # batch inverse deviations: training only
        running_means = reader.tensor().ravel()
        running_variances = reader.tensor().ravel()
        reader.integer()  # num_updates
        reader.integer()  # running_stats_window_size
        for _ in range(4):
            reader.real()
        eps = reader.real()
        channels = int(np.prod(gamma))
        scale = params[:channels] / np.sqrt(running_variances + eps)
        shift = params[channels : 2 * channels] - running_means * scale
        return Layer(
            "affine",
            {
                "gamma": scale.astype(np.float32),
                "beta": shift.astype(np.float32),
                "conv_mode": True,
            },
        )
    if name == "relu_":
        return Layer("relu")
    if name in ("max_pool_2", "avg_pool_2"):
        nr, nc, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(6))
        return Layer(
            name[:-2], {"size": (nr, nc), "stride": (stride_y, stride_x), "pad": (pad_y, pad_x)}
        )
    if name == "add_prev_":
        return Layer("add_prev")
    if name == "fc_2":
        outputs, inputs = reader.integer(), reader.integer()
        params = reader.tensor().ravel()
        reader.alias()
        reader.alias()
        bias_mode = reader.integer()
        for _ in range(4):
            reader.real()
        fc_weight = params[: inputs * outputs].reshape(inputs, outputs)
        fc_bias = params[inputs * outputs : inputs * outputs + outputs] if bias_mode == 0 else None
        return Layer("fc", {"weight": fc_weight, "bias": fc_bias})
    raise reader._fail(f"unsupported layer {name!r}")


def _read_layers(reader: _Reader) -> list[Layer]:
    """Every layer's details from the input upwards (after the input layer itself)."""
    layers: list[Layer] = []
    first = True
    while reader.pos < len(reader.data):
        layers.append(_read_details(reader, reader.string()))
        for _ in range(3):  # setup called, gradient stale, output disabled
            reader.boolean()
        for _ in range(3):  # x_grad, cached_output, params_grad: empty after training
            reader.tensor()
        if first:  # the layer on top of the input also writes its sample expansion factor
            reader.integer()
            first = False
    return layers


def _skip_versions(reader: _Reader) -> None:
    """Skip the add_layer / tag / skip versions written on the way down the network."""
    while True:
        mark = reader.pos
        if reader.integer() not in (1, 2, 3):
            reader.pos = mark
            return


def _open(path: Path, loss: str, expected: str) -> _Reader:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DlibFormatError(f"{path}: cannot read ({exc.strerror})") from exc
    reader = _Reader(data, str(path))
    if not data or reader.integer() != 1 or not reader.string().startswith(loss):
        raise DlibFormatError(
            f"{path}: not a dlib {loss.rstrip('_')} network (expected {expected})"
        )
    return reader


def read_metric_network(path: Path) -> tuple[Layer, list[Layer]]:
    """Read a `loss_metric` network (the face descriptor ResNet): its input layer and its
    layers from input to output."""
    reader = _open(path, "loss_metric_", "dlib_face_recognition_resnet_model_v1.dat")
    reader.real()  # margin: training only
    reader.real()  # distance threshold: training only
    _skip_versions(reader)
    if reader.string() != "input_rgb_image_sized":
        raise reader._fail("expected an input_rgb_image_sized layer")
    mean_rgb = (reader.real(), reader.real(), reader.real())
    size = (reader.integer(), reader.integer())
    input_layer = Layer("input_rgb_image_sized", {"mean_rgb": mean_rgb, "size": size})
    layers = _read_layers(reader)
    if not layers or layers[-1].kind != "fc":
        raise reader._fail("the network does not end in a fully connected layer")
    return input_layer, layers


@dataclass(frozen=True)
class MmodOptions:
    """What the MMOD loss layer knows about turning scores into boxes."""

    window_width: int
    window_height: int
    nms_iou: float
    nms_covered: float


def read_mmod_network(path: Path) -> tuple[MmodOptions, Layer, list[Layer]]:
    """Read a `loss_mmod` network (the CNN face detector): its detection options, its input
    layer (an RGB image pyramid) and its layers from input to output."""
    reader = _open(path, "loss_mmod_", "mmod_human_face_detector.dat")
    if reader.integer() != 1:
        raise reader._fail("unsupported mmod_options version")
    width, height = reader.integer(), reader.integer()
    for _ in range(3):  # loss per false alarm / missed target, truth match IoU: training only
        reader.real()
    nms_iou, nms_covered = reader.real(), reader.real()
    reader.real()  # overlaps_ignore: training only
    reader.real()
    _skip_versions(reader)
    name = reader.string()
    if name not in ("input_rgb_image_pyramid", "input_rgb_image_pyramid2"):
        raise reader._fail("expected an input_rgb_image_pyramid layer")
    mean_rgb = (reader.real(), reader.real(), reader.real())
    padding, outer_padding = (
        (10, 11) if name == "input_rgb_image_pyramid" else (reader.integer(), reader.integer())
    )
    input_layer = Layer(
        "input_rgb_image_pyramid",
        {"mean_rgb": mean_rgb, "padding": padding, "outer_padding": outer_padding},
    )
    layers = _read_layers(reader)
    if not layers or layers[-1].kind != "con":
        raise reader._fail("the network does not end in a convolution")
    return MmodOptions(width, height, nms_iou, nms_covered), input_layer, layers
