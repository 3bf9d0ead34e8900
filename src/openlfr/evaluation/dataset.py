"""Evaluation datasets: which image shows whom, and which groups each person is in.

Two layouts are read:

* a folder with one sub-folder per identity (the sub-folder name is the identity), as
  LFW ships; group labels for it can come from a separate labels CSV
  (``identity`` column plus one column per group, e.g. ``sex,age_band``);
* a CSV manifest with ``file`` and ``identity`` columns and optional group columns
  (``file`` is relative to the manifest's folder, or absolute).

Rows that name a missing file or a non-image are not fatal: they are reported,
counted and skipped. Malformed structure (no identity column, an empty group label, a
person with two different group labels) is fatal, with the row named.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from openlfr.evaluation.errors import DatasetError
from openlfr.recognition.enrolment import find_enrolment_photos
from openlfr.recognition.errors import WatchlistError
from openlfr.recognition.images import IMAGE_SUFFIXES

#: Columns taken as group labels when the caller names none.
KNOWN_GROUP_COLUMNS = (
    "sex",
    "gender",
    "age_band",
    "age_group",
    "ethnicity",
    "race",
    "skin_tone",
    "group",
)


@dataclass(frozen=True)
class Sample:
    """One image of one identity, with that identity's group labels."""

    path: Path
    identity: str
    groups: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SkippedFile:
    """A listed file that could not be used, and why."""

    path: Path
    problem: str


@dataclass
class Dataset:
    """The images of an evaluation and what is known about the people in them."""

    root: Path
    kind: str
    """'folders' (one sub-folder per identity) or 'manifest' (a CSV)."""
    samples: list[Sample]
    group_columns: list[str]
    skipped: list[SkippedFile] = field(default_factory=list)

    @property
    def identities(self) -> list[str]:
        """Identity names in first-seen order."""
        return list(dict.fromkeys(s.identity for s in self.samples))

    @property
    def images_root(self) -> Path:
        """Where pairs-file names resolve: the identity folders' parent."""
        return self.root if self.kind == "folders" else self.root.parent

    def group_labels(self, column: str) -> list[str]:
        """The distinct labels of a group column, sorted."""
        return sorted({s.groups[column] for s in self.samples})


def load_dataset(
    path: Path,
    *,
    group_columns: Sequence[str] | None = None,
    labels_csv: Path | None = None,
) -> Dataset:
    """Read a dataset folder or CSV manifest (see the module docstring).

    ``group_columns`` names the columns to analyse; by default every column of
    KNOWN_GROUP_COLUMNS that is present. ``labels_csv`` gives group labels per identity
    for a folder dataset. Raises DatasetError saying what is wrong and what to do.
    """
    path = Path(path)
    if path.is_dir():
        samples = _folder_samples(path)
        dataset = Dataset(root=path, kind="folders", samples=samples, group_columns=[])
        if labels_csv is not None:
            _apply_identity_labels(dataset, labels_csv, group_columns)
        elif group_columns:
            raise DatasetError(
                f"{path}: a folder dataset has no group labels; give them with --labels "
                "(a CSV with an identity column and one column per group) or use a CSV manifest"
            )
        return dataset
    if path.is_file():
        if labels_csv is not None:
            raise DatasetError(
                f"{path}: --labels is for folder datasets; put the group columns in the manifest"
            )
        return _manifest_dataset(path, group_columns)
    raise DatasetError(
        f"{path}: no such file or folder; give a folder with one sub-folder per identity "
        "or a CSV manifest with file and identity columns"
    )


