"""Find and describe faces in one image: scale, detect, skip small faces, align, describe."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from openlfr.recognition.backends import (
    DEFAULT_DESCRIPTOR,
    DEFAULT_DETECTOR,
    Backends,
    DlibLandmarkAligner,
    FaceDescriber,
    engine_model_id,
    load_backends,
    load_describer,
)
from openlfr.recognition.faces import Box, FoundFace, RGBImage
from openlfr.recognition.images import framed_in_grey

# Never enlarge a frame more than this for the detector: beyond it the cost grows with
# the square of the scale for faces too blurred to describe well anyway.
MAX_UPSCALE = 2.0
# A face whose landmarks sit this far (chip pixels, RMS) from a frontal face's counts half.
HALF_QUALITY_POSE_RESIDUAL = 3.0


@dataclass
class FaceSearch:
    """What a look at one image found."""

    faces: list[FoundFace]
    too_small: int
    """Faces that were detected but are narrower than the minimum size, so not used."""


def chip_sharpness(chip: RGBImage) -> float:
    """Variance of the Laplacian of the grey chip: higher for sharper faces."""
    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def pose_factor(pose_residual: float) -> float:
    """1 for a frontal face, 1/2 at HALF_QUALITY_POSE_RESIDUAL, less for turned faces."""
    return 1.0 / (1.0 + (pose_residual / HALF_QUALITY_POSE_RESIDUAL) ** 2)


def face_quality(box: Box, chip: RGBImage, pose_residual: float) -> float:
    """Larger, sharper and more frontal faces score higher (for choosing what to describe
    and which descriptors of a track to trust)."""
    return float(box.area) * max(chip_sharpness(chip), 1.0) * pose_factor(pose_residual)


SHARPNESS_PATCH_PX = 64
NO_CHIP: RGBImage = np.zeros((0, 0, 3), np.uint8)
"""The chip of a face located but not yet aligned (FaceAnalyzer.locate_faces)."""


def box_quality(image: RGBImage, box: Box) -> float:
    """Area x sharpness of the face's box, before any landmarks: what the tracker compares
    to choose which faces of a track to align and describe."""
    crop = image[max(0, box.top):box.bottom, max(0, box.left):box.right]
    if crop.size == 0:
        return 0.0
    patch = cv2.resize(crop, (SHARPNESS_PATCH_PX, SHARPNESS_PATCH_PX),
                       interpolation=cv2.INTER_AREA)
    return float(box.area) * max(chip_sharpness(np.asarray(patch, np.uint8)), 1.0)


REFERENCE_DESCRIPTOR = "dlib"
"""The second opinion's network (matcher.py)."""


def reference_model_id() -> str:
    """The id of the second opinion's descriptors, without loading its network: what
    watchlists and audits made with it carry."""
    return engine_model_id(REFERENCE_DESCRIPTOR)


class ReferenceDescriber:
    """The second opinion (matcher.py): dlib's five landmarks, its own chip and its ResNet,
    on faces another network has located."""

    def __init__(self, backend: str) -> None:
        self.aligner = DlibLandmarkAligner()
        self.describer: FaceDescriber = load_describer(backend, REFERENCE_DESCRIPTOR)

    def describe_faces(self, image: RGBImage, boxes: Sequence[Box]) -> np.ndarray:
        """One descriptor row for each face in `boxes`."""
        return self.describer.describe([chip for chip, _ in self.aligner.align(image, boxes)])


