"""The watchlist staff page: a planner creates the watchlist, enrols subjects from photos,
removes and builds; authorisers and operators read it; nobody else sees it."""

from __future__ import annotations

import re

import pytest
from platform_helpers import Scenario, ok
from portal_helpers import csrf_from

from openlfr.samples import SAMPLE_FACES as SAMPLE

LIN = SAMPLE / "identities" / "lin_manuel_miranda" / "lin-manuel-miranda.png"
FIELDS = {"subject_ref": "CASE-501/Z", "category": "wanted_for_arrest", "source": "PNC",
          "authorised_by": "Insp. Example", "image_taken_on": "2026-01-10", "expires_on": ""}


def _page(s: Scenario, role: str = "planner") -> tuple[int, str]:
    r = s.staff[role].get(f"/staff/deployments/{s.deployment_id}/watchlist")
    return r.status_code, r.text


def _post(s: Scenario, suffix: str, data: dict[str, str] | None = None,
          files: list[tuple[str, tuple[str, bytes, str]]] | None = None) -> object:
    planner = s.staff["planner"]
    token = csrf_from(_page(s)[1])
    return planner.post(f"/staff/deployments/{s.deployment_id}/watchlist{suffix}",
                        data={"csrf_token": token, **(data or {})}, files=files,
                        follow_redirects=False)


def _state(html: str) -> str:
    match = re.search(r'data-test="watchlist-state" data-state="(\w+)"', html)
    assert match
    return match.group(1)


def test_planner_creates_and_other_roles_read_only(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    status, html = _page(s)
    assert status == 200 and _state(html) == "none" and 'data-test="create"' in html
    r = _post(s, "/create")
    assert r.status_code == 303 and "done=created" in r.headers["location"]  # type: ignore[attr-defined]
    status, html = _page(s)
    assert _state(html) == "unbuilt" and 'data-test="enrol-form"' in html
    assert "The watchlist was created" in s.staff["planner"].get(
        f"/staff/deployments/{s.deployment_id}/watchlist?done=created").text
    # A second creation is refused with the service's reason, on the page.
    r = _post(s, "/create")
    assert r.status_code == 409 and "already has a watchlist" in r.text  # type: ignore[attr-defined]

    # Fields are checked (no photo, bad date) before the engine runs; nothing is stored.
    r = _post(s, "/photos", {**FIELDS, "image_taken_on": "not a date"})
    assert r.status_code == 422  # type: ignore[attr-defined]
    text = r.text  # type: ignore[attr-defined]
    assert 'data-field="photo"' in text and 'data-field="image_taken_on"' in text
    assert 'value="CASE-501/Z"' in text  # what was typed is kept

    # An entry added through the API shows to the roles that may read it.
    ok(s.staff["planner"].post(s.url("/watchlist/entries"), json={
        "subject_ref": "CASE-123/A", "category": "missing_person", "source": "PNC",
        "authorised_by": "Insp. Example", "image_taken_on": "2026-01-10",
        "descriptors": [[0.01 * i for i in range(128)]]}), 201)
    for role in ("authoriser", "operator"):
        status, html = _page(s, role)
        assert status == 200 and "CASE-123/A" in html
        assert "<form method=\"post\" action=\"/staff/deployments" not in html.split(
            'data-test="staff-bar"')[1].split("</div>", 1)[1]
        r = s.staff[role].post(f"/staff/deployments/{s.deployment_id}/watchlist/build",
                               data={"csrf_token": csrf_from(html)})
        assert r.status_code == 403
    status, html = _page(s, "oversight")
    assert status == 403 and "CASE-123/A" not in html
    # The form needs the page's CSRF token.
    r = s.staff["planner"].post(f"/staff/deployments/{s.deployment_id}/watchlist/build",
                                data={"csrf_token": "0" * 64})
    assert r.status_code == 403
    assert s.staff["planner"].get("/staff/deployments/999999/watchlist").status_code == 404


@pytest.mark.slow
def test_planner_enrols_from_photos_removes_and_builds(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    _post(s, "/create")
    bad = _post(s, "/photos", FIELDS, files=[
        ("photo", ("two_people.jpg", (SAMPLE / "groups" / "two_people.jpg").read_bytes(),
                   "image/jpeg"))])
    assert bad.status_code == 422  # type: ignore[attr-defined]
    assert "two_people.jpg: 2 faces found" in bad.text  # type: ignore[attr-defined]
    assert 'data-test="entry"' not in bad.text  # type: ignore[attr-defined]

    r = _post(s, "/photos", FIELDS, files=[("photo", (LIN.name, LIN.read_bytes(), "image/png"))])
    assert r.status_code == 303 and "done=enrolled" in r.headers["location"]  # type: ignore[attr-defined]
    status, html = _page(s)
    assert "CASE-501/Z" in html and _state(html) == "unbuilt"
    entry_id = int(re.findall(r'data-test="entry" data-entry-id="(\d+)"', html)[0])
    photo = s.staff["operator"].get(
        f"/staff/deployments/{s.deployment_id}/watchlist/entries/{entry_id}/photo.jpg")
    assert photo.status_code == 200 and photo.content.startswith(b"\xff\xd8\xff")
    assert photo.headers["cache-control"] == "no-store"
    assert s.staff["oversight"].get(
        f"/staff/deployments/{s.deployment_id}/watchlist/entries/{entry_id}/photo.jpg"
    ).status_code == 403

    r = _post(s, "/build")
    assert r.status_code == 303  # type: ignore[attr-defined]
    assert _state(_page(s)[1]) == "built"
    r = _post(s, f"/entries/{entry_id}/remove")
    assert r.status_code == 303  # type: ignore[attr-defined]
    status, html = _page(s)
    assert "CASE-501/Z" not in html and _state(html) == "unbuilt"
    r = _post(s, "/build")
    assert r.status_code == 409 and "no entries" in r.text  # type: ignore[attr-defined]
