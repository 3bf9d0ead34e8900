"""Non-mated alerts that are probably one person filed under two identities.

Photo sets gathered from the web hold some people several times under other names. A
non-mated search that names such a person's other photo is a correct identification, yet
the audit counts it as a false alert. On the 5,000 UTKFace filler photos (one identity a
photo, 2,490 on each watchlist) 448 of the 452 non-mated alerts at the shipped threshold
were such pairs, by eye too, and they fell unevenly between the race labels (three times
as many in one group as in another): a raw audit would report that as the engine's bias
(README, "Equity and accuracy audit").

So each non-mated alert is put to three networks, each at a strict same-person cut
(``SAME_PERSON_CUTS``); where two of them call the two photos one person, the pair is
listed as a probable duplicate. No network judges its own audit alone. The rates are not
corrected: whether two photos show one person is for the dataset's owner to settle, by
merging the identities and running again.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from openlfr.recognition.config import DEFAULT_THRESHOLD

SAME_PERSON_CUTS = {"dlib": 0.5, "w600k": 0.5, "mobilefacenet": 0.5}
"""Per network, the similarity beyond which two photos are called one person: dlib's L2
distance below 0.5 (its own cut for "same person" is 0.6), either MobileFaceNet's cosine
above 0.5 (strangers: 0.0 +- 0.07 for w600k; its same-person pairs 0.68 on average)."""

VOTES_NEEDED = 2

CHECK_FROM_SCORE = 0.2
"""Alerts scoring under this are not checked, whatever the lowest threshold swept: a
search scoring there looks like no one on the watchlist (a stranger scores about 0.08),
and a sweep from 0 would otherwise have every photo described again by two networks."""


def measure(network: str) -> str:
    """What `same_person` measures for `network`: 'L2' (a distance: one person below the
    cut) for dlib, 'cosine' (one person above it) for the others."""
    return "L2" if network == "dlib" else "cosine"


def same_person(network: str, a: np.ndarray, b: np.ndarray) -> tuple[bool, float]:
    """Whether `network` calls descriptors `a` and `b` one person, and its measure."""
    cut = SAME_PERSON_CUTS[network]
    if measure(network) == "L2":
        distance = float(np.linalg.norm(np.asarray(a) - np.asarray(b)))
        return distance < cut, distance
    cosine = float(np.dot(a, b))
    return cosine > cut, cosine


def rule() -> str:
    """The rule in words, for results and reports."""
    cuts = ", ".join(f"{name} {measure(name)} {'below' if measure(name) == 'L2' else 'above'}"
                     f" {cut}" for name, cut in SAME_PERSON_CUTS.items())
    return (f"{VOTES_NEEDED} of the networks agree the two photos are one person, each at a "
            f"strict cut: {cuts}")


@dataclass(frozen=True)
class AlertPair:
    """A non-mated search's photo and the enrolled photo it named, with its score."""

    probe: str
    entry: str
    score: float


Descriptors = Mapping[str, Mapping[Any, "np.ndarray | None"]]
"""``descriptors[network][photo]``: that network's descriptor of the photo (None where it
found no face: that network does not vote)."""


def votes(first: Hashable, second: Hashable, descriptors: Descriptors
          ) -> tuple[int, dict[str, float]]:
    """How many networks call photos `first` and `second` one person, and each voting
    network's measure."""
    count, measures = 0, {}
    for network, described in descriptors.items():
        a, b = described.get(first), described.get(second)
        if a is None or b is None:
            continue
        agrees, measures[network] = same_person(network, a, b)
        count += agrees
    return count, measures


def judge_pairs(pairs: Sequence[AlertPair], descriptors: Descriptors) -> list[dict[str, Any]]:
    """The pairs that VOTES_NEEDED networks call one person, best score first, each with
    every voting network's measure."""
    found: list[dict[str, Any]] = []
    for pair in pairs:
        count, measures = votes(pair.probe, pair.entry, descriptors)
        if count >= VOTES_NEEDED:
            found.append({"probe": pair.probe, "entry": pair.entry, "score": pair.score,
                          "votes": count,
                          "measures": {k: round(v, 4) for k, v in measures.items()}})
    return sorted(found, key=lambda pair: -pair["score"])


def found_sentence(report: Mapping[str, Any]) -> str:
    """What an audit's ``probable_duplicates`` found, in one sentence's worth of words:
    for its warning, its report and the summary a registered audit publishes."""
    return (
        f"{report['found']} of the {report['alerts_checked']} non-mated alerts at watchlist "
        f"size {report['watchlist_size']} (threshold {report['threshold_from']:.2f} and up; "
        f"{report['found_at_default_threshold']} of "
        f"{report['alerts_checked_at_default_threshold']} at the default {DEFAULT_THRESHOLD}) "
        f"name a photo that {VOTES_NEEDED} of the {len(report['judges'])} networks "
        f"({', '.join(report['judges'])}) call the same person")
