"""The published figures, computed in one place: faces seen and the other counters the
engine reports, alerts and how operators adjudicated them, what happened next (stops,
arrests and the other outcomes) and false alerts by recorded demographic group.

Every page, download, review and report reads its numbers from here, so they cannot
disagree. A counter batch counts in the month of its ``period_end`` (the node's clock),
or of ``received_at`` when the node sent no period; an alert counts in the month it
occurred. Months are calendar months in UTC, written ``YYYY-MM``.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, true
from sqlalchemy.orm import Session

from openlfr.governance.lifecycle import ended_at
from openlfr.governance.records import (
    STOP_OUTCOMES,
    Adjudication,
    AlertOutcome,
    counts_beyond_cameras,
)
from openlfr.services.common import deployment_or_404
from openlfr.services.overrides import went_ahead_despite
from openlfr.services.platform import Platform
from openlfr.services.tallies import add_to_tallies, month_of, write_pending_tallies
from openlfr.spreadsheet import csv_cell
from openlfr.storage import models as m

# --- the figures themselves --------------------------------------------------------------


@dataclass(frozen=True)
class CounterFacts:
    """One counter batch, as the figures need it."""

    month: str
    day: date
    faces_seen: int
    tracks: int
    frames_processed: int = 0
    frames_dropped: int = 0
    frames_near_behind: int = 0


@dataclass(frozen=True)
class AlertFacts:
    """One alert, as the figures need it: never who it was about."""

    month: str
    day: date
    adjudication: Adjudication
    outcome: AlertOutcome | None = None
    demographic_group: str | None = None
    second_opinion: bool = False
    """Whether the second opinion lifted it to the threshold."""


def _ratio(numerator: int, denominator: int, scale: int = 1) -> float | None:
    """numerator / denominator x scale; None when there is nothing to divide by."""
    if denominator == 0:
        return None
    return numerator * scale / denominator


@dataclass(frozen=True)
class Figures:
    """The published figures for a deployment, a month, an area or everything."""

    faces_seen: int = 0
    tracks: int = 0
    frames_processed: int = 0
    frames_dropped: int = 0
    #: live frames searched only near the tracks because the engine was behind
    frames_near_behind: int = 0
    alerts: int = 0
    confirmed: int = 0
    false_alerts: int = 0
    unclear: int = 0
    pending: int = 0
    #: alerts by recorded outcome (only outcomes that occurred)
    outcomes: Mapping[str, int] = field(default_factory=dict)
    #: false alerts by the demographic group the operator recorded (where recorded)
    false_alerts_by_group: Mapping[str, int] = field(default_factory=dict)
    #: alerts the second opinion lifted to the threshold (a watchlist that decides with
    #: one), and how many of those operators adjudicated false: what it added, and at
    #: what cost to passers-by
    second_opinion_alerts: int = 0
    second_opinion_false_alerts: int = 0
    #: Deployments in this scope whose node counted more faces passing than their cameras
    #: could have seen (``governance.records.counts_beyond_cameras``): no rate per face is
    #: published for the scope while one is in it.
    counts_beyond_cameras: int = 0

    @property
    def stops(self) -> int:
        """Alerts after which officers stopped the person (governance's STOP_OUTCOMES)."""
        return sum(self.outcomes.get(o.value, 0) for o in STOP_OUTCOMES)

    @property
    def arrests(self) -> int:
        return self.outcomes.get(AlertOutcome.ARREST.value, 0)

    @property
    def outcome_not_recorded(self) -> int:
        """Adjudicated alerts with no outcome recorded yet."""
        return self.alerts - self.pending - sum(self.outcomes.values())

    @property
    def false_alerts_group_not_recorded(self) -> int:
        return self.false_alerts - sum(self.false_alerts_by_group.values())

    @property
    def adjudicated(self) -> int:
        """Alerts an operator has decided on (confirmed, false or unclear)."""
        return self.alerts - self.pending

    @property
    def false_alerts_per_adjudicated_alert(self) -> float | None:
        """Share of the adjudicated alerts adjudicated false; None before any is. An alert
        nobody has decided on is neither true nor false: counted as either it would make
        the rate whatever the force leaves undecided, so it is left out here and shown
        beside it (``pending``)."""
        return _ratio(self.false_alerts, self.adjudicated)

    @property
    def false_or_unclear_per_adjudicated_alert(self) -> float | None:
        """The rate per adjudicated alert with unclear alerts counted as false. "Unclear"
        is a decision that never counts as false, so a force that marked every doubtful
        stop unclear would publish 0% false alerts; published beside the rate, the two
        bound what the adjudicated alerts say (pending ones, decided by nobody, are shown
        beside both). None before any alert is adjudicated."""
        return _ratio(self.false_alerts + self.unclear, self.adjudicated)

    @property
    def false_alerts_per_1000_tracks(self) -> float | None:
        """False alerts per 1,000 faces passing the cameras (tracks: one face followed
        across the frames it was seen on); None when none was counted. Not per face
        detection (``faces_seen``: each face on each frame it was found on, tens of times
        a person), which would make the rate look tens of times smaller than the share of
        passers-by stopped in error. None too where a deployment's counts are beyond its
        cameras (``counts_beyond_cameras``)."""
        if self.counts_beyond_cameras:
            return None
        return _ratio(self.false_alerts, self.tracks, 1000)

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            faces_seen=self.faces_seen + other.faces_seen,
            tracks=self.tracks + other.tracks,
            frames_processed=self.frames_processed + other.frames_processed,
            frames_dropped=self.frames_dropped + other.frames_dropped,
            frames_near_behind=self.frames_near_behind + other.frames_near_behind,
            alerts=self.alerts + other.alerts, confirmed=self.confirmed + other.confirmed,
            false_alerts=self.false_alerts + other.false_alerts,
            unclear=self.unclear + other.unclear, pending=self.pending + other.pending,
            outcomes=_sum_counts(self.outcomes, other.outcomes),
            false_alerts_by_group=_sum_counts(self.false_alerts_by_group,
                                              other.false_alerts_by_group),
            second_opinion_alerts=self.second_opinion_alerts + other.second_opinion_alerts,
            second_opinion_false_alerts=(self.second_opinion_false_alerts
                                         + other.second_opinion_false_alerts),
            counts_beyond_cameras=self.counts_beyond_cameras + other.counts_beyond_cameras)


