"""One person filed under two identities: the audit lists such non-mated alerts (two of
three networks call the photos one person) and leaves its rates as they are."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from openlfr.evaluation import EvaluationOptions, evaluate_descriptions
from openlfr.evaluation.dataset import Dataset, Sample
from openlfr.evaluation.describe import ImageDescription
from openlfr.evaluation.duplicates import (
    CHECK_FROM_SCORE,
    SAME_PERSON_CUTS,
    AlertPair,
    judge_pairs,
    same_person,
)
from openlfr.evaluation.identification import DescribedImage, split_identities
from openlfr.evaluation.report import render_html

from .conftest import DIM, MODEL_ID, SAMPLE_IDENTITIES


def unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def test_each_network_calls_one_person_only_past_its_strict_cut() -> None:
    a = unit(np.array([1.0, 0.0]))
    agrees, cosine = same_person("w600k", a, unit(np.array([1.0, 0.9])))
    assert agrees is True and cosine == pytest.approx(0.743, abs=1e-3)
    assert same_person("mobilefacenet", a, unit(np.array([1.0, 1.8])))[0] is False  # cos 0.49
    assert same_person("dlib", np.zeros(128), np.full(128, 0.04))[0] is True  # L2 0.45
    assert same_person("dlib", np.zeros(128), np.full(128, 0.05))[0] is False  # L2 0.57
    assert set(SAME_PERSON_CUTS) == {"w600k", "mobilefacenet", "dlib"}


def test_two_networks_must_agree_and_one_without_a_face_does_not_vote() -> None:
    same, other = unit(np.array([1.0, 0.1])), unit(np.array([0.1, 1.0]))
    near, far = np.zeros(128), np.full(128, 0.1)  # dlib: L2 0 and 1.13 from `near`
    descriptors: dict[str, dict[str, np.ndarray | None]] = {
        "w600k": {"p1": same, "e1": same, "p2": same, "e2": same, "p3": same, "e3": same,
                  "p4": same, "e4": same},
        "dlib": {"p1": near, "e1": near, "p2": near, "e2": far, "p3": near, "e3": None,
                 "p4": None, "e4": near},
        "mobilefacenet": {"p1": other, "e1": same, "p2": same, "e2": other, "p3": same,
                          "e3": same, "p4": same, "e4": other},
    }
    pairs = [AlertPair("p1", "e1", 0.6), AlertPair("p2", "e2", 0.9),
             AlertPair("p3", "e3", 0.7), AlertPair("p4", "e4", 0.8)]
    found = judge_pairs(pairs, descriptors)
    # p1: w600k and dlib agree; p2: w600k alone; p3: w600k and mobilefacenet (dlib found no
    # face in e3); p4: w600k alone (dlib has no p4, mobilefacenet disagrees).
    assert [(f["probe"], f["votes"]) for f in found] == [("p3", 2), ("p1", 2)]  # best first
    assert set(found[0]["measures"]) == {"w600k", "mobilefacenet"}


def _dataset() -> tuple[Dataset, dict[Path, ImageDescription]]:
    """40 people with two photos and 40 with one, random descriptors; 'twin_a' and
    'twin_b' are one person's two photos filed as two identities."""
    rng = np.random.default_rng(5)
    samples, descriptions = [], {}
    twin = unit(rng.normal(size=DIM))
    people = {f"p{n:02d}": 2 for n in range(40)} | {f"s{n:02d}": 1 for n in range(40)}
    for identity, count in {**people, "twin_a": 1, "twin_b": 1}.items():
        for k in range(count):
            path = Path(f"/d/{identity}/{k}.jpg")
            samples.append(Sample(path, identity))
            vector = twin if identity.startswith("twin") else unit(rng.normal(size=DIM))
            noise = unit(rng.normal(size=DIM))
            descriptions[path] = ImageDescription(unit(vector + 0.3 * noise), "", 1, "x")
    return Dataset(Path("/d"), "folders", samples, []), descriptions


def _seed_splitting(dataset: Dataset, first: str, second: str) -> int:
    """A seed whose split puts identities `first` and `second` in different halves (each
    is then searched against a watchlist holding the other)."""
    images = [DescribedImage(str(s.path), s.identity, None) for s in dataset.samples]
    for seed in range(50):
        halves = split_identities(images, seed)
        if (first in halves[0]) != (second in halves[0]):
            return seed
    raise AssertionError(f"no seed puts {first} and {second} in different halves")


