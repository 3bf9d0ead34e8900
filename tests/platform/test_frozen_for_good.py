"""Once a deployment has been authorised its record changes only by public amendment, for
good: an authorisation withdrawn since (by a reschedule, or an amendment that changed a
gate) does not thaw it. Before, one amendment or a reschedule sent it back to notice and
the planner could then rewrite the engagement log and the impact assessment directly, with
no amendment and no published reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from platform_helpers import START, Scenario, ok

from openlfr.governance.amendments import is_frozen
from openlfr.governance.lifecycle import DeploymentStatus

S = DeploymentStatus


def test_the_rule() -> None:
    once = START
    for status in S:
        assert is_frozen(status, once) is (status is not S.CANCELLED)
    assert not is_frozen(S.NOTICE_PUBLISHED) and is_frozen(S.AUTHORISED)


def _rescheduled(s: Scenario) -> None:
    s.prepare()
    ok(s.staff["authoriser"].post(s.url("/authorise")))
    new_start = START + timedelta(days=30)
    ok(s.staff["planner"].post(s.url("/reschedule"), json={
        "start_at": new_start.isoformat(), "end_at": (new_start + timedelta(hours=8)).isoformat(),
        "reason": "The station works moved the operation back by a month."}))
    d = ok(s.staff["planner"].get(s.url()))
    assert d["status"] == "notice_published" and d["authorised_at"] is None


def _amended_back(s: Scenario) -> None:
    s.prepare()
    ok(s.staff["authoriser"].post(s.url("/authorise")))
    planner = s.staff["planner"]
    residents = next(e for e in ok(planner.get(s.url("/engagement")))
                     if e["audience"] == "residents")
    a = ok(planner.post(s.url("/amendments"), json={
        "record": "engagement", "event_id": residents["id"],
        "reason": "The residents' meeting was logged twice by mistake; removed."}), 201)
    assert a["status_after"] == "notice_published"


@pytest.mark.parametrize("withdrawn", [_rescheduled, _amended_back])
def test_a_withdrawn_authorisation_does_not_thaw_the_record(
        scenario: Scenario, withdrawn: Callable[[Scenario], None]) -> None:
    s, planner = scenario, scenario.staff["planner"]
    withdrawn(s)
    events = ok(planner.get(s.url("/engagement")))
    refused = planner.delete(s.url(f"/engagement/{events[0]['id']}"))
    assert refused.status_code == 409 and "since been withdrawn" in refused.text, refused.text
    added = planner.post(s.url("/engagement"), json={
        "held_on": s.clock.now.date().isoformat(), "format": "public_meeting",
        "audience": "residents", "met_with": "Invented residents' forum", "attendees": 500})
    assert added.status_code == 409
    sections = ok(planner.get(s.url("/assessment")))
    rewrite = {k: sections[k] for k in ("area_profile", "risks", "mitigations",
                                        "equality_impact", "decision")}
    rewrite["risks"] += " Rewritten quietly after the authorisation was withdrawn."
    assert planner.put(s.url("/assessment"), json=rewrite).status_code == 409
    # The way to change it is a public amendment, which works from here.
    ok(planner.post(s.url("/amendments"), json={
        "record": "assessment", "reason": "The risks now name the second site's cameras.",
        "sections": rewrite}), 201)
    public = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert "assessment" in [a["record"] for a in public["amendments"]]
    # The staff page says it is frozen and offers the amendment form, not the editor.
    page = planner.get(f"/staff/deployments/{s.deployment_id}/engagement").text
    assert "amendment" in page.lower()


def test_the_migration_finds_when_deployments_were_first_authorised(
        scenario: Scenario) -> None:
    """Migration 0014 fills ``first_authorised_at`` from the audit log's first
    authorisation, so a deployment whose authorisation was withdrawn before it stays
    frozen after the upgrade."""
    from alembic import command
    from sqlalchemy import text

    from openlfr.storage.db import alembic_config, migrate

    s = scenario
    _rescheduled(s)
    engine = s.staff.platform.engine
    with engine.connect() as conn:
        first = conn.execute(text("SELECT first_authorised_at FROM deployments")).scalar()
    assert first is not None
    command.downgrade(alembic_config(engine), "0013")
    migrate(engine)
    with engine.connect() as conn:
        again = conn.execute(text("SELECT first_authorised_at, authorised_at "
                                  "FROM deployments")).one()
    assert again == (first, None)
