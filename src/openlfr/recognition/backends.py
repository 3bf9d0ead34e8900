"""The networks behind small interfaces: a detector, an aligner and a describer.

A detector turns an RGB image into face boxes, an aligner cuts an aligned chip for each
box (and says how far the face is from frontal), a describer maps chips to descriptors.
`load_backends` picks them by name:

* descriptor "w600k" (the default) and "mobilefacenet": 512-D angular-margin
  MobileFaceNets on 112x112 chips aligned from five landmarks, cosine metric (arcface.py;
  their weights come from registry packages, see model_package.py). "dlib": dlib's 128-D
  ResNet on its own 150x150 chips, L2 metric, the reference the engine started with.
* detector "ultralight" (the default): a small CNN that finds faces from about 20 px
  (ultralight.py); "hog": dlib's HOG detector (frontal faces, from about 80 px); "cnn":
  dlib's MMOD CNN (turned faces too, from about 80 px; slow).
* backend: how dlib's own networks run: "onnx" (rebuilt as ONNX graphs), "dlib", or "auto"
  (ONNX Runtime where it loads, else dlib).

Every detector returns boxes in dlib's convention (a square from the brows to the chin),
which is what the five-point landmark predictor was trained on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from openlfr.recognition.errors import ModelError
from openlfr.recognition.faces import Box, RGBImage, ScoredDetector
from openlfr.recognition.models import descriptor_model_id, model_files

log = logging.getLogger(__name__)

DLIB_CHIP_SIZE_PX = 150
DLIB_CHIP_PADDING = 0.25
DLIB_DESCRIPTOR_DIM = 128


class FaceDetector(Protocol):
    """Finds faces in an RGB image; boxes are in that image's pixel coordinates."""

    min_face_px: int
    """About the smallest face it finds, in the pixels of the image it is given."""

    def detect_scored(self, image: RGBImage) -> list[tuple[float, Box]]:
        """(confidence 0..1, box) for each face, most confident first."""
        ...


class FaceAligner(Protocol):
    """Cuts an aligned face chip for each box, with the face's pose residual (how far its
    landmarks sit from a frontal face's after alignment, in chip pixels)."""

    def align(self, image: RGBImage, boxes: Sequence[Box]) -> list[tuple[RGBImage, float]]: ...


class FaceDescriber(Protocol):
    """Maps aligned chips to descriptors: an (n, dim) float32 array."""

    model_id: str
    metric: str
    """"cosine" (unit vectors, similarity = dot product) or "l2" (similarity = 1 - distance)."""
    dim: int

    def describe(self, chips: Sequence[RGBImage]) -> np.ndarray: ...


@dataclass
class Backends:
    """One detector, aligner and describer that work together."""

    name: str
    detector_name: str
    descriptor_name: str
    detector: FaceDetector
    aligner: FaceAligner
    describer: FaceDescriber

    @property
    def gil_free(self) -> bool:
        """Whether the heavy work runs outside Python's GIL (ONNX Runtime, OpenCV), so
        threads use every core; dlib's own detectors and networks hold the GIL."""
        return self.name == "onnx" and self.detector_name != "hog"


def dlib_module() -> Any:
    try:
        import dlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModelError(
            "dlib is missing; install it with: python3 -m pip install dlib-bin"
        ) from exc
    return dlib


def _rect(box: Box) -> Any:
    return dlib_module().rectangle(box.left, box.top, box.right, box.bottom)


class DlibHogDetector(ScoredDetector):
    """dlib's frontal HOG + linear SVM detector: frontal faces only, from about 80 px."""

    min_face_px = 80

    def __init__(self) -> None:
        self._detector = dlib_module().get_frontal_face_detector()

    def detect_scored(self, image: RGBImage) -> list[tuple[float, Box]]:
        rects = self._detector(image, 0)  # the caller scales the image instead of upsampling
        return [(1.0, Box(r.left(), r.top(), r.right(), r.bottom())) for r in rects]


class DlibCnnDetector(ScoredDetector):
    """dlib's own CNN (MMOD) face detector: the reference the ONNX one is checked against."""

    min_face_px = 80

    def __init__(self) -> None:
        self._detector = dlib_module().cnn_face_detection_model_v1(
            str(model_files().detector_mmod)
        )

    def detect_scored(self, image: RGBImage) -> list[tuple[float, Box]]:
        found = self._detector(image, 0)
        return [
            (1.0, Box(d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1))
            for d in found
        ]


