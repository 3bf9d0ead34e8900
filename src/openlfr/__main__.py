"""`python -m openlfr` is the same as the `openlfr` command."""

from openlfr.cli import run

run()
