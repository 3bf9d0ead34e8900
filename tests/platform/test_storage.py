"""Storage: migrations from empty on both databases, schema in step with the models,
descriptors encrypted at rest, settings and key handling."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet
from platform_helpers import HEAD_REVISION, Scenario, make_settings, ok
from sqlalchemy import inspect, text

from openlfr.services.platform import Platform
from openlfr.settings import Settings
from openlfr.storage.db import current_revision, make_engine, migrate
from openlfr.storage.models import Base

EXPECTED_TABLES = {
    "users", "login_sessions", "api_keys", "technologies", "equity_audits", "deployments",
    "sites", "impact_assessments", "engagement_events", "consultations",
    "consultation_responses", "feedback", "council_motions", "oversight_comments",
    "gate_overrides", "watchlists", "watchlist_entries", "alerts", "counter_batches",
    "audit_events", "audit_head", "deployment_reviews", "notice_subscriptions",
    "outgoing_emails", "amendments",
}


def test_migrations_run_from_empty_and_match_the_models(any_database_url: str) -> None:
    engine = make_engine(any_database_url)
    try:
        assert current_revision(engine) is None
        migrate(engine)
        assert current_revision(engine) == HEAD_REVISION
        tables = set(inspect(engine).get_table_names())
        assert tables >= EXPECTED_TABLES
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            assert diff == [], diff
            head = conn.execute(text("SELECT seq, hash FROM audit_head")).one()
            assert head == (0, "0" * 64)
        migrate(engine)  # running again on start is a no-op
        assert current_revision(engine) == HEAD_REVISION
    finally:
        engine.dispose()


def test_an_older_database_is_upgraded_and_one_at_the_head_left_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'older.db'}")
    try:
        migrate(engine, "0010")
        assert current_revision(engine) == "0010"
        migrate(engine)
        assert current_revision(engine) == HEAD_REVISION

        def alembic_asked(*args: object, **kwargs: object) -> None:
            raise AssertionError("Alembic was asked to upgrade a database at the head")

        monkeypatch.setattr(command, "upgrade", alembic_asked)
        migrate(engine)
        assert current_revision(engine) == HEAD_REVISION
    finally:
        engine.dispose()


def test_descriptors_are_encrypted_at_rest(scenario: Scenario) -> None:
    scenario.draft()
    scenario.watchlist()
    platform = scenario.staff.platform
    with platform.engine.connect() as conn:
        raw = conn.execute(text("SELECT descriptors_encrypted FROM watchlist_entries")).scalar()
    assert isinstance(raw, bytes | memoryview)
    raw = bytes(raw)
    assert b"0.01" not in raw and b"[" not in raw
    decrypted = json.loads(Fernet(platform.settings.fernet_key()).decrypt(raw))
    assert decrypted[0][:3] == [0.0, 0.01, 0.02]
    with pytest.raises(Exception):  # noqa: B017 - another key cannot read it
        Fernet(Fernet.generate_key()).decrypt(raw)


def test_key_file_is_generated_once_and_private(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    key = settings.fernet_key()
    path = tmp_path / "data" / "watchlist.key"
    assert path.read_bytes().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert make_settings(tmp_path / "data").fernet_key() == key


def test_configured_key_is_used_and_a_bad_one_explained(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    assert make_settings(tmp_path, encryption_key=key).fernet_key() == key.encode()
    assert not (tmp_path / "watchlist.key").exists()
    with pytest.raises(ValueError, match="not a valid Fernet key"):
        make_settings(tmp_path, encryption_key="short").fernet_key()


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setenv("OPENLFR_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("OPENLFR_NOTICE_DAYS", "28")
    monkeypatch.setenv("OPENLFR_RESIDENT_SHARE", "0.7")
    monkeypatch.setenv("OPENLFR_WATCHLIST_ALLOWED_CATEGORIES", '["missing_person"]')
    monkeypatch.delenv("OPENLFR_DATABASE_URL", raising=False)
    s = Settings()
    assert s.data_dir == tmp_path / "d"
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'd' / 'openlfr.sqlite3'}"
    params = s.gate_parameters()
    assert (params.notice_days, params.resident_share) == (28, 0.7)
    assert params.watchlist_allowed_categories == frozenset({"missing_person"})
    assert Settings(data_dir=tmp_path / "cli").data_dir == tmp_path / "cli"  # --data-dir wins


def test_platform_open_creates_the_data_dir_and_database(tmp_path: Path) -> None:
    p = Platform.open(make_settings(tmp_path / "new" / "data"))
    p.close()
    assert (tmp_path / "new" / "data" / "openlfr.sqlite3").exists()


def test_retention_deletes_expired_entries_and_audits_it(scenario: Scenario) -> None:
    from datetime import timedelta

    from openlfr.services.retention import apply_retention

    s = scenario
    s.draft()
    s.watchlist()
    ok(s.staff["planner"].post(s.url("/watchlist/entries"), json={
        "subject_ref": "CASE-9", "category": "missing_person", "source": "CAD",
        "authorised_by": "Insp", "image_taken_on": "2026-02-01", "expires_on": "2026-03-05",
        "descriptors": [[0.5] * 128]}), 201)
    ok(s.staff["planner"].post(s.url("/watchlist/build")))
    platform = s.staff.platform
    assert apply_retention(platform).expired_entries_deleted == 0
    s.clock.now += timedelta(days=4)  # 6 March: the second entry has expired
    report = apply_retention(platform)
    assert report.expired_entries_deleted == 1
    wl = ok(s.staff["planner"].get(s.url("/watchlist")))
    assert [e["subject_ref"] for e in wl["entries"]] == ["CASE-123/A"]
    assert wl["watchlist"]["built_at"] is None
    events = ok(s.staff["admin"].get("/api/audit/events?limit=1000"))
    expired = [e for e in events if e["action"] == "watchlist.entries_expired"]
    assert len(expired) == 1 and expired[0]["actor"] == "system"
