"""The `openlfr` command. Thin: parse arguments, call the library, print.

Each area registers its own sub-commands from a module beside this one, so that the
engine's commands and the platform's commands live apart.
"""

import sys

import typer

try:  # typer 0.2x carries its own copy of click
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # pragma: no cover - older typer uses click itself
    from click.exceptions import ClickException, UsageError  # type: ignore[assignment]

from openlfr import __version__
from openlfr.cli import (
    demo_command,
    email_command,
    engine_commands,
    models_command,
    platform_commands,
)
from openlfr.cli.errors import EXIT_USAGE
from openlfr.cli.evaluate_command import register as register_evaluate
from openlfr.cli.fleet_command import register as register_fleet
from openlfr.cli.node_command import register as register_node
from openlfr.cli.report_command import register as register_report
from openlfr.cli.watchlist_push import register as register_watchlist_push

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
models_command.register(app)
demo_command.register(app)
platform_commands.register(app)
email_command.register(app)
register_evaluate(app)
register_node(app)
register_fleet(app)
register_watchlist_push(app)
register_report(app)


def run() -> None:
    """Console-script entry point: usage errors become one line, not a framed panel."""
    try:
        code = app(standalone_mode=False)
    except UsageError as exc:
        if exc.ctx is not None and type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.ctx.get_help())
            sys.exit(0)
        where = exc.ctx.command_path if exc.ctx else "openlfr"
        print(f"error: {exc.format_message()} (see: {where} --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except ClickException as exc:
        print(f"error: {exc.format_message()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