def test_an_audit_lists_one_person_under_two_names_and_leaves_the_rates_alone() -> None:
    dataset, descriptions = _dataset()
    options = EvaluationOptions(thresholds=[0.3, 0.5, 0.7],
                                seed=_seed_splitting(dataset, "twin_a", "twin_b"))
    handed: list[AlertPair] = []

    def judge(alerts: Sequence[AlertPair]) -> tuple[list[dict[str, Any]], list[str], list[str]]:
        handed.extend(alerts)
        by_photo = {str(path): d.descriptor for path, d in descriptions.items()}
        # The synthetic descriptors stand in for two networks; dlib could not be loaded.
        found = judge_pairs(alerts, {"w600k": by_photo, "mobilefacenet": by_photo})
        return found, ["w600k", "mobilefacenet"], ["dlib (not installed)"]

    plain = evaluate_descriptions(dataset, descriptions, options, model_id=MODEL_ID)
    checked = evaluate_descriptions(dataset, descriptions, options, model_id=MODEL_ID,
                                    judge=judge)

    assert "probable_duplicates" not in plain
    report = checked["probable_duplicates"]
    assert {(p["probe"], p["entry"]) for p in report["pairs"]} == {
        ("twin_a/0.jpg", "twin_b/0.jpg"), ("twin_b/0.jpg", "twin_a/0.jpg")}
    assert report["counted_in_fpir"] is True and report["found"] == 2
    assert report["judges_unavailable"] == ["dlib (not installed)"]
    # Only alerts at the lowest threshold swept and up were handed over, all of them.
    assert handed and all(a.score >= 0.3 for a in handed)
    assert len(handed) == report["alerts_checked"]
    # The rates are the same with and without the check: the owner decides.
    assert checked["identification"] == plain["identification"]
    warning = next(w for w in checked["warnings"] if "merge those identities" in w)
    assert warning.startswith(f"2 of the {report['alerts_checked']} non-mated alerts")
    assert any("ran without dlib" in w for w in checked["warnings"])
    # The report lists them for the person who has to merge them.
    page = render_html(checked)
    assert "Probably one person under two identities" in page
    assert "<td>twin_a/0.jpg</td><td>twin_b/0.jpg</td>" in page
    assert "Probably one person" not in render_html(plain)


@pytest.mark.slow
def test_the_real_networks_find_one_person_filed_twice(tmp_path: Path) -> None:
    """The bundled faces, biden's two photos filed as two people: the real audit, its three
    networks, lists that pair and no pair of two different people."""
    from openlfr.evaluation import evaluate
    from openlfr.evaluation.dataset import load_dataset
    from openlfr.recognition import FaceAnalyzer

    rows = ["file,identity"]
    for folder in sorted(SAMPLE_IDENTITIES.iterdir()):
        for photo in sorted(folder.iterdir()):
            identity = folder.name
            if identity == "biden":
                identity = "biden" if photo.name == "biden.jpg" else "joe_biden"
            rows.append(f"{photo},{identity}")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    dataset = load_dataset(manifest)
    seed = _seed_splitting(dataset, "biden", "joe_biden")
    results, _ = evaluate(dataset, FaceAnalyzer(), EvaluationOptions(seed=seed), workers=0)
    report = results["probable_duplicates"]
    assert report["judges"] == ["w600k", "dlib", "mobilefacenet"]
    assert report["judges_unavailable"] == []
    named = {frozenset(Path(p).parent.name for p in (pair["probe"], pair["entry"]))
             for pair in report["pairs"]}
    assert named == {frozenset({"biden"})}, report["pairs"]
    assert all(pair["votes"] >= 2 for pair in report["pairs"])


def test_a_sweep_from_zero_checks_only_alerts_that_look_like_someone() -> None:
    dataset, descriptions = _dataset()
    options = EvaluationOptions(thresholds=[0.0, 0.5],
                                seed=_seed_splitting(dataset, "twin_a", "twin_b"))
    handed: list[AlertPair] = []

    def judge(alerts: Sequence[AlertPair]) -> tuple[list[dict[str, Any]], list[str], list[str]]:
        handed.extend(alerts)
        by_photo = {str(path): d.descriptor for path, d in descriptions.items()}
        return judge_pairs(alerts, {"w600k": by_photo, "mobilefacenet": by_photo}), [], []

    results = evaluate_descriptions(dataset, descriptions, options, model_id=MODEL_ID,
                                    judge=judge)
    report = results["probable_duplicates"]
    searched = results["identification"][-1]["nonmated_searches"]
    assert report["threshold_from"] == CHECK_FROM_SCORE
    assert 2 <= len(handed) < searched  # not every search, as a threshold of 0 would make
    assert all(a.score >= CHECK_FROM_SCORE for a in handed)
    assert report["found"] == 2
