"""A watchlist holds descriptors of one length: an entry of another length (which a node
could match against nothing, or crash on) is refused with the lengths, and descriptors
that are not lists of finite numbers are refused as input."""

from __future__ import annotations

import sqlalchemy as sa
from platform_helpers import Scenario, ok

from openlfr.storage import models as m

ENTRY = {"subject_ref": "CASE-2", "category": "wanted_for_arrest", "source": "PNC",
         "authorised_by": "Insp. Example", "image_taken_on": "2026-01-10"}


def _entries(s: Scenario) -> int:
    with s.staff.platform.sessions() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(m.WatchlistEntry)) or 0


def test_a_descriptor_of_another_length_is_refused(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    s.watchlist()  # one entry of 128 numbers
    planner = s.staff["planner"]
    for length in (127, 129, 512):
        r = planner.post(s.url("/watchlist/entries"),
                         json={**ENTRY, "descriptors": [[0.01] * length]})
        assert r.status_code == 422, r.text
        assert "have 128 numbers" in r.text and f"these have {length}" in r.text
    assert _entries(s) == 1
    ok(planner.post(s.url("/watchlist/entries"), json={**ENTRY, "descriptors": [[0.02] * 128]}),
       201)
    assert _entries(s) == 2


def test_descriptors_that_are_not_numbers_are_refused(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    s.watchlist()
    planner = s.staff["planner"]
    for bad in ("0.1,0.2", [["0.1"] * 128], [[[0.1]] * 128], [[0.1] * 128, [0.1] * 64], [],
                [[0.1] * 8]):
        r = planner.post(s.url("/watchlist/entries"), json={**ENTRY, "descriptors": bad})
        assert r.status_code == 422, (bad, r.text)
    deep = '{"descriptors": ' + "[" * 50_000 + "]" * 50_000 + "}"
    r = planner.post(s.url("/watchlist/entries"), content=deep.encode(),
                     headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500
    assert _entries(s) == 1
