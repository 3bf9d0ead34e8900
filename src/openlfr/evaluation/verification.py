"""1:1 verification accuracy, as LFW measures it: k folds (10 in LFW's pairs.txt); for
each, the threshold that is most accurate on the other folds is applied to it.

A pair is scored by the engine's similarity of its two descriptors for the model's metric
(``matcher.pair_similarities``): the cosine of the unit descriptors, or ``1 - d`` for
dlib's L2 descriptors.
There is no watchlist in a 1:1 comparison, so the 1:N decision score (how far a face
stands out from the rest of a watchlist) does not apply, and these thresholds are on the
similarity, not on the threshold a deployment sets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def best_threshold(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """The threshold (``same`` when score >= it) with the highest accuracy on these pairs,
    and that accuracy. Candidates lie midway between consecutive distinct scores, so the
    choice does not sit on a training score."""
    values = np.unique(scores)
    candidates = np.concatenate((
        [values[0] - 1e-6], (values[:-1] + values[1:]) / 2.0, [values[-1] + 1e-6]))
    same_sorted = np.sort(scores[same])
    diff_sorted = np.sort(scores[~same])
    # same pairs at or above t are right; different pairs below t are right.
    right_same = len(same_sorted) - np.searchsorted(same_sorted, candidates, side="left")
    right_diff = np.searchsorted(diff_sorted, candidates, side="left")
    accuracy = (right_same + right_diff) / len(scores)
    best = int(np.argmax(accuracy))
    return float(candidates[best]), float(accuracy[best])


@dataclass(frozen=True)
class FoldResult:
    fold: int
    threshold: float
    train_accuracy: float
    accuracy: float
    pairs: int


def kfold_accuracy(
    scores: Sequence[float] | np.ndarray,
    same: Sequence[bool] | np.ndarray,
    folds: Sequence[int] | np.ndarray,
) -> list[FoldResult]:
    """Accuracy on each fold with a threshold chosen on the others."""
    scores_a = np.asarray(scores, dtype=float)
    same_a = np.asarray(same, dtype=bool)
    folds_a = np.asarray(folds, dtype=int)
    results = []
    for fold in sorted(set(folds_a.tolist())):
        test = folds_a == fold
        if test.all() or not test.any():
            continue
        threshold, train_accuracy = best_threshold(scores_a[~test], same_a[~test])
        predicted = scores_a[test] >= threshold
        accuracy = float((predicted == same_a[test]).mean())
        results.append(FoldResult(fold, threshold, train_accuracy, accuracy, int(test.sum())))
    return results


def verification_summary(results: Sequence[FoldResult]) -> dict[str, Any]:
    """Mean and standard deviation of the fold accuracies (population std, as the usual
    LFW evaluation code reports), plus the standard error LFW's README asks for."""
    accuracies = np.array([r.accuracy for r in results])
    return {
        "folds": len(results),
        "accuracy_mean": float(accuracies.mean()),
        "accuracy_std": float(accuracies.std()),
        "accuracy_standard_error": float(accuracies.std(ddof=1) / np.sqrt(len(accuracies)))
        if len(accuracies) > 1 else None,
        "threshold_mean": float(np.mean([r.threshold for r in results])),
        "per_fold": [
            {"fold": r.fold, "threshold": r.threshold, "train_accuracy": r.train_accuracy,
             "accuracy": r.accuracy, "pairs": r.pairs}
            for r in results
        ],
    }


def all_pairs_accuracy(results: Sequence[FoldResult],
                       fold_pairs: Mapping[int, int]) -> dict[str, float]:
    """Accuracy over every pair of each fold (``fold_pairs``: fold -> pairs listed in it),
    a pair that could not be scored (an image where no face was found) counted as wrong.
    LFW's published figures count all 6,000 pairs, so a pipeline must not look better by
    leaving out the pairs it fails on; this is the figure to hold against them."""
    right = {r.fold: r.accuracy * r.pairs for r in results}
    accuracies = np.array([right.get(fold, 0.0) / total
                           for fold, total in sorted(fold_pairs.items()) if total])
    return {"accuracy_all_pairs_mean": float(accuracies.mean()),
            "accuracy_all_pairs_std": float(accuracies.std())}
