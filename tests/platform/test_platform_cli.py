"""The platform's CLI: serve (a real uvicorn over HTTP), user add/list, and their errors."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from openlfr.cli import app

PASSWORD = "a long enough password"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OPENLFR_")}


def openlfr(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command in-process (importing the CLI once keeps the suite fast)."""
    result = CliRunner().invoke(app, list(args), input=stdin, env={"OPENLFR_DATABASE_URL": ""})
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def openlfr_process(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed console script, as a user would."""
    return subprocess.run(["openlfr", *args], input=stdin, capture_output=True, text=True,
                          env=_env(), timeout=60)


def test_user_add_and_list(tmp_path: Path) -> None:
    d = str(tmp_path)
    added = openlfr("user", "add", "alice", "--role", "admin", "--password-stdin",
                    "--data-dir", d, stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added alice (admin)"
    listed = openlfr("user", "list", "--data-dir", d)
    assert listed.stdout.split() == ["alice", "admin"]


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["bob", "--role", "king"], PASSWORD, "unknown role 'king'; choose one of: operator"),
    (["bob", "--role", "planner"], "short", "password: String should have at least 12"),
    (["Bob Smith", "--role", "planner"], PASSWORD, "username: String should match pattern"),
])
def test_user_add_errors_are_one_clear_line(tmp_path: Path, args: list[str], stdin: str,
                                            message: str) -> None:
    result = openlfr("user", "add", *args, "--password-stdin", "--data-dir", str(tmp_path),
                     stdin=stdin + "\n")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_duplicate_user_is_refused(tmp_path: Path) -> None:
    for expected in (0, 1):
        result = openlfr("user", "add", "alice", "--role", "planner", "--password-stdin",
                         "--data-dir", str(tmp_path), stdin=PASSWORD + "\n")
        assert result.returncode == expected
    assert "user 'alice' already exists" in result.stderr


def test_help_texts(tmp_path: Path) -> None:
    for command in (["serve"], ["user"], ["user", "add"], ["user", "list"], ["audit"],
                    ["audit", "verify"]):
        result = openlfr(*command, "--help")
        assert result.returncode == 0 and "Usage" in result.stdout, command


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_runs_the_api_over_http(tmp_path: Path) -> None:
    """`openlfr serve` migrates a fresh data dir, then answers real HTTP requests."""
    d = str(tmp_path / "data")
    assert openlfr_process("user", "add", "pat", "--role", "planner", "--password-stdin",
                           "--data-dir", d, stdin=PASSWORD + "\n").returncode == 0
    port = _free_port()
    server = subprocess.Popen(["openlfr", "serve", "--port", str(port), "--data-dir", d],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env())
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            time.sleep(0.2)
        assert httpx.get(f"{base}/openapi.json").json()["info"]["title"] == "openlfr"
        assert httpx.get(f"{base}/api/deployments").status_code == 401
        with httpx.Client(base_url=base) as client:
            r = client.post("/api/auth/login", json={"username": "pat", "password": PASSWORD})
            assert r.status_code == 200
            assert "httponly" in r.headers["set-cookie"].lower()
            assert client.get("/api/deployments").json() == []
    finally:
        server.terminate()
        server.wait(timeout=10)
    # No access log unless asked: the readers' addresses and what they read are not kept.
    output = server.stdout.read().decode() if server.stdout else ""
    assert "GET /api/deployments" not in output and "GET /openapi.json" not in output, output
    verified = openlfr_process("audit", "verify", "--data-dir", d)
    # Two events: the user was created, then logged in over HTTP.
    assert verified.returncode == 0 and "2 event(s) verified" in verified.stdout


def test_unreachable_database_is_one_line_with_the_password_masked(tmp_path: Path) -> None:
    url = "postgresql+psycopg://someone:s3cret@127.0.0.1:1/nowhere"
    result = CliRunner().invoke(app, ["user", "list", "--data-dir", str(tmp_path)],
                                env={"OPENLFR_DATABASE_URL": url})
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot open the database at "
                                    "postgresql+psycopg://someone:***@127.0.0.1:1/nowhere")
    assert "s3cret" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
