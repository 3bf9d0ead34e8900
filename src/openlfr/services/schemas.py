"""Validated inputs to the use cases. The API uses them as request bodies, so a bad field
is a 422 naming that field before any use case runs.

Every string has a maximum length (the column's) and may not contain control characters
(``plain_text``), every number and date is bounded: what the database cannot store is
refused here with a message, instead of failing later.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

from openlfr.governance.answers import AnswerOutcome
from openlfr.governance.records import (
    AlertOutcome,
    AudienceCategory,
    EngagementFormat,
    FeedbackKind,
    MotionStance,
)

EARLIEST_YEAR = 2000
LATEST_YEAR = 2100
MAX_ID = 2_147_483_647  # the largest 32-bit id a database column holds


#: Characters no text field may hold: control characters other than tab and line breaks
#: (a vertical tab breaks XML feeds, an escape sequence a terminal), lone surrogates (no
#: database or encoder can store them) and the bidirectional overrides that make text read
#: differently from what it says.
_FORBIDDEN_CHARACTERS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def plain_text(value: str) -> str:
    """The one rule for text a person sends (every text field of every input): refuses
    control characters other than tab and line breaks, lone surrogates and bidirectional
    overrides, naming the first one by its code point."""
    found = _FORBIDDEN_CHARACTERS.search(value)
    if found:
        raise ValueError(f"must not contain control characters (found U+{ord(found.group()):04X} "
                         f"at position {found.start() + 1}); retype the text or paste it as "
                         "plain text")
    return value




def _moment_in_range(value: datetime) -> datetime:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must be between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def _day_in_range(value: date) -> date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must be between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def without_control_characters(text: str) -> str:
    """``text`` with what ``plain_text`` refuses replaced by a space: for text stored
    before the rule, where it is written into a format that cannot carry it (XML feeds)."""
    return _FORBIDDEN_CHARACTERS.sub(" ", text)


Moment = Annotated[AwareDatetime, AfterValidator(_moment_in_range)]
Day = Annotated[date, AfterValidator(_day_in_range)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Similarity = Annotated[float, Field(ge=0.0, le=1.0)]

Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                  AfterValidator(plain_text)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200),
                  AfterValidator(plain_text)]
Name200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                    AfterValidator(plain_text)]
Prose = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=10_000),
                  AfterValidator(plain_text)]
OptionalProse = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000),
                          AfterValidator(plain_text)]
#: Why a published thing changes (published with it).
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=20,
                                          max_length=5000), AfterValidator(plain_text)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                            pattern=r"^[a-z0-9_]+$"), AfterValidator(plain_text)]
Token = Annotated[str, StringConstraints(min_length=8, max_length=64,
                                         pattern=r"^[A-Za-z0-9_.:-]+$")]


class Input(BaseModel):
    """Base for inputs: unknown fields are refused (a typo should not pass silently)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# --- deployments ----------------------------------------------------------------------

class SiteIn(Input):
    name: Name200
    lat: float = Field(ge=-90, le=90, description="Latitude, WGS84 degrees.")
    lon: float = Field(ge=-180, le=180, description="Longitude, WGS84 degrees.")
    street: Name200 | None = Field(default=None, description="The street, as people find it "
                                   "(e.g. \"Electric Avenue\").")
    postcode: Annotated[str, StringConstraints(
        strip_whitespace=True, to_upper=True, max_length=8,
        pattern=r"^[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}$")] | None = Field(
        default=None, description="The site's UK postcode (e.g. \"SW9 8JX\").")


MAX_DEPLOYMENT_DAYS = 14


class DeploymentIn(Input):
    """A new deployment, as drafted by a planning officer."""

    title: Title
    borough: Short = Field(description="A borough of the gazetteer (its name, an alias such "
                           "as \"London Borough of Newham\", or its code); see "
                           "GET /api/public/areas.")
    ward: Short | None = Field(default=None, description="A ward of that borough (name or "
                               "code), or none for the whole borough.")
    sites: list[SiteIn] = Field(min_length=1, max_length=20)
    start_at: Moment
    end_at: Moment
    purpose: Prose
    offence_categories: list[Name200] = Field(min_length=1, max_length=30)
    intelligence_basis: Prose = Field(description="Why this place: the intelligence behind it.")
    legal_basis: Prose
    threshold: Similarity = Field(
        description="Match threshold: similarity in [0, 1], higher is stricter.")
    camera_count: int = Field(ge=1, le=50)
    signage: Prose = Field(description="Where and how signs tell people LFR is in use.")
    technology_id: Id | None = None

    @model_validator(mode="after")
    def _end_after_start(self) -> DeploymentIn:
        check_deployment_window(self.start_at, self.end_at)
        return self


