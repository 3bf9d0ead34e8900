"""Helpers for the node tests: a deployment made active now (real clock, gates overridden:
they are not what these tests are about) with a watchlist enrolled from the sample
photos through the platform's API, and an `openlfr node run` subprocess whose JSON events
the test can wait for, kill and restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from platform_helpers import Scenario, Staff, authorise_ahead, clock_set_to, ok

from openlfr.recognition.analyzer import reference_model_id
from openlfr.recognition.onnx_networks import cache_dir
from openlfr.samples import CLIP as CLIP  # re-exported for the node tests
from openlfr.samples import CLIP_PERFORMER, IDENTITIES, misnamed
from openlfr.services import users
from openlfr.services.platform import SYSTEM_ACTOR, Platform
from openlfr.services.schemas import ApiKeyIn
from openlfr.services.watchlist_photos import engine_model_id

#: The clip alerts on its performer (CLIP_PERFORMER) at the default threshold 0.5; obama
#: sits in profile in its last shot, near the threshold (openlfr.samples: any alert must
#: name someone in shot, `LiveDeployment.misnamed`).
WATCHLIST_SUBJECTS = (CLIP_PERFORMER, "obama", "kit_harington")


@dataclass(frozen=True)
class LiveDeployment:
    id: int
    reference: str
    entries: dict[str, int]
    """Sample identity -> watchlist entry id."""
    categories: dict[str, str]

    def misnamed(self, queued: list[dict[str, Any]]) -> list[tuple[str, int]]:
        """The node's alert events (``NodeProcess.of_type("alert")``) that name nobody in
        shot at their frame of the clip, as (identity, frame)."""
        identity = {entry: name for name, entry in self.entries.items()}
        return misnamed((identity[q["entry_id"]], q["frame"]) for q in queued)


class Gate:
    """ASGI middleware in front of the platform. ``mode``: None (pass), "down" (every
    node call answers 503 before the platform sees it) or "hold" (posts carrying an
    alert, alone or in a batch, are recorded, but the answer is held back until
    ``release`` is set)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = app.state  # what the server reads from the app it serves
        self.mode: str | None = None
        self.release = threading.Event()
        self.held = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.startswith("/api/node/") or self.mode is None:
            await self.app(scope, receive, send)
            return
        if self.mode == "down":
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"gate closed"})
            return
        if self.mode == "hold" and scope["method"] == "POST" and (
                path.endswith("/alerts") or path.endswith("/batch")):
            # A node sends an alert alone, or in a batch when a counters item was queued
            # with it: read the body to tell, then hand the same body on to the platform.
            received = [await receive()]
            while received[-1].get("more_body"):
                received.append(await receive())
            body = b"".join(m.get("body", b"") for m in received)
            replay = iter(received)

            async def again() -> dict[str, Any]:
                message = next(replay, None)
                return message if message is not None else await receive()

            if path.endswith("/batch") and not json.loads(body or b"{}").get("alerts"):
                await self.app(scope, again, send)
                return
            answer: list[dict[str, Any]] = []

            async def keep(message: dict[str, Any]) -> None:
                answer.append(message)

            await self.app(scope, again, keep)
            self.held += 1
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            for message in answer:
                await send(message)
            return
        await self.app(scope, receive, send)


@dataclass
class LivePlatform:
    platform: Platform
    staff: Staff
    url: str
    gate: Gate


