"""Every gate, passing and failing, on plain domain objects: no database, no web."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from openlfr.governance.cia import (
    completeness_findings,
    derive_consultation_findings,
    derive_engagement_summary,
)
from openlfr.governance.errors import Conflict, InvalidTransition
from openlfr.governance.gates import (
    ALL_GATES,
    GateParameters,
    cia_gate,
    consultation_gate,
    council_motions_gate,
    engagement_reach_gate,
    evaluate_gates,
    notice_period_gate,
    threshold_gate,
    unanswered_overdue,
    watchlist_gate,
)
from openlfr.governance.lifecycle import (
    DeploymentStatus,
    Transition,
    next_status,
    require_running_window,
    require_within_window,
)
from openlfr.governance.records import (
    AudienceCategory,
    CiaFacts,
    ConsultationFacts,
    ConsultationStatus,
    CouncilMotionFacts,
    DeploymentDossier,
    DeploymentFacts,
    EngagementEventFacts,
    EquityAuditFacts,
    FeedbackFacts,
    FeedbackKind,
    MotionStance,
    WatchlistEntryFacts,
    WatchlistFacts,
)
from openlfr.governance.wording import information_sheet_issues, leading_question_issues

START = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
PARAMS = GateParameters(watchlist_allowed_categories=frozenset({"wanted_for_arrest",
                                                                "missing_person"}))
WORDS = " ".join(["word"] * 40)
GOOD_CIA = CiaFacts(
    area_profile=f"Residents of the ward are mostly young families. {WORDS}",
    risks=f"False alerts could lead to wrongful stops. {WORDS}",
    mitigations=WORDS,
    equality_impact=f"Race and sex differences in false alerts; older and disabled people. {WORDS}",
    decision="Proceed, subject to every gate passing and publication of the results.",
    published_at=START - timedelta(days=10))


def feedback(kind: FeedbackKind = FeedbackKind.OBJECTION, answered: bool = True,
             hidden: bool = False) -> FeedbackFacts:
    at = START - timedelta(days=15)
    return FeedbackFacts(kind=kind, submitted_at=at, answer_due_at=at + timedelta(days=20),
                         answered_at=at + timedelta(days=2) if answered else None,
                         hidden_for_abuse=hidden)


def good_dossier() -> DeploymentDossier:
    """A deployment that passes every gate; tests break one thing at a time."""
    return DeploymentDossier(
        deployment=DeploymentFacts(
            reference="LFR-2026-0001", status=DeploymentStatus.NOTICE_PUBLISHED,
            borough="Lambeth", ward="Riverside", start_at=START,
            end_at=START + timedelta(hours=8), threshold=0.64,
            notice_published_at=START - timedelta(days=20)),
        cia=GOOD_CIA,
        engagement=(
            EngagementEventFacts(date(2026, 5, 1), AudienceCategory.RESIDENTS, 60),
            EngagementEventFacts(date(2026, 5, 2), AudienceCategory.COUNCIL_OFFICIALS, 40)),
        consultation=ConsultationFacts(ConsultationStatus.CLOSED, response_count=12,
                                       closed_at=START - timedelta(days=5)),
        feedback=(feedback(), feedback(FeedbackKind.SUPPORT, answered=False)),
        motions=(),
        watchlist=WatchlistFacts(
            entries=(WatchlistEntryFacts("wanted_for_arrest", date(2026, 3, 1)),
                     WatchlistEntryFacts("missing_person", date(2026, 5, 20),
                                         expires_on=date(2026, 12, 31))),
            built_at=START - timedelta(hours=20)),
        latest_equity_audit=EquityAuditFacts(date(2026, 1, 15), fair_threshold=0.6))


def with_deployment(dossier: DeploymentDossier, **changes: Any) -> DeploymentDossier:
    return replace(dossier, deployment=replace(dossier.deployment, **changes))


def test_a_good_dossier_passes_every_gate() -> None:
    report = evaluate_gates(good_dossier(), PARAMS)
    assert report.all_passed, report.failing
    assert len(report.results) == len(ALL_GATES) == 7
    assert all(r.reason.endswith(".") for r in report.results)


# --- notice --------------------------------------------------------------------------------------

def test_notice_period_passes_at_exactly_the_minimum() -> None:
    d = with_deployment(good_dossier(), notice_published_at=START - timedelta(days=14))
    assert notice_period_gate(d, PARAMS).passed


def test_notice_period_fails_when_notice_is_short() -> None:
    d = with_deployment(good_dossier(), notice_published_at=START - timedelta(days=13, hours=23))
    result = notice_period_gate(d, PARAMS)
    assert not result.passed
    assert "at least 14 days" in result.reason and "13 days 23 hours before" in result.reason


def test_notice_period_fails_without_notice() -> None:
    result = notice_period_gate(with_deployment(good_dossier(), notice_published_at=None), PARAMS)
    assert not result.passed and "No public notice" in result.reason


def test_notice_period_is_configurable() -> None:
    d = with_deployment(good_dossier(), notice_published_at=START - timedelta(days=20))
    assert not notice_period_gate(d, replace(PARAMS, notice_days=28)).passed


# --- impact assessment ---------------------------------------------------------------------------

def test_cia_gate_fails_when_unpublished() -> None:
    d = replace(good_dossier(), cia=replace(GOOD_CIA, published_at=None))
    result = cia_gate(d, PARAMS)
    assert not result.passed and "not yet published" in result.reason


def test_cia_gate_fails_when_missing() -> None:
    result = cia_gate(replace(good_dossier(), cia=None), PARAMS)
    assert not result.passed and "no community impact assessment" in result.reason


def test_cia_gate_fails_when_it_never_mentions_residents() -> None:
    d = replace(good_dossier(), cia=replace(GOOD_CIA, area_profile=f"The high street. {WORDS}"))
    result = cia_gate(d, PARAMS)
    assert not result.passed and "never mentions residents" in result.reason


def test_completeness_flags_thin_sections_and_missing_engagement() -> None:
    findings = completeness_findings(CiaFacts(decision="Go."), [], None)
    sections = {f.section for f in findings}
    assert {"area_profile", "risks", "mitigations", "equality_impact", "decision",
            "engagement_summary", "consultation_findings"} <= sections


def test_completeness_flags_engagement_with_officials_only() -> None:
    events = [EngagementEventFacts(date(2026, 5, 1), AudienceCategory.COUNCIL_OFFICIALS, 30)]
    findings = completeness_findings(GOOD_CIA, events,
                                     ConsultationFacts(ConsultationStatus.CLOSED))
    assert [f.section for f in findings] == ["engagement_summary"]


def test_derived_sections_are_written_from_records() -> None:
    d = good_dossier()
    summary = derive_engagement_summary(list(d.engagement))
    assert "2 engagement event(s) with 100 attendee(s)" in summary and "60%" in summary
    findings = derive_consultation_findings(d.consultation, list(d.feedback))
    assert "closed with 12 response(s)" in findings
    assert "1 of 1 objection(s) have a published answer" in findings


# --- engagement reach ----------------------------------------------------------------------------

def test_engagement_reach_passes_at_the_configured_share() -> None:
    assert engagement_reach_gate(good_dossier(), replace(PARAMS, resident_share=0.6)).passed


def test_engagement_reach_fails_when_mostly_officials() -> None:
    """Seven meetings, five with council bodies: the pattern this gate exists to stop."""
    events = tuple(EngagementEventFacts(date(2026, 5, i), AudienceCategory.COUNCIL_OFFICIALS, 12)
                   for i in range(1, 6)) + (
        EngagementEventFacts(date(2026, 5, 6), AudienceCategory.ADVISORY_GROUP, 10),
        EngagementEventFacts(date(2026, 5, 7), AudienceCategory.RESIDENTS, 15))
    result = engagement_reach_gate(replace(good_dossier(), engagement=events), PARAMS)
    assert not result.passed
    assert "Only 18%" in result.reason and "at least 50%" in result.reason


def test_engagement_reach_fails_with_no_attendees() -> None:
    assert not engagement_reach_gate(replace(good_dossier(), engagement=()), PARAMS).passed


# --- consultation and objections -----------------------------------------------------------------

def test_consultation_gate_fails_while_open() -> None:
    d = replace(good_dossier(), consultation=ConsultationFacts(ConsultationStatus.OPEN))
    result = consultation_gate(d, PARAMS)
    assert not result.passed and "still open" in result.reason


def test_consultation_gate_fails_without_consultation() -> None:
    assert not consultation_gate(replace(good_dossier(), consultation=None), PARAMS).passed


def test_consultation_gate_fails_with_an_unanswered_objection() -> None:
    d = replace(good_dossier(), feedback=(feedback(), feedback(answered=False)))
    result = consultation_gate(d, PARAMS)
    assert not result.passed and "1 objection(s) have no published answer" in result.reason


def test_objection_hidden_for_abuse_does_not_block() -> None:
    d = replace(good_dossier(), feedback=(feedback(answered=False, hidden=True),))
    assert consultation_gate(d, PARAMS).passed


def test_unanswered_questions_past_deadline_are_counted_overdue() -> None:
    d = replace(good_dossier(), feedback=(feedback(FeedbackKind.QUESTION, answered=False),
                                         feedback(FeedbackKind.SUPPORT, answered=False)))
    assert unanswered_overdue(d, START + timedelta(days=10)) == 1
    assert unanswered_overdue(d, START - timedelta(days=14)) == 0


# --- watchlist -----------------------------------------------------------------------------------

def with_entries(*entries: WatchlistEntryFacts, built_hours_before: float = 20
                 ) -> DeploymentDossier:
    return replace(good_dossier(), watchlist=WatchlistFacts(
        entries=entries, built_at=START - timedelta(hours=built_hours_before)))


OK_ENTRY = WatchlistEntryFacts("wanted_for_arrest", date(2026, 3, 1))


def test_watchlist_fails_over_the_size_cap() -> None:
    result = watchlist_gate(with_entries(OK_ENTRY, OK_ENTRY, OK_ENTRY),
                            replace(PARAMS, watchlist_max_entries=2))
    assert not result.passed and "more than the cap of 2" in result.reason


def test_watchlist_fails_with_old_images() -> None:
    result = watchlist_gate(with_entries(OK_ENTRY, WatchlistEntryFacts("wanted_for_arrest",
                                                                       date(2024, 1, 1))), PARAMS)
    assert not result.passed and "1 image(s) are older than 365 days" in result.reason


def test_watchlist_fails_with_a_category_not_allowed() -> None:
    result = watchlist_gate(with_entries(WatchlistEntryFacts("person_of_interest",
                                                             date(2026, 3, 1))), PARAMS)
    assert not result.passed and "categories not allowed: person_of_interest" in result.reason


def test_watchlist_fails_when_built_too_early() -> None:
    result = watchlist_gate(with_entries(OK_ENTRY, built_hours_before=25), PARAMS)
    assert not result.passed and "more than 24 hours before the start" in result.reason


def test_watchlist_fails_when_not_built_or_empty() -> None:
    unbuilt = replace(good_dossier(), watchlist=WatchlistFacts((OK_ENTRY,), built_at=None))
    assert "not been built" in watchlist_gate(unbuilt, PARAMS).reason
    assert not watchlist_gate(replace(good_dossier(), watchlist=None), PARAMS).passed


def test_watchlist_fails_with_expired_entries() -> None:
    expired = WatchlistEntryFacts("wanted_for_arrest", date(2026, 3, 1),
                                  expires_on=date(2026, 5, 1))
    assert "expire before the start" in watchlist_gate(with_entries(expired), PARAMS).reason


# --- threshold -----------------------------------------------------------------------------------

def test_threshold_passes_at_the_fair_threshold() -> None:
    assert threshold_gate(with_deployment(good_dossier(), threshold=0.6), PARAMS).passed


def test_threshold_fails_below_the_fair_threshold() -> None:
    """Scores are similarities: a lower threshold alerts more, and less fairly."""
    result = threshold_gate(with_deployment(good_dossier(), threshold=0.57), PARAMS)
    assert not result.passed and "0.57 is below 0.60" in result.reason


def test_threshold_passes_when_no_audit_exists() -> None:
    result = threshold_gate(replace(good_dossier(), latest_equity_audit=None), PARAMS)
    assert result.passed and "no equity audit" in result.reason


# --- council motions -----------------------------------------------------------------------------

MOTION = CouncilMotionFacts("Lambeth Council", date(2026, 2, 1), MotionStance.SUSPEND,
                            areas=("Lambeth",))


def test_motion_covering_the_borough_without_response_fails() -> None:
    result = council_motions_gate(replace(good_dossier(), motions=(MOTION,)), PARAMS)
    assert not result.passed and "Lambeth Council (2026-02-01, suspend)" in result.reason


def test_motion_with_published_response_passes() -> None:
    answered = replace(MOTION, response_published_at=START - timedelta(days=30))
    assert council_motions_gate(replace(good_dossier(), motions=(answered,)), PARAMS).passed


@pytest.mark.parametrize(("areas", "covers"), [
    (("lambeth",), True),
    (("Lambeth/Riverside",), True),
    (("Lambeth / riverside",), True),
    (("Lambeth/Other ward",), False),
    (("Southwark",), False),
])
def test_motion_area_matching(areas: tuple[str, ...], covers: bool) -> None:
    assert replace(MOTION, areas=areas).covers("Lambeth", "Riverside") is covers
    result = council_motions_gate(replace(good_dossier(), motions=(replace(MOTION, areas=areas),)),
                                  PARAMS)
    assert result.passed is not covers


# --- lifecycle and wording -----------------------------------------------------------------------

def test_lifecycle_allows_only_the_next_step() -> None:
    assert next_status(DeploymentStatus.DRAFT, Transition.PROPOSE) is DeploymentStatus.PROPOSED
    assert next_status(DeploymentStatus.AUTHORISED, Transition.CANCEL) is DeploymentStatus.CANCELLED
    with pytest.raises(InvalidTransition, match="only possible from: notice_published"):
        next_status(DeploymentStatus.DRAFT, Transition.AUTHORISE)
    with pytest.raises(InvalidTransition):
        next_status(DeploymentStatus.ACTIVE, Transition.CANCEL)


def test_the_leading_question_from_the_real_email_is_flagged() -> None:
    issues = leading_question_issues(
        "Is this something that you think is a good idea, and would support?")
    assert issues and any("good idea" in i.excerpt for i in issues)
    assert leading_question_issues("Don't you agree it will keep you safe?")
    assert leading_question_issues("What do you think about LFR on the high street?") == []


def test_information_sheet_must_state_risks() -> None:
    assert information_sheet_issues("Catches criminals.", "")
    # The sheet must name unequal accuracy too, and "criminals" is loaded language
    # (tests/platform/test_wording.py has the rules' own tests).
    assert information_sheet_issues(
        "Finds people wanted by the courts.",
        "There is a risk of false alerts that lead to innocent people being stopped, and "
        "everyone passing is scanned, which affects privacy for all of them; accuracy can "
        "differ between demographic groups.") == []


def test_activation_only_inside_the_published_window() -> None:
    end = START + timedelta(hours=8)
    require_within_window(START, end, START - timedelta(minutes=59))
    require_within_window(START, end, end - timedelta(seconds=1))
    with pytest.raises(Conflict, match="too early"):
        require_within_window(START, end, START - timedelta(hours=2))
    with pytest.raises(Conflict, match="window ended"):
        require_within_window(START, end, end)
    with pytest.raises(Conflict, match="must complete"):
        require_running_window(end, end + timedelta(minutes=1))
