"""Browser tests: Debian's Chromium driven by Playwright (never a downloaded browser)
against the app served by uvicorn on loopback, with the portal tests' platform, clock
and scenario. A failing test leaves a screenshot of the page in
test-artifacts/screenshots/.

Without Chromium these tests skip with the reason, unless OPENLFR_REQUIRE_BROWSER=1
(set by .ci/run, which installs Chromium), when they fail instead.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "platform"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "portal"))

from live_server import serve  # noqa: E402
from platform_helpers import (  # noqa: E402
    FakeClock,
    Staff,
    cheap_password_hashing,  # a fixture, shared with the other test folders
    clock,  # a fixture, shared with the other test folders
    database_url,  # a fixture, shared with the other test folders
    open_platform,
    platform_on_test_clock,  # a fixture, shared with the other test folder
    scenario,  # a fixture, shared with the other test folders
    staff,  # a fixture, shared with the other test folders
)

from openlfr.services.platform import Platform  # noqa: E402

CHROMIUM = os.environ.get("OPENLFR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.browser


def _browser_missing() -> str | None:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python Playwright is not installed (pip install -e '.[test]')"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = _browser_missing()
    if missing is None:
        return
    if os.environ.get("OPENLFR_REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(f"browser tests required but {missing}")
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(here):
            item.add_marker(pytest.mark.skip(reason=missing))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    """Keep each phase's report on the test, so fixtures can see whether it failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module. Not kept for the session: Playwright's sync API keeps
    an event loop running in this thread while it is started, which would break later
    tests that run their own (asyncio.run)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def platform(platform_on_test_clock: Platform) -> Platform:
    return platform_on_test_clock


@pytest.fixture
def live_url(staff: Staff) -> Iterator[str]:
    """The scenario's app served over real HTTP."""
    with serve(staff.app) as url:
        yield url


@pytest.fixture
def context(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser profile per test; its pages are screenshotted if the test fails."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    yield ctx
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        for i, page in enumerate(ctx.pages):
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{i}.png"), full_page=True)
    ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()
