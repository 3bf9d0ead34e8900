"""1:N identification in the NPL/NIST sense, on described images.

The protocol
------------
Identities are dealt into two halves (a seeded shuffle, dealt alternately within each
stratum of group labels, so both halves hold a similar mix). Each half takes a turn as
the *probe* side while the other half supplies the watchlist:

* the watchlist holds one image (the first with a usable face) of each identity of the
  other half: identities with further images first (they give mated searches), then
  identities with a single image, then external filler identities, truncated to the
  requested watchlist size;
* **mated searches**: every further image of an identity on the watchlist; a probe image
  with no detectable face is a search that found no one (a miss), as it is in a van;
* **non-mated searches**: every image of the probe half; its people are on no watchlist.
  An image with no detectable face makes no search (nothing would be compared), so it
  is counted but not searched.

Every identity is therefore non-mated in one turn and enrolled in the other, and no
image is searched twice at one watchlist size. A search is decided exactly as the engine
decides a track: ``WatchlistIndex.identify`` names the best entry and scores how far it
stands out from the rest of that watchlist (matcher.py), so the rates below hold for the
shipped decision rule at each watchlist size, not for a raw similarity. With the second
opinion (``evaluate --second-opinion``), a search's score is lifted as the engine lifts a
track's in doubt (``matcher.with_second_opinion``), whenever the second network puts the
same entry first nearby: the engine asks it only within the lift below its threshold,
and a score lifted outside that window decides the same at every threshold, so one
lifted score per search serves the whole sweep.

Rates at threshold t
--------------------
* TPIR: mated searches whose own identity is ranked first *and* scores >= t; FNIR = 1 -
  TPIR (misses include faces not detected).
* wrong alerts: mated searches where another identity is ranked first and scores >= t.
* FPIR: non-mated searches whose best entry scores >= t: a false alert.
* expected false alerts per 1,000 faces passing the camera = 1000 x FPIR (each face is
  one non-mated search against a watchlist of that size).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from openlfr.evaluation.errors import DatasetError
from openlfr.evaluation.stats import ALPHA, compare_groups, json_number, proportion_ci
from openlfr.recognition.matcher import Identification, WatchlistIndex, with_second_opinion
from openlfr.recognition.watchlist import EnrolledImage, Subject, Watchlist

#: Probes scored at once: bounds memory at SEARCH_BATCH x watchlist size scores.
SEARCH_BATCH = 1024
#: Fewer non-mated searches than this in a group: "no significant difference" is weak.
FEW_SEARCHES = 30


@dataclass(frozen=True)
class DescribedImage:
    """One dataset image after description: ``descriptor`` is None when no face was found."""

    name: str
    identity: str
    descriptor: np.ndarray | None
    groups: Mapping[str, str] = field(default_factory=dict)
    reference: np.ndarray | None = None
    """The second opinion's descriptor of the face (``evaluate --second-opinion``)."""


def _stack(vectors: Sequence[np.ndarray | None]) -> np.ndarray:
    """Rows of described images (callers filter out the None of images with no face)."""
    return np.stack([v for v in vectors if v is not None])


def split_identities(
    images: Sequence[DescribedImage], seed: int = 0
) -> tuple[list[str], list[str]]:
    """Deal identities into two halves, balanced within each stratum of group labels and
    of "has a mate" (at least two images), so both halves give similar searches."""
    per_identity: dict[str, list[DescribedImage]] = defaultdict(list)
    for image in images:
        per_identity[image.identity].append(image)
    names = sorted(per_identity)
    shuffled = np.random.default_rng(seed).permutation(len(names))
    rank = {name: int(r) for name, r in zip(names, shuffled, strict=True)}

    def stratum(name: str) -> tuple[Any, ...]:
        first = per_identity[name][0]
        mateable = len(per_identity[name]) >= 2
        return (tuple(sorted(first.groups.items())), not mateable)

    ordered = sorted(names, key=lambda n: (stratum(n), rank[n]))
    halves: tuple[list[str], list[str]] = ([], [])
    for position, name in enumerate(ordered):
        # Alternating across the whole ordered list keeps each stratum split to within one.
        halves[position % 2].append(name)
    return halves[0], halves[1]


