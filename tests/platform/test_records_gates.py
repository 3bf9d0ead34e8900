"""A completed deployment's gate checklist is the record of its decisions: the gates as
they stood at authorisation and at activation, not the gates run again against records
that have ended (the watchlist is destroyed when a deployment completes). And the
register and the threshold gate say the same thing about the equity audit."""

from __future__ import annotations

from platform_helpers import Scenario, ok


def _complete(scenario: Scenario) -> None:
    scenario.activate()
    scenario.clock.advance(hours=2)
    ok(scenario.staff["operator"].post(scenario.url("/complete")))


def test_completed_checklist_shows_the_gates_at_each_decision(scenario: Scenario) -> None:
    _complete(scenario)
    public = ok(scenario.staff.anon.get(f"/api/public/deployments/{scenario.reference}"))
    decisions = public["gate_decisions"]
    assert [d["basis"] for d in decisions] == ["authorise", "activate"]
    assert all(g["passed"] for d in decisions for g in d["gates"])
    assert public["gates_basis"] == "activate" and all(g["passed"] for g in public["gates"])

    # Run again now, the watchlist gate would fail (destroyed): the pages do not do that.
    live = ok(scenario.staff["planner"].get(scenario.url("/gates")))
    assert not {g["name"]: g for g in live["gates"]}["watchlist_rules"]["passed"]
    assert [d["basis"] for d in live["decisions"]] == ["authorise", "activate"]
    assert all(g["passed"] for d in live["decisions"] for g in d["gates"])
    for path in (f"/staff/deployments/{scenario.deployment_id}/gates",
                 f"/staff/deployments/{scenario.deployment_id}"):
        page = scenario.staff["planner"].get(path)
        assert page.status_code == 200, path
        assert 'data-passed="false"' not in page.text, path
        assert 'data-test="checklist-decided"' in page.text
        assert page.text.count('data-test="decision-gates"') == 2
        assert "As they stood at authorisation" in page.text
        assert "As they stood at activation" in page.text

    page = scenario.staff.anon.get(f"/deployments/{scenario.reference}")
    assert 'data-passed="false"' not in page.text
    assert 'data-test="earlier-decisions"' in page.text


def test_checklist_before_any_decision_runs_the_gates_now(scenario: Scenario) -> None:
    scenario.prepare()
    page = scenario.staff["authoriser"].get(f"/staff/deployments/{scenario.deployment_id}/gates")
    assert 'data-test="checklist"' in page.text and 'data-test="decision-gates"' not in page.text


def test_register_and_threshold_gate_agree_when_never_audited(scenario: Scenario) -> None:
    """The register's "never audited for equity" and the threshold gate are one fact."""
    tech = ok(scenario.staff["admin"].post("/api/technology", json={
        "algorithm": "an engine", "model_version": "v2", "vendor_or_project": "openlfr",
        "default_threshold": 0.6}), 201)
    scenario.draft(technology_id=tech["id"])
    register = ok(scenario.staff.anon.get("/api/public/technology"))
    assert {e["technology"]["id"]: e for e in register}[tech["id"]]["last_equity_audit"] is None
    gate = {g["name"]: g for g in ok(scenario.staff["planner"].get(
        scenario.url("/gates")))["gates"]}["threshold"]
    assert not gate["passed"] and "never been audited for equity" in gate["reason"]
    assert gate["override_refusal"] is None  # two people may still go ahead


def test_register_and_threshold_gate_read_the_same_audit(scenario: Scenario) -> None:
    tech = scenario.equity_audit(fair=0.62)
    scenario.draft(technology_id=tech, threshold=0.61)
    entry = {e["technology"]["id"]: e for e in ok(scenario.staff.anon.get(
        "/api/public/technology"))}[tech]
    assert entry["last_equity_audit"]["fair_threshold"] == 0.62
    gate = {g["name"]: g for g in ok(scenario.staff["planner"].get(
        scenario.url("/gates")))["gates"]}["threshold"]
    assert not gate["passed"] and "below 0.62" in gate["reason"]
