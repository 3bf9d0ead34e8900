"""Benchmark: the platform under load, on loopback only, bounded in time.

Prints, for one database (SQLite by default; PostgreSQL with --database-url):

1. Fresh vs grown: the cost of a deployment's public page (uncached), the published
   figures (/transparency, figures.json), the annual report and a console snapshot, on a
   deployment that has just started and after it has grown (--batches counter batches and
   --alerts alerts, inserted in bulk and counted into the running tallies), and the ratio.
   For comparison, the full recount the figures used to do on every read.
2. The public deployment page under wrk (--connections connections, --seconds each):
   req/s and p99 cached, uncached (a query string that differs per request skips the
   cache) and a static file of the same server; before wrk, the server's first request
   for the page, timed alone, and one unmeasured second of wrk (a server process's first
   request compiles the page's templates and queries once: left in the measured run, 20
   connections waiting on it put 150-290 ms into the p99 of a 3-10 s run).
3. Node ingestion under wrk: --connections simulated nodes posting counter batches and
   alerts (3:1) as fast as answers come, one item a request, then --batch-items items a
   request (POST .../batch); req/s, p99, items/s, and how many acknowledged alerts are in
   the database afterwards (every one must be). Sections 3 and 4 start once the server has
   served what the run before left queued (/healthz answers within 50 ms).
4. Console: --streams operator streams open (split between the server's worker processes
   on PostgreSQL), an alert posted every 0.2 s; p50/p95 from post to arrival on every
   stream.

    python3 benchmarks/platform_load.py [--database-url postgresql+psycopg://...]
        [--workers 2] [--batches 29000] [--alerts 5000] [--seconds 10] [--only 1,3]

Needs wrk (`apt-get install wrk`). The server runs as `openlfr serve` in a subprocess;
load comes from 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import func, insert, select

import openlfr
from openlfr.demo import story
from openlfr.governance.records import Adjudication
from openlfr.services import figures, live, public_view, reports
from openlfr.services.platform import Platform
from openlfr.settings import Settings
from openlfr.storage import models as m

SAMPLE = Path(openlfr.__file__).parent / "sample_data" / "faces"
STATIC_FILE = "/static/" + sorted(
    p.name for p in (Path(openlfr.__file__).parent / "web" / "static").iterdir()
    if p.suffix == ".css")[0]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    return float(np.percentile(values, q))


def timed_ms(work: Callable[[], Any], repeat: int = 15) -> float:
    """Best wall time of ``work`` in milliseconds over ``repeat`` calls (after a warm-up):
    on a machine shared with other work, the best is the call least slowed by it."""
    work()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return min(times)


# --- setting up ---------------------------------------------------------------------------


def active_deployment(p: Platform) -> tuple[story.DemoState, int]:
    """The demo story's deployment, active now, and one of its watchlist entries."""
    state = story.run_governance(p, lambda line: None)
    story.run_watchlist_and_authorisation(p, state, SAMPLE, lambda line: None)
    story.activate_now(p, state, lambda line: None)
    with p.sessions() as s:
        entry = s.scalar(select(m.WatchlistEntry.id).join(m.Watchlist).where(
            m.Watchlist.deployment_id == state.deployment_id).limit(1))
    assert entry is not None
    return state, int(entry)


def grow(p: Platform, deployment_id: int, entry_id: int, batches: int, alerts: int) -> None:
    """Bulk rows as a deployment that has run a while has them (30 days of batches, alerts
    adjudicated), then the running tallies recounted from them. (The audit events such
    rows come with are left out: nothing measured here reads them.)"""
    now = datetime.now(UTC)
    step = timedelta(days=30) / max(batches, 1)
    with p.sessions.begin() as s:
        for first in range(0, batches, 5000):
            s.execute(insert(m.CounterBatch), [
                {"deployment_id": deployment_id, "batch_id": f"grown-batch-{i}",
                 "faces_seen": 40 + i % 17, "tracks": 12, "frames_processed": 250,
                 "frames_dropped": i % 3, "period_start": now - step * (batches - i) - step,
                 "period_end": now - step * (batches - i), "received_at": now}
                for i in range(first, min(first + 5000, batches))])
        choices = [a.value for a in Adjudication]
        s.execute(insert(m.Alert), [
            {"deployment_id": deployment_id, "alert_uid": f"grown-alert-{i:06d}",
             "occurred_at": now - timedelta(days=30) * (alerts - i) / alerts, "camera": "cam-1",
             "track_id": str(i), "score": 0.7, "entry_id": entry_id, "entry_category": "x",
             "adjudication": choices[i % 4], "received_at": now,
             "outcome": "no_further_action" if i % 4 == 1 else None,
             "demographic_group": "group-a" if i % 8 == 2 else None}
            for i in range(alerts)])
        figures.rebuild_tallies(s, [deployment_id])