def check_deployment_window(start_at: datetime, end_at: datetime) -> None:
    """End must follow start, within MAX_DEPLOYMENT_DAYS (raises ValueError for pydantic)."""
    if end_at <= start_at:
        raise ValueError("end_at must be after start_at")
    if (end_at - start_at).days >= MAX_DEPLOYMENT_DAYS:
        raise ValueError(f"a deployment may last at most {MAX_DEPLOYMENT_DAYS} days")


class PlanChangesIn(Input):
    """The parts of a published plan an amendment may change. The area, the sites and the
    dates the public was told about change only by rescheduling (dates) or not at all."""

    title: Title | None = None
    purpose: Prose | None = None
    offence_categories: list[Name200] | None = Field(default=None, min_length=1, max_length=30)
    intelligence_basis: Prose | None = None
    legal_basis: Prose | None = None
    threshold: Similarity | None = None
    camera_count: int | None = Field(default=None, ge=1, le=50)
    signage: Prose | None = None
    technology_id: Id | None = None


class DeploymentPatch(PlanChangesIn):
    """Changes to a deployment's plan (only before notice is published): what an amendment
    may change, and the area, the sites and the dates besides."""

    borough: Short | None = None
    ward: Short | None = None
    sites: list[SiteIn] | None = Field(default=None, min_length=1, max_length=20)
    start_at: Moment | None = None
    end_at: Moment | None = None


class TransitionIn(Input):
    override_justification: OptionalProse | None = Field(
        default=None,
        description="Needed only to go ahead despite failing gates; it is published.")


class CountersignIn(Input):
    """A member of oversight's countersignature of an override another person asked for:
    the one they read, named by its id."""

    override_id: Id = Field(description="The id of the override request you read (GET "
                            ".../overrides); refused (409) unless it is still the one "
                            "awaiting a countersignature.")
    justification: Prose = Field(description="Why going ahead despite the failing gates is "
                                 "necessary and proportionate, in the countersigner's own "
                                 "words; published.")


class CancelIn(Input):
    reason: Prose


class RescheduleIn(Input):
    """New dates for a deployment after notice, with the reason, which is published."""

    start_at: Moment
    end_at: Moment
    reason: Prose = Field(description="Why the dates change; published and e-mailed to "
                          "subscribers of the area.")

    @model_validator(mode="after")
    def _end_after_start(self) -> RescheduleIn:
        check_deployment_window(self.start_at, self.end_at)
        return self


class ReviewIn(Input):
    summary: Prose


class CommentIn(Input):
    body: Prose


# --- impact assessment, engagement, consultation --------------------------------------

class ImpactAssessmentIn(Input):
    """The typed sections; engagement and consultation sections are written from records."""

    area_profile: OptionalProse = ""
    risks: OptionalProse = ""
    mitigations: OptionalProse = ""
    equality_impact: OptionalProse = ""
    decision: OptionalProse = ""


HttpLink = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500,
                                           pattern=r"^https?://\S+$"), AfterValidator(plain_text)]


class EngagementEventIn(Input):
    held_on: Day = Field(description="When it was held: not in the future, not after the "
                         "deployment's authorisation, and not long before its first draft.")
    format: EngagementFormat
    audience: AudienceCategory
    met_with: Name200 = Field(description="The body or group met, e.g. \"Riverside Tenants' "
                              "Association\" or \"Lambeth Council scrutiny committee\"; "
                              "published.")
    attendees: int = Field(ge=0, le=1_000_000)
    evidence_url: HttpLink | None = Field(
        default=None, description="Optional link to minutes or a sign-in sheet (published); "
        "a PDF can be uploaded instead (POST .../engagement/{event_id}/evidence).")
    materials: OptionalProse = ""
    questions_raised: list[Annotated[str, StringConstraints(max_length=2000),
                                     AfterValidator(plain_text)]] = Field(default=[],
                                                                          max_length=500)


class QuestionIn(Input):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=500),
                    AfterValidator(plain_text)]
    options: list[Name200] | None = Field(
        default=None, min_length=2, max_length=10,
        description="Choices for a multiple-choice question; omit for free text.")


