"""The one image gate (recognition.images): format sniffed, header dimensions checked
before any decoding, so a small file declaring a huge image costs neither memory nor
time; every refusal is an ImageError with a message naming the file."""

from __future__ import annotations

import resource
import time

import cv2
import numpy as np
import pytest
from hostile import hostile_images, jpeg_declaring, png_bomb, png_declaring

from openlfr.recognition.images import (
    ImageError,
    bgr_to_rgb,
    decode_image,
    read_header,
    read_image,
)


@pytest.mark.parametrize("name", sorted(hostile_images()))
def test_every_hostile_image_is_refused_with_a_message(name: str) -> None:
    data = hostile_images()[name]
    with pytest.raises(ImageError, match=f"^{name}: "):
        decode_image(data, name)


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = png_bomb()  # 30000 x 30000: 2.7 GB as RGB, under 1 MB as PNG
    assert len(bomb) < 1_000_000
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(ImageError, match="larger than 60 megapixels"):
        decode_image(bomb, "bomb.png")
    assert time.monotonic() - started < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb < 100_000


@pytest.mark.parametrize("data", [png_declaring(65535, 65535), jpeg_declaring(65500, 65500)])
def test_a_huge_declared_size_is_read_from_the_header(data: bytes) -> None:
    with pytest.raises(ImageError, match="larger than 60 megapixels"):
        read_header(data, "x")


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".bmp", ".webp", ".tiff"])
def test_real_images_still_decode(suffix: str) -> None:
    image = np.zeros((20, 30, 3), np.uint8)
    image[:, :, 2] = 255  # red in BGR
    data = cv2.imencode(suffix, image)[1].tobytes()
    decoded = decode_image(data, "x" + suffix)
    assert decoded.shape == (20, 30, 3) and decoded[0, 0, 0] > 200  # RGB


def test_bgr_frames_become_contiguous_rgb_with_the_same_bytes() -> None:
    """Every video frame and photo passes through this: the channels reversed, nothing
    else changed, for whole frames and for crops (views with other strides) alike."""
    frame = np.random.default_rng(3).integers(0, 256, (108, 192, 3), dtype=np.uint8)
    for bgr in (frame, frame[5:70, 9:131]):
        rgb = bgr_to_rgb(bgr)
        assert rgb.dtype == np.uint8 and rgb.flags.c_contiguous
        assert np.array_equal(rgb, bgr[:, :, ::-1])
        assert not np.shares_memory(rgb, frame)


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "huge.jpg"
    with path.open("wb") as handle:
        handle.truncate(41 * 1024 * 1024)
    with pytest.raises(ImageError, match="limit is 40 MB"):
        read_image(path)
