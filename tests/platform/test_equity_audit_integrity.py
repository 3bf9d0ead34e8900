"""An equity audit is a measurement of one model, and the threshold gate reads it as such:
it is recorded only on a register entry of the model it measured, it must hold together
(what it says at one threshold cannot contradict what it says at another), the gate holds
the FPIR's bound the platform computed from its counts and nothing else, the latest
audit of a model counts whichever entry of that model holds it, and the public record
says what the gate matched on."""

from __future__ import annotations

from typing import Any

import pytest
from platform_helpers import AUDITED_GROUPS, WATCHLIST_MODEL, Scenario, ok
from pydantic import ValidationError
from sqlalchemy import select

from openlfr.services.schemas import EquityAuditIn
from openlfr.storage import models as m

OTHER_MODEL = "mobilefacenet_w600k_512:0123456789abcdef"
REFERENCE_MODEL = "dlib-5pt-resnet:test"


def _rows(false_alerts: tuple[int, int] = (0, 0), searches: int = 5000) -> list[dict[str, Any]]:
    return [{"watchlist_size": 1000, "threshold": t, "tpir": 0.9, "fpir": n / searches,
             "nonmated_searches": searches, "false_alerts": n}
            for t, n in zip((0.6, 0.7), false_alerts, strict=True)]


def _body(**changes: Any) -> dict[str, Any]:
    """An audit that holds together: fair 0.6 and recommended 0.7 of the two swept, one
    set of 5,000 non-mated searches with no false alert at either threshold."""
    body = {"conducted_on": "2026-02-01", "dataset": "d", "engine_version": "0.1.0",
            "model_id": WATCHLIST_MODEL, "thresholds_swept": [0.6, 0.7],
            "group_results": AUDITED_GROUPS, "identification": _rows(),
            "recommended_threshold": 0.7, "fair_threshold": 0.6}
    return {**body, **changes}


def _entry(s: Scenario, model: str = WATCHLIST_MODEL, who: str = "admin") -> int:
    return int(ok(s.staff[who].post("/api/technology", json={
        "algorithm": "x", "model_version": model, "vendor_or_project": "v",
        "default_threshold": 0.64}), 201)["id"])


def _record(s: Scenario, technology_id: int, **changes: Any) -> Any:
    return s.staff["oversight"].post(f"/api/technology/{technology_id}/equity-audits",
                                     json=_body(**changes))


def _threshold_gate(s: Scenario) -> dict[str, Any]:
    gates = ok(s.staff["planner"].get(s.url("/gates")))["gates"]
    return next(g for g in gates if g["name"] == "threshold")


def _group(name: str, threshold: float, **rates: float) -> dict[str, Any]:
    return {"group": name, "threshold": threshold, "tpir": 0.9, "fpir": 0.0, **rates}


# --- one model: an audit is recorded only on an entry of the model it measured ----------

def test_an_audit_of_another_network_is_refused_on_this_entry(scenario: Scenario) -> None:
    s = scenario
    tech = _entry(s)
    refused = _record(s, tech, model_id=OTHER_MODEL,
                      engine_version=f"openlfr 0.1.0; {OTHER_MODEL}")
    assert refused.status_code == 422
    [detail] = refused.json()["detail"]
    assert detail["loc"] == ["body", "model_id"]
    assert detail["msg"] == (
        f"the audit measured {OTHER_MODEL}, but this register entry is for {WATCHLIST_MODEL}; "
        f"record it on the entry of {OTHER_MODEL} (register one if there is none), or audit "
        f"{WATCHLIST_MODEL} (openlfr evaluate --descriptor)")
    assert ok(s.staff["oversight"].get(f"/api/technology/{tech}/equity-audits")) == []
    missing = s.staff["oversight"].post(f"/api/technology/{tech}/equity-audits", json={
        k: v for k, v in _body().items() if k != "model_id"})
    assert missing.status_code == 422
    assert [d["loc"] for d in missing.json()["detail"]] == [["body", "model_id"]]

    s.prepare(technology_id=tech)  # never audited: the gate does not pass
    assert not _threshold_gate(s)["passed"]
    ok(_record(s, tech), 201)
    assert _threshold_gate(s)["passed"]


# --- an audit holds together --------------------------------------------------------------

