"""Fixtures for the public portal tests: a platform on a throwaway database (SQLite, or a
fresh PostgreSQL schema when OPENLFR_TEST_POSTGRES_URL is set, as in CI) with a
controllable clock, staff clients per role, and the platform tests' deployment
scenario (reused from tests/platform/platform_helpers.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "platform"))

from platform_helpers import (  # noqa: E402
    FakeClock,
    Scenario,
    Staff,
    cheap_password_hashing,  # a fixture, shared with the other test folder
    clock,  # a fixture, shared with the other test folder
    fresh_pg_schema,
    make_settings,
    postgres_url,
)

from openlfr.services.platform import Platform  # noqa: E402


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str | None]:
    """None (SQLite in the data dir), or a brand-new PostgreSQL schema dropped after."""
    base = postgres_url()
    if base is None:
        yield None
        return
    with fresh_pg_schema(base) as url:
        yield url


@pytest.fixture
def platform(tmp_path: Path, clock: FakeClock, database_url: str | None) -> Iterator[Platform]:
    # Scenarios jump the clock by weeks; sessions must outlive that.
    p = Platform.open(make_settings(tmp_path / "data", database_url,
                                    session_max_age_s=90 * 86400))
    p.clock = clock
    yield p
    p.close()


@pytest.fixture
def staff(platform: Platform) -> Staff:
    return Staff(platform)


@pytest.fixture
def scenario(staff: Staff, clock: FakeClock) -> Scenario:
    return Scenario(staff, clock)
