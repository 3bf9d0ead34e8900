"""The public cache: pages, feeds and open data are served from it while nothing audited
changed, are never stale after a change (in this server process or another on the same
database), carry ETag and Last-Modified, and answer a revalidation with 304."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from platform_helpers import Scenario, Staff, ok

from openlfr.services.platform import Platform
from openlfr.services.public_cache import PublicCache

OBJECTION = "Nobody on my estate was told about the cameras until the van arrived."


@pytest.fixture
def noticed(scenario: Scenario) -> Iterator[Scenario]:
    """A deployment whose notice is published (its page is public)."""
    scenario.draft()
    ok(scenario.staff["planner"].post(scenario.url("/propose")))
    ok(scenario.staff["planner"].post(scenario.url("/publish-notice")))
    yield scenario


def test_a_public_page_is_served_from_the_cache_until_something_changes(
        noticed: Scenario) -> None:
    s, cache = noticed, noticed.staff.platform.public_cache
    page = f"/deployments/{s.reference}"
    first = s.staff.anon.get(page)
    assert first.status_code == 200, first.text
    hits = cache.hits
    second = s.staff.anon.get(page)
    assert second.status_code == 200 and second.text == first.text
    assert cache.hits == hits + 1
    assert second.headers["etag"] == first.headers["etag"]
    assert "last-modified" in second.headers
    # Logged-in staff are never served the anonymous copy.
    s.staff["planner"].get(page)
    assert cache.hits == hits + 1


def test_an_answer_published_shows_at_once(noticed: Scenario) -> None:
    s = noticed
    page = f"/deployments/{s.reference}"
    before = s.staff.anon.get(page)
    assert "discarded at once" not in before.text
    s.object_and_answer()  # an objection, and the planner's published answer
    after = s.staff.anon.get(page)
    assert "discarded at once" in after.text
    assert after.headers["etag"] != before.headers["etag"]


def test_a_change_made_by_another_server_process_shows_at_once(
        noticed: Scenario) -> None:
    s = noticed
    page = f"/deployments/{s.reference}"
    assert OBJECTION not in s.staff.anon.get(page).text
    other_process = Platform.open(s.staff.platform.settings)
    other_process.clock = s.clock
    try:
        ok(Staff(other_process).anon.post(f"/api/public/deployments/{s.reference}/feedback",
                                          json={"kind": "objection", "text": OBJECTION}), 201)
    finally:
        other_process.close()
    assert OBJECTION in s.staff.anon.get(page).text


@pytest.mark.parametrize("path", ["/deployments/{ref}", "/transparency.json",
                                  "/areas/lambeth/deployments.atom",
                                  "/api/public/deployments/{ref}"])
def test_revalidation_answers_304(noticed: Scenario, path: str) -> None:
    s = noticed
    url = path.format(ref=s.reference)
    first = s.staff.anon.get(url)
    assert first.status_code == 200, first.text
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = s.staff.anon.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert s.staff.anon.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert s.staff.anon.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    # After a change, the full answer again where its bytes changed (the page lists the
    # question), still 304 where they did not (a feed of notices).
    s.clock.advance(minutes=1)
    s.staff.anon.post(f"/api/public/deployments/{s.reference}/feedback",
                      json={"kind": "question", "text": "Which streets will the van be on?"})
    changed = s.staff.anon.get(url).headers["etag"] != etag
    if path == "/deployments/{ref}":
        assert changed
    assert s.staff.anon.get(url, headers={"If-Modified-Since": modified}).status_code == (
        200 if changed else 304)
    assert s.staff.anon.get(url, headers={"If-None-Match": etag}).status_code == (
        200 if changed else 304)


def test_the_cache_is_bounded_in_entries_and_bytes(platform: Platform) -> None:
    cache = PublicCache(platform, max_entries=3, max_total_bytes=1000, max_body_bytes=600)
    version = (1, 1)
    for key in "abcd":
        cache.put(key, version, 200, [], b"x" * 400)
    kept = [k for k in "abcd" if cache.peek(k, version) is not None]
    assert kept == ["c", "d"]  # 3 x 400 bytes is over 1,000: the oldest went first
    cache.put("big", version, 200, [], b"x" * 700)  # over max_body_bytes: not kept
    assert cache.peek("big", version) is None and cache.peek("d", version) is not None
    assert cache.peek("d", (2, 1)) is None  # another version: not this answer


def test_requests_share_version_reads_but_never_one_begun_before_they_came() -> None:
    """Under load the version is read about once per read's duration, not per request, and
    a request that comes during a read waits for the next (the running one may predate a
    change it must see)."""
    import asyncio
    import itertools
    import time

    from openlfr.web.fresh_reads import FreshReads

    numbers = itertools.count()

    def read(_: None) -> tuple[int, int]:
        number = next(numbers)
        time.sleep(0.05)
        return number, 0

    async def crowd() -> tuple[int, list[tuple[int, int]]]:
        reads: FreshReads[None, tuple[int, int]] = FreshReads(read)
        first = asyncio.create_task(reads.after_now(None))
        await asyncio.sleep(0.02)  # the first read is running now
        later = [asyncio.create_task(reads.after_now(None)) for _ in range(20)]
        found = await asyncio.gather(first, *later)
        after = await reads.after_now(None)  # nothing running: a read of its own
        return reads.reads, [*found, after]

    reads, found = asyncio.run(crowd())
    assert found[0] == (0, 0)
    assert found[1:-1] == [(1, 0)] * 20
    assert found[-1] == (2, 0)
    assert reads == 3


def test_when_only_the_clock_moved_on_the_page_is_served_while_it_is_rebuilt(
        noticed: Scenario) -> None:
    """A busy page never waits for a rebuild due to the clock alone: one step on, the
    previous answer is served and rebuilt behind it; anything audited, or a longer time,
    and the answer is built before it is served."""
    import asyncio

    import httpx

    s, cache = noticed, noticed.staff.platform.public_cache
    page = f"/deployments/{s.reference}"

    async def visits() -> list[int]:
        transport = httpx.ASGITransport(app=s.staff.app)
        aged = []
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            async def visit() -> None:
                assert (await c.get(page)).status_code == 200
                aged.append(cache.aged_served)

            await visit()  # built
            s.clock.advance(seconds=cache.time_step_s)
            version = cache.version()
            assert not any(cache.peek(k, version) for k in list(cache._entries))
            await visit()  # served as it was, rebuilt behind it
            for _ in range(200):
                await asyncio.sleep(0.02)
                if any(cache.peek(k, version) for k in list(cache._entries)):
                    break
            else:
                raise AssertionError("the page was not rebuilt behind the aged answer")
            hits = cache.hits
            await visit()  # the rebuilt answer, from the cache
            assert cache.hits == hits + 1
            s.clock.advance(seconds=3 * cache.time_step_s)
            await visit()  # more than a step: built before it is served
        return aged

    assert asyncio.run(visits()) == [0, 1, 1, 1]
