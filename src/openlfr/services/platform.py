"""What every use case needs: settings, a way to open transactions, the encryption key,
the clock, and who is acting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from openlfr.governance.errors import GovernanceError
from openlfr.settings import Settings
from openlfr.storage.db import make_engine, make_sessionmaker, migrate

if TYPE_CHECKING:
    from openlfr.services.live import LiveFeed


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Role(StrEnum):
    """The roles of the powers table (``services.powers``). ``public`` is anyone not
    logged in; ``node`` is an engine node's key; a ``councillor`` is oversight for the
    areas they were given."""

    PUBLIC = "public"
    OPERATOR = "operator"
    PLANNER = "planner"
    AUTHORISER = "authoriser"
    OVERSIGHT = "oversight"
    COUNCILLOR = "councillor"
    ADMIN = "admin"
    NODE = "node"


#: Roles a person can be given (nodes get API keys, not accounts).
PERSON_ROLES = (Role.OPERATOR, Role.PLANNER, Role.AUTHORISER, Role.OVERSIGHT,
                Role.COUNCILLOR, Role.ADMIN)


class PermissionDenied(GovernanceError):
    """The actor's role does not allow this action."""


@dataclass(frozen=True)
class Actor:
    """Who is acting, as the audit log names them."""

    name: str
    role: Role
    user_id: int | None = None
    api_key_id: int | None = None
    #: For node keys scoped to one deployment.
    deployment_scope: int | None = None
    #: For councillors: the gazetteer codes of the areas they act for.
    areas: tuple[str, ...] = ()

    @property
    def audit_name(self) -> str:
        if self.role is Role.NODE:
            return f"node:{self.name}"
        return self.name


PUBLIC_ACTOR = Actor(name="public", role=Role.PUBLIC)
SYSTEM_ACTOR = Actor(name="system", role=Role.ADMIN)


class TooManyAttempts(GovernanceError):
    """Too many failed logins; the message says when to try again."""


LOGIN_WINDOW_MINUTES = 15


class LoginThrottle:
    """Counts failed logins per username and per client address over a moving window
    (the ``limits`` library), so passwords cannot be guessed at speed. In-process: each
    server process counts its own attempts."""

    def __init__(self, failures_allowed: int) -> None:
        from limits import RateLimitItemPerMinute
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._item = RateLimitItemPerMinute(failures_allowed, LOGIN_WINDOW_MINUTES)

    @staticmethod
    def _keys(username: str, client: str | None) -> list[str]:
        return [f"user:{username}"] + ([f"client:{client}"] if client else [])

    def check(self, username: str, client: str | None) -> None:
        """Refuse before checking the password if either counter is exhausted."""
        for key in self._keys(username, client):
            if not self._limiter.test(self._item, "login", key):
                raise TooManyAttempts(
                    f"too many failed logins; wait {LOGIN_WINDOW_MINUTES} minutes and try "
                    "again, or ask an admin to reset the password")

    def failed(self, username: str, client: str | None) -> None:
        for key in self._keys(username, client):
            self._limiter.hit(self._item, "login", key)

    def succeeded(self, username: str) -> None:
        self._limiter.clear(self._item, "login", f"user:{username}")


@dataclass
class Platform:
    """The platform's runtime: one per process, shared by the API and the CLI."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    fernet: Fernet
    clock: Callable[[], datetime] = field(default=utcnow)
    login_throttle: LoginThrottle = field(init=False)
    #: Wakes the operator consoles' live streams when a deployment changes.
    live: LiveFeed = field(init=False)

    def __post_init__(self) -> None:
        from openlfr.services.live import LiveFeed  # it imports this module

        self.login_throttle = LoginThrottle(self.settings.login_failures_allowed)
        self.live = LiveFeed()

    @classmethod
    def open(cls, settings: Settings, *, run_migrations: bool = True) -> Platform:
        """Connect to the configured database, migrating it to the latest schema first."""
        settings.ensure_data_dir()
        engine = make_engine(settings.effective_database_url)
        if run_migrations:
            migrate(engine, gazetteer_file=settings.gazetteer_file)
        return cls(settings=settings, engine=engine, sessions=make_sessionmaker(engine),
                   fernet=Fernet(settings.fernet_key()))

    @property
    def audit_signing_key(self) -> Ed25519PrivateKey:
        """The key that signs the audit log's checkpoints (from settings, never the DB)."""
        return Ed25519PrivateKey.from_private_bytes(self.settings.audit_signing_key_bytes())

    def close(self) -> None:
        self.live.close()
        self.engine.dispose()
