"""1:N matching of face descriptors against a watchlist, vectorised with NumPy.

The score
---------
``score = 1 - d``, clipped to [0, 1], where ``d`` is the Euclidean (L2) distance
between two 128-D descriptors: the metric dlib's network was trained for. 1 means
identical descriptors; 0 means a distance of 1 or more (clearly different people).
dlib's own 1:1 rule ("same person when d < 0.6") is a score above 0.4. A probe's score
for a subject is its best score over that subject's enrolled images.

Higher is stricter: raising the threshold lowers false alerts and raises misses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openlfr.recognition.watchlist import Watchlist

Scores = npt.NDArray[np.float32]


def scores_from_distances(distances: np.ndarray) -> np.ndarray:
    """Map L2 distances to similarity scores in [0, 1] (see the module docstring)."""
    return np.clip(1.0 - distances, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class Match:
    subject_index: int
    subject_ref: str
    score: float


class WatchlistIndex:
    """The watchlist's descriptors as one matrix, ready to compare probes with all of them."""

    def __init__(self, watchlist: Watchlist) -> None:
        self.subject_refs = [s.ref for s in watchlist.subjects]
        rows: list[np.ndarray] = []
        starts: list[int] = []
        for subject in watchlist.subjects:
            starts.append(sum(len(r) for r in rows))
            rows.append(subject.descriptors)
        self._matrix = (
            np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, 128), np.float32)
        )
        self._sq_norms = np.einsum("ij,ij->i", self._matrix, self._matrix)
        # Rows are grouped by subject; reduceat takes the best row of each group.
        self._subject_starts = np.asarray(starts, dtype=np.intp)

    def __len__(self) -> int:
        return len(self.subject_refs)

    def clear(self) -> None:
        """Forget the watchlist: overwrite the descriptors in memory and drop them (a node
        does this when its deployment ends). The index then matches nobody."""
        self._matrix.fill(0.0)
        self._sq_norms.fill(0.0)
        self._matrix = np.zeros((0, 128), np.float32)
        self._sq_norms = np.zeros(0, np.float32)
        self._subject_starts = np.zeros(0, np.intp)
        self.subject_refs = []

    def subject_scores(self, probes: np.ndarray) -> Scores:
        """(n_probes, n_subjects) scores: each probe against every subject's best image."""
        probes = np.atleast_2d(np.asarray(probes, dtype=np.float32))
        if len(self.subject_refs) == 0:
            return np.zeros((len(probes), 0), dtype=np.float32)
        sq = np.einsum("ij,ij->i", probes, probes)[:, None] + self._sq_norms[None, :]
        sq -= 2.0 * probes @ self._matrix.T
        distances = np.sqrt(np.maximum(sq, 0.0))
        row_scores = scores_from_distances(distances)
        return np.maximum.reduceat(row_scores, self._subject_starts, axis=1)

    def best_matches(self, probes: np.ndarray) -> list[Match]:
        """The single best subject for each probe, whatever its score."""
        scores = self.subject_scores(probes)
        best = scores.argmax(axis=1)
        return [
            Match(int(i), self.subject_refs[int(i)], float(scores[n, i]))
            for n, i in enumerate(best)
        ]
