"""The server's worker threads. Requests share ``server_threads`` of them (anyio's default
limiter, set when the server starts); the few that check a password someone typed (logins
and password changes, on the pages and the API) run on ``password_threads`` of their own.
argon2 makes each check cost time and memory on purpose, so a flood of logins (from many
addresses, or within the throttle's allowance) took every thread before and stalled every
page, API call and console stream behind it (and, at 64 MiB a check, up to a gigabyte of
memory). Now such requests wait for their own threads, queued on the event loop, where
waiting holds no thread; once ``WAITING_PER_THREAD`` are waiting for each, a further one is
answered at once, 503 with Retry-After, rather than after a wait its client gives up on."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import HTTPConnection

P = ParamSpec("P")
T = TypeVar("T")

WAITING_PER_THREAD = 16
"""Requests that may wait for each password thread: about three seconds of argon2 checks
at 0.2 s each."""


class PasswordChecksBusy(Exception):
    """More logins are waiting to be checked than the server takes on (503)."""

    def __init__(self) -> None:
        super().__init__("too many logins are waiting to be checked; nothing was changed, "
                         "try again in a few seconds")


def password_threads(request: HTTPConnection) -> anyio.CapacityLimiter:
    """The app's limiter for password checks (made once, on the event loop, as anyio
    needs)."""
    state = request.app.state
    limiter: anyio.CapacityLimiter | None = getattr(state, "password_threads", None)
    if limiter is None:
        limiter = anyio.CapacityLimiter(state.platform.settings.password_threads)
        state.password_threads = limiter
    return limiter


async def run_checking_passwords(request: HTTPConnection, func: Callable[P, T],
                                 *args: P.args, **kwargs: P.kwargs) -> T:
    """``func`` run on one of the password threads, or ``PasswordChecksBusy`` when too
    many are waiting for them already."""
    limiter = password_threads(request)
    if limiter.statistics().tasks_waiting >= WAITING_PER_THREAD * limiter.total_tokens:
        raise PasswordChecksBusy()
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs),
                                          limiter=limiter)