class ConsultationIn(Input):
    benefits: OptionalProse = Field(description="Information sheet: what the deployment is for.")
    risks: OptionalProse = Field(description="Information sheet: its risks, stated as plainly.")
    questions: list[QuestionIn] = Field(min_length=1, max_length=30)


#: A UK postcode district: the outward code, the part before the space ("SE11", "SW1A").
_OUTWARD_CODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?")
_FULL_POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}")


def postcode_district(value: str) -> str:
    """The district upper-cased (" se11 " -> "SE11"); a full postcode is refused, because
    with few responses from a street it could identify who answered."""
    code = value.strip().upper()
    if _FULL_POSTCODE.fullmatch(code):
        raise ValueError("give only the first part of the postcode (e.g. SE11), not the full "
                         "postcode, so that your answer cannot be traced to your street")
    if not _OUTWARD_CODE.fullmatch(code):
        raise ValueError("must be the first part of a UK postcode, e.g. SE11, SW1A or E1")
    return code


PostcodeDistrict = Annotated[str, StringConstraints(max_length=12), AfterValidator(plain_text),
                             AfterValidator(postcode_district)]


class ConsultationResponseIn(Input):
    """An anonymous response: answers by question id (e.g. "q1"), and optionally the
    postcode district the person lives or works in. Nothing else about them."""

    answers: dict[Annotated[str, StringConstraints(max_length=10), AfterValidator(plain_text)],
                  Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000),
                            AfterValidator(plain_text)]] = Field(min_length=1, max_length=30)
    postcode_district: PostcodeDistrict | None = Field(
        default=None, description="Optional: the first part of a UK postcode, e.g. SE11.")


class KeptWordingIn(Input):
    """Why flagged consultation wording is kept as it is (published with the consultation)."""

    reason: Prose


class WordingCheckIn(Input):
    """Draft consultation text to check for leading wording, without saving it."""

    benefits: OptionalProse = ""
    risks: OptionalProse = ""
    questions: list[Annotated[str, StringConstraints(max_length=500),
                              AfterValidator(plain_text)]] = Field(default=[], max_length=30)


# --- feedback and motions -------------------------------------------------------------

#: What a revision of a published answer must say.
REVISION_REASON = ("Required when revising a published answer: why it changes (at least 20 "
                   "characters; published with the earlier version, which stays public).")

class FeedbackIn(Input):
    kind: FeedbackKind
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=5000),
                    AfterValidator(plain_text)]
    contact: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3,
                                              max_length=300),
                       AfterValidator(plain_text)] | None = Field(
        default=None, description="Optional e-mail or phone for a private reply; never public.")


class AnswerIn(Input):
    answer: Prose = Field(description="The answer and why, in words of substance (published "
                          "and e-mailed to the author and followers); \"Noted.\" is refused.")
    outcome: AnswerOutcome | None = Field(
        default=None, description="What came of it: upheld, plan_changed, partly_upheld or "
        "not_upheld (required for objections, complaints and redress requests); answered for "
        "a question.")
    amendment_id: Id | None = Field(
        default=None, description="For plan_changed: the amendment that changed the plan.")
    revision_reason: Reason | None = Field(
        default=None, description=REVISION_REASON)


class FollowIn(Input):
    """Follow a piece of feedback by e-mail (double opt-in)."""

    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3,
                                            max_length=254), AfterValidator(plain_text)]


class ReplyIn(Input):
    """The author's one reply to the answer, or their escalation to oversight."""

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=5000),
                    AfterValidator(plain_text)]


class CollectiveObjectionIn(Input):
    """Start a collective objection in an area: what it says, and the e-mail address of the
    first signer (never published; a confirmation e-mail counts the signature)."""

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=10,
                                           max_length=5000), AfterValidator(plain_text)]
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3,
                                            max_length=254), AfterValidator(plain_text)]


class HearingIn(Input):
    """Oversight's hearing of a collective objection (published)."""

    held_on: Day
    record: Prose = Field(description="What was heard and what the board concluded.")


class OversightResponseIn(Input):
    response: Prose = Field(description="Oversight's response to an escalation (published).")
    revision_reason: Reason | None = Field(default=None, description=REVISION_REASON)


class ModerationIn(Input):
    reason: Prose = Field(description="What makes the text abusive (published in its place; "
                          "\"n/a\" or \"abusive\" is refused). Only the text is withheld: "
                          "the item still counts and still needs its published answer.")


