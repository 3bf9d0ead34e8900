"""The audit chain: every change is linked; any edit of a past row is found and named."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest
from platform_helpers import FakeClock, Scenario, Staff, make_settings
from sqlalchemy import text

from openlfr.audit import ChainVerification, append_event, verify_chain
from openlfr.services.platform import Platform


def _open(tmp_path: Path, url: str) -> Platform:
    return Platform.open(make_settings(tmp_path / "data", url))


def _fill(p: Platform, n: int) -> None:
    with p.sessions.begin() as s:
        for i in range(n):
            append_event(s, actor="tester", action="test.event", subject_type="thing",
                         subject_id=i, details={"i": i, "note": "ünïcode ✓"})


def _verify(p: Platform) -> ChainVerification:
    with p.sessions() as s:
        return verify_chain(s)


def test_tampering_with_a_past_row_is_detected_and_named(
        any_database_url: str, tmp_path: Path) -> None:
    p = _open(tmp_path, any_database_url)
    try:
        _fill(p, 6)
        assert _verify(p).ok and _verify(p).events_checked == 6
        with p.engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET details = :d WHERE seq = 3"),
                         {"d": '{"i":99}'})
        result = _verify(p)
        assert not result.ok and result.first_broken_seq == 3
        assert "edited after it was written" in result.describe()
        assert result.describe().startswith("audit chain BROKEN at event #3")
    finally:
        p.close()


def test_recomputing_the_edited_rows_hash_breaks_the_next_link(tmp_path: Path) -> None:
    p = _open(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}")
    _fill(p, 5)
    from openlfr.audit.chain import event_hash

    with p.engine.begin() as conn:
        row = conn.execute(text("SELECT * FROM audit_events WHERE seq = 2")).mappings().one()
        forged = event_hash(2, row["occurred_at"], "someone else", row["action"],
                            row["subject_type"], row["subject_id"], row["details"],
                            row["prev_hash"])
        conn.execute(text("UPDATE audit_events SET actor = 'someone else', hash = :h "
                          "WHERE seq = 2"), {"h": forged})
    result = _verify(p)
    assert not result.ok and result.first_broken_seq == 3
    assert "link to the previous event" in str(result.problem)
    p.close()


def test_deleted_rows_are_detected(tmp_path: Path) -> None:
    p = _open(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}")
    _fill(p, 5)
    with p.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 5"))
    result = _verify(p)
    assert not result.ok and "latest event(s) were deleted" in str(result.problem)
    with p.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    result = _verify(p)
    assert not result.ok and result.first_broken_seq == 2 and "missing" in str(result.problem)
    p.close()


def test_cli_audit_verify_exits_non_zero_naming_the_broken_row(scenario: Scenario) -> None:
    scenario.draft()  # a few real events: user created, login, deployment created
    data_dir = str(scenario.staff.platform.settings.data_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLFR_")}
    good = subprocess.run(["openlfr", "audit", "verify", "--data-dir", data_dir],
                          capture_output=True, text=True, env=env, timeout=60)
    assert good.returncode == 0, good.stderr
    assert "audit chain intact" in good.stdout
    with scenario.staff.platform.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET action = 'nothing.happened' WHERE seq = 2"))
    bad = subprocess.run(["openlfr", "audit", "verify", "--data-dir", data_dir],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 1
    assert "BROKEN at event #2" in bad.stderr


def test_every_state_change_of_the_lifecycle_is_in_the_chain(scenario: Scenario) -> None:
    scenario.activate()
    with scenario.staff.platform.sessions() as s:
        actions = set(s.scalars(text("SELECT action FROM audit_events")))
        assert verify_chain(s).ok
    assert {"deployment.propose", "deployment.publish_notice", "engagement.recorded",
            "consultation.opened", "consultation.closed", "assessment.published",
            "feedback.submitted", "feedback.answered", "watchlist.entry_added",
            "watchlist.built", "deployment.authorise", "deployment.activate"} <= actions


def test_no_personal_data_in_the_audit_log(scenario: Scenario) -> None:
    """The log is permanent, so it must hold nothing that may later have to be erased."""
    scenario.activate()
    with scenario.staff.platform.sessions() as s:
        dump = " ".join(str(tuple(r)) for r in s.execute(text("SELECT * FROM audit_events")))
    for private in ("CASE-123/A", "resident@example.org", "my face scanned"):
        assert private not in dump


def test_concurrent_appends_keep_one_chain(any_database_url: str, tmp_path: Path) -> None:
    """Two writers at once: the head-row lock serialises them, so no fork and no gap."""
    p = _open(tmp_path, any_database_url)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(15):
                _fill(p, 1)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert not errors, errors
        result = _verify(p)
        assert result.ok and result.events_checked == 30
    finally:
        p.close()


def test_lifecycle_on_the_database_under_test(any_database_url: str, tmp_path: Path) -> None:
    """The full scenario (every gate, node access, destruction) on SQLite and PostgreSQL."""
    p = Platform.open(make_settings(tmp_path / "data", any_database_url,
                                    session_max_age_s=90 * 86400))
    clock = FakeClock()
    p.clock = clock
    try:
        scenario = Scenario(Staff(p), clock)
        scenario.activate()
        node = scenario.staff.node(scenario.deployment_id)
        r = node.get(f"/api/node/deployments/{scenario.deployment_id}/watchlist")
        assert r.status_code == 200 and len(r.json()["entries"]) == 1
        assert _verify(p).ok
    finally:
        p.close()


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_concurrent_transitions_move_a_deployment_once(any_database_url: str,
                                                       tmp_path: Path) -> None:
    """Two planners propose the same draft at the same moment: the row lock (PostgreSQL)
    or the immediate write lock (SQLite) lets exactly one through."""
    from datetime import timedelta

    from openlfr.governance.errors import InvalidTransition
    from openlfr.governance.lifecycle import Transition
    from openlfr.services.deployments import create_deployment, transition_deployment
    from openlfr.services.platform import Actor, Role
    from openlfr.services.schemas import DeploymentIn, SiteIn

    p = _open(tmp_path, any_database_url)
    planner = Actor(name="planner", role=Role.PLANNER)
    start = p.clock() + timedelta(days=30)
    d = create_deployment(p, planner, DeploymentIn(
        title="Concurrent", borough="Lambeth", sites=[SiteIn(name="A", lat=51.5, lon=0.0)],
        start_at=start, end_at=start + timedelta(hours=4), purpose="Testing locks.",
        offence_categories=["robbery"], intelligence_basis="None needed here.",
        legal_basis="Test.", threshold=0.6, camera_count=1, signage="Boards."))
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def propose() -> None:
        barrier.wait()
        try:
            transition_deployment(p, planner, d.id, Transition.PROPOSE)
            outcomes.append("moved")
        except InvalidTransition:
            outcomes.append("refused")

    threads = [threading.Thread(target=propose) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert sorted(outcomes) == ["moved", "refused"]
        with p.sessions() as s:
            proposals = s.scalar(text(
                "SELECT count(*) FROM audit_events WHERE action = 'deployment.propose'"))
        assert proposals == 1 and _verify(p).ok
    finally:
        p.close()
