"""1:N matching: how alike a face is to each watchlist subject, and how much it stands out.

Similarity
----------
The descriptor's own metric: the cosine of two unit descriptors (the default MobileFaceNet;
-1 to 1, shown clipped to 0..1), or ``1 - d`` clipped to 0..1 for dlib's descriptors (``d``,
their L2 distance). A probe's similarity to a subject is its best over the subject's
enrolled images.

Score: the decision
-------------------
Among thousands of subjects some will look a little like anyone, and a blurred, dark or
turned face looks a little like everyone: a fixed similarity threshold that finds people
in a 20-entry watchlist stops passers-by in a 5,000-entry one. The decision therefore asks
how far the best subject stands out from the *rest of the watchlist* for this face, and
how far the best of N unrelated subjects would stand out by chance::

    standout = (similarity to the best subject - mean over the other subjects)
               / standard deviation over the other subjects
    adjusted = standout - sqrt(2 ln N)
    score    = 1 / (1 + exp(-(adjusted - standout_at_half)))

The first line is a score normalisation against a cohort of non-matching faces (the
watchlist itself). Its mean and deviation are shrunk toward the descriptor's typical
non-matching values (`Calibration.cohort_mean`, `cohort_sd`, weighted as `cohort_weight`
subjects), so a small watchlist is judged against typical faces and a large one mostly
against its own crowd. The second subtracts the standout that the best of N Gaussian
non-matches reaches by chance (sqrt(2 ln N), the extreme-value growth), so one threshold
holds at 20 entries and at 5,000. The score is 0.5 when the adjusted standout equals
`standout_at_half`; higher is stricter.

The constants were calibrated on walk-by scenes (``benchmarks/engine_walkby.py``) with 18
and with 4,887 entries (README, "Score and threshold").

Second opinion
--------------
Optional (``EngineConfig.second_opinion``, a watchlist built with its reference
descriptors): a track whose score falls short of the threshold by less than
SECOND_OPINION_LIFT is described by a second network too (dlib's ResNet, trained on other
data, with other failures), on the views it fuses. When that network puts the same
subject first, within SECOND_OPINION_WITHIN in its own L2 distance, the score is lifted by
SECOND_OPINION_LIFT. One network's doubt is settled by another's agreement; a face the
second network places elsewhere, or nowhere near, keeps its score. The constants come
from ``benchmarks/second_opinion.py`` (README).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from openlfr.recognition.watchlist import Watchlist

Scores = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Calibration:
    """A descriptor model's typical non-matching similarity (mean, deviation, and how many
    subjects' worth of weight they carry) and the adjusted standout at score 0.5."""

    cohort_mean: float
    cohort_sd: float
    cohort_weight: float
    standout_at_half: float


# cosine: walk-by faces against 4,887 one-photo entries: mean 0.06, deviation 0.08-0.10;
# weight and standout_at_half from the walk-by calibration (README). l2 (dlib, the
# reference descriptor): typical values of 1 - L2 between different people; its
# threshold is not calibrated at scale (use the default descriptor for 1:N).
CALIBRATIONS = {
    "cosine": Calibration(cohort_mean=0.06, cohort_sd=0.08, cohort_weight=1000.0,
                          standout_at_half=2.4),
    "l2": Calibration(cohort_mean=0.22, cohort_sd=0.05, cohort_weight=1000.0,
                      standout_at_half=2.4),
}


def similarities_from_distances(distances: np.ndarray) -> np.ndarray:
    """Map L2 distances to similarities in [0, 1]: ``1 - d``, clipped."""
    return np.clip(1.0 - distances, 0.0, 1.0).astype(np.float32)


def pair_similarities(first: np.ndarray, second: np.ndarray, metric: str) -> np.ndarray:
    """The similarity of each pair of descriptors (rows of ``first`` and ``second``) for
    ``metric`` ("cosine" or "l2": see ``watchlist.model_family``), as WatchlistIndex
    compares a probe with an entry: the dot product of unit descriptors, at most 1, or
    ``1 - d`` clipped to 0..1."""
    a = np.atleast_2d(np.asarray(first, dtype=np.float32))
    b = np.atleast_2d(np.asarray(second, dtype=np.float32))
    if metric == "cosine":
        return np.minimum(np.einsum("ij,ij->i", a, b), 1.0).astype(float)
    if metric == "l2":
        return similarities_from_distances(np.linalg.norm(a - b, axis=1)).astype(float)
    raise ValueError(f"unknown descriptor metric {metric!r}; expected 'cosine' or 'l2'")


