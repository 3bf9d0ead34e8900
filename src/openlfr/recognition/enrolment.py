"""Building a watchlist from a folder of photos: one sub-folder per subject."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from openlfr.recognition.analyzer import FaceAnalyzer, reference_model_id
from openlfr.recognition.backends import DlibHogDetector
from openlfr.recognition.errors import WatchlistError
from openlfr.recognition.faces import Box, RGBImage
from openlfr.recognition.images import (
    GREY_FRAME_SHARE,
    ImageError,
    decode_image,
    framed_in_grey,
    is_image_file,
)
from openlfr.recognition.watchlist import EnrolledImage, Subject, Watchlist
from openlfr.recognition.workers import make_executor, process_analyzer

# Enrolment photos are close-ups: a face narrower than this is too poor to enrol. The
# detector first looks at the photo shrunk to ENROL_FIRST_LOOK_PX (a close-up face is
# then a size it finds cleanly, in a fraction of the time), and only when it finds no
# face there at up to ENROL_MAX_PX, where small faces are visible.
ENROL_FIRST_LOOK_PX = 640
ENROL_MAX_PX = 1600
ENROL_MIN_FACE_PX = 40
# The subject's face is the most certain (then largest) one. Another face makes the photo
# ambiguous only when the detector is as sure of it, it is nearly as large, and dlib's
# frontal-face (HOG) detector also sees a face there; smaller or doubtful detections (a
# face in the crowd behind, lettering or a pattern in the background) are ignored.
CERTAIN_FACE_SCORE = 0.95
RIVAL_WIDTH_RATIO = 0.6
HOG_CHECK_FACE_PX = 100
# A street camera sees a face 40-150 px wide, a custody photo shows it 200-600 px wide. With
# the default (cosine) descriptor the photo is enrolled as the mean of two views: the face as
# the photo shows it, and as a camera sees it, the photo shrunk so the face is
# STREET_FACE_PX wide and aligned again there. The entry then sits between the sharp
# face and the soft ones it must be found in. On the walk-by scenes with 4,868 other people
# enrolled (README, "Score and threshold") this found one more of 18 people in the
# degraded scene and removed the crowd scene's one false alert; with 18 entries it changed
# nothing.
STREET_FACE_PX = 64


@dataclass(frozen=True)
class ImageOutcome:
    subject_ref: str
    path: Path
    enrolled: bool
    problem: str = ""
    """Why the photo was skipped, e.g. 'no face found; use a frontal photo'."""


@dataclass
class EnrolmentReport:
    outcomes: list[ImageOutcome] = field(default_factory=list)

    @property
    def skipped(self) -> list[ImageOutcome]:
        return [o for o in self.outcomes if not o.enrolled]

    @property
    def enrolled_images(self) -> int:
        return sum(o.enrolled for o in self.outcomes)


@dataclass(frozen=True)
class _EnrolTask:
    subject_ref: str
    path: Path
    second_opinion: bool = False


class PhotoRejected(WatchlistError):
    """A photo cannot be enrolled. ``str()`` names the photo; ``problem`` says why alone."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


@dataclass(frozen=True)
class EnrolmentPhoto:
    """One usable enrolment photo: its descriptor and the aligned face it came from."""

    sha256: str
    descriptor: np.ndarray
    chip: RGBImage
    """The aligned face chip (what the descriptor network saw), e.g. as a reference photo."""
    reference: np.ndarray | None = None
    """The second opinion's descriptor of the face, when asked for (matcher.py)."""


def confirmed_frontal_face(image: RGBImage, box: Box) -> bool:
    """Whether dlib's HOG detector finds a frontal face at `box` (looked for in a crop
    around it, scaled so the face is about 100 px)."""
    margin = box.width // 2
    left, top = max(0, box.left - margin), max(0, box.top - margin)
    crop = image[top : box.bottom + margin, left : box.right + margin]
    if crop.size == 0:
        return False
    scale = HOG_CHECK_FACE_PX / max(box.width, 1)
    crop = np.asarray(
        cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8
    )
    centre = Box(*(round(v * scale) for v in (box.left - left, box.top - top,
                                               box.right - left, box.bottom - top)))
    return any(centre.iou(found) >= 0.3 for found in _hog().detect(np.ascontiguousarray(crop)))


_per_thread = threading.local()


def _hog() -> DlibHogDetector:
    """One HOG detector per thread (enrolment may run on a thread pool; a dlib detector
    is not safe to share between threads)."""
    detector: DlibHogDetector | None = getattr(_per_thread, "hog", None)
    if detector is None:
        detector = _per_thread.hog = DlibHogDetector()
    return detector


