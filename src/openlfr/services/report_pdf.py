"""PDF versions of the post-deployment review and the annual report (fpdf2; the annual
report's governance charts are drawn by matplotlib, a dependency already).

A review's PDF is drawn from the version's stored content, so every version reads the
same for as long as it is published. Text is set in DejaVu Sans (shipped with matplotlib,
a dependency already) so that names and feedback in any Latin, Greek or Cyrillic script
come out as written; without it the PDF falls back to a core font and replaces what that
cannot show.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from openlfr import __version__
from openlfr.localtime import day, when
from openlfr.services.figures import (
    GROUP_COLUMN_PREFIX,
    SUMMARY_COLUMNS,
    Cell,
    FiguresTable,
    column_label,
    figure_values,
    month_label,
    short_label,
    shown,
)
from openlfr.services.governance_report import GovernanceFigures
from openlfr.services.reports import AnnualReport

_FAMILY = "DejaVu"


def _dejavu_dir() -> Path | None:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"
    return folder if (folder / "DejaVuSans.ttf").is_file() else None


def _moment(text: str | None) -> str:
    """An ISO timestamp from stored content as people read it."""
    if not text:
        return "not recorded"
    return when(datetime.fromisoformat(text))


def _day(text: str | None) -> str:
    if not text:
        return ""
    return day(datetime.fromisoformat(text))


class _Document(FPDF):
    """A plain A4 document: headings, paragraphs, two-column facts and tables."""

    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self.doc_title = title
        self.set_title(title)
        self.set_author("openlfr")
        self.set_creator(f"openlfr {__version__}")
        fonts = _dejavu_dir()
        self.unicode_font = fonts is not None
        if fonts is not None:
            self.add_font(_FAMILY, "", str(fonts / "DejaVuSans.ttf"))
            self.add_font(_FAMILY, "B", str(fonts / "DejaVuSans-Bold.ttf"))
            self.font_name = _FAMILY
        else:
            self.font_name = "Helvetica"
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=18)
        self.add_page()
        self.set_font(self.font_name, "B", 16)
        self.multi_cell(0, 8, self.safe(title), align="L", new_x=XPos.LMARGIN,
                        new_y=YPos.NEXT)

    def safe(self, value: object) -> str:
        """``value`` as text the font can draw."""
        text = str(value)
        if self.unicode_font:
            return text
        return text.encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.font_name, "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 6, self.safe(f"{self.doc_title} · page {self.page_no()}"), align="C")
        self.set_text_color(0, 0, 0)

    def heading(self, text: str) -> None:
        self.ln(3)
        self.set_font(self.font_name, "B", 12)
        self.multi_cell(0, 7, self.safe(text), align="L", new_x=XPos.LMARGIN,
                        new_y=YPos.NEXT)
        self.set_font(self.font_name, "", 10)

    def paragraph(self, text: str, size: float = 10) -> None:
        self.set_font(self.font_name, "", size)
        self.multi_cell(0, 5, self.safe(text), align="L", new_x=XPos.LMARGIN,
                        new_y=YPos.NEXT)
        self.ln(1)

    def facts(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.set_font(self.font_name, "", 9)
        with self.table(col_widths=(2, 3), first_row_as_headings=False, line_height=5,
                        text_align="LEFT") as table:
            for label, value in pairs:
                row = table.row()
                row.cell(self.safe(label))
                row.cell(self.safe(value))
        self.ln(2)

    def grid(self, header: Sequence[str], rows: Sequence[Sequence[str]],
             widths: Sequence[float] | None = None, size: float = 8) -> None:
        self.set_font(self.font_name, "", size)
        with self.table(col_widths=tuple(widths) if widths else None, line_height=4.5,
                        first_row_as_headings=True, text_align="LEFT") as table:
            head = table.row()
            for h in header:
                head.cell(self.safe(h))
            for values in rows:
                row = table.row()
                for v in values:
                    row.cell(self.safe(v))
        self.ln(2)

    def finish(self) -> bytes:
        return bytes(self.output())


# --- shared pieces ------------------------------------------------------------------------


def _figure_facts(doc: _Document, row: Mapping[str, Cell], columns: Sequence[str]) -> None:
    """Every figure of one row (a total), each with its label."""
    doc.facts([(column_label(c), shown(c, row[c])) for c in columns
               if c not in ("deployment", "area", "month") and not c.startswith(
                   GROUP_COLUMN_PREFIX)])


def _groups(doc: _Document, row: Mapping[str, Cell], columns: Sequence[str]) -> None:
    groups = [(c.removeprefix(GROUP_COLUMN_PREFIX), row[c]) for c in columns
              if c.startswith(GROUP_COLUMN_PREFIX)]
    doc.heading("False alerts by recorded demographic group")
    if not groups:
        doc.paragraph("No demographic group was recorded for any false alert.")
        return
    doc.paragraph("Recorded by operators for equity monitoring, only where recorded; counts "
                  "of false alerts, never individual alerts. Small numbers are not evidence "
                  "of a difference between groups.", size=9)
    doc.grid(("Group", "False alerts"), [(g, shown("false_alerts", n)) for g, n in groups]
             + [("not recorded", shown("false_alerts",
                                       row["false_alerts_group_not_recorded"]))],
             widths=(3, 1))


def _by_month(doc: _Document, rows: Sequence[Mapping[str, Cell]], first: str = "month") -> None:
    header = [column_label(first),
              *(short_label(c) for c in SUMMARY_COLUMNS)]
    body = [[month_label(str(r[first])) if first == "month" else str(r[first]),
             *(shown(c, r[c]) for c in SUMMARY_COLUMNS)] for r in rows]
    widths = (2.2, *(1.9 if c == "confirmed" else 1.55 for c in SUMMARY_COLUMNS))
    doc.grid(header, body, widths=widths, size=7)


# --- the post-deployment review --------------------------------------------------------------


def review_pdf(content: Mapping[str, Any], version: int, generated_at: datetime,
               reason: str, url: str | None = None) -> bytes:
    """One version of a published review as a PDF."""
    d = content["deployment"]
    doc = _Document(f"Post-deployment review: {d['title']} ({d['reference']})")
    area = d["borough"] + (f" / {d['ward']}" if d.get("ward") else "")
    doc.paragraph(f"Version {version}, generated {when(generated_at)} "
                  f"({reason}). Figures come from the "
                  "engine's counters and the operators' adjudications and outcomes.", size=9)
    if url:
        doc.paragraph(f"Published at {url}", size=9)

    doc.heading("The deployment")
    doc.facts([("Reference", d["reference"]), ("Area", area),
               ("Planned", f"{_moment(d['start_at'])} to {_moment(d['end_at'])}"),
               ("Sites", ", ".join(d.get("sites", [])) or "none recorded"),
               ("Match threshold", f"{d['threshold']:.2f}"),
               ("Cameras", str(d["camera_count"])),
               ("Activated", _moment(d.get("activated_at"))),
               ("Completed", _moment(d.get("completed_at"))),
               ("Oversight review", _moment(d.get("reviewed_at")) if d.get("reviewed_at")
                else "not yet")])
    if content.get("watchlist_by_category"):
        doc.paragraph("Watchlist size by category: " + ", ".join(
            f"{k.replace('_', ' ')} {v}" for k, v in content["watchlist_by_category"].items())
            + ".", size=9)

    figures = content["figures"]
    columns: list[str] = figures["columns"]
    total = next(r for r in figures["rows"] if r["month"] == "total")
    months = [r for r in figures["rows"] if r["month"] != "total"]
    doc.heading("Figures")
    _figure_facts(doc, total, columns)
    if months:
        doc.heading("By month")
        _by_month(doc, months)
    _groups(doc, total, columns)

    fb = content["feedback"]
    doc.heading("Feedback from the public")
    counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in fb["by_kind"].items() if n)
    doc.paragraph((f"Received: {counts}. " if counts else "No feedback was received. ")
                  + f"{len(fb['answered'])} answered, {len(fb['awaiting_answer'])} awaiting "
                  "an answer.")
    for item in fb["answered"]:
        late = " (answered late)" if item.get("answered_late") else ""
        doc.paragraph(f"{item['kind'].replace('_', ' ').capitalize()}, "
                      f"{_day(item['submitted_at'])}: {_feedback_text(item)}", size=9)
        doc.paragraph(f"Answer, {_day(item['answered_at'])}{late}: {_answer_text(item)}",
                      size=9)
    if fb["awaiting_answer"]:
        doc.heading("Awaiting an answer")
        for item in fb["awaiting_answer"]:
            overdue = " (overdue)" if item.get("overdue") else ""
            doc.paragraph(f"{item['kind'].replace('_', ' ').capitalize()}, "
                          f"{_day(item['submitted_at'])}: {_feedback_text(item)} Answer due "
                          f"{_day(item['answer_due_at'])}{overdue}.", size=9)

    doc.heading("Gate history")
    if not content["gate_history"]:
        doc.paragraph("No gate decision was recorded.")
    for snap in content["gate_history"]:
        doc.paragraph(f"At {snap['transition']} ({_moment(snap['at'])}):", size=9)
        doc.grid(("Gate", "Result", "Reason"),
                 [(g["name"].replace("_", " "), "passed" if g["passed"] else "not passed",
                   g["reason"]) for g in snap["results"]], widths=(1.3, 0.8, 4))

    doc.heading("Overrides")
    if not content["overrides"]:
        doc.paragraph("No gate was overridden.")
    for o in content["overrides"]:
        failing = ", ".join(g["name"].replace("_", " ") for g in o["failing_gates"])
        doc.paragraph(f"To {o['transition'].replace('_', ' ')}, by {o['recorded_by']} on "
                      f"{_moment(o['recorded_at'])}; not passed: {failing}. Justification: "
                      f"{o['justification']}", size=9)

    if content["comments"]:
        doc.heading("Oversight comments")
        for c in content["comments"]:
            doc.paragraph(f"{_day(c['created_at'])}, {c['author']}: {c['body']}", size=9)

    doc.heading("Oversight review")
    doc.paragraph(content.get("review_summary") or
                  "Oversight has not reviewed this deployment yet; the review's summary is "
                  "added here, as a new version, when it does.")
    return doc.finish()


def _feedback_text(item: Mapping[str, Any]) -> str:
    """An item's words as published: the content comes through ``reports.review_versions``,
    which withholds (None) what the public read model withholds; say why here."""
    if item.get("hidden_for_abuse"):
        reason = item.get("moderation_reason")
        return f"(text withheld for abuse: {reason})" if reason else "(text withheld for abuse)"
    if item.get("private"):
        return ("(a request for redress from someone alerted or stopped; its text stays with "
                "staff and oversight)")
    if item.get("text") is None:
        return "(text withheld)"
    return str(item["text"])


def _answer_text(item: Mapping[str, Any]) -> str:
    """An answer as published: a private item's goes to the person who asked alone."""
    outcome = item.get("outcome")
    said = (f"{outcome.replace('_', ' ').capitalize()}. " if outcome else "")
    if item.get("answer") is None:
        return said + "sent privately to the person who asked."
    return said + str(item["answer"])


