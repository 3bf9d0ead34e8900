"""Policy gates: the rules a deployment must pass before it is authorised or activated.

Each gate is a small named function that reads a DeploymentDossier and returns a
GateResult with a plain-English reason, shown as is to staff and to the public. The
API, the pages and the CLI all ask these functions; no other code decides a gate.

A failing gate can be set aside only by a two-person override (``governance.overrides``),
and some failures never can: notice shorter than a hard minimum, an empty or unbuilt
watchlist, an unpublished impact assessment, and a council motion asking to stop LFR
whose points the force has not all answered in public. Such a result carries the reason
in ``override_refusal``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from openlfr.governance.answers import (
    KINDS_DUE_BEFORE_START,
    MIN_ANSWER_CHARS,
    motion_response_problem,
)
from openlfr.governance.cia import completeness_findings
from openlfr.governance.failures import failure_key
from openlfr.governance.records import (
    AuditedRates,
    ConsultationFacts,
    ConsultationStatus,
    CouncilMotionFacts,
    DeploymentDossier,
    EquityAuditFacts,
    FeedbackFacts,
    FeedbackKind,
    WatchlistFacts,
    resident_share,
)


@dataclass(frozen=True)
class GateResult:
    """The verdict of one gate."""

    name: str
    passed: bool
    reason: str
    #: Why this failure can never be overridden (None: an override may set it aside).
    override_refusal: str | None = None
    #: What exactly failed, as a stable key (``governance.failures``; None when passed, or
    #: not keyed): an override covers the failure whose key it was signed for, no other.
    failure_key: str | None = field(default=None, compare=False)

    @property
    def overridable(self) -> bool:
        return self.override_refusal is None


@dataclass(frozen=True)
class GateParameters:
    """The configurable numbers behind the gates (see openlfr.settings for defaults)."""

    notice_days: int = 14
    resident_share: float = 0.5
    watchlist_max_entries: int = 10_000
    watchlist_max_image_age_days: int = 365
    watchlist_allowed_categories: frozenset[str] = field(default_factory=frozenset)
    watchlist_built_within_hours: int = 24
    #: Notice shorter than this cannot be overridden at all.
    override_min_notice_days: int = 7
    #: Highest FPIR (upper 95% bound) the latest equity audit may show at the deployment's
    #: watchlist size and threshold.
    max_audit_fpir: float = 0.001
    #: A consultation counts only when open at least this long with this many responses.
    consultation_min_days: int = 14
    consultation_min_responses: int = 0
    #: Confirmed co-signatures from which a collective objection needs an oversight hearing.
    collective_threshold: int = 50
    #: Shortest answer of substance (``governance.answers.says_something``): a motion's
    #: response, and each of its point answers, must say at least this much to count.
    answer_min_chars: int = MIN_ANSWER_CHARS


def _day(moment: datetime) -> str:
    return moment.strftime("%d %B %Y").lstrip("0")


def _duration(span: timedelta) -> str:
    """A span as "13 days 23 hours", rounded down so it never overstates the notice given."""
    if span <= timedelta(0):
        return "0 days"
    hours = int(span.total_seconds() // 3600)
    days, hours = divmod(hours, 24)
    return f"{days} days" + (f" {hours} hours" if hours else "")


def notice_period_gate(dossier: DeploymentDossier, params: GateParameters) -> GateResult:
    """Notice must have been public at least ``notice_days`` before the deployment starts."""
    name = "notice_period"
    d = dossier.deployment
    hard = (f"Notice shorter than {params.override_min_notice_days} days can never be "
            "overridden; reschedule the deployment so that notice runs long enough.")
    if d.notice_published_at is None:
        return GateResult(name, False, "No public notice has been published yet.", hard)
    lead = d.start_at - d.notice_published_at
    if lead < timedelta(days=params.notice_days):
        return GateResult(
            name, False,
            f"Notice was published on {_day(d.notice_published_at)}, {_duration(lead)} before "
            f"the start on {_day(d.start_at)}; at least {params.notice_days} days are required.",
            hard if lead < timedelta(days=params.override_min_notice_days) else None)
    return GateResult(
        name, True,
        f"Notice was published on {_day(d.notice_published_at)}, {_duration(lead)} before "
        f"the start (at least {params.notice_days} days required).")


def cia_gate(dossier: DeploymentDossier, params: GateParameters) -> GateResult:
    """The community impact assessment must be complete and published."""
    name = "impact_assessment"
    unpublished = dossier.cia is None or dossier.cia.published_at is None
    hard = ("An unpublished impact assessment can never be overridden: the public must be "
            "able to read it." if unpublished else None)
    findings = completeness_findings(
        dossier.cia, list(dossier.engagement), dossier.consultation)
    if findings:
        problems = "; ".join(f.problem for f in findings[:3])
        more = f" (and {len(findings) - 3} more)" if len(findings) > 3 else ""
        return GateResult(name, False,
                          f"The community impact assessment is incomplete: {problems}{more}.",
                          hard)
    if unpublished:
        return GateResult(name, False,
                          "The community impact assessment is complete but not yet published.",
                          hard)
    return GateResult(name, True, "The community impact assessment is complete and published.")


def engagement_reach_gate(dossier: DeploymentDossier, params: GateParameters) -> GateResult:
    """Engagement must reach residents: the share of the people met at resident-facing
    events must be at least ``resident_share`` (written contacts meet no one:
    ``EngagementEventFacts.people_met``)."""
    name = "engagement_reach"
    events = dossier.engagement
    total = sum(e.people_met for e in events)
    if total == 0:
        return GateResult(name, False, "No engagement with any attendees has been recorded "
                          "(written contact, such as a letter or a post, meets no one).")
    share = resident_share(events)
    if share < params.resident_share:
        return GateResult(
            name, False,
            f"Only {share:.0%} of the {total} people engaged were at events for residents or "
            f"community groups; at least {params.resident_share:.0%} is required. Engagement "
            "with officials does not count as engaging residents, and written contact (a "
            "letter, a leaflet, a post) meets no one.")
    return GateResult(
        name, True,
        f"{share:.0%} of the {total} people engaged were at events for residents or community "
        f"groups (at least {params.resident_share:.0%} required).")


def consultation_gate(dossier: DeploymentDossier, params: GateParameters) -> GateResult:
    """The consultation must be closed and count (open at least ``consultation_min_days``
    with at least ``consultation_min_responses`` responses; below that its results are
    published as "insufficient response"), every objection must have a published answer,
    and no objection or question may be left unanswered past its deadline (the earlier of
    the answer period and a lead time before the start: ``governance.answers``)."""
    name = "consultation_and_objections"
    c = dossier.consultation
    # First, whatever else fails: a failure no override may set aside must never hide
    # behind one that an override could (an open consultation, too few responses).
    unheard = [o for o in dossier.collective_objections
               if o.signatures >= params.collective_threshold and not o.hearing_held]
    if unheard:
        signed = ", ".join(str(o.signatures) for o in unheard)
        return GateResult(
            name, False, f"{len(unheard)} collective objection(s) signed by {signed} residents "
            f"(the threshold is {params.collective_threshold}) have had no oversight hearing.",
            "A collective objection past the threshold can never be overridden: the oversight "
            "board must hear it and publish the record first.")
    if c is None:
        return GateResult(name, False, "No consultation has been run.")
    if c.status is not ConsultationStatus.CLOSED:
        return GateResult(name, False, f"The consultation is still {c.status.value}; close it "
                          "and publish its results first.")
    shortfall = consultation_shortfall(c, params)
    if shortfall:
        return GateResult(name, False, f"Insufficient response: {shortfall}.")
    narrower = consulted_on_narrower_plan(c, dossier.plan_widened_at, params)
    if narrower:
        return GateResult(name, False, narrower)
    now = dossier.as_of or dossier.deployment.start_at
    overdue = [f for f in dossier.feedback
               if f.kind in KINDS_DUE_BEFORE_START and f.overdue(now)]
    if overdue:
        first = min(f.answer_due_at for f in overdue)
        return GateResult(name, False,
                          f"{len(overdue)} objection(s) or question(s) are past their answer "
                          f"deadline (the first was due {_day(first)}) with no published "
                          f"answer{_withheld(overdue)}; answer them before the deployment "
                          "goes ahead.")
    # An objection whose text is withheld for abuse counts like any other: withholding the
    # words does not answer the point.
    objections = [f for f in dossier.feedback if f.kind is FeedbackKind.OBJECTION]
    unanswered = [f for f in objections if not f.answered]
    if unanswered:
        return GateResult(name, False,
                          f"{len(unanswered)} objection(s) have no published answer yet"
                          f"{_withheld(unanswered)}.")
    return GateResult(name, True, f"The consultation is closed ({c.response_count} responses) "
                      f"and all {len(objections)} objection(s) have a published answer"
                      f"{_withheld(objections)}.")


def _withheld(items: list[FeedbackFacts]) -> str:
    """How many of ``items`` have their text withheld for abuse, as a clause ("" if none)."""
    hidden = sum(1 for f in items if f.hidden_for_abuse)
    return f" ({hidden} with the text withheld for abuse)" if hidden else ""


def consultation_shortfall(c: ConsultationFacts, params: GateParameters) -> str | None:
    """Why a consultation's result does not count (None: it does): open for less than the
    minimum period, or fewer responses than the minimum. Its results are then published as
    "insufficient response"."""
    problems = []
    if c.opened_at is not None and c.closed_at is not None:
        open_for = c.closed_at - c.opened_at
        if open_for < timedelta(days=params.consultation_min_days):
            problems.append(f"it was open for {_duration(open_for)}, less than the "
                            f"{params.consultation_min_days} days required")
    if c.response_count < params.consultation_min_responses:
        problems.append(f"it had {c.response_count} response(s), fewer than the "
                        f"{params.consultation_min_responses} required")
    return "; ".join(problems) or None


def consulted_on_narrower_plan(c: ConsultationFacts, widened_at: datetime | None,
                               params: GateParameters) -> str | None:
    """Why a consultation does not speak for the plan as it now stands (None: it does).
    When the plan was amended to go further than its notice said (``widened_at``), only
    the time the consultation stayed open after that counts, and it must again reach
    ``consultation_min_days``: residents who answered before were asked about less. A
    consultation cannot be amended or reopened (people answered it as it was), so one
    that closed too soon after the widening leaves a new deployment with its own
    consultation, or an override signed by two people and published."""
    if widened_at is None or c.closed_at is None:
        return None
    since = c.closed_at - max(widened_at, c.opened_at or widened_at)
    if since >= timedelta(days=params.consultation_min_days):
        return None
    return (f"The plan was widened on {_day(widened_at)}, after residents were consulted on "
            f"a narrower one: the consultation stayed open {_duration(since)} on the widened "
            f"plan, less than the {params.consultation_min_days} days required. A "
            "consultation cannot be reopened; consult on the plan as it stands (a new "
            "deployment), or go ahead only on an override signed by two people.")


def category_problem(category: str, allowed: frozenset[str]) -> str | None:
    """Why a watchlist entry may not carry ``category`` (None: it may). Only the allowed
    categories (``OPENLFR_WATCHLIST_ALLOWED_CATEGORIES``), refused when the entry is added
    as well as at the gate: the count per category is published from the moment it is
    added, so a category outside the list (``jane_roe_missing_from_care_home``) could name
    the person on the watchlist."""
    if category in allowed:
        return None
    return (f"{category!r} is not an allowed watchlist category; allowed: "
            f"{', '.join(sorted(allowed)) or 'none (set OPENLFR_WATCHLIST_ALLOWED_CATEGORIES)'}")


def watchlist_gate(dossier: DeploymentDossier, params: GateParameters) -> GateResult:
    """The watchlist must be within the size cap, hold only recent images in allowed
    categories, and be built no more than ``watchlist_built_within_hours`` before start."""
    name = "watchlist_rules"
    w = dossier.watchlist
    start = dossier.deployment.start_at
    if w is None or not w.entries:
        return GateResult(name, False, "The watchlist has no entries.",
                          "An empty watchlist can never be overridden.")
    problems = []
    if len(w.entries) > params.watchlist_max_entries:
        problems.append(f"it has {len(w.entries)} entries, more than the cap of "
                        f"{params.watchlist_max_entries}")
    oldest_allowed = (start - timedelta(days=params.watchlist_max_image_age_days)).date()
    too_old = sum(1 for e in w.entries if e.image_taken_on < oldest_allowed)
    if too_old:
        problems.append(f"{too_old} image(s) are older than {params.watchlist_max_image_age_days}"
                        " days at the start")
    bad = sorted({e.category for e in w.entries
                  if category_problem(e.category, params.watchlist_allowed_categories)})
    if bad:
        problems.append(f"categories not allowed: {', '.join(bad)}")
    expired = sum(1 for e in w.entries if e.expires_on is not None
                  and e.expires_on < start.date())
    if expired:
        problems.append(f"{expired} entr(y/ies) expire before the start")
    if w.built_at is None:
        problems.append("it has not been built yet")
    elif start - w.built_at > timedelta(hours=params.watchlist_built_within_hours):
        problems.append(f"it was built more than {params.watchlist_built_within_hours} hours "
                        "before the start; rebuild it closer to the start")
    if problems:
        return GateResult(name, False, "The watchlist breaks the rules: " + "; ".join(problems)
                          + ".", "A watchlist that has not been built can never be overridden; "
                          "build it." if w.built_at is None else None)
    return GateResult(name, True, f"The watchlist has {len(w.entries)} entries, all in allowed "
                      "categories with recent images, built within "
                      f"{params.watchlist_built_within_hours} hours of the start.")


#: Audited thresholds are stored rounded; a deployment at 0.6 is at an audited 0.6.
_THRESHOLD_TOLERANCE = 1e-9


@dataclass(frozen=True)
class AuditCoverage:
    """Which row of an audit speaks for a deployment's watchlist size and threshold.

    ``rates`` is None when the audit does not cover the deployment; ``gap`` then says why.
    """

    rates: AuditedRates | None
    gap: str = ""


def audited_rates_for(rows: tuple[AuditedRates, ...] | list[AuditedRates],
                      watchlist_size: int, threshold: float) -> AuditCoverage:
    """The audit row that speaks for a deployment, erring on the side of more false alerts:
    the smallest audited watchlist at least as large as the deployment's (false alerts grow
    with the watchlist), and at it the highest audited threshold not above the deployment's
    (false alerts fall as the threshold rises). A watchlist larger than any audited, or a
    threshold below every audited one, is not covered."""
    sizes = sorted({r.watchlist_size for r in rows})
    if not sizes:
        return AuditCoverage(None, "it records no FPIR per watchlist size and threshold")
    covering = [n for n in sizes if n >= watchlist_size]
    if not covering:
        return AuditCoverage(None, f"it covers watchlists of at most "
                             f"{_entries(sizes[-1])}, and this one has {watchlist_size:,}")
    size = covering[0]
    at_size = [r for r in rows if r.watchlist_size == size]
    below = [r for r in at_size if r.threshold <= threshold + _THRESHOLD_TOLERANCE]
    if not below:
        lowest = min(r.threshold for r in at_size)
        return AuditCoverage(None, f"at watchlist {size:,} its lowest audited threshold is "
                             f"{lowest:.2f}, above this deployment's {threshold:.2f}")
    return AuditCoverage(max(below, key=lambda r: r.threshold))


def _entries(count: int) -> str:
    return f"{count:,} entr{'y' if count == 1 else 'ies'}"


def _rate(value: float) -> str:
    return f"{value:.3g}"


def _one_in(rate: float) -> str:
    return f"1 in {round(1 / rate):,} passers-by" if rate > 0 else "no passer-by"


def equity_audit_date_problem(conducted_on: date, now: datetime) -> str | None:
    """Why an equity audit cannot be recorded as conducted on ``conducted_on`` (None when
    it can). The threshold gate reads the latest audit by that date, so an audit dated
    ahead would stand for the engine over every audit recorded until then. A day's grace
    allows for a tool whose clock is ahead of the platform's (UTC)."""
    latest = (now + timedelta(days=1)).date()
    if conducted_on > latest:
        return (f"{conducted_on.isoformat()} is in the future (the latest date accepted "
                f"today is {latest.isoformat()}); record an audit once it has been "
                "conducted")
    return None


