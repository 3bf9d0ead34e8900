"""Fixtures for the hardening tests (hostile input, limits, the anchored audit log): the
platform tests' platform, clock, staff clients and scenario."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "platform"))

from platform_helpers import (  # noqa: E402
    FakeClock,
    cheap_password_hashing,  # a fixture, shared with the other test folder
    clock,  # a fixture, shared with the other test folder
    database_url,  # a fixture, shared with the other test folder
    open_platform,
    platform_on_test_clock,  # a fixture, shared with the other test folder
    scenario,  # a fixture, shared with the other test folder
    staff,  # a fixture, shared with the other test folder
)

from openlfr.services.platform import Platform  # noqa: E402


@pytest.fixture
def platform(platform_on_test_clock: Platform) -> Platform:
    return platform_on_test_clock