def costs(p: Platform, state: story.DemoState) -> dict[str, float]:
    period = reports.report_period(None, None, datetime.now(UTC).date())
    return {
        "deployment page (read model)": timed_ms(
            lambda: public_view.public_deployment(p, state.reference)),
        "/transparency + figures.json": timed_ms(lambda: figures.published_figures(p)),
        "annual report": timed_ms(lambda: reports.annual_report(p, period)),
        "console snapshot": timed_ms(
            lambda: live.read_changes(p, state.deployment_id, 0, snapshot=True)),
    }


# --- the server and wrk -------------------------------------------------------------------


def settle(url: str, quick_ms: float = 50, limit_s: float = 30) -> None:
    """Wait until the server has finished what an earlier wrk run left queued: when wrk
    stops, the requests it had sent are still being served (20 uncached pages are about a
    second of work), and the next measured run would start behind them. /healthz runs on
    the same worker threads as every request, so it answers quickly only once they are
    free."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        started = time.perf_counter()
        httpx.get(url + "/healthz", timeout=limit_s).raise_for_status()
        if (time.perf_counter() - started) * 1000 < quick_ms:
            return
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`openlfr serve` in a subprocess on loopback."""

    def __init__(self, data_dir: Path, database_url: str | None, workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        if database_url:
            env["OPENLFR_DATABASE_URL"] = database_url
        self.log = (data_dir.parent / "server.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "openlfr", "serve", "--port", str(self.port),
             "--workers", str(workers), "--data-dir", str(data_dir)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start; see {self.log.name}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


WRK_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %f %f %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
"""

UNCACHED = """
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", wrk.path .. "?nocache=" .. math.random(1, 1e9) .. "-" .. n)
end
"""

# Both node scripts: one thread id each, the API key, and the count of acknowledged
# alerts summed over the threads at the end.
NODE_SETUP = """
local thread_id = 0
local threads = {}
setup = function(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
  table.insert(threads, thread)
end
init = function(args)
  n = 0
  acked = 0
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-API-Key"] = "%(key)s"
end
"""

NODE_DONE = """
done = function(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("acked") end
  io.write(string.format("RESULT %%d %%d %%f %%f %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
  io.write(string.format("ACKED %%d\\n", total))
end
"""

NODE = NODE_SETUP + """
request = function()
  n = n + 1
  if n %% 4 == 0 then
    local body = string.format('{"alert_uid":"bench-%%d-%%d","occurred_at":"%(at)s",' ..
      '"camera":"cam-1","track_id":"%%d","score":0.7,"entry_id":%(entry)d}', tid, n, n)
    return wrk.format("POST", "/api/node/deployments/%(dep)d/alerts", nil, body)
  end
  local body = string.format('{"batch_id":"bench-%%d-%%d","faces_seen":40,"tracks":12}',
                             tid, n)
  return wrk.format("POST", "/api/node/deployments/%(dep)d/counters", nil, body)
end
response = function(status, headers, body)
  if status == 201 and string.find(body, '"alert_uid"') then acked = acked + 1 end
end
""" + NODE_DONE


BATCH = NODE_SETUP + """
request = function()
  n = n + 1
  local alerts, counters = {}, {}
  for i = 1, %(alerts)d do
    table.insert(alerts, string.format('{"alert_uid":"bench-b-%%d-%%d-%%d",' ..
      '"occurred_at":"%(at)s","camera":"cam-1","track_id":"%%d","score":0.7,' ..
      '"entry_id":%(entry)d}', tid, n, i, i))
  end
  for i = 1, %(counters)d do
    table.insert(counters, string.format('{"batch_id":"bench-b-%%d-%%d-%%d",' ..
      '"faces_seen":40,"tracks":12}', tid, n, i))
  end
  local body = '{"alerts":[' .. table.concat(alerts, ",") .. '],"counters":[' ..
    table.concat(counters, ",") .. ']}'
  return wrk.format("POST", "/api/node/deployments/%(dep)d/batch", nil, body)
end
response = function(status, headers, body)
  if status == 201 then acked = acked + %(alerts)d end
end
""" + NODE_DONE

def wrk(url: str, connections: int, seconds: int, script: str) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                          "-s", f.name, url], capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    os.unlink(f.name)
    found = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+)", out)
    if found is None:
        raise SystemExit(f"wrk said: {out}")
    requests, duration_us, p50, p99, errors = found.groups()
    result = {"req_s": int(requests) / (int(duration_us) / 1e6), "p50_ms": float(p50) / 1000,
              "p99_ms": float(p99) / 1000, "errors": int(errors), "requests": int(requests)}
    acked = re.search(r"ACKED (\d+)", out)
    if acked:
        result["acked_alerts"] = int(acked.group(1))
    return result


def shown(name: str, r: dict[str, float]) -> str:
    extra = f", {r['errors']} errors" if r["errors"] else ""
    return (f"  {name:<34} {r['req_s']:8.0f} req/s   p50 {r['p50_ms']:7.1f} ms   "
            f"p99 {r['p99_ms']:7.1f} ms{extra}")


# --- the console --------------------------------------------------------------------------


def console_latency(url: str, state: story.DemoState, entry: int, streams: int,
                    alerts: int) -> list[float]:
    """Seconds from posting each alert to its arrival on each open stream."""
    arrivals: queue.Queue[tuple[int, float]] = queue.Queue()
    login = httpx.post(f"{url}/api/auth/login",
                       json={"username": "operator", "password": story.DEMO_PASSWORD})
    cookies = login.cookies
    ready = threading.Barrier(streams + 1)
    stop = threading.Event()

    def listen() -> None:
        # One connection each: the kernel hands them to the worker processes.
        try:
            with httpx.Client(cookies=cookies, timeout=httpx.Timeout(10, read=120)) as client, \
                    client.stream("GET", f"{url}/api/deployments/{state.deployment_id}/live"
                                  ) as r:
                ready.wait()
                event = None
                for line in r.iter_lines():
                    if stop.is_set():
                        return
                    if line.startswith("event:"):
                        event = line.split(":", 1)[1].strip()
                    elif line.startswith("data:") and event == "alert":
                        data = json.loads(line.split(":", 1)[1])
                        arrivals.put((int(data["id"]), time.monotonic()))
        except httpx.HTTPError:
            pass  # the server stopped at the end of the run

    threads = [threading.Thread(target=listen, daemon=True) for _ in range(streams)]
    for t in threads:
        t.start()
    ready.wait(30)
    time.sleep(1.0)
    while not arrivals.empty():
        arrivals.get()
    posted: dict[int, float] = {}
    with httpx.Client(headers={"X-API-Key": state.node_api_key}) as node:
        for i in range(alerts):
            at = time.monotonic()
            r = node.post(f"{url}/api/node/deployments/{state.deployment_id}/alerts", json={
                "alert_uid": f"console-{i:04d}", "occurred_at": datetime.now(UTC).isoformat(),
                "camera": "cam-1", "track_id": str(i), "score": 0.7, "entry_id": entry})
            r.raise_for_status()
            posted[int(r.json()["id"])] = at
            time.sleep(0.2)
    delays: list[float] = []
    deadline = time.monotonic() + 10
    while len(delays) < streams * alerts and time.monotonic() < deadline:
        try:
            alert_id, at = arrivals.get(timeout=1)
        except queue.Empty:
            continue
        if alert_id in posted:
            delays.append(at - posted[alert_id])
    stop.set()
    missing = streams * alerts - len(delays)
    if missing:
        print(f"  console: {missing} of {streams * alerts} arrivals missing after 10 s")
    return delays


# --- the run ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument("--workers", type=int, default=None,
                        help="server processes (default: 1 on SQLite, 2 on PostgreSQL)")
    parser.add_argument("--batches", type=int, default=29_000)
    parser.add_argument("--alerts", type=int, default=5_000)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--batch-items", type=int, default=20,
                        help="items per node batch request (a quarter of them alerts)")
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--console-alerts", type=int, default=20)
    parser.add_argument("--only", default="1,2,3,4",
                        help="the sections to run, by number (e.g. 3 for node ingestion)")
    args = parser.parse_args()
    only = {int(n) for n in args.only.split(",")}
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    workers = args.workers or (2 if args.database_url else 1)
    data_dir = Path(tempfile.mkdtemp(prefix="openlfr-load-")) / "data"
    settings = Settings(data_dir=data_dir, database_url=args.database_url)
    p = Platform.open(settings)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"openlfr platform load: {backend}, {workers} server process(es), "
          f"{os.cpu_count()} CPUs, wrk {args.connections} connections x {args.seconds} s")
    state, entry = active_deployment(p)

    def best_costs() -> dict[str, float]:  # two rounds: less at the mercy of other work
        first, second = costs(p, state), costs(p, state)
        return {name: min(first[name], second[name]) for name in first}

    fresh = best_costs() if 1 in only else {}
    grow(p, state.deployment_id, entry, args.batches, args.alerts)
    if 1 in only:
        grown = best_costs()
        with p.sessions() as s:
            recount = timed_ms(lambda: figures.recount_facts(s, [state.deployment_id]),
                               repeat=3)
        print(f"\n1. fresh vs grown ({args.batches:,} counter batches, {args.alerts:,} "
              "alerts), best of 30, ms, uncached:")
        for name in fresh:
            print(f"  {name:<34} {fresh[name]:7.1f} -> {grown[name]:7.1f}   "
                  f"x{grown[name] / fresh[name]:.2f}")
        print(f"  (the full recount figures used to do on every read: {recount:.0f} ms)")

    server = Server(data_dir, args.database_url, workers)
    try:
        if 2 in only:
            page = f"{server.url}/deployments/{state.reference}"
            print(f"\n2. public deployment page (grown), wrk {args.connections} connections:")
            static = wrk(server.url + STATIC_FILE, args.connections, args.seconds, WRK_REPORT)
            # A server process's first request for the page compiles its templates and
            # queries once: the first is timed alone, then one unmeasured second of wrk
            # reaches every process, so that wrk measures the page as it is served after.
            first = time.perf_counter()
            httpx.get(page, timeout=60).raise_for_status()
            first_ms = (time.perf_counter() - first) * 1000
            wrk(page, args.connections, 1, WRK_REPORT)
            cached = wrk(page, args.connections, args.seconds, WRK_REPORT)
            uncached = wrk(page, args.connections, args.seconds, UNCACHED + WRK_REPORT)
            print(shown("static file", static))
            print(f"  deployment page, the server's first request: {first_ms:.0f} ms")
            print(shown("deployment page, cached", cached))
            print(shown("deployment page, uncached", uncached))
            print(f"  cached page / static: {cached['req_s'] / static['req_s']:.2f}")

        if 3 in only:
            settle(server.url)
            with p.sessions() as s:
                before = s.scalar(select(func.count()).select_from(m.Alert))
            at = datetime.now(UTC).isoformat()
            node = wrk(server.url, args.connections, args.seconds, NODE % {
                "key": state.node_api_key, "dep": state.deployment_id, "entry": entry, "at": at})
            with p.sessions() as s:
                stored = s.scalar(select(func.count()).select_from(m.Alert).where(
                    m.Alert.alert_uid.like("bench-%")))
                after = s.scalar(select(func.count()).select_from(m.Alert))
            print(f"\n3. node ingestion, {args.connections} simulated nodes (counters:alerts 3:1):")
            print(shown("ingestion", node))
            print(f"  acknowledged alerts {node.get('acked_alerts', 0):,}, in the database "
                  f"{stored:,} (alerts added {after - before:,}); lost: "
                  f"{max(0, node.get('acked_alerts', 0) - stored)}")

            # The same mix sent in batches (POST .../batch): items per second.
            per = args.batch_items
            settle(server.url)
            batched = wrk(server.url, args.connections, args.seconds, BATCH % {
                "key": state.node_api_key, "dep": state.deployment_id, "entry": entry, "at": at,
                "alerts": per // 4, "counters": per - per // 4})
            with p.sessions() as s:
                stored_batched = s.scalar(select(func.count()).select_from(m.Alert).where(
                    m.Alert.alert_uid.like("bench-b-%")))
            print(shown(f"batches of {per} items", batched))
            print(f"  = {batched['req_s'] * per:,.0f} items/s; acknowledged alerts "
                  f"{batched.get('acked_alerts', 0):,}, in the database {stored_batched:,}; lost: "
                  f"{max(0, batched.get('acked_alerts', 0) - stored_batched)}")

        if 4 in only:
            settle(server.url)
            delays = console_latency(server.url, state, entry, args.streams, args.console_alerts)
            if delays:
                print(f"\n4. console, {args.streams} streams over {workers} process(es), "
                      f"{args.console_alerts} alerts: p50 {percentile(delays, 50) * 1000:.0f} ms, "
                      f"p95 {percentile(delays, 95) * 1000:.0f} ms, "
                      f"max {max(delays) * 1000:.0f} ms")
    finally:
        server.stop()
        p.close()


if __name__ == "__main__":
    main()
