"""The server's worker threads. Requests share ``server_threads`` of them (anyio's default
limiter, set when the server starts); the few that check a password someone typed to log
in or to change their own (``users.log_in``, ``users.change_password``, on the pages and
the API) run on ``password_threads`` of their own. argon2 makes each check cost time and
memory on purpose, so a flood of logins took every thread before and stalled every page,
API call and console stream behind it (and, at 64 MiB a check, up to a gigabyte of
memory). Now such requests wait for their own threads, queued on the event loop, where
waiting holds no thread. Two rules keep that queue for everyone:

* one client address has at most ``PER_ADDRESS`` logins waiting or being checked; a
  further one is answered at once, 429 (a single source, an insider logging in with their
  own password in a loop included, cannot fill the queue: the throttle does not stop
  logins that succeed);
* once ``WAITING_PER_THREAD`` are waiting for each thread, a further login is answered at
  once, 503 with Retry-After, rather than after a wait its client gives up on; unless it
  comes from a browser someone has logged in on (``deps.known_browser``), for which
  ``KNOWN_BROWSERS_PER_THREAD`` more places are kept: a flood from addresses that never
  logged in cannot turn away the officers who use the platform.

Passwords an admin or oversight sets for someone else are hashed on the shared threads:
only they can send them, so they cannot be flooded from outside."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request

from openlfr.web.deps import client_address, known_browser

P = ParamSpec("P")
T = TypeVar("T")

WAITING_PER_THREAD = 32
"""Logins that may wait for each password thread: about 6-13 s of argon2 checks at
0.2-0.4 s each (2 cores)."""
PER_ADDRESS = 2
"""Logins one client address may have waiting or being checked at once."""
KNOWN_BROWSERS_PER_THREAD = 16
"""Places for each password thread beyond the others', kept for logins from known
browsers."""


class PasswordChecksBusy(Exception):
    """A login the server does not take on now: too many from this address are already
    waiting (429), or too many from everyone (503). Nothing was checked or changed."""

    retry_after_s = 2

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(f"{message}; nothing was checked or changed, try again in a few "
                         "seconds")
        self.status_code = status_code


class _Queue:
    """The app's password threads and who is waiting for them (made once, on the event
    loop, as anyio needs; only the loop reads and changes the counts)."""

    def __init__(self, threads: int) -> None:
        self.limiter = anyio.CapacityLimiter(threads)
        self.most = threads * (1 + WAITING_PER_THREAD)  # being checked or waiting
        self.most_known = self.most + threads * KNOWN_BROWSERS_PER_THREAD
        self.by_address: Counter[str] = Counter()

    @property
    def taken(self) -> int:
        """Logins being checked or waiting, counted here rather than asked of the limiter,
        which yields before it queues one (two could then both pass the cap)."""
        return self.by_address.total()


def _queue(request: Request) -> _Queue:
    state = request.app.state
    queue: _Queue | None = getattr(state, "password_queue", None)
    if queue is None:
        queue = _Queue(state.platform.settings.password_threads)
        state.password_queue = queue
    return queue


async def run_checking_passwords(request: Request, func: Callable[P, T],
                                 *args: P.args, **kwargs: P.kwargs) -> T:
    """``func`` run on one of the password threads, or ``PasswordChecksBusy`` (above)."""
    queue = _queue(request)
    address = client_address(request) or "-"
    if queue.by_address[address] >= PER_ADDRESS:
        raise PasswordChecksBusy(f"{PER_ADDRESS} logins from your address are already "
                                 "waiting to be checked", 429)
    if queue.taken >= queue.most and (
            queue.taken >= queue.most_known
            or not known_browser(request, request.app.state.platform)):
        raise PasswordChecksBusy("too many logins are waiting to be checked", 503)
    queue.by_address[address] += 1
    try:
        return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs),
                                              limiter=queue.limiter)
    finally:
        queue.by_address[address] -= 1
        if not queue.by_address[address]:
            del queue.by_address[address]