@dataclass
class Searches:
    """Scores of every search at one watchlist size, both turns pooled."""

    watchlist_size: int
    mate_score: np.ndarray
    """Decision score of a mated probe whose own identity is ranked first; -1 when another
    entry is ranked first or no face was found."""
    best_other: np.ndarray
    """Decision score of a mated probe whose best entry is another identity (a wrong alert
    at thresholds up to it); -1 when its own is ranked first or no face was found."""
    mated_identity: list[str]
    mated_groups: dict[str, np.ndarray]
    nonmated_best: np.ndarray
    """Decision score of each non-mated probe's best entry on the whole watchlist."""
    nonmated_identity: list[str]
    nonmated_groups: dict[str, np.ndarray]
    nonmated_no_face: int = 0
    nonmated_no_face_groups: dict[str, dict[str, int]] = field(default_factory=dict)
    watchlists: list[list[str]] = field(default_factory=list)
    """The identities (and filler names) on each turn's watchlist."""
    nonmated_image: list[str] = field(default_factory=list)
    """The image of each non-mated search (in nonmated_best's order)."""
    nonmated_entry: list[str | None] = field(default_factory=list)
    """The enrolment image of the entry each non-mated search ranked first (None: a
    filler entry)."""

    @property
    def mated_no_face(self) -> int:
        # A searched probe always has a best entry, so it scores on one side or the other.
        return int(((self.mate_score < 0) & (self.best_other < 0)).sum())


@dataclass(frozen=True)
class WatchlistPlan:
    """Enrolment images of one half, in the order they fill a watchlist."""

    mateable: list[tuple[str, DescribedImage, list[DescribedImage]]]
    singles: list[tuple[str, DescribedImage]]

    @property
    def capacity(self) -> int:
        return len(self.mateable) + len(self.singles)


def plan_watchlist(images: Sequence[DescribedImage], half: Sequence[str]) -> WatchlistPlan:
    """For the identities of ``half``: the enrolment image (first with a face) and the
    images left as mated probes. Identities with no usable image cannot be enrolled."""
    per_identity: dict[str, list[DescribedImage]] = defaultdict(list)
    for image in images:
        per_identity[image.identity].append(image)
    mateable, singles = [], []
    for identity in half:
        own = per_identity[identity]
        enrol = next((i for i in own if i.descriptor is not None), None)
        if enrol is None:
            continue
        probes = [i for i in own if i is not enrol]
        if probes:
            mateable.append((identity, enrol, probes))
        else:
            singles.append((identity, enrol))
    return WatchlistPlan(mateable, singles)


def max_watchlist_size(
    images: Sequence[DescribedImage], halves: tuple[list[str], list[str]], filler: int = 0
) -> int:
    """The largest watchlist both turns can fill."""
    return min(plan_watchlist(images, h).capacity for h in halves) + filler