class FaceAnalyzer:
    """Runs a backend over images. One per process: it holds the loaded networks."""

    _reference_lock = threading.Lock()

    def __init__(
        self,
        backends: Backends | None = None,
        *,
        backend: str = "auto",
        detector: str = DEFAULT_DETECTOR,
        descriptor: str = DEFAULT_DESCRIPTOR,
        threads: int = 1,
    ) -> None:
        """Load `backend` ("auto": ONNX Runtime where it loads, else dlib) with `detector`
        and `descriptor` unless `backends` are given; `threads` is what this process may
        use for a network."""
        self.backends = backends or load_backends(backend, threads, detector, descriptor)
        self._reference: ReferenceDescriber | None = None

    @property
    def reference(self) -> ReferenceDescriber:
        """The second opinion's network, loaded on first use (once, whichever worker
        thread asks first)."""
        if self._reference is None:
            with self._reference_lock:
                if self._reference is None:
                    self._reference = ReferenceDescriber(self.backends.name)
        return self._reference

    @property
    def model_id(self) -> str:
        return self.backends.describer.model_id

    def detection_scale(self, height: int, width: int, *, min_face_px: int, max_px: int) -> float:
        """The scale at which a `min_face_px` face is the smallest the detector finds, capped
        so the long side is at most `max_px` (and never more than MAX_UPSCALE)."""
        scale = min(
            self.backends.detector.min_face_px / float(min_face_px),
            max_px / float(max(height, width)),
            MAX_UPSCALE,
        )
        return 1.0 if abs(scale - 1.0) <= 0.02 else scale

    def find_faces(self, image: RGBImage, *, min_face_px: int, max_px: int,
                   large_faces: bool = False) -> FaceSearch:
        """Detect faces at detection_scale; chips come from the full-resolution image, so
        a reduced detection scale costs no descriptor quality. `large_faces`: see
        locate_faces."""
        located = self.locate_faces(image, min_face_px=min_face_px, max_px=max_px,
                                    large_faces=large_faces)
        aligned = self.backends.aligner.align(image, [f.box for f in located.faces])
        faces = [
            FoundFace(box=f.box, chip=chip, quality=face_quality(f.box, chip, residual),
                      detection_score=f.detection_score)
            for f, (chip, residual) in zip(located.faces, aligned, strict=True)
        ]
        return FaceSearch(faces=faces, too_small=located.too_small)

    def locate_faces(self, image: RGBImage, *, min_face_px: int, max_px: int,
                     large_faces: bool = False) -> FaceSearch:
        """Detect faces as find_faces does, without aligning them: each face has its box,
        detection score and box_quality, and NO_CHIP (video aligns only the faces it
        chooses to describe: describe_faces).

        A detector with a largest face (``max_face_px``) finds a face larger than that,
        at detection scale, only in parts (eyes, mouth) or not at all. With `large_faces`
        (photos, where a face may fill the picture) the image is also searched at the
        scale where its short side is that largest face, and a face found there too large
        for the first search replaces what the first search found inside it. Video does
        without: at 720p and 1080p the first search sees faces whole up to 450 px tall."""
        height, width = image.shape[:2]
        scale = self.detection_scale(height, width, min_face_px=min_face_px, max_px=max_px)
        found = self._detect_at(image, scale, max_px)
        largest = getattr(self.backends.detector, "max_face_px", None)
        if large_faces and largest and min(height, width) * scale > largest:
            coarse = self._detect_framed(image, largest / min(height, width), max_px)
            found = _large_faces_whole(found, coarse, LARGE_FACE_SHARE * largest / scale)
        return self._search_result(image, found, min_face_px)

    def _detect_framed(self, image: RGBImage, scale: float, max_px: int
                       ) -> list[tuple[float, Box]]:
        """The detector's (score, box) at `scale`, the scaled image framed in grey
        (framed_in_grey), boxes in `image`'s pixels."""
        height, width = image.shape[:2]
        small: RGBImage = np.asarray(cv2.resize(
            image, (max(1, round(width * scale)), max(1, round(height * scale))),
            interpolation=cv2.INTER_AREA), np.uint8)
        framed, pad = framed_in_grey(small)
        fx, fy = width / small.shape[1], height / small.shape[0]
        return [
            (s, Box(round((b.left - pad) * fx), round((b.top - pad) * fy),
                    round((b.right - pad) * fx), round((b.bottom - pad) * fy)))
            for s, b in self._detect_at(framed, 1.0, max_px)
        ]

    def _detect_at(self, image: RGBImage, scale: float, max_px: int) -> list[tuple[float, Box]]:
        """The detector's (score, box) at `scale`, boxes in `image`'s pixels."""
        height, width = image.shape[:2]
        # A detector that needs sides in multiples of some size gets them from this one
        # resize (it would otherwise resize again).
        multiple = getattr(self.backends.detector, "size_multiple_px", 1)
        size = (max(multiple, round(width * scale / multiple) * multiple),
                max(multiple, round(height * scale / multiple) * multiple))
        scaled: np.ndarray = image
        if size != (width, height):
            scaled = cv2.resize(image, size,
                                interpolation=_reduction(scale, height, width, max_px))
        fx, fy = width / size[0], height / size[1]
        return [
            (s, Box(round(b.left * fx), round(b.top * fy),
                    round(b.right * fx), round(b.bottom * fy)))
            for s, b in self.backends.detector.detect_scored(scaled)
        ]

    @staticmethod
    def _search_result(image: RGBImage, found: list[tuple[float, Box]],
                       min_face_px: int) -> FaceSearch:
        height, width = image.shape[:2]
        usable = [(s, b) for s, b in found if b.width >= min_face_px]
        faces = [
            FoundFace(box=_clip(b, width, height), chip=NO_CHIP,
                      quality=box_quality(image, b), detection_score=s)
            for s, b in usable
        ]
        return FaceSearch(faces=faces, too_small=len(found) - len(usable))

    def locate_faces_near(
        self, image: RGBImage, regions: Sequence[Box], *, min_face_px: int, max_px: int
    ) -> FaceSearch:
        """Detect faces as locate_faces does, but only inside `regions` (where tracked faces
        are expected), at a fraction of the pixels: the regions are cut out at the whole
        frame's detection scale and laid side by side on one mid-grey sheet (grey is what
        the network sees as nothing), which the detector searches in one call. A box that
        reaches a cut edge inside the frame is a face cut in two (a neighbour's) and is
        left for the whole-frame search; a face found twice, in overlapping regions (whole
        in one, in part in the other), counts once, whole (DUPLICATE_SHARE)."""
        height, width = image.shape[:2]
        scale = self.detection_scale(height, width, min_face_px=min_face_px, max_px=max_px)
        cuts = [c for c in (_clip(r, width, height) for r in regions)
                if c.width >= min_face_px and c.height >= min_face_px]
        if not cuts:
            return FaceSearch(faces=[], too_small=0)
        interpolation = _reduction(scale, height, width, max_px)
        tiles: list[RGBImage] = [
            np.asarray(cv2.resize(image[c.top:c.bottom, c.left:c.right],
                                  (max(1, round(c.width * scale)),
                                   max(1, round(c.height * scale))),
                                  interpolation=interpolation), np.uint8)
            for c in cuts]
        multiple = getattr(self.backends.detector, "size_multiple_px", 1)
        sheet, places = _lay_out(tiles, multiple)
        found: list[tuple[float, Box]] = []
        for score, b in self.backends.detector.detect_scored(sheet):
            cx, cy = (b.left + b.right) / 2, (b.top + b.bottom) / 2
            for cut, tile, (x, y) in zip(cuts, tiles, places, strict=True):
                th, tw = tile.shape[:2]
                if not (x <= cx < x + tw and y <= cy < y + th):
                    continue
                fx, fy = cut.width / tw, cut.height / th
                box = Box(round(cut.left + (b.left - x) * fx), round(cut.top + (b.top - y) * fy),
                          round(cut.left + (b.right - x) * fx),
                          round(cut.top + (b.bottom - y) * fy))
                if not _touches_cut(box, cut, width, height):
                    found = _once(found, (score, box))
                break
        return self._search_result(image, found, min_face_px)

    def describe(self, chips: list[RGBImage]) -> np.ndarray:
        """Descriptors for chips, one row each (all in one call to the backend)."""
        return self.backends.describer.describe(chips)

    def describe_faces(
        self, image: RGBImage, boxes: list[Box]
    ) -> tuple[list[RGBImage], list[float], np.ndarray]:
        """Align the faces in `boxes` and describe them in one batch: (chips, pose factor
        of each, descriptors)."""
        aligned = self.backends.aligner.align(image, boxes)
        chips = [chip for chip, _ in aligned]
        return chips, [pose_factor(r) for _, r in aligned], self.describe(chips)

    def second_opinions(self, image: RGBImage, boxes: list[Box],
                        asked: Sequence[bool]) -> list[np.ndarray | None]:
        """The second opinion's descriptor of each face in `boxes` it is `asked` about;
        None for the others (and no network loaded when none is asked)."""
        wanted = [box for box, ask in zip(boxes, asked, strict=True) if ask]
        if not wanted:
            return [None] * len(boxes)
        rows = iter(self.reference.describe_faces(image, wanted))
        return [next(rows) if ask else None for ask in asked]


