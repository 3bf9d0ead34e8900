"""The optional descriptor cache: only descriptors (of the model's length), refused across
models, stale entries (changed files) described again."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from openlfr.evaluation import DatasetError
from openlfr.evaluation.describe import ImageDescription, load_cache, save_cache
from openlfr.recognition.watchlist import model_family

from .conftest import MODEL_ID

DLIB_ID = "dlib_face_recognition_resnet_model_v1:synthetic"


@pytest.mark.parametrize("model_id,other", [(MODEL_ID, DLIB_ID), (DLIB_ID, MODEL_ID)])
def test_cache_round_trip_and_invalidation(tmp_path: Path, model_id: str, other: str) -> None:
    a, b, c = (tmp_path / n for n in ("a.jpg", "b.jpg", "c.jpg"))
    for path in (a, b, c):
        path.write_bytes(path.name.encode())
    def digest(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest()

    _, dim = model_family(model_id)
    vector = np.linspace(-1, 1, dim, dtype=np.float32)
    descriptions = {
        # No face first: the descriptor length must come from a described image.
        b: ImageDescription(None, "no face found", 0, digest(b)),
        a: ImageDescription(vector, "", 1, digest(a)),
        c: ImageDescription(vector[::-1].copy(), "", 2, digest(c)),
    }
    cache = tmp_path / "cache.npz"
    save_cache(cache, model_id, descriptions)
    assert load_cache(cache, model_id)[c].faces == 2
    c.write_bytes(b"changed")  # a changed photo must be described again
    loaded = load_cache(cache, model_id)
    assert set(loaded) == {a, b}
    restored = loaded[a].descriptor
    assert restored is not None and restored.shape == (dim,)
    assert np.array_equal(restored, vector)
    assert loaded[b].descriptor is None and loaded[b].problem == "no face found"
    with pytest.raises(DatasetError, match=f"descriptors from model {model_id}, not {other}"):
        load_cache(cache, other)
    assert load_cache(tmp_path / "absent.npz", model_id) == {}
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="unreadable cache file"):
        load_cache(tmp_path / "bad.npz", model_id)


def test_a_cache_with_no_face_at_all_round_trips(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"a")
    digest = hashlib.sha256(b"a").hexdigest()
    cache = tmp_path / "cache.npz"
    save_cache(cache, MODEL_ID, {photo: ImageDescription(None, "no face found", 0, digest)})
    [(path, loaded)] = load_cache(cache, MODEL_ID).items()
    assert path == photo and loaded.descriptor is None and loaded.problem == "no face found"
