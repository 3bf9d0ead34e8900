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
    describes_residents,
)
from openlfr.governance.errors import Conflict, InvalidInput, InvalidTransition
from openlfr.governance.gates import (
    ALL_GATES,
    GateParameters,
    audited_model_change_problem,
    audited_rates_for,
    cia_gate,
    consultation_gate,
    council_motions_gate,
    engagement_reach_gate,
    equity_audit_date_problem,
    evaluate_gates,
    notice_period_gate,
    threshold_gate,
    unanswered_overdue,
    watchlist_gate,
)
from openlfr.governance.lifecycle import (
    DeploymentStatus,
    Transition,
    lowest_threshold,
    next_status,
    require_running_window,
    require_score_at_threshold,
    require_within_window,
    threshold_during,
)
from openlfr.governance.records import (
    AudienceCategory,
    AuditedRates,
    CiaFacts,
    ConsultationFacts,
    ConsultationStatus,
    CouncilMotionFacts,
    DeploymentDossier,
    DeploymentFacts,
    EngagementEventFacts,
    EngagementFormat,
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


#: An audit's overall results, shaped like the issue's held-out figures.
AUDITED = (
    AuditedRates(1000, 0.50, fpir=0.087, fpir_upper=0.092, tpir=0.81),
    AuditedRates(1000, 0.60, fpir=0.0004, fpir_upper=0.0007, tpir=0.34),
    AuditedRates(2800, 0.50, fpir=0.0123, fpir_upper=0.015, tpir=0.81),
    AuditedRates(2800, 0.60, fpir=0.010, fpir_upper=0.012, tpir=0.34),
    AuditedRates(2800, 0.70, fpir=0.0006, fpir_upper=0.0009, tpir=0.035),
)


def good_dossier() -> DeploymentDossier:
    """A deployment that passes every gate; tests break one thing at a time."""
    return DeploymentDossier(
        deployment=DeploymentFacts(
            reference="LFR-2026-0001", status=DeploymentStatus.NOTICE_PUBLISHED,
            borough="Lambeth", ward="Vauxhall", start_at=START,
            end_at=START + timedelta(hours=8), threshold=0.64,
            notice_published_at=START - timedelta(days=20), borough_code="lambeth",
            ward_code="lambeth--vauxhall"),
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
        latest_equity_audit=EquityAuditFacts(date(2026, 1, 15), fair_threshold=0.6,
                                             identification=AUDITED,
                                             groups=("sex=female", "sex=male")))


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
    assert result.overridable  # short, but not below the hard minimum of 7 days


@pytest.mark.parametrize(("days", "overridable"), [(7, True), (6.9, False), (2, False)])
def test_notice_below_the_hard_minimum_can_never_be_overridden(days: float,
                                                               overridable: bool) -> None:
    d = with_deployment(good_dossier(), notice_published_at=START - timedelta(days=days))
    result = notice_period_gate(d, PARAMS)
    assert not result.passed and result.overridable is overridable
    if not overridable:
        assert result.override_refusal is not None
        assert "shorter than 7 days can never be overridden" in result.override_refusal


def test_notice_period_fails_without_notice() -> None:
    result = notice_period_gate(with_deployment(good_dossier(), notice_published_at=None), PARAMS)
    assert not result.passed and "No public notice" in result.reason
    assert not result.overridable


def test_notice_period_is_configurable() -> None:
    d = with_deployment(good_dossier(), notice_published_at=START - timedelta(days=20))
    assert not notice_period_gate(d, replace(PARAMS, notice_days=28)).passed


# --- impact assessment ---------------------------------------------------------------------------

def test_cia_gate_fails_when_unpublished_and_no_override_can_set_that_aside() -> None:
    d = replace(good_dossier(), cia=replace(GOOD_CIA, published_at=None))
    result = cia_gate(d, PARAMS)
    assert not result.passed and "not yet published" in result.reason
    assert result.override_refusal is not None and "unpublished" in result.override_refusal


def test_cia_gate_fails_when_missing() -> None:
    result = cia_gate(replace(good_dossier(), cia=None), PARAMS)
    assert not result.passed and "no community impact assessment" in result.reason
    assert not result.overridable


def test_a_published_assessment_made_incomplete_later_may_be_overridden() -> None:
    """Completeness also reads the engagement log: a published assessment can become
    incomplete when events change; that failure is one an override may set aside."""
    result = cia_gate(replace(good_dossier(), engagement=()), PARAMS)
    assert not result.passed and result.overridable


def test_cia_gate_fails_when_it_never_describes_residents() -> None:
    d = replace(good_dossier(), cia=replace(GOOD_CIA, area_profile=f"The high street. {WORDS}"))
    result = cia_gate(d, PARAMS)
    assert not result.passed and "never describes who lives there" in result.reason


#: Area profiles that do not say who lives there, although some mention residents: the
#: first is the kind of sentence that was all a 2024 assessment said about residents.
DOES_NOT_DESCRIBE = [
    "Any press enquiries will be handled by the press office, which will reassure residents "
    "that the deployment is intelligence-led and proportionate.",
    "Residents will be informed of the deployment through social media and the force website.",
    "We will keep residents informed throughout.",
    "The borough is vibrant and diverse, with a thriving night-time economy.",
    "Residents have raised robbery near the station at ward panels.",
]
#: Area profiles that do: how many live there, and who they are.
DESCRIBES = [
    "About 14,000 residents live in the ward, many of them young families and older residents "
    "in social housing.",
    "The 2021 census counted 15,200 people living in the ward; 38% are Black or Black British "
    "and one household in four speaks a language other than English at home.",
    "Most households rent from the council or a housing association, and a third of residents "
    "are under 25.",
]


@pytest.mark.parametrize("text", DOES_NOT_DESCRIBE)
def test_a_sentence_that_only_mentions_residents_does_not_describe_them(text: str) -> None:
    assert not describes_residents(text)
    cia = replace(GOOD_CIA, area_profile=f"{text} {WORDS}")
    assert any(f.section == "area_profile" and "who lives there" in f.problem
               for f in completeness_findings(cia, list(good_dossier().engagement),
                                              good_dossier().consultation))


@pytest.mark.parametrize("text", DESCRIBES)
def test_a_profile_that_says_who_lives_there_describes_them(text: str) -> None:
    assert describes_residents(text)
    # Beside a press line, the description still counts.
    assert describes_residents(f"{DOES_NOT_DESCRIBE[0]} {text}")


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
    # An objection whose text is withheld for abuse was received all the same.
    withheld = derive_consultation_findings(d.consultation, [*d.feedback, feedback(
        answered=False, hidden=True)])
    assert "objection: 2, support: 1 (1 with the text withheld for abuse)." in withheld
    assert "1 of 2 objection(s) have a published answer" in withheld


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


def test_a_post_to_followers_is_no_one_met() -> None:
    """Five council briefings of 12, and a "written" entry for residents claiming 100
    attendees (a force's social-media followers): written contact meets no one, so the
    share is 0% and the gate fails, as if the post had not been logged."""
    briefings = tuple(EngagementEventFacts(date(2026, 5, i), AudienceCategory.COUNCIL_OFFICIALS,
                                           12, EngagementFormat.BRIEFING) for i in range(1, 6))
    post = EngagementEventFacts(date(2026, 5, 6), AudienceCategory.RESIDENTS, 100,
                                EngagementFormat.WRITTEN)
    assert post.people_met == 0
    result = engagement_reach_gate(replace(good_dossier(), engagement=(*briefings, post)), PARAMS)
    assert not result.passed and "Only 0% of the 60 people" in result.reason
    assert "written contact" in result.reason
    alone = engagement_reach_gate(replace(good_dossier(), engagement=(post,)), PARAMS)
    assert not alone.passed and "meets no one" in alone.reason


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


def test_an_objection_whose_text_is_withheld_for_abuse_still_needs_its_answer() -> None:
    """Hiding withholds the words, not the objection: it still blocks until answered, and
    the gate says how many it counted with their text withheld."""
    d = replace(good_dossier(), feedback=(feedback(), feedback(answered=False, hidden=True)))
    result = consultation_gate(d, PARAMS)
    assert not result.passed and result.reason == (
        "1 objection(s) have no published answer yet (1 with the text withheld for abuse).")
    answered = replace(d, feedback=(feedback(), feedback(hidden=True)))
    result = consultation_gate(answered, PARAMS)
    assert result.passed and result.reason.endswith(
        "all 2 objection(s) have a published answer (1 with the text withheld for abuse).")
    after = START + timedelta(days=10)  # past the item's deadline
    late = replace(d, feedback=(feedback(FeedbackKind.QUESTION, answered=False, hidden=True),),
                   as_of=after)
    assert unanswered_overdue(late, after) == 1 and not consultation_gate(late, PARAMS).passed
    assert "(1 with the text withheld for abuse)" in consultation_gate(late, PARAMS).reason


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


def test_watchlist_fails_when_not_built_or_empty_and_no_override_can_set_that_aside() -> None:
    unbuilt = replace(good_dossier(), watchlist=WatchlistFacts((OK_ENTRY,), built_at=None))
    result = watchlist_gate(unbuilt, PARAMS)
    assert "not been built" in result.reason and not result.overridable
    empty = watchlist_gate(replace(good_dossier(), watchlist=None), PARAMS)
    assert not empty.passed and empty.override_refusal == (
        "An empty watchlist can never be overridden.")
    too_early = watchlist_gate(with_entries(OK_ENTRY, built_hours_before=25), PARAMS)
    assert not too_early.passed and too_early.overridable


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


def test_threshold_fails_when_the_engine_was_never_audited() -> None:
    """The register says "never audited for equity"; the gate says the same, not "passed"
    (a check that could not be made), and a two-person override may still go ahead."""
    result = threshold_gate(replace(good_dossier(), latest_equity_audit=None), PARAMS)
    assert not result.passed and "never been audited for equity" in result.reason
    assert "no audited false positive identification rate" in result.reason
    assert result.overridable


def test_threshold_fails_when_the_audit_measured_another_network() -> None:
    """An audit's fair threshold and false-alert rates are one network's: a watchlist built
    with another descriptor model runs a network nobody audited. Where either model is not
    recorded the check cannot be made and the rest of the gate decides."""
    base = with_deployment(good_dossier(), threshold=0.6)
    audit, watchlist = base.latest_equity_audit, base.watchlist
    assert audit is not None and watchlist is not None

    def models(audited: str | None, built: str | None) -> DeploymentDossier:
        return replace(base, latest_equity_audit=replace(audit, model=audited),
                       watchlist=replace(watchlist, descriptor_model=built))

    assert threshold_gate(models("w600k:abc", "w600k:abc"), PARAMS).passed
    assert threshold_gate(models(None, "w600k:abc"), PARAMS).passed
    assert threshold_gate(models("w600k:abc", None), PARAMS).passed
    result = threshold_gate(models("w600k:abc", "dlib:def"), PARAMS)
    assert not result.passed and result.overridable
    assert result.reason.startswith(
        "The watchlist is built with descriptor model dlib:def, but the equity audit of "
        "2026-01-15 measured w600k:abc (its technology register entry)")
    assert "openlfr evaluate --descriptor" in result.reason

def with_audit(dossier: DeploymentDossier, rows: tuple[AuditedRates, ...] = AUDITED,
               entries: int | None = None, **deployment: Any) -> DeploymentDossier:
    """``dossier`` with the audit's results ``rows``, a watchlist of ``entries`` and the
    deployment's fields changed."""
    audit, watchlist = dossier.latest_equity_audit, dossier.watchlist
    assert audit is not None and watchlist is not None
    if entries is not None:
        watchlist = replace(watchlist, entries=(watchlist.entries[0],) * entries)
    return with_deployment(replace(dossier, watchlist=watchlist, latest_equity_audit=replace(
        audit, identification=rows)), **deployment)


def test_audited_rates_err_towards_more_false_alerts() -> None:
    """The smallest audited watchlist at least as large as the deployment's, and at it the
    highest audited threshold not above the deployment's."""
    assert audited_rates_for(AUDITED, 1200, 0.65).rates == AUDITED[3]
    assert audited_rates_for(AUDITED, 1000, 0.65).rates == AUDITED[1]
    assert audited_rates_for(AUDITED, 2, 0.99).rates == AUDITED[1]
    assert audited_rates_for(AUDITED, 2800, 0.70).rates == AUDITED[4]
    # 0.1 + 0.6 is 0.7 give or take a rounding error: still the audited 0.70.
    assert audited_rates_for(AUDITED, 2800, 0.1 + 0.6).rates == AUDITED[4]
    assert audited_rates_for(AUDITED, 2800, 0.6999).rates == AUDITED[3]
    too_big = audited_rates_for(AUDITED, 2801, 0.7)
    assert too_big.rates is None and "at most 2,800 entries" in too_big.gap
    too_low = audited_rates_for(AUDITED, 500, 0.45)
    assert too_low.rates is None and "lowest audited threshold is 0.50" in too_low.gap
    assert audited_rates_for((), 10, 0.6).rates is None


def test_threshold_fails_when_the_audit_shows_too_many_false_alerts() -> None:
    result = threshold_gate(with_audit(good_dossier(), entries=2800, threshold=0.5), PARAMS)
    assert not result.passed and result.overridable  # the normal two-person override
    assert ("latest equity audit (2026-01-15) found FPIR 0.0123 (95% upper 0.015) at "
            "watchlist 2,800 and threshold 0.50, above the policy maximum of 0.001 (1 in "
            "1,000 passers-by); raise the threshold or audit again.") in result.reason
    # The fair-threshold part failing too: both reasons are given.
    assert "0.50 is below 0.60" in result.reason


def test_threshold_audit_check_names_the_figures_it_stood_in_for() -> None:
    result = threshold_gate(with_audit(good_dossier(), entries=1500, threshold=0.65), PARAMS)
    assert not result.passed
    assert ("FPIR 0.01 (95% upper 0.012) at watchlist 2,800 and threshold 0.60 (the audited "
            "figures covering this deployment's 1,500 entries at threshold 0.65)"
            ) in result.reason
    assert "fair threshold" not in result.reason  # only what failed
    raised = threshold_gate(with_audit(good_dossier(), entries=1500, threshold=0.7), PARAMS)
    assert raised.passed
    assert "Threshold 0.70 is at or above the fair threshold 0.60" in raised.reason
    assert ("found FPIR 0.0006 (95% upper 0.0009) at watchlist 2,800 and threshold 0.70 "
            "(the audited figures covering this deployment's 1,500 entries at threshold "
            "0.70), within the policy maximum of 0.001") in raised.reason


def test_threshold_audit_check_holds_the_upper_bound_and_needs_one() -> None:
    rows = (AuditedRates(100, 0.6, fpir=0.0008, fpir_upper=0.0011),)
    bound = threshold_gate(with_audit(good_dossier(), rows), PARAMS)
    assert not bound.passed and "FPIR 0.0008 (95% upper 0.0011)" in bound.reason
    # A rate with neither its bound nor its counts: 0 false alerts in a dozen searches
    # would read the same, so it is not passed.
    point = threshold_gate(with_audit(good_dossier(), (AuditedRates(100, 0.6, fpir=0.0),)),
                           PARAMS)
    assert not point.passed and point.overridable
    assert point.reason == (
        "The latest equity audit (2026-01-15) found FPIR 0 at watchlist 100 and threshold "
        "0.60 (the audited figures covering this deployment's 2 entries at threshold 0.64) "
        "but gives no counts of non-mated searches and false alerts, from which the "
        "platform computes the FPIR's upper 95% bound, so the policy maximum of 0.001 (1 in "
        "1,000 passers-by) cannot be held against what its data rule out; record the audit "
        "with its counts (openlfr evaluate --register).")
    counted = (AuditedRates(100, 0.6, fpir=0.0, fpir_upper=0.000738, nonmated_searches=5000,
                            false_alerts=0),)
    result = threshold_gate(with_audit(good_dossier(), counted), PARAMS)
    assert result.passed and ("found FPIR 0 (0 false alerts in 5,000 non-mated searches; "
                              "95% upper 0.000738) at watchlist 100") in result.reason
    at_limit = (AuditedRates(100, 0.6, fpir=0.0008, fpir_upper=0.001),)
    assert threshold_gate(with_audit(good_dossier(), at_limit), PARAMS).passed
    looser = replace(PARAMS, max_audit_fpir=0.002)
    result = threshold_gate(with_audit(good_dossier(), rows), looser)
    assert result.passed and "policy maximum of 0.002 (1 in 500 passers-by)" in result.reason


def test_threshold_fails_when_the_audit_does_not_cover_the_deployment() -> None:
    bigger = threshold_gate(with_audit(good_dossier(), entries=3000, threshold=0.8), PARAMS)
    assert not bigger.passed and bigger.overridable
    assert ("does not cover this deployment (3,000 entries on the watchlist at threshold 0.80): it "
            "covers watchlists of at most 2,800 entries, and this one has 3,000; audit again"
            ) in bigger.reason
    # A smaller watchlist than any audited is judged by the smallest audited one.
    smaller = threshold_gate(with_audit(good_dossier(), AUDITED[2:]), PARAMS)
    assert not smaller.passed and ("at watchlist 2,800 and threshold 0.60 (the audited "
                                   "figures covering this deployment's 2 entries at "
                                   "threshold 0.64)") in smaller.reason
    lowest = with_audit(good_dossier(), (AuditedRates(1000, 0.7, fpir=0.0),), threshold=0.65)
    result = threshold_gate(lowest, PARAMS)
    assert not result.passed and "lowest audited threshold is 0.70" in result.reason


def test_threshold_fails_when_the_audit_has_no_fpir_to_check() -> None:
    """An audit recorded without identification results is like no audit for this check:
    a check that could not be made is not passed (else a newer audit recorded without its
    figures would set aside an older one that found too many false alerts). The two-person
    override may still go ahead, in public."""
    result = threshold_gate(with_audit(good_dossier(), ()), PARAMS)
    assert not result.passed and result.overridable
    assert result.reason == (
        "The latest equity audit (2026-01-15) records no FPIR per watchlist size and "
        "threshold, so the policy maximum of 0.001 (1 in 1,000 passers-by) cannot be "
        "checked; record an audit with its identification results (openlfr evaluate "
        "--register).")


def test_threshold_fails_when_the_audit_compares_no_groups() -> None:
    """The fair threshold is where no group's false alerts differ from another's: an audit
    that gives no per-group results (or one group's) backs it with nothing."""
    dossier = good_dossier()
    assert dossier.latest_equity_audit is not None
    for groups, said in (((), "no group"), (("all",), "one group only")):
        audit = replace(dossier.latest_equity_audit, groups=groups)
        result = threshold_gate(replace(dossier, latest_equity_audit=audit), PARAMS)
        assert not result.passed and result.overridable
        assert result.reason.startswith(
            f"The equity audit of 2026-01-15 gives results for {said}, so its fair threshold "
            "0.60 compares nobody; record an audit with its per-group results (openlfr "
            "evaluate --register, on photos labelled by group).")


def _threshold(before: float, after: float) -> list[dict[str, object]]:
    return [{"field": "threshold", "before": before, "after": after}]


def test_an_alert_is_held_to_the_threshold_in_force_when_it_was_raised() -> None:
    t = datetime(2026, 3, 22, 10, 0, tzinfo=UTC)
    changes = [(t, 0.64, 0.70), (t + timedelta(hours=2), 0.70, 0.75)]
    hour = timedelta(hours=1)
    assert threshold_during(0.64, [], t, t) == 0.64
    assert threshold_during(0.75, changes, t - 2 * hour, t - hour) == 0.64
    assert threshold_during(0.75, changes, t + hour / 2, t + hour) == 0.70
    assert threshold_during(0.75, changes, t + 3 * hour, t + 4 * hour) == 0.75
    # A window across a change: the lowest value in force in it (the node's clock skew).
    assert threshold_during(0.75, changes, t - hour / 12, t + hour / 12) == 0.64
    assert threshold_during(0.75, changes, t + 2 * hour - hour / 12, t + 2 * hour) == 0.70


def test_an_alert_is_held_to_the_lowest_threshold_that_ran() -> None:
    S = DeploymentStatus  # noqa: N806
    assert lowest_threshold(0.64, S.ACTIVE, []) == 0.64
    # Raised from 0.60 mid-deployment: what a node decided before the raise may come late.
    raised = [("active", "active", _threshold(0.6, 0.7)),
              ("active", "active", [{"field": "title", "before": "a", "after": "b"}])]
    assert lowest_threshold(0.7, S.ACTIVE, raised) == 0.6
    assert lowest_threshold(0.7, S.COMPLETED, raised) == 0.6
    # The second reviewer's bounce: lowered to 0.30 while active, which sent it back to
    # notice; raised to 0.64 again before it ran again. 0.30 never ran.
    bounce = [("active", "notice_published", _threshold(0.64, 0.3)),
              ("notice_published", "notice_published", _threshold(0.3, 0.64))]
    assert lowest_threshold(0.64, S.ACTIVE, bounce) == 0.64
    # Lowered after completion: 0.05 never ran.
    after = [("completed", "completed", _threshold(0.64, 0.05))]
    assert lowest_threshold(0.05, S.COMPLETED, after) == 0.64
    # Changed after notice and before it ran: the value replaced never ran.
    before = [("notice_published", "notice_published", _threshold(0.6, 0.7))]
    assert lowest_threshold(0.7, S.COMPLETED, before) == 0.7
    assert lowest_threshold(0.7, S.AUTHORISED, before) == 0.7
    # Sent back by another record's amendment, then run again at a raised threshold: the
    # value it first ran at stays a floor (its node may still deliver late).
    again = [("active", "notice_published", [{"field": "event", "before": 1, "after": None}]),
             ("notice_published", "notice_published", _threshold(0.64, 0.7))]
    assert lowest_threshold(0.7, S.ACTIVE, again) == 0.64
    require_score_at_threshold(0.6, 0.6)
    require_score_at_threshold(0.59995, 0.6)  # the node's rounding to 4 decimals
    with pytest.raises(InvalidInput) as refused:
        require_score_at_threshold(0.55, 0.6)
    assert refused.value.field == "score"
    assert refused.value.message == (
        "0.5500 is below the deployment's threshold (0.60): an engine node alerts only at or "
        "above it; check the node runs the deployment's threshold")


def test_an_audited_entrys_model_cannot_change() -> None:
    assert audited_model_change_problem("net:aa", "net:aa", audits=3) is None
    assert audited_model_change_problem("net:aa", "net:bb", audits=0) is None
    assert audited_model_change_problem("net:aa", "net:bb", audits=1) == (
        "this entry has 1 equity audit of model net:aa, which would then stand for net:bb; "
        "register net:bb as a new entry and audit it (openlfr evaluate --register)")


def test_an_equity_audit_dated_in_the_future_is_refused() -> None:
    now = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)
    assert equity_audit_date_problem(date(2026, 6, 1), now) is None
    assert equity_audit_date_problem(date(2020, 1, 1), now) is None
    # A day's grace for a tool whose clock is ahead of the platform's.
    assert equity_audit_date_problem(date(2026, 6, 2), now) is None
    assert equity_audit_date_problem(date(2026, 6, 3), now) == (
        "2026-06-03 is in the future (the latest date accepted today is 2026-06-02); "
        "record an audit once it has been conducted")