LARGE_FACE_SHARE = 0.75
"""A face from the coarse look of ``locate_faces(large_faces=True)`` replaces what the
first look found inside it when it is wider than this share of the first look's largest
face (narrower faces the first look sees whole)."""


def _large_faces_whole(
    fine: list[tuple[float, Box]], coarse: list[tuple[float, Box]], large_px: float
) -> list[tuple[float, Box]]:
    """The coarse look's faces wider than `large_px` (image pixels), and the first look's
    faces but those centred inside one of them (its parts, or the same face)."""
    large = [(s, b) for s, b in coarse if b.width > large_px]

    def inside(box: Box) -> bool:
        cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
        return any(b.left <= cx <= b.right and b.top <= cy <= b.bottom for _, b in large)

    return large + [(s, b) for s, b in fine if not inside(b)]


DUPLICATE_SHARE = 0.5
"""Two boxes of the near search that overlap by more than this share of the smaller one's
area are one face found twice: whole in one region, and cut by the edge of an overlapping
region in another (the detector's box for a cut face can stop short of the cut, so
`_touches_cut` misses it) or, in a crowd, half hidden behind it."""


def _once(found: list[tuple[float, Box]], new: tuple[float, Box]) -> list[tuple[float, Box]]:
    """`found` with `new` added, unless it and a found box are one face (DUPLICATE_SHARE):
    then the larger of the two stays, the whole face rather than its part."""
    box = new[1]
    for i, (_, other) in enumerate(found):
        if box.overlap_of_smaller(other) > DUPLICATE_SHARE:
            return found[:i] + [new] + found[i + 1:] if box.area > other.area else found
    return [*found, new]


