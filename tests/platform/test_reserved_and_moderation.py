"""Two small holes a reviewer of the powers found: an account named as the platform
itself ("system", "public") made its acts read as the platform's in the audit log; and
hiding an item's text a second time overwrote the published reason, and who gave it."""

from __future__ import annotations

import pytest
from platform_helpers import PASSWORD, Scenario, ok

from openlfr.services.platform import RESERVED_NAMES

REASON_A = "It names a private person, a neighbour, with her home address and phone number."
REASON_B = "It repeats a slur against a group of residents in the second sentence."


@pytest.mark.parametrize("name", sorted(RESERVED_NAMES))
def test_no_account_takes_the_platforms_own_name(scenario: Scenario, name: str) -> None:
    r = scenario.staff["admin"].post("/api/users", json={
        "username": name, "password": PASSWORD, "role": "authoriser"})
    assert r.status_code == 422 and "the platform itself" in r.text, r.text


def test_a_published_moderation_reason_is_not_overwritten(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    s.publish_notice()
    f = ok(s.staff.anon.post(f"/api/public/deployments/{s.reference}/feedback", json={
        "kind": "objection", "text": "My neighbour at 12 Example Road, 07700 900123, ..."}),
        201)
    ok(s.staff["planner"].post(f"/api/feedback/{f['id']}/hide", json={"reason": REASON_A}))
    again = s.staff["authoriser"].post(f"/api/feedback/{f['id']}/hide",
                                       json={"reason": REASON_B})
    assert again.status_code == 409 and "already withheld" in again.text, again.text
    public = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))
    [item] = [x for x in public["feedback"] if x["id"] == f["id"]]
    assert item["moderation_reason"] == REASON_A
