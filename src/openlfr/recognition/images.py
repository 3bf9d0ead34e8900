"""Reading still images with errors a user can act on.

Every path that takes an image (the photo API and staff pages, a JSON body's base64 JPEG,
a node's probe crop, ``watchlist build``, ``watch`` and ``evaluate``) goes through
``decode_image``, the one gate: the format is sniffed from the bytes, and the dimensions
its header declares are checked before a pixel is decoded, so a small file that declares
a huge image (a decompression bomb) is refused without the memory it asks for.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from openlfr.recognition.errors import RecognitionError
from openlfr.recognition.faces import RGBImage

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
MAX_IMAGE_BYTES = 40 * 1024 * 1024
MAX_IMAGE_PIXELS = 60_000_000
#: Longest side accepted, whatever the pixel count (a 1 x 60,000,000 strip is no photo).
MAX_IMAGE_SIDE_PX = 20_000
#: The formats accepted (Pillow's names for what the header says); anything else is refused
#: before OpenCV sees it, so its less common decoders are never reached by uploads.
ACCEPTED_FORMATS = ("JPEG", "PNG", "BMP", "WEBP", "TIFF")
_FORMAT_NAMES = "JPEG, PNG, BMP, WebP or TIFF"


class ImageError(RecognitionError):
    """An image file cannot be used."""


@dataclass(frozen=True)
class ImageHeader:
    """What an image's header declares, read without decoding its pixels."""

    format: str
    width: int
    height: int


def is_image_file(path: Path) -> bool:
    return (
        path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
    )


def _too_big(name: str) -> ImageError:
    return ImageError(
        f"{name}: image is larger than {MAX_IMAGE_PIXELS // 1_000_000} megapixels "
        f"(or a side over {MAX_IMAGE_SIDE_PX} px); use a smaller photo"
    )


def read_header(data: bytes, name: str) -> ImageHeader:
    """The format and dimensions ``data`` declares, or ImageError saying why it cannot be
    used (not an image, a format not accepted, empty or too large dimensions). Reads the
    header only."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(
            f"{name}: image is {len(data) // (1024 * 1024)} MB; the limit is "
            f"{MAX_IMAGE_BYTES // (1024 * 1024)} MB"
        )
    if not data:
        raise ImageError(f"{name}: empty file, not an image")
    try:
        with warnings.catch_warnings():
            # Pillow warns of a bomb between 89 and 179 megapixels: refuse it here too
            # (a race with another thread can at worst leave this filter set: harmless).
            warnings.simplefilter("ignore")  # Pillow's notes on corrupt metadata
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as opened:
                header = ImageHeader(str(opened.format), *opened.size)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_big(name) from None
    except Exception:  # a parser fed hostile bytes may raise anything: all mean unreadable
        raise ImageError(
            f"{name}: not a readable image (corrupt, or not {_FORMAT_NAMES})"
        ) from None
    if header.width < 1 or header.height < 1:
        raise ImageError(f"{name}: the image declares no pixels ({header.width}x{header.height})")
    if (header.width * header.height > MAX_IMAGE_PIXELS
            or max(header.width, header.height) > MAX_IMAGE_SIDE_PX):
        raise _too_big(name)
    return header


def decode_image(data: bytes, name: str) -> RGBImage:
    """Decode image bytes to a C-contiguous RGB array (EXIF orientation applied), after
    ``read_header`` has accepted them; raises ImageError naming ``name`` otherwise."""
    read_header(data, name)
    try:
        bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:  # OpenCV's own checks (e.g. a header it reads differently)
        bgr = None
    if bgr is None or bgr.ndim != 3 or bgr.size == 0:
        raise ImageError(f"{name}: not a readable image (corrupt or unsupported format)")
    if bgr.shape[0] * bgr.shape[1] > MAX_IMAGE_PIXELS:
        raise _too_big(name)
    return bgr_to_rgb(bgr)


def bgr_to_rgb(bgr: np.ndarray) -> RGBImage:
    """OpenCV's BGR pixels as a new C-contiguous RGB array. cv2.cvtColor, not a reversed
    NumPy view copied: the copy walks the channels backwards a byte at a time and cost
    9 ms of CPU a 1080p frame, the conversion 0.4 (the same bytes)."""
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def read_image(path: Path) -> RGBImage:
    """Read an image file to RGB, or raise ImageError saying why not. The file's size is
    checked before it is read."""
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if not path.is_file():
        raise ImageError(f"{path}: not a file")
    try:
        if path.stat().st_size > MAX_IMAGE_BYTES:
            raise ImageError(
                f"{path}: image is {path.stat().st_size // (1024 * 1024)} MB; the limit is "
                f"{MAX_IMAGE_BYTES // (1024 * 1024)} MB"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror})") from exc
    return decode_image(data, str(path))


GREY_FRAME_SHARE = 0.25
"""The width of the border framed_in_grey puts around an image, as a share of its long
side."""


def framed_in_grey(image: RGBImage) -> tuple[RGBImage, int]:
    """`image` inside a mid-grey border GREY_FRAME_SHARE of its long side wide, and that
    width. A detector misses a face that fills a photo to its edges (a custody photo cut to
    the face) without room around it; grey, as a black edge next to a bright photo draws
    false detections."""
    border = round(GREY_FRAME_SHARE * max(image.shape[:2]))
    framed = cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_CONSTANT,
                                value=(128, 128, 128))
    return np.ascontiguousarray(framed, np.uint8), border
