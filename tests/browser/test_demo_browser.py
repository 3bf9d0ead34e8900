"""The demo story through the browser: `openlfr demo --live` leaves the engine's alert
waiting; the operator logs in, sees it on the console with both photos, confirms it and
records the outcome; the public dashboard then shows it, with nothing fetched from
another site."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "demo"))

from demo_helpers import base_url_of, demo_command, demo_env  # noqa: E402

from openlfr.demo.story import DEMO_PASSWORD  # noqa: E402

pytestmark = pytest.mark.slow


def _figure(page: Any, column: str) -> str:
    cell = page.locator(f"[data-test=totals] [data-test=figure][data-column={column}]")
    return str(cell.first.inner_text()).strip()


def test_operator_confirms_the_demo_alert_and_the_dashboard_shows_it(
        page: Any, tmp_path: Path) -> None:
    process = subprocess.Popen(demo_command(tmp_path / "demo", "--live", "--fresh"),
                               env=demo_env(tmp_path / "home"), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        base, seen = base_url_of(process.stdout)
        output = "".join(seen)
        assert "Left for you: the deployment is active" in output
        console = next(line.split()[0] for line in seen if "/console " in line)
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))

        page.goto(console)
        page.fill("[data-test=username]", "operator")
        page.fill("[data-test=password]", DEMO_PASSWORD)
        page.click("[data-test=login-submit]")
        page.wait_for_url(console)
        card = "[data-test=alert-card]"
        page.wait_for_selector(card)
        assert page.locator(card).count() == 1
        assert "Waiting for a decision" in page.inner_text(f"{card} [data-test=alert-adjudication]")
        page.wait_for_function(
            "s => [...document.querySelectorAll(s)].every(i => i.complete && i.naturalWidth > 0)",
            arg=f"{card} img")
        page.click(f"{card} [data-test=adjudicate-true_match]")
        page.wait_for_selector(f"{card} [data-test=alert-adjudication]:has-text('Confirmed')")
        page.select_option(f"{card} [data-test=outcome-select]",
                           label="Spoken to (words of advice)")
        page.click(f"{card} [data-test=record-outcome]")
        page.wait_for_selector(f"{card} [data-test=alert-outcome]:has-text('Spoken to')")

        page.goto(f"{base}/transparency")
        assert _figure(page, "alerts") == "1"
        assert _figure(page, "confirmed") == "1"
        assert _figure(page, "false_alerts") == "0"
        assert int(_figure(page, "faces_seen").replace(",", "")) > 0
        assert [u for u in requested if not u.startswith(base)] == []
    finally:
        # SIGTERM, as a service manager stops it (SIGINT may be ignored when the suite runs
        # in the background); the demo stops as on Ctrl-C.
        process.send_signal(signal.SIGTERM)
        try:
            rest = process.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0 and "stopping" in rest, (process.returncode, rest[-4000:])
