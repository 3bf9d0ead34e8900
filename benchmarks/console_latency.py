"""Benchmark: frame-to-alert-on-console latency, on the bundled sample clip.

For each alert: from the moment the node read the frame the alert is about (its
``occurred_at``) to the moment the alert's card appeared on an operator console open in
Chromium (a MutationObserver records ``Date.now()``), and to the moment the console's
server-sent event reached a plain HTTP client. Same machine, same clock.

Setup: the demo story's governance half makes an active deployment whose watchlist holds
the sample subjects; the platform is served on loopback; `openlfr node run --loop` (a
subprocess, as in a van) replays the clip until --alerts alerts have arrived, then the
deployment is completed, which stops the node.

Baseline, measured in the same run on the same clip: the engine alone (the node's own
source and `Watcher` in this process), from frame read to the alert leaving the
pipeline. The ratio end-to-end / engine shows what the node's outbox, HTTP, the database,
the live stream and the browser add.

    python3 benchmarks/console_latency.py [--alerts 12] [--workers 2] [--no-browser]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
import uvicorn

import openlfr
from openlfr.demo import story
from openlfr.governance.lifecycle import Transition
from openlfr.services import deployments
from openlfr.services.platform import Platform
from openlfr.settings import Settings
from openlfr.web import create_app
from openlfr.web.server import PlatformServer

SAMPLE = Path(openlfr.__file__).parent / "sample_data" / "faces"
CLIP = SAMPLE / "video" / "short_hamilton_clip.mp4"
CHROMIUM = os.environ.get("OPENLFR_CHROMIUM", "/usr/bin/chromium")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    return float(np.percentile(values, q))


def describe(name: str, latencies_ms: list[float]) -> str:
    if not latencies_ms:
        return f"{name:<34} no samples"
    return (f"{name:<34} n={len(latencies_ms):<3} p50 {percentile(latencies_ms, 50):7.1f} ms  "
            f"p95 {percentile(latencies_ms, 95):7.1f} ms  max {max(latencies_ms):7.1f} ms")


def engine_alone(n_alerts: int, workers: int) -> list[float]:
    """Frame read -> alert out of the pipeline, the engine alone on the looped clip."""
    from openlfr.node.source import ClockedSource
    from openlfr.recognition import EngineConfig, FaceAnalyzer, Watcher, build_watchlist

    analyzer = FaceAnalyzer()
    watchlist, _ = build_watchlist(SAMPLE / "identities", analyzer, workers=workers)
    latencies: list[float] = []
    source = ClockedSource(str(CLIP), loop=True)
    watcher = Watcher(watchlist, EngineConfig(workers=workers), analyzer)
    for alert in watcher.run(source):
        raised = datetime.now(source.frame_time(alert.frame).tzinfo)
        latencies.append((raised - source.frame_time(alert.frame)).total_seconds() * 1000)
        if len(latencies) >= n_alerts:
            break
    source.close()
    return latencies


class StreamListener(threading.Thread):
    """Reads the console's live stream as a plain HTTP client; notes when each alert
    event arrived."""

    def __init__(self, url: str, cookies: httpx.Cookies) -> None:
        super().__init__(daemon=True)
        self.url, self.cookies = url, cookies
        self.arrived: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(cookies=self.cookies, timeout=None) as client, client.stream(
                "GET", self.url) as response:
            event = ""
            for line in response.iter_lines():
                if self.stop.is_set():
                    return
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "alert":
                    alert = json.loads(line.split(":", 1)[1])
                    self.arrived.setdefault(int(alert["id"]), time.time() * 1000)


def end_to_end(n_alerts: int, workers: int, use_browser: bool) -> tuple[list[float],
                                                                         list[float]]:
    """(browser card latencies, stream event latencies) over ``n_alerts`` alerts."""
    with tempfile.TemporaryDirectory() as tmp:
        platform = Platform.open(Settings(data_dir=Path(tmp) / "platform", database_url=None))
        state = story.run_governance(platform, lambda line: None)
        story.run_watchlist_and_authorisation(platform, state, SAMPLE, lambda line: None)
        story.activate_now(platform, state, lambda line: None)
        app = create_app(platform=platform)
        server = PlatformServer(uvicorn.Config(app, host="127.0.0.1", port=0,
                                               log_level="warning"), platform)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        login = httpx.post(f"{base}/api/auth/login", json={
            "username": "operator", "password": story.DEMO_PASSWORD})
        login.raise_for_status()
        listener = StreamListener(f"{base}/api/deployments/{state.deployment_id}/live",
                                  login.cookies)
        listener.start()
        browser_seen: dict[int, float] = {}
        pw = browser = page = None
        if use_browser:
            from playwright.sync_api import sync_playwright

            pw = sync_playwright().start()
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            page = browser.new_page()
            console = f"{base}/staff/deployments/{state.deployment_id}/console"
            page.goto(console)
            page.fill("[data-test=username]", "operator")
            page.fill("[data-test=password]", story.DEMO_PASSWORD)
            page.click("[data-test=login-submit]")
            page.wait_for_url(console)
            page.wait_for_selector("[data-test=connection]:has-text('Live')")
            page.evaluate("""() => {
                window.cardSeen = {};
                new MutationObserver(() => {
                  for (const card of document.querySelectorAll('[data-test=alert-card]')) {
                    const id = card.dataset.alertId;
                    if (!(id in window.cardSeen)) window.cardSeen[id] = Date.now();
                  }
                }).observe(document.body, {childList: true, subtree: true});
            }""")
        node = subprocess.Popen([
            sys.executable, "-m", "openlfr", "node", "run", "--platform", base,
            "--api-key", state.node_api_key, "--deployment", state.reference,
            "--source", str(CLIP), "--loop", "--workers", str(workers), "--json",
            "--outbox", str(Path(tmp) / "outbox")], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + 60 + 20 * n_alerts
        shown = -1
        while len(listener.arrived) < n_alerts and time.monotonic() < deadline:
            if page is not None:
                browser_seen = {int(k): v for k, v in page.evaluate("window.cardSeen").items()}
                page.wait_for_timeout(200)
            else:
                time.sleep(0.2)
            if len(listener.arrived) != shown:
                shown = len(listener.arrived)
                print(f"  alerts on the console: {shown}/{n_alerts}", file=sys.stderr)
        if page is not None:
            page.wait_for_timeout(500)
            browser_seen = {int(k): v for k, v in page.evaluate("window.cardSeen").items()}
        deployments.transition_deployment(platform, story.actor(platform, "operator"),
                                          state.deployment_id, Transition.COMPLETE)
        node.wait(timeout=120)
        occurred = {a["id"]: datetime.fromisoformat(a["occurred_at"]).timestamp() * 1000
                    for a in httpx.get(f"{base}/api/deployments/{state.deployment_id}/alerts",
                                       cookies=login.cookies).json()}
        listener.stop.set()
        if browser is not None and pw is not None:
            browser.close()
            pw.stop()
        server.should_exit = True
        thread.join(timeout=15)
        platform.close()
    on_page = [seen - occurred[i] for i, seen in browser_seen.items() if i in occurred]
    on_stream = [seen - occurred[i] for i, seen in listener.arrived.items() if i in occurred]
    return on_page, on_stream


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=12, help="alerts to measure (passes "
                        "of the clip: it raises one a pass)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-browser", action="store_true",
                        help="measure the live stream only (no Chromium)")
    args = parser.parse_args()
    use_browser = not args.no_browser and Path(CHROMIUM).exists()
    print(f"clip: {CLIP.name}, {args.alerts} alerts, {args.workers} workers, "
          f"{os.cpu_count()} CPUs; browser: {'Chromium' if use_browser else 'none'}")
    print("baseline: engine alone (frame read -> alert out of the pipeline) ...",
          file=sys.stderr)
    engine = engine_alone(args.alerts, args.workers)
    print("end to end: node -> platform -> live stream -> console ...", file=sys.stderr)
    on_page, on_stream = end_to_end(args.alerts, args.workers, use_browser)
    print(describe("engine alone (baseline)", engine))
    print(describe("frame -> live-stream event", on_stream))
    if use_browser:
        print(describe("frame -> card on the console", on_page))
    final = on_page if use_browser else on_stream
    if engine and final:
        base50, base95 = percentile(engine, 50), percentile(engine, 95)
        print(f"ratio end-to-end / engine alone: p50 {percentile(final, 50) / base50:.2f}x, "
              f"p95 {percentile(final, 95) / base95:.2f}x; added by node, HTTP, database, "
              f"stream{' and browser' if use_browser else ''}: p50 "
              f"{percentile(final, 50) - base50:.1f} ms")


if __name__ == "__main__":
    main()
