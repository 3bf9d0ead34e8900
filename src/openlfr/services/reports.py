"""Reports: the post-deployment review and the annual report.

A review is generated, in the same transaction, when a deployment is completed, and
stored as version 1 in ``deployment_reviews``: the figures from the engine's counters and
the operators' adjudications and outcomes, the feedback answered and awaiting an answer,
the gate history (the gates as they stood at authorisation and activation), overrides
and oversight comments. When the record changes after completion (a late adjudication or
outcome, alerts or counts the node delivers late, an oversight comment, the oversight
review's summary) a new version is generated with the reason, and an audit event; old
versions stay published. Feedback is stored as the public read model shows it
(``public_view``: a redress request's words and answer, and text hidden for abuse, are
withheld), and every version is read through that rule as it stands now
(``review_versions``): text hidden after a version was stored is withheld from it too.

The annual report sums the same figures over a date range, per area and per month.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openlfr.audit import append_event
from openlfr.governance.errors import InvalidInput
from openlfr.governance.lifecycle import DeploymentStatus
from openlfr.governance.records import FeedbackKind
from openlfr.services.common import deployment_or_404
from openlfr.services.figures import (
    Cell,
    DeploymentFigures,
    Figures,
    FiguresTable,
    MonthFigures,
    deployment_figures_in,
    deployment_table,
    deployments_that_ran,
    load_facts,
    month_of,
    months_between,
)
from openlfr.services.overrides import published as published_overrides
from openlfr.services.overrides import went_ahead_despite
from openlfr.services.platform import Actor, Platform
from openlfr.storage import models as m

if TYPE_CHECKING:
    from openlfr.services.public_view import PublicFeedback

#: The layout of a review's stored content; bump when it changes. 2: each item of
#: feedback carries its ``id``, whether it is ``private`` and, once answered, its
#: ``outcome``; a private item's text and answer are stored as None.
REVIEW_FORMAT = 2

#: Statuses in which a deployment has a published review.
REVIEWED_STATUSES = frozenset({DeploymentStatus.COMPLETED, DeploymentStatus.REVIEWED})


# --- the post-deployment review -------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _public_feedback(f: m.Feedback, now: datetime) -> PublicFeedback:
    """One item as the public read model shows it: the one rule for what is withheld."""
    # public_view reads consultations, which call this module: imported when used.
    from openlfr.services.public_view import feedback_as_published

    return feedback_as_published(f, now)


def _feedback_item(f: PublicFeedback) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": f.id, "kind": f.kind, "submitted_at": _iso(f.submitted_at), "text": f.text,
        "private": f.private, "hidden_for_abuse": f.hidden_for_abuse,
        "moderation_reason": f.moderation_reason, "answer_due_at": _iso(f.answer_due_at)}
    if f.answered_at is not None:
        item.update(answer=f.answer, outcome=f.outcome, answered_at=_iso(f.answered_at),
                    answered_late=f.answered_at > f.answer_due_at)
    return item


def _feedback_content(session: Session, deployment_id: int, now: datetime) -> dict[str, Any]:
    """Feedback as the public sees it (``public_view``: never contact details, nor a
    redress request's words or answer, nor text hidden for abuse), split into answered,
    awaiting an answer, and needing none (support)."""
    rows = session.scalars(select(m.Feedback).where(m.Feedback.deployment_id == deployment_id)
                           .order_by(m.Feedback.submitted_at, m.Feedback.id))
    answered: list[dict[str, Any]] = []
    awaiting: list[dict[str, Any]] = []
    no_answer_needed: list[dict[str, Any]] = []
    by_kind: dict[str, int] = {k.value: 0 for k in FeedbackKind}
    for f in (_public_feedback(row, now) for row in rows):
        by_kind[f.kind] = by_kind.get(f.kind, 0) + 1
        item = _feedback_item(f)
        if f.answered_at is not None:
            answered.append(item)
        elif f.needs_answer:
            awaiting.append({**item, "overdue": f.overdue})
        else:
            no_answer_needed.append(item)
    return {"by_kind": by_kind, "answered": answered, "awaiting_answer": awaiting,
            "no_answer_needed": no_answer_needed}


def _withheld_now(item: Mapping[str, Any], now_shown: list[PublicFeedback]) -> dict[str, Any]:
    """A stored item with what the public read model withholds today withheld: the rule
    decided ``now_shown`` (the item as it is published now; several where a version stored
    before items carried their id matches more than one). What any of them withholds is
    withheld, and so are the words of an item the record no longer holds."""
    shown = dict(item)
    if not now_shown or any(f.text is None for f in now_shown):
        shown["text"] = None
    if "answer" in shown and (not now_shown or any(f.answer is None for f in now_shown)):
        shown["answer"] = None
    shown["private"] = bool(shown.get("private")) or any(f.private for f in now_shown)
    hidden = [f for f in now_shown if f.hidden_for_abuse]
    if hidden:
        shown.update(hidden_for_abuse=True, moderation_reason=hidden[0].moderation_reason)
    return shown


def _as_published_now(content: Mapping[str, Any], rows: list[m.Feedback],
                      now: datetime) -> dict[str, Any]:
    """A stored version's content with its feedback read through today's rule. Figures and
    everything else stay as stored."""
    shown = [_public_feedback(f, now) for f in rows]
    by_id = {f.id: f for f in shown}
    by_filing: dict[tuple[str, str | None], list[PublicFeedback]] = {}
    for f in shown:  # versions stored before items carried their id
        by_filing.setdefault((f.kind, _iso(f.submitted_at)), []).append(f)

    def now_shown(item: Mapping[str, Any]) -> list[PublicFeedback]:
        if item.get("id") in by_id:
            return [by_id[item["id"]]]
        return by_filing.get((item["kind"], item.get("submitted_at")), [])

    feedback = dict(content["feedback"])
    for part in ("answered", "awaiting_answer", "no_answer_needed"):
        feedback[part] = [_withheld_now(item, now_shown(item)) for item in feedback.get(part, [])]
    return {**content, "feedback": feedback}


def _gate_history(d: m.Deployment) -> list[dict[str, Any]]:
    """The gate results recorded at authorisation and activation, in that order."""
    order = ("authorise", "activate")
    return [{"transition": name, "at": snap["at"], "results": snap["results"]}
            for name in sorted(d.gate_snapshots, key=lambda n: (order.index(n)
                                                                if n in order else 99, n))
            for snap in [d.gate_snapshots[name]]]


def review_content(session: Session, d: m.Deployment, now: datetime) -> dict[str, Any]:
    """Everything a review publishes, as JSON-ready data, read in the caller's transaction.
    Nothing personal: no subject references, contact details, photos, or per-alert
    demographic data (groups appear only as counts of false alerts)."""
    figures = deployment_figures_in(session, d)
    overrides = session.scalars(select(m.GateOverride).where(
        m.GateOverride.deployment_id == d.id, published_overrides())
        .order_by(m.GateOverride.id))
    amendments = session.scalars(select(m.Amendment).where(
        m.Amendment.deployment_id == d.id).order_by(m.Amendment.id))
    comments = session.scalars(select(m.OversightComment).where(
        m.OversightComment.deployment_id == d.id).order_by(m.OversightComment.id))
    watchlist = session.scalar(select(m.Watchlist).where(m.Watchlist.deployment_id == d.id))
    return {
        "format": REVIEW_FORMAT,
        "deployment": {
            "reference": d.reference, "title": d.title, "borough": d.borough, "ward": d.ward,
            "status": d.status, "start_at": _iso(d.start_at), "end_at": _iso(d.end_at),
            "activated_at": _iso(d.activated_at), "completed_at": _iso(d.completed_at),
            "reviewed_at": _iso(d.reviewed_at), "threshold": d.threshold,
            "camera_count": d.camera_count, "purpose": d.purpose,
            "sites": [s.name for s in d.sites]},
        "figures": deployment_table(figures).to_json_data(),
        "watchlist_by_category": dict(sorted((watchlist.category_counts
                                              if watchlist is not None else {}).items())),
        "feedback": _feedback_content(session, d.id, now),
        "gate_history": _gate_history(d),
        "overrides": [{"transition": o.transition, "failing_gates": o.failing_gates,
                       "justification": o.justification, "recorded_by": o.recorded_by,
                       "recorded_at": _iso(o.recorded_at), "status": o.status,
                       "countersigned_by": o.countersigned_by,
                       "countersigned_at": _iso(o.countersigned_at),
                       "countersignature": o.countersignature} for o in overrides],
        "amendments": [{"record": a.record, "version": a.version, "reason": a.reason,
                        "made_by": a.made_by, "made_at": _iso(a.made_at),
                        "fields": [c["field"] for c in a.changes],
                        "gate_changes": a.gate_changes} for a in amendments],
        "comments": [{"author": c.author, "body": c.body, "created_at": _iso(c.created_at)}
                     for c in comments],
        "review_summary": d.review_summary,
    }


def generate_review_in(session: Session, actor: Actor, d: m.Deployment, reason: str,
                       now: datetime) -> m.DeploymentReview:
    """Store the next version of ``d``'s review (in the caller's transaction) with the
    reason it was generated, and audit it."""
    latest = session.scalar(select(func.max(m.DeploymentReview.version)).where(
        m.DeploymentReview.deployment_id == d.id)) or 0
    review = m.DeploymentReview(deployment_id=d.id, version=latest + 1, reason=reason[:200],
                                content=review_content(session, d, now), generated_at=now)
    session.add(review)
    session.flush()
    append_event(session, actor=actor.audit_name, action="review.generated",
                 subject_type="deployment", subject_id=d.id,
                 details={"version": review.version, "reason": review.reason}, now=now)
    return review


def record_changed_after_completion(session: Session, actor: Actor, deployment_id: int,
                                    reason: str, now: datetime) -> m.DeploymentReview | None:
    """Called by a use case that changed a deployment's record: once the deployment is
    completed, its published review is regenerated as a new version, with ``reason``.
    Before completion nothing happens (the review does not exist yet)."""
    d = deployment_or_404(session, deployment_id)
    if DeploymentStatus(d.status) not in REVIEWED_STATUSES:
        return None
    return generate_review_in(session, actor, d, reason, now)


@dataclass(frozen=True)
class PublishedReview:
    """One version of a review as it is published now: as stored, except that what the
    public read model withholds today is withheld from it too (text hidden for abuse after
    it was generated; a redress request's words, in a version stored before the review
    withheld them)."""

    version: int
    reason: str
    generated_at: datetime
    content: dict[str, Any]


def review_versions(p: Platform, deployment_id: int) -> list[PublishedReview]:
    """Every version of a deployment's review as published now, newest first."""
    now = p.clock()
    with p.sessions() as s:
        stored = list(s.scalars(select(m.DeploymentReview).where(
            m.DeploymentReview.deployment_id == deployment_id)
            .order_by(m.DeploymentReview.version.desc())))
        rows = list(s.scalars(select(m.Feedback).where(
            m.Feedback.deployment_id == deployment_id)))
        return [PublishedReview(r.version, r.reason, r.generated_at,
                                _as_published_now(r.content, rows, now)) for r in stored]