def audited_model_change_problem(model_before: str, model_after: str,
                                 audits: int) -> str | None:
    """Why a technology register entry's model cannot change (None when it can). The
    threshold gate reads an audit as a measurement of its entry's model, so once an entry
    has been audited, a new model is a new entry: edited in place, the audits of the old
    network would stand for the new one."""
    if model_after == model_before or audits == 0:
        return None
    return (f"this entry has {audits} equity audit{'' if audits == 1 else 's'} of model "
            f"{model_before}, which would then stand for {model_after}; register "
            f"{model_after} as a new entry and audit it (openlfr evaluate --register)")


def audited_model_problem(entry_model: str, audited_model: str) -> str | None:
    """Why an audit of ``audited_model`` cannot be recorded on a register entry of
    ``entry_model`` (None when it can). The threshold gate reads an entry's audits as
    measurements of the entry's model, so another network's figures recorded there would
    pass that model's watchlists on rates nobody measured for it."""
    if audited_model == entry_model:
        return None
    return (f"the audit measured {audited_model}, but this register entry is for "
            f"{entry_model}; record it on the entry of {audited_model} (register one if "
            f"there is none), or audit {entry_model} (openlfr evaluate --descriptor)")


def _audit_fpir_check(audit: EquityAuditFacts, watchlist_size: int, threshold: float,
                      params: GateParameters) -> tuple[bool, str]:
    """The latest audit's FPIR at this deployment's watchlist size and threshold against
    the policy maximum: (passed, the sentence that says so)."""
    when = audit.conducted_on.isoformat()
    limit = (f"the policy maximum of {_rate(params.max_audit_fpir)} "
             f"({_one_in(params.max_audit_fpir)})")
    if not audit.identification:
        # As with no audit at all, a check that could not be made is not passed: otherwise
        # a newer audit recorded without its figures would set aside an older one that
        # found too many false alerts.
        return False, (f"The latest equity audit ({when}) records no FPIR per watchlist size "
                       f"and threshold, so {limit} cannot be checked; record an audit with "
                       "its identification results (openlfr evaluate --register).")
    coverage = audited_rates_for(audit.identification, watchlist_size, threshold)
    if coverage.rates is None:
        return False, (f"The equity audit of {when} does not cover this deployment "
                       f"({_entries(watchlist_size)} on the watchlist at threshold "
                       f"{threshold:.2f}): {coverage.gap}; audit again at this watchlist "
                       "size and threshold.")
    r = coverage.rates
    counts = ("" if r.nonmated_searches is None else
              f"{r.false_alerts:,} false alert{'' if r.false_alerts == 1 else 's'} in "
              f"{r.nonmated_searches:,} non-mated searches; ")
    bound = "" if r.fpir_upper is None else f"95% upper {_rate(r.fpir_upper)}"
    figure = f"FPIR {_rate(r.fpir)}" + (f" ({counts}{bound})" if counts or bound else "")
    where = f"at watchlist {r.watchlist_size:,} and threshold {r.threshold:.2f}"
    if r.watchlist_size != watchlist_size or abs(r.threshold - threshold) > 1e-6:
        where += (f" (the audited figures covering this deployment's "
                  f"{_entries(watchlist_size)} at threshold {threshold:.2f})")
    if r.fpir_upper is None:
        # The bound is the one the platform computed from the counts
        # (services.technology.audited_rates), never the audit's word for its interval.
        return False, (f"The latest equity audit ({when}) found {figure} {where} but gives "
                       "no counts of non-mated searches and false alerts, from which the "
                       f"platform computes the FPIR's upper 95% bound, so {limit} cannot be "
                       "held against what its data rule out; record the audit with its "
                       "counts (openlfr evaluate --register).")
    if r.fpir_upper > params.max_audit_fpir:
        return False, (f"The latest equity audit ({when}) found {figure} {where}, above "
                       f"{limit}; raise the threshold or audit again.")
    return True, (f"The latest equity audit ({when}) found {figure} {where}, within {limit}.")


