"""`openlfr report annual`: the annual report (the published figures summed over a date
range, per area and per month) from the command line, as CSV, JSON or PDF. Thin: parse,
call the reports service, write."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from openlfr.cli.errors import fail
from openlfr.cli.platform_commands import DataDir, _open
from openlfr.governance.errors import GovernanceError

report_app = typer.Typer(help="Published reports from the platform's records.",
                         no_args_is_help=True)


class ReportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"
    PDF = "pdf"


@report_app.command("annual")
def annual(
    start: Annotated[str | None, typer.Option(
        "--from", metavar="YYYY-MM-DD",
        help="First day of the period (default: twelve months before --to).")] = None,
    end: Annotated[str | None, typer.Option(
        "--to", metavar="YYYY-MM-DD", help="Last day of the period (default: today, UTC).")
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option(
        "--format", help="csv or json (the same as /reports/annual.csv and .json; the JSON "
        "adds the governance figures), or pdf (with the governance figures and charts).")
    ] = ReportFormat.CSV,
    out: Annotated[Path | None, typer.Option(
        "--out", metavar="FILE", help="Write the report to FILE (needed for pdf); without "
        "it, csv and json go to stdout.")] = None,
    data_dir: DataDir = None,
) -> None:
    """The published figures of every deployment over a period: in total, per area
    (borough) and per month, with the deployments that ran; the JSON and PDF add the
    governance figures (notice, overrides, consultations' reach, answers, motions)."""
    from openlfr.services import governance_report, reports
    from openlfr.services.report_pdf import annual_report_pdf

    if fmt is ReportFormat.PDF and out is None:
        fail("a PDF is not written to the terminal; give --out FILE")
    try:
        first, last = reports.parse_day("from", start), reports.parse_day("to", end)
    except GovernanceError as exc:
        fail(exc)
    platform = _open(data_dir)
    try:
        period = reports.report_period(first, last, platform.clock().date())
        report = reports.annual_report(platform, period)
        governance = governance_report.governance_figures(platform, period)
    except GovernanceError as exc:
        fail(exc)
    finally:
        platform.close()
    data: bytes
    if fmt is ReportFormat.PDF:
        data = annual_report_pdf(report, governance)
    elif fmt is ReportFormat.JSON:
        data = (report.table().to_json(**report.about(), governance=governance.to_json_data())
                + "\n").encode()
    else:
        data = report.table().to_csv().encode()
    if out is None:
        sys.stdout.write(data.decode())
        sys.stdout.flush()
        return
    try:
        out.write_bytes(data)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    typer.echo(f"wrote the report for {period.start.isoformat()} to {period.end.isoformat()} "
               f"({fmt.value}, {len(report.deployments)} deployment(s)) to {out}")


def register(app: typer.Typer) -> None:
    """Add `openlfr report ...` to the `openlfr` command."""
    app.add_typer(report_app, name="report")