def _sum_counts(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    total = dict(a)
    for key, n in b.items():
        total[key] = total.get(key, 0) + n
    return dict(sorted(total.items()))


def sum_figures(items: Iterable[Figures]) -> Figures:
    total = Figures()
    for f in items:
        total = total + f
    return total


def tally(counters: Iterable[CounterFacts], alerts: Iterable[AlertFacts]) -> Figures:
    """The figures for a set of counter batches and alerts."""
    return figures_of(_sum_tallies([
        *(_counter_counts(c.faces_seen, c.tracks, c.frames_processed, c.frames_dropped,
                          c.frames_near_behind) for c in counters),
        *(_alert_counts(a.adjudication.value, a.outcome.value if a.outcome else None,
                        a.demographic_group, a.second_opinion) for a in alerts)]))


# --- months -------------------------------------------------------------------------------


def months_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` inclusive (empty if first is after last)."""
    year, month = (int(x) for x in first.split("-"))
    end_year, end_month = (int(x) for x in last.split("-"))
    months = []
    while (year, month) <= (end_year, end_month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


@dataclass(frozen=True)
class MonthFigures:
    month: str
    figures: Figures


# --- running aggregates -------------------------------------------------------------------
#
# The figures are sums, so they are kept as running totals (``m.FigureTally``): per
# deployment, per day (UTC) and per named count. The use case that records an alert, an
# adjudication, an outcome or a counter batch adds its change in the same transaction
# (``counter_batch_recorded``, ``alert_recorded``, ``alert_changed``); everything that shows
# figures adds the tallies up (``load_facts``). ``recount_facts`` derives the same tallies
# from every row: the tests hold the two equal, and ``rebuild_tallies`` repairs them. How a
# tally is written (and a transaction's additions summed before writing) is in
# ``services.tallies``.

#: Tally names. Counters from batches; alerts by adjudication, outcome and, for false
#: alerts, the recorded group; alerts the second opinion lifted, and of those the false.
COUNTER_BATCHES = "counter_batches"
COUNTER_NAMES = ("faces_seen", "tracks", "frames_processed", "frames_dropped",
                 "frames_near_behind")
ALERTS = "alerts"
SECOND_OPINION_ALERTS = "second_opinion_alerts"
SECOND_OPINION_FALSE_ALERTS = "second_opinion_false_alerts"
ADJUDICATION_PREFIX = "adjudication:"
OUTCOME_PREFIX = "outcome:"
FALSE_GROUP_PREFIX = "false_group:"

#: One day's tallies: name -> count.
Tally = Mapping[str, int]


def _utc_day(moment: datetime) -> date:
    return (moment.astimezone(UTC) if moment.tzinfo is not None else moment).date()


def counter_batch_tally(batch: m.CounterBatch) -> tuple[date, dict[str, int]]:
    """The day a counter batch counts on (its period's end, else when it was received)
    and what it adds."""
    return _utc_day(batch.period_end or batch.received_at), _counter_counts(
        batch.faces_seen, batch.tracks, batch.frames_processed, batch.frames_dropped,
        batch.frames_near_behind)


def _counter_counts(faces_seen: int, tracks: int, frames_processed: int | None,
                    frames_dropped: int | None, frames_near_behind: int | None
                    ) -> dict[str, int]:
    return {COUNTER_BATCHES: 1, "faces_seen": faces_seen, "tracks": tracks,
            "frames_processed": frames_processed or 0, "frames_dropped": frames_dropped or 0,
            "frames_near_behind": frames_near_behind or 0}


def alert_tally(alert: m.Alert) -> tuple[date, dict[str, int]]:
    """The day an alert counts on (when it occurred) and what it adds as it stands now."""
    return _utc_day(alert.occurred_at), _alert_counts(
        alert.adjudication, alert.outcome, alert.demographic_group, alert.second_opinion)


def _alert_counts(adjudication: str, outcome: str | None, group: str | None,
                  second_opinion: bool) -> dict[str, int]:
    """What one alert adds: itself, its adjudication, its outcome, for a false alert the
    group the operator recorded (a group on any other alert is not counted) and, when
    the second opinion lifted it, that (and whether it was false)."""
    counts = {ALERTS: 1, ADJUDICATION_PREFIX + adjudication: 1}
    if outcome:
        counts[OUTCOME_PREFIX + outcome] = 1
    false = adjudication == Adjudication.FALSE_MATCH.value
    if false and group:
        counts[FALSE_GROUP_PREFIX + group] = 1
    if second_opinion:
        counts[SECOND_OPINION_ALERTS] = 1
        if false:
            counts[SECOND_OPINION_FALSE_ALERTS] = 1
    return counts


def counter_batch_recorded(session: Session, batch: m.CounterBatch) -> None:
    """Count a newly recorded batch in its deployment's figures (same transaction)."""
    day, counts = counter_batch_tally(batch)
    add_to_tallies(session, batch.deployment_id, day, counts)


def alert_recorded(session: Session, alert: m.Alert) -> None:
    """Count a newly recorded alert in its deployment's figures (same transaction)."""
    day, counts = alert_tally(alert)
    add_to_tallies(session, alert.deployment_id, day, counts)


def alert_changed(session: Session, alert: m.Alert,
                  before: tuple[date, Mapping[str, int]]) -> None:
    """Move an alert's contribution from ``before`` (``alert_tally`` taken before the
    change) to what it adds now (same transaction)."""
    before_day, before_counts = before
    after_day, after_counts = alert_tally(alert)
    if before_day != after_day:
        add_to_tallies(session, alert.deployment_id, before_day,
                       {k: -n for k, n in before_counts.items()})
        add_to_tallies(session, alert.deployment_id, after_day, after_counts)
        return
    add_to_tallies(session, alert.deployment_id, after_day,
                   {k: after_counts.get(k, 0) - before_counts.get(k, 0)
                    for k in {*before_counts, *after_counts}})


def figures_of(tally: Tally) -> Figures:
    """The figures that a sum of tallies stands for."""
    def prefixed(prefix: str) -> dict[str, int]:
        return dict(sorted((k.removeprefix(prefix), n) for k, n in tally.items()
                           if k.startswith(prefix) and n))

    return Figures(
        faces_seen=tally.get("faces_seen", 0), tracks=tally.get("tracks", 0),
        frames_processed=tally.get("frames_processed", 0),
        frames_dropped=tally.get("frames_dropped", 0),
        frames_near_behind=tally.get("frames_near_behind", 0), alerts=tally.get(ALERTS, 0),
        confirmed=tally.get(ADJUDICATION_PREFIX + Adjudication.TRUE_MATCH.value, 0),
        false_alerts=tally.get(ADJUDICATION_PREFIX + Adjudication.FALSE_MATCH.value, 0),
        unclear=tally.get(ADJUDICATION_PREFIX + Adjudication.UNCLEAR.value, 0),
        pending=tally.get(ADJUDICATION_PREFIX + Adjudication.PENDING.value, 0),
        outcomes=prefixed(OUTCOME_PREFIX), false_alerts_by_group=prefixed(FALSE_GROUP_PREFIX),
        second_opinion_alerts=tally.get(SECOND_OPINION_ALERTS, 0),
        second_opinion_false_alerts=tally.get(SECOND_OPINION_FALSE_ALERTS, 0))


def _sum_tallies(tallies: Iterable[Tally]) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for t in tallies:
        for name, n in t.items():
            total[name] += n
    return total


@dataclass(frozen=True)
class Facts:
    """The tallies of some deployments by month: deployment id -> "YYYY-MM" -> name ->
    count."""

    tallies: Mapping[int, Mapping[str, Tally]]
    #: The deployments whose counts are beyond their cameras (``judged``).
    beyond_cameras: frozenset[int] = frozenset()

    def recorded_anything(self, deployment_id: int) -> bool:
        """Whether a counter batch or an alert of the deployment counts here."""
        return any(t.get(COUNTER_BATCHES) or t.get(ALERTS)
                   for t in self.tallies.get(deployment_id, {}).values())

    def _months(self, deployment_ids: Iterable[int]) -> list[tuple[str, Tally]]:
        return [item for i in deployment_ids for item in self.tallies.get(i, {}).items()]

    def total(self, deployment_ids: Iterable[int]) -> Figures:
        ids = list(deployment_ids)
        return replace(figures_of(_sum_tallies(t for _, t in self._months(ids))),
                       counts_beyond_cameras=len(self.beyond_cameras.intersection(ids)))

    def by_month(self, deployment_ids: Iterable[int],
                 months: Sequence[str] | None = None) -> list[MonthFigures]:
        """Figures for each month; by default every month from the first with anything
        recorded to the last (months with nothing in between included, as zeros)."""
        by_month: dict[str, list[Tally]] = defaultdict(list)
        beyond: dict[str, int] = defaultdict(int)
        for i in deployment_ids:
            for month, t in self.tallies.get(i, {}).items():
                if any(t.values()):
                    by_month[month].append(t)
                    beyond[month] += i in self.beyond_cameras
        if months is None:
            seen = sorted(by_month)
            months = months_between(seen[0], seen[-1]) if seen else []
        return [MonthFigures(mo, replace(figures_of(_sum_tallies(by_month.get(mo, []))),
                                         counts_beyond_cameras=beyond.get(mo, 0)))
                for mo in months]

    def judged(self, deployments: Iterable[m.Deployment]) -> Facts:
        """These facts with the deployments whose counts are beyond their cameras marked:
        more faces passing than ``counts_beyond_cameras`` allows in the time from their
        activation to their end (completion, or the published end if earlier)."""
        beyond = frozenset(
            d.id for d in deployments if d.activated_at is not None and counts_beyond_cameras(
                sum(t.get("tracks", 0) for t in self.tallies.get(d.id, {}).values()),
                d.camera_count,
                (ended_at(d.end_at, d.completed_at) - d.activated_at).total_seconds()))
        return replace(self, beyond_cameras=beyond)


def _month_column(session: Session | Connection) -> Any:
    """The tally's day as "YYYY-MM", in SQL."""
    bind = session.get_bind() if isinstance(session, Session) else session
    if bind.dialect.name == "postgresql":
        return func.to_char(m.FigureTally.day, "YYYY-MM")
    return func.strftime("%Y-%m", m.FigureTally.day)


def _first_of_next_month(day: date) -> date | None:
    """The first day of the month after ``day``'s (None after the last representable)."""
    try:
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    except ValueError:
        return None


def _whole_months(start: date | None, end: date | None
                  ) -> tuple[date | None, date | None] | None:
    """The calendar months wholly within ``start``..``end`` (both included; None: open),
    as (their first day, the first day after them; None: open), or None when no month is
    wholly within."""
    first = start if start is None or start.day == 1 else _first_of_next_month(start)
    after: date | None = None
    if end is not None:
        after = end + timedelta(days=1) if end < date.max else None
        if after is not None and after.day != 1:
            after = after.replace(day=1)
    if first is None and start is not None:
        return None
    if first is not None and after is not None and first >= after:
        return None
    return first, after


def load_facts(session: Session, deployment_ids: Iterable[int], start: date | None = None,
               end: date | None = None) -> Facts:
    """The running tallies of ``deployment_ids`` by month: a few rows per month a
    deployment ran, however many days it ran and alerts and batches it recorded; only the
    days from ``start`` to ``end`` (both included) when given (a month the period covers
    in part is summed from its days)."""
    ids = list(deployment_ids)
    tallies: dict[int, dict[str, dict[str, int]]] = {i: {} for i in ids}
    if not ids:
        return Facts(tallies)
    write_pending_tallies(session)

    def add(rows: Iterable[Any]) -> None:
        for dep, mo, name, value in rows:
            kept = tallies[dep].setdefault(mo, {})
            kept[name] = kept.get(name, 0) + int(value)

    whole = _whole_months(start, end)
    days = m.FigureTally.day
    if whole is None:  # no month wholly in the period: its days
        day_ranges = [(start, end)]
    else:
        first, after = whole
        query = select(m.FigureMonthTally.deployment_id, m.FigureMonthTally.month,
                       m.FigureMonthTally.name, m.FigureMonthTally.value
                       ).where(m.FigureMonthTally.deployment_id.in_(ids))
        if first is not None:
            query = query.where(m.FigureMonthTally.month >= month_of(first))
        if after is not None:
            query = query.where(m.FigureMonthTally.month < month_of(after))
        add(session.execute(query))
        day_ranges = []  # the days before and after the whole months
        if start is not None and first is not None and start < first:
            day_ranges.append((start, first - timedelta(days=1)))
        if end is not None and after is not None and after <= end:
            day_ranges.append((after, end))
    if day_ranges:
        month = _month_column(session)
        add(session.execute(
            select(m.FigureTally.deployment_id, month, m.FigureTally.name,
                   func.sum(m.FigureTally.value))
            .where(m.FigureTally.deployment_id.in_(ids))
            .where(or_(*(and_(days >= low if low is not None else true(),
                              days <= high if high is not None else true())
                         for low, high in day_ranges)))
            .group_by(m.FigureTally.deployment_id, month, m.FigureTally.name)))
    return Facts(tallies)


def recount_facts(session: Session | Connection, deployment_ids: Iterable[int]
                  ) -> tuple[Facts, dict[int, dict[date, dict[str, int]]]]:
    """The same tallies as ``load_facts`` (by month), and by day as ``figure_tallies``
    keeps them, recounted from every counter batch and alert (only the columns the
    figures need: no subject, camera or photo)."""
    ids = list(deployment_ids)
    tallies: dict[int, dict[str, dict[str, int]]] = {i: {} for i in ids}
    by_day: dict[int, dict[date, dict[str, int]]] = {i: {} for i in ids}
    if not ids:
        return Facts(tallies), by_day

    def add(deployment_id: int, day: date, counts: Mapping[str, int]) -> None:
        kept = by_day[deployment_id].setdefault(day, {})
        for name, n in counts.items():
            kept[name] = kept.get(name, 0) + n

    for batch in session.execute(select(
            m.CounterBatch.deployment_id, m.CounterBatch.faces_seen, m.CounterBatch.tracks,
            m.CounterBatch.frames_processed, m.CounterBatch.frames_dropped,
            m.CounterBatch.frames_near_behind, m.CounterBatch.period_end,
            m.CounterBatch.received_at,
    ).where(m.CounterBatch.deployment_id.in_(ids))):
        add(batch.deployment_id, *counter_batch_tally(batch))  # type: ignore[arg-type]
    for alert in session.execute(select(
            m.Alert.deployment_id, m.Alert.occurred_at, m.Alert.adjudication, m.Alert.outcome,
            m.Alert.demographic_group, m.Alert.second_opinion,
    ).where(m.Alert.deployment_id.in_(ids))):
        add(alert.deployment_id, *alert_tally(alert))  # type: ignore[arg-type]
    for dep, days in by_day.items():
        for day, counts in days.items():
            month = tallies[dep].setdefault(month_of(day), {})
            for name, n in counts.items():
                month[name] = month.get(name, 0) + n
    return Facts(tallies), by_day


def rebuild_tallies(session: Session | Connection,
                    deployment_ids: Iterable[int] | None = None) -> None:
    """Replace the tallies of ``deployment_ids`` (default: every deployment) by a full
    recount: after a migration, or after rows were changed outside the use cases."""
    ids = (list(deployment_ids) if deployment_ids is not None
           else list(session.scalars(select(m.Deployment.id))))
    if not ids:
        return
    write_pending_tallies(session)
    for table in (m.FigureTally, m.FigureMonthTally):
        session.execute(delete(table).where(table.deployment_id.in_(ids)))
    for dep, days in recount_facts(session, ids)[1].items():
        for day, counts in days.items():
            add_to_tallies(session, dep, day, counts)


# --- what is published ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeploymentFigures:
    """One deployment's figures, by month and in total."""

    deployment_id: int
    reference: str
    title: str
    borough: str
    ward: str | None
    start_at: datetime
    end_at: datetime
    by_month: list[MonthFigures]
    total: Figures
    #: The failed checks it went ahead despite (a countersigned override): the open data
    #: says how many, beside its figures.
    went_ahead_despite: tuple[str, ...] = ()


def _deployment_figures(session: Session, d: m.Deployment, facts: Facts) -> DeploymentFigures:
    return DeploymentFigures(d.id, d.reference, d.title, d.borough, d.ward, d.start_at,
                             d.end_at, facts.by_month([d.id]), facts.total([d.id]),
                             tuple(went_ahead_despite(session, d.id)))


def deployment_figures_in(session: Session, deployment: m.Deployment) -> DeploymentFigures:
    """One deployment's figures, read in the caller's transaction."""
    return _deployment_figures(session, deployment, load_facts(
        session, [deployment.id]).judged([deployment]))


def deployment_figures(p: Platform, deployment_id: int) -> DeploymentFigures:
    """One deployment's figures, whatever its status (callers decide who may see them)."""
    with p.sessions() as s:
        return deployment_figures_in(s, deployment_or_404(s, deployment_id))


def deployments_that_ran(session: Session) -> list[m.Deployment]:
    """Deployments that have been active (only these have figures), whatever their status
    now, newest start first: what a deployment did stays in every total, even if it was
    later sent back to notice by an amendment (or, before that was refused, cancelled)."""
    return list(session.scalars(select(m.Deployment).where(
        m.Deployment.activated_at.is_not(None),
    ).order_by(m.Deployment.start_at.desc(), m.Deployment.id.desc())))


@dataclass(frozen=True)
class PublishedFigures:
    """Everything the transparency dashboard shows: all published deployments by month and
    in total, and each deployment by month and in total."""

    by_month: list[MonthFigures]
    total: Figures
    deployments: list[DeploymentFigures]

    def table(self) -> FiguresTable:
        """One row per month and one for the total, for all deployments ("all") and for
        each deployment (by reference)."""
        rows: list[tuple[Mapping[str, Cell], Figures]] = [
            ({"deployment": "all", OVERRIDDEN_COLUMN: None, "month": mf.month}, mf.figures)
            for mf in [*self.by_month, MonthFigures("total", self.total)]]
        for d in self.deployments:
            rows += deployment_rows(d)
        return FiguresTable.build(SCOPE_COLUMNS, rows)


def published_figures(p: Platform) -> PublishedFigures:
    """The figures of every published deployment that has run."""
    with p.sessions() as s:
        ran = deployments_that_ran(s)
        facts = load_facts(s, [d.id for d in ran]).judged(ran)
        ids = [d.id for d in ran]
        return PublishedFigures(by_month=facts.by_month(ids), total=facts.total(ids),
                                deployments=[_deployment_figures(s, d, facts) for d in ran])


@dataclass(frozen=True)
class Usage:
    """What deployments on one technology register entry did, from the platform's own
    tallies (the same as every published figure): how many ran, and their figures."""

    deployments_run: int
    figures: Figures


def usage_by_technology(session: Session) -> dict[int, Usage]:
    """Each register entry's usage (every deployment that ran on it), read at once; an
    entry nothing ran on is absent."""
    ran = [d for d in deployments_that_ran(session) if d.technology_id is not None]
    facts = load_facts(session, [d.id for d in ran]).judged(ran)
    on: dict[int, list[int]] = {}
    for d in ran:
        if d.technology_id is not None:
            on.setdefault(d.technology_id, []).append(d.id)
    return {t: Usage(len(ids), facts.total(ids)) for t, ids in on.items()}


#: The scope columns of the deployments' open data: which deployment, how many failed
#: checks it went ahead despite (blank for "all"), which month.
OVERRIDDEN_COLUMN = "authorised_despite_failed_checks"
SCOPE_COLUMNS = ("deployment", OVERRIDDEN_COLUMN, "month")


def deployment_rows(figures: DeploymentFigures) -> list[tuple[Mapping[str, Cell], Figures]]:
    """One deployment's (scope, figures) rows: each month, then the total."""
    scope: dict[str, Cell] = {"deployment": figures.reference,
                              OVERRIDDEN_COLUMN: len(figures.went_ahead_despite)}
    return [({**scope, "month": mf.month}, mf.figures)
            for mf in [*figures.by_month, MonthFigures("total", figures.total)]]


def deployment_table(figures: DeploymentFigures) -> FiguresTable:
    """One deployment's figures as a table: each month, then the total."""
    return FiguresTable.build(SCOPE_COLUMNS, deployment_rows(figures))


# --- as open data -------------------------------------------------------------------------

#: The columns every figures download has after its scope columns, in order. Outcomes
#: other than arrest get an ``outcome_`` column each; false alerts by recorded group come
#: last, one ``false_alerts_group:NAME`` column per group recorded in the data.
FIGURE_COLUMNS: tuple[str, ...] = (
    "faces_seen", "tracks", "frames_processed", "frames_dropped", "frames_near_behind",
    "alerts", "confirmed", "false_alerts", "false_alerts_per_adjudicated_alert",
    "false_or_unclear_per_adjudicated_alert", "false_alerts_per_1000_tracks", "unclear",
    "pending", "stops", "arrests",
    *(f"outcome_{o.value}" for o in AlertOutcome if o is not AlertOutcome.ARREST),
    "outcome_not_recorded", "false_alerts_group_not_recorded", SECOND_OPINION_ALERTS,
    SECOND_OPINION_FALSE_ALERTS)
GROUP_COLUMN_PREFIX = "false_alerts_group:"

Cell = str | int | float | None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def figure_values(f: Figures) -> dict[str, Cell]:
    """The figures under FIGURE_COLUMNS' names (rates rounded to 4 places; None when
    there is nothing to divide by)."""
    values: dict[str, Cell] = {
        "faces_seen": f.faces_seen, "tracks": f.tracks, "frames_processed": f.frames_processed,
        "frames_dropped": f.frames_dropped, "frames_near_behind": f.frames_near_behind,
        "alerts": f.alerts, "confirmed": f.confirmed,
        "false_alerts": f.false_alerts,
        "false_alerts_per_adjudicated_alert": _rounded(f.false_alerts_per_adjudicated_alert),
        "false_or_unclear_per_adjudicated_alert":
            _rounded(f.false_or_unclear_per_adjudicated_alert),
        "false_alerts_per_1000_tracks": _rounded(f.false_alerts_per_1000_tracks),
        "unclear": f.unclear, "pending": f.pending, "stops": f.stops, "arrests": f.arrests}
    for o in AlertOutcome:
        if o is not AlertOutcome.ARREST:
            values[f"outcome_{o.value}"] = f.outcomes.get(o.value, 0)
    values["outcome_not_recorded"] = f.outcome_not_recorded
    values["false_alerts_group_not_recorded"] = f.false_alerts_group_not_recorded
    values[SECOND_OPINION_ALERTS] = f.second_opinion_alerts
    values[SECOND_OPINION_FALSE_ALERTS] = f.second_opinion_false_alerts
    return values


def row_values(f: Figures) -> dict[str, Cell]:
    """figure_values plus one ``false_alerts_group:NAME`` entry per recorded group."""
    return {**figure_values(f), **{GROUP_COLUMN_PREFIX + g: n
                                   for g, n in f.false_alerts_by_group.items()}}


def group_items(values: Mapping[str, Cell]) -> list[tuple[str, Cell]]:
    """(group, false alerts) from a row's ``false_alerts_group:NAME`` entries."""
    return [(c.removeprefix(GROUP_COLUMN_PREFIX), v) for c, v in values.items()
            if c.startswith(GROUP_COLUMN_PREFIX)]


@dataclass(frozen=True)
class FiguresTable:
    """Figures as rows with named columns: the one shape behind every CSV and JSON
    download, so both always carry exactly the same columns."""

    columns: tuple[str, ...]
    rows: list[dict[str, Cell]]

    @classmethod
    def build(cls, scope_columns: Sequence[str],
              rows: Sequence[tuple[Mapping[str, Cell], Figures]]) -> FiguresTable:
        groups = sorted({g for _, f in rows for g in f.false_alerts_by_group})
        columns = (*scope_columns, *FIGURE_COLUMNS,
                   *(GROUP_COLUMN_PREFIX + g for g in groups))
        built: list[dict[str, Cell]] = []
        for scope, f in rows:
            row: dict[str, Cell] = {c: scope[c] for c in scope_columns}
            row.update(figure_values(f))
            row.update({GROUP_COLUMN_PREFIX + g: f.false_alerts_by_group.get(g, 0)
                        for g in groups})
            built.append(row)
        return cls(tuple(columns), built)

    def to_csv(self) -> str:
        """CSV with a header row; an empty cell where a rate has nothing to divide by."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([csv_cell(c) for c in self.columns])
        for row in self.rows:
            writer.writerow([csv_cell(row[c]) for c in self.columns])
        return out.getvalue()

    def to_json_data(self, **about: Any) -> dict[str, Any]:
        """``about`` (what the table covers), the columns, and the rows as objects keyed
        by column (null where a rate has nothing to divide by)."""
        return {**about, "columns": list(self.columns),
                "rows": [{c: row[c] for c in self.columns} for row in self.rows]}

    def to_json(self, **about: Any) -> str:
        return json.dumps(self.to_json_data(**about), indent=2, ensure_ascii=False)


# --- as people read them ------------------------------------------------------------------

#: What each column means, in words, for tables in pages and PDFs.
COLUMN_LABELS: dict[str, str] = {
    "deployment": "Deployment", "area": "Area", "area_code": "Area code (gazetteer)",
    "month": "Month",
    OVERRIDDEN_COLUMN: "Authorised despite failed checks",
    "faces_seen": "Face detections (each face on each frame)",
    "tracks": "Faces passing (tracks)", "frames_processed": "Frames processed",
    "frames_dropped": "Frames dropped",
    "frames_near_behind": "Frames searched near the tracks to keep up",
    "alerts": "Alerts", "confirmed": "Confirmed",
    "false_alerts": "False alerts",
    "false_alerts_per_adjudicated_alert": "False alerts per adjudicated alert",
    "false_or_unclear_per_adjudicated_alert":
        "False or unclear per adjudicated alert (unclear counted as false)",
    "false_alerts_per_1000_tracks": "False alerts per 1,000 faces passing",
    "unclear": "Unclear",
    "pending": "Not yet adjudicated", "stops": "Stops", "arrests": "Arrests",
    **{f"outcome_{o.value}": o.value.replace("_", " ").capitalize()
       for o in AlertOutcome if o is not AlertOutcome.ARREST},
    "outcome_not_recorded": "Outcome not recorded",
    "false_alerts_group_not_recorded": "False alerts, group not recorded",
    SECOND_OPINION_ALERTS: "Alerts lifted by the second opinion",
    SECOND_OPINION_FALSE_ALERTS: "Of those, false alerts",
}

#: Rates per adjudicated alert (shown as percentages).
PER_ALERT_RATES = frozenset({"false_alerts_per_adjudicated_alert",
                             "false_or_unclear_per_adjudicated_alert"})

#: The columns of the short by-month and per-deployment tables.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "tracks", "alerts", "confirmed", "false_alerts", "false_alerts_per_adjudicated_alert",
    "false_or_unclear_per_adjudicated_alert", "false_alerts_per_1000_tracks", "unclear",
    "pending", "stops", "arrests")


#: Headings short enough for the narrow columns of the summary tables.
SHORT_LABELS: dict[str, str] = {
    "false_alerts_per_adjudicated_alert": "False per adjudicated alert",
    "false_or_unclear_per_adjudicated_alert": "Counting unclear as false",
    "tracks": "Faces passing",
    "false_alerts_per_1000_tracks": "False per 1,000 passing", "pending": "Pending"}


def short_label(column: str) -> str:
    return SHORT_LABELS.get(column) or column_label(column)


def column_label(column: str) -> str:
    if column.startswith(GROUP_COLUMN_PREFIX):
        return f"False alerts, group: {column.removeprefix(GROUP_COLUMN_PREFIX)}"
    return COLUMN_LABELS.get(column, column.replace("_", " "))


def shown(column: str, value: Cell) -> str:
    """A figure as people read it: rates per alert as a percentage, per 1,000 tracks with
    up to four decimals, "n/a" where there was nothing to divide by, counts with
    thousands separators."""
    if value is None:
        return "n/a"
    if column in PER_ALERT_RATES and isinstance(value, int | float):
        return f"{value:.1%}"
    if column == "false_alerts_per_1000_tracks" and isinstance(value, int | float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def month_label(month: str) -> str:
    """ "2026-03" as "March 2026"; other values (total, all) as they are."""
    try:
        return datetime.strptime(month, "%Y-%m").strftime("%B %Y")
    except ValueError:
        return month.capitalize()
