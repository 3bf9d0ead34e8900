"""The technology register in the UK Algorithmic Transparency Recording Standard (ATRS).

ATRS records have two tiers: tier 1, a short plain-language summary for anyone; tier 2,
the detail an oversight body or a journalist reads (owner and responsibility, description
and rationale, decision-making process and human oversight, the tool's technical
specification, data, impact assessments, risks and mitigations). The sections and field
names follow the ATRS template (v3.0).

What people write is ``AtrsFields`` (stored with the register entry). What the engine and
the platform know themselves is never typed: the model id and weights hash, the detector,
descriptor and decision rule, the default threshold, the equity audits (date, dataset,
second opinion, who recorded each and when, fair and recommended thresholds, FPIR at each
audited operating point) and the entry's version history are filled in by ``atrs_record``
from the register entry and its audits. The model's performance is the latest audit of
the entry's model, recorded on it or on another entry of that model (the audit the
threshold gate reads); ``equity_audits`` lists those recorded on the entry. Beside the
typed frequency and scale of use stands what the platform counted on the entry
(``usage_recorded_by_the_platform``, ``technology.atrs_entries``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints

from openlfr.services.schemas import Input, OptionalProse, TechnologyIn, plain_text

#: The ATRS template the export follows, and the export's own format version.
ATRS_TEMPLATE = "UK Algorithmic Transparency Recording Standard, template v3.0"
EXPORT_FORMAT = "openlfr-atrs/2"  # 2: usage recorded by the platform

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300),
                 AfterValidator(plain_text)]
Link = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500,
                                        pattern=r"^(https?://\S+)?$")]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254,
                                         pattern=r"^([^@\s]+@[^@\s]+\.[^@\s]+)?$")]
Phase = Literal["", "pre-deployment", "beta/pilot", "production", "retired"]


class ImpactAssessmentLink(Input):
    """An impact assessment (DPIA, equality impact assessment, ...) and where to read it."""

    name: Text = Field(min_length=1)
    description: OptionalProse = ""
    completed_on: date | None = None
    link: Link = ""


class RiskEntry(Input):
    """A risk and how it is mitigated."""

    name: Text = Field(min_length=1)
    description: OptionalProse = ""
    mitigation: OptionalProse = ""


class AtrsFields(Input):
    """The ATRS fields people write for a register entry. Empty ones are exported empty
    and shown as "not given", never left out: a gap in the record is itself information."""

    # tier 1
    name: Text = Field(default="", description="The tool's name as the public knows it.")
    summary: OptionalProse = Field(default="", description="Tier 1: what the tool does, "
                                   "how and why, in plain language.")
    website: Link = ""
    contact_email: Email = ""
    phase: Phase = ""
    # tier 2, 1: owner and responsibility
    organisation: Text = ""
    team: Text = ""
    senior_responsible_owner: Text = ""
    # tier 2, 1.4: third parties (supplier)
    supplier: Text = ""
    supplier_companies_house_number: Text = ""
    supplier_role: OptionalProse = ""
    procurement_procedure: Text = ""
    supplier_data_access_terms: OptionalProse = ""
    # tier 2, 2: description and rationale
    detailed_description: OptionalProse = ""
    scope: OptionalProse = ""
    benefit: OptionalProse = ""
    previous_process: OptionalProse = ""
    alternatives_considered: OptionalProse = ""
    # tier 2, 3: decision-making process and human oversight
    process_integration: OptionalProse = ""
    provided_information: OptionalProse = ""
    frequency_and_scale: OptionalProse = ""
    human_decisions_and_review: OptionalProse = ""
    required_training: OptionalProse = ""
    appeals_and_review: OptionalProse = ""
    # tier 2, 4.3: data and watchlist sources
    source_data: OptionalProse = Field(default="", description="Where watchlist images and "
                                       "subjects come from, and who authorises them.")
    data_collection: OptionalProse = ""
    sensitive_attributes: OptionalProse = ""
    data_sharing: OptionalProse = ""
    data_access_and_storage: OptionalProse = ""
    # tier 2, 5: impact assessments, risks and mitigations
    impact_assessments: list[ImpactAssessmentLink] = Field(default=[], max_length=50)
    risks: list[RiskEntry] = Field(default=[], max_length=50)


#: The text fields in the order the register page and the admin form show them, by
#: section: (section title, [(field, label)]).
SECTIONS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Summary", (("name", "Name"), ("summary", "What it does, in plain language"),
                 ("website", "Website"), ("contact_email", "Contact e-mail"),
                 ("phase", "Phase"))),
    ("Owner and responsibility", (
        ("organisation", "Organisation"), ("team", "Team"),
        ("senior_responsible_owner", "Senior responsible owner"))),
    ("Supplier", (
        ("supplier", "Supplier"), ("supplier_companies_house_number", "Companies House number"),
        ("supplier_role", "What the supplier does"),
        ("procurement_procedure", "Procurement procedure"),
        ("supplier_data_access_terms", "Supplier's access to data"))),
    ("Description and rationale", (
        ("detailed_description", "Detailed description"), ("scope", "Scope"),
        ("benefit", "Benefit"), ("previous_process", "What was done before"),
        ("alternatives_considered", "Alternatives considered"))),
    ("Decision process and human oversight", (
        ("process_integration", "Where it sits in the decision"),
        ("provided_information", "What officers are shown"),
        ("frequency_and_scale", "Frequency and scale of use"),
        ("human_decisions_and_review", "Human decisions and review"),
        ("required_training", "Training required"),
        ("appeals_and_review", "Appeals and redress"))),
    ("Data and watchlist sources", (
        ("source_data", "Watchlist sources"), ("data_collection", "How data is collected"),
        ("sensitive_attributes", "Sensitive attributes"), ("data_sharing", "Data sharing"),
        ("data_access_and_storage", "Access, storage and retention"))),
)


def fields_of(stored: dict[str, Any]) -> AtrsFields:
    """The stored fields as the model (an entry registered before ATRS: all empty)."""
    return AtrsFields.model_validate(stored or {})


def weights_hash(model_id: str) -> str:
    """The weights hash in an engine model id ("network:sha256-prefix"), or "" if none."""
    family, _, digest = model_id.partition(":")
    return digest if family and digest else ""


def _audit(a: Any) -> dict[str, Any]:
    """One equity audit as published: what it measured and how it decided (the register
    entry it was recorded on, whose model it measured, and its second opinion, the two
    things the threshold gate matches a watchlist on), who recorded it and when, and its
    figures."""
    return {
        "conducted_on": a.conducted_on.isoformat(), "dataset": a.dataset,
        "engine_version": a.engine_version, "register_entry": a.technology_id,
        "second_opinion_model": a.second_opinion_model,
        "recorded_by": a.recorded_by, "recorded_at": a.created_at.isoformat(),
        "fair_threshold": a.fair_threshold,
        "recommended_threshold": a.recommended_threshold,
        "thresholds_swept": list(a.thresholds_swept),
        "identification": [
            {"watchlist_size": r["watchlist_size"], "threshold": r["threshold"],
             "tpir": r.get("tpir"), "fpir": r["fpir"], "fpir_ci_high": r.get("fpir_ci_high"),
             # The counts behind the rate and the bound the platform computed from them
             # (None for an audit recorded without them).
             "nonmated_searches": r.get("nonmated_searches"),
             "false_alerts": r.get("false_alerts"),
             "fpir_upper_exact": r.get("fpir_upper_exact")}
            for r in a.identification or ()],
        "group_results": list(a.group_results), "summary": a.summary,
    }


def _usage(usage: Any) -> dict[str, Any] | None:
    """The deployments run on an entry and what they did (``figures.Usage``), from the
    platform's tallies: the same figures the transparency pages publish."""
    if usage is None:
        return None
    f = usage.figures
    return {"deployments_run": usage.deployments_run, "faces_passing": f.tracks,
            "face_detections": f.faces_seen, "alerts": f.alerts, "confirmed": f.confirmed,
            "false_alerts": f.false_alerts, "unclear": f.unclear, "pending": f.pending,
            "false_alerts_per_adjudicated_alert": f.false_alerts_per_adjudicated_alert,
            "false_alerts_per_1000_tracks": f.false_alerts_per_1000_tracks,
            "stops": f.stops, "arrests": f.arrests}


