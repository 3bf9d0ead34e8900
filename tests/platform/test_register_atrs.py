"""The technology register as an ATRS record: tier 1 and tier 2 fields, the engine's own
facts filled in, validated against the standard's structure; every edit a new version."""

from __future__ import annotations

import json
from typing import Annotated, Any

import jsonschema
import pytest
from platform_helpers import Scenario, Staff, ok

TEXT = {"type": "string"}
OPTIONAL_TEXT = {"type": ["string", "null"]}
COUNT = {"type": "integer", "minimum": 0}
RATE = {"type": ["number", "null"], "minimum": 0}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    """An object with exactly these properties, all required (a field left empty is
    exported empty, never left out)."""
    return {"type": "object", "properties": properties, "required": sorted(properties),
            "additionalProperties": False}


AUDIT = {"type": "object", "required": ["conducted_on", "dataset", "fair_threshold",
                                        "recommended_threshold", "identification",
                                        "register_entry", "second_opinion_model",
                                        "recorded_by", "recorded_at"],
         "properties": {"conducted_on": {"type": "string", "format": "date"},
                        "fair_threshold": {"type": "number", "minimum": 0, "maximum": 1},
                        "identification": {"type": "array"},
                        "register_entry": {"type": "integer"},
                        "second_opinion_model": OPTIONAL_TEXT,
                        "recorded_by": {"type": "string", "minLength": 1},
                        "recorded_at": {"type": "string", "format": "date-time"}}}

#: The ATRS template's structure (tier 1; tier 2 sections 1 to 5) as the export writes it.
ATRS_SCHEMA: dict[str, Any] = _object({
    "format": {"const": "openlfr-atrs/2"},
    "template": {"type": "string", "pattern": "Algorithmic Transparency Recording Standard"},
    "id": {"type": "integer"},
    "version": {"type": "integer", "minimum": 1},
    "updated_at": TEXT,
    "tier_1": _object({"name": {"type": "string", "minLength": 1}, "description": TEXT,
                       "website": TEXT, "contact_email": TEXT, "organisation": TEXT,
                       "phase": TEXT}),
    "tier_2": _object({
        "owner_and_responsibility": _object({
            "organisation": TEXT, "team": TEXT, "senior_responsible_owner": TEXT,
            "third_party_involvement": {"type": "boolean"},
            "third_parties": {"type": "array", "items": _object({
                "name": TEXT, "companies_house_number": TEXT, "role": TEXT,
                "procurement_procedure": TEXT, "data_access_terms": TEXT})}}),
        "description_and_rationale": _object({
            "detailed_description": TEXT, "scope": TEXT, "benefit": TEXT,
            "previous_process": TEXT, "alternatives_considered": TEXT}),
        "decision_making_process": _object({
            "process_integration": TEXT, "provided_information": TEXT,
            "frequency_and_scale_of_usage": TEXT, "human_decisions_and_review": TEXT,
            "required_training": TEXT, "appeals_and_review": TEXT,
            "usage_recorded_by_the_platform": _object({
                **{k: COUNT for k in (
                    "deployments_run", "faces_passing", "face_detections", "alerts",
                    "confirmed", "false_alerts", "unclear", "pending", "stops", "arrests")},
                "false_alerts_per_adjudicated_alert": RATE,
                "false_alerts_per_1000_tracks": RATE})}),
        "tool_specification": _object({
            "system_architecture": TEXT, "supplier_or_project": TEXT, "phase": TEXT,
            "models": {"type": "array", "minItems": 1, "items": _object({
                "model_name": TEXT, "model_version": TEXT, "weights_sha256_prefix": TEXT,
                "model_task": TEXT, "model_input": TEXT, "model_output": TEXT,
                "decision_rule": TEXT,
                "default_threshold": {"type": "number", "minimum": 0, "maximum": 1},
                "model_performance": {"oneOf": [{"type": "null"}, AUDIT]}})}}),
        "data_specification": _object({
            "source_data": TEXT, "data_collection": TEXT, "sensitive_attributes": TEXT,
            "data_sharing_agreements": TEXT, "data_access_and_storage": TEXT}),
        "risks_mitigations_and_impact_assessments": _object({
            "impact_assessments": {"type": "array", "items": _object({
                "name": TEXT, "description": TEXT, "date": OPTIONAL_TEXT, "link": TEXT})},
            "risks": {"type": "array", "items": _object({
                "name": TEXT, "description": TEXT, "mitigation": TEXT})}}),
    }),
    "equity_audits": {"type": "array", "items": AUDIT},
    "version_history": {"type": "array", "minItems": 1, "items": _object({
        "version": {"type": "integer"}, "published_at": TEXT, "published_by": TEXT,
        "reason": TEXT, "model_version": TEXT, "default_threshold": {"type": "number"}})},
})