def active_deployment(staff: Staff, *, threshold: float = 0.5,
                      subjects: tuple[str, ...] = WATCHLIST_SUBJECTS,
                      activate: bool = True, second_opinion: bool = False) -> LiveDeployment:
    """A deployment running from ten minutes ago for four hours, on the real clock, with
    a watchlist enrolled from the sample photos (one entry per identity). It is governed
    beforehand as the gates require (the platform's clock is set back for that: no
    override may skip them); with ``activate`` False it is left with notice published.
    With ``second_opinion`` the watchlist decides with one, and the engine's audit was
    made with it."""
    reference_model = reference_model_id() if second_opinion else None
    start = datetime.now(UTC) - timedelta(minutes=10)
    planner = staff["planner"]
    entries, categories = {}, {}
    with clock_set_to(staff.platform, start - timedelta(days=20)) as clock:
        s = Scenario(staff, clock)

        def enrol() -> None:
            ok(planner.post(s.url("/watchlist"), json={
                "descriptor_model": engine_model_id(), "reference_model": reference_model}),
               201)
            for n, name in enumerate(subjects):
                category = ("wanted_for_arrest", "missing_person", "wanted_by_court")[n % 3]
                photos = sorted(p for p in (IDENTITIES / name).iterdir() if p.is_file())
                entry = ok(planner.post(s.url("/watchlist/photos"), data={
                    "subject_ref": f"CASE-{name}", "category": category,
                    "source": "sample set", "authorised_by": "Insp. Test",
                    "image_taken_on": (start - timedelta(days=30)).date().isoformat()},
                    files=[("photo", (p.name, p.read_bytes(), "image/jpeg")) for p in photos]),
                    201)
                entries[name], categories[name] = entry["id"], category

        authorise_ahead(s, start, start + timedelta(hours=4), enrol, fair=threshold,
                        authorise=activate, model=engine_model_id(), threshold=threshold,
                        second_opinion=reference_model)
    if activate:
        ok(staff["operator"].post(s.url("/activate")))
    return LiveDeployment(s.deployment_id, s.reference, entries, categories)


def node_key(platform: Platform, deployment_id: int, name: str = "van-1") -> str:
    return users.create_api_key(platform, SYSTEM_ACTOR,
                                ApiKeyIn(name=name, deployment_id=deployment_id)).secret


def node_env(home: Path, api_key: str) -> dict[str, str]:
    """The node's environment: its own home (so everything it writes can be found), the
    engine's model cache shared (so nothing is rebuilt), the key out of the command line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "OPENLFR_"))}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"),
               XDG_CACHE_HOME=str(home / ".cache"), XDG_CONFIG_HOME=str(home / ".config"),
               OPENLFR_CACHE_DIR=str(cache_dir()), OPENLFR_NODE_API_KEY=api_key,
               PYTHONUNBUFFERED="1")
    return env


class NodeProcess:
    """`openlfr node run --json ...` (or another ``command``: fleet run) in its own process
    group; its events as they come."""

    def __init__(self, args: list[str], home: Path, api_key: str,
                 command: tuple[str, ...] = ("node", "run")) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "openlfr", *command, "--json", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=node_env(home, api_key), cwd=home, start_new_session=True)
        self.events: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self._lock = threading.Lock()
        self._readers = [threading.Thread(target=self._read_events, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read_events(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = {"type": "text", "line": line.rstrip()}
            with self._lock:
                self.events.append(event)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._lock:
                self.stderr.append(line.rstrip())

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e.get("type") == kind]

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float = 90,
                 what: str = "an event") -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                for event in self.events:
                    if predicate(event):
                        return event
            if self.proc.poll() is not None:
                time.sleep(0.3)  # let the readers catch up with the last lines
                with self._lock:
                    for event in self.events:
                        if predicate(event):
                            return event
                raise AssertionError(f"node exited ({self.proc.returncode}) before {what}: "
                                     f"{self.transcript()}")
            time.sleep(0.05)
        raise AssertionError(f"no {what} within {timeout_s} s: {self.transcript()}")

    def finish(self, timeout_s: float = 120) -> tuple[int, dict[str, Any] | None]:
        """Wait for the node to exit; its exit code and summary."""
        try:
            code = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"node still running after {timeout_s} s: "
                                 f"{self.transcript()}") from None
        for reader in self._readers:
            reader.join(timeout=10)
        assert not self.of_type("text"), f"stdout lines that are not JSON: {self.of_type('text')}"
        summaries = self.of_type("summary")
        return code, (summaries[-1] if summaries else None)

    def kill(self) -> None:
        """SIGKILL the node and its worker processes (its whole process group)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def transcript(self) -> str:
        """What the node said, counter batches left out (there are many)."""
        with self._lock:
            told = [e for e in self.events if e.get("type") != "counters"
                    and not (e.get("type") == "sent" and e.get("kind") == "counters")]
            return f"events={told[-30:]} stderr={self.stderr[-15:]}"


def files_under(*folders: Path) -> list[Path]:
    """Every file below the folders (what a node left behind)."""
    return sorted(p for folder in folders if folder.exists() for p in folder.rglob("*")
                  if p.is_file())


def wait_until(condition: Callable[[], bool], timeout_s: float = 90, what: str = "it") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s} s for {what}")
        time.sleep(0.05)
