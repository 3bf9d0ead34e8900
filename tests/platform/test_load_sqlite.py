"""SQLite under load: WAL with deferred read transactions. Pages, figures and console
reads never take the write lock, so they neither wait for the writer nor make it wait;
writes stay serialised (one ``BEGIN IMMEDIATE`` at a time), and nothing fails with
"database is locked"."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from figures_helpers import A_START
from platform_helpers import Scenario, activate_at
from sqlalchemy import func, select, text

from openlfr.services import alerts, figures, live, public_view
from openlfr.services.platform import Actor, Platform, Role
from openlfr.services.schemas import AlertIn, CountersIn
from openlfr.storage import models as m
from openlfr.storage.db import ReadOnlySession


def _active(s: Scenario) -> tuple[Platform, Actor, int]:
    entry = activate_at(s, A_START, hours=8)
    s.clock.now = A_START + timedelta(hours=7)
    node = Actor(name="van-1", role=Role.NODE, deployment_scope=s.deployment_id)
    return s.staff.platform, node, entry


def _reads(p: Platform, s: Scenario) -> None:
    """What a resident's pages, the transparency dashboard and a console read."""
    figures.published_figures(p)
    public_view.public_deployment(p, s.reference)
    live.read_changes(p, s.deployment_id, 0, snapshot=True)


def test_sqlite_is_in_wal_mode(scenario: Scenario) -> None:
    with scenario.staff.platform.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_reads_go_on_while_a_writer_holds_the_lock(scenario: Scenario) -> None:
    p, node, entry = _active(scenario)
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with p.sessions.begin() as session:  # BEGIN IMMEDIATE: the write lock, held
            session.execute(text("UPDATE audit_head SET seq = seq WHERE id = 1"))
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        _reads(p, scenario)
        # A read that asked for the write lock would wait for the writer (30 s timeout).
        assert time.monotonic() - started < 5
    finally:
        release.set()
        thread.join()


def test_a_read_session_refuses_to_write(scenario: Scenario) -> None:
    p = scenario.staff.platform
    scenario.draft()
    with p.sessions() as session, pytest.raises(ReadOnlySession):
        session.scalars(select(m.Deployment)).one().title = "changed outside a use case"
        session.flush()


def test_readers_and_writers_together_lose_nothing_and_never_lock(scenario: Scenario) -> None:
    p, node, entry = _active(scenario)
    errors: list[BaseException] = []
    acknowledged: list[int] = []
    stop = threading.Event()

    def guarded(work: object) -> None:
        try:
            work()  # type: ignore[operator]
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
            stop.set()

    def read_loop() -> None:
        while not stop.is_set():
            _reads(p, scenario)

    def write_loop(worker: int) -> None:
        for i in range(25):
            uid = f"load-{worker}-{i:04d}"
            alert = alerts.record_alert(p, node, scenario.deployment_id, AlertIn(
                alert_uid=uid, occurred_at=A_START + timedelta(minutes=i), camera="cam-1",
                track_id=uid, score=0.7, entry_id=entry))
            acknowledged.append(alert.id)
            alerts.record_counters(p, node, scenario.deployment_id, CountersIn(
                batch_id=f"batch-{uid}", faces_seen=10, tracks=3))

    readers = [threading.Thread(target=guarded, args=(read_loop,)) for _ in range(4)]
    writers = [threading.Thread(target=guarded, args=(lambda w=w: write_loop(w),))
               for w in range(3)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(120)
    stop.set()
    for t in readers:
        t.join(30)
    assert not errors, errors
    assert len(acknowledged) == 75
    with p.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(m.Alert).where(
            m.Alert.id.in_(acknowledged)))
        total = figures.load_facts(session, [scenario.deployment_id]).total(
            [scenario.deployment_id])
    assert stored == 75
    assert (total.alerts, total.faces_seen, total.tracks) == (75, 750, 225)
