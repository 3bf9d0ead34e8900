"""Group commit of a node's single-item writes (issue 16): alerts and counter batches that
arrive together are recorded in one transaction, each in its own SAVEPOINT, and answered
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
from openlfr.services.platform import Actor, Platform
from openlfr.services.schemas import AlertIn, CountersIn
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
        return {"batch_id": batch_id, "faces_seen": faces, "tracks": 12}

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