def review_pending_pdf(reference: str, title: str, status: str) -> bytes:
    """The PDF a review link gives before the deployment is completed."""
    doc = _Document(f"Post-deployment review: {title} ({reference})")
    if status == "cancelled":
        doc.paragraph("This deployment was cancelled, so there is no post-deployment review.")
    elif status in ("completed", "reviewed"):
        doc.paragraph("No review was generated when this deployment was completed; one is "
                      "published with the next change to its record.")
    else:
        doc.paragraph("The post-deployment review is published when the deployment is "
                      f"completed. The deployment is now {status.replace('_', ' ')}.")
    return doc.finish()


# --- the annual report --------------------------------------------------------------------------


def _bar_chart(labels: Sequence[str], values: Sequence[float], title: str,
               colour: str = "#1d70b8") -> bytes:
    """A horizontal bar chart as PNG (matplotlib, drawn off-screen)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    height = 0.9 + 0.32 * max(1, len(labels))
    fig, ax = plt.subplots(figsize=(6.4, height), dpi=110)
    try:
        ax.barh(list(range(len(labels))), list(values), color=colour)
        ax.set_yticks(list(range(len(labels))), [str(x)[:40] for x in labels], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)


def _chart(doc: _Document, labels: Sequence[str], values: Sequence[float], title: str,
           colour: str = "#1d70b8") -> None:
    if not labels:
        return
    doc.image(io.BytesIO(_bar_chart(labels, values, title, colour)), w=150)
    doc.ln(2)


def _governance(doc: _Document, g: GovernanceFigures) -> None:
    """The governance figures: notice, overrides, consultations' reach, answers, motions,
    what followed arrests; with charts of the counts."""
    doc.add_page()
    doc.heading("How the powers were used")
    n = g.notice
    doc.paragraph(f"Notice: {n.deployments} deployment(s) started in the period; notice "
                  f"median {n.median_days:g} days, minimum {n.min_days} days."
                  if n.deployments else "Notice: no deployment started in the period.")
    _chart(doc, [ref for ref, _ in n.each], [d for _, d in n.each],
           "Days of notice before each deployment")
    doc.heading("Checks overridden")
    if g.overrides:
        doc.grid(("Deployment", "Checks", "Asked for", "Countersigned"),
                 [(f"{o.reference} ({o.transition}, {o.countersigned_at})",
                   ", ".join(o.failing_gates), f"{o.recorded_by}: {o.justification}",
                   f"{o.countersigned_by}: {o.countersignature}") for o in g.overrides],
                 widths=(2, 1.6, 3.2, 3.2), size=7)
    else:
        doc.paragraph("No check was overridden.")
    c = g.consultations
    doc.heading("Consultations and their reach")
    doc.paragraph(f"{c.consultations} consultation(s) closed with {c.responses} response(s) "
                  f"from {c.districts_reached} postcode district(s).")
    _chart(doc, list(c.by_district), list(c.by_district.values()),
           "Responses by postcode district", "#00703c")
    doc.heading("Objections, complaints and redress")
    doc.grid(("Kind", "Received", "On time", "Late", "Unanswered", "What came of them"),
             [(a.kind.replace("_", " "), str(a.received), str(a.answered_on_time),
               str(a.answered_late), str(a.unanswered),
               "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in a.outcomes.items())
               or "none") for a in g.answers], widths=(2, 1, 1, 1, 1.2, 3.5), size=8)
    _chart(doc, [f"{a.kind.replace('_', ' ')}: {label}" for a in g.answers
                 for label in ("on time", "late", "unanswered")],
           [v for a in g.answers for v in (a.answered_on_time, a.answered_late, a.unanswered)],
           "Answers to what people sent", "#d4351c")
    doc.heading("Council motions and responses")
    if g.motions:
        doc.grid(("Motion", "Stance", "Response", "Days", "Points answered"),
                 [(f"{x.body} ({x.passed_on})", x.stance, x.responded_on or "none published",
                   "" if x.days_to_response is None else str(x.days_to_response),
                   f"{x.points_answered} of {x.points}" if x.points else "")
                  for x in g.motions], widths=(3, 1.2, 1.6, 0.8, 1.4), size=8)
    else:
        doc.paragraph("No council motion was passed in the period.")
    doc.heading("What followed arrests")
    doc.facts([(k.replace("_", " ").capitalize(), str(v)) for k, v in g.later_outcomes.items()])


def annual_report_pdf(report: AnnualReport, governance: GovernanceFigures | None = None) -> bytes:
    """The annual report: totals, per area, per month and per deployment, then the
    governance figures with charts."""
    start, end = report.period.start, report.period.end
    doc = _Document(f"Live facial recognition: report for {start.day} {start:%B %Y} to "
                    f"{end.day} {end:%B %Y}")
    doc.paragraph(f"Generated {when(report.generated_at)} "
                  "from the engine's counters and the operators' adjudications and "
                  "outcomes, for every published deployment. Alerts count on the day they "
                  "occurred; counts of faces on the day their period ended.", size=9)
    table: FiguresTable = report.table()
    total = table.rows[0]
    doc.heading("In total")
    _figure_facts(doc, total, table.columns)
    doc.heading("By area")
    if report.by_area:
        _by_month(doc, [{"area": a.area, **figure_values(a.figures)} for a in report.by_area],
                  first="area")
    else:
        doc.paragraph("No deployment ran in this period.")
    doc.heading("By month")
    _by_month(doc, [{"month": mf.month, **figure_values(mf.figures)}
                    for mf in report.by_month])
    _groups(doc, total, table.columns)
    doc.heading("Deployments")
    if report.deployments:
        doc.grid(("Deployment", "Area", "Dates", "Faces passing", "Alerts", "False alerts",
                  "Stops", "Arrests"),
                 [(f"{d.reference}: {d.title}", d.borough + (f" / {d.ward}" if d.ward else ""),
                   f"{d.start_at:%Y-%m-%d} to {d.end_at:%Y-%m-%d}",
                   shown("tracks", d.total.tracks), shown("alerts", d.total.alerts),
                   shown("false_alerts", d.total.false_alerts), shown("stops", d.total.stops),
                   shown("arrests", d.total.arrests)) for d in report.deployments],
                 widths=(3, 2, 2.2, 1.3, 1, 1, 1, 1), size=7)
    else:
        doc.paragraph("None.")
    if governance is not None:
        _governance(doc, governance)
    return doc.finish()
