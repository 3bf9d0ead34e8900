"""Security headers on every response, no-store where personal data may be shown, and
cookie-authenticated API calls that change something refused from another site."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from platform_helpers import Scenario, Staff, ok

from openlfr.storage import models as m


@pytest.mark.parametrize("path", ["/", "/healthz", "/api/public/deployments",
                                  "/staff/login", "/no/such/page", "/openapi.json"])
def test_every_response_carries_the_security_headers(staff: Staff, path: str) -> None:
    r = staff.anon.get(path)
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_staff_pages_and_private_api_are_never_cached(scenario: Scenario) -> None:
    scenario.draft()
    planner = scenario.staff["planner"]
    for path in ("/staff", f"/staff/deployments/{scenario.deployment_id}", "/api/deployments",
                 scenario.url()):
        r = planner.get(path)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store", path
    assert "no-store" not in scenario.staff.anon.get("/").headers.get("cache-control", "")


@pytest.mark.parametrize("kind", ["json", "form", "multipart"])
def test_a_cookie_call_from_another_site_is_refused(scenario: Scenario, kind: str) -> None:
    planner = scenario.staff["planner"]
    body = scenario.deployment_body()
    evil = {"origin": "https://evil.example"}
    if kind == "json":
        r = planner.post("/api/deployments", json=body, headers=evil)
    elif kind == "form":
        r = planner.post("/api/deployments", data={"title": "x"}, headers=evil)
    else:
        r = planner.post("/api/deployments", files={"title": (None, "x")}, headers=evil)
    assert r.status_code == 403 and "another site" in r.json()["detail"]
    with scenario.staff.platform.sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(m.Deployment)) == 0
    # The same call from this site, or from a program (no Origin), goes through.
    ok(planner.post("/api/deployments", json=body, headers={"origin": "http://testserver"}),
       201)
    ok(planner.post("/api/deployments", json=body), 201)


def test_a_null_origin_is_foreign_and_public_calls_need_no_origin(scenario: Scenario) -> None:
    r = scenario.staff["planner"].post("/api/deployments", json=scenario.deployment_body(),
                                       headers={"origin": "null"})
    assert r.status_code == 403
    scenario.draft()
    ok(scenario.staff["planner"].post(scenario.url("/propose")))
    ok(scenario.staff["planner"].post(scenario.url("/publish-notice")))
    # Anonymous public feedback carries no session: another site's form may send it.
    ok(scenario.staff.anon.post(f"/api/public/deployments/{scenario.reference}/feedback",
                                json={"kind": "question", "text": "When does it start?"},
                                headers={"origin": "https://elsewhere.example"}), 201)
