"""The gazetteer the platform uses: the bundled list of London boroughs and wards, or the
CSV that ``OPENLFR_GAZETTEER_FILE`` names (see ``data/gazetteer/README.md``)."""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from openlfr.governance.areas import Area, AreaKind, Gazetteer
from openlfr.settings import Settings

#: The bundled list: London boroughs and their wards.
DEFAULT_GAZETTEER = Path(__file__).resolve().parent.parent / "data" / "gazetteer" / "london.csv"

COLUMNS = ("code", "name", "kind", "parent", "ons_code", "aliases")


def gazetteer_for(settings: Settings) -> Gazetteer:
    """The gazetteer the settings name (read once per file)."""
    return load_gazetteer(settings.gazetteer_file or DEFAULT_GAZETTEER)


@lru_cache(maxsize=4)
def load_gazetteer(path: Path) -> Gazetteer:
    """Read a gazetteer CSV (columns: code, name, kind, parent, ons_code, aliases); a
    malformed file is refused naming the line."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = set(COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"gazetteer {path}: missing column(s) "
                                 f"{', '.join(sorted(missing))}")
            areas = [_area(path, line, row) for line, row in enumerate(reader, start=2)]
    except OSError as exc:
        raise ValueError(f"gazetteer {path} cannot be read: {exc.strerror or exc}") from None
    return Gazetteer(areas, source=str(path))


def _area(path: Path, line: int, row: dict[str, str]) -> Area:
    try:
        kind = AreaKind(row["kind"].strip())
    except ValueError:
        raise ValueError(f"gazetteer {path}, line {line}: kind must be borough or ward, not "
                         f"{row['kind']!r}") from None
    code, name = row["code"].strip(), row["name"].strip()
    if not code or not name:
        raise ValueError(f"gazetteer {path}, line {line}: code and name are required")
    parent = row["parent"].strip() or None
    if (kind is AreaKind.WARD) != (parent is not None):
        raise ValueError(f"gazetteer {path}, line {line}: a ward names its borough in "
                         "parent, a borough leaves it empty")
    aliases = tuple(a.strip() for a in (row["aliases"] or "").split(";") if a.strip())
    return Area(code=code, name=name, kind=kind, parent=parent,
                ons_code=row["ons_code"].strip() or None, aliases=aliases)