class MotionIn(Input):
    body: Name200 = Field(description="The council or committee that passed it.")
    passed_on: Day
    stance: MotionStance
    summary: Prose
    link: Annotated[str, StringConstraints(max_length=500, pattern=r"^https?://\S+$"),
                    AfterValidator(plain_text)] | None = None
    areas: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                 max_length=200),
                          AfterValidator(plain_text)]] = Field(
        min_length=1, max_length=50, description='Areas covered, from the gazetteer: a code, '
        'a borough, or "Borough/Ward" (GET /api/public/areas).')
    points: list[Prose] = Field(
        default=[], max_length=30, description="What the motion resolves or asks, point by "
        "point; the force's response must answer each.")


class MotionResponseIn(Input):
    response: Prose = Field(description="The force's response, in words of substance "
                            "(published); \"Noted.\" is refused.")
    point_answers: list[Prose] = Field(
        default=[], max_length=30, description="An answer of substance to each of the "
        "motion's points, in order (published); \"n/a\" is refused.")
    revision_reason: Reason | None = Field(default=None, description=REVISION_REASON)


# --- technology register and equity audits --------------------------------------------

class TechnologyIn(Input):
    algorithm: Name200
    model_version: Name200
    vendor_or_project: Name200
    default_threshold: Similarity
    notes: OptionalProse = ""


class GroupResultIn(Input):
    group: Short
    threshold: Similarity
    tpir: Similarity = Field(description="True positive identification rate at this threshold.")
    fpir: Similarity = Field(description="False positive identification rate at this threshold.")
    ci_low: Similarity | None = Field(default=None, description="Lower end of the FPIR's 95% "
                                      "interval: at most fpir.")
    ci_high: Similarity | None = Field(default=None, description="Upper end of the FPIR's 95% "
                                       "interval: at least fpir.")

    @model_validator(mode="after")
    def _interval_holds_the_rate(self) -> GroupResultIn:
        if self.ci_low is not None and self.ci_low > self.fpir:
            raise ValueError(f"ci_low {self.ci_low:g} must not be above fpir {self.fpir:g}")
        if self.ci_high is not None and self.ci_high < self.fpir:
            raise ValueError(f"ci_high {self.ci_high:g} must not be below fpir {self.fpir:g}")
        return self


class IdentificationRateIn(Input):
    """One overall 1:N result of the audit (all groups together): what the threshold gate
    holds against OPENLFR_MAX_AUDIT_FPIR at a deployment's watchlist size and threshold."""

    watchlist_size: int = Field(ge=1, le=100_000_000)
    threshold: Similarity
    tpir: Similarity | None = None
    fpir: Similarity = Field(description="Share of non-mated searches that raised a false "
                             "alert at this watchlist size and threshold: false_alerts / "
                             "nonmated_searches.")
    fpir_ci_low: Similarity | None = None
    fpir_ci_high: Similarity | None = Field(
        default=None, description="Upper end of the FPIR's 95% interval as the audit "
        "computed it (published; the threshold gate holds the platform's own bound).")
    nonmated_searches: int = Field(
        ge=1, le=1_000_000_000,
        description="Non-mated searches (people not on the watchlist searched) behind the "
        "FPIR, the same at every threshold of a watchlist size. From them and false_alerts "
        "the platform computes the FPIR's exact (Clopper-Pearson) upper 95% bound itself "
        "(fpir_upper_exact), and the threshold gate holds that bound against the policy "
        "maximum: a rate of 0 from few searches rules out little.")
    false_alerts: int = Field(ge=0, le=1_000_000_000,
                              description="Non-mated searches that raised an alert; never "
                              "more at a higher threshold of the same watchlist size.")

    @model_validator(mode="after")
    def _counts_give_the_rate(self) -> IdentificationRateIn:
        if self.false_alerts > self.nonmated_searches:
            raise ValueError("false_alerts must not exceed nonmated_searches")
        if abs(self.fpir - self.false_alerts / self.nonmated_searches) > 1e-6:
            raise ValueError(f"fpir {self.fpir:g} is not false_alerts / "
                             f"nonmated_searches ({self.false_alerts} / "
                             f"{self.nonmated_searches})")
        return self

    @model_validator(mode="after")
    def _interval_holds_the_rate(self) -> IdentificationRateIn:
        if self.fpir_ci_low is not None and self.fpir_ci_low > self.fpir:
            raise ValueError("fpir_ci_low must not be above fpir")
        if self.fpir_ci_high is not None and self.fpir_ci_high < self.fpir:
            raise ValueError("fpir_ci_high must not be below fpir")
        return self