def atrs_record(entry: Any, public_url: str = "") -> dict[str, Any]:
    """One register entry (``services.technology.RegisterEntry``) as an ATRS record: the
    template's tier 1 and tier 2 sections, what people wrote next to what the engine and
    the platform know themselves."""
    t = entry.technology
    f = fields_of(t.atrs)
    latest = entry.latest_audit
    return {
        "format": EXPORT_FORMAT,
        "template": ATRS_TEMPLATE,
        "id": t.id,
        "version": t.version,
        "updated_at": (t.updated_at or t.created_at).isoformat(),
        "tier_1": {
            "name": f.name or t.algorithm,
            "description": f.summary,
            "website": f.website or public_url,
            "contact_email": f.contact_email,
            "organisation": f.organisation,
            "phase": f.phase,
        },
        "tier_2": {
            "owner_and_responsibility": {
                "organisation": f.organisation, "team": f.team,
                "senior_responsible_owner": f.senior_responsible_owner,
                "third_party_involvement": bool(f.supplier),
                "third_parties": [{
                    "name": f.supplier,
                    "companies_house_number": f.supplier_companies_house_number,
                    "role": f.supplier_role,
                    "procurement_procedure": f.procurement_procedure,
                    "data_access_terms": f.supplier_data_access_terms,
                }] if f.supplier else [],
            },
            "description_and_rationale": {
                "detailed_description": f.detailed_description, "scope": f.scope,
                "benefit": f.benefit, "previous_process": f.previous_process,
                "alternatives_considered": f.alternatives_considered,
            },
            "decision_making_process": {
                "process_integration": f.process_integration,
                "provided_information": f.provided_information,
                "frequency_and_scale_of_usage": f.frequency_and_scale,
                # What the platform itself recorded, beside what was typed above: a record
                # that says "not yet used" over 25,000 faces passing is plain to see.
                "usage_recorded_by_the_platform": _usage(entry.usage),
                "human_decisions_and_review": f.human_decisions_and_review,
                "required_training": f.required_training,
                "appeals_and_review": f.appeals_and_review,
            },
            "tool_specification": {
                "system_architecture": t.algorithm,
                "supplier_or_project": t.vendor_or_project,
                "phase": f.phase,
                "models": [{
                    "model_name": t.model_version.partition(":")[0],
                    "model_version": t.model_version,
                    "weights_sha256_prefix": weights_hash(t.model_version),
                    "model_task": "one-to-many face identification against a watchlist",
                    "model_input": "faces found in camera frames",
                    "model_output": "a decision score per watchlist subject; an alert for a "
                                    "human to adjudicate when it reaches the threshold",
                    "decision_rule": t.algorithm,
                    "default_threshold": t.default_threshold,
                    "model_performance": _audit(latest) if latest is not None else None,
                }],
            },
            "data_specification": {
                "source_data": f.source_data, "data_collection": f.data_collection,
                "sensitive_attributes": f.sensitive_attributes,
                "data_sharing_agreements": f.data_sharing,
                "data_access_and_storage": f.data_access_and_storage,
            },
            "risks_mitigations_and_impact_assessments": {
                "impact_assessments": [
                    {"name": a.name, "description": a.description,
                     "date": a.completed_on.isoformat() if a.completed_on else None,
                     "link": a.link} for a in f.impact_assessments],
                "risks": [{"name": r.name, "description": r.description,
                           "mitigation": r.mitigation} for r in f.risks],
            },
        },
        "equity_audits": [_audit(a) for a in entry.audits],
        "version_history": [
            {"version": v.version, "published_at": v.published_at.isoformat(),
             "published_by": v.published_by, "reason": v.reason,
             "model_version": v.content.get("model_version"),
             "default_threshold": v.content.get("default_threshold")}
            for v in entry.versions],
    }


class RegisterEntryIn(TechnologyIn):
    """A register entry as an admin or oversight writes it: the engine setup (filled from
    the running engine where it is this one), the ATRS fields, and for an edit, why."""

    atrs: AtrsFields | None = Field(default=None, description="The ATRS fields; left out "
                                    "of an edit, they stay as they are.")
    reason: OptionalProse = Field(default="", description="Why the entry changed "
                                  "(published with the new version).")
