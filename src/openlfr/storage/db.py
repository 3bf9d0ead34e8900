"""Database engine, sessions and schema migration."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


#: Execution option that marks a connection as read-only (``make_read_sessionmaker``).
READ_ONLY = "openlfr_read_only"

#: Connections kept per PostgreSQL engine when no size is given: the threads one server
#: process runs requests on (``SERVER_THREADS`` in ``web.server``).
DEFAULT_POOL_SIZE = 16


_HOLDS_WRITERS = "openlfr_holds_writers_lock"


class ReadOnlySession(RuntimeError):
    """A read-only session was asked to write: the use case must open a write session."""


def make_engine(url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> Engine:
    """An engine for ``url``.

    SQLite: foreign keys on (off by default there), WAL (readers never wait for the writer
    nor it for them), a wait instead of an immediate "database is locked", its folder
    created. A write transaction starts with ``BEGIN IMMEDIATE`` (the write lock up front, so
    writes stay serialised); a read-only one (``make_read_sessionmaker``) with a plain,
    deferred ``BEGIN`` that never takes the write lock.

    PostgreSQL: one pool of ``pool_size`` connections, the threads a server process runs
    requests on, so that no request waits for a connection another thread holds idle.
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        # One connection per thread that asks: WAL readers each need their own.
        kwargs["pool_size"] = pool_size
    else:
        kwargs.update(pool_pre_ping=True, pool_size=pool_size, max_overflow=4,
                      pool_timeout=30)
    engine = create_engine(url, **kwargs)
    if sqlite:

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Take over transaction control from the sqlite3 module, which would otherwise
            # start a transaction only at the first write, after the reads it depends on.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL is safe against corruption with NORMAL; a power cut may lose the last
            # commits, not the file.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        # Writers of this process queue here for SQLite's write lock: woken as soon as it
        # is free, instead of SQLite's busy handler sleeping up to 100 ms between tries
        # (which gave a busy node API seconds-long tails). Re-entrant, so that a nested
        # write transaction behaves as it would without it.
        writers = threading.RLock()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            if connection.get_execution_options().get(READ_ONLY):
                # Deferred: a read takes a snapshot and no lock; writers carry on.
                connection.exec_driver_sql("BEGIN")
                return
            # IMMEDIATE takes the write lock up front: a use case's checks and its writes
            # (and the audit chain's head) are then seen and changed by one writer at a
            # time.
            writers.acquire()
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                writers.release()
                raise
            connection.info[_HOLDS_WRITERS] = True

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _sqlite_end(connection: Any) -> None:
            if connection.info.pop(_HOLDS_WRITERS, False):
                writers.release()
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (responses are built after it)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def make_read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Read-only sessions: on SQLite they never take the write lock. Nothing in them is
    written: no autoflush, and an explicit flush with changes is refused
    (``ReadOnlySession``) rather than written outside the write lock."""
    maker = sessionmaker(bind=engine.execution_options(**{READ_ONLY: True}),
                         expire_on_commit=False, autoflush=False)

    @event.listens_for(maker, "before_flush")
    def _refuse_writes(session: Session, _context: Any, _instances: Any) -> None:
        if session.new or session.dirty or session.deleted:
            raise ReadOnlySession("a read-only session was asked to write; open the use "
                                  "case's transaction with Platform.sessions.begin()")

    return maker


class Sessions:
    """How use cases open transactions: ``sessions.begin()`` for a use case that writes
    (on SQLite ``BEGIN IMMEDIATE``: its checks and writes happen under the one write lock,
    writers serialised), ``sessions()`` for one that only reads (pages, feeds, figures,
    console streams; on SQLite a deferred ``BEGIN`` on a WAL snapshot, so readers never
    wait for the writer nor it for them)."""

    def __init__(self, engine: Engine) -> None:
        self.write = make_sessionmaker(engine)
        self.read = make_read_sessionmaker(engine)

    def __call__(self) -> Session:
        """A read-only session (use it as a context manager)."""
        return self.read()

    def begin(self) -> AbstractContextManager[Session]:
        """A write transaction, committed when the block ends without an error."""
        return self.write.begin()


def alembic_config(engine: Engine, gazetteer_file: Path | None = None) -> Config:
    """An Alembic configuration pointing at the migrations shipped in this package.
    ``gazetteer_file`` is the list of areas that free-text areas are mapped to (default:
    the bundled one)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False)
                           .replace("%", "%%"))
    config.attributes["engine"] = engine
    config.attributes["gazetteer_file"] = gazetteer_file
    return config


@cache
def head_revision() -> str:
    """The latest revision shipped with this package (read once per process)."""
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration found in {MIGRATIONS_DIR}: the package is broken")
    return head


def migrate(engine: Engine, revision: str = "head", gazetteer_file: Path | None = None) -> None:
    """Bring the schema up to ``revision`` (default: the latest). Safe to run every start.
    A database already at the latest revision is left as it is without asking Alembic,
    which would load its environment and parse every migration script to do nothing (27
    ms a start; a test run opens hundreds of platforms)."""
    if revision == "head" and current_revision(engine) == head_revision():
        return
    command.upgrade(alembic_config(engine, gazetteer_file), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
