"""`openlfr evaluate` as a user runs it, in a subprocess, on real photos.

The bundled sample faces carry no demographic labels, so the manifest below gives each
identity a made-up group ('A' or 'B', alternating): it exercises the per-group path on
real descriptors and means nothing about real groups. The known-rate checks of the
group statistics are in test_identification.py, on synthetic descriptors.
"""

from __future__ import annotations

import csv
import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from openlfr.cli import app
from openlfr.recognition import DEFAULT_THRESHOLD

from .conftest import GOOD_KEY, SAMPLE_IDENTITIES, SHARED, FakePlatform

Run = tuple[subprocess.CompletedProcess[str], Path]


def openlfr(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "openlfr", *args],
                          capture_output=True, text=True, timeout=timeout)


def openlfr_in_process(*args: str) -> Result:
    """For errors found before any photo is read: the same app, without a process start."""
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def lfw_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled faces in LFW's layout (name/name_0001.jpg), one corrupt file added,
    a manifest with a made-up group column, and a pairs file."""
    root = tmp_path_factory.mktemp("lfw")
    rows, by_identity, group = [], {}, {}
    for n, folder in enumerate(sorted(SAMPLE_IDENTITIES.iterdir())):
        group[folder.name] = "A" if n % 2 else "B"
        (root / folder.name).mkdir()
        names = []
        for k, photo in enumerate(sorted(folder.iterdir()), start=1):
            name = f"{folder.name}/{folder.name}_{k:04d}.jpg"  # OpenCV reads PNG content too
            shutil.copyfile(photo, root / name)
            names.append(name)
            rows.append((name, folder.name, group[folder.name]))
        by_identity[folder.name] = names
    broken = "obama/obama_0004.jpg"
    (root / broken).write_bytes(b"this is not a JPEG")
    rows.append((broken, "obama", group["obama"]))
    with (root / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "identity", "made_up_group"])
        writer.writerows(rows)
    same = [f"{i}\t{a}\t{b}" for i, names in by_identity.items()
            for a, b in itertools.combinations(range(1, len(names) + 1), 2)]
    people = sorted(by_identity)
    different = [f"{x}\t1\t{y}\t1" for x, y in itertools.combinations(people, 2)][: len(same)]
    (root / "pairs.txt").write_text("\n".join([str(len(same) + len(different)),
                                               *same, *different]) + "\n")
    return root


@pytest.fixture(scope="module")
def run(lfw_copy: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = lfw_copy / "out"
    result = openlfr("evaluate", str(lfw_copy / "manifest.csv"), "--pairs",
                     str(lfw_copy / "pairs.txt"), "--thresholds", "0.3:0.7:0.05",
                     "--group-column", "made_up_group", "--out", str(out), "--workers", "2",
                     "--cache", str(lfw_copy / "descriptors.npz"))
    return result, out


@pytest.mark.slow
def test_a_real_run_writes_results_tables_and_a_self_contained_report(run: Run) -> None:
    result, out = run
    assert result.returncode == 0, result.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["engine"]["model_id"].startswith("mobilefacenet_w600k_512:")
    assert results["engine"]["backend"] in {"onnx", "dlib"}
    assert "decision score" in results["engine"]["score"]
    assert "cosine" in results["engine"]["similarity"]
    assert results["thresholds"] == [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7]
    ds = results["dataset"]
    assert ds["identities"] == 11 and ds["images_listed"] == 26
    assert ds["images_unreadable"] == 1
    assert ds["unreadable"][0]["file"] == "obama/obama_0004.jpg"
    assert "skipped" in result.stderr and "obama_0004.jpg" in result.stderr
    [ident] = results["identification"]
    assert DEFAULT_THRESHOLD in results["thresholds"]  # the sweep must hold the default
    default = next(r for r in ident["overall"] if r["threshold"] == DEFAULT_THRESHOLD)
    # The engine on its own sample photos, at its default threshold.
    assert default["tpir"] >= 0.7 and default["fpir"] <= 0.2
    assert set(ident["groups"]["made_up_group"]) == {"A", "B"}
    assert len(ident["group_tests"]["made_up_group"]) == 9
    v = results["verification"]
    assert 0.7 <= v["accuracy_mean"] <= 1.0 and v["accuracy_std"] >= 0.0
    assert "cosine" in v["score"]
    assert v["folds"] == 10 and v["pairs_used"] == v["pairs"] - v["pairs_skipped"]
    assert v["accuracy_all_pairs_mean"] <= v["accuracy_mean"]
    # The table on stdout, and no image written anywhere in the output.
    assert "threshold   TPIR" in result.stdout and "verification: accuracy" in result.stdout
    written = sorted(p.name for p in out.iterdir())
    assert written == ["group_tests.csv", "identification.csv", "identification_groups.csv",
                       "report.html", "results.json", "verification_folds.csv"]
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") >= 3  # DET + FPIR and TPIR per group
    assert "src='http" not in report and 'src="http' not in report and "<script" not in report
    rows = list(csv.DictReader((out / "identification.csv").open()))
    assert len(rows) == 9
    [csv_default] = [r for r in rows if float(r["threshold"]) == DEFAULT_THRESHOLD]
    assert float(csv_default["tpir"]) == default["tpir"]


@pytest.mark.slow
def test_too_big_a_watchlist_and_single_image_identities_are_refused(
    run: Run, lfw_copy: Path
) -> None:
    """Re-uses the first run's descriptor cache, so no photo is described again."""
    result, out = run
    assert result.returncode == 0, result.stderr
    cache = str(lfw_copy / "descriptors.npz")
    big = openlfr("evaluate", str(lfw_copy / "manifest.csv"), "--watchlist-size", "50",
                  "--out", str(lfw_copy / "big"), "--cache", cache)
    assert big.returncode == 1
    assert "error: --watchlist-size 50: this dataset can fill watchlists of at most" in big.stderr
    single = lfw_copy / "single.csv"
    single.write_text("file,identity\n" + "".join(
        f"{p.parent.name}/{p.name},{p.parent.name}\n"
        for p in sorted(lfw_copy.glob("*/*_0001.jpg"))))
    one = openlfr("evaluate", str(single), "--out", str(lfw_copy / "one"), "--cache", cache)
    assert one.returncode == 1
    assert "every identity has a single image" in one.stderr
    assert not (lfw_copy / "big").exists() and not (lfw_copy / "one").exists()


