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
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openlfr.governance.lifecycle import PUBLIC_STATUSES
from openlfr.governance.records import STOP_OUTCOMES, Adjudication, AlertOutcome
from openlfr.services.common import deployment_or_404
from openlfr.services.overrides import went_ahead_despite
from openlfr.services.platform import Platform
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


@dataclass(frozen=True)
class AlertFacts:
    """One alert, as the figures need it: never who it was about."""

    month: str
    day: date
    adjudication: Adjudication
    outcome: AlertOutcome | None = None
    demographic_group: str | None = None


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
    alerts: int = 0
    confirmed: int = 0
    false_alerts: int = 0
    unclear: int = 0
    pending: int = 0
    #: alerts by recorded outcome (only outcomes that occurred)
    outcomes: Mapping[str, int] = field(default_factory=dict)
    #: false alerts by the demographic group the operator recorded (where recorded)
    false_alerts_by_group: Mapping[str, int] = field(default_factory=dict)

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
    def false_alerts_per_alert(self) -> float | None:
        """Share of alerts adjudicated false; None with no alerts."""
        return _ratio(self.false_alerts, self.alerts)

    @property
    def false_alerts_per_1000_faces(self) -> float | None:
        """False alerts per 1,000 faces seen; None when no face was counted."""
        return _ratio(self.false_alerts, self.faces_seen, 1000)

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            faces_seen=self.faces_seen + other.faces_seen,
            tracks=self.tracks + other.tracks,
            frames_processed=self.frames_processed + other.frames_processed,
            frames_dropped=self.frames_dropped + other.frames_dropped,
            alerts=self.alerts + other.alerts, confirmed=self.confirmed + other.confirmed,
            false_alerts=self.false_alerts + other.false_alerts,
            unclear=self.unclear + other.unclear, pending=self.pending + other.pending,
            outcomes=_sum_counts(self.outcomes, other.outcomes),
            false_alerts_by_group=_sum_counts(self.false_alerts_by_group,
                                              other.false_alerts_by_group))


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
    faces = tracks = processed = dropped = 0
    for c in counters:
        faces += c.faces_seen
        tracks += c.tracks
        processed += c.frames_processed
        dropped += c.frames_dropped
    by_adjudication: dict[Adjudication, int] = defaultdict(int)
    outcomes: dict[str, int] = defaultdict(int)
    groups: dict[str, int] = defaultdict(int)
    count = 0
    for a in alerts:
        count += 1
        by_adjudication[a.adjudication] += 1
        if a.outcome is not None:
            outcomes[a.outcome.value] += 1
        if a.adjudication is Adjudication.FALSE_MATCH and a.demographic_group:
            groups[a.demographic_group] += 1
    return Figures(
        faces_seen=faces, tracks=tracks, frames_processed=processed, frames_dropped=dropped,
        alerts=count, confirmed=by_adjudication[Adjudication.TRUE_MATCH],
        false_alerts=by_adjudication[Adjudication.FALSE_MATCH],
        unclear=by_adjudication[Adjudication.UNCLEAR],
        pending=by_adjudication[Adjudication.PENDING],
        outcomes=dict(sorted(outcomes.items())), false_alerts_by_group=dict(sorted(groups.items())))


# --- months -------------------------------------------------------------------------------


def month_of(moment: datetime | date) -> str:
    """The calendar month a moment falls in, "YYYY-MM" (UTC)."""
    return f"{moment.year:04d}-{moment.month:02d}"


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


@dataclass(frozen=True)
class Facts:
    """The counter batches and alerts of some deployments, by deployment id."""

    counters: Mapping[int, list[CounterFacts]]
    alerts: Mapping[int, list[AlertFacts]]

    def between(self, start: date, end: date) -> Facts:
        """Only what happened from ``start`` to ``end`` (both days included)."""
        return Facts(
            counters={k: [c for c in v if start <= c.day <= end] for k, v in self.counters.items()},
            alerts={k: [a for a in v if start <= a.day <= end] for k, v in self.alerts.items()})

    def of(self, deployment_ids: Iterable[int]) -> tuple[list[CounterFacts], list[AlertFacts]]:
        ids = list(deployment_ids)
        return ([c for i in ids for c in self.counters.get(i, [])],
                [a for i in ids for a in self.alerts.get(i, [])])

    def total(self, deployment_ids: Iterable[int]) -> Figures:
        return tally(*self.of(deployment_ids))

    def by_month(self, deployment_ids: Iterable[int],
                 months: Sequence[str] | None = None) -> list[MonthFigures]:
        """Figures for each month; by default every month from the first with anything
        recorded to the last (months with nothing in between included, as zeros)."""
        counters, alerts = self.of(deployment_ids)
        counters_by: dict[str, list[CounterFacts]] = defaultdict(list)
        alerts_by: dict[str, list[AlertFacts]] = defaultdict(list)
        for c in counters:
            counters_by[c.month].append(c)
        for a in alerts:
            alerts_by[a.month].append(a)
        if months is None:
            seen = sorted({*counters_by, *alerts_by})
            months = months_between(seen[0], seen[-1]) if seen else []
        return [MonthFigures(mo, tally(counters_by.get(mo, []), alerts_by.get(mo, [])))
                for mo in months]