def run_searches(
    images: Sequence[DescribedImage],
    halves: tuple[list[str], list[str]],
    watchlist_size: int,
    *,
    group_columns: Sequence[str] = (),
    filler: Sequence[np.ndarray] = (),
    model_id: str,
    reference_model: str | None = None,
    filler_references: Sequence[np.ndarray | None] = (),
) -> Searches:
    """Run every mated and non-mated search at one watchlist size (both turns).

    ``model_id`` is the descriptor model's id: its metric decides how entries are
    compared (``watchlist.model_family``), so it must be the model that described them.
    With ``reference_model``, the images' (and ``filler_references``') second-opinion
    descriptors lift the scores as the engine does (module docstring).
    """
    mate_score: list[float] = []
    best_other: list[float] = []
    mated_identity: list[str] = []
    mated_groups: dict[str, list[str]] = {c: [] for c in group_columns}
    nonmated_best: list[float] = []
    nonmated_identity: list[str] = []
    nonmated_groups: dict[str, list[str]] = {c: [] for c in group_columns}
    no_face_groups: dict[str, dict[str, int]] = {c: defaultdict(int) for c in group_columns}
    nonmated_no_face = 0
    nonmated_image: list[str] = []
    nonmated_entry: list[str | None] = []
    watchlists = []
    for turn in (0, 1):
        probe_half, enrol_half = halves[turn], halves[1 - turn]
        plan = plan_watchlist(images, enrol_half)
        available = plan.capacity + len(filler)
        if watchlist_size > available:
            raise DatasetError(
                f"watchlist size {watchlist_size} is more than this dataset can fill: "
                f"each half of the identities must supply the watchlist for the other, and "
                f"one half has only {available} identities with a usable photo"
                + (f" (with {len(filler)} filler)" if filler else "")
                + "; use a smaller --watchlist-size or add identities (--filler)"
            )
        entries: list[tuple[str, np.ndarray, np.ndarray | None]] = []
        entry_images: list[str | None] = []
        mated_probes: list[tuple[int, DescribedImage]] = []
        for identity, enrol, probes in plan.mateable[:watchlist_size]:
            assert enrol.descriptor is not None
            mated_probes.extend((len(entries), p) for p in probes)
            entries.append((identity, enrol.descriptor, enrol.reference))
            entry_images.append(enrol.name)
        for identity, enrol in plan.singles[: watchlist_size - len(entries)]:
            assert enrol.descriptor is not None
            entries.append((identity, enrol.descriptor, enrol.reference))
            entry_images.append(enrol.name)
        references = list(filler_references) + [None] * (len(filler) - len(filler_references))
        for n, (vector, reference) in enumerate(
                zip(filler[: watchlist_size - len(entries)], references, strict=False)):
            entries.append((f"filler-{n:06d}", np.asarray(vector, dtype=np.float32), reference))
        watchlists.append([name for name, _, _ in entries])
        index = WatchlistIndex(Watchlist(
            descriptor_model=model_id,
            subjects=[Subject(name, [EnrolledImage(name, "", vector, reference)])
                      for name, vector, reference in entries],
            reference_model=reference_model,
        ))

        described = [(column, p) for column, p in mated_probes if p.descriptor is not None]
        by_probe: dict[int, tuple[float, float]] = {}
        for start in range(0, len(described), SEARCH_BATCH):
            batch = described[start:start + SEARCH_BATCH]
            found = _identify(index, [p for _, p in batch])
            for (column, probe), best in zip(batch, found, strict=True):
                # (own score, best other score): the own entry is ranked first, or not
                by_probe[id(probe)] = (
                    (best.score, -1.0) if best.subject_index == column else (-1.0, best.score)
                )
        for _, probe in mated_probes:
            score, other = by_probe.get(id(probe), (-1.0, -1.0))
            mate_score.append(score)
            best_other.append(other)
            mated_identity.append(probe.identity)
            for c in group_columns:
                mated_groups[c].append(probe.groups[c])

        probe_names = set(probe_half)
        non_mated = [i for i in images if i.identity in probe_names]
        searched = [i for i in non_mated if i.descriptor is not None]
        for image in non_mated:
            if image.descriptor is None:
                nonmated_no_face += 1
                for c in group_columns:
                    no_face_groups[c][image.groups[c]] += 1
        for start in range(0, len(searched), SEARCH_BATCH):
            found = _identify(index, searched[start:start + SEARCH_BATCH])
            nonmated_best.extend(best.score for best in found)
            nonmated_entry.extend(
                entry_images[best.subject_index] if best.subject_index < len(entry_images)
                else None for best in found)
        for image in searched:
            nonmated_image.append(image.name)
            nonmated_identity.append(image.identity)
            for c in group_columns:
                nonmated_groups[c].append(image.groups[c])
    return Searches(
        watchlist_size=watchlist_size,
        mate_score=np.asarray(mate_score, dtype=float),
        best_other=np.asarray(best_other, dtype=float),
        mated_identity=mated_identity,
        mated_groups={c: np.asarray(v, dtype=object) for c, v in mated_groups.items()},
        nonmated_best=np.asarray(nonmated_best, dtype=float),
        nonmated_identity=nonmated_identity,
        nonmated_groups={c: np.asarray(v, dtype=object) for c, v in nonmated_groups.items()},
        nonmated_no_face=nonmated_no_face,
        nonmated_no_face_groups={c: dict(v) for c, v in no_face_groups.items()},
        watchlists=watchlists,
        nonmated_image=nonmated_image,
        nonmated_entry=nonmated_entry,
    )