ATRS_FIELDS = {
    "name": "Live facial recognition (Lambeth pilot)",
    "summary": "Cameras compare faces passing a marked zone with a short watchlist of people "
               "wanted by a court or missing; an officer decides on every alert.",
    "contact_email": "lfr@police.example", "phase": "beta/pilot",
    "organisation": "Example Police", "team": "LFR unit", "senior_responsible_owner": "ACC Ops",
    "supplier": "openlfr project", "supplier_role": "Open-source engine; no data access.",
    "human_decisions_and_review": "Every alert is adjudicated by an officer before any stop.",
    "appeals_and_review": "Complaints and redress requests through the public portal.",
    "source_data": "Custody images authorised by an inspector; missing-person photos.",
    "impact_assessments": [{"name": "DPIA", "completed_on": "2026-01-10",
                            "link": "https://police.example/dpia.pdf"}],
    "risks": [{"name": "False alerts", "description": "An innocent person stopped.",
               "mitigation": "Threshold at or above the audited fair threshold."}],
}
ENTRY = {"algorithm": "UltraLight; MobileFaceNet", "model_version": "mobilefacenet:abc123",
         "vendor_or_project": "openlfr", "default_threshold": 0.5}


def test_atrs_export_is_valid_and_versioned(scenario: Scenario) -> None:
    staff: Staff = scenario.staff
    tech = ok(staff["admin"].post("/api/technology",
                                  json={**ENTRY, "atrs": ATRS_FIELDS}), 201)
    assert tech["version"] == 1
    record = ok(staff.anon.get(f"/api/public/technology/{tech['id']}/atrs"))
    jsonschema.validate(record, ATRS_SCHEMA)
    assert record["tier_1"]["description"] == ATRS_FIELDS["summary"]
    model = record["tier_2"]["tool_specification"]["models"][0]
    assert model["weights_sha256_prefix"] == "abc123" and model["model_performance"] is None
    assert record["tier_2"]["owner_and_responsibility"]["third_party_involvement"]

    # An edit publishes version 2 with its reason; version 1 stays readable.
    ok(staff["oversight"].put(f"/api/technology/{tech['id']}", json={
        **ENTRY, "default_threshold": 0.55, "atrs": ATRS_FIELDS,
        "reason": "Threshold raised after the pilot's first month."}))
    scenario.clock.advance(days=1)
    audit = ok(staff["oversight"].post(f"/api/technology/{tech['id']}/equity-audits", json={
        "conducted_on": "2026-02-01", "dataset": "balanced set", "engine_version": "0.1",
        "model_id": ENTRY["model_version"], "thresholds_swept": [0.5, 0.55], "group_results": [],
        "identification": [{"watchlist_size": 100, "threshold": 0.55, "tpir": 0.9,
                            "fpir": 0.0005, "fpir_ci_low": 0.0001, "fpir_ci_high": 0.0009,
                            "nonmated_searches": 10000, "false_alerts": 5}],
        "recommended_threshold": 0.55, "fair_threshold": 0.55}), 201)
    everything = ok(staff.anon.get("/api/public/technology/atrs"))
    for one in everything:
        jsonschema.validate(one, ATRS_SCHEMA)
    record = {r["id"]: r for r in everything}[tech["id"]]
    assert record["version"] == 2
    assert [(v["version"], v["default_threshold"]) for v in record["version_history"]] == [
        (1, 0.5), (2, 0.55)]
    assert record["version_history"][1]["reason"].startswith("Threshold raised")
    performance = record["tier_2"]["tool_specification"]["models"][0]["model_performance"]
    assert performance["fair_threshold"] == audit["fair_threshold"]
    # The counts behind the FPIR, and the exact bound the platform computed from them.
    [row] = performance["identification"]
    assert (row["nonmated_searches"], row["false_alerts"]) == (10000, 5)
    assert round(row["fpir_upper_exact"], 5) == 0.00117
    register = {e["technology"]["id"]: e for e in ok(staff.anon.get("/api/public/technology"))}
    assert [v["version"] for v in register[tech["id"]]["versions"]] == [1, 2]
    events = ok(staff["admin"].get("/api/audit/events?limit=1000"))
    corrected = [e for e in events if e["action"] == "technology.corrected"]
    assert json.loads(corrected[-1]["details"])["changed"] == ["default_threshold"]
    # An edit that leaves the ATRS fields out keeps them (a correction of the engine part).
    ok(staff["admin"].put(f"/api/technology/{tech['id']}", json={
        **ENTRY, "default_threshold": 0.55, "notes": "typo fixed"}))
    record = ok(staff.anon.get(f"/api/public/technology/{tech['id']}/atrs"))
    assert record["version"] == 3 and record["tier_1"]["description"] == ATRS_FIELDS["summary"]


