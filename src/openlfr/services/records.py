"""Deployment records: one row per published deployment that has run, in the columns
forces publish for live facial recognition (date, local times, street location, watchlist
size, faces passing, alerts, false alerts, arrests) plus what the governance adds (later
outcomes, notice given, checks overridden, objections answered on time).

One table, declared once (``RECORD_COLUMNS``): the transparency page renders it, the CSV
and JSON downloads write it with the same columns, and the data dictionary (a Frictionless
Table Schema) describes it. Counts come from ``services.figures`` (the engine's counters
and the operators' decisions), the watchlist's counts by category (kept after it is
destroyed), ``services.outcomes`` and the feedback and override tables as they are.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from openlfr.governance.outcomes import LaterOutcome
from openlfr.governance.records import FeedbackKind
from openlfr.services import figures
from openlfr.services.outcomes import NOT_RECORDED, later_outcome_counts_in
from openlfr.services.overrides import went_ahead_despite
from openlfr.services.platform import Platform
from openlfr.services.watchlists import category_counts_in
from openlfr.spreadsheet import csv_cell
from openlfr.storage import models as m

#: Local times are London's (GMT or BST, whichever was in force on the day).
LOCAL_ZONE = ZoneInfo("Europe/London")
LOCAL_FORMAT = "%Y-%m-%d %H:%M"

Cell = str | int | None


@dataclass(frozen=True)
class Column:
    """One column of the records: its name, Table Schema type and what it means."""

    name: str
    type: str
    title: str
    description: str


RECORD_COLUMNS: tuple[Column, ...] = (
    Column("reference", "string", "Reference", "The deployment's reference (LFR-YYYY-NNNN)."),
    Column("date", "date", "Date", "The local date the deployment started (Europe/London)."),
    Column("start_local", "string", "Start (local)",
           "Start, local time in London (YYYY-MM-DD HH:MM, GMT or BST as in force)."),
    Column("end_local", "string", "End (local)",
           "End, local time in London (YYYY-MM-DD HH:MM, GMT or BST as in force)."),
    Column("borough", "string", "Borough", "The borough, as the gazetteer names it."),
    Column("ward", "string", "Ward", "The ward, as the gazetteer names it (empty: none given)."),
    Column("street", "string", "Street location",
           "The camera sites by name, separated by '; '."),
    Column("watchlist_size", "integer", "Watchlist size",
           "Entries on the watchlist (counts kept after the watchlist is destroyed)."),
    Column("watchlist_by_category", "string", "Watchlist by category",
           "Entries by category, 'category: count' separated by '; '."),
    Column("tracks", "integer", "Faces passing",
           "Faces the engine followed past the cameras (tracks: one face across the frames it "
           "was seen on); a face that matched no one was counted, then discarded."),
    Column("faces_seen", "integer", "Face detections",
           "Each face on each frame it was found on (tens of times a person): the engine's "
           "work, not a count of people."),
    Column("counts_beyond_cameras", "boolean", "Counts beyond the cameras",
           "True when the node counted more faces passing than the deployment's cameras "
           "could have seen in the time it ran (20 new faces a camera a second): its counts "
           "are as sent, and no rate per face is published from them."),
    Column("alerts", "integer", "Alerts", "Possible matches with the watchlist."),
    Column("confirmed", "integer", "Confirmed", "Alerts an officer confirmed as the person."),
    Column("false_alerts", "integer", "False alerts",
           "Alerts an officer decided were not the person."),
    Column("unclear", "integer", "Unclear", "Alerts an officer could not decide on."),
    Column("pending", "integer", "Not yet adjudicated",
           "Alerts nobody has decided on: neither true nor false, and in no rate."),
    Column("stops", "integer", "Stops", "Alerts after which officers stopped the person."),
    Column("arrests", "integer", "Arrests", "Alerts followed by an arrest."),
    *(Column(f"later_{o.value}", "integer", f"Later: {o.value.replace('_', ' ')}",
             f"Arrests after which the person was {o.value.replace('_', ' ')} "
             "(recorded within the window)." if o is not LaterOutcome.NO_FURTHER_ACTION
             else "Arrests after which no further action was taken (recorded within the "
             "window).") for o in LaterOutcome),
    Column("later_not_recorded", "integer", "Later: not recorded",
           "Arrests with no later outcome recorded (yet, or within the window)."),
    Column("notice_days", "integer", "Notice (days)",
           "Whole days between notice being published and the start."),
    Column("gates_overridden", "integer", "Checks overridden",
           "Failed checks the deployment went ahead despite, by a countersigned override."),
    Column("gates_overridden_names", "string", "Which checks",
           "The checks overridden, separated by '; '."),
    Column("objections_received", "integer", "Objections received",
           "Objections submitted (those whose text was withheld for abuse included: "
           "withholding the words does not withdraw the objection)."),
    Column("objections_answered_on_time", "integer", "Objections answered on time",
           "Objections with a published answer by their deadline."),
)
COLUMN_NAMES = tuple(c.name for c in RECORD_COLUMNS)


def local(moment: datetime) -> str:
    """A moment as London's local time, YYYY-MM-DD HH:MM."""
    return moment.astimezone(LOCAL_ZONE).strftime(LOCAL_FORMAT)


