"""The invariant: a face that matches no watchlist entry is never written anywhere.

`openlfr watch` runs on the sample clip against a watchlist of other people, in a
sandbox (its own HOME, TMPDIR, XDG dirs and working directory). Afterwards every file
written under the sandbox and under the machine's shared scratch folders is scanned for
face data, and so are the process's stdout and stderr. A positive control shows that the
scan does catch a face crop, a descriptor dump and an array file.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from openlfr.recognition import EngineConfig, FaceAnalyzer, Watcher, Watchlist, open_source
from openlfr.recognition.images import read_image

from .conftest import CLIP, GROUPS

pytestmark = pytest.mark.slow

SCRATCH_DIRS = [Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")]
IMAGE_MAGIC = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG": "PNG",
    b"\x93NUMPY": "NumPy array",
    b"GIF8": "GIF",
    b"RIFF": "RIFF/WebP",
    b"BM": "BMP",
}
FLOAT_RUN = re.compile(rb"(?:-?\d+\.\d{3,}[\s,\]]+){32,}")


def face_data_in(blob: bytes) -> str | None:
    """Why `blob` looks like face data (an image, an array, a descriptor), or None."""
    for magic, kind in IMAGE_MAGIC.items():
        if blob.startswith(magic):
            return f"{kind} file"
    if b"\x89PNG\r\n" in blob or b"JFIF" in blob:
        return "embedded image"
    if FLOAT_RUN.search(blob):
        return "a run of 32+ decimals (a descriptor?)"
    if len(blob) >= 150 * 150 * 3 and _looks_like_raw_pixels(blob):
        return "raw pixel buffer"
    return None


def _looks_like_raw_pixels(blob: bytes) -> bool:
    # Raw RGB pixels of a photo: many byte values occur, and the same channel of the next
    # pixel (3 bytes on) is close; compressed or random data has neither property.
    # Database pages and other sparse files are mostly zero bytes; a photo is not.
    data = np.frombuffer(blob[: 1 << 20], dtype=np.uint8).astype(int)
    if float((data == 0).mean()) > 0.2:
        return False
    return len(np.unique(data)) > 150 and float(np.abs(data[3:] - data[:-3]).mean()) < 12


def _files_under(roots: list[Path]) -> dict[Path, tuple[int, int]]:
    seen: dict[Path, tuple[int, int]] = {}
    for root in roots:
        for dirpath, _dirs, names in os.walk(root, onerror=lambda _e: None):
            for name in names:
                path = Path(dirpath) / name
                try:
                    stat = path.lstat()
                except OSError:
                    continue
                seen[path] = (stat.st_size, stat.st_mtime_ns)
    return seen


def test_the_scan_catches_face_data() -> None:
    """Positive control: without it the privacy test below could never fail."""
    image = read_image(GROUPS / "two_people.jpg")
    crop = np.ascontiguousarray(image[60:210, 240:390])
    buffer = io.BytesIO()
    np.save(buffer, crop)
    assert face_data_in(buffer.getvalue()) == "NumPy array file"
    assert face_data_in((GROUPS / "two_people.jpg").read_bytes()) == "JPEG file"
    assert face_data_in(crop.tobytes()) == "raw pixel buffer"
    descriptor = np.random.default_rng(0).normal(0, 0.1, 128)
    assert face_data_in(json.dumps(descriptor.tolist()).encode()) is not None
    assert face_data_in(b'{"type": "summary", "frames": 275, "alerts": 0}') is None


def test_watching_strangers_writes_no_face_anywhere(
    strangers_watchlist: Watchlist, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The ONNX graph built from the weights is a cache written once per machine, before any
    # frame is seen (its own test is in test_onnx_networks.py): build it outside the sandbox
    # so that the watch run itself must write nothing at all.
    graph_cache = tmp_path / "graph-cache"
    subprocess.run(
        [sys.executable, "-c", "from openlfr.recognition import FaceAnalyzer; FaceAnalyzer()"],
        env={**os.environ, "OPENLFR_CACHE_DIR": str(graph_cache)},
        check=True,
        timeout=120,
    )
    watchlist_file = tmp_path / "in" / "watchlist.json"
    strangers_watchlist.save(watchlist_file)
    sandbox = tmp_path / "sandbox"
    dirs = {name: sandbox / name for name in ("home", "tmp", "cache", "data", "config", "cwd")}
    for folder in dirs.values():
        folder.mkdir(parents=True)
    env = {
        **os.environ,
        "HOME": str(dirs["home"]),
        "TMPDIR": str(dirs["tmp"]),
        "XDG_CACHE_HOME": str(dirs["cache"]),
        "XDG_DATA_HOME": str(dirs["data"]),
        "XDG_CONFIG_HOME": str(dirs["config"]),
        "OPENLFR_CACHE_DIR": str(graph_cache),
    }
    # pytest's own temp root holds this sandbox (checked strictly above) and files of any
    # other test session running at the same time; the process under test never sees it.
    pytest_root = tmp_path_factory.getbasetemp().parent
    scratch_before = _files_under(SCRATCH_DIRS)
    started_ns = time.time_ns()

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "openlfr",
            "watch",
            str(CLIP),
            "--watchlist",
            str(watchlist_file),
            "--json",
        ],
        cwd=dirs["cwd"],
        env=env,
        capture_output=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr.decode()
    summary = json.loads(result.stdout)  # exactly one JSON object: the summary
    assert summary["type"] == "summary" and summary["alerts"] == 0
    assert summary["faces_detected"] > 50  # faces were seen; none may be kept
    assert result.stderr == b""
    assert face_data_in(result.stdout) is None

    written_in_sandbox = [p for p in _files_under([sandbox])]
    assert written_in_sandbox == [], f"the run wrote {written_in_sandbox}"
    changed = [
        p
        for p, sig in _files_under(SCRATCH_DIRS).items()
        if scratch_before.get(p) != sig and sig[1] >= started_ns and pytest_root not in p.parents
    ]
    offending = {}
    for path in changed:
        try:
            reason = face_data_in(path.read_bytes())
        except OSError:
            continue
        if reason:
            offending[str(path)] = reason
    assert offending == {}


def test_no_log_record_and_no_file_open_for_writing_during_a_run(
    strangers_watchlist: Watchlist, analyzer: FaceAnalyzer, caplog: pytest.LogCaptureFixture
) -> None:
    """In-process: every Python-level open for writing is seen by an audit hook."""
    writes: list[str] = []
    watching = {"on": False}

    def hook(event: str, args: tuple[object, ...]) -> None:
        if watching["on"] and event == "open" and len(args) >= 2:
            mode, flags = args[1], args[2] if len(args) > 2 else 0
            if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            ):
                writes.append(str(args[0]))

    sys.addaudithook(hook)  # hooks cannot be removed; the flag turns this one off
    caplog.set_level(logging.DEBUG)
    watcher = Watcher(strangers_watchlist, EngineConfig(workers=0), analyzer)
    source = open_source(str(CLIP))
    watching["on"] = True
    try:
        alerts = list(watcher.run(source))
    finally:
        watching["on"] = False
    assert alerts == [] and watcher.counters.faces_detected > 50
    assert writes == []
    assert [r for r in caplog.records if r.name.startswith("openlfr")] == []