def describe_enrolment_photo(data: bytes, name: str, analyzer: FaceAnalyzer,
                             second_opinion: bool = False) -> EnrolmentPhoto:
    """Decode one photo, find the subject's face (one clear face of a usable size), describe
    it (with `second_opinion`, by the second network too). Raises PhotoRejected
    (unreadable, no face, face too small, several faces of similar size) naming ``name``."""
    try:
        image = decode_image(data, name)
    except ImageError as exc:
        raise PhotoRejected(name, _problem(exc)) from None
    framed, _ = framed_in_grey(image)  # custody photos are often cut to the face
    for max_px in (ENROL_FIRST_LOOK_PX, round(ENROL_MAX_PX * (1 + 2 * GREY_FRAME_SHARE))):
        search = analyzer.find_faces(framed, min_face_px=ENROL_MIN_FACE_PX, max_px=max_px,
                                     large_faces=True)
        if search.faces:
            break
    if not search.faces:
        problem = "no face found; use a frontal photo"
        if search.too_small:
            problem = f"face too small (under {ENROL_MIN_FACE_PX} px wide); use a closer photo"
        raise PhotoRejected(name, problem)
    main = max(search.faces, key=lambda f: (f.detection_score, f.box.width))
    rivals = [
        f
        for f in search.faces
        if f is not main
        and f.detection_score >= CERTAIN_FACE_SCORE
        and f.box.width >= RIVAL_WIDTH_RATIO * main.box.width
        and confirmed_frontal_face(framed, f.box)
    ]
    if rivals:
        raise PhotoRejected(
            name, f"{len(rivals) + 1} faces found; use a photo of the subject alone"
        )
    chip = main.chip
    reference = None
    if second_opinion:
        [reference] = analyzer.second_opinions(framed, [main.box], [True])
    return EnrolmentPhoto(hashlib.sha256(data).hexdigest(),
                          enrolment_descriptor(analyzer, framed, main.box, chip), chip,
                          reference)


def street_view(analyzer: FaceAnalyzer, image: RGBImage, box: Box) -> RGBImage | None:
    """The face in ``box`` as a street camera sees it: the image shrunk so the face is
    STREET_FACE_PX wide, aligned there. None when the face is that small already."""
    scale = STREET_FACE_PX / box.width
    if scale >= 1.0:
        return None
    height, width = image.shape[:2]
    small = np.asarray(cv2.resize(
        image, (max(1, round(width * scale)), max(1, round(height * scale))),
        interpolation=cv2.INTER_AREA), np.uint8)
    shrunk = Box(round(box.left * scale), round(box.top * scale),
                 round(box.right * scale), round(box.bottom * scale))
    [(chip, _)] = analyzer.backends.aligner.align(small, [shrunk])
    return chip


def enrolment_descriptor(analyzer: FaceAnalyzer, image: RGBImage, box: Box,
                         chip: RGBImage) -> np.ndarray:
    """The descriptor a photo is enrolled with: with a cosine descriptor, the unit mean of
    the face as photographed (``chip``) and as a street camera sees it (``street_view``);
    dlib's reference descriptor keeps the photo's own."""
    views = [chip]
    if analyzer.backends.describer.metric == "cosine":
        street = street_view(analyzer, image, box)
        if street is not None:
            views.append(street)
    descriptors = analyzer.describe(views)
    if len(views) == 1:
        return descriptors[0]
    mean = descriptors.mean(axis=0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)


def _describe_photo(task: _EnrolTask) -> tuple[ImageOutcome, EnrolledImage | None]:
    """Runs in a worker: read one photo, require exactly one face, describe it."""
    try:
        data = task.path.read_bytes()
        photo = describe_enrolment_photo(data, task.path.name, process_analyzer(),
                                         task.second_opinion)
    except OSError as exc:
        return ImageOutcome(task.subject_ref, task.path, False, _problem(exc)), None
    except PhotoRejected as exc:
        return ImageOutcome(task.subject_ref, task.path, False, exc.problem), None
    enrolled = EnrolledImage(task.path.name, photo.sha256, photo.descriptor, photo.reference)
    return ImageOutcome(task.subject_ref, task.path, True), enrolled


def _problem(exc: Exception) -> str:
    text = str(exc)
    return text.split(": ", 1)[1] if ": " in text else text


def find_enrolment_photos(images_dir: Path) -> list[tuple[str, Path]]:
    """(subject reference, photo path) for every photo, in a stable order."""
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise WatchlistError(f"{images_dir}: no such folder; expected one sub-folder per subject")
    photos = [
        (subject_dir.name, photo)
        for subject_dir in sorted(
            p for p in images_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
        for photo in sorted(subject_dir.iterdir())
        if is_image_file(photo)
    ]
    if not photos:
        raise WatchlistError(
            f"{images_dir}: no photos found; expected one sub-folder per subject "
            "(the folder name is the subject reference) holding .jpg/.png photos"
        )
    return photos


def build_watchlist(
    images_dir: Path,
    analyzer: FaceAnalyzer | None = None,
    *,
    workers: int = 2,
    on_photo: Callable[[ImageOutcome], None] | None = None,
    second_opinion: bool = False,
) -> tuple[Watchlist, EnrolmentReport]:
    """Describe every usable photo under `images_dir`; skip (and report) the others. With
    `second_opinion`, each photo by the second network too (matcher.py).

    Raises WatchlistError when the folder is missing or no subject could be enrolled.
    """
    photos = find_enrolment_photos(images_dir)
    analyzer = analyzer or FaceAnalyzer()
    report = EnrolmentReport()
    subjects: dict[str, Subject] = {}
    with make_executor(min(workers, len(photos)), analyzer) as executor:
        tasks = [_EnrolTask(ref, path, second_opinion) for ref, path in photos]
        for outcome, enrolled in executor.map(_describe_photo, tasks):
            report.outcomes.append(outcome)
            if enrolled is not None:
                subjects.setdefault(
                    outcome.subject_ref, Subject(outcome.subject_ref)
                ).images.append(enrolled)
            if on_photo:
                on_photo(outcome)
    if not subjects:
        raise WatchlistError(
            f"{images_dir}: no subject could be enrolled ({len(report.skipped)} photos skipped)"
        )
    reference_model = reference_model_id() if second_opinion else None
    return Watchlist(descriptor_model=analyzer.model_id, subjects=list(subjects.values()),
                     reference_model=reference_model), report