def chance_standout(subjects: int) -> float:
    """The standout the best of `subjects` unrelated entries reaches by chance."""
    return float(np.sqrt(2.0 * np.log(max(subjects, 2))))


def score_from_standout(
    standout: np.ndarray | float, calibration: Calibration, subjects: int
) -> np.ndarray:
    """The decision score in (0, 1) for a standout among `subjects` (module docstring)."""
    adjusted = np.asarray(standout, np.float64) - chance_standout(subjects)
    return (1.0 / (1.0 + np.exp(-(adjusted - calibration.standout_at_half)))).astype(np.float32)


def standout_for_score(score: float, calibration: Calibration, subjects: int) -> float:
    """The standout a face needs among `subjects` to reach `score` (the inverse)."""
    if score >= 1.0:
        return float("inf")
    if score <= 0.0:
        return float("-inf")
    logit = float(np.log(score / (1.0 - score)))
    return logit + calibration.standout_at_half + chance_standout(subjects)


@dataclass(frozen=True)
class Identification:
    """The best subject for one probe and how sure the engine is."""

    subject_index: int
    similarity: float
    standout: float
    score: float
    second_opinion: bool = False
    """The score was lifted by the second opinion's agreement (module docstring)."""


SECOND_OPINION_LIFT = 0.25
"""How far below the threshold the second opinion is asked, and how much its agreement
lifts the score."""
SECOND_OPINION_WITHIN = 0.55
"""The most L2 distance (dlib's descriptors) at which the second opinion agrees; dlib's
own same-person cut is 0.6."""


def with_second_opinion(identification: Identification,
                        nearest: tuple[int, float]) -> Identification:
    """`identification` with its score lifted by SECOND_OPINION_LIFT when the second
    network's nearest subject and distance (`nearest`, ``WatchlistIndex.reference_nearest``)
    name the same subject within SECOND_OPINION_WITHIN; else unchanged."""
    subject, distance = nearest
    if subject < 0 or subject != identification.subject_index \
            or not distance <= SECOND_OPINION_WITHIN:
        return identification
    return replace(identification, score=min(1.0, identification.score + SECOND_OPINION_LIFT),
                   second_opinion=True)