def threshold_gate(dossier: DeploymentDossier, params: GateParameters) -> GateResult:
    """The match threshold must be at or above the fair threshold of the latest equity
    audit (which must give per-group results for two groups at least), and the upper 95%
    bound of that audit's FPIR at the deployment's watchlist size and threshold must not
    exceed ``max_audit_fpir``; an audit that gives no such bound (no counts for the
    platform to compute it from) fails. Scores are similarities (higher = more alike), so a
    higher threshold is stricter."""
    name = "threshold"
    audit = dossier.latest_equity_audit
    threshold = dossier.deployment.threshold
    if audit is None:
        # What the register says ("never audited for equity") is what the gate says: a
        # check that could not be made is not passed (a two-person override may go ahead).
        return GateResult(name, False, f"Threshold {threshold:.2f}; the engine has never been "
                          "audited for equity, so there is no fair threshold to compare with "
                          "and no audited false positive identification rate (FPIR) to hold "
                          f"against the policy maximum of {_rate(params.max_audit_fpir)}; "
                          "record an equity audit of the engine on the technology register.")
    when = audit.conducted_on.isoformat()
    if len(audit.groups) < 2:
        # A fair threshold is where no group's false alerts differ from another's: with
        # no per-group results it is a number nobody can check.
        fair_ok, fair = False, (
            f"The equity audit of {when} gives results for "
            f"{'no group' if not audit.groups else 'one group only'}, so its fair "
            f"threshold {audit.fair_threshold:.2f} compares nobody; record an audit with "
            "its per-group results (openlfr evaluate --register, on photos labelled by "
            "group).")
    elif threshold < audit.fair_threshold:
        fair_ok, fair = False, (
            f"Threshold {threshold:.2f} is below {audit.fair_threshold:.2f}, the lowest "
            f"threshold the equity audit of {when} found fair across demographic groups; "
            "below it false alerts fall unequally.")
    else:
        fair_ok, fair = True, (f"Threshold {threshold:.2f} is at or above the fair threshold "
                               f"{audit.fair_threshold:.2f} from the equity audit of {when}.")
    entries = len(dossier.watchlist.entries) if dossier.watchlist is not None else 0
    fpir_ok, fpir = _audit_fpir_check(audit, entries, threshold, params)
    model_ok, model = _audited_model_check(audit, dossier.watchlist)
    checks = ((model_ok, model), (fair_ok, fair), (fpir_ok, fpir))
    if all(ok for ok, _ in checks):
        return GateResult(name, True, f"{fair} {fpir}")
    return GateResult(name, False, " ".join(sentence for ok, sentence in checks if not ok))


