"""Rate limits, one policy per action, checked by the use cases themselves, so the JSON
API and the pages are limited alike; and the login throttle, which slows a password
guesser without locking the account holder out.

Counts live in the ``limits`` library's storage: Redis when ``OPENLFR_RATE_LIMIT_STORAGE``
names one (every server process then shares them), else this process's memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerHour, RateLimitItemPerYear
from limits import RateLimitItemPerMinute as PerMinute
from limits.storage import MovingWindowSupport, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from openlfr.governance.errors import GovernanceError
from openlfr.services.powers import Action


class TooManyRequests(GovernanceError):
    """A client used up what a policy allows; the message says how much and when to
    try again."""


class TooManyAttempts(TooManyRequests):
    """Too many failed logins for this username from this address; the message says when
    to try again."""


@dataclass(frozen=True)
class RatePolicy:
    """What one client address may do with an action in a moving window."""

    action: Action
    item: RateLimitItem
    what: str

    def refusal(self) -> str:
        amount, per = self.item.amount, self.item.GRANULARITY.name
        return (f"too many requests from your address: at most {amount} {self.what} per "
                f"{per}; try again later")


#: The one policy of each limited action (the public's writes).
POLICIES: dict[Action, RatePolicy] = {p.action: p for p in (
    RatePolicy(Action.FEEDBACK_SUBMIT, RateLimitItemPerHour(10), "comments"),
    RatePolicy(Action.CONSULTATION_ANSWER, RateLimitItemPerHour(20), "consultation answers"),
    RatePolicy(Action.NOTICE_SUBSCRIBE, RateLimitItemPerHour(10), "subscriptions"),
    RatePolicy(Action.FEEDBACK_FOLLOW, RateLimitItemPerHour(10), "requests to follow"),
    RatePolicy(Action.COLLECTIVE_OBJECT, RateLimitItemPerHour(10),
               "collective objections or signatures"),
)}

#: Actions a client may take once per subject: a response counts once per client per
#: consultation, through the page and the API alike (a year outlasts any consultation).
ONCE_PER_SUBJECT: dict[Action, RatePolicy] = {p.action: p for p in (
    RatePolicy(Action.CONSULTATION_ANSWER, RateLimitItemPerYear(1),
               "response to each consultation"),
)}

LOGIN_WINDOW_MINUTES = 15
#: Failed logins from one address across all usernames (password spraying), in 15 minutes,
#: as a multiple of the failures allowed for one username from one address.
LOGIN_ADDRESS_FACTOR = 5
#: Successful logins from one address given back in 15 minutes, at most (more are fine:
#: they are simply no longer given back).
GIVEN_BACK_KEPT = 10_000


def open_storage(uri: str | None) -> Storage:
    """The counters' storage: ``redis://host:port/db`` (shared by every server process)
    or, when unset, this process's memory."""
    storage = storage_from_string(uri or "memory://")
    if not isinstance(storage, Storage):  # an async storage (async+redis://) cannot serve
        raise ValueError(f"rate limit storage {uri!r}: use redis://host:port/db, not async")
    return storage


class RateLimiter:
    """Counts each policy's hits per client address."""

    def __init__(self, storage: Storage) -> None:
        self._limiter = MovingWindowRateLimiter(storage)

    def hit(self, action: Action, client: str | None) -> None:
        """Count one use of ``action`` by ``client``; TooManyRequests when its policy's
        allowance is used up. Callers without an address (the CLI, the node) are not
        limited here."""
        policy = POLICIES[action]
        if client is not None and not self._limiter.hit(policy.item, action.value, client):
            raise TooManyRequests(policy.refusal())

    def once(self, action: Action, client: str | None, subject: str) -> None:
        """Count ``client``'s one use of ``action`` on ``subject`` (e.g. a consultation);
        TooManyRequests when it has used it already. Callers without an address are not
        limited here."""
        policy = ONCE_PER_SUBJECT[action]
        if client is not None and not self._limiter.hit(policy.item, f"{action.value}/once",
                                                         subject, client):
            raise TooManyRequests(f"your address has already sent its one {policy.what}: "
                                  "a response counts once per client, so that no one can "
                                  "answer many times")


