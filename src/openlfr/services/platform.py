"""What every use case needs: settings, a way to open transactions, the encryption key,
the clock, and who is acting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from openlfr.audit import ChainVerification
from openlfr.governance.errors import GovernanceError
from openlfr.governance.roles import PERSON_ROLES as PERSON_ROLES  # (re-exported)
from openlfr.governance.roles import Role as Role
from openlfr.services.group_commit import GroupCommit
from openlfr.settings import Settings
from openlfr.storage.db import Sessions, make_engine, migrate

if TYPE_CHECKING:
    from openlfr.services.live import LiveFeed
    from openlfr.services.public_cache import PublicCache
    from openlfr.services.rate_limits import LoginThrottle, RateLimiter


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


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
    def is_system(self) -> bool:
        """The platform's own command line (``SYSTEM_ACTOR``): no account, no key. Whoever
        has its shell has the database too; what it does is logged as ``system``."""
        return self.user_id is None and self.api_key_id is None and self.role is Role.ADMIN

    @property
    def audit_name(self) -> str:
        if self.role is Role.NODE:
            return f"node:{self.name}"
        return self.name


PUBLIC_ACTOR = Actor(name="public", role=Role.PUBLIC)
SYSTEM_ACTOR = Actor(name="system", role=Role.ADMIN)
#: Names the platform writes in the audit log for itself (the public, its command line,
#: the demo's setup): no account may take one, or its acts would read as the platform's.
RESERVED_NAMES = frozenset({PUBLIC_ACTOR.name, SYSTEM_ACTOR.name, "demo-setup"})


@dataclass
class Platform:
    """The platform's runtime: one per process, shared by the API and the CLI."""

    settings: Settings
    engine: Engine
    #: ``sessions.begin()`` for a use case that writes, ``sessions()`` for one that reads.
    sessions: Sessions
    fernet: Fernet
    clock: Callable[[], datetime] = field(default=utcnow)
    #: One policy per limited action, checked by the use cases (services.rate_limits).
    rate_limits: RateLimiter = field(init=False)
    login_throttle: LoginThrottle = field(init=False)
    #: Wakes the operator consoles' live streams when a deployment changes.
    live: LiveFeed = field(init=False)
    #: What the public is shown, kept while nothing audited has changed it.
    public_cache: PublicCache = field(init=False)
    #: The process's writer of single-item node writes, many to one transaction.
    node_writes: GroupCommit = field(init=False)
    #: The last whole-chain verification of the audit log: (time.monotonic(), its result),
    #: read before a checkpoint is signed (services.audit_log).
    audit_verified: tuple[float, ChainVerification] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        from openlfr.services.live import LiveFeed  # it imports this module
        from openlfr.services.public_cache import PublicCache  # so does this one
        from openlfr.services.rate_limits import LoginThrottle, RateLimiter, open_storage

        storage = open_storage(self.settings.rate_limit_storage)
        self.rate_limits = RateLimiter(storage)
        self.login_throttle = LoginThrottle(storage, self.settings.login_failures_allowed)
        self.live = LiveFeed()
        self.public_cache = PublicCache(self)
        self.node_writes = GroupCommit(self.sessions)

    @classmethod
    def open(cls, settings: Settings, *, run_migrations: bool = True) -> Platform:
        """Connect to the configured database, migrating it to the latest schema first."""
        settings.ensure_data_dir()
        engine = make_engine(settings.effective_database_url,
                             pool_size=settings.database_connections)
        if run_migrations:
            migrate(engine, gazetteer_file=settings.gazetteer_file)
        return cls(settings=settings, engine=engine, sessions=Sessions(engine),
                   fernet=Fernet(settings.fernet_key()))

    @property
    def audit_signing_key(self) -> Ed25519PrivateKey:
        """The key that signs the audit log's checkpoints (from settings, never the DB)."""
        return Ed25519PrivateKey.from_private_bytes(self.settings.audit_signing_key_bytes())

    def close(self) -> None:
        self.node_writes.close()  # records what is queued, then its thread stops
        self.live.close()
        self.engine.dispose()