def _audited_model_check(audit: EquityAuditFacts,
                         watchlist: WatchlistFacts | None) -> tuple[bool, str]:
    """The audit's figures hold only for the network and decision rule it measured: a
    watchlist built with another descriptor model runs a network whose false alerts nobody
    audited, and one that decides with (or without) a second opinion alerts on other scores
    than an audit that decided the other way."""
    if watchlist is None:
        return True, ""
    when = audit.conducted_on.isoformat()
    built_with = watchlist.descriptor_model
    if built_with is not None and audit.model is not None and built_with != audit.model:
        return False, (f"The watchlist is built with descriptor model {built_with}, but the "
                       f"equity audit of {when} measured {audit.model} (its technology "
                       "register entry): its fair threshold and false-alert rates are another "
                       f"network's. Register the technology that runs {built_with} and audit "
                       f"it (openlfr evaluate --descriptor), or rebuild the watchlist with "
                       f"{audit.model}.")
    # A second opinion changes which scores alert, so the audit must have decided the same
    # way: with the same second opinion, or (both) with none.
    ours, audited = watchlist.reference_model, audit.second_opinion_model
    if ours == audited:
        return True, ""
    if ours is None:
        return False, (f"The equity audit of {when} measured the engine deciding with a "
                       f"second opinion from {audited}, but this watchlist decides without "
                       "one: those figures are another decision rule's. Audit the engine "
                       "alone (openlfr evaluate) under a technology register entry of its "
                       "own, or create the watchlist with the second opinion.")
    if audited is None:
        return False, (f"This watchlist decides with a second opinion from {ours}, but the "
                       f"equity audit of {when} measured the engine alone: a second opinion "
                       "alerts on scores below the threshold, so its false alerts were never "
                       "audited. Register the technology that decides with it and audit it "
                       "(openlfr evaluate --second-opinion), or create the watchlist without "
                       "it.")
    return False, (f"This watchlist decides with a second opinion from {ours}, but the "
                   f"equity audit of {when} measured a second opinion from {audited}: audit "
                   f"the engine with {ours} (openlfr evaluate --second-opinion).")


