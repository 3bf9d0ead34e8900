"""The running figures (``figure_tallies`` by day and ``figure_month_tallies``, and what
``load_facts`` reads from them for any period) equal a full recount of every alert and counter
batch after any sequence of what nodes and operators do: alerts (retried too), counter
batches (with and without a period, across midnight and a month's end), adjudications
changed back and forth, outcomes and groups recorded and changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from alembic import command
from figures_helpers import A_START
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from platform_helpers import (
    HEAD_REVISION,
    WATCHLIST_MODEL,
    Scenario,
    activate_at,
    authorise_ahead,
    ok,
)
from sqlalchemy import inspect, select

from openlfr.services import figures
from openlfr.storage import models as m
from openlfr.storage.db import alembic_config, current_revision, migrate

#: The deployment runs 8 hours from 20:00 on 31 March: its figures span two days and two
#: months.
HOURS = 8
ADJUDICATIONS = ("true_match", "false_match", "unclear")
OUTCOMES = ("arrest", "no_further_action", "not_engaged", "other")
GROUPS = (None, "White", "Asian or Asian British")

actions = st.lists(st.one_of(
    st.tuples(st.just("alert"), st.integers(0, HOURS * 60 - 5), st.booleans()),
    st.tuples(st.just("retry"), st.integers(0, 30)),
    st.tuples(st.just("counters"), st.integers(0, 5000), st.integers(0, 2000),
              st.one_of(st.none(), st.integers(5, HOURS * 60 - 5)), st.integers(0, 90)),
    st.tuples(st.just("adjudicate"), st.integers(0, 30), st.sampled_from(ADJUDICATIONS)),
    st.tuples(st.just("outcome"), st.integers(0, 30), st.sampled_from(OUTCOMES),
              st.sampled_from(GROUPS)),
), min_size=1, max_size=12)


def _nonzero(facts: figures.Facts) -> dict[int, dict[Any, dict[str, int]]]:
    return {dep: {day: {k: n for k, n in t.items() if n}
                  for day, t in days.items() if any(t.values())}
            for dep, days in facts.tallies.items()}


#: Periods a report may ask for around the deployment's two days (31 March and 1 April):
#: whole months, parts of months, both, open-ended.
_MARCH_31, _APRIL_1 = A_START.date(), A_START.date() + timedelta(days=1)
PERIODS: tuple[tuple[date | None, date | None], ...] = (
    (date(2026, 3, 1), date(2026, 4, 30)), (_MARCH_31, _MARCH_31), (_APRIL_1, _APRIL_1),
    (_MARCH_31, _APRIL_1), (date(2026, 3, 1), _MARCH_31), (date(2026, 3, 2), date(2026, 4, 30)),
    (date(2026, 3, 1), _APRIL_1), (date(2026, 1, 15), date(2026, 5, 15)), (None, _MARCH_31),
    (_APRIL_1, None), (date(2026, 4, 1), None), (None, date(2026, 3, 31)),
    (date(2026, 4, 2), date(2026, 6, 30)), (date(2026, 2, 1), date(2026, 2, 28)))


def _by_month_within(by_day: dict[int, dict[date, dict[str, int]]], start: date | None,
                     end: date | None) -> figures.Facts:
    """The recounted days within start..end, summed by month."""
    months: dict[int, dict[str, dict[str, int]]] = {dep: {} for dep in by_day}
    for dep, days in by_day.items():
        for day, counts in days.items():
            if (start is None or day >= start) and (end is None or day <= end):
                kept = months[dep].setdefault(figures.month_of(day), {})
                for name, n in counts.items():
                    kept[name] = kept.get(name, 0) + n
    return figures.Facts(months)  # type: ignore[arg-type]


def _second_opinion_watchlist(s: Scenario) -> int:
    """A watchlist that decides with a second opinion, of one entry (its id)."""
    planner = s.staff["planner"]
    ok(planner.post(s.url("/watchlist"), json={
        "descriptor_model": WATCHLIST_MODEL, "reference_model": "dlib:test"}), 201)
    return int(ok(planner.post(s.url("/watchlist/entries"), json={
        "subject_ref": "CASE-1", "category": "wanted_for_arrest", "source": "PNC",
        "authorised_by": "Insp. Example", "image_taken_on": "2026-01-10",
        "descriptors": [[0.1] * 128], "references": [[0.2] * 128]}), 201)["id"])


def _activate_with_second_opinion(s: Scenario) -> int:
    """The deployment governed ahead with that watchlist and activated at A_START for
    HOURS: the entry's id."""
    entry = authorise_ahead(s, A_START, A_START + timedelta(hours=HOURS),
                            lambda: _second_opinion_watchlist(s), second_opinion="dlib:test")
    s.clock.now = A_START
    ok(s.staff["operator"].post(s.url("/activate")))
    return entry


