"""The optional descriptor cache: only descriptors, refused across models, stale entries
(changed files) described again."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from openlfr.evaluation import DatasetError
from openlfr.evaluation.describe import ImageDescription, load_cache, save_cache


def test_cache_round_trip_and_invalidation(tmp_path: Path) -> None:
    a, b, c = (tmp_path / n for n in ("a.jpg", "b.jpg", "c.jpg"))
    for path in (a, b, c):
        path.write_bytes(path.name.encode())
    def digest(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest()

    vector = np.arange(128, dtype=np.float32)
    descriptions = {
        a: ImageDescription(vector, "", 1, digest(a)),
        b: ImageDescription(None, "no face found", 0, digest(b)),
        c: ImageDescription(vector, "", 2, digest(c)),
    }
    cache = tmp_path / "cache.npz"
    save_cache(cache, "model-1", descriptions)
    c.write_bytes(b"changed")  # a changed photo must be described again
    loaded = load_cache(cache, "model-1")
    assert set(loaded) == {a, b}
    restored = loaded[a].descriptor
    assert restored is not None and np.array_equal(restored, vector)
    assert loaded[b].descriptor is None and loaded[b].problem == "no face found"
    with pytest.raises(DatasetError, match="descriptors from model model-1, not model-2"):
        load_cache(cache, "model-2")
    assert load_cache(tmp_path / "absent.npz", "model-1") == {}
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="unreadable cache file"):
        load_cache(tmp_path / "bad.npz", "model-1")
