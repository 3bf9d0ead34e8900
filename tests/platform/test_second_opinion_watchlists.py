"""A watchlist that decides with a second opinion, on the platform: its entries carry the
second opinion's descriptors (required there, refused elsewhere, one per photo and of one
length), they are released to the node with the model to decide with, the threshold gate
holds the deployment to an equity audit that decided the same way, and the staff page
creates such a watchlist and says how it decides, as the public page does."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from platform_helpers import START, WATCHLIST_MODEL, Scenario, authorise_ahead, ok

REFERENCE_MODEL = "dlib-5pt-resnet:test"
ENTRY = {"subject_ref": "CASE-9/A", "category": "wanted_for_arrest", "source": "PNC",
         "authorised_by": "Insp. Example", "image_taken_on": "2026-01-10"}


def _descriptor(n: int, seed: float = 0.0) -> list[float]:
    return [seed + 0.01 * i for i in range(n)]


def _gate(s: Scenario, name: str) -> dict[str, Any]:
    report = ok(s.staff["oversight"].get(s.url("/gates")))
    return next(g for g in report["gates"] if g["name"] == name)


def _enrol(s: Scenario, reference_model: str | None) -> Any:
    def enrol() -> int:
        planner = s.staff["planner"]
        ok(planner.post(s.url("/watchlist"), json={
            "descriptor_model": WATCHLIST_MODEL, "reference_model": reference_model}), 201)
        entry = {**ENTRY, "descriptors": [_descriptor(128)]}
        if reference_model is not None:
            entry["references"] = [_descriptor(128, 0.5)]
        return int(ok(planner.post(s.url("/watchlist/entries"), json=entry), 201)["id"])
    return enrol


def test_entries_carry_the_second_opinion_only_where_the_watchlist_decides_with_it(
        scenario: Scenario) -> None:
    s = scenario
    s.draft()
    planner = s.staff["planner"]
    created = ok(planner.post(s.url("/watchlist"), json={
        "descriptor_model": WATCHLIST_MODEL, "reference_model": REFERENCE_MODEL}), 201)
    assert created["reference_model"] == REFERENCE_MODEL

    def add(**fields: Any) -> Any:
        return planner.post(s.url("/watchlist/entries"), json={**ENTRY, **fields})

    missing = add(descriptors=[_descriptor(128)])
    assert missing.status_code == 422
    assert f"decides with a second opinion ({REFERENCE_MODEL})" in missing.text
    uneven = add(descriptors=[_descriptor(128), _descriptor(128, 1)],
                 references=[_descriptor(128)])
    assert uneven.status_code == 422 and "1 references for 2 descriptors" in uneven.text
    ok(add(descriptors=[_descriptor(128)], references=[_descriptor(128, 0.5)]), 201)
    longer = add(descriptors=[_descriptor(128)], references=[_descriptor(256)])
    assert longer.status_code == 422
    assert f"references of this watchlist ({REFERENCE_MODEL}) have 128 numbers" in longer.text
    listed = ok(planner.get(s.url("/watchlist")))
    assert len(listed["entries"]) == 1 and "references" not in str(listed)  # never shown

    other = Scenario(s.staff, s.clock)
    other.draft()
    ok(planner.post(other.url("/watchlist"), json={"descriptor_model": WATCHLIST_MODEL}), 201)
    refused = planner.post(other.url("/watchlist/entries"), json={
        **ENTRY, "descriptors": [_descriptor(128)], "references": [_descriptor(128)]})
    assert refused.status_code == 422 and "without a second opinion" in refused.text


@pytest.mark.parametrize(("watchlist_with", "audited_with", "passes", "says"), [
    (REFERENCE_MODEL, REFERENCE_MODEL, True, ""),
    (None, None, True, ""),
    (REFERENCE_MODEL, None, False, "measured the engine alone"),
    (None, REFERENCE_MODEL, False, "but this watchlist decides without one"),
    (REFERENCE_MODEL, "dlib-5pt-resnet:older", False,
     "measured a second opinion from dlib-5pt-resnet:older"),
])
def test_the_threshold_gate_holds_the_watchlist_to_an_audit_that_decided_the_same_way(
        scenario: Scenario, watchlist_with: str | None, audited_with: str | None,
        passes: bool, says: str) -> None:
    s = scenario
    authorise_ahead(s, START, START + timedelta(hours=8), _enrol(s, watchlist_with),
                    authorise=False, second_opinion=audited_with)
    gate = _gate(s, "threshold")
    assert gate["passed"] is passes, gate["reason"]
    assert says in gate["reason"]
    if not passes:
        assert "openlfr evaluate" in gate["reason"]


def test_the_node_receives_the_second_opinion_to_decide_with(scenario: Scenario) -> None:
    s = scenario
    entry_id = authorise_ahead(s, START, START + timedelta(hours=8),
                               _enrol(s, REFERENCE_MODEL), second_opinion=REFERENCE_MODEL)
    s.clock.now = START
    ok(s.staff["operator"].post(s.url("/activate")))
    node = s.staff.node(s.deployment_id)
    released = ok(node.get(f"/api/node/deployments/{s.deployment_id}/watchlist"))
    assert released["reference_model"] == REFERENCE_MODEL
    [entry] = released["entries"]
    assert entry["entry_id"] == entry_id
    assert entry["descriptors"] == [_descriptor(128)]
    assert entry["references"] == [_descriptor(128, 0.5)]

    alert = {"alert_uid": "alert-so-1", "occurred_at": START.isoformat(), "camera": "cam-1",
             "track_id": "t-1", "score": 0.66, "entry_id": entry_id, "second_opinion": True}
    recorded = ok(node.post(f"/api/node/deployments/{s.deployment_id}/alerts", json=alert),
                  201)
    assert recorded["second_opinion"] is True
    plain = ok(node.post(f"/api/node/deployments/{s.deployment_id}/alerts", json={
        **alert, "alert_uid": "alert-so-2", "second_opinion": False}), 201)
    assert plain["second_opinion"] is False
    console = s.staff["operator"].get(
        f"/staff/deployments/{s.deployment_id}/console")
    assert "0.660 (lifted by the second opinion)" in console.text

    # The lifted alert turns out false; the plain one true.
    operator = s.staff["operator"]
    ok(operator.post(f"/api/alerts/{recorded['id']}/adjudication",
                     json={"adjudication": "false_match"}))
    ok(operator.post(f"/api/alerts/{plain['id']}/adjudication",
                     json={"adjudication": "true_match"}))

    # The public sees the decision rule (it is part of what was authorised) and what it
    # added: alerts lifted by the second opinion, and how many of them were false.
    public = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["second_opinion"] == REFERENCE_MODEL
    assert {k: public["figures"][k] for k in (
        "alerts", "false_alerts", "second_opinion_alerts", "second_opinion_false_alerts",
    )} == {"alerts": 2, "false_alerts": 1, "second_opinion_alerts": 1,
           "second_opinion_false_alerts": 1}
    staff_figures = ok(s.staff["oversight"].get(s.url("/figures")))
    assert (staff_figures["second_opinion_alerts"],
            staff_figures["second_opinion_false_alerts"]) == (1, 1)
    page = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert 'data-test="second-opinion"' in page and REFERENCE_MODEL in page
    assert re.search(r'data-test="second-opinion-alerts">\s*1 of the alerts, 1 of them false',
                     page)
    total = next(row for row in ok(s.staff.anon.get(
        f"/deployments/{s.reference}/figures.json"))["rows"] if row["month"] == "total")
    assert (total["second_opinion_alerts"], total["second_opinion_false_alerts"]) == (1, 1)


def test_a_plain_watchlist_releases_no_second_opinion(scenario: Scenario) -> None:
    s = scenario
    authorise_ahead(s, START, START + timedelta(hours=8), _enrol(s, None))
    s.clock.now = START
    ok(s.staff["operator"].post(s.url("/activate")))
    node = s.staff.node(s.deployment_id)
    released = ok(node.get(f"/api/node/deployments/{s.deployment_id}/watchlist"))
    assert released["reference_model"] is None
    assert released["entries"][0]["references"] is None
    # No alert of it can claim the second opinion lifted it (the figures count those).
    refused = node.post(f"/api/node/deployments/{s.deployment_id}/alerts", json={
        "alert_uid": "alert-plain-1", "occurred_at": START.isoformat(), "camera": "cam-1",
        "track_id": "t-1", "score": 0.66, "entry_id": released["entries"][0]["entry_id"],
        "second_opinion": True})
    assert refused.status_code == 422, refused.text
    assert "decides without a second opinion" in refused.text
    assert ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))[
        "second_opinion"] is None
    page = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert 'data-test="second-opinion"' not in page
    assert 'data-test="second-opinion-alerts"' not in page


def test_the_staff_page_creates_a_watchlist_that_decides_with_a_second_opinion(
        scenario: Scenario) -> None:
    from openlfr.recognition.analyzer import reference_model_id

    s = scenario
    s.draft()
    planner = s.staff["planner"]
    page = f"/staff/deployments/{s.deployment_id}/watchlist"
    text = planner.get(page).text
    assert 'data-test="second-opinion"' in text
    token = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert token is not None
    planner.post(f"{page}/create", data={"csrf_token": token.group(1), "second_opinion": "on"})
    created = ok(planner.get(s.url("/watchlist")))["watchlist"]
    assert created["reference_model"] == reference_model_id()
    assert "Decides with a second opinion from" in planner.get(page).text
