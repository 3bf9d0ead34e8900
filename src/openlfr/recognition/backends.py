"""The three networks behind small interfaces, so a faster backend can replace dlib's.

A backend turns an RGB image into face boxes (detector), boxes into aligned 150x150
chips (aligner), and chips into 128-D descriptors (describer). `load_backends` picks
an implementation by name; "dlib" is the reference one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from openlfr.recognition.errors import ModelError
from openlfr.recognition.faces import Box, RGBImage
from openlfr.recognition.models import descriptor_model_id, model_files

log = logging.getLogger(__name__)

CHIP_SIZE_PX = 150
CHIP_PADDING = 0.25
DESCRIPTOR_DIM = 128


class FaceDetector(Protocol):
    """Finds faces in an RGB image; boxes are in that image's pixel coordinates."""

    def detect(self, image: RGBImage) -> list[Box]: ...


class FaceAligner(Protocol):
    """Cuts an aligned face chip (CHIP_SIZE_PX square, RGB) for each box."""

    def chips(self, image: RGBImage, boxes: Sequence[Box]) -> list[RGBImage]: ...


class FaceDescriber(Protocol):
    """Maps aligned chips to descriptors: an (n, DESCRIPTOR_DIM) float32 array."""

    model_id: str

    def describe(self, chips: Sequence[RGBImage]) -> np.ndarray: ...


@dataclass
class Backends:
    """One detector, aligner and describer that work together."""

    name: str
    detector_name: str
    detector: FaceDetector
    aligner: FaceAligner
    describer: FaceDescriber


def _dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModelError(
            "dlib is missing; install it with: python3 -m pip install dlib-bin"
        ) from exc
    return dlib


def _rect(box: Box) -> Any:
    return _dlib().rectangle(box.left, box.top, box.right, box.bottom)


class DlibHogDetector:
    """dlib's frontal HOG + linear SVM detector: fast on a CPU, frontal faces only."""

    def __init__(self) -> None:
        self._detector = _dlib().get_frontal_face_detector()

    def detect(self, image: RGBImage) -> list[Box]:
        rects = self._detector(image, 0)  # the caller scales the image instead of upsampling
        return [Box(r.left(), r.top(), r.right(), r.bottom()) for r in rects]


class DlibCnnDetector:
    """dlib's own CNN (MMOD) face detector: the reference the ONNX one is checked against."""

    def __init__(self) -> None:
        self._detector = _dlib().cnn_face_detection_model_v1(str(model_files().detector_mmod))

    def detect(self, image: RGBImage) -> list[Box]:
        found = self._detector(image, 0)
        return [
            Box(d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1) for d in found
        ]


class DlibLandmarkAligner:
    """Five-point landmarks, then dlib's similarity-transform chip (as the ResNet expects)."""

    def __init__(self) -> None:
        dlib = _dlib()
        self._predictor = dlib.shape_predictor(str(model_files().landmarks_5pt))
        self._dlib = dlib

    def chips(self, image: RGBImage, boxes: Sequence[Box]) -> list[RGBImage]:
        if not boxes:
            return []
        shapes = self._dlib.full_object_detections()
        for box in boxes:
            shapes.append(self._predictor(image, _rect(box)))
        chips = self._dlib.get_face_chips(image, shapes, size=CHIP_SIZE_PX, padding=CHIP_PADDING)
        return [np.ascontiguousarray(chip, dtype=np.uint8) for chip in chips]


class DlibResNetDescriber:
    """dlib's ResNet-34-like network trained for 128-D face descriptors (L2 metric)."""

    def __init__(self) -> None:
        self._net = _dlib().face_recognition_model_v1(str(model_files().descriptor_resnet))
        self.model_id = descriptor_model_id()

    def describe(self, chips: Sequence[RGBImage]) -> np.ndarray:
        if not chips:
            return np.zeros((0, DESCRIPTOR_DIM), dtype=np.float32)
        vectors = self._net.compute_face_descriptor(list(chips))
        return np.asarray([np.asarray(v) for v in vectors], dtype=np.float32)


class OnnxResNetDescriber:
    """The same ResNet, read from dlib's weights file and run by ONNX Runtime: the same
    descriptors (within 1e-4 in L2), an order of magnitude faster, batched."""

    def __init__(self, threads: int = 1) -> None:
        try:
            import onnxruntime
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ModelError(
                "onnxruntime is missing; install it with: python3 -m pip install onnxruntime"
            ) from exc
        from openlfr.recognition.onnx_networks import cached_descriptor_model

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        path = cached_descriptor_model(model_files().descriptor_resnet)
        self._session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        # Same weights, same function: descriptors are interchangeable with dlib's.
        self.model_id = descriptor_model_id()

    def describe(self, chips: Sequence[RGBImage]) -> np.ndarray:
        if not chips:
            return np.zeros((0, DESCRIPTOR_DIM), dtype=np.float32)
        batch = np.ascontiguousarray(np.stack(chips), dtype=np.uint8)
        return np.asarray(self._session.run(None, {"chips": batch})[0], dtype=np.float32)


BACKEND_NAMES = ("auto", "onnx", "dlib")
"""auto: ONNX Runtime where it loads, else dlib; onnx: fail if it does not load."""

DETECTOR_NAMES = ("hog", "cnn")
"""hog: dlib's HOG detector (fast, frontal faces); cnn: dlib's MMOD CNN (finds turned and
partly hidden faces too; on ONNX Runtime with the onnx backend)."""


def resolve_detector(choice: str, *, live: bool) -> str:
    """Resolve "auto": the CNN finds more faces (turned, tilted, partly hidden), and a live
    source can afford it because the pipeline drops frames it cannot keep up with; a file
    is read whole, so HOG keeps it fast. Other choices pass through."""
    if choice == "auto":
        return "cnn" if live else "hog"
    return choice


def load_backends(name: str = "auto", threads: int = 1, detector: str = "hog") -> Backends:
    """Load a named backend's networks from installed packages.

    `threads` is what one process may use for a network (the pipeline runs one worker
    process per core, each with one thread)."""
    if name not in BACKEND_NAMES:
        raise ModelError(f"unknown backend {name!r}; choose one of: {', '.join(BACKEND_NAMES)}")
    if detector not in DETECTOR_NAMES:
        raise ModelError(
            f"unknown detector {detector!r}; choose one of: {', '.join(DETECTOR_NAMES)}"
        )
    try:
        aligner = DlibLandmarkAligner()
        if name == "dlib":
            dlib_detector = DlibCnnDetector() if detector == "cnn" else DlibHogDetector()
            return Backends("dlib", detector, dlib_detector, aligner, DlibResNetDescriber())
    except RuntimeError as exc:  # dlib raises RuntimeError on unreadable weight files
        raise ModelError(
            f"cannot load dlib models: {exc}; reinstall face_recognition_models"
        ) from exc
    try:
        describer = OnnxResNetDescriber(threads)
        if detector == "cnn":
            from openlfr.recognition.cnn_detector import MmodFaceDetector

            return Backends("onnx", detector, MmodFaceDetector(threads), aligner, describer)
        return Backends("onnx", detector, DlibHogDetector(), aligner, describer)
    except ModelError as exc:
        if name == "onnx":
            raise
        log.warning("ONNX backend unavailable (%s); using dlib", exc)
        return load_backends("dlib", threads, detector)
