"""Rescheduling: the only way published dates change. From notice_published or authorised
back to notice_published (an authorisation for other dates no longer holds), the notice
period counted again from the reschedule, refused from every other status, audited with
the old and new dates, the window rules applied, and the change shown publicly (page,
API, iCal SEQUENCE/LAST-MODIFIED, Atom)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import icalendar
import pytest
from platform_helpers import START, Scenario, ok
from sqlalchemy import select

from openlfr.governance.errors import InvalidInput, InvalidTransition
from openlfr.governance.lifecycle import (
    DeploymentStatus,
    Transition,
    next_status,
    require_new_window,
)
from openlfr.storage import models as m

REASON = "The station is closed for engineering works on the published date."


def window(start: datetime, hours: float = 8) -> dict[str, str]:
    return {"start_at": start.isoformat(), "end_at": (start + timedelta(hours=hours)).isoformat()}


def z(moment: datetime) -> str:
    """A UTC time as the API writes it."""
    return moment.isoformat().replace("+00:00", "Z")


def reschedule(s: Scenario, start: datetime, role: str = "planner", hours: float = 8,
               reason: str = REASON) -> Any:
    return s.staff[role].post(s.url("/reschedule"), json={**window(start, hours),
                                                          "reason": reason})


def published(s: Scenario) -> None:
    s.draft()
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/publish-notice")))


def events(s: Scenario, action: str) -> list[m.AuditEvent]:
    with s.staff.platform.sessions() as session:
        return list(session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == action)
                                    .order_by(m.AuditEvent.seq)))


def gate(s: Scenario, name: str) -> dict[str, Any]:
    gates = ok(s.staff["authoriser"].get(s.url("/gates")))["gates"]
    return next(g for g in gates if g["name"] == name)


# --- the rule, without a database --------------------------------------------------------

def test_lifecycle_rule_for_rescheduling() -> None:
    S = DeploymentStatus
    assert next_status(S.NOTICE_PUBLISHED, Transition.RESCHEDULE) is S.NOTICE_PUBLISHED
    assert next_status(S.AUTHORISED, Transition.RESCHEDULE) is S.NOTICE_PUBLISHED
    for status in (S.DRAFT, S.PROPOSED, S.ACTIVE, S.COMPLETED, S.REVIEWED, S.CANCELLED):
        with pytest.raises(InvalidTransition,
                           match="only possible from: authorised, notice_published"):
            next_status(status, Transition.RESCHEDULE)
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    old = (now + timedelta(days=20), now + timedelta(days=20, hours=8))
    with pytest.raises(InvalidInput, match="already published for"):
        require_new_window(old, *old, now)
    with pytest.raises(InvalidInput, match="has already passed"):
        require_new_window(old, now - timedelta(hours=1), now + timedelta(hours=1), now)
    require_new_window(old, now + timedelta(days=1), now + timedelta(days=1, hours=2), now)


# --- over the API ----------------------------------------------------------------------------

def test_an_authorised_deployment_goes_back_to_notice_and_must_be_authorised_again(
        scenario: Scenario) -> None:
    s = scenario
    s.prepare()
    ok(s.staff["authoriser"].post(s.url("/authorise")))
    assert ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))["gates_basis"] == \
        "authorise"
    new_start = s.clock.now + timedelta(days=20)
    moved = ok(reschedule(s, new_start, role="authoriser"))["deployment"]
    assert moved["status"] == "notice_published"
    assert moved["authorised_at"] is None
    assert moved["notice_published_at"] == moved["rescheduled_at"] == z(s.clock.now)
    assert (moved["start_at"], moved["end_at"]) == (z(new_start),
                                                    z(new_start + timedelta(hours=8)))
    # The public no longer sees the old authorisation as the basis: gates are live again.
    public = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["status"] == "notice_published" and public["gates_basis"] == "live"
    # The old window is gone: switching on at the old start is refused.
    s.clock.now = START
    refused = s.staff["operator"].post(s.url("/activate"))
    assert refused.status_code == 409 and "only possible from: authorised" in refused.text
    # Authorising again needs the gates to pass for the new dates (the watchlist must be
    # built within a day of the new start).
    failing = s.staff["authoriser"].post(s.url("/authorise"))
    assert failing.status_code == 409
    assert [g["name"] for g in failing.json()["failing_gates"]] == ["watchlist_rules"]
    s.clock.now = new_start - timedelta(hours=12)
    ok(s.staff["planner"].post(s.url("/watchlist/build")))
    assert ok(s.staff["authoriser"].post(s.url("/authorise")))["deployment"]["status"] == \
        "authorised"
    s.clock.now = new_start
    assert ok(s.staff["operator"].post(s.url("/activate")))["deployment"]["status"] == "active"


def test_the_notice_period_counts_from_the_reschedule(scenario: Scenario) -> None:
    s = scenario
    published(s)  # 20 days before the original start
    assert gate(s, "notice_period")["passed"]
    s.clock.advance(days=10)
    # 27 days after the first notice, but only 7 after the new dates were published.
    ok(reschedule(s, s.clock.now + timedelta(days=7)))
    notice = gate(s, "notice_period")
    assert not notice["passed"]
    assert "Notice was published on 12 March 2026, 7 days before the start on 19 March" in \
        notice["reason"]
    refused = s.staff["authoriser"].post(s.url("/authorise"))
    assert refused.status_code == 409
    assert "notice_period" in [g["name"] for g in refused.json()["failing_gates"]]
    ok(reschedule(s, s.clock.now + timedelta(days=15)))
    assert gate(s, "notice_period")["passed"]


@pytest.mark.parametrize("status", ["draft", "proposed", "active", "completed", "cancelled"])
def test_refused_from_other_statuses_and_nothing_changes(scenario: Scenario,
                                                         status: str) -> None:
    s = scenario
    if status in ("draft", "proposed"):
        s.draft()
        if status == "proposed":
            ok(s.staff["planner"].post(s.url("/propose")))
    elif status == "cancelled":
        published(s)
        ok(s.staff["planner"].post(s.url("/cancel"), json={"reason": "Not needed."}))
    else:
        s.activate()
        if status == "completed":
            s.clock.advance(hours=8)
            ok(s.staff["operator"].post(s.url("/complete")))
    before = ok(s.staff["planner"].get(s.url()))
    r = reschedule(s, s.clock.now + timedelta(days=30))
    assert r.status_code == 409, r.text
    # One that ran is refused as such, whatever its status: it keeps the dates it ran.
    if status in ("active", "completed"):
        assert "cannot reschedule a deployment that has run" in r.json()["detail"]
    else:
        assert f"cannot reschedule a deployment that is '{status}'" in r.json()["detail"]
        assert "only possible from: authorised, notice_published" in r.json()["detail"]
    after = ok(s.staff["planner"].get(s.url()))
    assert after == before
    assert events(s, "deployment.reschedule") == []


def test_audited_with_old_and_new_dates_and_the_reason(scenario: Scenario) -> None:
    s = scenario
    s.prepare()
    ok(s.staff["authoriser"].post(s.url("/authorise")))
    first = s.clock.now + timedelta(days=16)
    ok(reschedule(s, first, reason="Engineering works at the station."))
    s.clock.advance(days=1)
    second = first + timedelta(days=2)
    ok(reschedule(s, second, hours=4, reason="A march is planned on the new date."))
    one, two = events(s, "deployment.reschedule")
    assert one.actor == "planner" and one.subject_id == str(s.deployment_id)
    d1, d2 = json.loads(one.details), json.loads(two.details)
    assert d1["from"] == "authorised" and d1["to"] == "notice_published"
    assert (d1["old_start_at"], d1["old_end_at"]) == tuple(window(START).values())
    assert (d1["new_start_at"], d1["new_end_at"]) == tuple(window(first).values())
    assert d1["reason"] == "Engineering works at the station."
    # The withdrawn authorisation's gate verdicts are kept in the record.
    assert {g["name"] for g in d1["withdrawn_authorisation"]["results"]} >= {"notice_period"}
    assert d2["from"] == d2["to"] == "notice_published" and "withdrawn_authorisation" not in d2
    assert (d2["old_start_at"], d2["new_start_at"], d2["new_end_at"]) == (
        first.isoformat(), second.isoformat(), (second + timedelta(hours=4)).isoformat())
    assert ok(s.staff["admin"].get("/api/audit/verify"))["ok"]


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"end_at": START.isoformat()}, "body", "end_at must be after start_at"),
    ({"end_at": (START + timedelta(days=16)).isoformat()}, "body", "at most 14 days"),
    ({"reason": "no"}, "reason", "at least 3 characters"),
    ({"reason": None}, "reason", "string"),
    ({"start_at": "2026-04-01T10:00:00"}, "start_at", "timezone"),
    ({"surprise": 1}, "surprise", "Extra inputs"),
    (window(START), "start_at", "already published for"),
    (window(datetime(2026, 3, 1, 9, tzinfo=UTC)), "start_at", "has already passed"),
])
def test_bad_dates_and_reasons_are_refused_and_change_nothing(
        scenario: Scenario, body: dict[str, Any], field: str, message: str) -> None:
    s = scenario
    published(s)
    before = ok(s.staff["planner"].get(s.url()))
    payload = {**window(START + timedelta(days=2)), "reason": REASON, **body}
    r = s.staff["planner"].post(s.url("/reschedule"), json=payload)
    assert r.status_code == 422, r.text
    assert any(field in e["loc"] and message in e["msg"] for e in r.json()["detail"]), r.text
    assert ok(s.staff["planner"].get(s.url())) == before
    assert events(s, "deployment.reschedule") == []


def test_only_planners_and_authorisers_may_reschedule(scenario: Scenario) -> None:
    s = scenario
    published(s)
    for role in ("operator", "oversight", "admin"):
        r = reschedule(s, START + timedelta(days=1), role=role)
        assert r.status_code == 403 and "planner, authoriser" in r.text, role
    anonymous = s.staff.anon.post(s.url("/reschedule"), json={
        **window(START + timedelta(days=1)), "reason": REASON})
    assert anonymous.status_code == 401
    assert ok(reschedule(s, START + timedelta(days=1)))["deployment"]["status"] == \
        "notice_published"
    assert ok(reschedule(s, START + timedelta(days=2), role="authoriser"))


def test_the_change_is_public_on_the_page_api_and_feeds(scenario: Scenario) -> None:
    s = scenario
    published(s)
    ical = icalendar.Calendar.from_ical(
        s.staff.anon.get("/areas/lambeth/deployments.ics").content)
    [event] = ical.walk("VEVENT")
    assert int(event.get("sequence")) == 0
    s.clock.advance(days=2)
    moved_at = s.clock.now
    new_start = START + timedelta(days=7)
    ok(reschedule(s, new_start, hours=6))

    page = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert 'data-test="date-changes"' in page
    assert "Sun 22 March 2026, 10:00 GMT (10:00 UTC)" in page  # the old dates, kept in view
    assert ("Sun 29 March 2026, 11:00 BST (10:00 UTC) to "
            "Sun 29 March 2026, 17:00 BST (16:00 UTC)") in page
    assert REASON in page

    public = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["reschedules"] == [{
        "at": z(moved_at), "old_start_at": z(START),
        "old_end_at": z(START + timedelta(hours=8)), "new_start_at": z(new_start),
        "new_end_at": z(new_start + timedelta(hours=6)), "reason": REASON}]
    assert public["notice_published_at"] == z(moved_at)

    for area in ("lambeth", "lambeth--vauxhall"):
        ical = icalendar.Calendar.from_ical(
            s.staff.anon.get(f"/areas/{area}/deployments.ics").content)
        [event] = ical.walk("VEVENT")
        assert int(event.get("sequence")) == 1
        assert event.decoded("dtstart") == new_start
        assert event.decoded("last-modified") == moved_at
        assert REASON in str(event.get("description"))
    atom = feedparser.parse(s.staff.anon.get("/areas/lambeth/deployments.atom").content)
    [entry] = atom.entries
    assert "(new dates)" in entry.title and "Sun 29 March 2026" in entry.title
    assert datetime(*entry.updated_parsed[:6], tzinfo=UTC) == moved_at
    assert REASON in entry.content[0].value

    ok(s.staff["planner"].post(s.url("/cancel"), json={"reason": "Not needed after all."}))
    ical = icalendar.Calendar.from_ical(
        s.staff.anon.get("/areas/lambeth/deployments.ics").content)
    [event] = ical.walk("VEVENT")
    assert int(event.get("sequence")) == 2 and str(event.get("status")) == "CANCELLED"
