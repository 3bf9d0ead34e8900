"""Writing the figures' running tallies: per deployment, per named count and per day (UTC,
``m.FigureTally``) and per month (``m.FigureMonthTally``), each addition an upsert of both
in the same transaction as the change it counts. ``services.figures`` says what is
counted and reads them back.

A transaction that adds to the same few tallies many times (a group of node writes,
``services.group_commit``) can ``defer_tallies``: its additions are summed in memory and
written at commit (one statement on PostgreSQL, one a table on SQLite), or before
anything in it reads the tallies.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.event import listens_for
from sqlalchemy.orm import Session, SessionTransaction

from openlfr.storage import models as m


def month_of(moment: datetime | date) -> str:
    """The calendar month a moment falls in, "YYYY-MM" (UTC)."""
    return f"{moment.year:04d}-{moment.month:02d}"


def _upsert(insert: Any, table: Any, period: str) -> Any:
    """INSERT a tally, or add to it when it exists."""
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=["deployment_id", period, "name"],
        set_={"value": table.value + statement.excluded.value})


#: SQLite (in process, no round trips): the upsert of the day's tallies and of the month's,
#: each sent with all its rows (executemany).
_SQLITE_UPSERTS = (_upsert(sqlite_insert, m.FigureTally, "day"),
                   _upsert(sqlite_insert, m.FigureMonthTally, "month"))

#: PostgreSQL: both in one statement, one round trip while the writer may hold the audit
#: log's head (a group of node writes): the day rows arrive as arrays, the month rows are
#: their sums. The statement's text is the same for any number of rows.
_POSTGRESQL_UPSERT = text("""
WITH rows AS (
    SELECT * FROM unnest(CAST(:deployment_ids AS integer[]), CAST(:days AS date[]),
                         CAST(:names AS varchar[]), CAST(:values AS bigint[]))
        AS r(deployment_id, day, name, value)),
by_day AS (
    INSERT INTO figure_tallies (deployment_id, day, name, value)
    SELECT deployment_id, day, name, value FROM rows
    ON CONFLICT (deployment_id, day, name)
    DO UPDATE SET value = figure_tallies.value + excluded.value)
INSERT INTO figure_month_tallies (deployment_id, month, name, value)
SELECT deployment_id, to_char(day, 'YYYY-MM'), name, sum(value) FROM rows
GROUP BY deployment_id, to_char(day, 'YYYY-MM'), name
ORDER BY deployment_id, to_char(day, 'YYYY-MM'), name
ON CONFLICT (deployment_id, month, name)
DO UPDATE SET value = figure_month_tallies.value + excluded.value
""")

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
    """Add the day rows to their days' tallies and, summed by month, to their months'.
    The rows are sent in key order, so two writers lock the same tallies in one order."""
    if not rows:
        return
    rows = sorted(rows, key=lambda r: (r["deployment_id"], r["day"], r["name"]))
    connection = session.connection() if isinstance(session, Session) else session
    if connection.dialect.name == "postgresql":
        connection.execute(_POSTGRESQL_UPSERT, {
            "deployment_ids": [r["deployment_id"] for r in rows],
            "days": [r["day"] for r in rows], "names": [r["name"] for r in rows],
            "values": [r["value"] for r in rows]})
        return
    months: dict[tuple[int, str, str], int] = defaultdict(int)
    for row in rows:
        months[(row["deployment_id"], month_of(row["day"]), row["name"])] += row["value"]
    by_day, by_month = _SQLITE_UPSERTS
    connection.execute(by_day, rows)
    connection.execute(by_month, [{"deployment_id": dep, "month": month, "name": name,
                                   "value": n} for (dep, month, name), n in sorted(months.items())])


@listens_for(Session, "before_commit")
def _write_tallies_at_commit(session: Session) -> None:
    write_pending_tallies(session)  # also when a SAVEPOINT is released: early, not wrong


@listens_for(Session, "after_transaction_end")
def _stop_deferring_tallies(session: Session, transaction: SessionTransaction) -> None:
    # A SAVEPOINT rolled back took back no sum (none may be added inside one); the whole
    # transaction rolled back took them all.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
