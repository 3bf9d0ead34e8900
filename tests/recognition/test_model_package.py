"""The registry package that carries the default networks: pinned, verified, never fetched
at run time, and clear errors when it is missing or damaged."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from openlfr.recognition import ModelError
from openlfr.recognition import model_package as mp


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "models"
    monkeypatch.setenv("OPENLFR_MODELS_DIR", str(folder))
    mp.package_file.cache_clear()
    yield folder
    mp.package_file.cache_clear()


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_missing_models_name_the_command_that_installs_them(models_dir: Path) -> None:
    assert not mp.installed()
    with pytest.raises(ModelError, match="openlfr models install"):
        mp.package_file(mp.FACEPLUGIN, "package/model/fr_feature.onnx")


def test_a_tarball_that_is_not_the_pinned_one_installs_nothing(
    models_dir: Path, tmp_path: Path
) -> None:
    fake = tmp_path / "fake.tgz"
    fake.write_bytes(_tarball({name: b"not a network" for name in mp.FACEPLUGIN.files}))
    with pytest.raises(ModelError, match="not the pinned .* nothing was installed"):
        mp.install(tarball=fake)
    assert not (models_dir / mp.FACEPLUGIN.folder_name).exists()
    assert not mp.installed()


def test_an_unreadable_tarball_is_a_clear_error(models_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        mp.install(tarball=tmp_path / "absent.tgz")
    (tmp_path / "junk.tgz").write_bytes(gzip.compress(b"junk"))
    with pytest.raises(ModelError, match="not the pinned"):
        mp.install(tarball=tmp_path / "junk.tgz")


def test_a_damaged_installed_file_is_refused_not_run(models_dir: Path) -> None:
    """Copy the installed package (this machine has it: .ci/run installs it), damage one
    byte of the descriptor: loading refuses it and says how to reinstall."""
    source = _installed_folder()
    target = models_dir / mp.FACEPLUGIN.folder_name
    shutil.copytree(source, target)
    assert mp.installed()
    mp.package_file.cache_clear()
    weights = target / "model" / "fr_feature.onnx"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="damaged or replaced.*--force"):
        mp.package_file(mp.FACEPLUGIN, "package/model/fr_feature.onnx")


def _installed_folder() -> Path:
    """The package as installed for this environment (not the test's empty folder)."""
    saved = os.environ.pop("OPENLFR_MODELS_DIR")
    try:
        mp.package_file.cache_clear()
        path = mp.package_file(mp.FACEPLUGIN, "package/package.json").parent
    finally:
        os.environ["OPENLFR_MODELS_DIR"] = saved
        mp.package_file.cache_clear()
    return path


def test_status_says_what_is_installed(models_dir: Path) -> None:
    env_missing = subprocess.run(
        [sys.executable, "-m", "openlfr", "models", "status", "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert env_missing.returncode == 1
    status = json.loads(env_missing.stdout)
    assert status["installed"] is False and status["package"] == mp.FACEPLUGIN.name
    assert status["folder"].startswith(str(models_dir))
