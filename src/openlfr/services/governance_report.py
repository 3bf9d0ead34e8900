"""The annual report's governance figures: how the powers were used over a period, beside
what the cameras did (``services.reports``).

Over the period: notice given before each deployment that started in it (median, minimum);
overrides countersigned in it, with both justifications; consultations closed in it, their
responses and reach by postcode district; objections, complaints and redress requests
received in it, answered on time or late or not at all, and what came of them; council
motions passed in it and the force's responses; what followed arrests after alerts.

Everything is read from the tables as they are (deployments, overrides, consultations and
their responses, feedback, motions, alerts): nothing here is typed in.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from statistics import median
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openlfr.governance.answers import says_something
from openlfr.governance.lifecycle import DeploymentStatus
from openlfr.governance.outcomes import LaterOutcome
from openlfr.governance.records import ConsultationStatus, FeedbackKind
from openlfr.services.outcomes import NOT_RECORDED, later_outcome_counts_in
from openlfr.services.overrides import published as published_overrides
from openlfr.services.platform import Platform
from openlfr.services.reports import ReportPeriod
from openlfr.spreadsheet import csv_cell
from openlfr.storage import models as m

#: A response that gave no postcode district is counted under this name.
NO_DISTRICT = "not given"
#: The feedback kinds whose answers the report follows.
FOLLOWED_KINDS = (FeedbackKind.OBJECTION, FeedbackKind.COMPLAINT, FeedbackKind.REDRESS_REQUEST)


@dataclass(frozen=True)
class NoticeFigures:
    """Whole days of notice before each deployment that started in the period."""

    deployments: int
    median_days: float | None
    min_days: int | None
    #: (reference, days), fewest days first.
    each: list[tuple[str, int]]


@dataclass(frozen=True)
class OverrideItem:
    reference: str
    transition: str
    failing_gates: list[str]
    justification: str
    countersignature: str
    recorded_by: str
    countersigned_by: str
    countersigned_at: str


@dataclass(frozen=True)
class ConsultationFigures:
    consultations: int
    responses: int
    #: Responses by postcode district (NO_DISTRICT for none given), most first.
    by_district: dict[str, int]

    @property
    def districts_reached(self) -> int:
        return sum(1 for k in self.by_district if k != NO_DISTRICT)


@dataclass(frozen=True)
class AnswerFigures:
    """Feedback of one kind received in the period and how it was answered."""

    kind: str
    received: int
    answered_on_time: int
    answered_late: int
    unanswered: int
    #: What came of the answered ones (the answer's recorded outcome; "not stated" where
    #: an answer records none).
    outcomes: dict[str, int]
    #: Of those received, how many have their text withheld for abuse (counted all the
    #: same: withholding the words does not withdraw the item).
    withheld_for_abuse: int = 0


@dataclass(frozen=True)
class MotionItem:
    body: str
    passed_on: str
    stance: str
    responded_on: str | None
    days_to_response: int | None
    points: int
    points_answered: int


@dataclass(frozen=True)
class GovernanceFigures:
    notice: NoticeFigures
    overrides: list[OverrideItem]
    consultations: ConsultationFigures
    answers: list[AnswerFigures]
    motions: list[MotionItem]
    #: What followed arrests after alerts in deployments that started in the period.
    later_outcomes: dict[str, int] = field(default_factory=dict)

    def to_json_data(self) -> dict[str, Any]:
        data = asdict(self)
        data["notice"]["each"] = [{"reference": r, "days": d} for r, d in self.notice.each]
        data["consultations"]["districts_reached"] = self.consultations.districts_reached
        return data

    def rows(self) -> list[tuple[str, str, str, str | int | float | None]]:
        """The figures as (section, item, measure, value) rows: the CSV."""
        out: list[tuple[str, str, str, str | int | float | None]] = [
            ("notice", "all", "deployments", self.notice.deployments),
            ("notice", "all", "median_days", self.notice.median_days),
            ("notice", "all", "min_days", self.notice.min_days),
            *(("notice", ref, "days", days) for ref, days in self.notice.each),
            ("overrides", "all", "countersigned", len(self.overrides)),
            *(("overrides", o.reference, f"{o.transition}: {', '.join(o.failing_gates)}",
               o.justification) for o in self.overrides),
            ("consultations", "all", "closed", self.consultations.consultations),
            ("consultations", "all", "responses", self.consultations.responses),
            ("consultations", "all", "districts_reached", self.consultations.districts_reached),
            *(("consultations", district, "responses", n)
              for district, n in self.consultations.by_district.items())]
        for a in self.answers:
            out += [(a.kind, "all", "received", a.received),
                    (a.kind, "all", "withheld_for_abuse", a.withheld_for_abuse),
                    (a.kind, "all", "answered_on_time", a.answered_on_time),
                    (a.kind, "all", "answered_late", a.answered_late),
                    (a.kind, "all", "unanswered", a.unanswered),
                    *((a.kind, outcome, "outcome", n) for outcome, n in a.outcomes.items())]
        out.append(("motions", "all", "passed", len(self.motions)))
        out.append(("motions", "all", "responded",
                    sum(1 for x in self.motions if x.responded_on)))
        out += [("motions", f"{x.body} ({x.passed_on})", "days_to_response",
                 x.days_to_response) for x in self.motions]
        out += [("later_outcomes", k, "arrests", n) for k, n in self.later_outcomes.items()]
        return out

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(("section", "item", "measure", "value"))
        for row in self.rows():
            writer.writerow([csv_cell(c) for c in row])
        return buffer.getvalue()


def _within(moment: datetime | date | None, period: ReportPeriod) -> bool:
    if moment is None:
        return False
    day = moment.date() if isinstance(moment, datetime) else moment
    return period.start <= day <= period.end


def _notice(s: Session, period: ReportPeriod) -> NoticeFigures:
    rows = s.scalars(select(m.Deployment).where(
        m.Deployment.notice_published_at.is_not(None),
        m.Deployment.status != DeploymentStatus.CANCELLED.value))
    each = sorted(((d.reference, max(0, (d.start_at - d.notice_published_at).days))
                   for d in rows if d.notice_published_at is not None
                   and _within(d.start_at, period)), key=lambda x: (x[1], x[0]))
    days = [n for _, n in each]
    return NoticeFigures(len(each), float(median(days)) if days else None,
                         min(days) if days else None, each)


def _overrides(s: Session, period: ReportPeriod) -> list[OverrideItem]:
    rows = s.execute(select(m.GateOverride, m.Deployment.reference).join(
        m.Deployment, m.Deployment.id == m.GateOverride.deployment_id).where(
        published_overrides()).order_by(m.GateOverride.recorded_at, m.GateOverride.id))
    return [OverrideItem(ref, o.transition, [g["name"] for g in o.failing_gates],
                         o.justification, o.countersignature or "", o.recorded_by,
                         o.countersigned_by or "",
                         (o.countersigned_at or o.recorded_at).date().isoformat())
            for o, ref in rows if _within(o.countersigned_at or o.recorded_at, period)]


def _consultations(s: Session, period: ReportPeriod) -> ConsultationFigures:
    closed = [c.id for c in s.scalars(select(m.Consultation).where(
        m.Consultation.status == ConsultationStatus.CLOSED.value))
        if _within(c.closed_at, period)]
    districts: Counter[str] = Counter()
    if closed:
        for (district,) in s.execute(select(m.ConsultationResponse.postcode_district).where(
                m.ConsultationResponse.consultation_id.in_(closed))):
            districts[(district or "").strip().upper() or NO_DISTRICT] += 1
    return ConsultationFigures(len(closed), sum(districts.values()),
                               dict(sorted(districts.items(), key=lambda x: (-x[1], x[0]))))


def _answers(s: Session, period: ReportPeriod, kind: FeedbackKind) -> AnswerFigures:
    rows = [f for f in s.scalars(select(m.Feedback).where(m.Feedback.kind == kind.value))
            if _within(f.submitted_at, period)]
    answered = [(f, f.answered_at) for f in rows if f.answered_at is not None]
    on_time = sum(1 for f, at in answered if at <= f.answer_due_at)
    outcomes = Counter((f.outcome or "not stated") for f, _ in answered)
    return AnswerFigures(kind.value, len(rows), on_time, len(answered) - on_time,
                         len(rows) - len(answered), dict(sorted(outcomes.items())),
                         sum(1 for f in rows if f.hidden_for_abuse))


def _motions(s: Session, period: ReportPeriod, min_chars: int) -> list[MotionItem]:
    """Motions passed in the period; a point counts as answered only by an answer of
    substance (``governance.answers.says_something``, the motions gate's test)."""
    rows = s.scalars(select(m.CouncilMotion).order_by(m.CouncilMotion.passed_on,
                                                      m.CouncilMotion.id))
    return [MotionItem(r.body, r.passed_on.isoformat(), r.stance,
                       r.response_published_at.date().isoformat()
                       if r.response_published_at else None,
                       (r.response_published_at.date() - r.passed_on).days
                       if r.response_published_at else None,
                       len(r.points), sum(1 for a in r.point_answers[:len(r.points)]
                                          if says_something(str(a), min_chars)))
            for r in rows if _within(r.passed_on, period)]


def _later_outcomes(s: Session, period: ReportPeriod) -> dict[str, int]:
    ids = [d.id for d in s.scalars(select(m.Deployment).where(
        m.Deployment.activated_at.is_not(None))) if _within(d.start_at, period)]
    total: Counter[str] = Counter()
    for counts in later_outcome_counts_in(s, ids).values():
        total.update(counts)
    return {**{o.value: total[o.value] for o in LaterOutcome}, NOT_RECORDED: total[NOT_RECORDED]}


def governance_figures(p: Platform, period: ReportPeriod) -> GovernanceFigures:
    """The governance figures over ``period`` (both days included)."""
    with p.sessions() as s:
        return GovernanceFigures(
            notice=_notice(s, period), overrides=_overrides(s, period),
            consultations=_consultations(s, period),
            answers=[_answers(s, period, k) for k in FOLLOWED_KINDS],
            motions=_motions(s, period, p.settings.answer_min_chars),
            later_outcomes=_later_outcomes(s, period))
