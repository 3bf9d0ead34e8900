"""Writing an evaluation: results.json, CSV tables, and a self-contained report.html.

The HTML report embeds its figures as base64 PNG and loads nothing from the network,
so it can be published or archived as one file.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: figures are only ever rendered to files
import matplotlib.pyplot as plt  # noqa: E402

from openlfr.evaluation.duplicates import found_sentence, measure  # noqa: E402
from openlfr.spreadsheet import csv_cell  # noqa: E402

RATE_FIELDS = [
    "threshold", "mated_searches", "hits", "tpir", "tpir_ci_low", "tpir_ci_high", "fnir",
    "fnir_ci_low", "fnir_ci_high", "mated_wrong_alerts", "nonmated_searches", "false_alerts",
    "fpir", "fpir_ci_low", "fpir_ci_high", "false_alerts_per_1000",
    "false_alerts_per_1000_ci_low", "false_alerts_per_1000_ci_high",
]


#: Every file write_report may write.
OUTPUT_FILES = (
    "results.json", "identification.csv", "identification_groups.csv", "group_tests.csv",
    "verification_folds.csv", "report.html",
)


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, list):
            flat[f"{key}_low"], flat[f"{key}_high"] = value
        else:
            flat[key] = value
    return {k: ("" if v is None else v) for k, v in flat.items()}


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file, so a reader never sees half a report. (A plain open
    rather than mkstemp: a report is meant to be shared, so the umask decides access.)"""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temp.open("w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _csv_text(fields: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), extrasaction="ignore")
    writer.writeheader()
    for row in rows:  # cells that start like a formula are written as text
        writer.writerow({key: csv_cell(value) for key, value in row.items()})
    return buffer.getvalue()


def write_report(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write every output file into ``out_dir`` (created if needed); returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, text: str) -> None:
        path = out_dir / name
        _write_atomic(path, text)
        written.append(path)

    put("results.json", json.dumps(results, indent=2, allow_nan=False) + "\n")
    overall = [
        {"watchlist_size": r["watchlist_size"], **_flat(row)}
        for r in results["identification"] for row in r["overall"]
    ]
    put("identification.csv", _csv_text(["watchlist_size", *RATE_FIELDS], overall))
    if results["dataset"]["group_columns"]:
        groups = [
            {"watchlist_size": r["watchlist_size"], "column": column, "group": label,
             **_flat(row)}
            for r in results["identification"]
            for column, table in r["groups"].items()
            for label, entry in table.items()
            for row in entry["rows"]
        ]
        put("identification_groups.csv",
            _csv_text(["watchlist_size", "column", "group", *RATE_FIELDS], groups))
        tests = [
            {"watchlist_size": r["watchlist_size"], "column": column,
             "threshold": t["threshold"],
             "fpir_p_value": t["fpir"]["p_value"], "fpir_significant": t["fpir"]["significant"],
             "fnir_p_value": t["fnir"]["p_value"], "fnir_significant": t["fnir"]["significant"]}
            for r in results["identification"]
            for column, rows in r["group_tests"].items()
            for t in rows
        ]
        put("group_tests.csv", _csv_text(
            ["watchlist_size", "column", "threshold", "fpir_p_value", "fpir_significant",
             "fnir_p_value", "fnir_significant"], tests))
    verification = results.get("verification")
    if verification:
        put("verification_folds.csv", _csv_text(
            ["fold", "threshold", "train_accuracy", "accuracy", "pairs"],
            verification["per_fold"]))
    put("report.html", render_html(results))
    # A table this run did not produce (no groups, no pairs) must not survive from an
    # earlier run into the same folder, where it would pass for this run's.
    for name in OUTPUT_FILES:
        if out_dir / name not in written:
            (out_dir / name).unlink(missing_ok=True)
    return written


# --- figures -------------------------------------------------------------------------

def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _floor(values: Sequence[float | None], searches: int) -> list[float]:
    """Zero rates drawn at half of one search's worth, so a log axis can show them."""
    floor = 0.5 / max(searches, 1)
    return [max(v if v is not None else float("nan"), floor) for v in values]


def det_figure(results: dict[str, Any]) -> str:
    """DET curve: FNIR against FPIR (log-log), one line per watchlist size. A zero rate
    cannot sit on a log axis: it is drawn at half of one search (0.5/n), hollow."""
    figure, axes = plt.subplots(figsize=(6.0, 4.5))
    floored_any = False
    for r in results["identification"]:
        rows = r["overall"]
        x = _floor([row["fpir"] for row in rows], r["nonmated_searches"])
        y = _floor([row["fnir"] for row in rows], r["mated_searches"])
        (line,) = axes.plot(x, y, marker="o", markersize=3,
                            label=f"watchlist {r['watchlist_size']}")
        zero = [i for i, row in enumerate(rows) if row["fpir"] == 0 or row["fnir"] == 0]
        if zero:
            floored_any = True
            axes.plot([x[i] for i in zero], [y[i] for i in zero], linestyle="none",
                      marker="o", markersize=6, markerfacecolor="white",
                      markeredgecolor=line.get_color())
        for i in range(0, len(rows), max(1, len(rows) // 6)):
            axes.annotate(f"{rows[i]['threshold']:.2f}", (x[i], y[i]), fontsize=7,
                          xytext=(3, 3), textcoords="offset points")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("FPIR (false positive identification rate)")
    axes.set_ylabel("FNIR (false negative identification rate)")
    axes.set_title("DET: misses against false alerts (labels: threshold)")
    if floored_any:
        axes.text(0.02, 0.02, "hollow: a rate of 0, drawn at 0.5/searches",
                  transform=axes.transAxes, fontsize=7)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    return _png(figure)


def group_figure(result: dict[str, Any], column: str, rate: str) -> str:
    """A rate (fpir or tpir) against threshold per group, with 95% interval bands."""
    figure, axes = plt.subplots(figsize=(6.0, 4.0))
    for label, entry in result["groups"][column].items():
        rows = entry["rows"]
        if not rows or rows[0][rate] is None:
            continue
        t = [x["threshold"] for x in rows]
        axes.plot(t, [x[rate] for x in rows], label=f"{label}", marker=".")
        axes.fill_between(t, [x[f"{rate}_ci"][0] for x in rows],
                          [x[f"{rate}_ci"][1] for x in rows], alpha=0.15)
    fair = result["fair_threshold"].get(column)
    if fair is not None and rate == "fpir":
        axes.axvline(fair, color="black", linestyle="--", linewidth=1,
                     label=f"fair from {fair:.2f}")
    axes.set_xlabel("threshold")
    axes.set_ylabel(rate.upper())
    axes.set_ylim(-0.02, 1.02)
    axes.set_title(f"{rate.upper()} by {column} (watchlist {result['watchlist_size']})")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    return _png(figure)


# --- HTML ----------------------------------------------------------------------------

def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def _ci(pair: Sequence[float | None], digits: int = 1) -> str:
    if pair[0] is None:
        return ""
    return f"{_pct(pair[0], digits)}–{_pct(pair[1], digits)}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def rate_table_html(rows: Sequence[dict[str, Any]]) -> str:
    return _table(
        ["threshold", "TPIR", "95% CI", "FNIR", "FPIR", "95% CI", "false alerts / 1,000 faces",
         "hits / mated", "false alerts / non-mated"],
        ([f"{x['threshold']:.2f}", _pct(x["tpir"]), _ci(x["tpir_ci"]), _pct(x["fnir"]),
          _pct(x["fpir"], 2), _ci(x["fpir_ci"], 2),
          "–" if x["false_alerts_per_1000"] is None else f"{x['false_alerts_per_1000']:.1f}",
          f"{x['hits']}/{x['mated_searches']}", f"{x['false_alerts']}/{x['nonmated_searches']}"]
         for x in rows),
    )


STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:right}
th{background:#f3f3f3} .warn{background:#fff6e0;padding:.5em 1em;border-left:4px solid #e0a000}
.key{font-size:1.1em;background:#eef6ff;padding:.6em 1em;border-left:4px solid #3070c0}
img{max-width:100%}
"""


def render_html(results: dict[str, Any]) -> str:
    """The whole report as one HTML document with embedded figures."""
    ds = results["dataset"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>openlfr equity and accuracy audit</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Equity and accuracy audit</h1>",
        f"<p>Engine model <code>{html.escape(results['engine']['model_id'])}</code>, openlfr "
        f"{html.escape(results['openlfr_version'])}, run {html.escape(results['created_at'])}."
        f" Score: {html.escape(results['engine']['score'])}.</p>",
        f"<p>Dataset <code>{html.escape(ds['path'])}</code>: {ds['identities']} identities, "
        f"{ds['images_listed']} images listed, {ds['images_described']} described, "
        f"{ds['images_no_face']} with no face found, {ds['images_unreadable']} unreadable.</p>",
    ]
    fair, recommended = results["fair_threshold"], results["recommended_threshold"]
    parts.append(
        "<p class='key'>Fair threshold (no significant difference in false alerts between "
        f"groups from here up): <b>{'none found' if fair is None else f'{fair:.2f}'}</b>. "
        f"Recommended threshold (fair, and observed FPIR &le; {results['target_fpir']:g}): "
        f"<b>{'none found' if recommended is None else f'{recommended:.2f}'}</b>.</p>"
    )
    if results["warnings"]:
        parts.append("<div class='warn'><b>Read with care:</b><ul>" + "".join(
            f"<li>{html.escape(w)}</li>" for w in results["warnings"]) + "</ul></div>")
    parts.append(f"<h2>Protocol</h2><p>{html.escape(results['protocol']['description'])} "
                 f"95% intervals: {html.escape(results['protocol']['interval_method'])}. "
                 f"Group test: {html.escape(results['protocol']['group_test'])} "
                 f"(alpha {results['protocol']['alpha']}).</p>")
    parts.append("<h2>DET curve</h2>"
                 f"<img alt='DET curve' src='data:image/png;base64,{det_figure(results)}'>")
    for r in results["identification"]:
        parts.append(
            f"<h2>Identification, watchlist of {r['watchlist_size']}</h2>"
            f"<p>{r['mated_searches']} mated searches ({r['mated_searches_no_face']} with no "
            f"face found, counted as misses), {r['nonmated_searches']} non-mated searches "
            f"({r['nonmated_images_no_face']} images with no face, not searched).</p>"
        )
        parts.append(rate_table_html(r["overall"]))
        for column, table in r["groups"].items():
            parts.append(f"<h3>By {html.escape(column)}</h3>")
            fair_c = r["fair_threshold"].get(column)
            parts.append(
                f"<p>Fair from: <b>{'none' if fair_c is None else f'{fair_c:.2f}'}</b>. "
                + ", ".join(f"{html.escape(label)}: {e['mated_searches']} mated, "
                            f"{e['nonmated_searches']} non-mated searches"
                            for label, e in table.items()) + ".</p>")
            for rate in ("fpir", "tpir"):
                parts.append(f"<img alt='{rate} by {html.escape(column)}' "
                             f"src='data:image/png;base64,{group_figure(r, column, rate)}'>")
            tests = r["group_tests"][column]
            parts.append(_table(
                ["threshold", *table.keys(), "FPIR p (Holm)", "differs?", "FNIR p (Holm)",
                 "differs?"],
                ([f"{t['threshold']:.2f}",
                  *(f"FPIR {_pct(e['rows'][i]['fpir'], 2)} / TPIR {_pct(e['rows'][i]['tpir'])}"
                    for e in table.values()),
                  f"{t['fpir']['p_value']:.3g}", "yes" if t["fpir"]["significant"] else "no",
                  f"{t['fnir']['p_value']:.3g}", "yes" if t["fnir"]["significant"] else "no"]
                 for i, t in enumerate(tests))))
    v = results.get("verification")
    if v:
        parts.append(
            f"<h2>1:1 verification ({html.escape(v['protocol'])})</h2>"
            f"<p>Accuracy {100 * v['accuracy_mean']:.2f}% &plusmn; {100 * v['accuracy_std']:.2f}"
            f" (std over {v['folds']} folds) on {v['pairs_used']} of {v['pairs']} pairs "
            f"({v['pairs_skipped']} skipped: no face in an image; over all {v['pairs']} pairs"
            f", those counted wrong: {100 * v['accuracy_all_pairs_mean']:.2f}%"
            f" &plusmn; {100 * v['accuracy_all_pairs_std']:.2f}); mean chosen threshold "
            f"{v['threshold_mean']:.3f} on the {html.escape(v.get('score', 'similarity'))} "
            "(not the 1:N decision score).</p>")
        parts.append(_table(["fold", "threshold", "accuracy", "pairs"],
                            ([f["fold"], f"{f['threshold']:.3f}", _pct(f["accuracy"], 2),
                              f["pairs"]] for f in v["per_fold"])))
    duplicates = results.get("probable_duplicates")
    if duplicates and duplicates["pairs"]:
        parts.append(
            "<h2>Probably one person under two identities</h2>"
            f"<p>{html.escape(found_sentence(duplicates))} ({html.escape(duplicates['rule'])})."
            " They are counted as false alerts above; if they show one person, merge the "
            "identities and run again.</p>"
            + _table(["search photo", "photo named", "score", "votes",
                      *(f"{n} ({measure(n)})" for n in duplicates["judges"])],
                     ([p["probe"], p["entry"], f"{p['score']:.3f}", p["votes"],
                       *(f"{p['measures'][n]:.3f}" if n in p["measures"] else "no face"
                         for n in duplicates["judges"])] for p in duplicates["pairs"])))
    if ds["unreadable"] or ds["no_face"]:
        parts.append("<h2>Files not used</h2>" + _table(
            ["file", "problem"],
            [(u["file"], u["problem"]) for u in ds["unreadable"]]
            + [(n, "no face found") for n in ds["no_face"]]))
    parts.append("</body></html>\n")
    return "".join(parts)
