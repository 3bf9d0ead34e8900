"""Proportions, their confidence intervals, and tests for a difference between groups.

Intervals are Clopper-Pearson ("exact") by default: they never cover less than the
stated level, which matters when error counts are small, as false alerts are. Wilson
intervals are available for comparison.

A difference between groups is tested pair by pair with Fisher's exact test (valid at
any count, unlike chi-square with few false alerts), and the pairwise p-values are
adjusted with Holm's method so that many groups do not manufacture a "difference".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import stats

from openlfr.evaluation.defaults import DEFAULT_ALPHA as ALPHA

CONFIDENCE = 0.95


def proportion_ci(
    successes: np.ndarray | int,
    trials: np.ndarray | int,
    *,
    level: float = CONFIDENCE,
    method: str = "clopper-pearson",
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided confidence interval for successes/trials, element-wise.

    ``method`` is 'clopper-pearson' (exact, conservative) or 'wilson'. Where trials is
    0 both ends are NaN: there is nothing to estimate.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(k < 0) or np.any(k > n):
        raise ValueError("successes must lie between 0 and trials")
    tail = (1.0 - level) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "clopper-pearson":
            low = np.where(k > 0, stats.beta.ppf(tail, k, n - k + 1), 0.0)
            high = np.where(k < n, stats.beta.ppf(1.0 - tail, k + 1, n - k), 1.0)
        elif method == "wilson":
            z = stats.norm.ppf(1.0 - tail)
            p = k / n
            centre = (p + z * z / (2 * n)) / (1 + z * z / n)
            half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
            low, high = np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
        else:
            raise ValueError(f"unknown interval method {method!r}; use clopper-pearson or wilson")
    low = np.where(n > 0, low, np.nan)
    high = np.where(n > 0, high, np.nan)
    return low, high


def holm_adjust(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as given), capped at 1."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    m = len(p_values)
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


@dataclass(frozen=True)
class PairComparison:
    first: str
    second: str
    p_value: float
    """Fisher's exact two-sided p-value, before adjustment."""
    p_adjusted: float
    """Holm-adjusted over every pair compared at this threshold."""


@dataclass(frozen=True)
class GroupDifference:
    """Whether a rate differs between groups, at one threshold."""

    p_value: float
    """The smallest Holm-adjusted pairwise p-value (1.0 when fewer than two groups)."""
    significant: bool
    pairs: list[PairComparison]
    groups_compared: list[str]

    def to_json(self) -> dict[str, object]:
        return {
            "p_value": self.p_value,
            "significant": self.significant,
            "groups_compared": self.groups_compared,
            "pairs": [
                {"groups": [c.first, c.second], "p_value": c.p_value, "p_adjusted": c.p_adjusted}
                for c in self.pairs
            ],
        }


def compare_groups(
    events: Mapping[str, int], trials: Mapping[str, int], *, alpha: float = ALPHA
) -> GroupDifference:
    """Test whether events/trials differs between any two groups.

    Groups with no trials cannot be compared and are left out (the caller reports
    them). Significant when some Holm-adjusted pairwise p-value is below ``alpha``.
    """
    labels = [g for g in sorted(trials) if trials[g] > 0]
    raw: list[tuple[str, str, float]] = []
    for a, b in combinations(labels, 2):
        table = [
            [events[a], trials[a] - events[a]],
            [events[b], trials[b] - events[b]],
        ]
        if events[a] * trials[b] == events[b] * trials[a]:
            p = 1.0  # identical proportions: skip the computation (and its float noise)
        else:
            p = float(stats.fisher_exact(table, alternative="two-sided").pvalue)
        raw.append((a, b, min(1.0, p)))
    adjusted = holm_adjust([p for _, _, p in raw])
    pairs = [PairComparison(a, b, p, q) for (a, b, p), q in zip(raw, adjusted, strict=True)]
    smallest = min((c.p_adjusted for c in pairs), default=1.0)
    return GroupDifference(smallest, smallest < alpha, pairs, labels)


def json_number(value: float) -> float | None:
    """A float for JSON: NaN (nothing to estimate) becomes null."""
    return None if value is None or math.isnan(value) else float(value)
