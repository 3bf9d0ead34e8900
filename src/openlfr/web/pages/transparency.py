"""The transparency dashboard: the published figures of every deployment that has run, in
total and by month, per deployment, and false alerts by recorded demographic group, with
charts; and the same figures as open data (CSV and JSON with exactly the same columns),
in total and per deployment.

The numbers all come from ``services.figures``. The charts are drawn by Chart.js, served
from this site (``static/vendor``), from the same data as the tables, which are embedded
in the page as JSON; the tables are the version that needs no JavaScript.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from openlfr.governance.errors import NotFound
from openlfr.services import deployments as deployment_service
from openlfr.services import figures as figures_service
from openlfr.services import records
from openlfr.services.figures import (
    FIGURE_COLUMNS,
    SUMMARY_COLUMNS,
    FiguresTable,
    MonthFigures,
    column_label,
    figure_values,
    group_items,
    month_label,
    row_values,
    short_label,
    shown,
)
from openlfr.web.pages.deployments import REFERENCE
from openlfr.web.pages.rendering import (
    PageRoute,
    day,
    not_found,
    platform_of,
    render,
    templates,
    when,
)

CSV_TYPE = "text/csv; charset=utf-8"
JSON_TYPE = "application/json"



def _iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# Figures and stored reports (whose times are ISO text) as people read them.
templates.env.filters.update(figure=lambda value, column: shown(column, value),
                             month=month_label, iso_when=lambda text: when(_iso(text)),
                             iso_day=lambda text: day(_iso(text)))
templates.env.globals.update(column_label=column_label, short_label=short_label,
                             row_values=row_values,
                             group_items=group_items, figure_columns=FIGURE_COLUMNS,
                             summary_columns=SUMMARY_COLUMNS)


def download(table: FiguresTable, fmt: str, filename: str, **about: Any) -> Response:
    """A figures table as a CSV or JSON download (the same columns either way)."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'}
    if fmt == "csv":
        return Response(table.to_csv(), media_type=CSV_TYPE, headers=headers)
    return Response(table.to_json(**about), media_type=JSON_TYPE, headers=headers)


def chart_data(by_month: list[MonthFigures]) -> dict[str, list[Any]]:
    """What the charts draw: the by-month table's columns, as series."""
    return {
        "months": [month_label(mf.month) for mf in by_month],
        **{column: [figure_values(mf.figures)[column] for mf in by_month]
           for column in ("tracks", "alerts", "confirmed", "false_alerts", "unclear",
                          "pending", "stops", "arrests", "false_alerts_per_1000_tracks")},
    }


def dashboard(request: Request) -> Response:
    """Figures of every published deployment that has run, with charts, and the
    deployment records."""
    p = platform_of(request)
    published = figures_service.published_figures(p)
    return render(request, "transparency.html", {
        "published": published, "chart_data": chart_data(published.by_month),
        "records": records.deployment_records(p)})


def records_download(request: Request) -> Response:
    """The deployment records as CSV or JSON (the same columns as the page's table)."""
    table = records.deployment_records(platform_of(request))
    if request.url.path.endswith(".csv"):
        return Response(table.to_csv(), media_type=CSV_TYPE, headers={
            "Content-Disposition": 'attachment; filename="openlfr-deployment-records.csv"'})
    return Response(table.to_json(), media_type=JSON_TYPE)


def records_schema(request: Request) -> Response:
    """The records' data dictionary (a Frictionless Table Schema)."""
    return Response(json.dumps(records.data_dictionary(), indent=2), media_type=JSON_TYPE)


def dashboard_download(request: Request) -> Response:
    fmt = "csv" if request.url.path.endswith(".csv") else "json"
    p = platform_of(request)
    published = figures_service.published_figures(p)
    return download(published.table(), fmt, "openlfr-figures",
                    scope="every published deployment that has run",
                    generated_at=p.clock().isoformat())


def deployment_download(request: Request) -> Response:
    """One published deployment's figures, by month and in total."""
    reference: str = request.path_params["reference"]
    if not REFERENCE.fullmatch(reference):
        return not_found(request, f"{reference!r} is not a deployment reference; references "
                         "look like LFR-2026-0007")
    p = platform_of(request)
    try:
        d = deployment_service.public_deployment(p, reference)
    except NotFound as exc:
        return not_found(request, str(exc))
    fmt = "csv" if request.url.path.endswith(".csv") else "json"
    table = figures_service.deployment_table(figures_service.deployment_figures(p, d.id))
    return download(table, fmt, f"{d.reference}-figures", deployment=d.reference,
                    status=d.status, generated_at=p.clock().isoformat())


PUBLIC_PATHS = ("/transparency", "/transparency.csv", "/transparency.json",
                "/transparency/records.csv", "/transparency/records.json",
                "/transparency/records-schema.json",
                "/deployments/{reference}/figures.csv", "/deployments/{reference}/figures.json")

routes = [
    PageRoute("/transparency", dashboard, methods=["GET"], name="transparency"),
    PageRoute("/transparency.csv", dashboard_download, methods=["GET"], name="transparency_csv"),
    PageRoute("/transparency.json", dashboard_download, methods=["GET"], name="transparency_json"),
    PageRoute("/transparency/records.csv", records_download, methods=["GET"], name="records_csv"),
    PageRoute("/transparency/records.json", records_download, methods=["GET"], name="records_json"),
    PageRoute("/transparency/records-schema.json", records_schema, methods=["GET"],
              name="records_schema"),
    PageRoute("/deployments/{reference}/figures.csv", deployment_download, methods=["GET"],
              name="deployment_figures_csv"),
    PageRoute("/deployments/{reference}/figures.json", deployment_download, methods=["GET"],
              name="deployment_figures_json"),
]
