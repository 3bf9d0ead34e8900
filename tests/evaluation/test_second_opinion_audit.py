"""The audit decides as the engine's second opinion does (`evaluate --second-opinion`): a
search's score is lifted by the lift exactly where the second network puts the same entry
first nearby, so the rates swept are the engine's with that setting."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from openlfr.evaluation import DatasetError
from openlfr.evaluation.describe import ImageDescription, load_cache, save_cache
from openlfr.evaluation.identification import DescribedImage, run_searches
from openlfr.evaluation.register import audit_payload
from openlfr.recognition.matcher import SECOND_OPINION_LIFT

from .conftest import DIM, MODEL_ID, SAMPLE_IDENTITIES

DLIB = "dlib_face_recognition_resnet_model_v1:synthetic"


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def test_a_search_is_lifted_only_where_the_second_network_names_the_same_entry() -> None:
    e = np.eye(DIM, dtype=np.float32)
    r = np.eye(128, dtype=np.float32) * 0.2  # dlib-like descriptors, 0.28 apart
    images = [
        DescribedImage("a/0", "a", e[0], {}, r[0]),
        DescribedImage("a/1", "a", _unit(e[0] + 0.9 * e[3]), {}, r[0] + 0.01),  # dlib: a
        DescribedImage("a/2", "a", _unit(e[0] + 0.9 * e[4]), {}, r[2]),  # dlib: c, not a
        DescribedImage("c/0", "c", e[2], {}, r[2]),
        DescribedImage("b/0", "b", _unit(0.5 * e[0] + e[1]), {}, r[0]),  # dlib: a, as w600k
        DescribedImage("b/1", "b", _unit(0.5 * e[0] + e[1] + 0.3 * e[5]), {}, r[5] * 30),  # far
    ]

    def searches(reference_model: str | None):  # type: ignore[no-untyped-def]
        return run_searches(images, (["b"], ["a", "c"]), 2, model_id=MODEL_ID,
                            reference_model=reference_model, filler=[e[6]],
                            filler_references=[None])

    plain, second = searches(None), searches(DLIB)
    assert plain.mated_identity == second.mated_identity == ["a", "a", "b"]
    assert plain.nonmated_identity[:2] == ["b", "b"]

    def lifted(score: float) -> float:
        return min(1.0, score + SECOND_OPINION_LIFT)

    # a/1: dlib names a, nearby: lifted. a/2: dlib names c: not. b/1 (enrolled b/0 in the
    # other turn): its dlib descriptor is far from everyone: not.
    assert second.mate_score[0] == pytest.approx(lifted(plain.mate_score[0]))
    assert second.mate_score[1:] == pytest.approx(plain.mate_score[1:])
    # Strangers: b/0 is named a by both networks, so its false alert gets likelier; b/1
    # is near no one for dlib.
    assert second.nonmated_best[0] == pytest.approx(lifted(plain.nonmated_best[0]))
    assert second.nonmated_best[1] == pytest.approx(plain.nonmated_best[1])
    # Never anything but the lift or nothing; never lower.
    for before, after in [(plain.mate_score, second.mate_score),
                          (plain.nonmated_best, second.nonmated_best)]:
        change = after - before
        assert all(np.isclose(c, 0) or np.isclose(a, lifted(b))
                   for b, a, c in zip(before, after, change, strict=True))


def test_the_cache_keeps_the_second_opinion_under_its_own_id(tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"a photo")
    digest = hashlib.sha256(b"a photo").hexdigest()
    reference = np.arange(128, dtype=np.float32) / 128
    save_cache(tmp_path / "c.npz", f"{MODEL_ID}+{DLIB}", {
        photo: ImageDescription(np.ones(DIM, np.float32), "", 1, digest, reference)})
    [(path, loaded)] = load_cache(tmp_path / "c.npz", f"{MODEL_ID}+{DLIB}").items()
    assert path == photo and loaded.reference is not None
    np.testing.assert_allclose(loaded.reference, reference)
    with pytest.raises(DatasetError, match="delete the cache file"):
        load_cache(tmp_path / "c.npz", MODEL_ID)  # a plain run never reads it


@pytest.mark.slow
def test_evaluate_with_the_second_opinion_says_so_and_never_finds_fewer(tmp_path: Path) -> None:
    # Made-up groups (alternating A/B): a registered audit needs a fair threshold.
    labels = tmp_path / "labels.csv"
    labels.write_text("identity,made_up_group\n" + "".join(
        f"{folder.name},{'AB'[n % 2]}\n"
        for n, folder in enumerate(sorted(SAMPLE_IDENTITIES.iterdir()))))

    def evaluate(out: Path, *extra: str) -> dict:  # type: ignore[type-arg]
        result = subprocess.run(
            [sys.executable, "-m", "openlfr", "evaluate", str(SAMPLE_IDENTITIES),
             "--labels", str(labels), "-g", "made_up_group",
             "--thresholds", "0.5,0.9", "--out", str(out), *extra],
            capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return json.loads((out / "results.json").read_text())

    plain = evaluate(tmp_path / "plain")
    second = evaluate(tmp_path / "second", "--second-opinion")
    assert plain["engine"]["second_opinion"] is None
    opinion = second["engine"]["second_opinion"]
    assert opinion["model_id"].startswith("dlib_face_recognition_resnet_model_v1:")
    assert "0.25" in opinion["rule"] and "0.55" in opinion["rule"]
    # A lift only ever raises a score: at every threshold as many found or more, and as
    # many false alerts or more. At 0.9 the engine alone misses a photo dlib vouches for.
    rows = list(zip(plain["identification"][0]["overall"],
                    second["identification"][0]["overall"], strict=True))
    for before, after in rows:
        assert after["tpir"] >= before["tpir"] and after["fpir"] >= before["fpir"]
    before, after = rows[-1]
    assert after["threshold"] == 0.9 and after["tpir"] > before["tpir"]
    # Registered, the audit says how it decided (the register shows engine_version).
    payload = audit_payload(second, dataset_name="bundled")
    assert f"second opinion {opinion['model_id']}" in payload["engine_version"]
    assert "Decided with a second opinion" in payload["summary"]
    assert payload["second_opinion_model"] == opinion["model_id"]
    alone = audit_payload(plain, dataset_name="bundled")
    assert "second opinion" not in alone["engine_version"] and alone["second_opinion_model"] is None
