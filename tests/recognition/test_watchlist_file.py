"""The watchlist file format: round trip, versioning, and every way a file can be wrong."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from openlfr.recognition import Watchlist, WatchlistError
from openlfr.recognition.watchlist import EnrolledImage, Subject

DLIB_A = "dlib_face_recognition_resnet_model_v1:aaaa"
DLIB_B = "dlib_face_recognition_resnet_model_v1:bbbb"


def _watchlist() -> Watchlist:
    rng = np.random.default_rng(0)
    return Watchlist(
        DLIB_A,
        [
            Subject(
                "alpha", [EnrolledImage("a.jpg", "ab", rng.normal(size=128).astype(np.float32))]
            ),
            Subject(
                "beta",
                [
                    EnrolledImage("b1.jpg", "cd", rng.normal(size=128).astype(np.float32)),
                    EnrolledImage("b2.jpg", "ef", rng.normal(size=128).astype(np.float32)),
                ],
            ),
        ],
    )


def test_round_trip_keeps_subjects_and_descriptors(tmp_path: Path) -> None:
    original = _watchlist()
    original.save(tmp_path / "wl.json")
    loaded = Watchlist.load(tmp_path / "wl.json", expected_model=DLIB_A)
    assert [s.ref for s in loaded.subjects] == ["alpha", "beta"]
    assert loaded.image_count == 3
    np.testing.assert_allclose(
        loaded.subjects[1].descriptors, original.subjects[1].descriptors, atol=1e-6
    )
    data = json.loads((tmp_path / "wl.json").read_text())
    assert data["format"] == "openlfr-watchlist" and data["version"] == 2
    assert data["descriptor_dim"] == 128 and data["metric"] == "l2"
    assert list(tmp_path.iterdir()) == [tmp_path / "wl.json"]  # no temporary file left behind


def test_a_descriptor_from_another_model_is_refused(tmp_path: Path) -> None:
    _watchlist().save(tmp_path / "wl.json")
    with pytest.raises(WatchlistError, match="rebuild the watchlist"):
        Watchlist.load(tmp_path / "wl.json", expected_model=DLIB_B)


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "wl.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="other"), "not an openlfr watchlist"),
        (lambda d: d.update(version=99), "version 99 is not supported"),
        (lambda d: d.update(subjects=[]), "has no subjects"),
        (lambda d: d["subjects"][0]["images"][0].update(descriptor=[1.0, 2.0]), "not 128 finite"),
        (
            lambda d: d["subjects"][0]["images"][0].update(descriptor=[float("nan")] * 128),
            "not 128 finite",
        ),
        (lambda d: d["subjects"][0].pop("ref"), "malformed"),
    ],
)
def test_a_wrong_file_is_refused_with_a_reason(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    data = _watchlist().to_json()
    mutate(data)
    with pytest.raises(WatchlistError, match=message):
        Watchlist.load(_write(tmp_path, data))


def test_missing_and_unparsable_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(WatchlistError, match="no such watchlist file"):
        Watchlist.load(tmp_path / "absent.json")
    with pytest.raises(WatchlistError, match="not a readable watchlist"):
        Watchlist.load(_write(tmp_path, "{not json"))


def test_a_version_1_file_is_still_read(tmp_path: Path) -> None:
    data = _watchlist().to_json()
    data["version"] = 1
    del data["descriptor_dim"], data["metric"]
    loaded = Watchlist.load(_write(tmp_path, data), expected_model=DLIB_A)
    assert loaded.metric == "l2" and loaded.descriptor_dim == 128


def test_a_512_d_cosine_watchlist_round_trips_and_checks_its_length(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    unit = rng.normal(size=512).astype(np.float32)
    unit /= np.linalg.norm(unit)
    model = "mobilefacenet_arcface_512:cccc"
    Watchlist(model, [Subject("a", [EnrolledImage("a.jpg", "x", unit)])]).save(tmp_path / "w.json")
    loaded = Watchlist.load(tmp_path / "w.json", expected_model=model)
    assert loaded.metric == "cosine" and loaded.descriptor_dim == 512
    np.testing.assert_allclose(loaded.subjects[0].descriptors[0], unit, atol=1e-6)
    data = json.loads((tmp_path / "w.json").read_text())
    data["subjects"][0]["images"][0]["descriptor"] = [0.0] * 128
    with pytest.raises(WatchlistError, match="not 512 finite"):
        Watchlist.load(_write(tmp_path, data))


def test_an_unknown_descriptor_model_is_refused(tmp_path: Path) -> None:
    data = _watchlist().to_json()
    data["descriptor_model"] = "someone-elses-model"
    with pytest.raises(WatchlistError, match="unknown descriptor model"):
        Watchlist.load(_write(tmp_path, data))