def _threshold_key(value: float) -> float:
    """A threshold as audits are compared: to six decimals (``openlfr evaluate`` rounds
    the thresholds it sweeps so)."""
    return round(value, 6)


def _never_rising(rows: list[tuple[float, float, str]], what: str) -> None:
    """Refuses a rate or count that rises with the threshold: for one set of searches, a
    stricter threshold can only alert on fewer of them. ``rows``: (threshold, value,
    where), in any order."""
    for (low, before, _), (high, after, where) in pairwise(sorted(rows)):
        if after > before + 1e-9:
            raise ValueError(f"{where}: {what} {after:g} at threshold {high:g} is above its "
                             f"{before:g} at {low:g}; a stricter threshold cannot alert on "
                             "more of the same searches")


class EquityAuditIn(Input):
    """An equity audit as ``openlfr evaluate --register`` sends it. What one audit says
    must hold together (refused with 422 otherwise): its fair and recommended thresholds
    and every row's threshold are among those it swept, recommended at or above fair;
    one group row per group and threshold; at each watchlist size the same non-mated
    searches at every threshold, and no count or rate of alerts rising with the
    threshold."""

    conducted_on: Day = Field(description="When the audit was conducted: at most a day "
                              "ahead of the platform's clock (UTC). The threshold gate reads "
                              "the latest audit by this date.")
    dataset: Name200
    engine_version: Name200
    model_id: Name200 = Field(
        description="The descriptor model the audit measured (openlfr evaluate's "
        "results.json engine.model_id): it must be the register entry's model_version, "
        "or the audit is refused (422), since the threshold gate reads an entry's audits "
        "as measurements of its model.")
    second_opinion_model: Name200 | None = Field(
        default=None, description="The second opinion's model id when the audited engine "
        "decided with one (openlfr evaluate --second-opinion); its figures then hold only "
        "for watchlists that decide the same way, and a watchlist's deployment is held to "
        "an audit that decided as it does.")
    thresholds_swept: list[Similarity] = Field(min_length=1, max_length=200)
    group_results: list[GroupResultIn] = Field(default=[], max_length=5000)
    identification: list[IdentificationRateIn] = Field(
        default=[], max_length=5000,
        description="Overall TPIR and FPIR per watchlist size and threshold (openlfr "
        "evaluate's identification tables). Without them the threshold gate cannot check "
        "the audited FPIR against the policy maximum, and fails.")
    recommended_threshold: Similarity = Field(
        description="One of the thresholds swept, at or above the fair threshold.")
    fair_threshold: Similarity = Field(
        description="Lowest threshold at which false alerts did not fall unequally on "
        "groups: one of the thresholds swept.")
    summary: OptionalProse = ""

    @model_validator(mode="after")
    def _thresholds_are_the_swept_ones(self) -> EquityAuditIn:
        swept = {_threshold_key(t) for t in self.thresholds_swept}
        listed = ", ".join(f"{t:g}" for t in sorted(swept))
        for name, value in (("fair_threshold", self.fair_threshold),
                            ("recommended_threshold", self.recommended_threshold)):
            if _threshold_key(value) not in swept:
                raise ValueError(f"{name} {value:g} is not among the thresholds swept "
                                 f"({listed}): nothing was measured there")
        if _threshold_key(self.recommended_threshold) < _threshold_key(self.fair_threshold):
            raise ValueError(f"recommended_threshold {self.recommended_threshold:g} is below "
                             f"fair_threshold {self.fair_threshold:g}: a threshold where "
                             "false alerts fall unequally cannot be recommended")
        rows = [(f"identification[{i}]", r.threshold) for i, r in enumerate(self.identification)]
        rows += [(f"group_results[{i}]", r.threshold) for i, r in enumerate(self.group_results)]
        for where, threshold in rows:
            if _threshold_key(threshold) not in swept:
                raise ValueError(f"{where}: threshold {threshold:g} is not among the "
                                 f"thresholds swept ({listed})")
        return self

    @model_validator(mode="after")
    def _one_row_per_operating_point(self) -> EquityAuditIn:
        seen: set[tuple[int, float]] = set()
        for row in self.identification:
            key = (row.watchlist_size, _threshold_key(row.threshold))
            if key in seen:
                raise ValueError(f"identification has two rows for watchlist {key[0]} at "
                                 f"threshold {key[1]:g}")
            seen.add(key)
        groups: set[tuple[str, float]] = set()
        for i, group in enumerate(self.group_results):
            point = (group.group, _threshold_key(group.threshold))
            if point in groups:
                raise ValueError(f"group_results[{i}]: a second row for group {point[0]!r} at "
                                 f"threshold {point[1]:g}")
            groups.add(point)
        return self

    @model_validator(mode="after")
    def _one_set_of_searches_per_watchlist(self) -> EquityAuditIn:
        by_size: dict[int, list[tuple[int, IdentificationRateIn]]] = {}
        for i, row in enumerate(self.identification):
            by_size.setdefault(row.watchlist_size, []).append((i, row))
        for size, rows in by_size.items():
            first_i, first = rows[0]
            for i, row in rows[1:]:
                if row.nonmated_searches != first.nonmated_searches:
                    raise ValueError(
                        f"identification[{i}]: {row.nonmated_searches} non-mated searches at "
                        f"watchlist {size} and threshold {row.threshold:g}, but "
                        f"{first.nonmated_searches} at threshold {first.threshold:g} "
                        f"(identification[{first_i}]): one watchlist size is one set of "
                        "searches, rated at every threshold")
            _never_rising([(r.threshold, r.false_alerts,
                            f"identification[{i}] (watchlist {size})") for i, r in rows],
                          "false_alerts")
            _never_rising([(r.threshold, r.tpir, f"identification[{i}] (watchlist {size})")
                           for i, r in rows if r.tpir is not None], "tpir")
        by_group: dict[str, list[tuple[int, GroupResultIn]]] = {}
        for i, group in enumerate(self.group_results):
            by_group.setdefault(group.group, []).append((i, group))
        for name, rows_of_group in by_group.items():
            for what in ("fpir", "tpir"):
                _never_rising([(g.threshold, getattr(g, what),
                                f"group_results[{i}] (group {name!r})")
                               for i, g in rows_of_group], what)
        return self