def council_motions_gate(dossier: DeploymentDossier, params: GateParameters) -> GateResult:
    """Every council motion covering the deployment's area must have a published response
    that answers it: a response of substance and an answer of substance to each of its
    points (``governance.answers.motion_response_problem``: "Noted." or "n/a" answers
    nothing, and a response stored before that rule counts only if it passes it). A motion
    that asks to suspend or oppose LFR there keeps the gate failing even then: the
    deployment can go ahead only by a countersigned override, and only once the force has
    answered each point of the motion in public."""
    name = "council_motions"
    d = dossier.deployment
    covering = [m for m in dossier.motions if m.covers(d.borough_code, d.ward_code)]
    gaps = [(m, _motion_gap(m, params)) for m in covering]
    unanswered = [(m, gap) for m, gap in gaps if gap is not None]
    stopping = [m for m in covering if m.asks_to_stop]
    problems: list[str] = []
    if unanswered:
        listed = "; ".join(f"{_motion(m)}: {gap}" for m, gap in unanswered)
        problems.append(f"{len(unanswered)} council motion(s) covering this area have no "
                        f"published response that answers them: {listed}")
    if stopping:
        listed = "; ".join(_motion(m) for m in stopping)
        problems.append(f"{len(stopping)} council motion(s) ask to suspend or oppose live "
                        f"facial recognition here: {listed}; a response does not lift that, "
                        "only a countersigned override can")
    if problems:
        open_points = [m for m, _ in unanswered if m.asks_to_stop]
        refusal = None
        if open_points:
            refusal = ("A motion asking to stop live facial recognition here can be "
                       "overridden only after the force has answered each of its points in "
                       "public: " + "; ".join(_motion(m) for m in open_points) + ".")
        return GateResult(name, False, "; ".join(problems) + ".", refusal)
    if not covering:
        return GateResult(name, True, "No council motion covers this area.")
    return GateResult(name, True, f"All {len(covering)} council motion(s) covering this area "
                      "have a published response.")


