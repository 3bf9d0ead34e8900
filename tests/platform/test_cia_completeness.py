"""The assessment's completeness check against boilerplate (governance.cia), pure: an area
profile must count the people who live there or give a share of them (a year, "many" or a
count of something else does not), and an equality impact must say, for at least one
protected characteristic, what the effect is or why there is none ("no disproportionate
impact" after a list of characteristics does not)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from platform_helpers import AREA_PROFILE, DECISION, EQUALITY, MITIGATIONS, RISKS

from openlfr.demo import content
from openlfr.governance.cia import (
    completeness_findings,
    describes_residents,
    explains_an_equality_effect,
)
from openlfr.governance.records import (
    AudienceCategory,
    CiaFacts,
    ConsultationFacts,
    ConsultationStatus,
    EngagementEventFacts,
)

EVENTS = [EngagementEventFacts(date(2026, 3, 1), AudienceCategory.RESIDENTS, 10)]
CLOSED = ConsultationFacts(ConsultationStatus.CLOSED, 20)

#: Sentences that mention residents beside a number or a vague amount, and say nothing of
#: who they are or how many.
BOILERPLATE_PROFILES = [
    "This assessment was reviewed in 2024 with residents in mind.",
    "Residents and visitors use the high street, with many visitors at weekends.",
    "The deployment will benefit residents in the 3 wards around the station.",
    "Local residents want their streets to be safer than in 2023.",
    "Many residents are young families, and few households own a car.",
    "In 2024 residents raised robbery near the station at 2 ward panels.",
    "Since 2019, 3 residents' groups have met the neighbourhood team.",
    "There are 12 schools and 2 mosques serving residents.",
]
#: Counts and shares of the people who live there, written in different ways.
PROFILES = [
    "Lambeth has around 320,000 residents.",
    "The ward has a population of about 15,000.",
    "About 2000 households live on the estate.",
    "A third of residents are under 25.",
    "18% of people aged over 65 live alone.",
    "One household in four speaks a language other than English at home.",
    "Residents, 40% of whom are under 30, mostly rent.",
    "Residents of the ward are mostly young families.",
    "The ward's 6,300 households include many families.",
]


@pytest.mark.parametrize("text", BOILERPLATE_PROFILES)
def test_a_year_or_many_beside_residents_is_not_a_profile(text: str) -> None:
    assert not describes_residents(text)


@pytest.mark.parametrize("text", PROFILES)
def test_a_count_or_share_of_the_residents_is_a_profile(text: str) -> None:
    assert describes_residents(text)


#: The red-team's equality impact: every characteristic listed, a stock conclusion.
STOCK_EQUALITY = (
    "The MPS has considered the impact on all protected characteristics including age, "
    "disability, race, religion or belief, sex and sexual orientation and has found no "
    "disproportionate impact. The deployment is not expected to have a negative impact on "
    "any group.")
EXPLAINED = [
    "Race and sex: the audit found no difference in false alerts at this threshold.",
    "Young Black men may be more likely to be stopped after a false alert.",
    "Disabled people may not be able to use the signs, so officers explain the process.",
    "Religion or belief: head coverings are never asked to be removed.",
    "No effect on sexual orientation is expected because the watchlist holds no such data.",
]


def test_a_list_of_characteristics_and_a_stock_line_explains_nothing() -> None:
    assert not explains_an_equality_effect(STOCK_EQUALITY)
    # An effect named in a sentence about no group does not explain one either.
    assert not explains_an_equality_effect(
        STOCK_EQUALITY + " False alerts are checked by a trained officer.")


@pytest.mark.parametrize("text", EXPLAINED)
def test_an_effect_or_a_reason_for_a_named_group_explains_one(text: str) -> None:
    assert explains_an_equality_effect(text)
    assert explains_an_equality_effect(f"{STOCK_EQUALITY} {text}")


def test_the_red_team_boilerplate_assessment_is_not_complete() -> None:
    area = ("The London Borough of Lambeth is a diverse inner London borough. The deployment "
            "location was selected following analysis of crime data for 2023/24. Residents "
            "and visitors use the high street and the transport hub, and the area has a "
            "vibrant night-time economy with many visitors.")
    cia = CiaFacts(area, RISKS, MITIGATIONS, STOCK_EQUALITY, DECISION,
                   published_at=datetime(2026, 3, 1, tzinfo=UTC))
    findings = completeness_findings(cia, EVENTS, CLOSED)
    assert [f.section for f in findings] == ["area_profile", "equality_impact"]
    assert "a year" in findings[0].problem
    assert "no disproportionate impact" in findings[1].problem
    # With a count of residents and one effect explained, it is complete.
    fixed = CiaFacts(area + " About 14,000 residents live in the ward.", RISKS, MITIGATIONS,
                     f"{STOCK_EQUALITY} {EXPLAINED[0]}", DECISION)
    assert completeness_findings(fixed, EVENTS, CLOSED) == []


@pytest.mark.parametrize("cia", [
    CiaFacts(AREA_PROFILE, RISKS, MITIGATIONS, EQUALITY, DECISION),
    CiaFacts(content.AREA_PROFILE, content.RISKS, content.MITIGATIONS,
             content.EQUALITY_IMPACT, content.DECISION),
], ids=["test fixture", "demo"])
def test_the_fixture_and_demo_assessments_are_complete(cia: CiaFacts) -> None:
    assert completeness_findings(cia, EVENTS, CLOSED) == []
