"""One evaluation end to end: describe the images, search, count, test, summarise.

``evaluate`` runs the engine over a dataset; ``evaluate_descriptions`` does everything
after description, so it can be fed synthetic descriptors with known error rates.
The result is a plain dict, ready for results.json (see report.py for the files).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import openlfr
from openlfr.evaluation.dataset import Dataset, PairsFile
from openlfr.evaluation.defaults import DEFAULT_ALPHA, DEFAULT_TARGET_FPIR, DEFAULT_THRESHOLDS
from openlfr.evaluation.describe import ImageDescription, describe_images
from openlfr.evaluation.duplicates import (
    CHECK_FROM_SCORE,
    SAME_PERSON_CUTS,
    AlertPair,
    found_sentence,
    judge_pairs,
    rule,
)
from openlfr.evaluation.errors import DatasetError
from openlfr.evaluation.identification import (
    DescribedImage,
    Searches,
    identification_result,
    max_watchlist_size,
    run_searches,
    split_identities,
)
from openlfr.evaluation.verification import (
    all_pairs_accuracy,
    kfold_accuracy,
    verification_summary,
)
from openlfr.recognition import DEFAULT_THRESHOLD
from openlfr.recognition.analyzer import FaceAnalyzer, reference_model_id
from openlfr.recognition.errors import RecognitionError
from openlfr.recognition.matcher import (
    SECOND_OPINION_LIFT,
    SECOND_OPINION_WITHIN,
    pair_similarities,
)
from openlfr.recognition.watchlist import model_family

RESULTS_FORMAT = "openlfr-evaluation"
RESULTS_VERSION = 1
#: What a pair's similarity is, by descriptor metric (verification, and the score's input).
SIMILARITY = {
    "cosine": "cosine of the two unit descriptors",
    "l2": "1 - L2 distance between the descriptors, clipped to 0..1",
}
MAX_THRESHOLDS = 200


def parse_thresholds(text: str) -> list[float]:
    """'a:b:step' (both ends included) or a comma list '0.4,0.5,0.6' -> sorted thresholds."""
    text = text.strip()
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            if len(parts) != 3:
                raise ValueError
            start, stop, step = parts
            if any(math.isnan(part) for part in parts):
                raise ValueError
            if step <= 0 or stop < start:
                raise DatasetError(
                    f"thresholds {text!r}: need start <= stop and a positive step, "
                    "e.g. 0.30:0.80:0.02"
                )
            span = (stop - start) / step + 1e-9
            if not span < MAX_THRESHOLDS:  # counted before a single one is built (inf too)
                raise DatasetError(
                    f"thresholds {text!r}: more than {MAX_THRESHOLDS} thresholds; at most "
                    f"{MAX_THRESHOLDS} (use a larger step)"
                )
            count = math.floor(span) + 1
            values = [round(start + i * step, 6) for i in range(count)]
        else:
            if text.count(",") >= MAX_THRESHOLDS:
                raise DatasetError(
                    f"thresholds: {text.count(',') + 1} thresholds; at most {MAX_THRESHOLDS}"
                )
            values = [float(p) for p in text.split(",") if p.strip()]
    except ValueError as exc:
        raise DatasetError(
            f"thresholds {text!r}: write start:stop:step (e.g. 0.30:0.80:0.02) or a comma list"
        ) from exc
    if not values:
        raise DatasetError("no thresholds given")
    if any(not 0.0 <= v <= 1.0 for v in values):
        raise DatasetError(f"thresholds {text!r}: scores lie in 0..1, so must thresholds")
    if len(values) > MAX_THRESHOLDS:
        raise DatasetError(
            f"thresholds {text!r}: {len(values)} thresholds; at most {MAX_THRESHOLDS}"
        )
    return sorted(set(values))


@dataclass
class EvaluationOptions:
    """How to run an evaluation (the CLI's options)."""

    thresholds: list[float] = field(default_factory=lambda: parse_thresholds(DEFAULT_THRESHOLDS))
    watchlist_sizes: list[int] = field(default_factory=list)
    """Empty: the largest watchlist the dataset can fill."""
    seed: int = 0
    alpha: float = DEFAULT_ALPHA
    target_fpir: float = DEFAULT_TARGET_FPIR
    """The recommended threshold keeps the observed FPIR at or below this."""
    ci_method: str = "clopper-pearson"


def _described_images(
    dataset: Dataset, descriptions: dict[Path, ImageDescription]
) -> list[DescribedImage]:
    return [
        DescribedImage(
            name=str(sample.path),
            identity=sample.identity,
            descriptor=descriptions[sample.path].descriptor,
            groups=dict(sample.groups),
            reference=descriptions[sample.path].reference,
        )
        for sample in dataset.samples
        if not descriptions[sample.path].unreadable
    ]


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def dataset_summary(
    dataset: Dataset, descriptions: dict[Path, ImageDescription]
) -> tuple[dict[str, Any], list[str]]:
    """Counts of what was found in the dataset, and warnings about it."""
    root = dataset.images_root
    warnings: list[str] = []
    # Only the dataset's own images: the descriptions may also hold pairs and filler.
    own = [descriptions[p] for p in dict.fromkeys(s.path for s in dataset.samples)]
    unreadable = [
        {"file": _relative(s.path, root), "problem": descriptions[s.path].problem}
        for s in dataset.samples if descriptions[s.path].unreadable
    ] + [{"file": _relative(f.path, root), "problem": f.problem} for f in dataset.skipped]
    no_face = [_relative(s.path, root) for s in dataset.samples
               if not descriptions[s.path].unreadable and descriptions[s.path].descriptor is None]
    usable_per_identity: Counter[str] = Counter(
        s.identity for s in dataset.samples if descriptions[s.path].descriptor is not None)
    images_per_identity: Counter[str] = Counter(s.identity for s in dataset.samples)
    groups: dict[str, dict[str, dict[str, int]]] = {}
    for column in dataset.group_columns:
        table: dict[str, dict[str, int]] = defaultdict(lambda: {"identities": 0, "images": 0,
                                                                "usable_images": 0})
        seen: set[str] = set()
        for sample in dataset.samples:
            row = table[sample.groups[column]]
            row["images"] += 1
            row["usable_images"] += descriptions[sample.path].descriptor is not None
            if sample.identity not in seen:
                seen.add(sample.identity)
                row["identities"] += 1
        groups[column] = {label: table[label] for label in sorted(table)}
        for label, row in groups[column].items():
            if row["usable_images"] == 0:
                warnings.append(
                    f"{column}={label}: none of its {row['images']} images has a usable face; "
                    "this group cannot be evaluated"
                )
    summary = {
        "path": str(dataset.root),
        "kind": dataset.kind,
        "identities": len(images_per_identity),
        "images_listed": len(dataset.samples) + len(dataset.skipped),
        "images_described": sum(d.descriptor is not None for d in own),
        "images_unreadable": len(unreadable),
        "unreadable": unreadable,
        "images_no_face": len(no_face),
        "no_face": no_face,
        "images_several_faces": sum(d.faces > 1 for d in own),
        "identities_with_one_usable_image": sum(1 for n in usable_per_identity.values() if n == 1),
        "identities_with_no_usable_image": sum(
            1 for i in images_per_identity if usable_per_identity[i] == 0),
        "group_columns": list(dataset.group_columns),
        "groups": groups,
    }
    if unreadable:
        warnings.append(f"{len(unreadable)} files could not be read and were skipped")
    return summary, warnings


def _recommended_threshold(
    rows: Sequence[dict[str, Any]], fair: float | None, target_fpir: float
) -> tuple[float | None, bool]:
    """Lowest threshold that is fair (when groups are known) and keeps the observed FPIR
    at or below the target; and whether the FPIR's upper 95% bound also meets it."""
    for row in rows:
        if fair is not None and row["threshold"] < fair:
            continue
        if row["fpir"] is not None and row["fpir"] <= target_fpir:
            upper = row["fpir_ci"][1]
            return row["threshold"], upper is not None and upper <= target_fpir
    return None, False


def evaluate_descriptions(
    dataset: Dataset,
    descriptions: dict[Path, ImageDescription],
    options: EvaluationOptions,
    *,
    model_id: str,
    pairs: PairsFile | None = None,
    pair_descriptions: dict[Path, ImageDescription] | None = None,
    filler: Sequence[np.ndarray] = (),
    reference_model: str | None = None,
    filler_references: Sequence[np.ndarray | None] = (),
    judge: Judge | None = None,
) -> dict[str, Any]:
    """Everything after description: searches, rates, tests, verification, summary.

    ``model_id`` names the descriptor model (its family gives the metric); an id this
    openlfr does not know is refused (WatchlistError) before anything is searched. With
    ``reference_model`` the searches decide with the second opinion (identification.py).
    ``judge`` is asked which non-mated alerts of the largest watchlist are probably one
    person under two identities (duplicates.py); without it that check is not made.
    """
    metric, _ = model_family(model_id)
    summary, warnings = dataset_summary(dataset, descriptions)
    images = _described_images(dataset, descriptions)
    if not any(i.descriptor is not None for i in images):
        raise DatasetError(
            f"{dataset.root}: no image has a usable face ({summary['images_no_face']} with no "
            f"face, {summary['images_unreadable']} unreadable); use frontal photos"
        )
    usable: Counter[str] = Counter(i.identity for i in images if i.descriptor is not None)
    listed: Counter[str] = Counter(i.identity for i in images)
    if not any(usable[name] >= 1 and listed[name] >= 2 for name in listed):
        raise DatasetError(
            f"{dataset.root}: every identity has a single image, so there is no mated search "
            "(a second photo of someone on the watchlist); 1:N identification needs at least "
            "two photos of some identities"
        )
    halves = split_identities(images, options.seed)
    largest = max_watchlist_size(images, halves, len(filler))
    if largest < 1:
        raise DatasetError(
            f"{dataset.root}: {len(listed)} identities are too few to split into a watchlist "
            "half and a probe half; add identities"
        )
    sizes = sorted(set(options.watchlist_sizes)) or [largest]
    too_big = [s for s in sizes if s > largest]
    if too_big:
        raise DatasetError(
            f"--watchlist-size {too_big[0]}: this dataset can fill watchlists of at most "
            f"{largest} (each half of its {len(listed)} identities enrols the other half"
            + (f", plus {len(filler)} filler" if filler else "")
            + "); use a smaller size or add identities with --filler"
        )
    columns = list(dataset.group_columns)
    identification = []
    searches = None
    for size in sizes:
        searches = run_searches(images, halves, size, group_columns=columns, filler=filler,
                                model_id=model_id, reference_model=reference_model,
                                filler_references=filler_references)
        if len(searches.mate_score) == 0 or len(searches.nonmated_best) == 0:
            kind = "mated" if len(searches.mate_score) == 0 else "non-mated"
            raise DatasetError(
                f"watchlist size {size}: no {kind} searches; add identities with two or more "
                "photos"
            )
        result = identification_result(searches, options.thresholds, columns,
                                       alpha=options.alpha, method=options.ci_method)
        warnings.extend(result["warnings"])
        identification.append(result)

    fair: float | None = None
    if columns:
        per = [r["fair_threshold"][c] for r in identification for c in columns]
        known = [f for f in per if f is not None]
        fair = max(known) if len(known) == len(per) else None
    else:
        warnings.append(
            "no group labels: false alerts were not compared between groups, so no fair "
            "threshold is reported; give a manifest with group columns (e.g. sex, age_band)"
        )
    strictest = identification[-1]  # the largest watchlist has the most false alerts
    recommended, confident = _recommended_threshold(
        strictest["overall"], fair, options.target_fpir)
    if recommended is None:
        warnings.append(
            f"no threshold swept keeps FPIR at or below {options.target_fpir:g}"
            + (f" at or above the fair threshold {fair:.2f}" if fair is not None else "")
            + "; sweep higher thresholds"
        )
    elif not confident and 0 < options.target_fpir < 1:
        row = next(r for r in strictest["overall"] if r["threshold"] == recommended)
        # With no false alert in n searches, the exact 95% upper bound is 1 - 0.025^(1/n).
        needed = math.ceil(math.log(0.025) / math.log(1 - options.target_fpir))
        warnings.append(
            f"at the recommended threshold {recommended:.2f} the observed FPIR is "
            f"{row['fpir']:g} but its 95% upper bound is {row['fpir_ci'][1]:.3g}, above the "
            f"target {options.target_fpir:g}: showing FPIR <= {options.target_fpir:g} takes "
            f"about {needed:,} non-mated searches without a false alert "
            f"(this run had {strictest['nonmated_searches']:,})"
        )

    results: dict[str, Any] = {
        "format": RESULTS_FORMAT,
        "version": RESULTS_VERSION,
        "openlfr_version": openlfr.__version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "engine": {
            "model_id": model_id,
            "score": "the engine's decision score, in 0..1: how far the best watchlist "
                     "entry's similarity stands out from the other entries' (normalised "
                     "against that watchlist, see recognition/matcher.py), so it depends on "
                     "the watchlist size; alert when score >= threshold",
            "similarity": SIMILARITY[metric],
            "default_threshold": DEFAULT_THRESHOLD,
            "second_opinion": None if reference_model is None else {
                "model_id": reference_model,
                "rule": f"score + {SECOND_OPINION_LIFT} where this network puts the same "
                        f"entry first within L2 {SECOND_OPINION_WITHIN} (as the engine's "
                        "--second-opinion decides a track in doubt)",
            },
        },
        "dataset": summary,
        "protocol": {
            "kind": "1:N identification, two-fold identity split",
            "seed": options.seed,
            "halves": [len(halves[0]), len(halves[1])],
            "largest_watchlist_size": largest,
            "filler_identities": len(filler),
            "confidence_level": 0.95,
            "interval_method": options.ci_method,
            "group_test": "pairwise Fisher exact, Holm-adjusted; significant when p < alpha",
            "alpha": options.alpha,
            "description": (
                "Identities are split in two; each half in turn is searched against a "
                "watchlist of one image per identity of the other half (identities with "
                "further photos first, then single-photo identities, then filler). Mated "
                "searches: the further photos of enrolled identities (no face found = a "
                "miss). Non-mated searches: every photo of the other half (no face found = "
                "no search)."
            ),
        },
        "thresholds": [round(t, 6) for t in options.thresholds],
        "watchlist_sizes": sizes,
        "identification": identification,
        "fair_threshold": fair,
        "fair_threshold_basis": (
            "lowest swept threshold from which upward no group's FPIR differs significantly "
            "from another's, at every watchlist size and for every group column"
        ),
        "target_fpir": options.target_fpir,
        "recommended_threshold": recommended,
        "recommended_threshold_fpir_upper_bound_meets_target": confident,
        "verification": None,
        "warnings": warnings,
    }
    if judge is not None and searches is not None:
        results["probable_duplicates"] = _probable_duplicates(
            searches, max(min(options.thresholds), CHECK_FROM_SCORE), judge,
            dataset.images_root, warnings)
    if pairs is not None:
        results["verification"] = verification_result(pairs, pair_descriptions or descriptions,
                                                      dataset.images_root, metric)
    return results


Judge = Callable[[Sequence[AlertPair]], tuple[list[dict[str, Any]], list[str], list[str]]]
"""Given non-mated alerts: (the pairs judged one person, the networks that judged, the
networks that could not, each with why)."""


def _probable_duplicates(searches: Searches, lowest: float, judge: Judge, root: Path,
                         warnings: list[str]) -> dict[str, Any]:
    """The non-mated alerts at ``lowest`` and above (the largest watchlist) that the
    judges call one person filed under two identities (duplicates.py); a warning when
    there are any. The rates are left as they are."""
    alerts = [(probe, entry, float(score)) for probe, entry, score
              in zip(searches.nonmated_image, searches.nonmated_entry, searches.nonmated_best,
                     strict=True) if score >= lowest]
    checked = [AlertPair(probe, entry, score) for probe, entry, score in alerts
               if entry is not None]  # an alert naming a --filler entry has no photo here
    found, judges, unavailable = judge(checked) if checked else ([], [], [])
    for pair in found:
        pair["probe"] = _relative(Path(str(pair["probe"])), root)
        pair["entry"] = _relative(Path(str(pair["entry"])), root)
    at_default = sum(1 for a in checked if a.score >= DEFAULT_THRESHOLD)
    report = {
        "rule": rule(),
        "counted_in_fpir": True,
        "watchlist_size": searches.watchlist_size,
        "threshold_from": lowest,
        "alerts_checked": len(checked),
        "alerts_naming_filler": len(alerts) - len(checked),
        "alerts_checked_at_default_threshold": at_default,
        "judges": judges,
        "judges_unavailable": unavailable,
        "found": len(found),
        "found_at_default_threshold": sum(
            1 for p in found if p["score"] >= DEFAULT_THRESHOLD),
        "pairs": found,
    }
    if found:
        warnings.append(
            found_sentence(report) + ": if they are one person filed under two identities, "
            "the FPIR above counts correct identifications as false alerts, and the groups "
            "the dataset repeats most look stopped most; merge those identities and run "
            "again (the pairs are in results.json, probable_duplicates)")
    if unavailable:
        warnings.append("the check for one person under two identities ran without "
                        + "; ".join(unavailable))
    return report



def verification_result(
    pairs: PairsFile, descriptions: dict[Path, ImageDescription], root: Path, metric: str
) -> dict[str, Any]:
    """10-fold (LFW) verification accuracy over the pairs whose images both have a face,
    scored by the similarity of ``metric`` (not the 1:N decision score: no watchlist)."""
    usable, skipped = [], []
    for pair in pairs.pairs:
        a, b = descriptions.get(pair.first), descriptions.get(pair.second)
        if a is None or b is None or a.descriptor is None or b.descriptor is None:
            bad = pair.first if a is None or a.descriptor is None else pair.second
            reason = "not described" if descriptions.get(bad) is None else (
                descriptions[bad].problem or "no face found")
            skipped.append({"line": pair.line, "file": _relative(bad, root), "problem": reason})
        else:
            usable.append((pair, a.descriptor, b.descriptor))
    folds_present = {p.fold for p, _, _ in usable}
    if len(folds_present) < 2 or not any(p.same for p, _, _ in usable) or all(
            p.same for p, _, _ in usable):
        raise DatasetError(
            f"pairs file: only {len(usable)} of {len(pairs.pairs)} pairs have a face in both "
            "images; too few (or one kind only) for k-fold verification"
        )
    scores = pair_similarities(np.stack([a for _, a, _ in usable]),
                               np.stack([b for _, _, b in usable]), metric)
    same = np.array([p.same for p, _, _ in usable])
    folds = [p.fold for p, _, _ in usable]
    fold_results = kfold_accuracy(scores, same, folds)
    summary = verification_summary(fold_results)
    summary.update(all_pairs_accuracy(fold_results, Counter(p.fold for p in pairs.pairs)))
    summary.update({
        "protocol": f"{pairs.folds}-fold (LFW): threshold chosen on the other folds",
        "score": f"similarity: {SIMILARITY[metric]}",
        "fold_source": pairs.fold_source,
        "pairs": len(pairs.pairs),
        "pairs_used": len(usable),
        "same_pairs": int(same.sum()),
        "different_pairs": int((~same).sum()),
        "pairs_skipped": len(skipped),
        "skipped": skipped,
    })
    return summary


def evaluate(
    dataset: Dataset,
    analyzer: FaceAnalyzer,
    options: EvaluationOptions,
    *,
    pairs: PairsFile | None = None,
    filler: Dataset | None = None,
    workers: int = 2,
    on_image: Callable[[Path, ImageDescription], None] | None = None,
    cache: dict[Path, ImageDescription] | None = None,
    on_cluster: bool = False,
    second_opinion: bool = False,
    on_check: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Any], dict[Path, ImageDescription]]:
    """Describe every image (dataset, pairs, filler) once (``on_cluster``: on the Ray
    cluster this process joined), then evaluate; with ``second_opinion``, deciding as the
    engine's ``--second-opinion`` does (identification.py). ``on_check(alerts, photos)``
    is told before the non-mated alerts' photos are described by the other networks
    (duplicates.py).

    Returns the results and the descriptions (for an optional cache file).
    """
    paths = [s.path for s in dataset.samples]
    if pairs is not None:
        paths += [p for pair in pairs.pairs for p in (pair.first, pair.second)]
    if filler is not None:
        paths += [s.path for s in filler.samples]
    descriptions = describe_images(paths, analyzer, workers=workers, on_image=on_image,
                                   cache=cache, on_cluster=on_cluster,
                                   second_opinion=second_opinion)
    filler_vectors: list[np.ndarray] = []
    filler_references: list[np.ndarray | None] = []
    if filler is not None:
        # One entry per filler identity: its first image with a face.
        taken: set[str] = set()
        for sample in filler.samples:
            d = descriptions[sample.path]
            if sample.identity not in taken and d.descriptor is not None:
                taken.add(sample.identity)
                filler_vectors.append(d.descriptor)
                filler_references.append(d.reference)
        overlap = set(filler.identities) & set(dataset.identities)
        if overlap:
            raise DatasetError(
                f"filler identities also in the dataset: {', '.join(sorted(overlap)[:5])}; "
                "filler must be people who are never searched for"
            )
    def judge(alerts: Sequence[AlertPair]
              ) -> tuple[list[dict[str, Any]], list[str], list[str]]:
        photos = sorted({Path(p) for a in alerts for p in (a.probe, a.entry)})
        if on_check is not None:
            on_check(len(alerts), len(photos))
        audited = analyzer.backends.descriptor_name
        described = {audited: {str(p): descriptions[p].descriptor for p in photos}}
        unavailable = []
        for network in SAME_PERSON_CUTS:
            if network in described:
                continue
            try:
                other = FaceAnalyzer(backend=analyzer.backends.name, descriptor=network)
            except RecognitionError as exc:
                unavailable.append(f"{network} ({exc})")
                continue
            found = describe_images(photos, other, workers=workers, on_cluster=on_cluster)
            described[network] = {str(p): found[p].descriptor for p in photos}
        return judge_pairs(alerts, described), list(described), unavailable

    results = evaluate_descriptions(
        dataset, descriptions, options, model_id=analyzer.model_id, pairs=pairs,
        filler=filler_vectors, filler_references=filler_references,
        reference_model=reference_model_id() if second_opinion else None, judge=judge)
    results["engine"]["backend"] = analyzer.backends.name
    if filler is not None:
        results["dataset"]["filler"] = {"path": str(filler.root),
                                        "identities_used": len(filler_vectors)}
    return results, descriptions