def _reduction(scale: float, height: int, width: int, max_px: int) -> int:
    """How a frame (or a region of it) is resized for the detector. Area averaging is the
    cleaner reduction, but on frames beyond max_px it cost 16 ms a 1080p frame against 2 ms
    for linear interpolation, for images 0.3 grey levels apart on average (1080p walk-by:
    same people found, 20 -> 24 fps); it stays for frames within max_px and for
    reductions past one half. Linear for 720p frames too (3.1 ms a frame against 0.5) ran
    the 720p walk-by 10-24% faster with the same people found, but raised the best
    stranger's score at 4,848 entries on five runs of eight, once over the threshold (a
    half face, seed 23; README, "Turned down: video frames reduced linearly")."""
    if scale < 0.5 or (scale < 1.0 and max(height, width) <= max_px):
        return cv2.INTER_AREA
    return cv2.INTER_LINEAR


SHEET_GAP_PX = 32
"""Grey between the regions laid on one sheet: more than the detector's smallest face, so
no box spans two regions."""


def _lay_out(tiles: list[RGBImage], multiple: int) -> tuple[RGBImage, list[tuple[int, int]]]:
    """The tiles on one mid-grey sheet, in rows (tallest first), about as wide as high,
    with sides in multiples of `multiple`; and where each tile's top-left corner is."""
    gap = SHEET_GAP_PX
    area = sum((t.shape[0] + gap) * (t.shape[1] + gap) for t in tiles)
    row_width = max(max(t.shape[1] for t in tiles), int(area**0.5))
    places: list[tuple[int, int]] = [(0, 0)] * len(tiles)
    x = y = row_height = 0
    for index in sorted(range(len(tiles)), key=lambda i: -tiles[i].shape[0]):
        th, tw = tiles[index].shape[:2]
        if x and x + tw > row_width:
            x, y, row_height = 0, y + row_height + gap, 0
        places[index] = (x, y)
        x += tw + gap
        row_height = max(row_height, th)
    right = max(px + t.shape[1] for (px, _), t in zip(places, tiles, strict=True))
    sheet_w = -(-right // multiple) * multiple
    sheet_h = -(-(y + row_height) // multiple) * multiple
    sheet = np.full((sheet_h, sheet_w, 3), 127, np.uint8)
    for (px, py), tile in zip(places, tiles, strict=True):
        sheet[py:py + tile.shape[0], px:px + tile.shape[1]] = tile
    return sheet, places


def _touches_cut(box: Box, cut: Box, width: int, height: int) -> bool:
    """Whether `box` reaches an edge of the region `cut` that is not the frame's edge."""
    return ((box.left <= cut.left and cut.left > 0)
            or (box.top <= cut.top and cut.top > 0)
            or (box.right >= cut.right and cut.right < width)
            or (box.bottom >= cut.bottom and cut.bottom < height))


def _clip(box: Box, width: int, height: int) -> Box:
    return Box(max(0, box.left), max(0, box.top), min(width, box.right), min(height, box.bottom))
