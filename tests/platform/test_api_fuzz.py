"""Property-based run over the OpenAPI spec (schemathesis): whatever a client sends, the
API never answers with a server error. Bounded: a few examples per operation, each sent
anonymously and as a role that gets past the role check, against one seeded database
(an active deployment with every record), so requests reach the use cases."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from platform_helpers import (
    FakeClock,
    Scenario,
    Staff,
    fresh_pg_schema,
    make_settings,
    postgres_url,
)
from schemathesis.checks import not_a_server_error

from openlfr.services.platform import Platform

ROLES = ("planner", "authoriser", "operator", "oversight", "admin")


def role_for(method: str, path: str) -> str:
    """A role the route admits, so the generated request reaches the use case."""
    rules = [
        ("/api/public", "public"), ("/api/node/", "node"), ("/api/users", "admin"),
        ("/api/oversight/", "oversight"),
        ("/api/api-keys", "admin"), ("/api/audit", "admin"), ("/api/alerts", "operator"),
        ("/authorise", "authoriser"), ("/activate", "operator"), ("/complete", "operator"),
        ("/review", "oversight"), ("/response", "authoriser"), ("/feedback/", "planner"),
    ]
    for fragment, role in rules:
        if fragment in path:
            return role
    if method == "POST" and (path.endswith("/comments") or path == "/api/motions"
                             or "/equity-audits" in path or path == "/api/technology"):
        return "oversight"
    return "planner"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Staff, dict[str, Any]]]:
    """One platform with an active deployment and clients for every role and a node. On
    PostgreSQL when the suite has one (it is stricter than SQLite: NUL bytes, integer
    ranges, string lengths), else SQLite."""
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    with ExitStack() as stack:
        base = postgres_url()
        url = stack.enter_context(fresh_pg_schema(base)) if base else None
        platform = Platform.open(make_settings(data_dir, url, session_max_age_s=90 * 86400))
        stack.callback(platform.close)
        yield from _seed(platform)


def _seed(platform: Platform) -> Iterator[tuple[Staff, dict[str, Any]]]:
    clock = FakeClock()
    platform.clock = clock
    staff = Staff(platform)
    scenario = Scenario(staff, clock)
    scenario.activate()
    credentials: dict[str, Any] = {
        role: {"cookies": dict(staff[role].cookies)} for role in ROLES}
    credentials["node"] = {"headers": dict(staff.node(scenario.deployment_id).headers)}
    credentials["public"] = {}
    yield staff, credentials


#: OPENLFR_FUZZ_DEEP=1 adds schemathesis's coverage phase (boundary values for every
#: field: minutes, not seconds) and more random examples; the default run stays well under
#: a minute on two cores.
DEEP = os.environ.get("OPENLFR_FUZZ_DEEP") == "1"
MAX_EXAMPLES = 25 if DEEP else 8


@pytest.fixture(scope="module")
def api_schema(seeded: tuple[Staff, dict[str, Any]]) -> Any:
    staff, _ = seeded
    schema = schemathesis.openapi.from_asgi("/openapi.json", staff.app)
    schema.config.phases.coverage.enabled = DEEP
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any, seeded: tuple[Staff, dict[str, Any]]) -> None:
    _, credentials = seeded
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for who in {"public", role_for(case.method, case.path)}:
            creds = credentials[who]
            response = case.call(**{k: dict(v) for k, v in creds.items()})
            assert response.status_code < 500, (who, case.method, case.path,
                                                 response.status_code, response.text[:500])
            case.validate_response(response, checks=[not_a_server_error])
