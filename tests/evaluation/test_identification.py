"""The 1:N protocol and its tables on synthetic descriptors with known error rates.

The thresholds are not written down: they are placed between the scores the engine gives
each kind of synthetic image at the watchlist size used (conftest.Window), so the tests
follow the engine's decision score when its calibration changes.
"""

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
    Searches,
    count_outcomes,
    run_searches,
    split_identities,
)
from openlfr.recognition import WatchlistError

from .conftest import DIM, MODEL_ID, GroupSpec, Synthetic, Window, kind_scores, make_synthetic

Unequal = tuple[Synthetic, dict[str, Any]]
A = GroupSpec("A", identities=60, lookalike=0.04, hard=0.05)
B = GroupSpec("B", identities=60, lookalike=0.20, hard=0.15)
#: Each half enrols the other half's 60 identities, plus the two groups' twins (filler).
SIZE = (A.identities + B.identities) // 2 + 2
#: Thresholds between the engine's scores of the kinds of image at that watchlist size.
WINDOW = Window.at(SIZE)
THRESHOLDS = WINDOW.sweep()
MID = WINDOW.known  # the known rates hold here
#: The first swept threshold above the lookalikes' score: false alerts stop there.
FIRST_FAIR = min(t for t in THRESHOLDS if t > WINDOW.scores["lookalike"])


def run(synthetic: Synthetic, **options: Any) -> dict[str, Any]:
    return evaluate_descriptions(
        synthetic.dataset, synthetic.descriptions,
        EvaluationOptions(**{"thresholds": THRESHOLDS, **options}),
        model_id=MODEL_ID, filler=synthetic.filler,
    )