# --- council motions -----------------------------------------------------------------------------

MOTION = CouncilMotionFacts("Lambeth Council", date(2026, 2, 1), MotionStance.CONDITIONS,
                            area_codes=("lambeth",))
SUSPEND = replace(MOTION, stance=MotionStance.SUSPEND,
                  points=("Suspend LFR in the borough.", "Publish every past deployment's "
                          "false alerts."))
ANSWERED = START - timedelta(days=30)
RESPONSE = "We have commissioned a review and explain below why we still plan this."


def test_motion_covering_the_borough_without_response_fails() -> None:
    result = council_motions_gate(replace(good_dossier(), motions=(MOTION,)), PARAMS)
    assert not result.passed and "Lambeth Council (2026-02-01, conditions)" in result.reason
    assert result.overridable


def test_a_ward_motion_binds_a_deployment_that_names_only_the_borough() -> None:
    """A force cannot step round a ward's suspend motion by declaring the borough alone:
    its cameras may be in that ward. A motion on another ward of a deployment that names
    its own ward does not bind it."""
    ward = replace(SUSPEND, area_codes=("lambeth--vauxhall",))
    assert ward.covers("lambeth", None)
    assert ward.covers("lambeth", "lambeth--vauxhall")
    assert not ward.covers("lambeth", "lambeth--oval")
    assert not ward.covers("southwark", None)
    assert not ward.covers("lambeth-north", None)  # a prefix of the name is not a ward of it
    dossier = replace(good_dossier(), motions=(ward,))
    result = council_motions_gate(replace(dossier, deployment=replace(
        dossier.deployment, ward_code=None)), PARAMS)
    assert not result.passed and not result.overridable