class WatchlistIndex:
    """The watchlist's descriptors as one matrix, ready to compare probes with all of them."""

    def __init__(self, watchlist: Watchlist) -> None:
        self.metric = watchlist.metric
        self.calibration = CALIBRATIONS[self.metric]
        self.subject_refs = [s.ref for s in watchlist.subjects]
        counts = np.fromiter((len(s.images) for s in watchlist.subjects), np.intp,
                             len(watchlist.subjects))
        dim = watchlist.descriptor_dim
        self._matrix = np.empty((int(counts.sum()), dim), np.float32)
        row = 0
        for subject in watchlist.subjects:  # one pass, no re-summing: linear in entries
            for image in subject.images:
                self._matrix[row] = image.descriptor
                row += 1
        self._sq_norms = np.einsum("ij,ij->i", self._matrix, self._matrix)
        # Rows are grouped by subject; reduceat takes the best row of each group.
        self._subject_starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
        self._one_image_each = bool(len(counts) and (counts == 1).all())
        # The second opinion's descriptors, row for row (NaN: a photo it could not describe).
        self.reference_model = watchlist.reference_model
        self._reference = np.full((0, 0), np.nan, np.float32)
        self._row_subject = np.repeat(np.arange(len(counts), dtype=np.intp), counts)
        if watchlist.reference_model is not None:
            rows = [image.reference for subject in watchlist.subjects
                    for image in subject.images]
            dim = next((len(r) for r in rows if r is not None), 0)
            self._reference = np.full((len(rows), dim), np.nan, np.float32)
            for row, reference in enumerate(rows):
                if reference is not None:
                    self._reference[row] = reference
        self._has_reference = bool(self._reference.size) and not bool(
            np.isnan(self._reference).all())

    def __len__(self) -> int:
        return len(self.subject_refs)

    @property
    def descriptor_dim(self) -> int:
        return int(self._matrix.shape[1])

    def clear(self) -> None:
        """Forget the watchlist: overwrite the descriptors in memory and drop them (a node
        does this when its deployment ends). The index then matches nobody."""
        self._matrix.fill(0.0)
        self._sq_norms.fill(0.0)
        self._matrix = np.zeros((0, self._matrix.shape[1]), np.float32)
        self._sq_norms = np.zeros(0, np.float32)
        self._subject_starts = np.zeros(0, np.intp)
        self._reference.fill(0.0)
        self._reference = np.full((0, 0), np.nan, np.float32)
        self._has_reference = False
        self._row_subject = np.zeros(0, np.intp)
        self.subject_refs = []

    @property
    def has_reference(self) -> bool:
        """Whether the watchlist carries the second opinion's descriptors."""
        return self._has_reference

    def reference_nearest(self, probe: np.ndarray) -> tuple[int, float]:
        """The subject whose photo the second network finds nearest `probe` (its descriptor
        of a face) and the L2 distance; (-1, inf) when there is nothing to compare."""
        if not self.has_reference:
            return -1, float("inf")
        distances = np.linalg.norm(self._reference - np.asarray(probe, np.float32), axis=1)
        distances = np.where(np.isnan(distances), np.inf, distances)
        row = int(distances.argmin())
        if not np.isfinite(distances[row]):
            return -1, float("inf")
        return int(self._row_subject[row]), float(distances[row])

    def subject_similarities(self, probes: np.ndarray) -> Scores:
        """(n_probes, n_subjects) similarities: each probe against every subject's best image."""
        probes = np.atleast_2d(np.asarray(probes, dtype=np.float32))
        if len(self.subject_refs) == 0:
            return np.zeros((len(probes), 0), dtype=np.float32)
        # (subjects x dim) @ (dim x probes): the stored rows stream once through memory,
        # which is what a few probes against thousands of rows cost (2x faster than
        # probes @ matrix.T with small batches).
        products = (self._matrix @ probes.T).T
        if self.metric == "cosine":
            rows = np.minimum(products, 1.0)  # negative cosines kept: the cohort needs them
        else:
            sq = np.einsum("ij,ij->i", probes, probes)[:, None] + self._sq_norms[None, :]
            sq -= 2.0 * products
            rows = similarities_from_distances(np.sqrt(np.maximum(sq, 0.0)))
        if self._one_image_each:
            return rows.astype(np.float32, copy=False)
        return np.maximum.reduceat(rows, self._subject_starts, axis=1)

    def identify(self, probes: np.ndarray) -> list[Identification]:
        """The best subject for each probe, with its similarity, standout and score."""
        sims = self.subject_similarities(probes)
        if sims.shape[1] == 0:
            return [Identification(-1, 0.0, 0.0, 0.0) for _ in range(len(sims))]
        best = sims.argmax(axis=1)
        top = sims[np.arange(len(sims)), best].astype(np.float64)
        others = sims.shape[1] - 1
        # Mean and variance over the other subjects, from sums without the best one.
        total = sims.sum(axis=1, dtype=np.float64) - top
        squares = np.einsum("ij,ij->i", sims, sims, dtype=np.float64) - top * top
        c = self.calibration
        weight = others + c.cohort_weight
        mean = (total + c.cohort_weight * c.cohort_mean) / weight
        variance = (
            squares - 2 * mean * total + others * mean * mean
            + c.cohort_weight * (c.cohort_sd**2 + (c.cohort_mean - mean) ** 2)
        ) / weight
        standout = (top - mean) / np.sqrt(np.maximum(variance, 1e-12))
        scores = score_from_standout(standout, c, sims.shape[1])
        return [
            Identification(int(b), float(max(t, 0.0)), float(z), float(s))
            for b, t, z, s in zip(best, top, standout, scores, strict=True)
        ]
