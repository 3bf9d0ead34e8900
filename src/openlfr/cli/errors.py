"""How the CLI reports a problem: one clear line on stderr and a non-zero exit."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

EXIT_BAD_INPUT = 1
EXIT_USAGE = 2


def fail(problem: BaseException | str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    print(f"error: {problem}", file=sys.stderr, flush=True)
    raise typer.Exit(code)