def test_motion_with_published_response_passes() -> None:
    answered = replace(MOTION, response_published_at=ANSWERED, response=RESPONSE)
    assert council_motions_gate(replace(good_dossier(), motions=(answered,)), PARAMS).passed


@pytest.mark.parametrize(("points", "response", "answers", "gap"), [
    ((), "Noted.", (), "the response says nothing of substance"),
    (("Give four weeks' notice.",), RESPONSE, ("n/a",), "point 1 has no answer of substance"),
    (("Give four weeks' notice.",), RESPONSE, (), "not every point has an answer"),
])
def test_a_response_without_substance_does_not_answer_a_motion(
        points: tuple[str, ...], response: str, answers: tuple[str, ...], gap: str) -> None:
    """A response stored before the rule counts only if it passes it."""
    thin = replace(MOTION, response_published_at=ANSWERED, response=response, points=points,
                   point_answers=answers)
    result = council_motions_gate(replace(good_dossier(), motions=(thin,)), PARAMS)
    assert not result.passed and gap in result.reason and result.overridable
    # The configured minimum is the gate's too.
    full = replace(thin, response=RESPONSE, point_answers=(RESPONSE,) * len(points))
    assert council_motions_gate(replace(good_dossier(), motions=(full,)), PARAMS).passed
    strict = replace(PARAMS, answer_min_chars=len(RESPONSE) + 1)
    assert not council_motions_gate(replace(good_dossier(), motions=(full,)), strict).passed


