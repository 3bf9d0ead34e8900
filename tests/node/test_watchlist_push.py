"""`openlfr watchlist push`: a folder of subjects enrolled on a deployment's watchlist on
a running platform, unusable photos reported with the platform's reason."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from node_helpers import IDENTITIES, LivePlatform
from platform_helpers import PASSWORD, FakeClock, Scenario, ok

from openlfr.samples import GROUPS


@pytest.mark.slow
def test_push_enrols_each_subject_folder_and_reports_unusable_ones(
        live: LivePlatform, tmp_path: Path) -> None:
    d = ok(live.staff["planner"].post(
        "/api/deployments", json=Scenario(live.staff, FakeClock()).deployment_body()), 201)
    subjects = tmp_path / "subjects"
    shutil.copytree(IDENTITIES / "lin_manuel_miranda", subjects / "CASE-1001")
    shutil.copytree(IDENTITIES / "obama", subjects / "CASE-1002")
    (subjects / "CASE-1003").mkdir()
    shutil.copy(GROUPS / "two_people.jpg", subjects / "CASE-1003")
    env = {**os.environ, "OPENLFR_PASSWORD": PASSWORD}
    args = [sys.executable, "-m", "openlfr", "watchlist", "push", str(subjects),
            "--platform", live.url, "--deployment", d["reference"],
            "--category", "wanted_for_arrest", "--source", "custody photos",
            "--authorised-by", "Insp. Example", "--image-date", "2026-10-01",
            "--username", "planner"]
    done = subprocess.run([*args, "--create", "--build"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"created the watchlist of deployment {d['id']}"
    assert any(line.startswith("enrolled CASE-1001 as entry ") for line in lines)
    assert "enrolled CASE-1002 as entry" in done.stdout and "(3 photos)" in done.stdout
    assert "skipped CASE-1003: photo: two_people.jpg: 2 faces found" in done.stdout
    assert lines[-2:] == [f"enrolled 2 of 3 subjects on deployment {d['id']}'s watchlist",
                          "built the watchlist"]
    watchlist = ok(live.staff["planner"].get(f"/api/deployments/{d['id']}/watchlist"))
    assert sorted(e["subject_ref"] for e in watchlist["entries"]) == ["CASE-1001", "CASE-1002"]
    assert watchlist["watchlist"]["built_at"] is not None

    wrong = subprocess.run(args, capture_output=True, text=True,
                           env={**env, "OPENLFR_PASSWORD": "not the password at all"},
                           timeout=120)
    assert wrong.returncode == 1 and wrong.stderr.startswith("error: cannot log in:")

    # The second opinion is chosen when the watchlist is made, never added to one later.
    late = subprocess.run([*args, "--second-opinion"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert late.returncode == 1
    assert "was created without a second opinion" in late.stderr
