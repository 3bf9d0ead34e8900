"""Group commit of a node's single-item writes (issue 16): alerts and counter batches that
arrive together are recorded in one transaction (the audit head moved and the tallies added
once, at commit; each write in its own SAVEPOINT only when one is refused), and answered
only after the one commit. Every rule holds as it did with one transaction a request: each
write recorded exactly once, the audit chain verifies, the running tallies equal a
recount, a refused write is refused alone with its own error, a failed commit
acknowledges nothing, and the writer stops with the platform. On SQLite and PostgreSQL."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from figures_helpers import A_START
from platform_helpers import (
    FakeClock,
    Scenario,
    activate_at,
    make_settings,
    new_client,
)
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from openlfr.audit import append_event, verify_chain
from openlfr.governance.errors import InvalidInput, NotFound
from openlfr.services import alerts, figures, users
from openlfr.services.group_commit import WriteNotAnswered
from openlfr.services.platform import SYSTEM_ACTOR, Actor, Platform
from openlfr.services.schemas import AlertIn, ApiKeyIn, CountersIn
from openlfr.storage import models as m
from openlfr.web import create_app


class Active:
    """An active deployment, its watchlist entry, and a node's key for it (used once, so
    that its 'last used' time is already noted and requests write nothing else)."""

    def __init__(self, s: Scenario) -> None:
        self.entry = activate_at(s, A_START, hours=8)
        s.clock.now = A_START + timedelta(hours=1)
        self.scenario = s
        self.platform = s.staff.platform
        self.deployment_id = s.deployment_id
        self.url = f"/api/node/deployments/{s.deployment_id}"
        self.key = s.staff.node(s.deployment_id).headers["X-API-Key"]
        actor = users.actor_for_api_key(self.platform, self.key)
        assert actor is not None
        self.node: Actor = actor

    def alert(self, uid: str, minutes: int = 10, **extra: Any) -> dict[str, Any]:
        return {"alert_uid": uid, "camera": "cam-1", "track_id": "7", "score": 0.7,
                "entry_id": self.entry,
                "occurred_at": (A_START + timedelta(minutes=minutes)).isoformat(), **extra}

    @staticmethod
    def counters(batch_id: str, faces: int = 40) -> dict[str, Any]:
        return {"batch_id": batch_id, "faces_seen": faces, "tracks": min(12, faces)}

    def submit_alert(self, uid: str, **extra: Any) -> Future[m.Alert]:
        return alerts.submit_alert(self.platform, self.node, self.deployment_id,
                                   AlertIn.model_validate(self.alert(uid, **extra)))

    def submit_counters(self, batch_id: str, faces: int = 40,
                        deployment_id: int | None = None) -> Future[tuple[m.CounterBatch, bool]]:
        return alerts.submit_counters(self.platform, self.node,
                                      deployment_id or self.deployment_id,
                                      CountersIn.model_validate(self.counters(batch_id, faces)))

    def client(self) -> Any:
        client = new_client(self.scenario.staff.app)
        client.headers["X-API-Key"] = self.key
        return client


@pytest.fixture
def active(scenario_on: Scenario) -> Active:
    return Active(scenario_on)


class HeldWriter:
    """Keeps the writer busy with a write that waits, so that what is submitted meanwhile
    forms the next group, whole."""

    def __init__(self, p: Platform) -> None:
        self.started, self.release = threading.Event(), threading.Event()

        def wait(_s: Session) -> None:
            self.started.set()
            assert self.release.wait(30)

        self.future = p.node_writes.submit(wait)
        assert self.started.wait(30)

    def __enter__(self) -> HeldWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release.set()
        self.future.result(30)


def _count_commits(p: Platform) -> list[int]:
    """One entry per database COMMIT from now on (a SAVEPOINT's release is none)."""
    commits: list[int] = []
    event.listen(p.engine, "commit", lambda _connection: commits.append(1))
    return commits


def _before_commit(p: Platform, hook: Callable[[], object]) -> Callable[[Session], None]:
    """Call ``hook`` before every write transaction's commit (not a SAVEPOINT's)."""
    def before_commit(s: Session) -> None:
        if not s.in_nested_transaction():
            hook()

    event.listen(p.sessions.write, "before_commit", before_commit)
    return before_commit


def _settled(futures: Sequence[Future[Any]]) -> list[Any]:
    """Each future's result, or its exception."""
    out = []
    for f in futures:
        try:
            out.append(f.result(30))
        except Exception as exc:  # noqa: BLE001 - the test looks at which
            out.append(exc)
    return out


def _state(p: Platform, deployment_id: int) -> dict[str, Any]:
    """What was recorded, and whether the chain and the tallies are sound."""
    with p.sessions() as s:
        chain = verify_chain(s)
        total = figures.load_facts(s, [deployment_id]).total([deployment_id])
        recounted, _ = figures.recount_facts(s, [deployment_id])
        return {
            "chain": chain.describe() if not chain.ok else "ok",
            "alerts": s.scalar(select(func.count()).select_from(m.Alert)),
            "batches": s.scalar(select(func.count()).select_from(m.CounterBatch)),
            "events": dict(s.execute(select(m.AuditEvent.action, func.count()).where(
                m.AuditEvent.action.in_(["alert.received", "counters.received"]))
                .group_by(m.AuditEvent.action)).all()),
            "tallies_match": total == recounted.total([deployment_id]),
            "faces_seen": total.faces_seen,
        }


def _in_threads(n: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(i)`` for i in range(n), all started together; the answers in order."""
    answers: list[Any] = [None] * n
    start = threading.Barrier(n)

    def run(i: int) -> None:
        start.wait()
        answers[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return answers


# --- many requests at once ------------------------------------------------------------------


def test_concurrent_requests_share_commits_and_are_each_recorded_once(active: Active) -> None:
    """The test that fails with one transaction a request: N requests arriving together
    while a commit is under way take far fewer than N commits."""
    p = active.platform
    before = _state(p, active.deployment_id)
    commits = _count_commits(p)
    # Each commit takes a while (a busy disk): requests arriving meanwhile queue up.
    _before_commit(p, lambda: threading.Event().wait(0.1))
    n = 24

    def post(i: int) -> Any:
        client = active.client()
        if i % 4 == 0:
            return client.post(f"{active.url}/alerts", json=active.alert(f"burst-{i:03d}"))
        return client.post(f"{active.url}/counters", json=active.counters(f"burst-{i:03d}", i))

    answers = _in_threads(n, post)
    assert [r.status_code for r in answers] == [201] * n, [r.text for r in answers]
    assert len(commits) < n // 2, f"{len(commits)} commits for {n} requests"
    after = _state(p, active.deployment_id)
    assert after["chain"] == "ok" and after["tallies_match"]
    assert after["alerts"] - before["alerts"] == n // 4
    assert after["batches"] - before["batches"] == n - n // 4
    assert after["faces_seen"] - before["faces_seen"] == sum(
        i for i in range(n) if i % 4)


def test_many_writers_with_retries_record_everything_once(active: Active) -> None:
    p = active.platform
    before = _state(p, active.deployment_id)

    def node(i: int) -> list[int]:
        client, codes = active.client(), []
        for j in range(6):
            uid = f"writer-{i}-{j}"
            codes.append(client.post(f"{active.url}/alerts", json=active.alert(uid, j))
                         .status_code)
            codes.append(client.post(f"{active.url}/counters", json=active.counters(uid, 5))
                         .status_code)
            if j % 2:  # a retry: the node never heard the answer
                codes.append(client.post(f"{active.url}/alerts", json=active.alert(uid, j))
                             .status_code)
                codes.append(client.post(f"{active.url}/counters",
                                         json=active.counters(uid, 5)).status_code)
        return codes

    answers = _in_threads(8, node)
    # New items 201; a resent alert 201 (the alert as recorded), a resent batch 200.
    assert all(set(codes) <= {200, 201} for codes in answers), answers
    assert sum(codes.count(200) for codes in answers) == 8 * 3
    after = _state(p, active.deployment_id)
    assert after["chain"] == "ok" and after["tallies_match"]
    assert (after["alerts"] - before["alerts"], after["batches"] - before["batches"]) == (48, 48)
    assert after["events"]["alert.received"] - before["events"].get("alert.received", 0) == 48
    assert after["faces_seen"] - before["faces_seen"] == 48 * 5


# --- one group: refusals, retries, failure --------------------------------------------------


def test_a_refused_write_is_rolled_back_alone_and_gets_its_own_error(active: Active) -> None:
    p = active.platform
    before = _state(p, active.deployment_id)
    commits = _count_commits(p)
    with HeldWriter(p):
        futures: list[Future[Any]] = [
            active.submit_alert("group-good-1"),
            active.submit_alert("group-bad-entry", entry_id=999_999),
            active.submit_counters("group-good-2"),
            active.submit_counters("group-no-deployment", deployment_id=999_999),
            active.submit_alert("group-good-3"),
        ]
    good_1, bad_entry, good_2, no_deployment, good_3 = _settled(futures)
    assert len(commits) == 2  # the held write's group, then this one: one commit
    assert isinstance(bad_entry, InvalidInput) and bad_entry.field == "entry_id"
    assert isinstance(no_deployment, NotFound) and "999999" in str(no_deployment)
    assert good_1.alert_uid == "group-good-1" and good_3.alert_uid == "group-good-3"
    assert good_2[1] is True
    after = _state(p, active.deployment_id)
    assert after["chain"] == "ok" and after["tallies_match"]
    assert (after["alerts"] - before["alerts"], after["batches"] - before["batches"]) == (2, 1)


def test_refusals_over_http_answer_as_before_while_others_are_recorded(
        active: Active) -> None:
    def post(i: int) -> Any:
        client = active.client()
        if i == 0:
            return client.post(f"{active.url}/alerts",
                               json=active.alert("http-bad-entry", entry_id=999_999))
        if i == 1:
            return client.post("/api/node/deployments/999999/counters",
                               json=active.counters("http-no-deployment"))
        if i == 2:
            return client.post(f"{active.url}/counters", json={
                **active.counters("http-too-early"),
                "period_start": (A_START - timedelta(days=2)).isoformat(),
                "period_end": (A_START - timedelta(days=1)).isoformat()})
        return client.post(f"{active.url}/alerts", json=active.alert(f"http-good-{i}"))

    answers = _in_threads(10, post)
    assert answers[0].status_code == 422
    assert answers[0].json()["detail"][0]["loc"] == ["body", "entry_id"]
    assert answers[1].status_code == 404
    assert answers[2].status_code == 422
    assert answers[2].json()["detail"][0]["loc"] == ["body", "period_start"]
    assert [r.status_code for r in answers[3:]] == [201] * 7
    assert len({r.json()["id"] for r in answers[3:]}) == 7
    assert _state(active.platform, active.deployment_id)["chain"] == "ok"


def test_retries_in_one_group_are_recorded_once(active: Active) -> None:
    p = active.platform
    before = _state(p, active.deployment_id)
    with HeldWriter(p):
        sent_alerts = [active.submit_alert("same-alert") for _ in range(3)]
        sent_batches = [active.submit_counters("same-batch", faces=9) for _ in range(3)]
    recorded = [f.result(30) for f in sent_alerts]
    counted = [f.result(30) for f in sent_batches]
    assert len({a.id for a in recorded}) == 1
    assert [c for _, c in counted] == [True, False, False]
    assert len({b.id for b, _ in counted}) == 1
    after = _state(p, active.deployment_id)
    assert after["chain"] == "ok" and after["tallies_match"]
    assert (after["alerts"] - before["alerts"], after["batches"] - before["batches"]) == (1, 1)
    assert after["faces_seen"] - before["faces_seen"] == 9
    assert after["events"]["alert.received"] - before["events"].get("alert.received", 0) == 1


def test_a_failed_commit_acknowledges_nothing_and_the_writer_goes_on(
        active: Active, monkeypatch: pytest.MonkeyPatch) -> None:
    p = active.platform
    before = _state(p, active.deployment_id)
    woken: list[int] = []
    monkeypatch.setattr(p.live, "notify", woken.append)
    commits: list[int] = []

    def fail_the_second() -> None:
        commits.append(1)
        if len(commits) == 2:
            raise OSError("disk full")

    _before_commit(p, fail_the_second)
    with HeldWriter(p):
        futures: list[Future[Any]] = [active.submit_alert("lost-item-1"),
                                      active.submit_counters("lost-item-2"),
                                      active.submit_alert("lost-item-1")]
    for outcome in _settled(futures):
        assert isinstance(outcome, WriteNotAnswered), outcome
        assert isinstance(outcome.__cause__, OSError)
        assert "send it again" in str(outcome)
    assert woken == []
    assert _state(p, active.deployment_id) == before  # nothing of the group was kept

    # The writer survived; the node sends again and everything is recorded, once.
    resent: list[Future[Any]] = [active.submit_alert("lost-item-1"),
                                 active.submit_counters("lost-item-2")]
    again = _settled(resent)
    assert again[0].alert_uid == "lost-item-1" and again[1][1] is True
    assert woken == [active.deployment_id] * 2
    after = _state(p, active.deployment_id)
    assert after["chain"] == "ok" and after["tallies_match"]
    assert (after["alerts"] - before["alerts"], after["batches"] - before["batches"]) == (1, 1)


def test_a_failed_commit_answers_every_request_503(active: Active) -> None:
    p = active.platform
    before = _state(p, active.deployment_id)

    def fail() -> None:
        raise OSError("disk full")

    hook = _before_commit(p, fail)
    answers = _in_threads(8, lambda i: active.client().post(
        f"{active.url}/alerts", json=active.alert(f"http-lost-{i}")))
    assert [r.status_code for r in answers] == [503] * 8
    assert all(r.headers["Retry-After"] == "1" and "send it again" in r.json()["detail"]
               for r in answers)
    event.remove(p.sessions.write, "before_commit", hook)
    assert _state(p, active.deployment_id) == before
    resent = _in_threads(8, lambda i: active.client().post(
        f"{active.url}/alerts", json=active.alert(f"http-lost-{i}")))
    assert [r.status_code for r in resent] == [201] * 8
    assert _state(p, active.deployment_id)["alerts"] == before["alerts"] + 8


# --- the writer itself ----------------------------------------------------------------------


def test_a_write_rolled_back_after_appending_leaves_the_chain_whole(active: Active) -> None:
    """A write that fails after its audit event was appended takes the event with it; the
    next write in the group appends where the chain really ends."""
    p = active.platform

    def audited(i: int, fail: bool) -> Callable[[Session], int]:
        def write(s: Session) -> int:
            appended = append_event(s, actor="tester", action="test.grouped",
                                    subject_type="thing", subject_id=i)
            if fail:
                raise InvalidInput("thing", "refused after appending")
            return appended.seq
        return write

    with HeldWriter(p):
        futures = [p.node_writes.submit(audited(i, fail=i % 2 == 1)) for i in range(6)]
    outcomes = _settled(futures)
    seqs = [outcomes[i] for i in (0, 2, 4)]
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]
    assert all(isinstance(outcomes[i], InvalidInput) for i in (1, 3, 5))
    assert _state(p, active.deployment_id)["chain"] == "ok"


def test_the_writer_survives_anything_a_write_raises(platform: Platform) -> None:
    def escapes(_s: Session) -> None:
        raise SystemExit("not an Exception")

    outcome = _settled([platform.node_writes.submit(escapes)])[0]
    assert isinstance(outcome, WriteNotAnswered) and isinstance(outcome.__cause__, SystemExit)
    assert platform.node_writes.submit(lambda _s: 42).result(30) == 42
    assert platform.node_writes.running


def test_a_caller_waits_a_bounded_time_and_an_abandoned_write_is_not_recorded(
        active: Active) -> None:
    p = active.platform
    with HeldWriter(p):
        future = active.submit_alert("abandoned")
        with pytest.raises(WriteNotAnswered, match="not answered within"):
            p.node_writes.result(future, timeout_s=0.05)
    assert future.cancelled()
    with p.sessions() as s:
        assert s.scalar(select(m.Alert).where(m.Alert.alert_uid == "abandoned")) is None


def test_a_lone_write_is_recorded_at_once(active: Active) -> None:
    """Nothing waits for company: one write alone is its own group."""
    commits = _count_commits(active.platform)
    alert = active.submit_alert("alone-alert").result(5)
    assert alert.alert_uid == "alone-alert" and len(commits) == 1


def test_the_writer_stops_with_the_app_and_refuses_writes_after(
        tmp_path: Path, clock: FakeClock) -> None:
    p = Platform.open(make_settings(tmp_path / "data"))
    p.clock = clock
    with new_client(create_app(platform=p)):  # runs the app's start-up and shutdown
        assert p.node_writes.submit(lambda _s: 1).result(30) == 1
        assert p.node_writes.running
    assert not p.node_writes.running
    with pytest.raises(WriteNotAnswered, match="stopping"):
        p.node_writes.submit(lambda _s: 1)


def test_closing_the_platform_records_what_is_queued_first(
        tmp_path: Path, clock: FakeClock) -> None:
    p = Platform.open(make_settings(tmp_path / "data"))
    release = threading.Event()
    first = p.node_writes.submit(lambda _s: release.wait(30))
    queued = [p.node_writes.submit(functools.partial(lambda i, _s: i, i)) for i in range(5)]
    threading.Timer(0.2, release.set).start()
    p.close()
    assert first.result(0) is True and [f.result(0) for f in queued] == list(range(5))
    assert not p.node_writes.running


def test_two_server_processes_writing_the_same_alerts_never_wait_on_each_other(
        active: Active) -> None:
    """Two platforms on one database (two server processes), each grouping writes, the same
    alerts sent to both at once (a node retrying on another process): every write answered,
    each alert recorded once, the chain whole."""
    p = active.platform
    other = Platform.open(p.settings, run_migrations=False)
    other.clock = p.clock
    try:
        def send(i: int) -> list[Any]:
            target = p if i % 2 else other
            return [alerts.submit_alert(target, active.node, active.deployment_id,
                                        AlertIn.model_validate(active.alert(f"both-alert-{j}")))
                    for j in range(20)]

        futures = [f for sent in _in_threads(4, send) for f in sent]
        recorded = [f.result(60) for f in futures]
    finally:
        other.close()
    assert len({a.id for a in recorded}) == 20
    state = _state(p, active.deployment_id)
    assert state["chain"] == "ok" and state["tallies_match"]


# --- few statements while a group holds the audit head -------------------------------------


def _statements(p: Platform) -> list[str]:
    """Every statement sent to the database from now on, on one line each."""
    sent: list[str] = []
    event.listen(p.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: sent.append(" ".join(statement.split())))
    return sent


def test_a_group_moves_the_audit_head_and_adds_its_tallies_once(active: Active) -> None:
    """The test that fails with a SAVEPOINT, a head update and a tally upsert per write:
    a group of n writes sends its rows and events, then one head update and one tally
    statement, while every other appender waits for the head."""
    p = active.platform
    before = _state(p, active.deployment_id)
    n = 24
    with HeldWriter(p):
        sent = _statements(p)
        futures: list[Future[Any]] = [
            active.submit_alert(f"few-write-{i:03d}") if i % 4 == 0
            else active.submit_counters(f"few-write-{i:03d}", faces=i) for i in range(n)]
    assert all(not isinstance(r, Exception) for r in _settled(futures))
    words = [q.split()[0].upper() for q in sent]
    assert "SAVEPOINT" not in words and "RELEASE" not in words
    assert words.count("UPDATE") == 1  # the audit head, once
    # n rows + n events + one upsert of the summed tallies (+ each alert's entry lookup,
    # the deployment, the head): far from the 5-6 statements a write sent before.
    assert len(words) <= 2 * n + n // 4 + 6, words
    after = _state(p, active.deployment_id)
    assert after["chain"] == "ok" and after["tallies_match"]
    assert after["faces_seen"] - before["faces_seen"] == sum(i for i in range(n) if i % 4)
    assert after["events"]["counters.received"] - before["events"].get(
        "counters.received", 0) == n - n // 4


def test_a_group_whose_commit_reads_the_tallies_sees_its_own_additions(active: Active) -> None:
    """Tallies summed in memory are written before anything in the transaction reads them
    (a late delivery regenerates the published review from the figures)."""
    p = active.platform
    seen: list[int] = []

    def read_back(s: Session) -> None:
        seen.append(figures.load_facts(s, [active.deployment_id])
                    .total([active.deployment_id]).faces_seen)

    with HeldWriter(p):
        base = active.submit_counters("read-back-0", faces=5)
        after_one = p.node_writes.submit(read_back)
        more = active.submit_counters("read-back-1", faces=7)
        after_two = p.node_writes.submit(read_back)
    for f in (base, after_one, more, after_two):
        f.result(30)
    assert seen[1] - seen[0] == 7
    assert _state(p, active.deployment_id)["tallies_match"]


def test_deferred_head_and_tallies_refuse_a_savepoint_and_vanish_on_rollback(
        active: Active) -> None:
    """What the group defers cannot be half rolled back: an append or a tally inside a
    SAVEPOINT is refused, and a rolled-back transaction leaves neither head nor tallies
    moved."""
    from openlfr.audit import defer_head_moves
    from openlfr.services.tallies import add_to_tallies, defer_tallies

    p = active.platform
    before = _state(p, active.deployment_id)
    with p.sessions() as s:
        head_before = s.get(m.AuditHead, 1).seq
    with p.sessions.begin() as s:
        defer_head_moves(s)
        defer_tallies(s)
        with pytest.raises(RuntimeError, match="SAVEPOINT"), s.begin_nested():
            append_event(s, actor="tester", action="test.nested", subject_type="thing",
                         subject_id=1)
        with pytest.raises(RuntimeError, match="SAVEPOINT"), s.begin_nested():
            add_to_tallies(s, active.deployment_id, A_START.date(), {"faces_seen": 1})
        kept = append_event(s, actor="tester", action="test.kept", subject_type="thing",
                            subject_id=2)
        add_to_tallies(s, active.deployment_id, A_START.date(), {"faces_seen": 3})
    with p.sessions() as s:
        assert s.get(m.AuditHead, 1).seq == kept.seq == head_before + 1
    with pytest.raises(InvalidInput), p.sessions.begin() as s:
        defer_head_moves(s)
        defer_tallies(s)
        append_event(s, actor="tester", action="test.gone", subject_type="thing",
                     subject_id=3)
        add_to_tallies(s, active.deployment_id, A_START.date(), {"faces_seen": 100})
        raise InvalidInput("thing", "rolled back")
    after = _state(p, active.deployment_id)
    assert after["chain"] == "ok"
    assert after["faces_seen"] - before["faces_seen"] == 3  # the rolled-back 100 is gone
    with p.sessions() as s:
        assert s.get(m.AuditHead, 1).seq == head_before + 1
        assert s.scalar(select(func.count()).select_from(m.AuditEvent).where(
            m.AuditEvent.action == "test.gone")) == 0


# --- the node's key, checked where the write is recorded -----------------------------------


def test_a_key_is_looked_up_once_a_group_and_noted_as_used_after_the_commit(
        active: Active) -> None:
    """Writes sent with an API key check it in the group's own transaction: one lookup for
    the whole group, and its 'last used' noted once, in a transaction after the commit
    (never while the group holds the audit head)."""
    p = active.platform
    key = users.NodeKey(active.key)
    p.clock.now += timedelta(minutes=5)  # the key's 'last used' is now stale
    n = 12
    with HeldWriter(p):
        sent = _statements(p)
        futures = [alerts.submit_counters(p, key, active.deployment_id,
                                          CountersIn.model_validate(active.counters(
                                              f"keyed-batch-{i:03d}"))) for i in range(n)]
    assert [c for _, c in (f.result(30) for f in futures)] == [True] * n
    lookups = [q for q in sent if q.startswith("SELECT") and "api_keys" in q]
    notes = [q for q in sent if q.startswith("UPDATE api_keys")]
    assert (len(lookups), len(notes)) == (1, 1), sent
    assert sent.index(notes[0]) > sent.index(lookups[0])
    [row] = [k for k in users.list_api_keys(p, SYSTEM_ACTOR)
             if k.id == active.node.api_key_id]
    assert row.last_used_at is not None and row.last_used_at.replace(tzinfo=None) == \
        p.clock.now.replace(tzinfo=None)


def test_an_unknown_or_revoked_key_is_refused_alone_in_its_group(active: Active) -> None:
    p = active.platform
    revoked = users.create_api_key(p, SYSTEM_ACTOR, ApiKeyIn(
        name="van-old", deployment_id=active.deployment_id))
    users.revoke_api_key(p, SYSTEM_ACTOR, revoked.key.id)
    with HeldWriter(p):
        futures = [
            alerts.submit_alert(p, users.NodeKey(active.key), active.deployment_id,
                                AlertIn.model_validate(active.alert("keyed-good-1"))),
            alerts.submit_alert(p, users.NodeKey(revoked.secret), active.deployment_id,
                                AlertIn.model_validate(active.alert("keyed-revoked"))),
            alerts.submit_alert(p, users.NodeKey("olfr_never_issued"), active.deployment_id,
                                AlertIn.model_validate(active.alert("keyed-unknown"))),
            alerts.submit_alert(p, users.NodeKey(active.key), active.deployment_id,
                                AlertIn.model_validate(active.alert("keyed-good-2"))),
        ]
    good_1, was_revoked, unknown, good_2 = _settled(futures)
    assert isinstance(was_revoked, users.UnknownApiKey)
    assert isinstance(unknown, users.UnknownApiKey)
    assert (good_1.alert_uid, good_2.alert_uid) == ("keyed-good-1", "keyed-good-2")
    with p.sessions() as s:
        assert s.scalar(select(func.count()).select_from(m.Alert).where(
            m.Alert.alert_uid.in_(["keyed-revoked", "keyed-unknown"]))) == 0
    client = new_client(active.scenario.staff.app)
    client.headers["X-API-Key"] = revoked.secret
    r = client.post(f"{active.url}/alerts", json=active.alert("keyed-revoked-http"))
    assert r.status_code == 401 and "unknown or revoked" in r.json()["detail"]
