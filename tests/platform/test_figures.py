"""The published figures, computed once in services/figures.py: exact counts by month
from planted counter batches and adjudicated alerts, the rates and when they are blank,
the stops rule, false alerts by recorded group, and which deployments count."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from figures_helpers import (
    A_APRIL,
    A_MARCH,
    A_TOTAL,
    complete_a,
    run_deployment_a,
    run_deployment_b,
)
from platform_helpers import Scenario, ok

from openlfr.governance.records import STOP_OUTCOMES, Adjudication, AlertOutcome, is_stop
from openlfr.services import figures, public_view
from openlfr.services.figures import (
    FIGURE_COLUMNS,
    SUMMARY_COLUMNS,
    AlertFacts,
    CounterFacts,
    Figures,
    figure_values,
    month_of,
    months_between,
    row_values,
    shown,
    tally,
)


def test_stops_are_every_outcome_but_not_engaged() -> None:
    assert not is_stop(AlertOutcome.NOT_ENGAGED)
    assert not is_stop(None)
    for outcome in (AlertOutcome.ARREST, AlertOutcome.NO_FURTHER_ACTION,
                    AlertOutcome.WORDS_OF_ADVICE, AlertOutcome.SAFEGUARDING,
                    AlertOutcome.OTHER):
        assert is_stop(outcome), outcome
    assert set(AlertOutcome) - STOP_OUTCOMES == {AlertOutcome.NOT_ENGAGED}


def test_rates_are_blank_when_there_is_nothing_to_divide_by() -> None:
    empty = Figures()
    assert empty.false_alerts_per_adjudicated_alert is None
    assert empty.false_alerts_per_1000_tracks is None
    day = date(2026, 4, 2)
    # Alerts but no counts of faces (a node that never sent its counters): no per-face rate.
    no_faces = tally([], [AlertFacts("2026-04", day, Adjudication.FALSE_MATCH)])
    assert no_faces.false_alerts_per_adjudicated_alert == 1.0
    assert no_faces.false_alerts_per_1000_tracks is None
    assert figure_values(no_faces)["false_alerts_per_1000_tracks"] is None
    # Faces but no alerts: a rate of zero per face, none per alert.
    quiet = tally([CounterFacts("2026-04", day, 2500, 900)], [])
    assert quiet.false_alerts_per_1000_tracks == 0.0
    assert quiet.false_alerts_per_adjudicated_alert is None


def test_alerts_nobody_decided_on_are_not_counted_true() -> None:
    """Six alerts left undecided and one decided false: the rate is 1 of 1 decided, not 1
    of 7; with none decided there is no rate at all (not 0%), and the six show as pending."""
    day = date(2026, 4, 2)
    pending = [AlertFacts("2026-04", day, Adjudication.PENDING)] * 6
    undecided = tally([], pending)
    assert undecided.pending == 6 and undecided.adjudicated == 0
    assert undecided.false_alerts_per_adjudicated_alert is None
    assert figure_values(undecided)["false_alerts_per_adjudicated_alert"] is None
    one_false = tally([], [*pending, AlertFacts("2026-04", day, Adjudication.FALSE_MATCH)])
    assert one_false.false_alerts_per_adjudicated_alert == 1.0


def test_unclear_alerts_bound_the_rate_from_above() -> None:
    """Ten people stopped and released (no further action), every alert marked unclear:
    the rate per adjudicated alert is 0%, so the most it can be (unclear counted as
    false) is published beside it, 100%, wherever the rate is."""
    day = date(2026, 4, 2)
    unclear = tally([CounterFacts("2026-04", day, 30000, 1000)],
                    [AlertFacts("2026-04", day, Adjudication.UNCLEAR,
                                AlertOutcome.NO_FURTHER_ACTION)] * 10)
    assert unclear.false_alerts_per_adjudicated_alert == 0.0
    assert unclear.false_or_unclear_per_adjudicated_alert == 1.0
    values = figure_values(unclear)
    assert values["false_or_unclear_per_adjudicated_alert"] == 1.0
    assert shown("false_or_unclear_per_adjudicated_alert", 1.0) == "100.0%"
    assert "false_or_unclear_per_adjudicated_alert" in SUMMARY_COLUMNS
    assert Figures().false_or_unclear_per_adjudicated_alert is None
    mixed = tally([], [AlertFacts("2026-04", day, Adjudication.FALSE_MATCH),
                       AlertFacts("2026-04", day, Adjudication.TRUE_MATCH),
                       AlertFacts("2026-04", day, Adjudication.UNCLEAR),
                       AlertFacts("2026-04", day, Adjudication.PENDING)])
    assert (mixed.false_alerts_per_adjudicated_alert,
            mixed.false_or_unclear_per_adjudicated_alert) == (1 / 3, 2 / 3)


def test_tally_counts_groups_only_for_false_alerts() -> None:
    day = date(2026, 4, 2)
    f = tally([CounterFacts("2026-04", day, 3000, 1000)], [
        AlertFacts("2026-04", day, Adjudication.FALSE_MATCH, AlertOutcome.NOT_ENGAGED, "g1"),
        AlertFacts("2026-04", day, Adjudication.FALSE_MATCH, AlertOutcome.WORDS_OF_ADVICE,
                   "g1"),
        AlertFacts("2026-04", day, Adjudication.FALSE_MATCH, None, None),
        # A group recorded on a confirmed alert is not a false alert's group.
        AlertFacts("2026-04", day, Adjudication.TRUE_MATCH, AlertOutcome.ARREST, "g2"),
    ])
    assert f.false_alerts_by_group == {"g1": 2}
    assert f.false_alerts_group_not_recorded == 1
    assert (f.stops, f.arrests, f.false_alerts_per_1000_tracks) == (2, 1, 3.0)
    assert f.outcome_not_recorded == 1


def test_tally_counts_the_alerts_the_second_opinion_lifted_and_the_false_among_them() -> None:
    day = date(2026, 4, 2)
    f = tally([], [
        AlertFacts("2026-04", day, Adjudication.FALSE_MATCH, second_opinion=True),
        AlertFacts("2026-04", day, Adjudication.TRUE_MATCH, second_opinion=True),
        AlertFacts("2026-04", day, Adjudication.PENDING, second_opinion=True),
        AlertFacts("2026-04", day, Adjudication.FALSE_MATCH),  # the engine alone
    ])
    assert (f.alerts, f.false_alerts) == (4, 2)
    assert (f.second_opinion_alerts, f.second_opinion_false_alerts) == (3, 1)
    values = figure_values(f + f)
    assert (values["second_opinion_alerts"], values["second_opinion_false_alerts"]) == (6, 2)


def test_values_follow_the_published_column_order() -> None:
    assert tuple(figure_values(Figures())) == FIGURE_COLUMNS
    groups = tally([], [AlertFacts("2026-04", date(2026, 4, 2), Adjudication.FALSE_MATCH,
                                   None, "g1")])
    assert tuple(row_values(groups)) == (*FIGURE_COLUMNS, "false_alerts_group:g1")


def test_months() -> None:
    assert month_of(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == "2026-12"
    assert months_between("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert months_between("2026-03", "2026-02") == []


def test_deployment_figures_by_month_from_planted_counts_and_alerts(
        scenario: Scenario) -> None:
    s = scenario
    run_deployment_a(s)
    result = figures.deployment_figures(s.staff.platform, s.deployment_id)
    assert [mf.month for mf in result.by_month] == ["2026-03", "2026-04"]
    march, april = (row_values(mf.figures) for mf in result.by_month)
    # A batch counts in the month its period ended, else the month it was received; an
    # alert in the month it occurred.
    assert {k: march.get(k, 0) for k in A_MARCH} == A_MARCH
    assert {k: april.get(k, 0) for k in A_APRIL} == A_APRIL
    assert {k: row_values(result.total).get(k, 0) for k in A_TOTAL} == A_TOTAL
    assert result.total == result.by_month[0].figures + result.by_month[1].figures

    # The public API's figures come from the same place.
    public = public_view.public_deployment(s.staff.platform, s.reference).figures
    assert (public.faces_seen, public.alerts, public.confirmed, public.false_alerts,
            public.unclear, public.pending) == (4500, 8, 3, 3, 1, 1)
    assert public.outcomes == {"arrest": 1, "no_further_action": 1, "not_engaged": 2,
                               "other": 1, "words_of_advice": 1}


def test_published_figures_cover_deployments_that_ran_in_total_and_by_month(
        scenario: Scenario) -> None:
    s = scenario
    run_deployment_a(s)
    a_reference = s.reference
    complete_a(s)
    b = Scenario(s.staff, s.clock)
    run_deployment_b(b)
    # Published but not yet run: no figures, not listed.
    c = Scenario(s.staff, s.clock)
    c.draft(start_at=(s.clock.now + timedelta(days=30)).isoformat(),
            end_at=(s.clock.now + timedelta(days=30, hours=4)).isoformat())
    ok(s.staff["planner"].post(c.url("/propose")))
    ok(s.staff["planner"].post(c.url("/publish-notice")))

    published = figures.published_figures(s.staff.platform)
    assert [d.reference for d in published.deployments] == [b.reference, a_reference]
    # Every month from the first to the last, May included, April with nothing in between.
    assert [mf.month for mf in published.by_month] == ["2026-03", "2026-04", "2026-05"]
    total = row_values(published.total)
    assert total["faces_seen"] == 6500 and total["alerts"] == 10
    assert total["false_alerts"] == 4 and total["stops"] == 5 and total["arrests"] == 2
    assert total["false_alerts_per_adjudicated_alert"] == 0.4444  # 4 of the 9 decided (1 pending)
    assert total["false_alerts_per_1000_tracks"] == pytest.approx(1.9048, abs=1e-4)
    assert published.total.false_alerts_by_group == {"White": 2, "Asian or Asian British": 1}

    table = published.table()
    scopes = [(r["deployment"], r["month"]) for r in table.rows]
    assert scopes == [("all", "2026-03"), ("all", "2026-04"), ("all", "2026-05"),
                      ("all", "total"), (b.reference, "2026-05"), (b.reference, "total"),
                      (a_reference, "2026-03"), (a_reference, "2026-04"),
                      (a_reference, "total")]
    assert table.columns[-2:] == ("false_alerts_group:Asian or Asian British",
                                  "false_alerts_group:White")
    a_total = next(r for r in table.rows if r["deployment"] == a_reference
                   and r["month"] == "total")
    assert {k: a_total[k] for k in A_TOTAL} == A_TOTAL
