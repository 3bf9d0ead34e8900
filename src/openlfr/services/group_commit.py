"""Group commit: concurrent single-item writes of one server process, recorded together in
one transaction.

A node posts each alert and each counter batch on its own, many a second, and every one
appends to the audit log. On PostgreSQL appending locks the log's head until the durable
commit, so with one transaction a request the requests queue on one commit flush each.
``GroupCommit`` is one writer thread per process instead: when it is free it takes every
write waiting (at most ``GROUP_MAX_ITEMS``; a lone write never waits for company), records
them one after another, commits once, and only then answers: an answer always follows the
durable commit. The audit head is written and the tallies added once a group, at commit
(``audit.defer_head_moves``, ``tallies.defer_tallies``): the fewer statements a group
sends while it holds the audit head, the sooner the other processes' writers get it. If a
write is refused, the group is rolled back and recorded again with each write in its own
SAVEPOINT: the refused one is rolled back alone and answered with its own error. If the
commit fails, every write of the group is answered with ``WriteNotAnswered`` (nothing of
it was kept; a node sends it again, and a resent alert or counter batch is recorded once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from openlfr.audit import defer_head_moves, lock_head
from openlfr.services.tallies import defer_tallies
from openlfr.storage.db import Sessions

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The most writes one transaction records: bounds how long one group holds the audit
#: log's head (and, on SQLite, the write lock) and so how long the next group waits.
GROUP_MAX_ITEMS = 200
#: The longest a caller waits for its write to be answered (a node's own timeout is 10 s).
WAIT_LIMIT_S = 10.0
#: The longest ``close`` waits for the writer to record what is already queued.
CLOSE_WAIT_S = 10.0

_SEND_AGAIN = "send it again: a resent alert or counter batch is recorded once"


class WriteNotAnswered(RuntimeError):
    """The write was not acknowledged: it timed out, the server is stopping, or the
    transaction it was recorded in failed. Nothing acknowledged was lost; send it again."""


@dataclass(eq=False)
class _Write(Generic[T]):
    record: Callable[[Session], T]
    after_commit: Callable[[T], None] | None
    future: Future[T]


class GroupCommit:
    """The writer of one process (``Platform.node_writes``). ``submit`` queues a write and
    returns at once; the writer thread starts with the first write and stops at ``close``
    (``Platform.close``, which the web app calls at shutdown), after recording what is
    already queued."""

    def __init__(self, sessions: Sessions, *, max_items: int = GROUP_MAX_ITEMS,
                 name: str = "openlfr-group-commit") -> None:
        self._sessions = sessions
        self.max_items = max_items
        self._name = name
        self._waiting: deque[_Write[Any]] = deque()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, record: Callable[[Session], T],
               after_commit: Callable[[T], None] | None = None) -> Future[T]:
        """Queue ``record``, to be called with the group's session inside its own SAVEPOINT.
        The future holds what it returned once the group is committed (``after_commit`` is
        called with it first, e.g. to wake consoles), or the error it raised (its changes
        rolled back alone), or ``WriteNotAnswered`` if the commit failed."""
        write: _Write[T] = _Write(record, after_commit, Future())
        with self._changed:
            if self._closed:
                raise WriteNotAnswered(f"the server is stopping and recorded nothing; "
                                       f"{_SEND_AGAIN}")
            self._waiting.append(write)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name,
                                                daemon=True)
                self._thread.start()
            self._changed.notify()
        return write.future

    def result(self, future: Future[T], timeout_s: float = WAIT_LIMIT_S) -> T:
        """Wait for a submitted write's answer (at most ``timeout_s``)."""
        try:
            return future.result(timeout_s)
        except TimeoutError:
            future.cancel()  # not recorded if the writer has not reached it yet
            raise _timed_out(timeout_s) from None

    async def answer(self, future: Future[T], timeout_s: float = WAIT_LIMIT_S) -> T:
        """``result`` for a caller on an event loop: waits without holding a thread."""
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout_s)
        except TimeoutError:  # wait_for cancelled the future: see ``result``
            raise _timed_out(timeout_s) from None

    @property
    def running(self) -> bool:
        """Whether the writer thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def close(self, timeout_s: float = CLOSE_WAIT_S) -> None:
        """Refuse new writes, record those already queued, and stop the writer."""
        with self._changed:
            self._closed = True
            self._changed.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
            if thread.is_alive():
                log.warning("group commit: the writer was still busy after %g s", timeout_s)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._waiting and not self._closed:
                    self._changed.wait()
                if not self._waiting:
                    return  # closed, and everything queued was answered
                taken = min(len(self._waiting), self.max_items)
                group = [self._waiting.popleft() for _ in range(taken)]
            try:
                self._record(group)
            except BaseException as exc:  # the writer outlives whatever one group does
                log.exception("group commit: a group of %d write(s) failed", len(group))
                for write in group:
                    _fail(write, exc)

    def _record(self, group: list[_Write[Any]]) -> None:
        # A write whose caller gave up before the writer reached it is not recorded.
        started = [w for w in group if w.future.set_running_or_notify_cancel()]
        if not started:
            return
        try:
            try:
                recorded = self._record_together(started)
            except _WriteRaised:  # nothing was kept: again, each write in its own SAVEPOINT
                recorded = self._record_each_alone(started)
        except Exception as exc:
            log.exception("group commit: a transaction of %d write(s) failed", len(started))
            for write in started:
                _fail(write, exc)
            return
        for write, result in recorded:
            if write.after_commit is not None:
                try:
                    write.after_commit(result)
                except BaseException:  # committed: the answer stands (consoles also poll)
                    log.exception("group commit: after-commit step failed")
            write.future.set_result(result)

    def _record_together(self, writes: list[_Write[Any]]) -> list[tuple[_Write[Any], Any]]:
        """The usual case, no write refused: the writes one after another with no SAVEPOINT,
        the audit head moved and the tallies added once, at commit. A write that raises
        rolls the whole transaction back (``_WriteRaised``)."""
        recorded: list[tuple[_Write[Any], Any]] = []
        with self._sessions.begin() as s:
            # The head before any row (see ``_record_each_alone``), held to the commit.
            defer_head_moves(s)
            defer_tallies(s)
            for write in writes:
                try:
                    recorded.append((write, write.record(s)))
                except Exception as exc:
                    raise _WriteRaised from exc
        return recorded

    def _record_each_alone(self, writes: list[_Write[Any]]) -> list[tuple[_Write[Any], Any]]:
        """Some write was refused: each in its own SAVEPOINT, so that a refused one is rolled
        back alone and answered with its own error now."""
        recorded: list[tuple[_Write[Any], Any]] = []
        with self._sessions.begin() as s:
            # Every write appends to the audit log: take its head before any write
            # inserts a row, so that no other appender holding the head can ever wait
            # for this group's rows while it waits for the head (PostgreSQL).
            lock_head(s)
            for write in writes:
                try:
                    with s.begin_nested():
                        result = write.record(s)
                except Exception as exc:  # refused: rolled back alone, answered now
                    write.future.set_exception(exc)
                else:
                    recorded.append((write, result))
        return recorded


class _WriteRaised(Exception):
    """A write of a group recorded without SAVEPOINTs raised: the group is recorded again,
    each write in its own."""


def _timed_out(timeout_s: float) -> WriteNotAnswered:
    return WriteNotAnswered(f"not answered within {timeout_s:g} s (the platform is busy); "
                            f"it may yet be recorded: {_SEND_AGAIN}")


def _fail(write: _Write[Any], cause: BaseException) -> None:
    """Answer a write that was not committed (each caller gets its own error)."""
    if write.future.done():
        return
    error = WriteNotAnswered(f"the transaction it was recorded in failed "
                             f"({type(cause).__name__}) and nothing of it was kept; "
                             f"{_SEND_AGAIN}")
    error.__cause__ = cause
    with contextlib.suppress(InvalidStateError):  # cancelled meanwhile: nobody waits
        write.future.set_exception(error)