CONTRADICTIONS: dict[str, tuple[dict[str, Any], str]] = {
    "fair threshold not swept": (
        {"fair_threshold": 0.1}, "fair_threshold 0.1 is not among the thresholds swept"),
    "recommended threshold not swept": (
        {"recommended_threshold": 0.65},
        "recommended_threshold 0.65 is not among the thresholds swept (0.6, 0.7)"),
    "recommended below fair": (
        {"fair_threshold": 0.7, "recommended_threshold": 0.6},
        "recommended_threshold 0.6 is below fair_threshold 0.7"),
    "identification row not swept": (
        {"identification": [dict(_rows()[0], threshold=0.3)]},
        "identification[0]: threshold 0.3 is not among the thresholds swept"),
    "group row not swept": (
        {"group_results": [_group("a", 0.6), _group("b", 0.95)]},
        "group_results[1]: threshold 0.95 is not among the thresholds swept"),
    "group interval above the rate": (
        {"group_results": [_group("a", 0.6, fpir=0.01, ci_low=0.5), _group("b", 0.6)]},
        "ci_low 0.5 must not be above fpir 0.01"),
    "group interval below the rate": (
        {"group_results": [_group("a", 0.6, fpir=0.01, ci_high=0.001), _group("b", 0.6)]},
        "ci_high 0.001 must not be below fpir 0.01"),
    "two rows for one group and threshold": (
        {"group_results": [_group("a", 0.6), _group("a", 0.6, fpir=0.3), _group("b", 0.6)]},
        "group_results[1]: a second row for group 'a' at threshold 0.6"),
    "the same group after trimming": (
        {"group_results": [_group("x", 0.6), _group("x ", 0.6)]},
        "group_results[1]: a second row for group 'x' at threshold 0.6"),
    "other searches at another threshold": (
        {"identification": [_rows(searches=10_000)[0], _rows(searches=500)[1]]},
        "identification[1]: 500 non-mated searches at watchlist 1000 and threshold 0.7, but "
        "10000 at threshold 0.6"),
    "more false alerts at a stricter threshold": (
        {"identification": _rows(false_alerts=(0, 40))},
        "identification[1] (watchlist 1000): false_alerts 40 at threshold 0.7 is above its 0 "
        "at 0.6"),
    "more found at a stricter threshold": (
        {"identification": [dict(_rows()[0], tpir=0.1), dict(_rows()[1], tpir=0.99)]},
        "identification[1] (watchlist 1000): tpir 0.99 at threshold 0.7 is above its 0.1"),
    "a group's false alerts rising": (
        {"group_results": [_group("a", 0.6), _group("a", 0.7, fpir=0.2),
                           _group("b", 0.6), _group("b", 0.7)]},
        "group_results[1] (group 'a'): fpir 0.2 at threshold 0.7 is above its 0 at 0.6"),
}


@pytest.mark.parametrize("case", sorted(CONTRADICTIONS))
def test_an_audit_that_contradicts_itself_is_refused(case: str) -> None:
    changes, message = CONTRADICTIONS[case]
    with pytest.raises(ValidationError) as refused:
        EquityAuditIn.model_validate(_body(**changes))
    assert message in str(refused.value)


def test_rows_without_their_counts_are_refused_naming_the_row() -> None:
    """An FPIR with no counts behind it (say 0, with an interval of 0 to 0, at a
    watchlist of 100 million) is the audit's word: the platform cannot bound it."""
    vacuous = {"watchlist_size": 100_000_000, "threshold": 0.7, "fpir": 0.0,
               "fpir_ci_high": 0.0}
    with pytest.raises(ValidationError) as refused:
        EquityAuditIn.model_validate(_body(identification=[_rows()[0], vacuous]))
    assert sorted(e["loc"] for e in refused.value.errors()) == [
        ("identification", 1, "false_alerts"), ("identification", 1, "nonmated_searches")]


def test_an_audit_that_holds_together_is_taken() -> None:
    audit = EquityAuditIn.model_validate(_body(
        thresholds_swept=[0.7, 0.6, 0.65], recommended_threshold=0.65,
        identification=[*_rows(false_alerts=(3, 1)),
                        dict(_rows(false_alerts=(3, 1))[0], threshold=0.65, false_alerts=3,
                             fpir=3 / 5000, tpir=0.9),
                        dict(_rows()[0], watchlist_size=10, nonmated_searches=70, fpir=0.0)],
        group_results=[_group(g, t, fpir=f) for g in ("a", "b")
                       for t, f in ((0.6, 0.01), (0.65, 0.01), (0.7, 0.0))]))
    assert audit.model_id == WATCHLIST_MODEL


def test_the_api_refuses_a_contradiction_with_422(scenario: Scenario) -> None:
    s = scenario
    tech = _entry(s)
    refused = _record(s, tech, identification=_rows(false_alerts=(0, 40)))
    assert refused.status_code == 422
    assert "identification[1] (watchlist 1000): false_alerts 40" in refused.text
    vacuous = _record(s, tech, fair_threshold=0.1, recommended_threshold=0.1)
    assert vacuous.status_code == 422 and "fair_threshold 0.1" in vacuous.text
    assert ok(s.staff["oversight"].get(f"/api/technology/{tech}/equity-audits")) == []


