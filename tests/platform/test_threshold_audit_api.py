"""The threshold gate over HTTP: the technology's latest equity audit, recorded with its
identification results, stops a deployment whose watchlist size and threshold the audit
found to raise too many false alerts (OPENLFR_MAX_AUDIT_FPIR), until the threshold is
raised; the refusal names the figures. The rule itself is unit-tested in test_gates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from platform_helpers import ASKED_BECAUSE, AUDITED_GROUPS, WATCHLIST_MODEL, Scenario, ok

#: Overall results per watchlist size and threshold, as openlfr evaluate reports them: one
#: set of 100,000 non-mated searches, rated at each threshold.
IDENTIFICATION = [
    {"watchlist_size": 1000, "threshold": 0.6, "tpir": 0.34, "fpir": 0.0037,
     "fpir_ci_low": 0.0029, "fpir_ci_high": 0.0046, "nonmated_searches": 100_000,
     "false_alerts": 370},
    {"watchlist_size": 1000, "threshold": 0.7, "tpir": 0.035, "fpir": 0.0004,
     "fpir_ci_low": 0.0002, "fpir_ci_high": 0.0008, "nonmated_searches": 100_000,
     "false_alerts": 40},
]
MOBILEFACENET = {"algorithm": "UltraLight; MobileFaceNet (WebFace600K)",
                 "model_version": "mobilefacenet_w600k_512:0123456789abcdef",
                 "vendor_or_project": "openlfr", "default_threshold": 0.5}


def _audit(s: Scenario, technology_id: int, **changes: Any) -> Any:
    body = {"conducted_on": "2026-02-01", "dataset": "held-out set, 13,233 photos",
            "engine_version": "0.1.0", "model_id": WATCHLIST_MODEL,
            "thresholds_swept": [0.6, 0.7],
            "group_results": AUDITED_GROUPS, "identification": IDENTIFICATION,
            "recommended_threshold": 0.7, "fair_threshold": 0.6}
    body.update(changes)
    return s.staff["oversight"].post(f"/api/technology/{technology_id}/equity-audits",
                                     json=body)


def _threshold_refusal(s: Scenario) -> str:
    """Authorisation is refused (409) by the threshold gate alone: its reason."""
    refused = s.staff["authoriser"].post(s.url("/authorise"))
    assert refused.status_code == 409, refused.text
    [failing] = refused.json()["failing_gates"]
    assert failing["name"] == "threshold"
    return str(failing["reason"])


def test_a_failing_audit_stops_authorisation_until_the_threshold_is_raised(
        scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.prepare()  # threshold 0.64, one watchlist entry; an audit with no FPIR figures
    technology_id = ok(staff["planner"].get(s.url()))["technology_id"]
    recorded = ok(_audit(s, technology_id), 201)
    assert recorded["identification"][0]["fpir_ci_high"] == 0.0046

    reason = _threshold_refusal(s)
    assert reason == (
        "The latest equity audit (2026-02-01) found FPIR 0.0037 (370 false alerts in "
        "100,000 non-mated searches; 95% upper 0.0041) at watchlist 1,000 and threshold 0.60 "
        "(the audited figures covering this deployment's 1 entry at threshold 0.64), above "
        "the policy maximum of 0.001 (1 in 1,000 passers-by); raise the threshold or audit "
        "again.")
    gates = {g["name"]: g for g in ok(staff["planner"].get(s.url("/gates")))["gates"]}
    assert gates["threshold"]["reason"] == reason
    assert gates["threshold"]["override_refusal"] is None  # the two-person override may
    assert ok(staff["planner"].get(s.url()))["status"] == "notice_published"

    amendment = ok(staff["planner"].post(s.url("/amendments"), json={
        "record": "plan", "reason": "The equity audit found too many false alerts at 0.64.",
        "changes": {"threshold": 0.7}}), 201)
    assert [(g["name"], g["passed_before"], g["passed_after"])
            for g in amendment["gate_changes"]] == [("threshold", False, True)]
    authorised = ok(staff["authoriser"].post(s.url("/authorise")))
    assert authorised["deployment"]["status"] == "authorised"
    gates = {g["name"]: g for g in ok(staff["planner"].get(s.url("/gates")))["gates"]}
    assert gates["threshold"]["passed"]
    assert ("found FPIR 0.0004 (40 false alerts in 100,000 non-mated searches; 95% upper "
            "0.000545) at watchlist 1,000 and threshold 0.70 "
            "(the audited figures covering this deployment's 1 entry at threshold 0.70), "
            "within the policy maximum of 0.001") in gates["threshold"]["reason"]


def test_an_audit_of_another_network_does_not_stand_for_the_watchlists(
        scenario: Scenario) -> None:
    """The audit is read from its technology register entry: when that entry's model is
    not the one the watchlist is built with, the audit's figures are another network's,
    and authorisation is refused until the deployment names the technology it runs."""
    s, staff = scenario, scenario.staff
    s.prepare()  # the watchlist and the audited technology: WATCHLIST_MODEL
    first = ok(staff["planner"].get(s.url()))["technology_id"]
    other = ok(staff["admin"].post("/api/technology", json=MOBILEFACENET), 201)
    ok(_audit(s, other["id"], conducted_on="2026-03-01", identification=[],
              model_id=MOBILEFACENET["model_version"]), 201)
    ok(staff["planner"].post(s.url("/amendments"), json={
        "record": "plan", "reason": "Run on the new engine.",
        "changes": {"technology_id": other["id"]}}), 201)
    reason = _threshold_refusal(s)
    assert reason.startswith(
        f"The watchlist is built with descriptor model {WATCHLIST_MODEL}, but the equity "
        "audit of 2026-03-01 measured mobilefacenet_w600k_512:0123456789abcdef")
    ok(staff["planner"].post(s.url("/amendments"), json={
        "record": "plan", "reason": "Back to the engine the watchlist was built for.",
        "changes": {"technology_id": first}}), 201)
    assert ok(staff["authoriser"].post(s.url("/authorise")))["deployment"]["status"] == (
        "authorised")

def test_a_failing_audit_can_be_set_aside_only_by_two_people(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.prepare()
    ok(_audit(s, ok(staff["planner"].get(s.url()))["technology_id"]), 201)
    asked = staff["authoriser"].post(s.url("/authorise"),
                                     json={"override_justification": ASKED_BECAUSE})
    assert asked.status_code == 202
    assert ok(staff["planner"].get(s.url()))["status"] == "notice_published"
    override = s.override()
    assert override["status"] == "in_force"
    public = ok(staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["went_ahead_despite"] == ["threshold"]


def test_an_audit_larger_than_any_audited_watchlist_does_not_cover(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    tech = s.equity_audit()
    s.draft(technology_id=tech)
    ok(_audit(s, tech, identification=[{"watchlist_size": 1, "threshold": 0.6,
                                        "fpir": 0.0, "nonmated_searches": 5000,
                                        "false_alerts": 0}]), 201)
    s.watchlist()
    gates = {g["name"]: g for g in ok(staff["planner"].get(s.url("/gates")))["gates"]}
    assert gates["threshold"]["passed"]  # one entry: covered
    ok(staff["planner"].post(s.url("/watchlist/entries"), json={
        "subject_ref": "CASE-124/B", "category": "wanted_for_arrest", "source": "PNC",
        "authorised_by": "Insp. Example", "image_taken_on": "2026-01-10",
        "descriptors": [[0.02 * i for i in range(128)]]}), 201)
    gates = {g["name"]: g for g in ok(staff["planner"].get(s.url("/gates")))["gates"]}
    assert not gates["threshold"]["passed"]
    assert ("it covers watchlists of at most 1 entry, and this one has 2"
            in gates["threshold"]["reason"])


def test_identification_results_are_checked_on_the_way_in(scenario: Scenario) -> None:
    s = scenario
    tech = s.equity_audit()
    upside_down = dict(IDENTIFICATION[0], fpir_ci_high=0.001)
    r = _audit(s, tech, identification=[upside_down])
    assert r.status_code == 422 and "fpir_ci_high must not be below fpir" in r.text
    r = _audit(s, tech, identification=[IDENTIFICATION[0], IDENTIFICATION[0]])
    assert r.status_code == 422 and "two rows for watchlist 1000 at threshold 0.6" in r.text
    r = _audit(s, tech, identification=[dict(IDENTIFICATION[0], watchlist_size=0)])
    assert r.status_code == 422


def test_a_newer_audit_without_figures_does_not_set_aside_one_that_found_too_many(
        scenario: Scenario) -> None:
    """The gate reads the latest audit: one recorded after a failing audit, with a fair
    threshold but no FPIR figures, leaves the gate failing (a check that could not be made
    is not passed), and one dated ahead of the clock is refused, so it cannot stand as
    the latest over the audits recorded until then."""
    s, staff = scenario, scenario.staff
    s.prepare()
    technology_id = ok(staff["planner"].get(s.url()))["technology_id"]
    ok(_audit(s, technology_id), 201)  # FPIR 0.0037 at 0.60: above the policy maximum
    ok(_audit(s, technology_id, conducted_on="2026-02-20", identification=[],
              thresholds_swept=[0.5, 0.6, 0.7], fair_threshold=0.5), 201)
    reason = _threshold_refusal(s)
    assert reason == (
        "The latest equity audit (2026-02-20) records no FPIR per watchlist size and "
        "threshold, so the policy maximum of 0.001 (1 in 1,000 passers-by) cannot be "
        "checked; record an audit with its identification results (openlfr evaluate "
        "--register).")

    today = s.clock.now.date()
    ahead = _audit(s, technology_id, conducted_on=(today + timedelta(days=2)).isoformat())
    assert ahead.status_code == 422
    [detail] = ahead.json()["detail"]
    assert detail["loc"] == ["body", "conducted_on"] and "is in the future" in detail["msg"]
    listed = ok(staff["oversight"].get(f"/api/technology/{technology_id}/equity-audits"))
    assert [a["conducted_on"] for a in listed] == ["2026-01-15", "2026-02-01", "2026-02-20"]
    assert ok(staff["planner"].get(s.url()))["status"] == "notice_published"


def test_the_platform_bounds_the_fpir_from_the_counts_not_from_the_audits_word(
        scenario: Scenario) -> None:
    """An audit that gives its counts is held to the exact upper 95% bound the platform
    computes from them: 0 false alerts in 500 strangers rules out only 1 in 135, whatever
    interval the audit itself claims; counts that do not give the rate are refused."""
    s, staff = scenario, scenario.staff
    s.prepare()
    technology_id = ok(staff["planner"].get(s.url()))["technology_id"]
    small = {"watchlist_size": 1000, "threshold": 0.6, "tpir": 0.9, "fpir": 0.0,
             "fpir_ci_low": 0.0, "fpir_ci_high": 0.0, "nonmated_searches": 500,
             "false_alerts": 0}
    recorded = ok(_audit(s, technology_id, identification=[small]), 201)
    [row] = recorded["identification"]
    assert row["fpir_ci_high"] == 0.0 and round(row["fpir_upper_exact"], 5) == 0.00735
    reason = _threshold_refusal(s)
    assert reason.startswith(
        "The latest equity audit (2026-02-01) found FPIR 0 (0 false alerts in 500 non-mated "
        "searches; 95% upper 0.00735) at watchlist 1,000 and threshold 0.60")
    assert "above the policy maximum of 0.001" in reason

    large = dict(small, nonmated_searches=5000)  # 95% upper 0.000738
    ok(_audit(s, technology_id, conducted_on="2026-02-02", identification=[large]), 201)
    assert ok(staff["authoriser"].post(s.url("/authorise")))["deployment"]["status"] == (
        "authorised")
    # The public register shows the counts and the platform's bound, as the gate read them.
    page = staff.anon.get("/register").text
    table = page.split('data-test="audited-false-alerts"')[1].split("</table>")[0]
    assert "<td>0 of 5,000</td>" in table and "<td>0.000738</td>" in table

    for wrong, message in (
            (dict(small, false_alerts=3), "fpir 0 is not false_alerts / nonmated_searches"),
            (dict(small, false_alerts=501, fpir=1.0), "must not exceed nonmated_searches")):
        r = _audit(s, technology_id, identification=[wrong])
        assert r.status_code == 422 and message in r.text, r.text
    # Without its counts a row has no bound the platform could check: refused, the row
    # and the count named (the audit's own interval is its word, not a bound).
    for left_out in ("nonmated_searches", "false_alerts"):
        row = {k: v for k, v in small.items() if k != left_out}
        r = _audit(s, technology_id, identification=[large, dict(row, watchlist_size=10)])
        assert r.status_code == 422
        assert [d["loc"] for d in r.json()["detail"]] == [
            ["body", "identification", 1, left_out]]


def test_an_audited_entrys_model_cannot_be_edited_to_the_watchlists(
        scenario: Scenario) -> None:
    """The gate reads an audit as a measurement of its register entry's model. Edited in
    place to the watchlist's model, an entry would pass the watchlist on another network's
    figures; once audited, its model is refused, and the rest may still be corrected."""
    s, staff = scenario, scenario.staff
    s.prepare()
    entry = MOBILEFACENET
    other = ok(staff["admin"].post("/api/technology", json=entry), 201)
    ok(_audit(s, other["id"], conducted_on="2026-03-01", model_id=entry["model_version"],
              identification=[{"watchlist_size": 1000, "threshold": 0.6, "fpir": 0.0,
                               "nonmated_searches": 5000, "false_alerts": 0}]), 201)
    ok(staff["planner"].post(s.url("/amendments"), json={
        "record": "plan", "reason": "Run on the new engine.",
        "changes": {"technology_id": other["id"]}}), 201)
    assert staff["authoriser"].post(s.url("/authorise")).status_code == 409

    edited = staff["admin"].put(f"/api/technology/{other['id']}",
                                json={**entry, "model_version": WATCHLIST_MODEL})
    assert edited.status_code == 422
    [detail] = edited.json()["detail"]
    assert detail["loc"] == ["body", "model_version"]
    assert detail["msg"] == (
        "this entry has 1 equity audit of model mobilefacenet_w600k_512:0123456789abcdef, "
        f"which would then stand for {WATCHLIST_MODEL}; register {WATCHLIST_MODEL} as a new "
        "entry and audit it (openlfr evaluate --register)")
    assert staff["authoriser"].post(s.url("/authorise")).status_code == 409
    ok(staff["admin"].put(f"/api/technology/{other['id']}",
                          json={**entry, "default_threshold": 0.55}))


def test_a_fair_threshold_without_group_results_does_not_pass(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.prepare()
    technology_id = ok(staff["planner"].get(s.url()))["technology_id"]
    passing = dict(IDENTIFICATION[1], threshold=0.6)  # within the maximum at 0.60
    ok(_audit(s, technology_id, group_results=[], identification=[passing]), 201)
    reason = _threshold_refusal(s)
    assert reason == (
        "The equity audit of 2026-02-01 gives results for no group, so its fair threshold "
        "0.60 compares nobody; record an audit with its per-group results (openlfr evaluate "
        "--register, on photos labelled by group).")
    ok(_audit(s, technology_id, conducted_on="2026-02-02", identification=[passing]), 201)
    assert ok(staff["authoriser"].post(s.url("/authorise")))["deployment"]["status"] == (
        "authorised")
