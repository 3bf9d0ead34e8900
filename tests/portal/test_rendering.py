"""Shared page formatting."""

from __future__ import annotations

from datetime import UTC, date, datetime

from openlfr.web.pages.rendering import day, when, words


def test_dates_read_as_people_write_them() -> None:
    # London first (GMT in winter, BST in summer), UTC beside it; dates by London's calendar.
    assert when(datetime(2026, 3, 2, 9, 5, tzinfo=UTC)) == "Mon 2 March 2026, 09:05 GMT (09:05 UTC)"
    assert when(datetime(2026, 7, 12, 23, 30, tzinfo=UTC)) == (
        "Mon 13 July 2026, 00:30 BST (23:30 UTC)")
    assert day(datetime(2026, 7, 12, 23, 30, tzinfo=UTC)) == "13 July 2026"
    assert day(date(2026, 3, 2)) == "2 March 2026" and when(None) == ""
    assert words("council_officials") == "council officials"