def test_a_row_stored_without_counts_is_not_passed_on_the_audits_own_interval(
        scenario: Scenario) -> None:
    """Audits recorded before counts were required: the gate holds only the bound the
    platform computed, so a row with the audit's own interval alone does not pass."""
    s = scenario
    tech = _entry(s)
    ok(_record(s, tech), 201)
    s.prepare(technology_id=tech)
    assert _threshold_gate(s)["passed"]
    with s.staff.platform.sessions.begin() as session:
        audit = session.scalars(select(m.EquityAudit)).one()
        audit.identification = [
            {"watchlist_size": 1000, "threshold": t, "fpir": 0.0, "fpir_ci_high": 0.0}
            for t in (0.6, 0.7)]
    gate = _threshold_gate(s)
    assert not gate["passed"]
    assert ("but gives no counts of non-mated searches and false alerts, from which the "
            "platform computes the FPIR's upper 95% bound") in gate["reason"]


# --- the latest audit of a model, whichever entry of it holds the audit -------------------

def test_a_newer_worse_audit_on_another_entry_of_the_model_is_read(
        scenario: Scenario) -> None:
    s = scenario
    vendor = _entry(s, who="admin")
    ok(_record(s, vendor, conducted_on="2026-01-15"), 201)  # none of 5,000 alerted
    independent = _entry(s, who="oversight")  # the same model, oversight's own entry
    worse = [dict(r, false_alerts=100, fpir=0.02) for r in _rows()]
    ok(_record(s, independent, conducted_on="2026-02-20", identification=worse), 201)
    s.prepare(technology_id=vendor)
    gate = _threshold_gate(s)
    assert not gate["passed"]
    assert gate["reason"].startswith(
        "The latest equity audit (2026-02-20) found FPIR 0.02 (100 false alerts in 5,000 "
        "non-mated searches")
    # The register reads the same audit for both entries, and says where it is recorded.
    register = {e["technology"]["id"]: e for e in ok(s.staff.anon.get("/api/public/technology"))}
    for tech in (vendor, independent):
        assert register[tech]["last_equity_audit"]["conducted_on"] == "2026-02-20"
    record = ok(s.staff.anon.get(f"/api/public/technology/{vendor}/atrs"))
    performance = record["tier_2"]["tool_specification"]["models"][0]["model_performance"]
    assert performance["register_entry"] == independent
    assert [a["conducted_on"] for a in record["equity_audits"]] == ["2026-01-15"]
    page = s.staff.anon.get("/register").text
    assert f"recorded\n        under register entry {independent}, which names the same model" in (
        page)

    # An audit of another model, however recent, does not count for this one.
    other = _entry(s, model=OTHER_MODEL)
    ok(_record(s, other, conducted_on="2026-02-25", model_id=OTHER_MODEL), 201)
    assert _threshold_gate(s)["reason"].startswith("The latest equity audit (2026-02-20)")


def test_the_gate_reads_the_latest_audit_that_decided_as_the_watchlist_decides(
        scenario: Scenario) -> None:
    """A newer audit made with a second opinion does not set aside the audit of the
    engine alone for a watchlist that decides alone (nor the other way round); where no
    audit of the model decided that way, the gate names the difference."""
    s = scenario
    alone = _entry(s)
    ok(_record(s, alone, conducted_on="2026-01-15"), 201)
    lifted = _entry(s)
    ok(_record(s, lifted, conducted_on="2026-02-20", second_opinion_model=REFERENCE_MODEL,
               identification=[dict(r, false_alerts=100, fpir=0.02) for r in _rows()]), 201)
    s.prepare(technology_id=lifted)  # the scenario's watchlist decides alone
    gate = _threshold_gate(s)
    assert gate["passed"], gate["reason"]
    assert "equity audit of 2026-01-15" in gate["reason"]

    other = Scenario(s.staff, s.clock)
    other.draft(technology_id=alone)
    planner = s.staff["planner"]
    ok(planner.post(other.url("/watchlist"), json={
        "descriptor_model": WATCHLIST_MODEL, "reference_model": "dlib-5pt-resnet:older"}), 201)
    gate = _threshold_gate(other)
    assert not gate["passed"]
    assert "measured a second opinion from dlib-5pt-resnet:test" in gate["reason"]


# --- the public record says what the gate matched on --------------------------------------

def test_the_record_names_the_second_opinion_who_recorded_the_audit_and_when(
        scenario: Scenario) -> None:
    s = scenario
    tech = _entry(s)
    recorded_at = s.clock.now
    ok(_record(s, tech, second_opinion_model=REFERENCE_MODEL), 201)
    record = ok(s.staff.anon.get(f"/api/public/technology/{tech}/atrs"))
    [audit] = record["equity_audits"]
    assert audit["second_opinion_model"] == REFERENCE_MODEL
    assert audit["recorded_by"] == "oversight"
    assert audit["recorded_at"] == recorded_at.isoformat()
    assert audit["register_entry"] == tech
    performance = record["tier_2"]["tool_specification"]["models"][0]["model_performance"]
    assert performance == audit
    page = s.staff.anon.get("/register").text
    provenance = page.split('data-test="audit-provenance"')[1].split("</p>")[0]
    assert f"<code>{REFERENCE_MODEL}</code>" in provenance
    assert "Recorded by oversight" in provenance
    assert "second opinion <code>dlib-5pt-resnet:test</code>; recorded by oversight" in page