# --- watchlists, alerts, counters -----------------------------------------------------

class WatchlistIn(Input):
    descriptor_model: Name200 = Field(
        description="The engine's descriptor model id; descriptors from another are refused.")
    reference_model: Name200 | None = Field(
        default=None, description="Decide with a second opinion from this model (dlib's; "
        "see `openlfr watch --second-opinion`): every entry then carries its descriptor of "
        "each photo as `references`, nodes ask it about doubtful scores, and the threshold "
        "gate holds the deployment to an equity audit made with it. Null: the engine "
        "decides alone.")


#: A descriptor: numbers, never numbers written as text (a sign the client mixed formats).
Descriptor = Annotated[list[Annotated[float, Strict()]], Field(min_length=16, max_length=4096)]

#: Largest photo accepted inside a JSON body (a face crop or reference photo, as JPEG).
MAX_JPEG_BYTES = 512 * 1024


def _jpeg_b64(value: str) -> str:
    """A base64 JPEG that really decodes: its magic bytes, its size and the pixels."""
    import base64
    import binascii

    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64") from None
    if len(raw) > MAX_JPEG_BYTES:
        raise ValueError(f"is {len(raw)} bytes; at most {MAX_JPEG_BYTES} are accepted")
    if not raw.startswith(b"\xff\xd8\xff"):
        raise ValueError("is not a JPEG image (send the photo as JPEG, base64-encoded)")
    from openlfr.recognition.images import ImageError, decode_image

    try:  # the one image gate: header dimensions checked before any decoding
        decode_image(raw, "the image")
    except ImageError as exc:
        raise ValueError("is a JPEG that cannot be decoded: "
                         + str(exc).removeprefix("the image: ")) from None
    return value


