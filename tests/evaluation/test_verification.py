"""1:1 verification, 10-fold as LFW does it, on the engine's similarity; LFW pairs files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from openlfr.evaluation import DatasetError, load_pairs
from openlfr.evaluation.dataset import Pair, PairsFile
from openlfr.evaluation.describe import ImageDescription
from openlfr.evaluation.runner import verification_result
from openlfr.evaluation.verification import (
    best_threshold,
    kfold_accuracy,
    verification_summary,
)
from openlfr.recognition.matcher import WatchlistIndex, pair_similarities
from openlfr.recognition.watchlist import EnrolledImage, Subject, Watchlist, model_family

from .conftest import MODEL_ID

DLIB_ID = "dlib_face_recognition_resnet_model_v1:synthetic"


def synthetic_pairs(n: int = 3000, seed: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same-person pairs at similarity ~N(0.60, 0.1), different ~N(0.10, 0.1): the best
    threshold sits midway, at 0.35, and accuracy is Phi(2.5) = 99.38%."""
    rng = np.random.default_rng(seed)
    same = np.arange(n) % 2 == 0
    scores = np.where(same, rng.normal(0.60, 0.1, n), rng.normal(0.10, 0.1, n))
    folds = np.arange(n) % 10
    return scores, same, folds


def test_ten_fold_accuracy_matches_the_known_separability() -> None:
    scores, same, folds = synthetic_pairs()
    summary = verification_summary(kfold_accuracy(scores, same, folds))
    expected = stats.norm.cdf(2.5)
    assert summary["folds"] == 10
    assert summary["accuracy_mean"] == pytest.approx(expected, abs=0.006)
    assert 0 < summary["accuracy_std"] < 0.01
    assert summary["threshold_mean"] == pytest.approx(0.35, abs=0.03)
    assert len(summary["per_fold"]) == 10


def test_each_fold_threshold_is_chosen_without_that_fold() -> None:
    scores, same, folds = synthetic_pairs(500)
    for result in kfold_accuracy(scores, same, folds):
        train = folds != result.fold
        threshold, accuracy = best_threshold(scores[train], same[train])
        assert result.threshold == threshold and result.train_accuracy == accuracy
        assert result.pairs == int((~train).sum())


def test_best_threshold_separates_separable_scores_perfectly() -> None:
    scores = np.array([0.9, 0.8, 0.2, 0.1])
    threshold, accuracy = best_threshold(scores, np.array([True, True, False, False]))
    assert accuracy == 1.0 and 0.2 < threshold < 0.8
    summary = verification_summary(kfold_accuracy(
        np.tile(scores, 5), np.tile([True, True, False, False], 5), np.repeat(range(10), 2)))
    assert summary["accuracy_mean"] == 1.0 and summary["accuracy_std"] == 0.0


def _engine_similarity(model_id: str, probe: np.ndarray, enrolled: np.ndarray) -> float:
    """The engine's own similarity of a probe to a one-entry watchlist."""
    index = WatchlistIndex(Watchlist(model_id, [Subject("s", [EnrolledImage("s", "", enrolled)])]))
    return float(index.subject_similarities(probe)[0, 0])


@pytest.mark.parametrize("model_id", [MODEL_ID, DLIB_ID])
def test_pair_similarities_are_the_engines_similarity_for_the_models_metric(model_id: str) -> None:
    metric, dim = model_family(model_id)
    rng = np.random.default_rng(3)
    first = rng.normal(size=(6, dim)).astype(np.float32)
    first /= np.linalg.norm(first, axis=1, keepdims=True)
    noise = rng.normal(scale=0.01, size=(6, dim)).astype(np.float32)
    second = first + noise * np.arange(6)[:, None]  # further apart down the rows
    second /= np.linalg.norm(second, axis=1, keepdims=True)
    scores = pair_similarities(first, second, metric)
    expected = [_engine_similarity(model_id, a, b) for a, b in zip(first, second, strict=True)]
    assert scores == pytest.approx(expected, abs=1e-5)
    assert scores[0] == pytest.approx(1.0) and np.all(np.diff(scores) < 0)


def test_pair_similarities_by_metric() -> None:
    a = np.zeros((2, 128), np.float32)
    b = np.zeros((2, 128), np.float32)
    a[:, 0] = 1.0
    b[0, 0], b[1, 1] = 0.7, 1.0
    # Cosine: the dot product (0.7: same direction, shorter; 0: orthogonal).
    assert pair_similarities(a, b, "cosine") == pytest.approx([0.7, 0.0])
    # L2: 1 - distance, clipped (0.3 apart; sqrt(2) apart).
    assert pair_similarities(a, b, "l2") == pytest.approx([0.7, 0.0])
    b[0, 0] = 1.3
    assert pair_similarities(a, b, "cosine")[0] == pytest.approx(1.0)  # at most 1, as the engine
    assert pair_similarities(a, b, "l2")[0] == pytest.approx(0.7)
    with pytest.raises(ValueError, match="unknown descriptor metric 'hamming'"):
        pair_similarities(a, b, "hamming")


