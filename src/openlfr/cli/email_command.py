"""`openlfr email send-pending`: send the notice e-mails that are due from the outbox, once
(the web server does the same every few seconds). For cron jobs, or to flush the outbox
after the mail server was down."""

from __future__ import annotations

import typer

from openlfr.cli.errors import EXIT_BAD_INPUT
from openlfr.cli.platform_commands import DataDir, _open

email_app = typer.Typer(help="The notice e-mail outbox.", no_args_is_help=True)


@email_app.command("send-pending")
def send_pending(data_dir: DataDir = None) -> None:
    """Send the e-mails that are due, once, over the configured SMTP server
    (OPENLFR_SMTP_HOST, ...), and print how many were sent, failed and still wait. Exits 1
    when any failed; they stay in the outbox and are retried later with back-off."""
    from openlfr.services import mailer

    platform = _open(data_dir)
    try:
        report = mailer.send_pending(platform)
    finally:
        platform.close()
    if not report.configured:
        typer.echo(f"no SMTP server configured (set OPENLFR_SMTP_HOST): {report.waiting} "
                   "e-mail(s) waiting in the outbox")
        return
    typer.echo(f"sent {report.sent}, failed {report.failed}, waiting {report.waiting}")
    if report.failed:
        typer.echo(f"error: {report.failed} e-mail(s) could not be sent; they stay in the "
                   "outbox and are retried with back-off (see the server log or last_error)",
                   err=True)
        raise typer.Exit(EXIT_BAD_INPUT)


def register(app: typer.Typer) -> None:
    """Add `openlfr email ...` to the `openlfr` command."""
    app.add_typer(email_app, name="email")
