"""Console streams of one server process woken by another's change, through Redis pub/sub
when OPENLFR_LIVE_WAKEUPS_URL names one (PostgreSQL's LISTEN/NOTIFY otherwise: see
test_live_stream.py)."""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

import pytest
import redis

from openlfr.services.live import LiveFeed, RedisWakeups
from openlfr.storage.db import make_engine

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("OPENLFR_REQUIRE_REDIS"):
            pytest.fail("OPENLFR_REQUIRE_REDIS is set but no Redis answers on 127.0.0.1:6379")
        pytest.skip("no Redis on 127.0.0.1:6379")
    return REDIS_URL


def test_redis_wakes_the_streams_of_another_process(tmp_path: Path, redis_url: str) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    first, second = LiveFeed(), LiveFeed()
    try:
        assert not LiveFeed().connect_processes(engine)  # SQLite alone: one process
        assert first.connect_processes(engine, redis_url)
        assert second.connect_processes(engine, redis_url)
        assert isinstance(second.wakeups, RedisWakeups)
        for feed in (first, second):
            assert feed.wakeups is not None and feed.wakeups.listening.wait(10)
        # Deployment ids unique to this run: Redis is shared with whatever else runs.
        changed, untouched = random.sample(range(10**8, 10**9), 2)

        async def watch() -> float:
            with second.subscribe(changed) as there, second.subscribe(untouched) as other:
                started = time.monotonic()
                first.notify(changed)
                await asyncio.wait_for(there._event.wait(), 5)
                took = time.monotonic() - started
                await asyncio.sleep(0.2)
                assert not other._event.is_set()
                return took

        assert asyncio.run(watch()) < 1.0
    finally:
        first.close()
        second.close()
        engine.dispose()


def test_a_process_does_not_wake_its_own_streams_twice(tmp_path: Path, redis_url: str) -> None:
    """Its own streams are woken at once, locally; its message on Redis is ignored."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    feed = LiveFeed()
    woken: list[int] = []
    feed.notify_here = woken.append  # type: ignore[method-assign]
    try:
        assert feed.connect_processes(engine, redis_url)
        assert feed.wakeups is not None and feed.wakeups.listening.wait(10)
        mine = random.randrange(10**8, 10**9)
        feed.notify(mine)
        other = LiveFeed()
        assert other.connect_processes(engine, redis_url)
        assert other.wakeups is not None and other.wakeups.listening.wait(10)
        other.notify(mine + 1)
        deadline = time.monotonic() + 5
        while mine + 1 not in woken and time.monotonic() < deadline:
            time.sleep(0.02)
        other.close()
        assert woken.count(mine) == 1 and woken.count(mine + 1) == 1
    finally:
        feed.close()
        engine.dispose()
