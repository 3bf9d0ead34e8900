"""The one rule for text written into a CSV a person may open in a spreadsheet: a cell
that starts like a formula is written as text, so a group label or a title such as
``=HYPERLINK(...)`` cannot run as a formula (CSV injection)."""

from __future__ import annotations

from typing import TypeVar

#: Characters that make a spreadsheet read a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

T = TypeVar("T")


def csv_cell(value: T) -> T | str:
    """``value`` as a CSV cell: None as empty, text that starts like a formula prefixed
    with an apostrophe (shown, not evaluated), anything else unchanged."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
