"""Benchmark: false alerts per demographic group at a real watchlist size, on still photos.

The filler photos of ``../shared/data/fillers`` (UTKFace, one photo a person, with age,
sex and race labels) are described once as ``openlfr evaluate`` describes a photo (its
largest face, the shipped networks: ``evaluation.describe``) and split in two halves,
balanced by race and sex. Each half is the watchlist, one entry a photo, for searches by
every photo of the other half, and each search's best entry is scored as the engine
scores it (``matcher.WatchlistIndex``; the score depends on the watchlist's size). Every
search is of a stranger, so every score at or above a threshold would stop an innocent
person...

...except that UTKFace holds some people several times under other file names, and
naming such a person is a correct identification. An alert whose two photos two of three
networks call the same person (``evaluation.duplicates``, the rule by which ``openlfr
evaluate`` flags such pairs: the shipped w600k network, faceplugin's MobileFaceNet and
dlib's ResNet, each at a strict same-person cut, so no network judges its own test alone)
is counted apart as a probable duplicate, per group too (a raw count would show the
groups UTKFace repeats most as the ones most often stopped), and the false alerts left
give the FPIR: overall and per race, sex and age band, with 95% Clopper-Pearson intervals
and a Holm-adjusted Fisher test between the groups (``evaluation.stats``, as ``openlfr
evaluate`` tests them). The false alerts at the shipped threshold are listed with the
three judges' similarities.

Run: python3 benchmarks/false_alerts_by_group.py [--shared ../shared] [--work DIR]
Descriptors are cached in --work (biometric data of the filler photos: delete it after).

``--write-manifest FILE`` writes instead the manifest with which ``openlfr evaluate``
itself audits the same photos (the fillers with their labels, one identity a photo, and
the shared people, whose several photos give the mated searches ``evaluate`` requires,
labelled ``unlabelled``) and prints the command.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from openlfr.evaluation.describe import describe_images  # noqa: E402
from openlfr.evaluation.duplicates import SAME_PERSON_CUTS, VOTES_NEEDED, votes  # noqa: E402
from openlfr.evaluation.stats import compare_groups, proportion_ci  # noqa: E402
from openlfr.recognition import DEFAULT_THRESHOLD  # noqa: E402
from openlfr.recognition.analyzer import FaceAnalyzer  # noqa: E402
from openlfr.recognition.backends import DEFAULT_DESCRIPTOR, engine_model_id  # noqa: E402
from openlfr.recognition.matcher import WatchlistIndex  # noqa: E402
from openlfr.recognition.watchlist import EnrolledImage, Subject, Watchlist  # noqa: E402

RACES = {"0": "White", "1": "Black", "2": "Asian", "3": "Indian", "4": "Other"}
SEXES = {"0": "male", "1": "female"}
THRESHOLDS = (0.40, 0.45, 0.50, 0.55, 0.60, 0.70)


def age_band(age: str) -> str:
    years = int(age)
    for top, band in ((18, "under 18"), (30, "18-29"), (45, "30-44"), (60, "45-59")):
        if years < top:
            return band
    return "60+"


def load_fillers(shared: Path) -> tuple[list[Path], dict[str, np.ndarray]]:
    """The filler photos and each one's group labels."""
    folder = shared / "data" / "fillers"
    with (folder / "manifest.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    paths = [folder / row["file"] for row in rows]
    groups = {
        "race": np.array([RACES[row["race"]] for row in rows]),
        "sex": np.array([SEXES[row["gender"]] for row in rows]),
        "age band": np.array([age_band(row["age"]) for row in rows]),
    }
    return paths, groups


def write_manifest(shared: Path, target: Path) -> None:
    """A manifest for ``openlfr evaluate`` (files by absolute path): the fillers with their
    group labels, and the shared identities labelled 'unlabelled'."""
    paths, groups = load_fillers(shared)
    columns = ("sex", "age band", "race")
    rows = [[str(path), f"filler_{path.name.split('.')[0]}",
             *(groups[c][i] for c in columns)] for i, path in enumerate(paths)]
    people = shared / "data" / "faces" / "identities"
    for folder in sorted(p for p in people.iterdir() if p.is_dir()):
        rows += [[str(photo), folder.name, *["unlabelled"] * len(columns)]
                 for photo in sorted(folder.iterdir()) if photo.is_file()]
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["file", "identity", "sex", "age_band", "race"])
        out.writerows(rows)
    print(f"wrote {target}: {len(rows)} photos; audit them with\n"
          f"  openlfr evaluate {target} -g race -g sex -g age_band "
          "--thresholds 0.30:0.70:0.05 --out AUDIT_DIR")


def descriptors(paths: list[Path], analyzer: FaceAnalyzer, cache: Path) -> np.ndarray:
    """Each photo's descriptor of its largest face as `openlfr evaluate` describes it (NaN
    rows where no face is found), cached in `cache`."""
    if cache.exists():
        return np.load(cache)
    found = describe_images(paths, analyzer, workers=2)
    rows = np.full((len(paths), analyzer.backends.describer.dim), np.nan, np.float32)
    for i, path in enumerate(paths):
        if found[path].descriptor is not None:
            rows[i] = found[path].descriptor
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, rows)
    return rows


def balanced_halves(groups: dict[str, np.ndarray], usable: np.ndarray, seed: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The usable photos dealt into two halves, alternately within each race and sex, each
    half then shuffled (a watchlist of its first N entries draws from every group)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(usable))
    strata = sorted(order[usable[order]],
                    key=lambda i: (groups["race"][i], groups["sex"][i]))
    return rng.permutation(strata[0::2]), rng.permutation(strata[1::2])


