"""dlib's CNN (MMOD) face detector on ONNX Runtime: the same faces as dlib finds."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from openlfr.recognition.backends import DlibCnnDetector, load_backends
from openlfr.recognition.cnn_detector import MmodFaceDetector, tiled_pyramid_layout
from openlfr.recognition.dlib_format import DlibFormatError, read_mmod_network
from openlfr.recognition.faces import Box, RGBImage
from openlfr.recognition.images import is_image_file, read_image
from openlfr.recognition.models import model_files

from .conftest import IDENTITIES, SHARED

pytestmark = pytest.mark.slow

TEST_SCALE_PX = 400  # dlib's CNN takes seconds on a full-size photo; both see this copy
MIN_IOU = 0.9


def _photos() -> list[Path]:
    root = SHARED if SHARED.is_dir() else IDENTITIES.parent
    return sorted(p for p in root.rglob("*") if is_image_file(p))


def _scaled(path: Path) -> RGBImage:
    image = read_image(path)
    scale = min(1.0, TEST_SCALE_PX / max(image.shape[:2]))
    if scale < 1.0:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
    return image


@pytest.fixture(scope="module")
def detectors() -> tuple[MmodFaceDetector, DlibCnnDetector]:
    return MmodFaceDetector(threads=2), DlibCnnDetector()


def _matched_ious(ours: list[Box], theirs: list[Box]) -> list[float]:
    return [max((a.iou(b) for b in theirs), default=0.0) for a in ours]


_dlib_in_worker: DlibCnnDetector | None = None


def _dlib_boxes(photo: Path) -> list[Box]:
    """dlib's own CNN detections of a photo (in a worker process: dlib runs on one core)."""
    global _dlib_in_worker
    if _dlib_in_worker is None:
        _dlib_in_worker = DlibCnnDetector()
    return _dlib_in_worker.detect(_scaled(photo))


def test_the_same_faces_as_dlib_on_every_photo(detectors) -> None:  # type: ignore[no-untyped-def]
    ours_detector, _ = detectors
    photos = _photos()
    # dlib's detector is single-threaded and takes ~1 s a photo: run it on both cores.
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        dlib_boxes = list(pool.map(_dlib_boxes, photos))
    worst = 1.0
    faces = 0
    for photo, theirs in zip(photos, dlib_boxes, strict=True):
        image = _scaled(photo)
        ours = ours_detector.detect(image)
        assert len(ours) == len(theirs), f"{photo.name}: {len(ours)} faces, dlib {len(theirs)}"
        ious = _matched_ious(ours, theirs)
        worst = min([worst, *ious])
        faces += len(ours)
        assert all(iou >= MIN_IOU for iou in ious), f"{photo.name}: IoU {ious}"
    print(f"{len(photos)} photos, {faces} faces; lowest IoU with dlib's box {worst:.3f}")
    assert faces > len(photos) // 2


def test_a_wrong_layer_changes_the_scores(detectors) -> None:  # type: ignore[no-untyped-def]
    """The check above compares boxes; a perturbed network must not pass unnoticed."""
    ours_detector, _ = detectors
    image = _scaled(IDENTITIES / "biden" / "biden.jpg")
    packed, _ = ours_detector.pyramid(image)
    scores = ours_detector._session.run(None, {"pyramid": packed[None]})[0]
    _, _, layers = read_mmod_network(model_files().detector_mmod)
    from openlfr.recognition.onnx_networks import build_detector_graph

    convolutions = [layer for layer in layers if layer.kind == "con"]
    convolutions[3].params["weight"] = convolutions[3].params["weight"] * 1.05
    import onnxruntime

    model, _ = build_detector_graph(layers)
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    perturbed = session.run(None, {"pyramid": packed[None]})[0]
    assert np.abs(perturbed - scores).max() > 1e-2


def test_pyramid_levels_shrink_by_five_sixths_and_never_overlap() -> None:
    rects, height, width = tiled_pyramid_layout(480, 640, padding=10, outer_padding=11)
    assert rects[0] == (11, 11, 650, 490)
    for above, level in zip(rects, rects[1:], strict=False):
        assert level[3] - level[1] + 1 == int((above[3] - above[1] + 1) * 5 / 6)
    for i, a in enumerate(rects):
        assert 0 <= a[0] <= a[2] < width and 0 <= a[1] <= a[3] < height
        for b in rects[i + 1 :]:
            assert a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1]


def test_cnn_finds_faces_hog_misses_on_a_group_photo() -> None:
    image = read_image(IDENTITIES.parent / "groups" / "selfie-many-people.jpg")
    hog = load_backends("onnx", detector="hog").detector.detect(image)
    cnn = load_backends("onnx", detector="cnn").detector.detect(image)
    assert len(cnn) > len(hog)


def test_a_damaged_detector_file_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "mmod_human_face_detector.dat"
    broken.write_bytes(model_files().detector_mmod.read_bytes()[:5000])
    with pytest.raises(DlibFormatError, match="unexpected end of file|malformed"):
        read_mmod_network(broken)
    broken.write_bytes(model_files().descriptor_resnet.read_bytes()[:5000])
    with pytest.raises(DlibFormatError, match="not a dlib loss_mmod network"):
        read_mmod_network(broken)