class DlibLandmarkAligner:
    """Five-point landmarks, then dlib's own 150x150 chip (as its ResNet expects)."""

    def __init__(self) -> None:
        dlib = dlib_module()
        self._predictor = dlib.shape_predictor(str(model_files().landmarks_5pt))
        self._dlib = dlib

    def align(self, image: RGBImage, boxes: Sequence[Box]) -> list[tuple[RGBImage, float]]:
        from openlfr.recognition.arcface import pose_residual

        if not boxes:
            return []
        shapes = self._dlib.full_object_detections()
        for box in boxes:
            shapes.append(self._predictor(image, _rect(box)))
        chips = self._dlib.get_face_chips(
            image, shapes, size=DLIB_CHIP_SIZE_PX, padding=DLIB_CHIP_PADDING
        )
        residuals = [
            pose_residual(np.array([(p.x, p.y) for p in shape.parts()], np.float32))
            for shape in shapes
        ]
        return [
            (np.ascontiguousarray(chip, dtype=np.uint8), residual)
            for chip, residual in zip(chips, residuals, strict=True)
        ]


class DlibResNetDescriber:
    """dlib's ResNet-34-like network trained for 128-D face descriptors (L2 metric)."""

    metric = "l2"
    dim = DLIB_DESCRIPTOR_DIM

    def __init__(self) -> None:
        self._net = dlib_module().face_recognition_model_v1(str(model_files().descriptor_resnet))
        self.model_id = descriptor_model_id()

    def describe(self, chips: Sequence[RGBImage]) -> np.ndarray:
        if not chips:
            return np.zeros((0, DLIB_DESCRIPTOR_DIM), dtype=np.float32)
        vectors = self._net.compute_face_descriptor(list(chips))
        return np.asarray([np.asarray(v) for v in vectors], dtype=np.float32)


class OnnxResNetDescriber:
    """The same ResNet, read from dlib's weights file and run by ONNX Runtime: the same
    descriptors (within 1e-4 in L2), an order of magnitude faster, batched."""

    metric = "l2"
    dim = DLIB_DESCRIPTOR_DIM

    def __init__(self, threads: int = 1) -> None:
        from openlfr.recognition.onnx_networks import cached_descriptor_model, cpu_session

        self._session = cpu_session(
            cached_descriptor_model(model_files().descriptor_resnet), threads
        )
        # Same weights, same function: descriptors are interchangeable with dlib's.
        self.model_id = descriptor_model_id()

    def describe(self, chips: Sequence[RGBImage]) -> np.ndarray:
        if not chips:
            return np.zeros((0, DLIB_DESCRIPTOR_DIM), dtype=np.float32)
        batch = np.ascontiguousarray(np.stack(chips), dtype=np.uint8)
        return np.asarray(self._session.run(None, {"chips": batch})[0], dtype=np.float32)


def onnxruntime_module() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModelError(
            "onnxruntime is missing; install it with: python3 -m pip install onnxruntime"
        ) from exc
    return onnxruntime


BACKEND_NAMES = ("auto", "onnx", "dlib")
"""How dlib's networks run. auto: ONNX Runtime where it loads, else dlib; onnx: fail if it
does not load; dlib: dlib throughout (then only the hog/cnn detectors and the dlib
descriptor are available)."""

DETECTOR_NAMES = ("ultralight", "hog", "cnn")
"""ultralight: small CNN, faces from about 20 px (default); hog: dlib's HOG (frontal, from
about 80 px); cnn: dlib's MMOD CNN (turned faces too, from about 80 px; slow)."""

DESCRIPTOR_NAMES = ("w600k", "mobilefacenet", "dlib")
"""w600k: 512-D MobileFaceNet trained on WebFace600K (default); mobilefacenet: faceplugin's
512-D MobileFaceNet; dlib: dlib's 128-D ResNet (arcface.NETWORKS has the first two)."""

DEFAULT_DETECTOR = "ultralight"
DEFAULT_DESCRIPTOR = "w600k"


def resolve_detector(choice: str) -> str:
    """Resolve "auto" to the default detector (kept so older commands still work; the
    default is fast enough for live sources and files alike). Others pass through."""
    return DEFAULT_DETECTOR if choice == "auto" else choice