def searches(vectors: np.ndarray, halves: tuple[np.ndarray, np.ndarray], size: int,
             model_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(probe, best entry, score) of every search, both turns: each half searched against a
    watchlist of `size` photos of the other."""
    probes, entries, scores = [], [], []
    for probe_half, enrol_half in (halves, halves[::-1]):
        listed = enrol_half[:size]
        index = WatchlistIndex(Watchlist(model_id, [
            Subject(f"photo-{k}", [EnrolledImage(f"photo-{k}", "", vectors[k])])
            for k in listed]))
        for best, probe in zip(index.identify(vectors[probe_half]), probe_half, strict=True):
            probes.append(probe)
            entries.append(listed[best.subject_index])
            scores.append(best.score)
    return np.array(probes), np.array(entries), np.array(scores)


def judge_votes(pairs: list[tuple[int, int]], paths: list[Path], shipped: np.ndarray,
                work: Path) -> dict[tuple[int, int], tuple[int, dict[str, float]]]:
    """For each (probe, entry) pair: how many judges call the two photos the same person,
    and each judge's similarity (cosine; dlib: L2 distance)."""
    photos = sorted({k for pair in pairs for k in pair})
    described = {DEFAULT_DESCRIPTOR: shipped}
    for name in SAME_PERSON_CUTS:
        if name not in described:
            chosen = hashlib.sha256(np.array(photos, np.int64).tobytes()).hexdigest()[:16]
            rows = descriptors([paths[k] for k in photos], FaceAnalyzer(descriptor=name),
                               work / f"judge_{name}_{chosen}.npy")
            full = np.full((len(paths), rows.shape[1]), np.nan, np.float32)
            full[photos] = rows
            described[name] = full
    as_photos = {name: {k: None if np.isnan(rows[k][0]) else rows[k] for k in photos}
                 for name, rows in described.items()}
    verdicts = {(a, b): votes(a, b, as_photos) for a, b in pairs}
    return verdicts


def rate(events: int, trials: int) -> str:
    low, high = proportion_ci(events, trials)
    return f"{events}/{trials} = {events / trials:.4f} ({float(low):.4f}-{float(high):.4f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/openlfr-false-alerts"))
    parser.add_argument("--watchlist-size", type=int, default=0,
                        help="entries on each watchlist (default: the whole other half)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split")
    parser.add_argument("--write-manifest", type=Path, metavar="FILE",
                        help="write the manifest for `openlfr evaluate` instead, and stop")
    args = parser.parse_args()
    if args.write_manifest:
        write_manifest(args.shared, args.write_manifest)
        return

    paths, groups = load_fillers(args.shared)
    analyzer = FaceAnalyzer()
    model_id = engine_model_id()
    vectors = descriptors(paths, analyzer,
                          args.work / f"fillers_{model_id.replace(':', '_')}.npy")
    usable = ~np.isnan(vectors[:, 0])
    halves = balanced_halves(groups, usable, args.seed)
    size = args.watchlist_size or min(len(h) for h in halves)
    probes, entries, scores = searches(vectors, halves, size, model_id)
    print(f"{len(paths)} filler photos ({DEFAULT_DESCRIPTOR}, {model_id}); "
          f"{int((~usable).sum())} with no face found; watchlists of {size}, "
          f"{len(probes)} searches by strangers (both halves)")

    alerted = scores >= min(THRESHOLDS)
    verdicts = judge_votes(list(zip(probes[alerted], entries[alerted], strict=True)),
                           paths, vectors, args.work)
    duplicate = np.array([alert and verdicts[(int(p), int(e))][0] >= VOTES_NEEDED
                          for p, e, alert in zip(probes, entries, alerted, strict=True)])
    for threshold in THRESHOLDS:
        alert = scores >= threshold
        false = alert & ~duplicate
        print(f"\nthreshold {threshold:.2f}: {int(alert.sum())} alerts, "
              f"{int((alert & duplicate).sum())} of them probably the same person under "
              f"another name; false alerts {rate(int(false.sum()), len(probes))}")
        for column, labels in groups.items():
            events, trials, same = {}, {}, {}
            for label in sorted(set(labels)):
                mine = labels[probes] == label
                events[label], trials[label] = int((false & mine).sum()), int(mine.sum())
                same[label] = int((alert & duplicate & mine).sum())
            test = compare_groups(events, trials)
            shown = "; ".join(f"{label} {rate(events[label], trials[label])} "
                              f"[+{same[label]} same person]"
                              for label in test.groups_compared)
            verdict = "differs" if test.significant else "no significant difference"
            print(f"  {column}: {shown}\n    between groups: {verdict} "
                  f"(smallest Holm-adjusted p {test.p_value:.3f})")

    print(f"\nfalse alerts at the shipped threshold ({DEFAULT_THRESHOLD}): the stranger, "
          "the entry named, score, and each judge's similarity")
    shipped = (scores >= DEFAULT_THRESHOLD) & ~duplicate
    for p, e, s in zip(probes[shipped], entries[shipped], scores[shipped], strict=True):
        _, measures = verdicts[(int(p), int(e))]
        who = ", ".join(f"{groups['race'][k]} {groups['sex'][k]} {groups['age band'][k]}"
                        for k in (p, e))
        judged = ", ".join(f"{name} {value:.2f}" for name, value in measures.items())
        print(f"  {paths[p].name} -> {paths[e].name}: {s:.2f} ({who}; {judged})")


if __name__ == "__main__":
    main()