def test_running_figures_equal_a_recount_after_any_actions(scenario_on: Scenario) -> None:
    """On SQLite and on PostgreSQL (each writes the tallies its own way). The watchlist
    decides with a second opinion, so alerts come lifted by it and not."""
    s = scenario_on
    entry = _activate_with_second_opinion(s)
    s.clock.now = A_START + timedelta(hours=HOURS, minutes=-1)
    node, operator = s.staff.node(s.deployment_id), s.staff["operator"]
    p = s.staff.platform
    alerts: list[tuple[int, dict[str, Any]]] = []  # (id, the body posted)
    batches = [0]

    def post_alert(minutes: int, lifted: bool) -> None:
        body = {"alert_uid": f"alert-uid-{len(alerts)}", "camera": "cam-1", "score": 0.7,
                "track_id": f"t-{len(alerts)}", "entry_id": entry, "second_opinion": lifted,
                "occurred_at": (A_START + timedelta(minutes=minutes)).isoformat()}
        alerts.append((ok(node.post(f"/api/node/deployments/{s.deployment_id}/alerts",
                                    json=body), 201)["id"], body))

    @settings(max_examples=30, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(actions)
    def run(sequence: list[tuple[Any, ...]]) -> None:
        for kind, *args in sequence:
            if kind == "alert":
                post_alert(*args)
            elif kind == "retry" and alerts:
                alert_id, body = alerts[args[0] % len(alerts)]
                again = ok(node.post(f"/api/node/deployments/{s.deployment_id}/alerts",
                                     json=body), 201)
                assert again["id"] == alert_id
            elif kind == "counters":
                faces, tracks, end_minutes, dropped = args
                batches[0] += 1
                body: dict[str, Any] = {"batch_id": f"batch-id-{batches[0]}", "faces_seen": faces,
                                        # every track starts with a detected face
                                        "tracks": min(tracks, faces),
                                        "frames_processed": faces * 3,
                                        "frames_dropped": dropped,
                                        "frames_near_behind": faces % 7 + dropped}
                if end_minutes is not None:
                    body["period_start"] = (A_START + timedelta(minutes=end_minutes - 5)
                                            ).isoformat()
                    body["period_end"] = (A_START + timedelta(minutes=end_minutes)).isoformat()
                ok(node.post(f"/api/node/deployments/{s.deployment_id}/counters", json=body),
                   201)
            elif kind == "adjudicate" and alerts:
                alert_id, _ = alerts[args[0] % len(alerts)]
                ok(operator.post(f"/api/alerts/{alert_id}/adjudication",
                                 json={"adjudication": args[1]}))
            elif kind == "outcome" and alerts:
                alert_id, _ = alerts[args[0] % len(alerts)]
                outcome: dict[str, Any] = {"outcome": args[1]}
                if args[2] is not None:
                    outcome["demographic_group"] = args[2]
                answer = operator.post(f"/api/alerts/{alert_id}/outcome", json=outcome)
                assert answer.status_code in (200, 409), answer.text  # 409: still pending
        with p.sessions() as session:
            running = figures.load_facts(session, [s.deployment_id])
            recount, recount_by_day = figures.recount_facts(session, [s.deployment_id])
            kept_by_day: dict[int, dict[Any, dict[str, int]]] = {s.deployment_id: {}}
            for row in session.scalars(select(m.FigureTally)):
                kept_by_day[row.deployment_id].setdefault(row.day, {})[row.name] = row.value
            kept_by_month: dict[int, dict[Any, dict[str, int]]] = {s.deployment_id: {}}
            for month_row in session.scalars(select(m.FigureMonthTally)):
                kept_by_month[month_row.deployment_id].setdefault(
                    month_row.month, {})[month_row.name] = month_row.value
            in_periods = {period: figures.load_facts(session, [s.deployment_id], *period)
                          for period in PERIODS}
        assert _nonzero(running) == _nonzero(recount)
        assert _nonzero(figures.Facts(kept_by_day)) == _nonzero(  # type: ignore[arg-type]
            figures.Facts(recount_by_day))  # type: ignore[arg-type]
        assert _nonzero(figures.Facts(kept_by_month)) == _nonzero(  # type: ignore[arg-type]
            recount)
        for (start, end), facts in in_periods.items():
            assert _nonzero(facts) == _nonzero(_by_month_within(
                recount_by_day, start, end)), (start, end)
        ids = [s.deployment_id]
        assert running.total(ids) == recount.total(ids)
        assert running.by_month(ids) == recount.by_month(ids)

    run()
    assert len(alerts) > 10 and batches[0] > 10  # the sequences did reach every kind
    assert {body["second_opinion"] for _, body in alerts} == {True, False}
    # A rebuild (after a migration, or rows changed outside the use cases) replaces both
    # tables by the same recount.
    with p.sessions.begin() as session:
        before = figures.load_facts(session, [s.deployment_id])
        figures.rebuild_tallies(session, [s.deployment_id])
    with p.sessions() as session:
        assert _nonzero(figures.load_facts(session, [s.deployment_id])) == _nonzero(before)
        assert _nonzero(figures.load_facts(session, [s.deployment_id], *PERIODS[1])) == \
            _nonzero(_by_month_within(figures.recount_facts(session, [s.deployment_id])[1],
                                      *PERIODS[1]))


def test_migration_0008_fills_the_month_tallies_of_what_was_recorded(scenario_on: Scenario
                                                                       ) -> None:
    """A database at 0007 (day tallies only) migrated to the head (0008 adds the month
    tallies, 0010 recounts): the month tallies hold the recount of the alerts and batches
    already recorded, and the figures read the same."""
    s = scenario_on
    entry = activate_at(s, A_START, hours=HOURS)
    s.clock.now = A_START + timedelta(hours=HOURS, minutes=-1)
    node = s.staff.node(s.deployment_id)
    p = s.staff.platform
    for i, minutes in enumerate((10, 200, 300, 470)):  # both sides of midnight, 31 March
        ok(node.post(f"/api/node/deployments/{s.deployment_id}/alerts", json={
            "alert_uid": f"before-0008-{i}", "camera": "cam-1", "score": 0.7,
            "track_id": f"t-{i}", "entry_id": entry,
            "occurred_at": (A_START + timedelta(minutes=minutes)).isoformat()}), 201)
        ok(node.post(f"/api/node/deployments/{s.deployment_id}/counters", json={
            "batch_id": f"before-0008-{i}", "faces_seen": 100 + i, "tracks": 10,
            "period_start": (A_START + timedelta(minutes=minutes - 5)).isoformat(),
            "period_end": (A_START + timedelta(minutes=minutes)).isoformat()}), 201)
    with p.sessions() as session:
        before = figures.load_facts(session, [s.deployment_id])
    assert set(before.tallies[s.deployment_id]) == {"2026-03", "2026-04"}
    # Back to 0007 (no month tallies) by the migrations' own downgrades, then up again.
    command.downgrade(alembic_config(p.engine), "0007")
    assert "figure_month_tallies" not in inspect(p.engine).get_table_names()
    migrate(p.engine)
    assert current_revision(p.engine) == HEAD_REVISION
    with p.sessions() as session:
        after = figures.load_facts(session, [s.deployment_id])
        recount, _ = figures.recount_facts(session, [s.deployment_id])
        months = {(row.month, row.name): row.value
                  for row in session.scalars(select(m.FigureMonthTally))}
    assert _nonzero(after) == _nonzero(before) == _nonzero(recount)
    assert {month: {name: n for (mo, name), n in months.items() if mo == month and n}
            for month in ("2026-03", "2026-04")} == _nonzero(recount)[s.deployment_id]


def test_migration_0010_counts_the_alerts_the_second_opinion_lifted_before(
        scenario_on: Scenario) -> None:
    """Alerts lifted by the second opinion recorded before 0010 (tallies without their
    count): the migrations' recount (0010's, made since by 0011) counts them, and the
    false among them."""
    s = scenario_on
    p = s.staff.platform
    entry = _activate_with_second_opinion(s)
    s.clock.now = A_START + timedelta(hours=1)
    node = s.staff.node(s.deployment_id)
    ids = [ok(node.post(f"/api/node/deployments/{s.deployment_id}/alerts", json={
        "alert_uid": f"lifted-{i}", "camera": "cam-1", "score": 0.7, "track_id": f"t-{i}",
        "entry_id": entry, "second_opinion": i < 2,
        "occurred_at": (A_START + timedelta(minutes=10 + i)).isoformat()}), 201)["id"]
        for i in range(3)]
    ok(s.staff["operator"].post(f"/api/alerts/{ids[0]}/adjudication",
                                json={"adjudication": "false_match"}))
    with p.sessions() as session:
        before = figures.load_facts(session, [s.deployment_id]).total([s.deployment_id])
    assert (before.second_opinion_alerts, before.second_opinion_false_alerts) == (2, 1)

    command.downgrade(alembic_config(p.engine), "0009")  # drops those two tallies
    with p.sessions() as session:
        at_0009 = figures.load_facts(session, [s.deployment_id]).total([s.deployment_id])
    assert (at_0009.alerts, at_0009.second_opinion_alerts) == (3, 0)
    migrate(p.engine)
    assert current_revision(p.engine) == HEAD_REVISION
    with p.sessions() as session:
        after = figures.load_facts(session, [s.deployment_id]).total([s.deployment_id])
    assert after == before


def test_migration_0011_counts_the_frames_searched_near_the_tracks_to_keep_up(
        scenario_on: Scenario) -> None:
    """A batch's frames searched near the tracks are counted and published; down to 0010
    the column and its tally go, the other counts stay; up again they count 0."""
    s = scenario_on
    activate_at(s, A_START, hours=HOURS)
    s.clock.now = A_START + timedelta(hours=1)
    p = s.staff.platform
    node = s.staff.node(s.deployment_id)
    ok(node.post(f"/api/node/deployments/{s.deployment_id}/counters", json={
        "batch_id": "batch-0011", "faces_seen": 30, "tracks": 9, "frames_processed": 500,
        "frames_dropped": 7, "frames_near_behind": 40}), 201)
    with p.sessions() as session:
        before = figures.load_facts(session, [s.deployment_id]).total([s.deployment_id])
    assert (before.frames_dropped, before.frames_near_behind) == (7, 40)
    assert figures.figure_values(before)["frames_near_behind"] == 40

    command.downgrade(alembic_config(p.engine), "0010")
    assert "frames_near_behind" not in {
        c["name"] for c in inspect(p.engine).get_columns("counter_batches")}
    migrate(p.engine)
    assert current_revision(p.engine) == HEAD_REVISION
    with p.sessions() as session:
        after = figures.load_facts(session, [s.deployment_id]).total([s.deployment_id])
    assert after == replace(before, frames_near_behind=0)
