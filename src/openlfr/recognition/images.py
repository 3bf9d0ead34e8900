"""Reading still images with errors a user can act on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from openlfr.recognition.errors import RecognitionError
from openlfr.recognition.faces import RGBImage

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
MAX_IMAGE_BYTES = 40 * 1024 * 1024
MAX_IMAGE_PIXELS = 60_000_000


class ImageError(RecognitionError):
    """An image file cannot be used."""


def is_image_file(path: Path) -> bool:
    return (
        path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
    )


def decode_image(data: bytes, name: str) -> RGBImage:
    """Decode image bytes to a C-contiguous RGB array (EXIF orientation applied)."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(
            f"{name}: image is {len(data) // (1024 * 1024)} MB; the limit is "
            f"{MAX_IMAGE_BYTES // (1024 * 1024)} MB"
        )
    buffer = np.frombuffer(data, dtype=np.uint8)
    bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR) if len(buffer) else None
    if bgr is None:
        raise ImageError(f"{name}: not a readable image (corrupt or unsupported format)")
    if bgr.shape[0] * bgr.shape[1] > MAX_IMAGE_PIXELS:
        raise ImageError(f"{name}: image is larger than {MAX_IMAGE_PIXELS // 1_000_000} megapixels")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def read_image(path: Path) -> RGBImage:
    """Read an image file to RGB, or raise ImageError saying why not."""
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if not path.is_file():
        raise ImageError(f"{path}: not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror})") from exc
    return decode_image(data, str(path))
