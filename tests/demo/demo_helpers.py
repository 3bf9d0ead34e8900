"""Running `openlfr demo` as people do: a subprocess with its own data folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

DEMO_TIMEOUT_S = 300


def demo_command(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "openlfr", "demo", "--data-dir", str(data_dir),
            "--port", "0", *args]


def demo_env(home: Path) -> dict[str, str]:
    """The environment of a fresh machine: its own home, no database or key from ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLFR_")}
    env["HOME"] = str(home)
    env["XDG_DATA_HOME"] = str(home / ".local" / "share")
    env["OPENLFR_CACHE_DIR"] = os.environ.get("OPENLFR_CACHE_DIR", str(
        Path.home() / ".cache" / "openlfr"))  # the ONNX graphs built once per machine
    return env


def run_demo(data_dir: Path, home: Path, *args: str) -> str:
    """Run the demo to the end (no serving); its output, or a failure showing it."""
    done = subprocess.run(demo_command(data_dir, "--no-serve", *args), env=demo_env(home),
                          capture_output=True, text=True, timeout=DEMO_TIMEOUT_S)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return output


def base_url_of(lines: IO[str], deadline_s: float = DEMO_TIMEOUT_S) -> tuple[str, list[str]]:
    """Read a serving demo's output until it says where it serves; (URL, lines read)."""
    seen: list[str] = []
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        line = lines.readline()
        if not line:
            raise AssertionError("the demo ended before serving:\n" + "".join(seen[-60:]))
        seen.append(line)
        match = re.match(r"Serving at (http://\S+) ", line)
        if match:
            return match.group(1), seen
    raise AssertionError("the demo did not start serving in time:\n" + "".join(seen[-60:]))
