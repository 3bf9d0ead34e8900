"""Areas from a gazetteer: boroughs and the wards in them, each with a code.

A deployment, a council motion, a notice subscription and a councillor all name their
areas by the gazetteer's codes, so that "London Borough of Newham" and "Newham" are one
place and a motion meets the deployments it covers. Free text that is not a known name
(or alias, or code) is refused with the known names closest to what was typed.

Pure Python: the rows are read from a file by ``services.gazetteer``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from openlfr.governance.errors import GovernanceError

#: A ward's code is its borough's, this, and its own name (``lambeth--vauxhall``).
WARD_SEPARATOR = "--"


class AreaKind(StrEnum):
    BOROUGH = "borough"
    WARD = "ward"


@dataclass(frozen=True)
class Area:
    """One place in the gazetteer."""

    code: str
    name: str
    kind: AreaKind
    #: For a ward, its borough's code.
    parent: str | None = None
    ons_code: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def borough_code(self) -> str:
        return self.parent or self.code


class UnknownArea(GovernanceError):
    """Text that names no area of the gazetteer; ``suggestions`` are the closest names."""

    def __init__(self, text: str, what: str, suggestions: list[str]) -> None:
        hint = (f"did you mean: {', '.join(suggestions)}?" if suggestions
                else "no known name is close to it.")
        super().__init__(f"{text!r} is not {what} in the gazetteer; {hint} Choose a name "
                         "from the list of areas: GET /api/public/areas")
        self.text = text
        self.suggestions = suggestions


#: Words around a name that do not change the place it names.
_PREFIXES = ("the ", "london borough of ", "royal borough of ", "borough of ", "lb ")
_SUFFIXES = (" borough council", " city council", " council", " borough", " ward")


def normalise(text: str) -> str:
    """A name as compared: lower case, "&" as "and", no punctuation, "Saint" as "St",
    without "London Borough of", "Council" and the like."""
    t = text.lower().replace("&", " and ").replace("’", "'")
    t = re.sub(r"['.]", "", t)
    t = " ".join(re.findall(r"[a-z0-9]+", t))
    t = re.sub(r"\bsaint\b", "st", t)
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if t.startswith(prefix) and len(t) > len(prefix):
                t, changed = t[len(prefix):], True
        for suffix in _SUFFIXES:
            if t.endswith(suffix) and len(t) > len(suffix):
                t, changed = t[:-len(suffix)], True
    return t


class Gazetteer:
    """The known areas, looked up by code, name or alias."""

    def __init__(self, areas: Iterable[Area], source: str = "") -> None:
        self.source = source
        self._by_code: dict[str, Area] = {}
        self._boroughs: dict[str, Area] = {}  # normalised name/alias/code -> borough
        self._wards: dict[str, dict[str, Area]] = {}  # borough code -> normalised -> ward
        for area in areas:
            if area.code in self._by_code:
                raise ValueError(f"gazetteer {source}: code {area.code!r} appears twice")
            self._by_code[area.code] = area
        for area in self._by_code.values():
            keys = {normalise(n) for n in (area.name, area.code, *area.aliases)}
            if area.kind is AreaKind.BOROUGH:
                self._wards.setdefault(area.code, {})
                index = self._boroughs
            else:
                if area.parent not in self._by_code:
                    raise ValueError(f"gazetteer {source}: ward {area.code!r} names borough "
                                     f"{area.parent!r}, which is not in the list")
                index = self._wards.setdefault(area.parent, {})
            for key in keys:
                index.setdefault(key, area)

    def __len__(self) -> int:
        return len(self._by_code)

    def get(self, code: str | None) -> Area | None:
        """The area with this exact code, or None."""
        return self._by_code.get(code) if code else None

    def boroughs(self) -> list[Area]:
        return sorted((a for a in self._by_code.values() if a.kind is AreaKind.BOROUGH),
                      key=lambda a: a.name)

    def wards_of(self, borough_code: str) -> list[Area]:
        return sorted(set(self._wards.get(borough_code, {}).values()), key=lambda a: a.name)

    def borough_named(self, text: str) -> Area | None:
        """The borough ``text`` names (its name, an alias or its code), or None."""
        return self._boroughs.get(normalise(text))

    def ward_named(self, borough: Area, text: str) -> Area | None:
        """The ward of ``borough`` that ``text`` names (its name or code), or None."""
        found = self._wards.get(borough.code, {}).get(normalise(text))
        if found is None:
            code = self._by_code.get(text.strip())
            if code is not None and code.parent == borough.code:
                return code
        return found

    def borough(self, text: str) -> Area:
        """The borough ``text`` names; UnknownArea with the closest names otherwise."""
        found = self.borough_named(text)
        if found is None:
            raise UnknownArea(text, "a borough", _closest(text, self.boroughs()))
        return found

    def ward(self, borough: Area, text: str) -> Area:
        """The ward of ``borough`` that ``text`` names; UnknownArea otherwise."""
        found = self.ward_named(borough, text)
        if found is None:
            raise UnknownArea(text, f"a ward of {borough.name}",
                              _closest(text, self.wards_of(borough.code)))
        return found

    def resolve(self, text: str) -> Area:
        """The area ``text`` names: a code, a borough, or "Borough/Ward"."""
        exact = self._by_code.get(text.strip())
        if exact is not None:
            return exact
        borough_text, _, ward_text = text.partition("/")
        borough = self.borough(borough_text)
        return self.ward(borough, ward_text) if ward_text.strip() else borough

    def label(self, code: str) -> str:
        """How an area is written for people: "Lambeth" or "Lambeth / Vauxhall"."""
        area = self._by_code.get(code)
        if area is None:
            return code
        if area.parent is None:
            return area.name
        return f"{self._by_code[area.parent].name} / {area.name}"

    @staticmethod
    def covers(code: str, borough_code: str | None, ward_code: str | None) -> bool:
        """True when an area named ``code`` covers, or may hold, a place in
        ``borough_code`` (and ``ward_code``): a borough covers all its wards, a ward
        itself; and a place that names only its borough (a deployment anywhere in it) may
        be in any of its wards, so every ward of that borough is reached: a council
        motion on a ward binds it, and the ward's subscribers and feeds hear of it (a
        force cannot step round a ward's motion or its residents by naming the borough
        alone)."""
        if code in {borough_code, ward_code} - {None}:
            return True
        return (ward_code is None and borough_code is not None
                and code.startswith(borough_code + WARD_SEPARATOR))


def _closest(text: str, candidates: list[Area], n: int = 3) -> list[str]:
    """The names of ``candidates`` closest to ``text`` (difflib's ratio), best first."""
    keys: dict[str, str] = {}
    for area in candidates:
        for name in (area.name, *area.aliases):
            keys.setdefault(normalise(name), area.name)
    matches = difflib.get_close_matches(normalise(text), list(keys), n=n * 2, cutoff=0.5)
    names = list(dict.fromkeys(keys[k] for k in matches))
    return names[:n]
