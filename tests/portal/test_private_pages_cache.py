"""The author's private page and the thank-you page that gives its link answer one person
alone: ``no-store``, no validators, and never kept or served by the public cache (a
redress request's words are on them)."""

from __future__ import annotations

import re

import pytest
from platform_helpers import Scenario, ok

from openlfr.web.security import is_private

REDRESS = "I was stopped after an alert at 14:05 outside Vauxhall station; I am Jane Roe."


def _noticed_with_redress(s: Scenario) -> tuple[str, str]:
    """A published deployment with a redress request: its author's page and the thank-you
    page the form redirects to."""
    s.draft()
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/publish-notice")))
    r = s.staff.anon.post(f"/deployments/{s.reference}/feedback", data={
        "kind": "redress_request", "text": REDRESS, "contact": "jane@example.org"},
        follow_redirects=False)
    assert r.status_code == 303, r.text
    thanks = r.headers["location"].removeprefix("http://testserver")
    page = s.staff.anon.get(thanks)
    assert page.status_code == 200
    author = re.search(r'href="([^"]+)" data-test="private-link-url"', page.text)
    assert author is not None
    return author.group(1).removeprefix("http://testserver"), thanks


def test_private_pages_are_no_store_and_bypass_the_public_cache(scenario: Scenario) -> None:
    s = scenario
    author, thanks = _noticed_with_redress(s)
    cache = s.staff.platform.public_cache
    for path in (author, thanks):
        for _ in range(2):
            before = (cache.hits, cache.misses)
            r = s.staff.anon.get(path)
            assert r.status_code == 200, path
            assert r.headers["cache-control"] == "no-store", path
            assert "etag" not in r.headers and "last-modified" not in r.headers, path
            assert (cache.hits, cache.misses) == before, path  # never asked, never kept
    assert REDRESS in s.staff.anon.get(author).text
    # A revalidation is answered in full, never a 304 from a copy.
    assert s.staff.anon.get(author, headers={"if-none-match": "*"}).status_code == 200
    # The public pages around them are still cached and revalidated.
    public = s.staff.anon.get(f"/deployments/{s.reference}")
    assert public.headers["cache-control"] == "no-cache" and "etag" in public.headers
    assert REDRESS not in public.text


@pytest.mark.parametrize(("path", "private"), [
    ("/feedback/12/yours/abcdefgh12", True),
    ("/feedback/12/yours/abcdefgh12/", True),
    ("/api/public/feedback/12/yours/abcdefgh12/reply", True),
    ("/deployments/LFR-2026-0001/feedback/thanks", True),
    ("/staff", True),
    ("/api/deployments", True),
    ("/deployments/LFR-2026-0001/feedback", False),
    ("/deployments/LFR-2026-0001", False),
    ("/api/public/deployments/LFR-2026-0001", False),
    ("/feedback/follows/abcdefgh12/confirm", False),
])
def test_which_paths_are_private(path: str, private: bool) -> None:
    assert is_private(path) is private
