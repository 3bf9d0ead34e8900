"""The 112x112 chip: dlib's five landmarks land where the descriptor was trained to see
the face (the ArcFace alignment, defined on eye centres, nose tip and mouth corners)."""

from __future__ import annotations

import numpy as np
import pytest

from openlfr.recognition.arcface import (
    CHIP_SIZE_PX,
    FIVE_POINT_TEMPLATE,
    FivePointAligner,
    pose_residual,
    similarity_transform,
)
from openlfr.recognition.backends import DlibHogDetector, dlib_module
from openlfr.recognition.enrolment import find_enrolment_photos
from openlfr.recognition.images import read_image

from .conftest import IDENTITIES

# The ArcFace training alignment in a 112x112 chip: eye centres, nose tip, mouth corners
# (image left first), as published with the models trained on it.
ARCFACE_POINTS = np.array(
    [[38.29, 51.70], [73.53, 51.50], [56.03, 71.74], [41.55, 92.37], [70.73, 92.20]]
)


def _arcface_points_from_68(shape: np.ndarray) -> np.ndarray:
    return np.array([
        shape[36:42].mean(0), shape[42:48].mean(0), shape[30], shape[48], shape[54]
    ])


def test_the_five_point_template_is_where_arcface_alignment_puts_dlibs_landmarks() -> None:
    """Re-derive the template: for every bundled photo, align the face the ArcFace way
    (from dlib's 68 landmarks) and see where dlib's 5 landmarks fall in that chip."""
    import face_recognition_models as frm

    dlib = dlib_module()
    predictor_68 = dlib.shape_predictor(frm.pose_predictor_model_location())
    aligner = FivePointAligner()
    hog = DlibHogDetector()
    mapped = []
    for _, photo in find_enrolment_photos(IDENTITIES):
        image = read_image(photo)
        for box in hog.detect(image):
            rect = dlib.rectangle(box.left, box.top, box.right, box.bottom)
            shape = predictor_68(image, rect)
            points_68 = np.array([[p.x, p.y] for p in shape.parts()], np.float64)
            to_chip = similarity_transform(_arcface_points_from_68(points_68), ARCFACE_POINTS)
            five = aligner.landmarks(image, box).astype(np.float64)
            mapped.append(np.hstack([five, np.ones((5, 1))]) @ to_chip.T)
    assert len(mapped) >= 8
    derived = np.mean(mapped, axis=0)
    print(np.round(derived, 1))
    assert np.abs(derived - FIVE_POINT_TEMPLATE).max() < 2.0  # pixels of a 112 px chip


def test_an_aligned_chip_is_112_square_and_a_frontal_face_fits_the_template() -> None:
    image = read_image(sorted((IDENTITIES / "obama").iterdir())[0])
    box = DlibHogDetector().detect(image)[0]
    [(chip, residual)] = FivePointAligner().align(image, [box])
    assert chip.shape == (CHIP_SIZE_PX, CHIP_SIZE_PX, 3) and chip.dtype == np.uint8
    assert residual < 3.0
    assert pose_residual(FIVE_POINT_TEMPLATE) == pytest.approx(0.0, abs=1e-6)


def test_video_aligns_only_the_faces_it_describes_with_the_same_result() -> None:
    """The pipeline locates faces without landmarks and aligns only those it describes:
    the descriptors must equal those of the full path (find_faces, then describe)."""
    from openlfr.recognition import FaceAnalyzer

    from .conftest import GROUPS

    analyzer = FaceAnalyzer()
    image = read_image(GROUPS / "two_people.jpg")
    located = analyzer.locate_faces(image, min_face_px=40, max_px=1280)
    full = analyzer.find_faces(image, min_face_px=40, max_px=1280)
    assert [f.box for f in located.faces] == [f.box for f in full.faces]
    assert all(f.chip.size == 0 and f.quality > 0 for f in located.faces)
    chips, poses, descriptors = analyzer.describe_faces(image, [f.box for f in located.faces])
    assert [c.shape for c in chips] == [(CHIP_SIZE_PX, CHIP_SIZE_PX, 3)] * len(full.faces)
    assert all(0.0 < p <= 1.0 for p in poses)
    expected = analyzer.describe([f.chip for f in full.faces])
    np.testing.assert_allclose(descriptors, expected, atol=1e-5)
