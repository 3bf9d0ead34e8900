"""Hostile inputs, generated here (nothing downloaded, nothing checked in): images whose
headers lie about their size, decompression bombs, truncated and mislabelled files,
videos that are not videos, malformed watchlist files and JSON bodies with values a
server must refuse cleanly."""

from __future__ import annotations

import json
import struct
import zlib
from functools import cache

import cv2
import numpy as np


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png_declaring(width: int, height: int, idat: bytes = b"", depth: int = 8) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` (RGB)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(idat)) + _png_chunk(b"IEND", b""))


@cache
def png_bomb(side: int = 30_000) -> bytes:
    """A real, well-formed PNG of ``side`` x ``side`` black pixels (greyscale), which
    compresses to under a megabyte: decoding it would take gigabytes."""
    row = b"\x00" + b"\x00" * side
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body)
            + _png_chunk(b"IEND", b""))


def jpeg(width: int = 64, height: int = 64) -> bytes:
    """A real JPEG (a grey gradient)."""
    image = np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))
    ok, encoded = cv2.imencode(".jpg", cv2.merge([image, image, image]))
    assert ok
    return encoded.tobytes()


def jpeg_declaring(width: int, height: int, marker: bytes = b"\xff\xc0") -> bytes:
    """A real small JPEG whose SOF segment is rewritten to declare ``width`` x ``height``
    (and, with ``marker``, to be another kind of frame, e.g. progressive)."""
    data = bytearray(jpeg())
    at = data.index(b"\xff\xc0")
    data[at:at + 2] = marker
    struct.pack_into(">HH", data, at + 5, height, width)
    return bytes(data)


def webp_vp8x_declaring(width: int, height: int) -> bytes:
    """An extended WebP header whose canvas is ``width`` x ``height``, with no image."""
    vp8x = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(
        3, "little")
    chunk = b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def tiff_declaring(width: int, height: int) -> bytes:
    """A little-endian TIFF whose first directory declares ``width`` x ``height``."""
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1),
               (262, 3, 1, 1), (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, height),
               (279, 4, 1, width * height)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, kind, count, value) for tag, kind, count, value in entries
    ) + b"\x00\x00\x00\x00"
    return b"II*\x00" + struct.pack("<I", 8) + ifd


def bmp_declaring(width: int, height: int) -> bytes:
    """A 54-byte BMP header that declares ``width`` x ``height`` and carries no pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + len(info) - 40, 0, 0, 54) + info


#: Images no path may decode, by name: (bytes, what is wrong).
def hostile_images() -> dict[str, bytes]:
    good = jpeg()
    png = cv2.imencode(".png", np.zeros((32, 32, 3), np.uint8))[1].tobytes()
    return {
        "png_declares_65535_square": png_declaring(65535, 65535),
        "png_declares_30000_square": png_declaring(30_000, 30_000),
        "png_declares_1_by_2e9": png_declaring(1, 2_000_000_000),
        "png_declares_zero": png_declaring(0, 0),
        "png_bomb_30000_square": png_bomb(),
        "jpeg_sof_65500_square": jpeg_declaring(65500, 65500),
        "jpeg_sof_20000_by_5000": jpeg_declaring(20000, 5000),
        "jpeg_sof_zero": jpeg_declaring(0, 0),
        "bmp_declares_huge": bmp_declaring(60000, 60000),
        "bmp_declares_negative": bmp_declaring(-5, 1 << 30),
        "truncated_jpeg": good[: len(good) // 3],
        "jpeg_magic_only": b"\xff\xd8\xff",
        "truncated_png": png[:40],
        "png_bad_crc": png[:20] + bytes([png[20] ^ 0xFF]) + png[21:],
        "empty": b"",
        "zeros": bytes(4096),
        "text": b"this is not an image\n" * 20,
        "html": b"<html><script>alert(1)</script></html>",
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="99999" height="99999"/>',
        "gif": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        "pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        "ppm_huge": b"P6\n60000 60000\n255\n",
        "zip": b"PK\x03\x04" + bytes(26),
        "random_bytes": np.random.default_rng(14).integers(0, 256, 8192, np.uint8).tobytes(),
        "tiff_header_only": b"II*\x00\x08\x00\x00\x00\x00\x00",
        "webp_header_only": b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00",
        "webp_vp8x_declares_16k_square": webp_vp8x_declaring(16384, 16384),
        "tiff_declares_huge": tiff_declaring(50_000, 50_000),
        "png_16bit_declares_10000_square": png_declaring(10_000, 10_000, depth=16),
        "png_declares_max_int": png_declaring(2**31 - 1, 2**31 - 1),
        "jpeg_progressive_sof2_huge": jpeg_declaring(60000, 60000, marker=b"\xff\xc2"),
        "jpeg_wrong_suffix_huge_as_png": jpeg_declaring(40000, 40000),
        "bmp_top_down_huge": bmp_declaring(30000, -30000),
        "garbage_then_png": bytes(range(256)) * 8 + png,
    }


#: Files that claim to be videos.
def hostile_videos() -> dict[str, bytes]:
    return {
        "empty_video": b"",
        "text_video": b"not a video at all\n" * 100,
        "truncated_mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(64),
        "random_video": np.random.default_rng(7).integers(0, 256, 16384, np.uint8).tobytes(),
    }


#: Watchlist files (the engine's JSON format) that must be refused with one line.
def hostile_watchlists() -> dict[str, bytes]:
    deep = "[" * 100_000 + "]" * 100_000
    return {
        "watchlist_nested_100000_deep": deep.encode(),
        "watchlist_string_descriptors": json.dumps({
            "format": "openlfr-watchlist", "descriptor_model": "x",
            "subjects": [{"ref": "A", "images": [{"descriptor": "0.1,0.2"}]}]}).encode(),
        "watchlist_not_json": b"{not json",
        "watchlist_binary": bytes(range(256)) * 4,
        "watchlist_empty": b"",
        "watchlist_list": b"[1, 2, 3]",
        "watchlist_nan": b'{"descriptor_model": "x", "subjects": [{"ref": "A", "images": '
                         b'[{"descriptor": [NaN, 1e999]}]}]}',
    }


#: JSON texts (raw, as a hostile client would send them) for a JSON API body.
def hostile_json_texts() -> dict[str, str]:
    return {
        "lone_surrogate": '{"kind": "objection", "text": "a lone \\ud800 surrogate here"}',
        "vertical_tab": '{"kind": "objection", "text": "line one\\u000bline two ok"}',
        "escape_char": '{"kind": "objection", "text": "terminal \\u001b[31m red text"}',
        "nul": '{"kind": "objection", "text": "nul \\u0000 byte inside"}',
        "nan_number": '{"kind": "objection", "text": NaN}',
        "infinity": '{"kind": "objection", "text": "ok text here", "contact": Infinity}',
        "deep_nesting": '{"kind": "objection", "text": ' + "[" * 5000 + "]" * 5000 + "}",
        "huge_number": '{"kind": "objection", "text": 1' + "0" * 5000 + "}",
        "not_json": "{kind: objection",
        "array_body": "[]",
        "string_body": '"objection"',
        "null_body": "null",
        "bidi_override": '{"kind": "objection", "text": "reversed \\u202e txet"}',
        "form_feed": '{"kind": "objection", "text": "page\\u000cbreak inside"}',
        "c1_control": '{"kind": "objection", "text": "next line \\u0085 char"}',
        "wrong_types": '{"kind": 7, "text": ["a", "list"]}',
        "unknown_field": '{"kind": "objection", "text": "fine words", "admin": true}',
        "duplicate_keys": '{"kind": "objection", "text": "one", "text": "\\ud83d"}',
        "too_long_text": '{"kind": "objection", "text": "' + "x" * 6000 + '"}',
        "body_over_the_limit": '{"kind": "objection", "text": "' + "y" * (5 * 1024 * 1024) + '"}',
        "lone_low_surrogate_key": '{"kind": "objection", "\\udc00": "x", "text": "fine words"}',
    }