def load_backends(
    name: str = "auto",
    threads: int = 1,
    detector: str = DEFAULT_DETECTOR,
    descriptor: str = DEFAULT_DESCRIPTOR,
    describer: FaceDescriber | None = None,
) -> Backends:
    """Load the named networks from installed packages.

    `threads` is what one worker may use for a network (the pipeline runs one worker per
    core, each with one thread). A given `describer` (one that computes `descriptor`'s
    descriptors elsewhere: the fleet's shared describers) is used instead of loading one."""
    if name not in BACKEND_NAMES:
        raise ModelError(f"unknown backend {name!r}; choose one of: {', '.join(BACKEND_NAMES)}")
    if detector not in DETECTOR_NAMES:
        raise ModelError(
            f"unknown detector {detector!r}; choose one of: {', '.join(DETECTOR_NAMES)}"
        )
    if descriptor not in DESCRIPTOR_NAMES:
        raise ModelError(
            f"unknown descriptor {descriptor!r}; choose one of: {', '.join(DESCRIPTOR_NAMES)}"
        )
    if name == "dlib" and (detector == "ultralight" or descriptor != "dlib"):
        raise ModelError(
            "the dlib backend runs only dlib's networks: use --detector hog or cnn and "
            "--descriptor dlib, or --backend onnx"
        )
    if name == "auto":
        try:
            onnxruntime_module()
            name = "onnx"
        except ModelError as exc:
            if detector == "ultralight" or descriptor != "dlib":
                raise
            log.warning("ONNX Runtime unavailable (%s); using dlib", exc)
            name = "dlib"
    try:
        return Backends(
            name,
            detector,
            descriptor,
            _detector(name, detector, threads),
            _aligner(descriptor),
            describer or load_describer(name, descriptor, threads),
        )
    except RuntimeError as exc:  # dlib raises RuntimeError on unreadable weight files
        raise ModelError(
            f"cannot load dlib models: {exc}; reinstall face_recognition_models"
        ) from exc


def _detector(backend: str, name: str, threads: int) -> FaceDetector:
    if name == "ultralight":
        from openlfr.recognition.ultralight import UltraLightDetector

        return UltraLightDetector(threads)
    if name == "cnn":
        if backend == "dlib":
            return DlibCnnDetector()
        from openlfr.recognition.cnn_detector import MmodFaceDetector

        return MmodFaceDetector(threads)
    return DlibHogDetector()


def _aligner(descriptor: str) -> FaceAligner:
    if descriptor != "dlib":
        from openlfr.recognition.arcface import FivePointAligner

        return FivePointAligner()
    return DlibLandmarkAligner()


def load_describer(backend: str, descriptor: str, threads: int = 1) -> FaceDescriber:
    """The named descriptor network alone ("auto" backend: ONNX Runtime unless only dlib's
    own network is wanted and ONNX Runtime is missing)."""
    if descriptor != "dlib":
        from openlfr.recognition.arcface import NETWORKS, ArcFaceDescriber

        return ArcFaceDescriber(NETWORKS[descriptor], threads)
    if backend == "dlib":
        return DlibResNetDescriber()
    return OnnxResNetDescriber(threads)


def engine_model_id(descriptor: str = DEFAULT_DESCRIPTOR) -> str:
    """The id watchlists of `descriptor` carry, without loading any network (a hash of the
    weights file): what the platform stores when it creates a watchlist."""
    from openlfr.recognition.arcface import NETWORKS, describer_model_id

    if descriptor in NETWORKS:
        return describer_model_id(NETWORKS[descriptor])
    if descriptor == "dlib":
        return descriptor_model_id()
    raise ModelError(
        f"unknown descriptor {descriptor!r}; choose one of: {', '.join(DESCRIPTOR_NAMES)}"
    )


def algorithm_summary(
    detector: str = DEFAULT_DETECTOR, descriptor: str = DEFAULT_DESCRIPTOR
) -> str:
    """One line on what the engine runs, for the technology register (which keeps 200
    characters: tests/platform/test_register_atrs.py checks every choice fits)."""
    detectors = {
        "ultralight": "UltraLight face detector (faceplugin)",
        "hog": "dlib HOG detector",
        "cnn": "dlib MMOD CNN detector",
    }
    from openlfr.recognition.arcface import NETWORKS

    described = (f"{NETWORKS[descriptor].summary} descriptor" if descriptor in NETWORKS
                 else "dlib ResNet-34 128-D descriptor")
    return (
        f"{detectors[detector]}; 5-point alignment, {described}; fused per track; score: how far "
        "the best subject stands out from the rest of the watchlist"
    )


def descriptor_for_model(model_id: str) -> str:
    """The descriptor name (for load_backends) whose watchlists carry `model_id`."""
    from openlfr.recognition.arcface import NETWORKS

    family = model_id.split(":", 1)[0]
    families = {n.family: n.name for n in NETWORKS.values()}
    families["dlib_face_recognition_resnet_model_v1"] = "dlib"
    if family in families:
        return families[family]
    raise ModelError(f"no descriptor of this openlfr makes {model_id!r}; rebuild the watchlist")
