"""`openlfr watchlist build` and `openlfr watch` as a user runs them, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from openlfr.samples import CLIP_PERFORMER, misnamed

from .conftest import CLIP, GROUPS, IDENTITIES, SAMPLE

pytestmark = pytest.mark.slow


def openlfr(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openlfr", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def watchlist_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "watchlist.json"
    result = openlfr("watchlist", "build", str(IDENTITIES), "--out", str(out))
    assert result.returncode == 0, result.stderr
    subjects = len(list(IDENTITIES.iterdir()))
    assert result.stdout.startswith(f"enrolled {subjects} subjects from ")
    return out


def test_watch_json_prints_alerts_then_a_summary(watchlist_file: Path) -> None:
    result = openlfr("watch", str(CLIP), "--watchlist", str(watchlist_file), "--json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    alerts, summary = lines[:-1], lines[-1]
    assert all(a["type"] == "alert" and isinstance(a["frame"], int) for a in alerts)
    assert alerts[0]["subject"] == CLIP_PERFORMER
    assert not misnamed((a["subject"], a["frame"]) for a in alerts)
    assert summary["type"] == "summary"
    assert summary["frames"] == summary["frames_processed"] == 275
    assert summary["alerts"] == len(alerts) and summary["frames_dropped"] == 0
    assert summary["detector"] == "ultralight" and summary["descriptor"] == "w600k"
    assert {"faces_detected", "faces_too_small", "tracks"} <= summary.keys()
    cpu = summary["cpu_ms_per_frame"]
    assert set(cpu) == {"decode", "search_whole", "search_near", "describe", "track_match",
                        "other", "total"}
    assert cpu["search_whole"] > 0 and cpu["describe"] > 0
    assert cpu["total"] == pytest.approx(sum(cpu.values()) - cpu["total"], abs=0.05)


def test_watch_searches_small_video_near_the_tracks_when_asked(watchlist_file: Path) -> None:
    """The clip is 640x360, no larger than --detect-max-px: searched whole on every frame
    unless --full-detection-every-small asks for near searches between; the same alert."""
    result = openlfr("watch", str(CLIP), "--watchlist", str(watchlist_file), "--json",
                     "--full-detection-every-small", "2")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["subject"] == CLIP_PERFORMER
    assert not misnamed((a["subject"], a["frame"]) for a in lines[:-1])
    assert lines[-1]["cpu_ms_per_frame"]["search_near"] > 0
    refused = openlfr("watch", str(CLIP), "--watchlist", str(watchlist_file),
                      "--full-detection-every-small", "0")
    assert refused.returncode != 0 and "full-detection-every-small" in refused.stderr


def test_watch_replays_a_file_as_a_camera_would_deliver_it(watchlist_file: Path) -> None:
    """--realtime-fps delivers the clip at that rate: what the engine cannot keep up with
    is shed or dropped and counted (how much depends on this machine's speed)."""
    result = openlfr("watch", str(CLIP), "--watchlist", str(watchlist_file), "--json",
                     "--realtime-fps", "150")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["frames"] == 275
    assert summary["frames_processed"] + summary["frames_dropped"] == 275
    assert summary["frames_near_behind"] <= summary["frames_processed"]
    assert summary["elapsed_s"] >= 274 / 150  # never faster than the camera
    refused = openlfr("watch", str(GROUPS), "--watchlist", str(watchlist_file), "--realtime")
    assert refused.returncode == 1 and "replays a video file" in refused.stderr
    refused = openlfr("watch", str(CLIP), "--watchlist", str(watchlist_file),
                      "--shed-when-behind", "0")
    assert refused.returncode != 0 and "shed-when-behind" in refused.stderr


def test_watch_prints_readable_alerts_and_a_summary(watchlist_file: Path) -> None:
    result = openlfr(
        "watch", str(GROUPS), "--watchlist", str(watchlist_file), "--threshold", "0.55"
    )
    assert result.returncode == 0, result.stderr
    alerts = [line for line in result.stdout.splitlines() if line.startswith("ALERT")]
    assert {line.split("subject ")[1].split()[0] for line in alerts} >= {"obama", "biden"}
    summary, cpu = result.stdout.splitlines()[-2:]
    assert summary.startswith("3 frames in ")
    assert cpu.startswith("CPU per frame: decode ") and "describe " in cpu


def test_build_reports_skipped_photos_by_name(tmp_path: Path) -> None:
    (tmp_path / "photos" / "someone").mkdir(parents=True)
    (tmp_path / "photos" / "someone" / "a.png").write_bytes(
        (SAMPLE / "noface" / "coffee.png").read_bytes()
    )
    (tmp_path / "photos" / "someone" / "b.jpg").write_bytes(
        (IDENTITIES / "biden" / "biden2.jpg").read_bytes()
    )
    result = openlfr(
        "watchlist",
        "build",
        str(tmp_path / "photos"),
        "--out",
        str(tmp_path / "w.json"),
        "--workers",
        "0",
    )
    assert result.returncode == 0
    assert "skipped someone/a.png: no face found" in result.stderr
    assert "enrolled 1 subjects from 1 images (1 skipped)" in result.stdout


def _bad_inputs(tmp: Path, watchlist_file: Path) -> dict[str, tuple[list[str], str]]:
    (tmp / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(5000))
    (tmp / "empty.json").write_text(
        json.dumps(
            {"format": "openlfr-watchlist", "version": 2,
             "descriptor_model": "mobilefacenet_arcface_512:x", "subjects": []}
        )
    )
    (tmp / "cups" / "cup").mkdir(parents=True)
    (tmp / "cups" / "cup" / "c.png").write_bytes((SAMPLE / "noface" / "coffee.png").read_bytes())
    wl = str(watchlist_file)
    return {
        "missing video": (["watch", str(tmp / "nope.mp4"), "--watchlist", wl], "no such file"),
        "corrupt video": (
            ["watch", str(tmp / "corrupt.mp4"), "--watchlist", wl],
            "cannot decode video",
        ),
        "missing watchlist": (
            ["watch", str(CLIP), "--watchlist", str(tmp / "none.json")],
            "no such watchlist file",
        ),
        "empty watchlist": (
            ["watch", str(CLIP), "--watchlist", str(tmp / "empty.json")],
            "has no subjects",
        ),
        "no face to enrol": (
            ["watchlist", "build", str(tmp / "cups"), "--out", str(tmp / "out.json")],
            "no subject could be enrolled",
        ),
        "missing photo folder": (
            ["watchlist", "build", str(tmp / "absent"), "--out", str(tmp / "o.json")],
            "no such folder",
        ),
        "unknown flag": (["watch", str(CLIP), "--watchlist", wl, "--frobnicate"], "No such option"),
        "threshold out of range": (
            ["watch", str(CLIP), "--watchlist", wl, "--threshold", "3"],
            "--threshold",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing video",
        "corrupt video",
        "missing watchlist",
        "empty watchlist",
        "no face to enrol",
        "missing photo folder",
        "unknown flag",
        "threshold out of range",
    ],
)
def test_bad_input_exits_non_zero_with_one_line_and_writes_nothing(
    case: str, tmp_path: Path, watchlist_file: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    args, message = _bad_inputs(tmp_path, watchlist_file)[case]
    before = sorted(p for p in tmp_path.rglob("*"))
    result = openlfr(*args, cwd=work)
    assert result.returncode != 0
    assert result.stdout == ""
    # one error line; a build may first name the photos it skipped, one line each
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("skipped ")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0]
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing written anywhere


def test_help_documents_the_commands() -> None:
    for args in (["--help"], ["watch", "--help"], ["watchlist", "build", "--help"]):
        result = openlfr(*args)
        assert result.returncode == 0
    assert "--threshold" in openlfr("watch", "--help").stdout


def test_the_engine_only_demo_runs_on_the_bundled_data(tmp_path: Path) -> None:
    """`openlfr demo --engine-only`: the engine alone, writing nothing (the whole demo
    story is tested in tests/demo)."""
    result = openlfr("demo", "--engine-only", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    alerted = {line.split()[3] for line in result.stdout.splitlines() if "ALERT" in line}
    assert alerted == {"lin_manuel_miranda", "kit_harington", "rose_leslie", "obama", "biden"}
    assert list(tmp_path.iterdir()) == []  # the demo writes no file


def test_the_engine_commands_load_no_platform_code() -> None:
    """`openlfr watch` on a camera's machine loads the engine, not the database, the web
    server or the platform's services: those load with the commands that use them."""
    code = ("import sys\n"
            "sys.argv = ['openlfr', 'watch', '--help']\n"
            "import openlfr.cli\n"
            "try:\n"
            "    openlfr.cli.run()\n"
            "except SystemExit as exc:\n"
            "    assert exc.code == 0, exc.code\n"
            "print('loaded:', ','.join(sorted(m for m in sys.modules if m.startswith(("
            "'openlfr.storage', 'openlfr.services', 'openlfr.web', 'openlfr.audit', "
            "'sqlalchemy', 'alembic', 'fastapi', 'uvicorn')))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--watchlist" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "loaded:"
