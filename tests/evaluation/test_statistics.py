"""Intervals, the group test and the fair threshold, on numbers with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from openlfr.evaluation.identification import fair_threshold
from openlfr.evaluation.stats import compare_groups, holm_adjust, proportion_ci


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (1, 6000), (57, 400)])
def test_clopper_pearson_matches_scipys_exact_interval(k: int, n: int) -> None:
    low, high = proportion_ci(k, n)
    expected = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert low == pytest.approx(expected.low, abs=1e-9)
    assert high == pytest.approx(expected.high, abs=1e-9)


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (57, 400)])
def test_wilson_matches_scipys_wilson_interval(k: int, n: int) -> None:
    low, high = proportion_ci(k, n, method="wilson")
    expected = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert low == pytest.approx(expected.low, abs=1e-9)
    assert high == pytest.approx(expected.high, abs=1e-9)


def test_no_trials_gives_no_interval_and_bad_counts_are_refused() -> None:
    low, high = proportion_ci(np.array([0, 1]), np.array([0, 4]))
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert 0 < low[1] < 0.25 < high[1] < 1
    with pytest.raises(ValueError):
        proportion_ci(5, 4)
    with pytest.raises(ValueError, match="unknown interval method"):
        proportion_ci(1, 4, method="guess")


def _coverage(p: float, method: str, n: int = 500) -> float:
    rng = np.random.default_rng(7)
    k = rng.binomial(n, p, size=4000)
    low, high = proportion_ci(k, np.full_like(k, n), method=method)
    return float(((low <= p) & (p <= high)).mean())


@pytest.mark.parametrize("p", [0.001, 0.02, 0.1, 0.5])
def test_clopper_pearson_covers_the_true_rate_at_least_95_percent_of_the_time(p: float) -> None:
    """Coverage sanity over many simulated experiments: exact intervals never undercover,
    even for rare events such as false alerts."""
    coverage = _coverage(p, "clopper-pearson")
    assert coverage >= 0.945, coverage
    assert coverage <= 0.995 or p < 0.01  # conservative, not uselessly wide


@pytest.mark.parametrize("p", [0.02, 0.1, 0.5])
def test_wilson_covers_about_95_percent_when_events_are_not_rare(p: float) -> None:
    assert 0.93 <= _coverage(p, "wilson") <= 0.97


def test_wilson_undercovers_rare_events_which_is_why_exact_is_the_default() -> None:
    # One expected event in 1,000 searches: Wilson's nominal 95% holds ~91% of the time.
    assert _coverage(0.001, "wilson") < 0.93 <= _coverage(0.001, "clopper-pearson")


def test_holm_adjustment() -> None:
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm_adjust([]) == []


def test_a_planted_difference_in_false_alerts_is_detected() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    events = {"a": int(rng.binomial(n, 0.01)), "b": int(rng.binomial(n, 0.03))}
    result = compare_groups(events, {"a": n, "b": n})
    assert result.significant
    assert result.p_value < 0.001
    assert result.groups_compared == ["a", "b"]


def test_the_difference_is_found_between_the_right_pair_of_three_groups() -> None:
    result = compare_groups({"a": 20, "b": 21, "c": 60}, {"a": 1000, "b": 1000, "c": 1000})
    assert result.significant
    by_pair = {(c.first, c.second): c for c in result.pairs}
    assert by_pair[("a", "b")].p_adjusted > 0.5
    assert by_pair[("a", "c")].p_adjusted < 0.001
    assert by_pair[("b", "c")].p_adjusted < 0.001
    # Holm never lowers a p-value.
    assert all(c.p_adjusted >= c.p_value for c in result.pairs)


def test_equal_groups_are_rarely_flagged() -> None:
    """Under no difference, the test flags at most about alpha of experiments."""
    rng = np.random.default_rng(11)
    flagged = 0
    runs = 300
    for _ in range(runs):
        events = {g: int(rng.binomial(400, 0.05)) for g in ("a", "b", "c")}
        flagged += compare_groups(events, {"a": 400, "b": 400, "c": 400}).significant
    assert flagged / runs <= 0.07


def test_groups_without_trials_are_left_out_and_one_group_is_never_significant() -> None:
    result = compare_groups({"a": 5, "b": 0}, {"a": 100, "b": 0})
    assert result.groups_compared == ["a"]
    assert not result.significant and result.p_value == 1.0


def test_fair_threshold_is_the_start_of_the_top_run_without_a_difference() -> None:
    thresholds = [0.3, 0.4, 0.5, 0.6, 0.7]
    # Equal at the bottom (everyone alerts), different in the middle, equal at the top.
    assert fair_threshold(thresholds, [False, True, True, False, False]) == 0.6
    assert fair_threshold(thresholds, [False] * 5) == 0.3
    assert fair_threshold(thresholds, [False, False, False, False, True]) is None