def load_facts(session: Session, deployment_ids: Iterable[int]) -> Facts:
    """Read the counter batches and alerts of ``deployment_ids`` (only the columns the
    figures need: no subject, camera or photo)."""
    ids = list(deployment_ids)
    counters: dict[int, list[CounterFacts]] = {i: [] for i in ids}
    alerts: dict[int, list[AlertFacts]] = {i: [] for i in ids}
    if not ids:
        return Facts(counters, alerts)
    for dep, faces, tracks, processed, dropped, period_end, received in session.execute(select(
            m.CounterBatch.deployment_id, m.CounterBatch.faces_seen, m.CounterBatch.tracks,
            m.CounterBatch.frames_processed, m.CounterBatch.frames_dropped,
            m.CounterBatch.period_end, m.CounterBatch.received_at,
    ).where(m.CounterBatch.deployment_id.in_(ids)).order_by(m.CounterBatch.id)):
        moment = period_end or received
        counters[dep].append(CounterFacts(month_of(moment), moment.date(), faces, tracks,
                                          processed or 0, dropped or 0))
    for dep, occurred, adjudication, outcome, group in session.execute(select(
            m.Alert.deployment_id, m.Alert.occurred_at, m.Alert.adjudication, m.Alert.outcome,
            m.Alert.demographic_group,
    ).where(m.Alert.deployment_id.in_(ids)).order_by(m.Alert.id)):
        alerts[dep].append(AlertFacts(month_of(occurred), occurred.date(),
                                      Adjudication(adjudication),
                                      AlertOutcome(outcome) if outcome else None, group))
    return Facts(counters, alerts)


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
    return _deployment_figures(session, deployment, load_facts(session, [deployment.id]))


def deployment_figures(p: Platform, deployment_id: int) -> DeploymentFigures:
    """One deployment's figures, whatever its status (callers decide who may see them)."""
    with p.sessions() as s:
        return deployment_figures_in(s, deployment_or_404(s, deployment_id))


def deployments_that_ran(session: Session) -> list[m.Deployment]:
    """Published deployments that have been active (only these have figures), newest
    start first."""
    return list(session.scalars(select(m.Deployment).where(
        m.Deployment.status.in_([x.value for x in PUBLIC_STATUSES]),
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
        facts = load_facts(s, [d.id for d in ran])
        ids = [d.id for d in ran]
        return PublishedFigures(by_month=facts.by_month(ids), total=facts.total(ids),
                                deployments=[_deployment_figures(s, d, facts) for d in ran])


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
    "faces_seen", "tracks", "frames_processed", "frames_dropped", "alerts", "confirmed",
    "false_alerts", "false_alerts_per_alert", "false_alerts_per_1000_faces", "unclear",
    "pending", "stops", "arrests",
    *(f"outcome_{o.value}" for o in AlertOutcome if o is not AlertOutcome.ARREST),
    "outcome_not_recorded", "false_alerts_group_not_recorded")
GROUP_COLUMN_PREFIX = "false_alerts_group:"

Cell = str | int | float | None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def figure_values(f: Figures) -> dict[str, Cell]:
    """The figures under FIGURE_COLUMNS' names (rates rounded to 4 places; None when
    there is nothing to divide by)."""
    values: dict[str, Cell] = {
        "faces_seen": f.faces_seen, "tracks": f.tracks, "frames_processed": f.frames_processed,
        "frames_dropped": f.frames_dropped, "alerts": f.alerts, "confirmed": f.confirmed,
        "false_alerts": f.false_alerts,
        "false_alerts_per_alert": _rounded(f.false_alerts_per_alert),
        "false_alerts_per_1000_faces": _rounded(f.false_alerts_per_1000_faces),
        "unclear": f.unclear, "pending": f.pending, "stops": f.stops, "arrests": f.arrests}
    for o in AlertOutcome:
        if o is not AlertOutcome.ARREST:
            values[f"outcome_{o.value}"] = f.outcomes.get(o.value, 0)
    values["outcome_not_recorded"] = f.outcome_not_recorded
    values["false_alerts_group_not_recorded"] = f.false_alerts_group_not_recorded
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
    "faces_seen": "Faces seen", "tracks": "Tracks", "frames_processed": "Frames processed",
    "frames_dropped": "Frames dropped", "alerts": "Alerts", "confirmed": "Confirmed",
    "false_alerts": "False alerts", "false_alerts_per_alert": "False alerts per alert",
    "false_alerts_per_1000_faces": "False alerts per 1,000 faces", "unclear": "Unclear",
    "pending": "Not yet adjudicated", "stops": "Stops", "arrests": "Arrests",
    **{f"outcome_{o.value}": o.value.replace("_", " ").capitalize()
       for o in AlertOutcome if o is not AlertOutcome.ARREST},
    "outcome_not_recorded": "Outcome not recorded",
    "false_alerts_group_not_recorded": "False alerts, group not recorded",
}

#: The columns of the short by-month and per-deployment tables.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "faces_seen", "alerts", "confirmed", "false_alerts", "false_alerts_per_alert",
    "false_alerts_per_1000_faces", "unclear", "pending", "stops", "arrests")


#: Headings short enough for the narrow columns of the summary tables.
SHORT_LABELS: dict[str, str] = {
    "false_alerts_per_alert": "False per alert",
    "false_alerts_per_1000_faces": "False per 1,000 faces", "pending": "Pending"}


def short_label(column: str) -> str:
    return SHORT_LABELS.get(column) or column_label(column)


def column_label(column: str) -> str:
    if column.startswith(GROUP_COLUMN_PREFIX):
        return f"False alerts, group: {column.removeprefix(GROUP_COLUMN_PREFIX)}"
    return COLUMN_LABELS.get(column, column.replace("_", " "))


def shown(column: str, value: Cell) -> str:
    """A figure as people read it: rates per alert as a percentage, per 1,000 faces with
    up to four decimals, "n/a" where there was nothing to divide by, counts with
    thousands separators."""
    if value is None:
        return "n/a"
    if column == "false_alerts_per_alert" and isinstance(value, int | float):
        return f"{value:.1%}"
    if column == "false_alerts_per_1000_faces" and isinstance(value, int | float):
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
