"""A photo is enrolled as the face is photographed and as a street camera sees it
(enrolment.STREET_FACE_PX): the entry is the unit mean of both views' descriptors, and
lies closer to the soft faces a camera sends than the sharp photo alone."""

from __future__ import annotations

import cv2
import numpy as np

from openlfr.recognition import FaceAnalyzer, describe_enrolment_photo
from openlfr.recognition.enrolment import STREET_FACE_PX, enrolment_descriptor, street_view
from openlfr.recognition.images import decode_image

from .conftest import IDENTITIES

PHOTO = IDENTITIES / "obama" / "obama.jpg"
OTHER_PHOTO = IDENTITIES / "obama" / "obama2.jpg"


def _largest(analyzer: FaceAnalyzer, image: np.ndarray):  # type: ignore[no-untyped-def]
    faces = analyzer.find_faces(image, min_face_px=40, max_px=1600).faces
    return max(faces, key=lambda f: f.box.width)


def test_the_entry_is_the_unit_mean_of_the_photo_and_its_street_view(
        analyzer: FaceAnalyzer) -> None:
    image = decode_image(PHOTO.read_bytes(), PHOTO.name)
    face = _largest(analyzer, image)
    assert face.box.width > 2 * STREET_FACE_PX
    street = street_view(analyzer, image, face.box)
    assert street is not None and street.shape == face.chip.shape
    photo_view, street_view_ = analyzer.describe([face.chip, street])
    entry = enrolment_descriptor(analyzer, image, face.box, face.chip)
    mean = (photo_view + street_view_) / 2
    assert np.allclose(entry, mean / np.linalg.norm(mean), atol=1e-5)
    assert abs(float(np.linalg.norm(entry)) - 1.0) < 1e-5
    # The two views are one person, yet not the same vector: the street view adds something.
    assert 0.5 < float(photo_view @ street_view_) < 0.99
    # What enrolment stores is this descriptor.
    enrolled = describe_enrolment_photo(PHOTO.read_bytes(), PHOTO.name, analyzer)
    assert float(enrolled.descriptor @ entry) > 0.99


def test_the_entry_is_nearer_a_camera_sized_face_of_the_same_person(
        analyzer: FaceAnalyzer) -> None:
    """Another photo of the person, shrunk to camera size: the entry with the street view
    is more like it than the photo's own descriptor is."""
    image = decode_image(PHOTO.read_bytes(), PHOTO.name)
    face = _largest(analyzer, image)
    entry = enrolment_descriptor(analyzer, image, face.box, face.chip)
    [photo_only] = analyzer.describe([face.chip])
    other = decode_image(OTHER_PHOTO.read_bytes(), OTHER_PHOTO.name)
    other_face = _largest(analyzer, other)
    scale = 56 / other_face.box.width
    small = cv2.resize(other, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    probe_face = _largest_small(analyzer, np.ascontiguousarray(small))
    [probe] = analyzer.describe([probe_face.chip])
    assert float(entry @ probe) > float(photo_only @ probe)


def _largest_small(analyzer: FaceAnalyzer, image: np.ndarray):  # type: ignore[no-untyped-def]
    faces = analyzer.find_faces(image, min_face_px=20, max_px=1600).faces
    return max(faces, key=lambda f: f.box.width)


def test_a_face_already_camera_sized_has_no_second_view(analyzer: FaceAnalyzer) -> None:
    image = decode_image(PHOTO.read_bytes(), PHOTO.name)
    face = _largest(analyzer, image)
    scale = (STREET_FACE_PX - 4) / face.box.width
    small = np.ascontiguousarray(cv2.resize(image, None, fx=scale, fy=scale,
                                            interpolation=cv2.INTER_AREA))
    small_face = _largest_small(analyzer, small)
    assert small_face.box.width <= STREET_FACE_PX
    assert street_view(analyzer, small, small_face.box) is None
    [own] = analyzer.describe([small_face.chip])
    assert np.allclose(enrolment_descriptor(analyzer, small, small_face.box, small_face.chip),
                       own)