def _objections_in(s: Session, deployment_id: int) -> tuple[int, int]:
    rows = s.execute(select(m.Feedback.answered_at, m.Feedback.answer_due_at).where(
        m.Feedback.deployment_id == deployment_id,
        m.Feedback.kind == FeedbackKind.OBJECTION.value)).all()
    on_time = sum(1 for answered, due in rows if answered is not None and answered <= due)
    return len(rows), on_time


def _row(s: Session, d: m.Deployment, total: figures.Figures,
         later: dict[str, int]) -> dict[str, Cell]:
    categories = category_counts_in(s, d.id)
    received, on_time = _objections_in(s, d.id)
    overridden = went_ahead_despite(s, d.id)
    notice = (None if d.notice_published_at is None
              else max(0, (d.start_at - d.notice_published_at).days))
    row: dict[str, Cell] = {
        "reference": d.reference,
        "date": d.start_at.astimezone(LOCAL_ZONE).date().isoformat(),
        "start_local": local(d.start_at), "end_local": local(d.end_at),
        "borough": d.borough, "ward": d.ward or "",
        "street": "; ".join(site.name for site in d.sites),
        "watchlist_size": sum(categories.values()),
        "watchlist_by_category": "; ".join(f"{k}: {v}" for k, v in sorted(categories.items())),
        "tracks": total.tracks, "faces_seen": total.faces_seen,
        "counts_beyond_cameras": bool(total.counts_beyond_cameras), "alerts": total.alerts,
        "confirmed": total.confirmed, "false_alerts": total.false_alerts,
        "unclear": total.unclear, "pending": total.pending,
        "stops": total.stops, "arrests": total.arrests,
        **{f"later_{o.value}": later[o.value] for o in LaterOutcome},
        "later_not_recorded": later[NOT_RECORDED],
        "notice_days": notice,
        "gates_overridden": len(overridden), "gates_overridden_names": "; ".join(overridden),
        "objections_received": received, "objections_answered_on_time": on_time,
    }
    return row


@dataclass(frozen=True)
class RecordsTable:
    """The deployment records: RECORD_COLUMNS, one row per deployment (newest first)."""

    rows: list[dict[str, Cell]]
    generated_at: datetime

    @property
    def columns(self) -> tuple[Column, ...]:
        return RECORD_COLUMNS

    def to_csv(self) -> str:
        """CSV with a header row of the column names; empty where a value is unknown."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(COLUMN_NAMES)
        for row in self.rows:
            writer.writerow([csv_cell(row[c]) for c in COLUMN_NAMES])
        return out.getvalue()

    def to_json_data(self) -> dict[str, Any]:
        return {"generated_at": self.generated_at.isoformat(),
                "timezone": str(LOCAL_ZONE), "columns": list(COLUMN_NAMES),
                "dictionary": "/transparency/records-schema.json",
                "rows": [{c: row[c] for c in COLUMN_NAMES} for row in self.rows]}

    def to_json(self) -> str:
        return json.dumps(self.to_json_data(), indent=2, ensure_ascii=False)


def deployment_records(p: Platform) -> RecordsTable:
    """One row per published deployment that has run, newest start first."""
    with p.sessions() as s:
        ran = figures.deployments_that_ran(s)
        facts = figures.load_facts(s, [d.id for d in ran]).judged(ran)
        later = later_outcome_counts_in(s, [d.id for d in ran])
        rows = [_row(s, d, facts.total([d.id]), later[d.id]) for d in ran]
    return RecordsTable(rows, p.clock())


def data_dictionary() -> dict[str, Any]:
    """The records' columns as a Frictionless Table Schema (name, type, title,
    description), the machine-readable data dictionary of the CSV and JSON."""
    return {
        "$schema": "https://specs.frictionlessdata.io/schemas/table-schema.json",
        "title": "openlfr deployment records",
        "description": "One row per published live facial recognition deployment that has "
                       "run: /transparency/records.csv and /transparency/records.json.",
        "primaryKey": "reference",
        "missingValues": [""],
        "fields": [{"name": c.name, "type": c.type, "title": c.title,
                    "description": c.description,
                    **({"constraints": {"minimum": 0}} if c.type == "integer" else {})}
                   for c in RECORD_COLUMNS],
    }