JpegB64 = Annotated[str, StringConstraints(min_length=4, max_length=4 * MAX_JPEG_BYTES // 3 + 4),
                    AfterValidator(_jpeg_b64)]


class WatchlistEntryIn(Input):
    subject_ref: Short = Field(description="Internal reference; never shown publicly.")
    category: Category
    source: Name200
    authorised_by: Short
    image_taken_on: Day
    expires_on: Day | None = None
    descriptors: list[Descriptor] = Field(min_length=1, max_length=20)
    references: list[Descriptor] | None = Field(
        default=None, min_length=1, max_length=20,
        description="The second opinion's descriptor of each photo, in the order of "
        "`descriptors`: required on a watchlist with a reference model, refused on others.")
    image_jpeg_b64: JpegB64 | None = Field(
        default=None, description="Reference photo (JPEG, base64) shown to operators beside "
        "an alert's probe; encrypted at rest and destroyed with the watchlist.")

    @model_validator(mode="after")
    def _same_dimension(self) -> WatchlistEntryIn:
        for name, rows in (("descriptors", self.descriptors),
                           ("references", self.references or [])):
            if len({len(d) for d in rows}) > 1:
                raise ValueError(f"all {name} of an entry must have the same length")
            if not all(math.isfinite(x) for d in rows for x in d):
                raise ValueError(f"{name} must be finite numbers")
        if self.references is not None and len(self.references) != len(self.descriptors):
            raise ValueError(f"{len(self.references)} references for "
                             f"{len(self.descriptors)} descriptors: give one per photo")
        return self


class AlertIn(Input):
    alert_uid: Token = Field(description="The node's own id for the alert; a retry with the "
                             "same id is recorded once.")
    occurred_at: Moment
    camera: Short
    track_id: Short
    score: Similarity
    second_opinion: bool = Field(
        default=False, description="The engine's own score was below the threshold and the "
        "watchlist's second opinion agreed, lifting it (only on a watchlist that decides "
        "with one).")
    entry_id: Id
    entry_category: Category | None = Field(
        default=None, description="The entry's category as released to the node. Used when "
        "the alert arrives late, after the watchlist (and so the entry) was destroyed.")
    probe_crop_jpeg_b64: JpegB64 | None = Field(
        default=None, description="The aligned face that matched (JPEG, base64); encrypted at "
        "rest, shown to operators, deleted when its retention ends.")


class CountersIn(Input):
    batch_id: Token = Field(description="The node's id for this batch; counted once.")
    faces_seen: int = Field(ge=0, le=10_000_000, description="Face detections: each face "
                            "on each frame it was found on (the engine's work).")
    tracks: int = Field(ge=0, le=10_000_000, description="Faces passing: tracks started, one "
                        "face followed across the frames it was seen on (the published "
                        "per-face rates are per track); at most faces_seen.")
    frames_processed: int = Field(default=0, ge=0, le=1_000_000_000)
    frames_dropped: int = Field(
        default=0, ge=0, le=1_000_000_000,
        description="Live frames the engine skipped because it was behind.")
    frames_near_behind: int = Field(
        default=0, ge=0, le=1_000_000_000,
        description="Live frames the engine searched only near its tracks, not whole, "
        "because it was behind (it sheds that work before it drops frames).")
    period_start: Moment | None = Field(
        default=None, description="Start of the time the counts cover (node clock); a batch "
        "that began before the deployment ended is still accepted late.")
    period_end: Moment | None = None

    @model_validator(mode="after")
    def _period_in_order(self) -> CountersIn:
        if self.tracks > self.faces_seen:
            # Published rates are per track: a node cannot count more faces passing than
            # it detected faces.
            raise ValueError("tracks cannot exceed faces_seen: every track starts with a "
                             "detected face")
        if (self.period_start is None) != (self.period_end is None):
            raise ValueError("give both period_start and period_end, or neither")
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise ValueError("period_end must not be before period_start")
        return self


#: Most alerts, and most counter batches, one node request may carry.
MAX_NODE_BATCH_ITEMS = 200


class NodeBatchIn(Input):
    """Alerts and counter batches sent together (one request, one transaction)."""

    alerts: list[AlertIn] = Field(default_factory=list, max_length=MAX_NODE_BATCH_ITEMS)
    counters: list[CountersIn] = Field(default_factory=list, max_length=MAX_NODE_BATCH_ITEMS)


class NodeWatchlistDroppedIn(Input):
    """A node's report that it stopped, dropped the watchlist from memory and emptied its
    outbox (or how many items still wait in it)."""

    run_id: Token
    reason: Literal["deployment_ended", "source_ended", "interrupted", "error"]
    alerts_sent: int = Field(ge=0, le=10_000_000)
    outbox_pending: int = Field(ge=0, le=10_000_000)


class WatchlistSubjectIn(Input):
    """A subject to enrol from photos: the entry's fields without descriptors, which the
    platform computes from the photos."""

    subject_ref: Short = Field(description="Internal reference; never shown publicly.")
    category: Category
    source: Name200
    authorised_by: Short
    image_taken_on: Day
    expires_on: Day | None = None


#: Why a decision or outcome changed after the deployment ended (governance/outcomes.py).
ChangeReason = Annotated[Prose | None, Field(
    default=None, description="Needed to change a decision or outcome after the deployment "
    "ended (within OPENLFR_LATER_OUTCOME_WINDOW_DAYS of the alert; at least 20 characters); "
    "published with the change in the deployment's review.")]


class AdjudicationIn(Input):
    adjudication: Literal["true_match", "false_match", "unclear"]
    reason: ChangeReason = None


class OutcomeIn(Input):
    outcome: AlertOutcome
    demographic_group: Short | None = Field(
        default=None, description="Recorded only for equity monitoring; never public per alert.")
    reason: ChangeReason = None


# --- users and keys ---------------------------------------------------------------------

Username = Annotated[str, StringConstraints(min_length=3, max_length=64,
                                            pattern=r"^[a-z0-9][a-z0-9._-]*$")]
Password = Annotated[str, StringConstraints(min_length=12, max_length=200),
                     AfterValidator(plain_text)]
PersonRole = Literal["operator", "planner", "authoriser", "oversight", "councillor", "admin"]
AreaName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=200), AfterValidator(plain_text)]