def _folder_samples(folder: Path) -> list[Sample]:
    try:
        photos = find_enrolment_photos(folder)
    except WatchlistError as exc:
        raise DatasetError(
            f"{folder}: no photos found; expected one sub-folder per identity "
            "(the folder name is the identity) holding .jpg/.png photos"
        ) from exc
    return [Sample(photo, identity) for identity, photo in photos]


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV file (UTF-8, a BOM tolerated)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = [name.strip() for name in (reader.fieldnames or [])]
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not a UTF-8 CSV file; save it as CSV (UTF-8)") from exc
    except (OSError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read as CSV ({exc})") from exc
    # Strip stray spaces around names and values ("sex, age_band" is a common slip).
    cleaned = [
        {(k or "").strip(): (v or "").strip() if isinstance(v, str) else "" for k, v in row.items()}
        for row in rows
    ]
    return header, cleaned


def _choose_group_columns(
    path: Path, header: Sequence[str], requested: Sequence[str] | None, reserved: Iterable[str]
) -> list[str]:
    if requested:
        missing = [c for c in requested if c not in header]
        if missing:
            raise DatasetError(
                f"{path}: no column {', '.join(repr(c) for c in missing)} "
                f"(columns: {', '.join(header)}); name a group column that exists"
            )
        bad = [c for c in requested if c in set(reserved)]
        if bad:
            raise DatasetError(f"{path}: {bad[0]!r} cannot be a group column")
        return list(dict.fromkeys(requested))
    return [c for c in KNOWN_GROUP_COLUMNS if c in header]


def _manifest_dataset(path: Path, group_columns: Sequence[str] | None) -> Dataset:
    header, rows = _read_csv(path)
    for required in ("file", "identity"):
        if required not in header:
            raise DatasetError(
                f"{path}: no {required!r} column (columns: {', '.join(header) or 'none'}); "
                "a manifest needs 'file' and 'identity' columns, plus optional group columns "
                "such as sex, age_band, ethnicity"
            )
    if not rows:
        raise DatasetError(f"{path}: the manifest lists no images")
    columns = _choose_group_columns(path, header, group_columns, ("file", "identity"))
    base = path.parent
    samples: list[Sample] = []
    skipped: list[SkippedFile] = []
    seen: dict[Path, int] = {}
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        name, identity = row.get("file", ""), row.get("identity", "")
        if not name:
            raise DatasetError(f"{path} row {number}: empty 'file'; every row needs an image")
        if not identity:
            raise DatasetError(f"{path} row {number}: empty 'identity' for {name}")
        labels = {}
        for column in columns:
            label = row.get(column, "")
            if not label:
                raise DatasetError(
                    f"{path} row {number}: empty {column!r} label for {name}; label every row "
                    f"or leave the column out (--group-column)"
                )
            labels[column] = label
        image = Path(name) if Path(name).is_absolute() else base / name
        if image in seen:
            raise DatasetError(
                f"{path} row {number}: {name} is already listed on row {seen[image]}; "
                "list each image once"
            )
        seen[image] = number
        if image.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append(SkippedFile(image, "not an image file (.jpg, .png, ...)"))
            continue
        if not image.is_file():
            skipped.append(SkippedFile(image, "no such file"))
            continue
        samples.append(Sample(image, identity, labels))
    _check_consistent_labels(path, samples, columns)
    if not samples:
        raise DatasetError(
            f"{path}: none of the {len(rows)} listed images exists; 'file' is read relative "
            f"to {base}"
        )
    return Dataset(root=path, kind="manifest", samples=samples, group_columns=columns,
                   skipped=skipped)


def _check_consistent_labels(path: Path, samples: Sequence[Sample], columns: Sequence[str]) -> None:
    """A person belongs to one group per column: mixed labels are a data error."""
    for column in columns:
        labels: dict[str, set[str]] = defaultdict(set)
        for sample in samples:
            labels[sample.identity].add(sample.groups[column])
        for identity, found in labels.items():
            if len(found) > 1:
                raise DatasetError(
                    f"{path}: identity {identity!r} has {column} labels "
                    f"{', '.join(repr(x) for x in sorted(found))}; a person's label must be the "
                    "same in every row"
                )


def _apply_identity_labels(
    dataset: Dataset, labels_csv: Path, group_columns: Sequence[str] | None
) -> None:
    header, rows = _read_csv(labels_csv)
    if "identity" not in header:
        raise DatasetError(
            f"{labels_csv}: no 'identity' column (columns: {', '.join(header) or 'none'}); "
            "a labels file needs an identity column and one column per group"
        )
    columns = _choose_group_columns(labels_csv, header, group_columns, ("identity", "file"))
    if not columns:
        raise DatasetError(
            f"{labels_csv}: no group column found; name one with --group-column "
            f"(columns: {', '.join(header)})"
        )
    by_identity: dict[str, dict[str, str]] = {}
    for number, row in enumerate(rows, start=2):
        identity = row.get("identity", "")
        if not identity:
            raise DatasetError(f"{labels_csv} row {number}: empty 'identity'")
        labels = {}
        for column in columns:
            if not row.get(column):
                raise DatasetError(
                    f"{labels_csv} row {number}: empty {column!r} label for {identity}; "
                    "label every identity"
                )
            labels[column] = row[column]
        if identity in by_identity and by_identity[identity] != labels:
            raise DatasetError(
                f"{labels_csv} row {number}: identity {identity!r} is labelled twice, differently"
            )
        by_identity[identity] = labels
    unlabelled = sorted({s.identity for s in dataset.samples} - by_identity.keys())
    if unlabelled:
        shown = ", ".join(unlabelled[:5]) + (" ..." if len(unlabelled) > 5 else "")
        raise DatasetError(
            f"{labels_csv}: {len(unlabelled)} identities of {dataset.root} have no labels "
            f"({shown}); label every identity"
        )
    dataset.samples = [
        Sample(s.path, s.identity, by_identity[s.identity]) for s in dataset.samples
    ]
    dataset.group_columns = columns


# --- LFW-style pairs files -----------------------------------------------------------

#: LFW's protocol: ten folds, a threshold chosen on nine and tested on the tenth.
DEFAULT_FOLDS = 10


@dataclass(frozen=True)
class Pair:
    """Two images and whether they show the same person."""

    first: Path
    second: Path
    same: bool
    fold: int
    line: int


@dataclass(frozen=True)
class PairsFile:
    pairs: list[Pair]
    folds: int
    fold_source: str
    """'header' when the header's fold layout was used, else how folds were dealt."""


def _lfw_image(root: Path, name: str, index: str, where: str) -> Path:
    if not re.fullmatch(r"\d{1,6}", index) or int(index) < 1:
        raise DatasetError(f"{where}: image number {index!r} is not a positive whole number")
    if not name or "/" in name or "\\" in name or name in {".", ".."}:
        raise DatasetError(f"{where}: {name!r} is not an identity name")
    return root / name / f"{name}_{int(index):04d}.jpg"


def load_pairs(pairs_path: Path, images_root: Path) -> PairsFile:
    """Parse an LFW-style pairs file: a header line (``10 300``: folds and pairs of each
    kind per fold, or a single count), then ``name i j`` (same person) or
    ``name1 i name2 j`` (different people) per line; images are at
    ``images_root/name/name_000i.jpg``.

    When the header gives a fold layout that fits the lines, it is used (as in LFW's
    pairs.txt); otherwise the pairs are dealt round-robin into 10 folds, same and
    different pairs separately, so every fold holds both kinds.
    """
    pairs_path = Path(pairs_path)
    try:
        lines = pairs_path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise DatasetError(f"{pairs_path}: no such pairs file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{pairs_path}: cannot read the pairs file ({exc})") from exc
    content = [(n, line.split()) for n, line in enumerate(lines, start=1) if line.strip()]
    if not content:
        raise DatasetError(f"{pairs_path}: empty pairs file")
    header_line, header = content[0]
    if not header or not all(t.isdigit() for t in header) or len(header) > 2:
        raise DatasetError(
            f"{pairs_path} line {header_line}: expected a header such as '10 300' "
            "(folds, pairs of each kind per fold) or '6000' before the pairs"
        )
    raw: list[tuple[Path, Path, bool, int]] = []
    for number, tokens in content[1:]:
        where = f"{pairs_path} line {number}"
        if len(tokens) == 3:
            name, i, j = tokens
            raw.append((_lfw_image(images_root, name, i, where),
                        _lfw_image(images_root, name, j, where), True, number))
        elif len(tokens) == 4:
            name1, i, name2, j = tokens
            raw.append((_lfw_image(images_root, name1, i, where),
                        _lfw_image(images_root, name2, j, where), name1 == name2, number))
        else:
            raise DatasetError(
                f"{where}: expected 'name i j' (same person) or 'name1 i name2 j' "
                f"(different people), got {len(tokens)} fields"
            )
    same_count = sum(r[2] for r in raw)
    if same_count == 0 or same_count == len(raw):
        kind = "different" if same_count == 0 else "same-person"
        raise DatasetError(
            f"{pairs_path}: only {kind} pairs; verification accuracy needs both kinds"
        )
    if len(header) == 2 and int(header[0]) >= 2 and len(raw) == 2 * int(header[0]) * int(header[1]):
        folds, per_fold = int(header[0]), 2 * int(header[1])
        pairs = [Pair(a, b, same, index // per_fold, line)
                 for index, (a, b, same, line) in enumerate(raw)]
        return PairsFile(pairs, folds, "header")
    folds = DEFAULT_FOLDS
    smaller = min(same_count, len(raw) - same_count)
    if smaller < folds:
        raise DatasetError(
            f"{pairs_path}: {same_count} same and {len(raw) - same_count} different pairs; "
            f"{folds}-fold verification needs at least {folds} of each"
        )
    dealt: Counter[bool] = Counter()
    pairs = []
    for a, b, same, line in raw:
        pairs.append(Pair(a, b, same, dealt[same] % folds, line))
        dealt[same] += 1
    return PairsFile(pairs, folds, "round-robin")
