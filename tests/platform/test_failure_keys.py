"""Failure keys on plain domain objects: what an override is signed for is how a gate
failed, not the gate's name; the key stands still while the clock moves and changes
when the failure does. No database, no web."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from openlfr.governance.amendments import GateChange, gate_changes
from openlfr.governance.errors import Conflict
from openlfr.governance.gates import GateParameters, GateReport, evaluate_gates
from openlfr.governance.lifecycle import DeploymentStatus
from openlfr.governance.overrides import (
    Coverage,
    OverrideStatus,
    changed_since,
    require_request_read,
    signed_failures,
    uncovered,
)
from openlfr.governance.records import (
    AudienceCategory,
    CiaFacts,
    ConsultationFacts,
    ConsultationStatus,
    DeploymentDossier,
    DeploymentFacts,
    EngagementEventFacts,
    FeedbackFacts,
    FeedbackKind,
    WatchlistEntryFacts,
    WatchlistFacts,
)

START = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
PARAMS = GateParameters(watchlist_allowed_categories=frozenset({"wanted_for_arrest"}))
WORDS = " ".join(["word"] * 40)


def dossier(threshold: float = 0.64, as_of: datetime | None = None,
            entries: tuple[WatchlistEntryFacts, ...] | None = None,
            feedback: tuple[FeedbackFacts, ...] = ()) -> DeploymentDossier:
    """Two gates fail: the engine was never audited (threshold), and the watchlist was
    built three days before the start (watchlist_rules)."""
    return DeploymentDossier(
        deployment=DeploymentFacts(
            reference="LFR-2026-0001", status=DeploymentStatus.NOTICE_PUBLISHED,
            borough="Lambeth", ward="Vauxhall", start_at=START,
            end_at=START + timedelta(hours=8), threshold=threshold,
            notice_published_at=START - timedelta(days=20), borough_code="lambeth",
            ward_code="lambeth--vauxhall"),
        cia=CiaFacts(
            area_profile=f"Residents of the ward are mostly young families. {WORDS}",
            risks=f"False alerts could lead to wrongful stops. {WORDS}", mitigations=WORDS,
            equality_impact=f"Race and sex differences in false alerts; older people. {WORDS}",
            decision="Proceed, subject to every gate passing and publication of the results.",
            published_at=START - timedelta(days=10)),
        engagement=(EngagementEventFacts(date(2026, 5, 1), AudienceCategory.RESIDENTS, 60),),
        consultation=ConsultationFacts(ConsultationStatus.CLOSED, response_count=12,
                                       closed_at=START - timedelta(days=5)),
        feedback=feedback,
        watchlist=WatchlistFacts(
            entries=entries or (WatchlistEntryFacts("wanted_for_arrest", date(2026, 3, 1)),),
            built_at=START - timedelta(days=3)),
        latest_equity_audit=None, as_of=as_of or START - timedelta(days=4))


def keys(report: GateReport) -> dict[str, str | None]:
    return {g.name: g.failure_key for g in report.failing}


def test_every_failure_carries_a_key_and_passes_carry_none() -> None:
    report = evaluate_gates(dossier(), PARAMS)
    assert set(keys(report)) == {"threshold", "watchlist_rules"}
    assert all(k and k.startswith("v1:") for k in keys(report).values())
    assert all(g.failure_key is None for g in report.results if g.passed)


def test_a_key_stands_still_while_the_clock_moves() -> None:
    early = evaluate_gates(dossier(as_of=START - timedelta(days=4)), PARAMS)
    late = evaluate_gates(dossier(as_of=START - timedelta(minutes=5)), PARAMS)
    assert keys(early) == keys(late)
    assert gate_changes(early, late) == []


def test_a_key_changes_with_the_failure() -> None:
    signed = keys(evaluate_gates(dossier(), PARAMS))
    lowered = keys(evaluate_gates(dossier(threshold=0.30), PARAMS))
    assert lowered["threshold"] != signed["threshold"]
    assert lowered["watchlist_rules"] == signed["watchlist_rules"]
    added = keys(evaluate_gates(dossier(entries=(
        WatchlistEntryFacts("wanted_for_arrest", date(2026, 3, 1)),
        WatchlistEntryFacts("protest_organiser", date(2020, 1, 10)))), PARAMS))
    assert added["watchlist_rules"] != signed["watchlist_rules"]
    assert added["threshold"] == signed["threshold"]  # never audited: size is no matter


def test_the_consultation_key_follows_the_feedback_that_fails_it() -> None:
    submitted = START - timedelta(days=15)
    objection = FeedbackFacts(FeedbackKind.OBJECTION, submitted, submitted + timedelta(days=9))
    question = FeedbackFacts(FeedbackKind.QUESTION, submitted, submitted + timedelta(days=9))
    support = FeedbackFacts(FeedbackKind.SUPPORT, submitted, submitted + timedelta(days=9))
    before_due = START - timedelta(days=7)

    def key(*items: FeedbackFacts, at: datetime = before_due) -> str | None:
        return keys(evaluate_gates(dossier(feedback=items, as_of=at), PARAMS)).get(
            "consultation_and_objections")

    signed = key(objection)
    assert signed is not None
    assert key(objection, support) == signed  # nothing that fails
    assert key(objection, question) == signed  # a question not yet due
    assert key(objection, question, at=START - timedelta(days=1)) != signed  # now overdue
    assert key(objection, replace(objection, submitted_at=submitted + timedelta(hours=1))
               ) != signed  # another objection without an answer


def test_a_coverage_covers_the_failures_signed_for_and_nothing_else() -> None:
    report = evaluate_gates(dossier(), PARAMS)
    covered = Coverage(signed_failures(report.failing))
    assert uncovered(report.failing, covered) == []
    assert covered & {"threshold", "notice_period"} == {"threshold"}  # still a set of names
    lowered = evaluate_gates(dossier(threshold=0.30), PARAMS)
    assert [g.name for g in uncovered(lowered.failing, covered)] == ["threshold"]
    assert changed_since(lowered.failing, signed_failures(report.failing)) == (
        [], ["threshold"])
    # Names alone, and overrides recorded before keys were, cover nothing.
    assert uncovered(report.failing, {"threshold", "watchlist_rules"}) == report.failing
    legacy = [{"name": g.name, "reason": g.reason} for g in report.failing]
    assert uncovered(report.failing, Coverage(legacy)) == report.failing
    assert changed_since(report.failing, legacy) == ([], ["watchlist_rules", "threshold"])


def test_an_amendment_that_changes_a_failure_changes_the_gate_s_answer() -> None:
    before = evaluate_gates(dossier(), PARAMS)
    after = evaluate_gates(dossier(threshold=0.30), PARAMS)
    assert gate_changes(before, after) == [GateChange("threshold", False, False,
                                                      failure_changed=True)]


def test_a_countersignature_is_of_the_request_read() -> None:
    require_request_read(7, 7, OverrideStatus.AWAITING_COUNTERSIGNATURE)
    with pytest.raises(Conflict, match="override 6 was replaced by a newer request; the "
                       "request awaiting a countersignature is override 7"):
        require_request_read(6, 7, OverrideStatus.SUPERSEDED)
    with pytest.raises(Conflict, match="override 5 is lapsed, not awaiting"):
        require_request_read(5, 7, OverrideStatus.LAPSED)
    with pytest.raises(Conflict, match="override 99 is not a request on this deployment"):
        require_request_read(99, 7, None)