def test_atrs_fields_are_checked(staff: Staff) -> None:
    bad = staff["admin"].post("/api/technology", json={
        **ENTRY, "atrs": {"contact_email": "not an address", "website": "javascript:x"}})
    assert bad.status_code == 422
    assert {e["loc"][-1] for e in bad.json()["detail"]} == {"contact_email", "website"}
    assert staff["planner"].post("/api/technology", json=ENTRY).status_code == 403


def test_running_engine_fills_its_own_entry(staff: Staff) -> None:
    """Model id and weights hash, detector, descriptor and decision rule, default
    threshold: read from the engine, never typed."""
    from openlfr.recognition import DEFAULT_THRESHOLD
    from openlfr.recognition.backends import algorithm_summary, engine_model_id

    tech = ok(staff["admin"].post("/api/technology/running-engine"), 201)
    assert tech["model_version"] == engine_model_id()
    assert tech["algorithm"] == algorithm_summary()
    assert tech["default_threshold"] == DEFAULT_THRESHOLD
    record = ok(staff.anon.get(f"/api/public/technology/{tech['id']}/atrs"))
    jsonschema.validate(record, ATRS_SCHEMA)
    model = record["tier_2"]["tool_specification"]["models"][0]
    assert model["weights_sha256_prefix"] == engine_model_id().split(":")[1]


def test_every_engine_choice_fits_the_register() -> None:
    """The register keeps 200 characters of algorithm: each detector and descriptor's
    summary must fit, or registering that engine would fail."""
    from pydantic import TypeAdapter, ValidationError

    from openlfr.recognition.backends import DESCRIPTOR_NAMES, DETECTOR_NAMES, algorithm_summary
    from openlfr.services.schemas import TechnologyIn

    field = TechnologyIn.model_fields["algorithm"]
    check = TypeAdapter(Annotated[field.annotation, *field.metadata])
    with pytest.raises(ValidationError):
        check.validate_python("x" * 201)
    for detector in DETECTOR_NAMES:
        for descriptor in DESCRIPTOR_NAMES:
            summary = algorithm_summary(detector, descriptor)
            assert check.validate_python(summary) == summary
    assert "w600k" in algorithm_summary()


def test_register_page_shows_the_record(staff: Staff) -> None:
    ok(staff["admin"].post("/api/technology", json={**ENTRY, "atrs": ATRS_FIELDS}), 201)
    ok(staff["admin"].post("/api/technology", json=ENTRY), 201)
    page = staff.anon.get("/register")
    assert page.status_code == 200
    text = page.text
    assert ATRS_FIELDS["summary"] in text and "ACC Ops" in text and "DPIA" in text
    assert text.count('data-test="no-equity-audit"') == 2
    assert 'data-test="atrs-summary-missing"' in text  # the second entry wrote none
    assert "/api/public/technology/atrs" in text


def test_the_record_carries_the_usage_the_platform_recorded(scenario: Scenario) -> None:
    """What people type of the scale of use stands beside what the platform counted: a
    record saying "not yet used" over 25,000 faces passing is plain to see."""
    from datetime import timedelta

    from figures_helpers import post_counters
    from platform_helpers import START

    s = scenario
    s.activate()
    tech_id = ok(s.staff["planner"].get(s.url()))["technology_id"]
    before = ok(s.staff.anon.get(f"/api/public/technology/{tech_id}/atrs"))
    usage = before["tier_2"]["decision_making_process"]["usage_recorded_by_the_platform"]
    assert (usage["deployments_run"], usage["faces_passing"], usage["alerts"]) == (1, 0, 0)
    s.clock.now = START + timedelta(hours=1)
    post_counters(s, s.staff.node(s.deployment_id), "b1", 90000, 25000)
    atrs = ok(s.staff.anon.get(f"/api/public/technology/{tech_id}/atrs"))
    usage = atrs["tier_2"]["decision_making_process"]["usage_recorded_by_the_platform"]
    assert (usage["deployments_run"], usage["faces_passing"], usage["face_detections"]) == \
        (1, 25000, 90000)
    assert usage["false_alerts_per_1000_tracks"] == 0.0
    # An entry nothing ran on says so.
    other = s.equity_audit()
    idle = ok(s.staff.anon.get(f"/api/public/technology/{other}/atrs"))
    assert idle["tier_2"]["decision_making_process"]["usage_recorded_by_the_platform"][
        "deployments_run"] == 0