def _identify(index: WatchlistIndex, batch: Sequence[DescribedImage]) -> list[Identification]:
    """Each image's best entry and score; lifted by the second opinion where the index
    carries its descriptors and it agrees (module docstring)."""
    found = index.identify(_stack([p.descriptor for p in batch]))
    if not index.has_reference:
        return found
    return [best if p.reference is None
            else with_second_opinion(best, index.reference_nearest(p.reference))
            for p, best in zip(batch, found, strict=True)]


@dataclass(frozen=True)
class Counts:
    """Counts per threshold: the raw material of every rate."""

    thresholds: np.ndarray
    mated: int
    hits: np.ndarray
    wrong_alerts: np.ndarray
    """Mated searches where another identity scored >= t (an alert on the wrong person)."""
    nonmated: int
    false_alerts: np.ndarray


def _at_or_above(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many values are >= each threshold (one sort, then a binary search each)."""
    ordered = np.sort(values)
    return len(ordered) - np.searchsorted(ordered, thresholds, side="left")


def count_outcomes(
    mate_score: np.ndarray,
    best_other: np.ndarray,
    nonmated_best: np.ndarray,
    thresholds: Sequence[float],
) -> Counts:
    """Hits, wrong alerts and false alerts at each threshold."""
    t = np.asarray(thresholds, dtype=float)
    mate = np.asarray(mate_score, dtype=float)
    other = np.asarray(best_other, dtype=float)
    # Rank one means the own identity beats every other entry; a tie is not a clear hit.
    ranked_first = mate > other
    return Counts(
        thresholds=t,
        mated=len(mate),
        hits=_at_or_above(mate[ranked_first], t),
        wrong_alerts=_at_or_above(other, t),
        nonmated=len(nonmated_best),
        false_alerts=_at_or_above(np.asarray(nonmated_best, dtype=float), t),
    )


def rate_rows(counts: Counts, *, method: str = "clopper-pearson") -> list[dict[str, Any]]:
    """One row per threshold: TPIR, FNIR, FPIR with 95% intervals, false alerts per 1,000."""
    tp_low, tp_high = proportion_ci(counts.hits, counts.mated, method=method)
    fp_low, fp_high = proportion_ci(counts.false_alerts, counts.nonmated, method=method)
    rows = []
    for i, threshold in enumerate(counts.thresholds):
        tpir = counts.hits[i] / counts.mated if counts.mated else float("nan")
        fpir = counts.false_alerts[i] / counts.nonmated if counts.nonmated else float("nan")
        rows.append({
            "threshold": round(float(threshold), 6),
            "mated_searches": counts.mated,
            "hits": int(counts.hits[i]),
            "tpir": json_number(tpir),
            "tpir_ci": [json_number(tp_low[i]), json_number(tp_high[i])],
            "fnir": json_number(1.0 - tpir),
            "fnir_ci": [json_number(1.0 - tp_high[i]), json_number(1.0 - tp_low[i])],
            "mated_wrong_alerts": int(counts.wrong_alerts[i]),
            "nonmated_searches": counts.nonmated,
            "false_alerts": int(counts.false_alerts[i]),
            "fpir": json_number(fpir),
            "fpir_ci": [json_number(fp_low[i]), json_number(fp_high[i])],
            "false_alerts_per_1000": json_number(1000.0 * fpir),
            "false_alerts_per_1000_ci": [json_number(1000.0 * fp_low[i]),
                                         json_number(1000.0 * fp_high[i])],
        })
    return rows


def fair_threshold(thresholds: Sequence[float], significant: Sequence[bool]) -> float | None:
    """The lowest threshold from which upward no test is significant.

    Not simply the lowest threshold with no difference: at a very low threshold every
    search alerts in every group, and that equality means nothing.
    """
    fair = None
    for threshold, flagged in sorted(zip(thresholds, significant, strict=True), reverse=True):
        if flagged:
            break
        fair = float(threshold)
    return fair


def identification_result(
    searches: Searches,
    thresholds: Sequence[float],
    group_columns: Sequence[str],
    *,
    alpha: float = ALPHA,
    method: str = "clopper-pearson",
) -> dict[str, Any]:
    """Overall and per-group tables, group tests and fair thresholds at one watchlist size."""
    overall = count_outcomes(searches.mate_score, searches.best_other,
                             searches.nonmated_best, thresholds)
    result: dict[str, Any] = {
        "watchlist_size": searches.watchlist_size,
        "mated_searches": overall.mated,
        "mated_searches_no_face": searches.mated_no_face,
        "nonmated_searches": overall.nonmated,
        "nonmated_images_no_face": searches.nonmated_no_face,
        "overall": rate_rows(overall, method=method),
        "groups": {},
        "group_tests": {},
        "fair_threshold": {},
        "warnings": [],
    }
    for column in group_columns:
        labels = sorted(set(searches.mated_groups[column]) | set(searches.nonmated_groups[column])
                        | set(searches.nonmated_no_face_groups.get(column, {})))
        per_label: dict[str, Counts] = {}
        table: dict[str, Any] = {}
        for label in labels:
            m = searches.mated_groups[column] == label
            n = searches.nonmated_groups[column] == label
            counts = count_outcomes(searches.mate_score[m], searches.best_other[m],
                                    searches.nonmated_best[n], thresholds)
            per_label[label] = counts
            table[label] = {
                "mated_searches": counts.mated,
                "nonmated_searches": counts.nonmated,
                "rows": rate_rows(counts, method=method),
            }
            where = f"watchlist {searches.watchlist_size}, {column}={label}"
            if counts.nonmated == 0:
                result["warnings"].append(f"{where}: no non-mated searches, so no FPIR")
            elif counts.nonmated < FEW_SEARCHES:
                result["warnings"].append(
                    f"{where}: only {counts.nonmated} non-mated searches; a real difference in "
                    "false alerts could go undetected"
                )
            if counts.mated == 0:
                result["warnings"].append(f"{where}: no mated searches, so no TPIR")
        tests: list[dict[str, Any]] = []
        flags: list[bool] = []
        for i, threshold in enumerate(thresholds):
            fp = compare_groups({g: int(c.false_alerts[i]) for g, c in per_label.items()},
                                {g: c.nonmated for g, c in per_label.items()}, alpha=alpha)
            fn = compare_groups({g: int(c.mated - c.hits[i]) for g, c in per_label.items()},
                                {g: c.mated for g, c in per_label.items()}, alpha=alpha)
            tests.append({"threshold": round(float(threshold), 6),
                          "fpir": fp.to_json(), "fnir": fn.to_json()})
            flags.append(fp.significant)
        comparable = [g for g, c in per_label.items() if c.nonmated > 0]
        result["groups"][column] = table
        result["group_tests"][column] = tests
        if len(comparable) < 2:
            result["fair_threshold"][column] = None
            result["warnings"].append(
                f"watchlist {searches.watchlist_size}, {column}: fewer than two groups have "
                "non-mated searches, so false alerts cannot be compared between groups"
            )
        else:
            result["fair_threshold"][column] = fair_threshold(thresholds, flags)
            if result["fair_threshold"][column] is None:
                result["warnings"].append(
                    f"watchlist {searches.watchlist_size}, {column}: false alerts differ "
                    f"significantly between groups even at the highest threshold swept "
                    f"({max(thresholds):.2f}); sweep higher thresholds"
                )
    return result