def _motion(m: CouncilMotionFacts) -> str:
    return f"{m.body} ({m.passed_on.isoformat()}, {m.stance.value})"


def _motion_gap(m: CouncilMotionFacts, params: GateParameters) -> str | None:
    """What the motion's published response leaves unanswered, in a few words (None:
    nothing)."""
    problem = motion_response_problem(m.points, m.published_response, m.point_answers,
                                      params.answer_min_chars)
    if problem is None:
        return None
    where = problem[0]
    if m.published_response is None:
        return "none is published"
    if where == "response":
        return "the response says nothing of substance"
    if where == "point_answers":
        return "not every point has an answer"
    return f"point {int(where.rsplit('.', 1)[1]) + 1} has no answer of substance"


Gate = Callable[[DeploymentDossier, GateParameters], GateResult]

#: Every gate, in the order they are reported.
ALL_GATES: tuple[Gate, ...] = (
    notice_period_gate,
    cia_gate,
    engagement_reach_gate,
    consultation_gate,
    watchlist_gate,
    threshold_gate,
    council_motions_gate,
)


@dataclass(frozen=True)
class GateReport:
    """All gate results for one deployment at one moment."""

    results: tuple[GateResult, ...]

    @property
    def all_passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failing(self) -> list[GateResult]:
        return [r for r in self.results if not r.passed]


def evaluate_gates(dossier: DeploymentDossier, params: GateParameters) -> GateReport:
    """Run every gate against ``dossier``; each failure carries its key."""
    results = (gate(dossier, params) for gate in ALL_GATES)
    return GateReport(tuple(r if r.passed else replace(
        r, failure_key=failure_key(r.name, dossier, params)) for r in results))


def unanswered_overdue(dossier: DeploymentDossier, now: datetime) -> int:
    """Feedback needing an answer whose deadline has passed without one."""
    return sum(1 for f in dossier.feedback if f.overdue(now))
