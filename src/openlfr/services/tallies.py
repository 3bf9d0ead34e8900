"""Writing the figures' running tallies (``m.FigureTally``): per deployment, per day (UTC)
and per named count, each addition an upsert in the same transaction as the change it
counts. ``services.figures`` says what is counted and reads them back.

A transaction that adds to the same few tallies many times (a group of node writes,
``services.group_commit``) can ``defer_tallies``: its additions are summed in memory and
written in one statement at commit, or before anything in it reads the tallies.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.event import listens_for
from sqlalchemy.orm import Session, SessionTransaction

from openlfr.storage import models as m


def _upsert(insert: Any) -> Any:
    """INSERT a tally, or add to it when it exists: one statement, compiled once, sent
    with every row at once (executemany)."""
    statement = insert(m.FigureTally)
    return statement.on_conflict_do_update(
        index_elements=["deployment_id", "day", "name"],
        set_={"value": m.FigureTally.value + statement.excluded.value})


_UPSERTS = {"postgresql": _upsert(postgresql_insert), "sqlite": _upsert(sqlite_insert)}

#: ``Session.info`` key of ``defer_tallies``: (deployment, day, name) -> sum not yet written.
_PENDING = "openlfr_tallies_pending"


def add_to_tallies(session: Session | Connection, deployment_id: int, day: date,
                   deltas: Mapping[str, int]) -> None:
    """Add ``deltas`` to the deployment's tallies of ``day`` in one statement (an upsert,
    so that concurrent writers on PostgreSQL never lose an addition), or to the session's
    pending sums (``defer_tallies``)."""
    pending = session.info.get(_PENDING) if isinstance(session, Session) else None
    if pending is None:
        _upsert_rows(session, [{"deployment_id": deployment_id, "day": day, "name": name,
                                "value": n} for name, n in deltas.items() if n])
        return
    if session.in_nested_transaction():
        raise RuntimeError("a tally added inside a SAVEPOINT while the tallies are deferred "
                           "(defer_tallies)")
    for name, n in deltas.items():
        pending[(deployment_id, day, name)] += n


def defer_tallies(session: Session) -> None:
    """For the rest of the caller's transaction, sum the tallies' additions in memory and
    write them in one statement at commit, or before anything in the transaction reads or
    rebuilds the tallies (``write_pending_tallies``). The transaction must not add inside
    a SAVEPOINT from here on (refused): rolling one back could not take its sums back."""
    session.info[_PENDING] = defaultdict(int)


def write_pending_tallies(session: Session | Connection) -> None:
    """Write what ``defer_tallies`` has summed so far, and go on deferring. Called by
    whatever reads or replaces the tallies within a transaction."""
    pending = session.info.get(_PENDING) if isinstance(session, Session) else None
    if pending:
        _upsert_rows(session, [{"deployment_id": dep, "day": day, "name": name, "value": n}
                               for (dep, day, name), n in pending.items() if n])
        pending.clear()


def _upsert_rows(session: Session | Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection = session.connection() if isinstance(session, Session) else session
        connection.execute(_UPSERTS[connection.dialect.name], rows)


@listens_for(Session, "before_commit")
def _write_tallies_at_commit(session: Session) -> None:
    write_pending_tallies(session)  # also when a SAVEPOINT is released: early, not wrong


@listens_for(Session, "after_transaction_end")
def _stop_deferring_tallies(session: Session, transaction: SessionTransaction) -> None:
    # A SAVEPOINT rolled back took back no sum (none may be added inside one); the whole
    # transaction rolled back took them all.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