class UserIn(Input):
    username: Username
    password: Password
    role: PersonRole
    areas: list[AreaName] = Field(
        default=[], max_length=50, description="A councillor's areas (gazetteer names or "
        "codes); required for councillors, refused for every other role.")


class UserPatch(Input):
    role: PersonRole | None = None
    active: bool | None = None
    password: Password | None = None
    areas: list[AreaName] | None = Field(default=None, max_length=50)


class AccountChangeIn(Input):
    """A member of oversight's decision on the change waiting on an account."""

    change_id: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        description="The id of the change you read (held_change.id): one replaced since "
        "is not signed unseen (409).")
    reason: Annotated[str, StringConstraints(max_length=2000),
                      AfterValidator(plain_text)] = Field(
        default="", description="Why it is refused (required to refuse; kept in the audit "
        "log).")


class LoginIn(Input):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64),
                        AfterValidator(plain_text)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=200),
                        AfterValidator(plain_text)]
    first_login_code: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="First login after an admin set the password: the code "
        "oversight gave you when it countersigned (with new_password).")
    new_password: Password | None = Field(
        default=None, description="First login after an admin set the password: your own "
        "(at least 12 characters); the admin's no longer works.")


class PasswordChangeIn(Input):
    """A person's own new password, with the one they have now."""

    password: Annotated[str, StringConstraints(min_length=1, max_length=200),
                        AfterValidator(plain_text)] = Field(
        description="Your password now.")
    new_password: Password = Field(description="Your new password (at least 12 "
                                   "characters).")


class ApiKeyIn(Input):
    name: Short
    deployment_id: Id | None = Field(
        default=None, description="The one deployment a node's key serves (required for "
        "a node: any other deployment is answered as missing, 404).")
    role: Literal["node", "audit_tool"] = Field(
        default="node", description="node: an engine node. audit_tool (a tool that records "
        "equity audits and reads the register) is oversight's to issue: POST "
        "/api/oversight/audit-keys.")


class AuditKeyIn(Input):
    name: Short = Field(description="What the key is for, e.g. \"audit-cli\".")


# --- amendments of the frozen record -----------------------------------------------------

class PlanAmendmentIn(Input):
    record: Literal["plan"]
    reason: Reason = Field(description="Why the plan changes (published).")
    changes: PlanChangesIn


class AssessmentAmendmentIn(Input):
    record: Literal["assessment"]
    reason: Reason = Field(description="Why the assessment changes (published).")
    sections: ImpactAssessmentIn


class EngagementAmendmentIn(Input):
    """Add an event (``event``), correct one (``event_id`` and ``event``) or remove one
    (``event_id`` alone). An added event must still predate the authorisation."""

    record: Literal["engagement"]
    reason: Reason = Field(description="Why the engagement log changes (published).")
    event_id: Id | None = None
    event: EngagementEventIn | None = None

    @model_validator(mode="after")
    def _something_to_do(self) -> EngagementAmendmentIn:
        if self.event_id is None and self.event is None:
            raise ValueError("give an event to add, an event_id to remove, or both to correct")
        return self


AmendmentIn = Annotated[PlanAmendmentIn | AssessmentAmendmentIn | EngagementAmendmentIn,
                        Field(discriminator="record")]
