"""Per-client limits on the public forms (feedback, consultation answers, e-mail
subscriptions): what one client address may send in a moving hour."""

from __future__ import annotations

from starlette.requests import Request


class ClientRateLimit:
    """Requests per client address over a moving hour (the ``limits`` library, as the
    login throttle uses). In-process: each server process counts its own."""

    def __init__(self, per_hour: int) -> None:
        from limits import RateLimitItemPerHour
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self.per_hour = per_hour
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._item = RateLimitItemPerHour(per_hour)

    def allow(self, request: Request) -> bool:
        """Count one request from its client address; False when its allowance is used up."""
        return self._limiter.hit(self._item, request.client.host if request.client else "unknown")
