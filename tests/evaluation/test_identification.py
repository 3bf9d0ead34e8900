"""The 1:N protocol and its tables on synthetic descriptors with known error rates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from openlfr.evaluation import DatasetError, EvaluationOptions, evaluate_descriptions
from openlfr.evaluation.dataset import Dataset, Sample
from openlfr.evaluation.describe import ImageDescription
from openlfr.evaluation.identification import (
    DescribedImage,
    count_outcomes,
    run_searches,
    split_identities,
)

from .conftest import GroupSpec, Synthetic, make_synthetic

Unequal = tuple[Synthetic, dict[str, Any]]
THRESHOLDS = [round(0.30 + 0.02 * i, 2) for i in range(16)]  # 0.30 .. 0.60
MID = 0.40  # inside (0.30, 0.48]: the known rates hold here
A = GroupSpec("A", identities=60, lookalike=0.04, hard=0.05)
B = GroupSpec("B", identities=60, lookalike=0.20, hard=0.15)


def run(synthetic: Synthetic, **options: object) -> dict[str, Any]:
    return evaluate_descriptions(
        synthetic.dataset, synthetic.descriptions,
        EvaluationOptions(thresholds=THRESHOLDS, **options),  # type: ignore[arg-type]
        model_id="synthetic",
    )


def row_at(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    return next(r for r in rows if r["threshold"] == pytest.approx(threshold))


@pytest.fixture(scope="module")
def unequal() -> tuple[Synthetic, dict[str, Any]]:
    synthetic = make_synthetic([A, B])
    return synthetic, run(synthetic)


def test_known_rates_are_recovered_within_their_intervals(unequal: Unequal) -> None:
    synthetic, results = unequal
    [ident] = results["identification"]
    assert ident["watchlist_size"] == 60
    for spec in (A, B):
        rows = ident["groups"]["group"][spec.label]["rows"]
        mid = row_at(rows, MID)
        true_fpir, true_tpir = synthetic.true_fpir(spec), synthetic.true_tpir(spec)
        assert mid["fpir_ci"][0] <= true_fpir <= mid["fpir_ci"][1], (spec, mid)
        assert mid["tpir_ci"][0] <= true_tpir <= mid["tpir_ci"][1], (spec, mid)
        assert mid["fpir"] == pytest.approx(true_fpir, abs=0.05)
        assert mid["tpir"] == pytest.approx(true_tpir, abs=0.07)
        assert mid["fnir"] == pytest.approx(1 - mid["tpir"])
        assert mid["false_alerts_per_1000"] == pytest.approx(1000 * mid["fpir"])
        # Above the lookalikes' score nobody alerts falsely; below the normal
        # non-mated score (0.291) everybody would.
        assert row_at(rows, 0.50)["fpir"] == 0.0
        assert row_at(rows, 0.50)["false_alerts"] == 0


def test_the_counts_match_the_planted_images_exactly(unequal: Unequal) -> None:
    synthetic, results = unequal
    [ident] = results["identification"]
    kinds = synthetic.kinds
    for spec in (A, B):
        paths = [p for p, _ in kinds.items() if p.parts[2].startswith(spec.label)]
        lookalikes = sum(kinds[p] == "lookalike" for p in paths)
        normals = sum(kinds[p] == "normal" for p in paths)
        entry = ident["groups"]["group"][spec.label]
        mid = row_at(entry["rows"], MID)
        # Every image is a non-mated search once; every non-enrolment image a mated one.
        assert entry["nonmated_searches"] == len(paths)
        assert entry["mated_searches"] == len(paths) - spec.identities
        assert mid["false_alerts"] == lookalikes
        assert mid["hits"] == normals


def test_a_planted_difference_is_flagged_and_the_fair_threshold_is_above_it(
    unequal: Unequal,
) -> None:
    _, results = unequal
    [ident] = results["identification"]
    tests = {t["threshold"]: t for t in ident["group_tests"]["group"]}
    assert tests[MID]["fpir"]["significant"]
    assert tests[MID]["fpir"]["p_value"] < 0.001
    assert tests[MID]["fnir"]["significant"]
    assert not tests[0.50]["fpir"]["significant"]
    # Lookalikes score 0.488: the first swept threshold above it is 0.50.
    assert ident["fair_threshold"]["group"] == pytest.approx(0.50)
    assert results["fair_threshold"] == pytest.approx(0.50)
    # Observed FPIR is 0 from 0.50 up, so the recommendation is the fair threshold.
    assert results["recommended_threshold"] == pytest.approx(0.50)


def test_equal_groups_are_not_flagged() -> None:
    same = [GroupSpec("A", 60, 0.10, 0.10), GroupSpec("B", 60, 0.10, 0.10)]
    results = run(make_synthetic(same, seed=5))
    [ident] = results["identification"]
    assert not any(t["fpir"]["significant"] for t in ident["group_tests"]["group"])
    assert results["fair_threshold"] == pytest.approx(THRESHOLDS[0])


def test_overall_rates_pool_the_groups(unequal: Unequal) -> None:
    _, results = unequal
    [ident] = results["identification"]
    overall = row_at(ident["overall"], MID)
    groups = ident["groups"]["group"]
    assert overall["false_alerts"] == sum(row_at(g["rows"], MID)["false_alerts"]
                                          for g in groups.values())
    assert overall["nonmated_searches"] == sum(g["nonmated_searches"] for g in groups.values())
    assert overall["mated_searches"] == ident["mated_searches"]


def test_smaller_watchlists_give_fewer_mated_searches_and_no_more_false_alerts() -> None:
    synthetic = make_synthetic([A, B])
    results = run(synthetic, watchlist_sizes=[10, 60])
    small, large = results["identification"]
    assert (small["watchlist_size"], large["watchlist_size"]) == (10, 60)
    assert small["mated_searches"] == 2 * 10 * (synthetic.images_per_identity - 1)
    assert small["nonmated_searches"] == large["nonmated_searches"]
    for a, b in zip(small["overall"], large["overall"], strict=True):
        assert a["false_alerts"] <= b["false_alerts"]


def test_too_large_a_watchlist_is_refused_with_the_largest_possible() -> None:
    synthetic = make_synthetic([A, B])
    with pytest.raises(DatasetError, match=r"--watchlist-size 61: .* at most 60"):
        run(synthetic, watchlist_sizes=[61])


def test_split_is_balanced_disjoint_and_reproducible() -> None:
    images = [DescribedImage(f"{i}/{k}", f"id{i:02d}", np.zeros(128, np.float32),
                             {"sex": "f" if i % 3 else "m"})
              for i in range(30) for k in range(2)]
    first, second = split_identities(images, seed=4)
    assert not set(first) & set(second)
    assert len(first) + len(second) == 30 and abs(len(first) - len(second)) <= 1
    males = {f"id{i:02d}" for i in range(30) if i % 3 == 0}
    assert abs(len(males & set(first)) - len(males & set(second))) <= 1
    assert split_identities(images, seed=4) == (first, second)
    assert split_identities(images, seed=5) != (first, second)


def _image(identity: str, k: int, vector: np.ndarray | None) -> DescribedImage:
    return DescribedImage(f"{identity}/{k}", identity, vector, {})


def test_no_face_is_a_miss_when_mated_and_no_search_when_not() -> None:
    basis = np.eye(128, dtype=np.float32)
    images = [
        _image("a", 0, basis[0]), _image("a", 1, None), _image("a", 2, basis[0]),
        _image("b", 0, basis[1]), _image("b", 1, basis[1]),
    ]
    searches = run_searches(images, (["a"], ["b"]), 1)
    # Turn 1 (b probed, a enrolled): a's two further images are mated searches, one
    # without a face; b's two images are non-mated searches. Turn 2 the other way round.
    assert len(searches.mate_score) == 3
    assert searches.mated_no_face == 1
    assert len(searches.nonmated_best) == 4  # a's faceless image makes no search
    assert searches.nonmated_no_face == 1
    counts = count_outcomes(searches.mate_score, searches.best_other,
                            searches.nonmated_best, [0.5])
    assert counts.hits[0] == 2 and counts.false_alerts[0] == 0


def _dataset(per_identity: dict[str, int], faces: bool = True) -> tuple[Dataset, dict]:
    samples, descriptions = [], {}
    for n, (identity, count) in enumerate(per_identity.items()):
        for k in range(count):
            path = Path(f"/d/{identity}/{k}.jpg")
            samples.append(Sample(path, identity))
            vector = np.eye(128, dtype=np.float32)[n] if faces else None
            descriptions[path] = ImageDescription(vector, "" if faces else "no face found")
    return Dataset(Path("/d"), "folders", samples, []), descriptions


def test_every_identity_with_one_image_is_refused_clearly() -> None:
    dataset, descriptions = _dataset({"a": 1, "b": 1, "c": 1})
    with pytest.raises(DatasetError, match="every identity has a single image"):
        evaluate_descriptions(dataset, descriptions, EvaluationOptions(), model_id="x")


def test_no_usable_face_is_refused_clearly() -> None:
    dataset, descriptions = _dataset({"a": 2, "b": 2}, faces=False)
    with pytest.raises(DatasetError, match="no image has a usable face"):
        evaluate_descriptions(dataset, descriptions, EvaluationOptions(), model_id="x")


def test_single_image_identities_pad_the_watchlist_and_no_groups_means_no_fair_threshold() -> None:
    dataset, descriptions = _dataset({"a": 3, "b": 3, "c": 1, "d": 1})
    results = evaluate_descriptions(dataset, descriptions, EvaluationOptions(), model_id="x")
    assert results["fair_threshold"] is None
    assert any("no group labels" in w for w in results["warnings"])
    assert results["dataset"]["identities_with_one_usable_image"] == 2
    [ident] = results["identification"]
    assert ident["watchlist_size"] == 2
    assert ident["mated_searches"] == 4  # a's and b's two further images each


def test_a_group_with_no_usable_face_is_reported_not_hidden() -> None:
    synthetic = make_synthetic([A, B, GroupSpec("C", 4, 0.0, 0.0)])
    descriptions = dict(synthetic.descriptions)
    for sample in synthetic.dataset.samples:
        if sample.groups["group"] == "C":
            descriptions[sample.path] = ImageDescription(None, "no face found")
    results = evaluate_descriptions(synthetic.dataset, descriptions,
                                    EvaluationOptions(thresholds=THRESHOLDS), model_id="x")
    assert results["dataset"]["groups"]["group"]["C"] == {
        "identities": 4, "images": 24, "usable_images": 0}
    assert any("group=C: none of its 24 images has a usable face" in w
               for w in results["warnings"])
    assert any("group=C: no non-mated searches" in w for w in results["warnings"])
    [ident] = results["identification"]
    c = ident["groups"]["group"]["C"]
    assert c["nonmated_searches"] == 0 and row_at(c["rows"], MID)["fpir"] is None
    # C cannot be compared, A and B still are.
    assert row_at(ident["group_tests"]["group"], MID)["fpir"]["groups_compared"] == ["A", "B"]


def test_filler_pads_the_watchlist_beyond_the_dataset() -> None:
    synthetic = make_synthetic([GroupSpec("A", 20, 0.1, 0.0), GroupSpec("B", 20, 0.1, 0.0)])
    rng = np.random.default_rng(0)
    # Filler far from everyone: scores 0, so it adds entries but no false alert.
    filler = [v / np.linalg.norm(v) * 3 for v in rng.normal(size=(30, 128))]
    options = EvaluationOptions(thresholds=THRESHOLDS, watchlist_sizes=[20, 50])
    with pytest.raises(DatasetError, match="at most 20"):
        evaluate_descriptions(synthetic.dataset, synthetic.descriptions, options, model_id="x")
    results = evaluate_descriptions(synthetic.dataset, synthetic.descriptions, options,
                                    model_id="x", filler=filler)
    small, large = results["identification"]
    assert results["protocol"]["largest_watchlist_size"] == 50
    assert small["mated_searches"] == large["mated_searches"]
    assert row_at(small["overall"], MID)["false_alerts"] == row_at(
        large["overall"], MID)["false_alerts"]


def test_report_files_and_no_stale_tables_from_an_earlier_run(tmp_path: Path) -> None:
    from openlfr.evaluation import write_report

    synthetic = make_synthetic([GroupSpec("A", 10, 0.1, 0.1), GroupSpec("B", 10, 0.1, 0.1)])
    results = evaluate_descriptions(synthetic.dataset, synthetic.descriptions,
                                    EvaluationOptions(thresholds=[0.4, 0.5]), model_id="x")
    (tmp_path / "verification_folds.csv").write_text("from an earlier run with --pairs")
    written = write_report(results, tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in tmp_path.iterdir()) == [
        "group_tests.csv", "identification.csv", "identification_groups.csv", "report.html",
        "results.json"]
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "<script" not in html
    assert "By group" in html and "Fair from: <b>0.40</b>" in html


def test_searching_in_batches_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from openlfr.evaluation import identification

    synthetic = make_synthetic([GroupSpec("A", 15, 0.1, 0.1), GroupSpec("B", 15, 0.2, 0.1)])
    images = [DescribedImage(str(s.path), s.identity, synthetic.descriptions[s.path].descriptor,
                             dict(s.groups)) for s in synthetic.dataset.samples]
    halves = split_identities(images)
    whole = run_searches(images, halves, 15, group_columns=["group"])
    monkeypatch.setattr(identification, "SEARCH_BATCH", 7)
    batched = run_searches(images, halves, 15, group_columns=["group"])
    for field in ("mate_score", "best_other", "nonmated_best"):
        # Equal up to float32 rounding, which depends on how BLAS blocks the product.
        assert np.allclose(getattr(whole, field), getattr(batched, field), atol=1e-5)
    assert whole.mated_identity == batched.mated_identity
    assert whole.nonmated_identity == batched.nonmated_identity


def test_a_recommendation_the_data_cannot_back_is_flagged(unequal: Unequal) -> None:
    _, results = unequal
    # 720 non-mated searches with no false alert bound FPIR by 0.0051, not 0.001.
    assert results["recommended_threshold_fpir_upper_bound_meets_target"] is False
    [warning] = [w for w in results["warnings"] if "recommended threshold" in w]
    assert "about 3,688 non-mated searches" in warning and "this run had 720" in warning


def test_every_group_column_is_analysed_and_the_fair_threshold_covers_them_all() -> None:
    synthetic = make_synthetic([A, B])
    # A second, made-up column splitting each group evenly: no difference planted.
    samples = [Sample(s.path, s.identity, {**s.groups, "half": "x" if int(s.identity[2:]) % 2
                                           else "y"}) for s in synthetic.dataset.samples]
    dataset = Dataset(synthetic.dataset.root, "manifest", samples, ["group", "half"])
    results = evaluate_descriptions(dataset, synthetic.descriptions,
                                    EvaluationOptions(thresholds=THRESHOLDS), model_id="x")
    [ident] = results["identification"]
    assert set(ident["groups"]) == {"group", "half"}
    assert ident["fair_threshold"]["group"] == pytest.approx(0.50)
    assert ident["fair_threshold"]["half"] is not None
    assert ident["fair_threshold"]["half"] <= 0.50
    assert results["fair_threshold"] == pytest.approx(0.50)
