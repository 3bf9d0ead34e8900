"""Fixtures for the platform tests: a platform on a throwaway database (SQLite, or a fresh
PostgreSQL schema when OPENLFR_TEST_POSTGRES_URL is set), a controllable clock, HTTP
clients logged in as each role, and a scenario that walks a deployment through its life.
The classes and helpers behind them are in platform_helpers.py (tests import those from
there, never from this file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from platform_helpers import (
    FakeClock,
    Scenario,
    Staff,
    cheap_password_hashing,  # a fixture, shared with the other test folder
    clock,  # a fixture, shared with the other test folder
    fresh_pg_schema,
    make_settings,
    postgres_url,
    scenario,  # a fixture, shared with the other test folders
    staff,  # a fixture, shared with the other test folders
)

from openlfr.services.platform import Platform
from openlfr.settings import Settings


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a brand-new schema, dropped afterwards, so
    every test starts from an empty database and reruns are clean."""
    base = postgres_url()
    if base is None:
        pytest.skip("OPENLFR_TEST_POSTGRES_URL is not set (CI sets it)")
    with fresh_pg_schema(base) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'openlfr.sqlite3'}"
    return str(request.getfixturevalue("pg_schema_url"))


@pytest.fixture
def scenario_on(any_database_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Scenario]:
    """The lifecycle scenario on SQLite and on PostgreSQL."""
    p = Platform.open(make_settings(tmp_path / "data", any_database_url,
                                    session_max_age_s=90 * 86400))
    p.clock = clock
    try:
        yield Scenario(Staff(p), clock)
    finally:
        p.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Scenarios jump the clock by weeks; sessions must outlive that (expiry has its own test).
    return make_settings(tmp_path / "data", session_max_age_s=90 * 86400)


@pytest.fixture
def platform(settings: Settings, clock: FakeClock) -> Iterator[Platform]:
    p = Platform.open(settings)
    p.clock = clock
    yield p
    p.close()

