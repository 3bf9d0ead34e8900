"""Reports: the post-deployment review generated at completion, a new version whenever
the record changes afterwards (every version still readable), its PDF read back with
pypdf; the annual report summed across deployments, areas and months, as HTML, PDF, CSV
and JSON and from the CLI; and clear errors for bad periods."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from figures_helpers import (
    A_START,
    A_TOTAL,
    complete_a,
    decide,
    run_deployment_a,
    run_deployment_b,
)
from platform_helpers import START, Scenario, ok
from portal_helpers import (
    answer_waiting_feedback,
    assert_no_personal_data,
    publish_realistic_deployment,
)
from pypdf import PdfReader
from typer.testing import CliRunner

from openlfr.cli import app


def _pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def _figure(html: str, column: str) -> str:
    match = re.search(rf'data-test="figure" data-column="{column}">([^<]*)<', html)
    assert match, column
    return match.group(1)


def _versions(html: str) -> list[int]:
    return [int(v) for v in re.findall(r'data-test="review-version-item" data-version="(\d+)"',
                                       html)]


def test_review_waits_for_completion(scenario: Scenario) -> None:
    s = scenario
    run_deployment_a(s)  # active
    r = s.staff.anon.get(f"/deployments/{s.reference}/review")
    assert r.status_code == 200
    assert 'data-test="review-pending"' in r.text
    assert "published when the deployment is completed" in r.text
    pdf = s.staff.anon.get(f"/deployments/{s.reference}/review.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert "published when the deployment is completed" in _pdf_text(pdf.content)


def test_review_is_generated_at_completion_with_figures_feedback_and_gates(
        scenario: Scenario) -> None:
    s = scenario
    ids = run_deployment_a(s)
    # A question left unanswered, and contact details that must never be published.
    ok(s.staff.anon.post(f"/api/public/deployments/{s.reference}/feedback", json={
        "kind": "question", "text": "How many people were stopped?",
        "contact": "asker@example.org"}), 201)
    complete_a(s)
    html = s.staff.anon.get(f"/deployments/{s.reference}/review").text
    assert 'data-version="1"' in html and _versions(html) == [1]
    assert "deployment completed" in html
    assert _figure(html, "tracks") == "1,400"
    assert _figure(html, "alerts") == "8" and _figure(html, "false_alerts") == "3"
    assert _figure(html, "false_alerts_per_1000_tracks") == "2.1429"
    assert _figure(html, "stops") == "4" and _figure(html, "arrests") == "1"
    assert _figure(html, "pending") == "1"
    assert 'data-key="March 2026"' in html and 'data-key="April 2026"' in html
    assert 'data-group="White"' in html and 'data-group="Asian or Asian British"' in html
    # Answered and unanswered feedback, gate history at both decisions, no override.
    assert "I do not want my face scanned" in html and "Faces that match nobody" in html
    assert html.count('data-test="review-answered"') == 1
    assert 'data-test="awaiting-count">1<' in html and "How many people were stopped?" in html
    assert html.count('data-test="review-gate" data-transition="authorise"') == 7
    assert html.count('data-test="review-gate" data-transition="activate"') == 7
    assert "No check was overridden." in html
    assert_no_personal_data(html)
    for per_alert in (f"alert-{uid}" for uid in ids):
        assert per_alert not in html
    # The deployment page links to it; the audit log has the generation.
    page = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert f"/deployments/{s.reference}/review" in page
    events = ok(s.staff["admin"].get("/api/audit/events?limit=1000"))
    generated = [e for e in events if e["action"] == "review.generated"]
    assert len(generated) == 1 and json.loads(generated[0]["details"])["version"] == 1


def test_late_adjudication_and_oversight_review_publish_new_versions(
        scenario: Scenario) -> None:
    s = scenario
    ids = run_deployment_a(s)
    complete_a(s)
    # a7 was left pending; the operator decides it after completion.
    decide(s, ids["a7"], "false_match")
    html = s.staff.anon.get(f"/deployments/{s.reference}/review").text
    assert _versions(html) == [2, 1]
    assert f"alert {ids['a7']} adjudicated after completion" in html
    assert _figure(html, "false_alerts") == "4" and _figure(html, "pending") == "0"
    decide(s, ids["a7"], None, "not_engaged", "Mixed or multiple ethnic groups")
    ok(s.staff["oversight"].post(s.url("/review"), json={
        "summary": "Four false alerts in eight; none led to an arrest."}))
    html = s.staff.anon.get(f"/deployments/{s.reference}/review").text
    assert _versions(html) == [4, 3, 2, 1]
    assert "oversight review recorded" in html
    assert 'data-test="review-summary-text">Four false alerts in eight' in html
    assert 'data-group="Mixed or multiple ethnic groups"' in html
    # Every version stays published as it was.
    v1 = s.staff.anon.get(f"/deployments/{s.reference}/review?version=1").text
    assert 'data-version="1"' in v1 and 'data-test="older-version"' in v1
    assert _figure(v1, "false_alerts") == "3" and _figure(v1, "pending") == "1"
    assert s.staff.anon.get(f"/deployments/{s.reference}/review?version=9").status_code == 404
    assert s.staff.anon.get(f"/deployments/{s.reference}/review?version=x").status_code == 404
    reasons = [json.loads(e["details"])["reason"] for e in ok(s.staff["admin"].get(
        "/api/audit/events?limit=1000")) if e["action"] == "review.generated"]
    assert reasons == ["deployment completed",
                       f"alert {ids['a7']} adjudicated after completion",
                       f"alert {ids['a7']} outcome recorded after completion",
                       "oversight review recorded"]
    assert ok(s.staff["admin"].get("/api/audit/verify"))["ok"]


def test_counts_delivered_late_publish_a_new_version(scenario: Scenario) -> None:
    s = scenario
    run_deployment_a(s)
    complete_a(s)
    # The node's outbox delivers a batch counted before the end, an hour after completion.
    s.clock.now = A_START + timedelta(hours=9)
    node = s.staff.node(s.deployment_id)
    ok(node.post(f"/api/node/deployments/{s.deployment_id}/counters", json={
        "batch_id": "batch-late", "faces_seen": 250, "tracks": 90,
        "period_start": (A_START + timedelta(hours=7, minutes=30)).isoformat(),
        "period_end": (A_START + timedelta(hours=7, minutes=59)).isoformat()}), 201)
    html = s.staff.anon.get(f"/deployments/{s.reference}/review").text
    assert _versions(html) == [2, 1]
    assert "counts batch-late delivered after completion" in html
    assert _figure(html, "faces_seen") == "4,750"


def test_review_pdf_carries_the_figures(scenario: Scenario) -> None:
    s = scenario
    ids = run_deployment_a(s)
    complete_a(s)
    decide(s, ids["a7"], "false_match")
    r = s.staff.anon.get(f"/deployments/{s.reference}/review.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    text = _pdf_text(r.content)
    assert s.reference in text and "Version 2" in text
    for label, value in (("Faces passing (tracks)", "1,400"),
                         ("Face detections (each face on each frame)", "4,500"),
                         ("Alerts", "8"), ("False alerts", "4"),
                         ("False alerts per 1,000 faces passing", "2.8571"), ("Stops", "4"),
                         ("Arrests", "1")):
        assert f"{label} {value}" in text, (label, value, text[:2000])
    assert "March 2026" in text and "April 2026" in text
    assert "31 March 2026, 21:00 BST (20:00 UTC)" in text  # London time first (A_START)
    assert "White" in text and "I do not want my face scanned" in text
    assert "notice period" in text  # the gate history
    assert_no_personal_data(text)
    old = _pdf_text(s.staff.anon.get(f"/deployments/{s.reference}/review.pdf?version=1").content)
    assert "Version 1" in old and "False alerts 3" in old


def _two_deployments(s: Scenario) -> Scenario:
    run_deployment_a(s)
    complete_a(s)
    b = Scenario(s.staff, s.clock)
    run_deployment_b(b)
    return b


def _csv(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def test_annual_report_sums_deployments_per_area_and_month(scenario: Scenario) -> None:
    s = scenario
    b = _two_deployments(s)
    query = "?from=2026-03-01&to=2026-05-31"
    html = s.staff.anon.get(f"/reports/annual{query}").text
    total = re.search(r'data-test="report-total".*?</section>', html, re.S).group(0)  # type: ignore[union-attr]
    assert _figure(total, "faces_seen") == "6,500" and _figure(total, "alerts") == "10"
    assert _figure(total, "false_alerts") == "4" and _figure(total, "arrests") == "2"
    assert 'data-test="by-area-row" data-key="Lambeth"' in html
    assert 'data-test="by-area-row" data-key="Hackney"' in html
    for month in ("March 2026", "April 2026", "May 2026"):
        assert f'data-test="by-month-row" data-key="{month}"' in html
    assert s.reference in html and b.reference in html
    assert_no_personal_data(html)

    columns, rows = _csv(s.staff.anon.get(f"/reports/annual.csv{query}").text)
    body = ok(s.staff.anon.get(f"/reports/annual.json{query}"))
    assert body["columns"] == columns and (body["from"], body["to"]) == ("2026-03-01",
                                                                         "2026-05-31")
    assert [(r["area"], r["month"]) for r in rows] == [
        ("all", "all"), ("Hackney", "all"), ("Lambeth", "all"),
        ("all", "2026-03"), ("all", "2026-04"), ("all", "2026-05")]
    # Areas are the gazetteer's places, named and coded (open data joins on the code).
    assert [r["area_code"] for r in body["rows"]] == [None, "hackney", "lambeth",
                                                      None, None, None]
    by = {(r["area"], r["month"]): r for r in body["rows"]}
    assert {k: by[("Lambeth", "all")][k] for k in A_TOTAL} == A_TOTAL
    assert by[("Hackney", "all")]["faces_seen"] == 2000
    assert by[("all", "all")]["faces_seen"] == 6500 and by[("all", "all")]["stops"] == 5
    assert by[("all", "2026-05")]["arrests"] == 1
    assert [by[("all", m)]["faces_seen"] for m in ("2026-03", "2026-04", "2026-05")] == [
        1500, 3000, 2000]

    pdf = s.staff.anon.get(f"/reports/annual.pdf{query}")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = _pdf_text(pdf.content)
    assert "Faces passing (tracks) 2,100" in text and "Hackney" in text and "Lambeth" in text
    assert "May 2026" in text and b.reference in text


def test_annual_report_counts_only_what_fell_in_the_period(scenario: Scenario) -> None:
    s = scenario
    b = _two_deployments(s)
    body = ok(s.staff.anon.get("/reports/annual.json?from=2026-04-01&to=2026-04-30"))
    total = body["rows"][0]
    assert (total["area"], total["month"]) == ("all", "all")
    assert total["faces_seen"] == 3000 and total["alerts"] == 4 and total["pending"] == 1
    assert {r["area"] for r in body["rows"]} == {"all", "Lambeth"}
    html = s.staff.anon.get("/reports/annual?from=2026-04-01&to=2026-04-30").text
    assert s.reference in html and b.reference not in html
    # Without a period: the twelve months up to today (the clock is in May 2026).
    default = s.staff.anon.get("/reports/annual").text
    assert "13 May 2025 to 12 May 2026" in default
    assert _figure(default, "faces_seen") == "6,500"


@pytest.mark.parametrize(("query", "message"), [
    ("from=2026-13-01&to=2026-12-31", "'2026-13-01' is not a date; write it as YYYY-MM-DD"),
    ("from=yesterday", "'yesterday' is not a date"),
    ("from=2026-1-1", "'2026-1-1' is not a date"),
    ("from=2026-06-01&to=2026-03-01", "starts (2026-06-01) after it ends (2026-03-01)"),
    ("from=2000-01-01&to=2026-01-01", "at most 10 years"),
])
def test_bad_periods_are_refused_clearly(scenario: Scenario, query: str, message: str) -> None:
    for path in ("/reports/annual", "/reports/annual.csv", "/reports/annual.json",
                 "/reports/annual.pdf"):
        r = scenario.staff.anon.get(f"{path}?{query}")
        assert r.status_code == 400, (path, r.status_code)
        assert r.headers["content-type"].startswith("text/html")
        assert message in r.text.replace("&#39;", "'"), r.text


def test_cli_writes_the_annual_report(scenario: Scenario, tmp_path: Path) -> None:
    s = scenario
    _two_deployments(s)
    settings = s.staff.platform.settings
    data_dir = str(settings.data_dir)
    # The same database as the pages: SQLite in the data dir, or CI's PostgreSQL schema.
    env = {"OPENLFR_DATABASE_URL": settings.database_url or ""}
    runner = CliRunner()
    args = ["report", "annual", "--from", "2026-03-01", "--to", "2026-05-31",
            "--data-dir", data_dir]
    csv_run = runner.invoke(app, args, env=env)
    assert csv_run.exit_code == 0, csv_run.stderr
    web_csv = s.staff.anon.get("/reports/annual.csv?from=2026-03-01&to=2026-05-31").text
    assert csv_run.stdout.replace("\r\n", "\n") == web_csv.replace("\r\n", "\n")
    out = tmp_path / "report.pdf"
    pdf_run = runner.invoke(app, [*args, "--format", "pdf", "--out", str(out)],
                            env=env)
    assert pdf_run.exit_code == 0, pdf_run.stderr
    assert "Faces passing (tracks) 2,100" in _pdf_text(out.read_bytes())
    json_run = runner.invoke(app, [*args, "--format", "json"], env=env)
    assert '"faces_seen": 6500' in json_run.stdout
    bad = runner.invoke(app, ["report", "annual", "--from", "2026-06-01", "--to",
                              "2026-03-01", "--data-dir", data_dir],
                        env=env)
    assert bad.exit_code == 1 and bad.stderr.startswith("error: from: the period starts")
    no_out = runner.invoke(app, [*args, "--format", "pdf"], env=env)
    assert no_out.exit_code == 1 and "give --out FILE" in no_out.stderr


def test_feedback_answered_after_completion_makes_a_new_review_version(
        scenario: Scenario) -> None:
    """A review must not keep saying an objection is unanswered once it is answered."""
    s = scenario
    publish_realistic_deployment(s)
    answer_waiting_feedback(s)
    s.clock.now = START
    ok(s.staff["operator"].post(s.url("/activate")))
    # A complaint during the deployment (due 20 days on; it does not hold activation).
    ok(s.staff.anon.post(f"/api/public/deployments/{s.reference}/feedback", json={
        "kind": "complaint", "text": "Nobody at the van could say where the signs were."}), 201)
    s.clock.advance(hours=8)
    ok(s.staff["operator"].post(s.url("/complete")))
    feedback = ok(s.staff["planner"].get(s.url("/feedback")))
    question = next(f for f in feedback if f["answer"] is None)
    before = s.staff.anon.get(f"/deployments/{s.reference}/review").text
    ok(s.staff["planner"].post(f"/api/feedback/{question['id']}/answer", json={
        "answer": "Upheld: the signs were 20 m before the cameras; officers are now briefed "
                  "to show them.", "outcome": "upheld"}))
    after = s.staff.anon.get(f"/deployments/{s.reference}/review").text
    assert before != after
    assert f"feedback {question['id']} answered after completion" in after
