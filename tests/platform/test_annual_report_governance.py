"""The annual report's governance figures, tested against a seeded history: notice given,
an override with both justifications, a consultation's reach by postcode district,
objections, complaints and redress answered on time, late or not at all, a council motion
and its response, what followed arrests; the same figures in HTML, JSON, CSV and a PDF
with charts."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pypdf
from platform_helpers import ASKED_BECAUSE, COUNTERSIGNED_BECAUSE, START, T0, Scenario, ok
from sqlalchemy import select

from openlfr.storage import models as m

PERIOD = f"?from={(T0 - timedelta(days=60)).date()}&to={(START + timedelta(days=30)).date()}"


def _seed(s: Scenario) -> None:
    """One deployment, noticed 20 days ahead, that went ahead by an override of an
    unanswered objection; and, written as history straight into the tables, a
    consultation's districts, a redress request answered late, a complaint never
    answered, a council motion answered after 12 days."""
    s.prepare()
    s.late_objection()  # unanswered: the consultation gate fails, two people override it
    s.override("authorise")
    s.clock.now = START
    ok(s.staff["operator"].post(s.url("/activate")))
    p = s.staff.platform
    with p.sessions.begin() as db:
        consultation_id = db.scalar(select(m.Consultation.id).where(
            m.Consultation.deployment_id == s.deployment_id))
        for district in ("SE11", "SE11", "SW8"):
            db.add(m.ConsultationResponse(consultation_id=consultation_id, answers={},
                                          postcode_district=district, submitted_at=T0))
        db.add(m.Feedback(deployment_id=s.deployment_id, kind="redress_request",
                          text="I was stopped in error.", submitted_at=START,
                          answer_due_at=START + timedelta(days=14),
                          answer="Upheld; the record was deleted.",
                          answered_at=START + timedelta(days=20), hidden_for_abuse=False))
        db.add(m.Feedback(deployment_id=s.deployment_id, kind="complaint",
                          text="Signs were missing.", submitted_at=START,
                          answer_due_at=START + timedelta(days=14), hidden_for_abuse=False))
        db.add(m.CouncilMotion(body="Lambeth Council", passed_on=(T0 - timedelta(days=5)).date(),
                               stance="conditions", summary="Give residents notice.",
                               area_codes=["lambeth"], points=["notice", "figures"],
                               point_answers=["Notice is given at least 14 days ahead "
                                              "in every ward.", ""],
                               response="We will.",
                               response_published_at=T0 + timedelta(days=7),
                               recorded_by="oversight", created_at=T0))


def test_governance_figures_of_a_seeded_history(scenario: Scenario) -> None:
    s = scenario
    _seed(s)
    data = ok(s.staff.anon.get(f"/reports/annual.json{PERIOD}"))
    g = data["governance"]
    assert (g["notice"]["deployments"], g["notice"]["median_days"],
            g["notice"]["min_days"]) == (1, 20.0, 20)
    [override] = g["overrides"]
    assert override["reference"] == s.reference and override["transition"] == "authorise"
    assert override["failing_gates"] == ["consultation_and_objections"]
    assert (override["justification"], override["countersignature"]) == (
        ASKED_BECAUSE, COUNTERSIGNED_BECAUSE)
    c = g["consultations"]
    # The scenario's consultation: one response without a district and the rest of the
    # minimum from SE11; the seeded history adds SE11 twice and SW8 once.
    minimum = max(1, s.staff.platform.settings.consultation_min_responses)
    assert (c["consultations"], c["responses"], c["districts_reached"]) == (1, minimum + 3, 2)
    assert c["by_district"] == {"SE11": minimum + 1, "SW8": 1, "not given": 1}
    answers = {a["kind"]: a for a in g["answers"]}
    assert (answers["objection"]["received"], answers["objection"]["answered_on_time"],
            answers["objection"]["unanswered"]) == (2, 1, 1)
    assert (answers["redress_request"]["received"], answers["redress_request"]["answered_late"],
            answers["redress_request"]["answered_on_time"]) == (1, 1, 0)
    assert (answers["complaint"]["received"], answers["complaint"]["unanswered"]) == (1, 1)
    [motion] = g["motions"]
    assert (motion["days_to_response"], motion["points"], motion["points_answered"]) == (12, 2, 1)
    assert g["later_outcomes"]["not_recorded"] == 0

    rows = list(csv.DictReader(io.StringIO(
        s.staff.anon.get(f"/reports/annual-governance.csv{PERIOD}").text)))
    by = {(r["section"], r["item"], r["measure"]): r["value"] for r in rows}
    assert by[("notice", "all", "median_days")] == "20.0"
    assert by[("consultations", "SW8", "responses")] == "1"
    assert by[("redress_request", "all", "answered_late")] == "1"
    assert by[("overrides", "all", "countersigned")] == "1"

    page = s.staff.anon.get(f"/reports/annual{PERIOD}")
    assert page.status_code == 200
    assert 'data-test="report-governance"' in page.text and ASKED_BECAUSE in page.text
    assert page.text.count('data-test="district"') == 3

    pdf = s.staff.anon.get(f"/reports/annual.pdf{PERIOD}")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(pdf.content))
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "How the powers were used" in " ".join(text.split())
    images = sum(len(page.images) for page in reader.pages)
    assert images >= 3  # notice, districts, answers


def test_the_cli_gives_the_same_governance_figures(scenario: Scenario) -> None:
    import json

    from typer.testing import CliRunner

    from openlfr.cli import app

    s = scenario
    _seed(s)
    settings = s.staff.platform.settings
    run = CliRunner().invoke(app, [
        "report", "annual", "--from", PERIOD.split("=")[1].split("&")[0],
        "--to", PERIOD.rsplit("=", 1)[1], "--format", "json",
        "--data-dir", str(settings.data_dir)],
        env={"OPENLFR_DATABASE_URL": settings.database_url or ""})
    assert run.exit_code == 0, run.stderr
    web = ok(s.staff.anon.get(f"/reports/annual.json{PERIOD}"))["governance"]
    assert json.loads(run.stdout)["governance"] == web


def test_an_empty_period_says_so(scenario: Scenario) -> None:
    g = ok(scenario.staff.anon.get("/reports/annual.json?from=2020-01-01&to=2020-12-31"))[
        "governance"]
    assert g["notice"] == {"deployments": 0, "median_days": None, "min_days": None, "each": []}
    assert g["overrides"] == [] and g["motions"] == []
    assert g["consultations"]["responses"] == 0
    pdf = scenario.staff.anon.get("/reports/annual.pdf?from=2020-01-01&to=2020-12-31")
    assert pdf.status_code == 200
    page = scenario.staff.anon.get("/reports/annual?from=2020-01-01&to=2020-12-31")
    assert "No deployment started in the period." in page.text
    assert "No check was overridden." in page.text