@pytest.mark.slow
def test_register_posts_the_result_to_the_platform(
    run: Run, lfw_copy: Path, platform_url: str
) -> None:
    result, out = run
    assert result.returncode == 0, result.stderr
    registered = openlfr(
        "evaluate", str(lfw_copy / "manifest.csv"), "-g", "made_up_group", "--out",
        str(lfw_copy / "registered"), "--cache", str(lfw_copy / "descriptors.npz"),
        "--register", f"{platform_url}/api/technology/3", "--api-key", GOOD_KEY)
    assert registered.returncode == 0, registered.stderr
    assert f"registered equity audit 12 at {platform_url}/api/technology/3" in registered.stdout
    [request] = FakePlatform.received
    assert request["path"] == "/api/technology/3/equity-audits"
    body = request["body"]
    results = json.loads((lfw_copy / "registered" / "results.json").read_text())
    assert body["fair_threshold"] == results["fair_threshold"]
    assert body["recommended_threshold"] == results["recommended_threshold"]
    assert results["engine"]["model_id"] in body["engine_version"]
    assert {g["group"] for g in body["group_results"]} == {"made_up_group=A",
                                                          "made_up_group=B"}
    # The overall rates the threshold gate reads, one row per threshold swept.
    [ident] = results["identification"]
    assert [(r["watchlist_size"], r["threshold"]) for r in body["identification"]] == [
        (ident["watchlist_size"], r["threshold"]) for r in ident["overall"]]
    assert [r["fpir"] for r in body["identification"]] == [r["fpir"] for r in ident["overall"]]
    refused = openlfr(
        "evaluate", str(lfw_copy / "manifest.csv"), "-g", "made_up_group", "--out",
        str(lfw_copy / "refused"), "--cache", str(lfw_copy / "descriptors.npz"),
        "--register", f"{platform_url}/api/technology/3", "--api-key", "wrong")
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1].startswith(
        "error: " + platform_url + "/api/technology/3/equity-audits: HTTP 401")


@pytest.mark.parametrize(
    "args,message",
    [
        (["/no/such/dataset"], "no such file or folder"),
        ([str(SAMPLE_IDENTITIES), "--thresholds", "0.8:0.3:0.1"], "need start <= stop"),
        ([str(SAMPLE_IDENTITIES), "--thresholds", "abc"], "write start:stop:step"),
        ([str(SAMPLE_IDENTITIES), "--register", "http://x/api/technology/1"],
         "--register needs --api-key"),
        ([str(SAMPLE_IDENTITIES), "--group-column", "sex"], "has no group labels"),
        ([str(SAMPLE_IDENTITIES), "--pairs", "/no/pairs.txt"], "no such pairs file"),
        ([str(SAMPLE_IDENTITIES), "--descriptor", "nonsense"],
         "unknown descriptor 'nonsense'; choose one of: w600k, mobilefacenet, dlib"),
    ],
)
def test_bad_input_is_one_error_line(args: list[str], message: str) -> None:
    result = openlfr_in_process("evaluate", *args, "--out", "/nonexistent/never-written")
    assert result.exit_code == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_bad_manifest_is_one_error_line(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,who\na.jpg,x\n")
    result = openlfr_in_process("evaluate", str(manifest))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: {manifest}: no 'identity' column (columns: file, who); a manifest needs "
        "'file' and 'identity' columns, plus optional group columns such as sex, age_band, "
        "ethnicity")


