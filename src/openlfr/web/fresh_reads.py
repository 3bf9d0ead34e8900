"""Database reads shared by the requests that wait for the same thing, never stale.

Under load many requests ask the same question at once: the public read model's version
(every cached public page), or what changed on a deployment after a given event (every
operator console woken by one alert). ``FreshReads`` runs at most one read per question at
a time, in a worker thread. A request that comes while a read runs cannot use that read (it
may have begun before a change this request must see), so it joins the *next* read, which
starts as soon as the running one ends and answers everyone who came meanwhile. Each
request therefore gets a read that began after it came, and a busy server makes about one
read per question per read's duration instead of one per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import anyio.to_thread

Key = TypeVar("Key", bound=Hashable)
Answer = TypeVar("Answer")


class FreshReads(Generic[Key, Answer]):
    """``await reads.after_now(key)``: ``read(key)``, begun after the call, shared."""

    def __init__(self, read: Callable[[Key], Answer]) -> None:
        self._read = read
        self._running: dict[Key, asyncio.Future[Answer]] = {}
        self._next: dict[Key, asyncio.Future[Answer]] = {}
        self.reads = 0

    async def after_now(self, key: Key) -> Answer:
        loop = asyncio.get_running_loop()
        if key not in self._running:
            waiting: asyncio.Future[Answer] = loop.create_future()
            self._begin(key, waiting)
        else:
            waiting = self._next.setdefault(key, loop.create_future())
        # A request that goes away must not cancel the read the others wait for.
        return await asyncio.shield(waiting)

    def _begin(self, key: Key, waiting: asyncio.Future[Answer]) -> None:
        self._running[key] = waiting
        self.reads += 1
        task = asyncio.ensure_future(anyio.to_thread.run_sync(self._read, key))
        task.add_done_callback(lambda done: self._finish(key, waiting, done))

    def _finish(self, key: Key, waiting: asyncio.Future[Answer],
                done: asyncio.Future[Answer]) -> None:
        if done.cancelled():
            waiting.cancel()
        elif (error := done.exception()) is not None:
            waiting.set_exception(error)
            waiting.exception()  # each waiter re-raises it; none left is not an error
        else:
            waiting.set_result(done.result())
        del self._running[key]
        following = self._next.pop(key, None)
        if following is not None:
            self._begin(key, following)