@pytest.mark.parametrize("stance", [MotionStance.SUSPEND, MotionStance.OPPOSE])
def test_a_motion_asking_to_stop_lfr_is_never_lifted_by_a_response_alone(
        stance: MotionStance) -> None:
    """Until each point has a public answer it cannot even be overridden; after that it
    still fails, and only a (two-person) override may set it aside."""
    motion = replace(SUSPEND, stance=stance)
    unanswered = council_motions_gate(replace(good_dossier(), motions=(motion,)), PARAMS)
    assert not unanswered.passed and not unanswered.overridable
    one_point = replace(motion, response_published_at=ANSWERED, response=RESPONSE,
                        point_answers=("Not suspended: a named suspect is sought here.",))
    result = council_motions_gate(replace(good_dossier(), motions=(one_point,)), PARAMS)
    assert not result.passed and not result.overridable
    assert "answered each of its points" in str(result.override_refusal)
    # "No." and "n/a" answer nothing: still no override.
    thin = replace(one_point, point_answers=("No.", "n/a"))
    result = council_motions_gate(replace(good_dossier(), motions=(thin,)), PARAMS)
    assert not result.passed and not result.overridable
    every_point = replace(one_point, point_answers=(
        "Not suspended: a named suspect is sought here, see the assessment.",
        "Yes: every past deployment's false alerts are published on the register."))
    result = council_motions_gate(replace(good_dossier(), motions=(every_point,)), PARAMS)
    assert not result.passed and result.overridable
    assert "only a countersigned override can" in result.reason


@pytest.mark.parametrize(("areas", "covers"), [
    (("lambeth",), True),
    (("lambeth--vauxhall",), True),
    (("lambeth--oval",), False),
    (("southwark",), False),
    (("southwark", "lambeth--vauxhall"), True),
])
def test_motion_area_matching_is_by_gazetteer_code(areas: tuple[str, ...],
                                                   covers: bool) -> None:
    motion = replace(MOTION, area_codes=areas)
    assert motion.covers("lambeth", "lambeth--vauxhall") is covers
    result = council_motions_gate(replace(good_dossier(), motions=(motion,)), PARAMS)
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
        "differ between demographic groups. Some people may avoid the area, and faces that "
        "match nobody are deleted at once.") == []


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