@pytest.mark.slow
def test_the_descriptor_a_deployment_runs_is_the_one_audited(tmp_path: Path) -> None:
    """A force that runs faceplugin's network (its licence) audits that network, and the
    results say which one was measured (the register shows the model id)."""
    result = openlfr("evaluate", str(SAMPLE_IDENTITIES), "--descriptor", "mobilefacenet",
                     "--thresholds", "0.4,0.5,0.6", "--out", str(tmp_path), "--workers", "2")
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["engine"]["model_id"].startswith("mobilefacenet_arcface_512:")
    assert results["dataset"]["images_described"] >= 20


def test_help_describes_the_command() -> None:
    result = openlfr("evaluate", "--help")
    assert result.returncode == 0
    for option in ("--pairs", "--watchlist-size", "--thresholds", "--out", "--workers",
                   "--register", "--api-key", "--group-column", "--descriptor"):
        assert option in result.stdout
    # The score swept is the engine's decision score, not a distance.
    words = " ".join(result.stdout.split())
    assert "how far the best watchlist entry stands out from the rest of that watchlist" in words
    assert "L2" not in result.stdout


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared face set is not present")
def test_shared_faces(tmp_path: Path) -> None:
    """The shared photos (more identities than the bundled copy), as a folder dataset."""
    result = openlfr("evaluate", str(SHARED / "identities"), "--out", str(tmp_path),
                     "--thresholds", "0.4:0.6:0.1", timeout=600)
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["dataset"]["identities"] == len(
        [p for p in (SHARED / "identities").iterdir() if p.is_dir()])
    [ident] = results["identification"]
    assert ident["watchlist_size"] == results["protocol"]["largest_watchlist_size"]
    at_default = next(r for r in ident["overall"] if r["threshold"] == DEFAULT_THRESHOLD)
    assert at_default["tpir"] >= 0.6 and at_default["fpir"] <= 0.2


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _without_timings(results: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in results.items() if k != "created_at"}


@pytest.mark.slow
def test_on_a_ray_cluster_the_results_are_the_same(run: Run, lfw_copy: Path,
                                                    tmp_path: Path) -> None:
    import contextlib
    import os
    import secrets
    import signal
    import tempfile
    import time

    pytest.importorskip("ray")
    port = _free_port()
    temp_dir = tempfile.mkdtemp(prefix="olfr-ray-", dir="/tmp")  # short: socket paths
    # A cluster of its own (`ray start` as an operator runs it), stopped with its command.
    # Token authentication, as Ray's documentation asks of a cluster: the head and every
    # client with RAY_AUTH_MODE=token and the same token, here a fresh one in
    # RAY_AUTH_TOKEN (without it the client could look for ~/.ray/auth_token before the
    # starting head has written it: "no authentication token was found").
    os.environ["RAY_AUTH_MODE"] = "token"  # for the head and the evaluate run below
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    head = subprocess.Popen(
        [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
         f"--port={port}", "--num-cpus=2", f"--temp-dir={temp_dir}",
         "--include-dashboard=false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        out = tmp_path / "out"
        deadline = time.monotonic() + 120
        while True:
            result = openlfr("evaluate", str(lfw_copy / "manifest.csv"), "--pairs",
                             str(lfw_copy / "pairs.txt"), "--thresholds", "0.3:0.7:0.05",
                             "--group-column", "made_up_group", "--out", str(out),
                             "--address", f"127.0.0.1:{port}")
            if result.returncode == 0 or time.monotonic() > deadline \
                    or "cannot join the Ray cluster" not in result.stderr:
                break
            time.sleep(2)  # the head is still starting
        assert result.returncode == 0, result.stderr
    finally:
        os.environ.pop("RAY_AUTH_MODE", None)
        os.environ.pop("RAY_AUTH_TOKEN", None)
        # SIGTERM to `ray start --block` alone, as a service manager stops it: it stops the
        # cluster's processes itself within 2 s (sent to the whole process group, the
        # processes it watches die under it and it took 33 s to give up on them).
        head.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)  # whatever it left behind, or itself
        head.wait(timeout=30)
        shutil.rmtree(temp_dir, ignore_errors=True)
    local, _ = run
    assert local.returncode == 0
    here = json.loads((lfw_copy / "out" / "results.json").read_text())
    there = json.loads((out / "results.json").read_text())
    assert _without_timings(there) == _without_timings(here)