class LoginThrottle:
    """Logins are counted per username *and* client address, with back-off: a few quick
    mistakes are free, then each tier of the window allows fewer and fewer (a minute,
    a quarter hour, four hours, a day). The account holder at another address is never
    slowed by a guesser; one address trying many usernames is capped too. An admin can
    clear a username's counts.

    Each attempt is counted (``attempt``) before its password is checked, atomically in
    the storage, so simultaneous guesses are let through no faster than guesses one after
    another; the right password gives the attempt back (``succeeded``), so only failures
    are held against anyone. An attempt refused is not counted."""

    def __init__(self, storage: Storage, failures_allowed: int) -> None:
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        n = failures_allowed
        self._tiers: tuple[RateLimitItem, ...] = (
            PerMinute(max(n // 2, 1)), PerMinute(n, LOGIN_WINDOW_MINUTES),
            RateLimitItemPerHour(2 * n, 4), RateLimitItemPerDay(4 * n))
        self._per_address = PerMinute(LOGIN_ADDRESS_FACTOR * n, LOGIN_WINDOW_MINUTES)
        # A moving window cannot take one entry back: an address's attempts given back
        # are counted here instead, and raise its allowance in the same window.
        self._given_back = PerMinute(GIVEN_BACK_KEPT, LOGIN_WINDOW_MINUTES)

    def _pair(self, username: str, client: str | None) -> str:
        # A clear bumps the username's generation: older counts are no longer read.
        generation = self._storage.get(f"login-generation/{username}")
        return f"{username}/{generation}/{client or '-'}"

    def attempt(self, username: str, client: str | None) -> None:
        """Count a login attempt before its password is checked; TooManyAttempts (and
        nothing counted) while this username from this address, or this address
        altogether, has used up what it may try."""
        pair = self._pair(username, client)
        # Read first, so that an attempt refused counts nowhere (and costs no write) ...
        for item in self._tiers:
            if not self._limiter.test(item, "login", pair):
                raise self._pair_refusal(item, pair)
        if client is not None and not self._address_allows(client, count=False):
            raise self._address_refusal()
        # ... then count, each tier atomically: of simultaneous attempts that all passed
        # the reads, only as many as a tier still allows get through. (One refused here
        # stays counted in the tiers before: a race, and it errs towards the account.)
        for item in self._tiers:
            if not self._limiter.hit(item, "login", pair):
                raise self._pair_refusal(item, pair)
        if client is not None and not self._address_allows(client, count=True):
            raise self._address_refusal()

    def succeeded(self, username: str, client: str | None) -> None:
        """The right password from this address: the attempt is given back, and this
        username's mistakes from this address are forgiven."""
        pair = self._pair(username, client)
        for item in self._tiers:
            self._limiter.clear(item, "login", pair)
        if client is not None:
            self._limiter.hit(self._given_back, "login-address-given-back", client)

    def clear(self, username: str) -> None:
        """Forget every address's failed logins for ``username`` (an admin's action)."""
        self._storage.incr(f"login-generation/{username}", 400 * 24 * 3600)

    def _address_allows(self, client: str, *, count: bool) -> bool:
        """Whether ``client`` may try once more across all usernames (its allowance plus
        the attempts given back to it in the window); ``count``: and count it, at once."""
        given_back = self._given_back.amount - self._limiter.get_window_stats(
            self._given_back, "login-address-given-back", client).remaining
        allowance = self._per_address.amount + given_back
        key = self._per_address.key_for("login-address", client)
        window = cast(MovingWindowSupport, self._storage)
        expiry = self._per_address.get_expiry()
        if count:
            return window.acquire_entry(key, allowance, expiry)
        return window.get_moving_window(key, allowance, expiry)[1] < allowance

    def _pair_refusal(self, item: RateLimitItem, pair: str) -> TooManyAttempts:
        stats = self._limiter.get_window_stats(item, "login", pair)
        wait_s = max(int(stats.reset_time - _now()), 1)
        return TooManyAttempts(
            f"too many failed logins for this username from your address; try again in "
            f"{_duration(wait_s)}, or ask for the block to be cleared (an admin clears it; "
            "oversight, for the accounts of oversight and councillors)")

    def _address_refusal(self) -> TooManyAttempts:
        return TooManyAttempts(f"too many failed logins from your address; try again in "
                               f"{LOGIN_WINDOW_MINUTES} minutes")


def _now() -> float:
    import time

    return time.time()


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 2 * 3600:
        return f"{seconds // 60} minutes"
    return f"{seconds // 3600} hours"