def row_at(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    return next(r for r in rows if r["threshold"] == pytest.approx(threshold))


def _images(synthetic: Synthetic) -> list[DescribedImage]:
    return [DescribedImage(str(s.path), s.identity, synthetic.descriptions[s.path].descriptor,
                           dict(s.groups)) for s in synthetic.dataset.samples]


@pytest.fixture(scope="module")
def unequal() -> tuple[Synthetic, dict[str, Any]]:
    synthetic = make_synthetic([A, B])
    assert synthetic.watchlist_size == SIZE
    return synthetic, run(synthetic)


def test_each_kind_of_image_scores_what_the_engine_gives_its_geometry() -> None:
    """The searches score as conftest.kind_scores says (float noise aside), so the
    thresholds derived from it sit where the tests below expect them."""
    synthetic = make_synthetic([A, B])
    images = _images(synthetic)
    searches = run_searches(images, split_identities(images), SIZE, filler=synthetic.filler,
                            model_id=MODEL_ID)
    kinds = [synthetic.kinds[Path(i.name)] for i in images]
    mated = [k for k in kinds if k != "enrol"]  # both turns: every identity is enrolled once
    score = WINDOW.scores
    assert len(searches.mate_score) == len(mated)
    # A lookalike ranks its twin first: no own score, a wrong one on best_other.
    expected_own = sorted(-1.0 if k == "lookalike" else score[k] for k in mated)
    assert np.allclose(sorted(searches.mate_score), expected_own, atol=1e-5)
    expected_other = sorted(score["lookalike"] if k == "lookalike" else -1.0 for k in mated)
    assert np.allclose(sorted(searches.best_other), expected_other, atol=1e-5)
    expected_nonmated = sorted(score["lookalike" if k == "lookalike" else "nobody"]
                               for k in kinds)
    assert np.allclose(sorted(searches.nonmated_best), expected_nonmated, atol=1e-5)


def test_known_rates_are_recovered_within_their_intervals(unequal: Unequal) -> None:
    synthetic, results = unequal
    [ident] = results["identification"]
    assert ident["watchlist_size"] == SIZE
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
        # Above the lookalikes' score nobody alerts falsely and normal images still hit;
        # at or below the hard images' score those hit too; above every score, nobody.
        fair = row_at(rows, WINDOW.fair)
        assert fair["fpir"] == 0.0 and fair["false_alerts"] == 0
        assert fair["tpir"] == mid["tpir"]
        low = row_at(rows, WINDOW.low)
        assert low["tpir_ci"][0] <= true_tpir + spec.hard <= low["tpir_ci"][1], (spec, low)
        assert low["fpir"] == mid["fpir"]
        high = row_at(rows, WINDOW.high)
        assert high["hits"] == high["false_alerts"] == high["mated_wrong_alerts"] == 0


def test_the_counts_match_the_planted_images_exactly(unequal: Unequal) -> None:
    synthetic, results = unequal
    [ident] = results["identification"]
    kinds = synthetic.kinds
    score = WINDOW.scores
    for spec in (A, B):
        paths = [p for p in kinds if p.parts[2].startswith(spec.label)]
        planted = {kind: sum(kinds[p] == kind for p in paths)
                   for kind in ("normal", "hard", "lookalike")}
        assert min(planted.values()) > 0
        entry = ident["groups"]["group"][spec.label]
        # Every image is a non-mated search once; every non-enrolment image a mated one.
        assert entry["nonmated_searches"] == len(paths)
        assert entry["mated_searches"] == len(paths) - spec.identities
        assert len(entry["rows"]) == len(THRESHOLDS)
        for row in entry["rows"]:
            t = row["threshold"]
            assert row["hits"] == (planted["normal"] * (t <= score["normal"])
                                   + planted["hard"] * (t <= score["hard"])), row
            # A lookalike is a false alert as a non-mated search, a wrong alert as a mated;
            # below the score of a face like no one, every non-mated search alerts.
            like_no_one = len(paths) - planted["lookalike"]
            assert row["false_alerts"] == (planted["lookalike"] * (t <= score["lookalike"])
                                           + like_no_one * (t <= score["nobody"])), row
            assert row["mated_wrong_alerts"] == planted["lookalike"] * (
                t <= score["lookalike"]), row


def test_a_planted_difference_is_flagged_and_the_fair_threshold_is_above_it(
    unequal: Unequal,
) -> None:
    _, results = unequal
    [ident] = results["identification"]
    tests = {t["threshold"]: t for t in ident["group_tests"]["group"]}
    assert tests[MID]["fpir"]["significant"]
    assert tests[MID]["fpir"]["p_value"] < 0.001
    assert tests[MID]["fnir"]["significant"]
    assert not tests[FIRST_FAIR]["fpir"]["significant"]
    assert ident["fair_threshold"]["group"] == pytest.approx(FIRST_FAIR)
    assert results["fair_threshold"] == pytest.approx(FIRST_FAIR)
    # Observed FPIR is 0 from there up, so the recommendation is the fair threshold.
    assert results["recommended_threshold"] == pytest.approx(FIRST_FAIR)


def test_equal_groups_are_not_flagged() -> None:
    same = [GroupSpec("A", 60, 0.10, 0.10), GroupSpec("B", 60, 0.10, 0.10)]
    results = run(make_synthetic(same, seed=5))
    [ident] = results["identification"]
    # Lookalikes alert in both groups alike up to their score: no difference to flag.
    assert row_at(ident["overall"], MID)["false_alerts"] > 0
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
    results = run(synthetic, watchlist_sizes=[10, SIZE])
    small, large = results["identification"]
    assert (small["watchlist_size"], large["watchlist_size"]) == (10, SIZE)
    assert small["mated_searches"] == 2 * 10 * (synthetic.images_per_identity - 1)
    assert small["nonmated_searches"] == large["nonmated_searches"]
    for a, b in zip(small["overall"], large["overall"], strict=True):
        assert a["false_alerts"] <= b["false_alerts"]
    # Ten entries leave the twins (filler, enrolled last) off: lookalikes match no one.
    assert all(row["false_alerts"] == 0 for row in small["overall"])
    assert row_at(large["overall"], MID)["false_alerts"] > 0


def test_too_large_a_watchlist_is_refused_with_the_largest_possible() -> None:
    synthetic = make_synthetic([A, B])
    with pytest.raises(DatasetError, match=rf"--watchlist-size {SIZE + 1}: .* at most {SIZE}"):
        run(synthetic, watchlist_sizes=[SIZE + 1])


def test_split_is_balanced_disjoint_and_reproducible() -> None:
    images = [DescribedImage(f"{i}/{k}", f"id{i:02d}", np.zeros(DIM, np.float32),
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
    basis = np.eye(DIM, dtype=np.float32)
    images = [
        _image("a", 0, basis[0]), _image("a", 1, None), _image("a", 2, basis[0]),
        _image("b", 0, basis[1]), _image("b", 1, basis[1]),
    ]
    searches = run_searches(images, (["a"], ["b"]), 1, model_id=MODEL_ID)
    # Turn 1 (b probed, a enrolled): a's two further images are mated searches, one
    # without a face; b's two images are non-mated searches. Turn 2 the other way round.
    assert len(searches.mate_score) == 3
    assert searches.mated_no_face == 1
    assert len(searches.nonmated_best) == 4  # a's faceless image makes no search
    assert searches.nonmated_no_face == 1
    # The two faces found are their own entry (cosine 1); the others are like no one.
    nobody = kind_scores(1)["nobody"]
    found = searches.mate_score[searches.mate_score >= 0]
    assert len(found) == 2 and found.min() > nobody and (searches.best_other < 0).all()
    assert searches.nonmated_best == pytest.approx([nobody] * 4, abs=1e-5)
    counts = count_outcomes(searches.mate_score, searches.best_other,
                            searches.nonmated_best, [(nobody + found.min()) / 2])
    assert counts.hits[0] == 2 and counts.false_alerts[0] == 0


def test_another_identity_ranked_first_is_a_wrong_alert_not_a_missing_face() -> None:
    basis = np.eye(DIM, dtype=np.float32)
    # a's second photo is c's double: with both enrolled, c ranks first for it.
    images = [_image("a", 0, basis[0]), _image("a", 1, basis[2]), _image("c", 0, basis[2]),
              _image("b", 0, basis[1]), _image("b", 1, basis[1]), _image("d", 0, basis[3])]
    searches = run_searches(images, (["a", "c"], ["b", "d"]), 2, model_id=MODEL_ID)
    assert searches.mated_identity == ["b", "a"]  # b is enrolled in the first turn
    assert searches.mated_no_face == 0
    (b_own, a_own), (b_other, a_other) = searches.mate_score, searches.best_other
    assert a_own == -1.0 and a_other > 0  # c's score, on the wrong identity
    assert b_own > 0 and b_other == -1.0
    counts = count_outcomes(searches.mate_score, searches.best_other,
                            searches.nonmated_best, [a_other])
    assert counts.wrong_alerts[0] == 1 and counts.hits[0] == (b_own >= a_other)


def _dataset(per_identity: dict[str, int], faces: bool = True) -> tuple[Dataset, dict]:
    samples, descriptions = [], {}
    for n, (identity, count) in enumerate(per_identity.items()):
        for k in range(count):
            path = Path(f"/d/{identity}/{k}.jpg")
            samples.append(Sample(path, identity))
            vector = np.eye(DIM, dtype=np.float32)[n] if faces else None
            descriptions[path] = ImageDescription(vector, "" if faces else "no face found")
    return Dataset(Path("/d"), "folders", samples, []), descriptions


def test_every_identity_with_one_image_is_refused_clearly() -> None:
    dataset, descriptions = _dataset({"a": 1, "b": 1, "c": 1})
    with pytest.raises(DatasetError, match="every identity has a single image"):
        evaluate_descriptions(dataset, descriptions, EvaluationOptions(), model_id=MODEL_ID)


def test_no_usable_face_is_refused_clearly() -> None:
    dataset, descriptions = _dataset({"a": 2, "b": 2}, faces=False)
    with pytest.raises(DatasetError, match="no image has a usable face"):
        evaluate_descriptions(dataset, descriptions, EvaluationOptions(), model_id=MODEL_ID)


def test_an_unknown_descriptor_model_is_refused_before_searching() -> None:
    dataset, descriptions = _dataset({"a": 2, "b": 2})
    with pytest.raises(WatchlistError, match="unknown descriptor model 'synthetic'"):
        evaluate_descriptions(dataset, descriptions, EvaluationOptions(), model_id="synthetic")


def test_single_image_identities_pad_the_watchlist_and_no_groups_means_no_fair_threshold() -> None:
    dataset, descriptions = _dataset({"a": 3, "b": 3, "c": 1, "d": 1})
    results = evaluate_descriptions(dataset, descriptions, EvaluationOptions(),
                                    model_id=MODEL_ID)
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
                                    EvaluationOptions(thresholds=THRESHOLDS), model_id=MODEL_ID,
                                    filler=synthetic.filler)
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
    # After the two twins, 30 filler entries like no one searched (cosine 0 to every
    # image): each search is judged against more entries, but none alerts on them.
    synthetic = make_synthetic([GroupSpec("A", 20, 0.1, 0.0), GroupSpec("B", 20, 0.1, 0.0)],
                               extra_filler=30)
    sizes = [22, 52]
    windows = [Window.at(size) for size in sizes]
    options = EvaluationOptions(thresholds=sorted({t for w in windows for t in w.thresholds}),
                                watchlist_sizes=sizes)
    with pytest.raises(DatasetError, match="at most 20"):
        evaluate_descriptions(synthetic.dataset, synthetic.descriptions, options,
                              model_id=MODEL_ID)
    results = evaluate_descriptions(synthetic.dataset, synthetic.descriptions, options,
                                    model_id=MODEL_ID, filler=synthetic.filler)
    assert results["protocol"]["largest_watchlist_size"] == synthetic.watchlist_size == 52
    assert results["protocol"]["filler_identities"] == 32
    small, large = results["identification"]
    assert small["mated_searches"] == large["mated_searches"]
    lookalikes = sum(k == "lookalike" for k in synthetic.kinds.values())
    normals = sum(k == "normal" for k in synthetic.kinds.values())
    for result, window in zip((small, large), windows, strict=True):
        known = row_at(result["overall"], window.known)
        assert known["false_alerts"] == lookalikes > 0 and known["hits"] == normals
        assert row_at(result["overall"], window.fair)["false_alerts"] == 0


def test_report_files_and_no_stale_tables_from_an_earlier_run(tmp_path: Path) -> None:
    from openlfr.evaluation import write_report

    synthetic = make_synthetic([GroupSpec("A", 10, 0.1, 0.1), GroupSpec("B", 10, 0.1, 0.1)])
    window = Window.at(synthetic.watchlist_size)
    results = evaluate_descriptions(
        synthetic.dataset, synthetic.descriptions,
        EvaluationOptions(thresholds=[window.known, window.fair]), model_id=MODEL_ID,
        filler=synthetic.filler)
    (tmp_path / "verification_folds.csv").write_text("from an earlier run with --pairs")
    written = write_report(results, tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in tmp_path.iterdir()) == [
        "group_tests.csv", "identification.csv", "identification_groups.csv", "report.html",
        "results.json"]
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "<script" not in html
    assert "By group" in html and f"Fair from: <b>{window.known:.2f}</b>" in html
    # The score the report names is the engine's decision score, not a distance.
    assert "decision score" in html and "L2 distance" not in html


def test_searching_in_batches_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from openlfr.evaluation import identification

    synthetic = make_synthetic([GroupSpec("A", 15, 0.1, 0.1), GroupSpec("B", 15, 0.2, 0.1)])
    images = _images(synthetic)
    halves = split_identities(images)

    def search() -> Searches:
        return run_searches(images, halves, synthetic.watchlist_size, group_columns=["group"],
                            filler=synthetic.filler, model_id=MODEL_ID)

    whole = search()
    monkeypatch.setattr(identification, "SEARCH_BATCH", 7)
    batched = search()
    assert (whole.best_other >= 0).any()  # wrong alerts are batched too
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
                                    EvaluationOptions(thresholds=THRESHOLDS), model_id=MODEL_ID,
                                    filler=synthetic.filler)
    [ident] = results["identification"]
    assert set(ident["groups"]) == {"group", "half"}
    assert ident["fair_threshold"]["group"] == pytest.approx(FIRST_FAIR)
    assert ident["fair_threshold"]["half"] is not None
    assert ident["fair_threshold"]["half"] <= FIRST_FAIR
    assert results["fair_threshold"] == pytest.approx(FIRST_FAIR)
