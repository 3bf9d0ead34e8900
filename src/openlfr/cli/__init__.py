"""The `openlfr` command. Thin: parse arguments, call the library, print.

Each area registers its own sub-commands from a module beside this one, so that the
engine's commands and the platform's commands live apart.
"""

import typer

from openlfr import __version__
from openlfr.cli import engine_commands

app = typer.Typer(
    name="openlfr",
    help="Open live facial recognition with community accountability built in.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"openlfr {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Open live facial recognition with community accountability built in."""


engine_commands.register(app)
