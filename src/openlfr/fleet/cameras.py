"""The fleet's cameras file: one table per camera, each bound to a deployment.

```toml
[[camera]]
name = "van-1-north"            # as alerts show it; unique
source = "rtsp://10.0.0.5/live" # video file, folder of images, stream URL or webcam index
deployment = "LFR-2026-0007"    # reference or numeric id
api_key_env = "VAN1_KEY"        # optional: the deployment's node key from this variable
loop = false                    # optional: replay a file (demos, benchmarks)
detect_max_px = 960             # optional: this camera's own detection settings
```

A camera may set its own detection settings, in place of the fleet's options of the same
name (`openlfr fleet run --help`): ``min_face_px``, ``detect_max_px``,
``full_detection_every``, ``full_detection_every_small`` and ``shed_when_behind`` (a
camera on a far street wants smaller faces than one at a doorway; a 4K camera a rarer
whole-frame search). The threshold and the decision rule are never a camera's: they are
the deployment's.

Node API keys belong to a deployment: cameras of one deployment share ``--api-key``;
a camera of another deployment names the environment variable that holds its key (keys
are never written in the file).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openlfr.recognition.config import EngineConfig

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DETECTION_KEYS = ("min_face_px", "detect_max_px", "full_detection_every",
                  "full_detection_every_small", "shed_when_behind")
"""A camera's own detection settings: NodeConfig and EngineConfig fields of these names."""
KNOWN_KEYS = {"name", "source", "deployment", "api_key_env", "loop", *DETECTION_KEYS}


class CamerasError(ValueError):
    """The cameras file cannot be used; the message says which camera and why."""


@dataclass(frozen=True)
class Camera:
    name: str
    source: str
    deployment: str
    api_key: str
    loop: bool = False
    detection: tuple[tuple[str, int], ...] = ()
    """This camera's own detection settings (DETECTION_KEYS), in place of the fleet's."""


def load_cameras(path: Path, default_api_key: str | None) -> list[Camera]:
    """Read and check ``path``; every camera gets its key (its ``api_key_env`` variable,
    else ``default_api_key``)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CamerasError(f"cannot read the cameras file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CamerasError(f"{path} is not valid TOML: {exc}") from None
    tables = data.get("camera")
    if not isinstance(tables, list) or not tables:
        raise CamerasError(f"{path} lists no cameras: add one [[camera]] table per camera")
    cameras = [_camera(n, table, default_api_key) for n, table in enumerate(tables, start=1)]
    names = [c.name for c in cameras]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CamerasError(f"camera names must be unique: {', '.join(duplicates)}")
    return cameras


def _camera(number: int, table: Any, default_api_key: str | None) -> Camera:
    where = f"camera {number}"
    if not isinstance(table, dict):
        raise CamerasError(f"{where} is not a table")
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise CamerasError(f"{where}: unknown keys {', '.join(unknown)} "
                           f"(known: {', '.join(sorted(KNOWN_KEYS))})")
    values: dict[str, str] = {}
    for key in ("name", "source", "deployment"):
        value = table.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and key != "name":
            value = str(value)  # a webcam index or a numeric deployment id
        if not isinstance(value, str) or not value.strip():
            raise CamerasError(f"{where}: '{key}' is required (a non-empty string)")
        values[key] = value.strip()
    if not NAME.match(values["name"]):
        raise CamerasError(f"{where}: name {values['name']!r} must be 1-64 letters, digits, "
                           "'.', '_' or '-'")
    where = f"camera {values['name']!r}"
    loop = table.get("loop", False)
    if not isinstance(loop, bool):
        raise CamerasError(f"{where}: 'loop' must be true or false")
    variable = table.get("api_key_env")
    if variable is not None:
        if not isinstance(variable, str) or not variable:
            raise CamerasError(f"{where}: 'api_key_env' must name an environment variable")
        key = os.environ.get(variable, "")
        if not key:
            raise CamerasError(f"{where}: the environment variable {variable} (its API key) "
                               "is not set")
    elif default_api_key:
        key = default_api_key
    else:
        raise CamerasError(f"{where} has no API key: pass --api-key (or set "
                           "OPENLFR_NODE_API_KEY), or give the camera an api_key_env")
    return Camera(values["name"], values["source"], values["deployment"], key, loop,
                  _detection(where, table))


def _detection(where: str, table: dict[str, Any]) -> tuple[tuple[str, int], ...]:
    """The camera's own detection settings, checked by the engine's own rules."""
    settings = {key: table[key] for key in DETECTION_KEYS if key in table}
    for key, value in settings.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise CamerasError(f"{where}: '{key}' must be a whole number")
    try:
        EngineConfig(**settings)
    except ValueError as exc:
        raise CamerasError(f"{where}: {exc}") from None
    return tuple(sorted(settings.items()))