# --- the annual report ------------------------------------------------------------------------

#: The longest period one report may cover.
MAX_REPORT_YEARS = 10


@dataclass(frozen=True)
class ReportPeriod:
    start: date
    end: date

    @property
    def months(self) -> list[str]:
        return months_between(month_of(self.start), month_of(self.end))


def _shift_years(day: date, years: int) -> date:
    """The same day ``years`` later (or earlier); 29 February becomes the 28th."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def parse_day(field: str, text: str | None) -> date | None:
    """A date written YYYY-MM-DD, or None when not given; InvalidInput naming ``field``."""
    if text is None or not text.strip():
        return None
    cleaned = text.strip()
    try:
        if len(cleaned) == 10:
            return date.fromisoformat(cleaned)
    except ValueError:
        pass
    raise InvalidInput(field, f"{cleaned[:40]!r} is not a date; write it as YYYY-MM-DD, "
                       "e.g. 2026-01-31")


def report_period(start: date | None, end: date | None, today: date) -> ReportPeriod:
    """The period a report covers, both days included. Without an end it ends today;
    without a start it covers the twelve months up to the end."""
    end = end or today
    if start is None:
        start = _shift_years(end, -1) + timedelta(days=1) if end.year > 1 else date.min
    if start > end:
        raise InvalidInput("from", f"the period starts ({start.isoformat()}) after it ends "
                           f"({end.isoformat()}); give a 'from' date on or before 'to'")
    years = end.year - start.year
    if years > MAX_REPORT_YEARS or (
            years == MAX_REPORT_YEARS and end >= _shift_years(start, MAX_REPORT_YEARS)):
        raise InvalidInput("to", f"a report covers at most {MAX_REPORT_YEARS} years; ask for "
                           "a shorter period")
    return ReportPeriod(start, end)


@dataclass(frozen=True)
class AreaFigures:
    area: str
    #: The borough's gazetteer code (None for a legacy free-text borough not matched).
    code: str | None
    figures: Figures


@dataclass(frozen=True)
class AnnualReport:
    """The figures of every published deployment over a period: in total, per area
    (borough) and per month, and the deployments that contributed."""

    period: ReportPeriod
    generated_at: datetime
    total: Figures
    by_area: list[AreaFigures]
    by_month: list[MonthFigures]
    deployments: list[DeploymentFigures]

    def table(self) -> FiguresTable:
        """Rows: the total (area "all", month "all"), each area, then each month."""
        rows: list[tuple[Mapping[str, Cell], Figures]] = [
            ({"area": "all", "area_code": None, "month": "all"}, self.total),
            *(({"area": a.area, "area_code": a.code, "month": "all"}, a.figures)
              for a in self.by_area),
            *(({"area": "all", "area_code": None, "month": mf.month}, mf.figures)
              for mf in self.by_month)]
        return FiguresTable.build(("area", "area_code", "month"), rows)

    def about(self) -> dict[str, str]:
        return {"report": "annual", "from": self.period.start.isoformat(),
                "to": self.period.end.isoformat(), "generated_at": self.generated_at.isoformat()}


def _area_key(d: m.Deployment) -> tuple[str, str | None]:
    """What groups deployments by area: the borough's gazetteer code (a legacy free-text
    borough: its text, folded), and the code itself."""
    return d.borough_code or " ".join(d.borough.split()).casefold(), d.borough_code or None


def annual_report(p: Platform, period: ReportPeriod) -> AnnualReport:
    """Sum the published figures over ``period``: alerts by the day they occurred, counter
    batches by the day their period ended (else the day received). A deployment is
    included when it ran during the period or anything of it was counted in it."""
    with p.sessions() as s:
        ran = deployments_that_ran(s)
        # Counts beyond the cameras are judged on each deployment's whole run.
        facts = replace(load_facts(s, [d.id for d in ran], period.start, period.end),
                        beyond_cameras=load_facts(s, [d.id for d in ran]).judged(ran)
                        .beyond_cameras)
        included = [d for d in ran
                    if (d.start_at.date() <= period.end and d.end_at.date() >= period.start)
                    or facts.recorded_anything(d.id)]
        included.sort(key=lambda d: (d.start_at, d.id))
        areas: dict[str, tuple[str, str | None, list[int]]] = {}
        for d in included:
            key, code = _area_key(d)
            areas.setdefault(key, (" ".join(d.borough.split()), code, []))[2].append(d.id)
        ids = [d.id for d in included]
        return AnnualReport(
            period=period, generated_at=p.clock(), total=facts.total(ids),
            by_area=[AreaFigures(name, code, facts.total(area_ids))
                     for name, code, area_ids in sorted(areas.values(),
                                                        key=lambda a: a[0].casefold())],
            by_month=facts.by_month(ids, period.months),
            deployments=[DeploymentFigures(d.id, d.reference, d.title, d.borough, d.ward,
                                           d.start_at, d.end_at,
                                           facts.by_month([d.id]), facts.total([d.id]),
                                           tuple(went_ahead_despite(s, d.id)))
                         for d in included])