def _axis_pairs(tmp_path: Path, same_scale: float, fold: Callable[[int], int]
                ) -> tuple[list[Pair], dict[Path, ImageDescription]]:
    """40 pairs of 128-D axis vectors: even pairs the same axis (the second scaled by
    ``same_scale``), odd pairs two orthogonal axes; pair i in fold ``fold(i)``."""
    basis = np.eye(128, dtype=np.float32)
    pairs, descriptions = [], {}
    for i in range(40):
        first, second = tmp_path / f"{i}a.jpg", tmp_path / f"{i}b.jpg"
        same = i % 2 == 0
        descriptions[first] = ImageDescription(basis[i])
        descriptions[second] = ImageDescription(same_scale * basis[i] if same
                                                else basis[i + 50])
        pairs.append(Pair(first, second, same, fold=fold(i), line=i + 2))
    return pairs, descriptions


def test_verification_compares_pairs_with_the_models_metric(tmp_path: Path) -> None:
    """Same pairs: one unit descriptor and the same scaled by 2 (cosine 1, yet an L2
    distance of 1); different pairs: orthogonal unit descriptors (cosine 0, L2 1.41).
    Cosine separates them perfectly; dlib's 1 - L2 scores every pair 0 and cannot."""
    pairs, descriptions = _axis_pairs(tmp_path, same_scale=2.0, fold=lambda i: (i // 2) % 10)
    pairs_file = PairsFile(pairs, folds=10, fold_source="round-robin")
    cosine = verification_result(pairs_file, descriptions, tmp_path, "cosine")
    assert cosine["accuracy_mean"] == 1.0 and "cosine" in cosine["score"]
    l2 = verification_result(pairs_file, descriptions, tmp_path, "l2")
    assert l2["accuracy_mean"] == pytest.approx(0.5) and "L2" in l2["score"]


def test_pairs_without_a_face_count_wrong_in_the_all_pairs_accuracy(tmp_path: Path) -> None:
    """LFW's published figures count every pair. Perfectly separable pairs, but one image
    in each of folds 0-3 has no face: accuracy over the scored pairs stays 1, while over
    all pairs each of those folds loses one pair of four (0.75), so the mean is 0.9."""
    pairs, descriptions = _axis_pairs(tmp_path, same_scale=1.0, fold=lambda i: i % 10)
    for fold in range(4):  # the first pair of folds 0-3
        descriptions[pairs[fold].second] = ImageDescription(None, "no face found")
    result = verification_result(PairsFile(pairs, folds=10, fold_source="round-robin"),
                                 descriptions, tmp_path, "cosine")
    assert result["pairs_skipped"] == 4 and result["accuracy_mean"] == 1.0
    assert result["accuracy_all_pairs_mean"] == pytest.approx((6 * 1.0 + 4 * 0.75) / 10)
    assert result["accuracy_all_pairs_std"] > 0


def _pairs_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pairs.txt"
    path.write_text(text)
    return path


def test_lfw_pairs_file_with_its_fold_layout(tmp_path: Path) -> None:
    # 2 folds of 1 same + 1 different pair each, as LFW's "10 300" header says.
    path = _pairs_file(tmp_path, "2\t1\nAnn\t1\t2\nAnn\t1\tBob\t1\nBob\t1\t3\nCy\t2\tAnn\t4\n")
    parsed = load_pairs(path, tmp_path)
    assert parsed.fold_source == "header" and parsed.folds == 2
    assert [p.fold for p in parsed.pairs] == [0, 0, 1, 1]
    assert [p.same for p in parsed.pairs] == [True, False, True, False]
    assert parsed.pairs[0].first == tmp_path / "Ann" / "Ann_0001.jpg"
    assert parsed.pairs[3].second == tmp_path / "Ann" / "Ann_0004.jpg"


def test_pairs_without_a_fold_layout_are_dealt_into_ten_balanced_folds(tmp_path: Path) -> None:
    lines = ["40"] + [f"P{i} 1 2" for i in range(20)] + [f"P{i} 1 Q{i} 1" for i in range(20)]
    parsed = load_pairs(_pairs_file(tmp_path, "\n".join(lines)), tmp_path)
    assert parsed.fold_source == "round-robin" and parsed.folds == 10
    for fold in range(10):
        kinds = [p.same for p in parsed.pairs if p.fold == fold]
        assert kinds.count(True) == 2 and kinds.count(False) == 2


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "empty pairs file"),
        ("Ann 1 2\n", "expected a header"),
        ("1\nAnn 1\n", "line 2: expected 'name i j'"),
        ("1\nAnn 1 x\n", "line 2: image number 'x'"),
        ("1\nAnn 0 2\n", "image number '0'"),
        ("2\nAnn 1 2\nBob 1 2\n", "only same-person pairs"),
        ("3\n" + "A 1 2\nB 1 C 1\nD 1 2\n", "needs at least 10 of each"),
    ],
)
def test_bad_pairs_files_are_reported_with_the_line(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(DatasetError, match=message):
        load_pairs(_pairs_file(tmp_path, text), tmp_path)


def test_missing_pairs_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such pairs file"):
        load_pairs(tmp_path / "nope.txt", tmp_path)
