"""Every staff page route, for every role, against the one table of powers: a role the
table allows gets past the check (whatever the page then says about the request), any
other gets the 403 page naming the roles that may."""

from __future__ import annotations

import re

from platform_helpers import ROLES, Scenario
from portal_helpers import csrf_from, publish_realistic_deployment

from openlfr.services.platform import Role
from openlfr.services.powers import may, ordered, roles_for
from openlfr.web.pages import STAFF_ROUTES


def _fill(path: str, deployment_id: int) -> str:
    """The deployment's own id; ids of anything else that no record has."""
    path = path.replace("{deployment_id:int}", str(deployment_id))
    return re.sub(r"\{[^}]+\}", "999999", path)


def test_every_staff_route_answers_every_role_as_the_powers_table_says(
        scenario: Scenario) -> None:
    s = scenario
    publish_realistic_deployment(s)
    overview = f"/staff/deployments/{s.deployment_id}"
    tokens = {role: csrf_from(s.staff[role].get(overview).text) for role in ROLES}
    # Logging out ends the clients' sessions: walk it last.
    routes = sorted(STAFF_ROUTES, key=lambda route: route.path == "/staff/logout")
    checked = 0
    for route in routes:
        for method in sorted((route.methods or set()) - {"HEAD"}):
            for role in ROLES:
                r = s.staff[role].request(method, _fill(route.path, s.deployment_id),
                                          data={"csrf_token": tokens[role]},
                                          follow_redirects=False)
                where = (method, route.path, role, r.status_code)
                if may(Role(role), route.action):
                    assert r.status_code != 403, where
                else:
                    assert r.status_code == 403, where
                    allowed = ", ".join(x.value for x in ordered(roles_for(route.action)))
                    assert f"This page is for the {allowed} role" in r.text, where
                checked += 1
    assert checked >= 6 * 45  # 49 route methods, 6 roles
