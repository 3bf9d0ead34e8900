"""Areas from a gazetteer: names, aliases and codes resolve to one place, free text is
refused with the closest names, motions, feeds, subscriptions and councillors meet on the
codes, another list can be configured, and the migration maps existing free-text areas to
codes (flagging what does not match)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from platform_helpers import PASSWORD, Scenario, ok
from sqlalchemy import select
from typer.testing import CliRunner

from openlfr.cli import app as cli_app
from openlfr.governance.areas import AreaKind, UnknownArea, normalise
from openlfr.services.gazetteer import DEFAULT_GAZETTEER, load_gazetteer
from openlfr.storage import models as m
from openlfr.storage.db import make_engine, migrate

LONDON = load_gazetteer(DEFAULT_GAZETTEER)


def test_the_bundled_list_has_every_london_borough_and_their_wards() -> None:
    boroughs = LONDON.boroughs()
    assert len(boroughs) == 33  # 32 London boroughs and the City of London
    assert {b.ons_code for b in boroughs} == {f"E090000{n:02d}" for n in range(1, 34)}
    assert len(LONDON) - len(boroughs) > 600
    assert {w.name for w in LONDON.wards_of("lambeth")} >= {"Vauxhall", "Waterloo & South Bank",
                                                             "Brixton Windrush"}
    assert all(w.kind is AreaKind.WARD and w.parent == "lambeth"
               for w in LONDON.wards_of("lambeth"))


@pytest.mark.parametrize(("text", "code"), [
    ("Newham", "newham"),
    ("London Borough of Newham", "newham"),
    ("newham council", "newham"),
    ("NEWHAM", "newham"),
    ("newham", "newham"),
    ("City of Westminster", "westminster"),
    ("Royal Borough of Greenwich", "greenwich"),
    ("Hammersmith & Fulham", "hammersmith-and-fulham"),
    ("Kingston-upon-Thames", "kingston-upon-thames"),
    ("Lambeth/Vauxhall", "lambeth--vauxhall"),
    ("Lambeth / waterloo and south bank", "lambeth--waterloo-and-south-bank"),
    ("lambeth--knights-hill", "lambeth--knights-hill"),
])
def test_names_aliases_and_codes_are_one_place(text: str, code: str) -> None:
    assert LONDON.resolve(text).code == code


@pytest.mark.parametrize(("text", "suggestion"), [
    ("Lambth", "Lambeth"),
    ("Newhamm", "Newham"),
    ("Lambeth/Vauxhal", "Vauxhall"),
    ("Lambeth/Waterloo and Southbank", "Waterloo & South Bank"),
])
def test_free_text_is_refused_with_the_closest_known_names(text: str, suggestion: str) -> None:
    with pytest.raises(UnknownArea) as refused:
        LONDON.resolve(text)
    assert suggestion in refused.value.suggestions
    assert f"did you mean: {suggestion}" in str(refused.value)


def test_normalising_ignores_what_does_not_change_the_place() -> None:
    assert normalise("London Borough of Barking & Dagenham Council") == "barking and dagenham"
    assert normalise("St. Mary's") == normalise("Saint Marys") == "st marys"


def test_the_api_takes_gazetteer_names_and_refuses_free_text(scenario: Scenario) -> None:
    s, planner = scenario, scenario.staff["planner"]
    d = s.draft(borough="London Borough of Newham", ward="Canning Town North")
    assert (d["borough"], d["borough_code"]) == ("Newham", "newham")
    assert (d["ward"], d["ward_code"]) == ("Canning Town North", "newham--canning-town-north")
    r = planner.post("/api/deployments", json=s.deployment_body(borough="Lambth"))
    assert r.status_code == 422
    [problem] = r.json()["detail"]
    assert problem["loc"] == ["body", "borough"] and "did you mean: Lambeth" in problem["msg"]
    r = planner.post("/api/deployments", json=s.deployment_body(ward="Riverside"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "ward"]
    areas = ok(s.staff.anon.get("/api/public/areas"))
    lambeth = next(b for b in areas if b["code"] == "lambeth")
    assert lambeth["ons_code"] == "E09000022"
    assert {"code": "lambeth--vauxhall", "name": "Vauxhall"} in lambeth["wards"]


def test_differently_spelled_names_meet_on_one_code(scenario: Scenario) -> None:
    """A motion for "Newham" covers a deployment drafted in "London Borough of Newham";
    their feeds and subscriptions are one place too."""
    s, staff = scenario, scenario.staff
    ok(staff["oversight"].post("/api/motions", json={
        "body": "Newham Council", "passed_on": "2026-02-10", "stance": "conditions",
        "summary": "Four weeks' notice.", "areas": ["Newham"]}), 201)
    s.draft(borough="London Borough of Newham", ward=None)
    gates = {g["name"]: g for g in ok(staff["planner"].get(s.url("/gates")))["gates"]}
    assert not gates["council_motions"]["passed"]
    assert "Newham Council" in gates["council_motions"]["reason"]
    ok(staff["planner"].post(s.url("/propose")))
    ok(staff["planner"].post(s.url("/publish-notice")))
    assert s.reference in staff.anon.get("/areas/newham/deployments.ics").text
    r = staff.anon.get("/areas/london-borough-of-newham/deployments.atom",
                       follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"].endswith("/areas/newham/"
                                                                   "deployments.atom")
    r = staff.anon.post("/areas/London-Borough-of-Newham/subscribe",
                        data={"email": "resident@example.org"}, follow_redirects=False)
    assert r.status_code == 303
    with staff.platform.sessions() as session:
        [sub] = session.scalars(select(m.NoticeSubscription))
    assert sub.area_code == "newham"


def test_councillors_act_for_their_areas(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    admin, oversight = staff["admin"], staff["oversight"]
    body = {"username": "cllr.ade", "password": PASSWORD, "role": "councillor"}
    accounts = "/api/oversight/accounts"  # councillors are oversight's to add
    r = oversight.post(accounts, json=body)
    assert r.status_code == 422 and "at least one borough or ward" in r.text
    r = oversight.post(accounts, json={**body, "areas": ["Lambth"]})
    assert r.status_code == 422 and "did you mean: Lambeth" in r.text
    r = admin.post("/api/users", json={**body, "username": "op.two", "role": "operator",
                                       "areas": ["Lambeth"]})
    assert r.status_code == 422 and "only a councillor has areas" in r.text
    r = admin.post("/api/users", json={**body, "areas": ["Lambeth"]})
    assert r.status_code == 403 and "managed by oversight" in r.json()["detail"]
    user = ok(oversight.post(accounts, json={**body, "areas": ["London Borough of Lambeth",
                                                               "Hackney/Dalston"]}), 201)
    assert user["areas"] == ["lambeth", "hackney--dalston"]
    councillor = staff.first_login("cllr.ade", staff.countersign(user)["first_login_code"])
    motion = {"body": "Lambeth Council", "passed_on": "2026-02-10", "stance": "oppose",
              "summary": "Opposes LFR in the borough.", "areas": ["Lambeth/Vauxhall"]}
    ok(councillor.post("/api/motions", json=motion), 201)
    r = councillor.post("/api/motions", json={**motion, "areas": ["Hackney"]})
    assert r.status_code == 403 and "only for their own areas" in r.json()["detail"]
    s.draft()  # Lambeth / Vauxhall
    ok(councillor.post(s.url("/comments"), json={"body": "The ward committee objects."}), 201)
    elsewhere = ok(staff["planner"].post("/api/deployments", json=s.deployment_body(
        borough="Southwark", ward=None)), 201)
    r = councillor.post(f"/api/deployments/{elsewhere['id']}/comments",
                        json={"body": "Not my ward, but still."})
    assert r.status_code == 403


def test_another_list_can_be_configured(tmp_path: Path) -> None:
    path = tmp_path / "shire.csv"
    path.write_text("code,name,kind,parent,ons_code,aliases\n"
                    "midtown,Midtown,borough,,,Midtown District Council\n"
                    "midtown--east,East,ward,midtown,,\n", encoding="utf-8")
    shire = load_gazetteer(path)
    assert shire.resolve("Midtown District Council/East").code == "midtown--east"
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,kind,parent,ons_code,aliases\nx,X,county,,,\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: kind must be borough or ward"):
        load_gazetteer(bad)


# --- migration of existing free-text areas --------------------------------------------------


def test_migration_maps_free_text_areas_to_codes_and_flags_the_rest(
        any_database_url: str) -> None:
    engine = make_engine(any_database_url)
    migrate(engine, "0002")
    now = datetime(2026, 1, 5, 12, 0)  # naive UTC, as the schema of 0002 stores it
    legacy = sa.MetaData()
    legacy.reflect(engine, only=["deployments", "council_motions", "gate_overrides",
                                 "notice_subscriptions"])
    tables = legacy.tables
    with engine.begin() as conn:
        conn.execute(tables["deployments"].insert(), [
            {"id": n, "reference": f"LFR-2026-000{n}", "title": "t", "borough": borough,
             "ward": ward, "purpose": "p", "offence_categories": [],
             "intelligence_basis": "i", "legal_basis": "l", "threshold": 0.6,
             "camera_count": 1, "signage": "s", "start_at": now, "end_at": now,
             "status": "draft", "gate_snapshots": {}, "created_by": "x", "created_at": now,
             "updated_at": now}
            for n, (borough, ward) in enumerate([("London Borough of Newham", None),
                                                 ("Lambeth", "Riverside"),
                                                 ("Lambeth Borugh", None),
                                                 ("lambeth", "vauxhall")], start=1)])
        conn.execute(tables["council_motions"].insert(), {
            "id": 1, "body": "Newham Council", "passed_on": date(2026, 1, 1),
            "stance": "suspend", "summary": "s", "recorded_by": "x", "created_at": now,
            "areas": ["Newham", "Lambeth/Riverside", "Atlantis"]})
        conn.execute(tables["gate_overrides"].insert(), {
            "id": 1, "deployment_id": 1, "transition": "authorise", "failing_gates": [],
            "justification": "one person alone", "recorded_by": "auth", "recorded_at": now})
        conn.execute(tables["notice_subscriptions"].insert(), [
            {"id": n, "email": "a@example.org", "area_slug": slug, "created_at": now,
             "token": f"token-{n}-xxxxxxxx"}
            for n, slug in enumerate(["lambeth--vauxhall", "london-borough-of-newham",
                                      "lambeth--riverside"], start=1)])
    migrate(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(
            m.Deployment.borough, m.Deployment.ward, m.Deployment.borough_code,
            m.Deployment.ward_code, m.Deployment.area_flag).order_by(m.Deployment.id)).all()
        motion = conn.execute(sa.select(m.CouncilMotion.area_codes,
                                        m.CouncilMotion.unmatched_areas)).one()
        override = conn.execute(sa.select(m.GateOverride.status)).scalar()
        subs = conn.execute(sa.select(m.NoticeSubscription.area_code,
                                      m.NoticeSubscription.area_flag)
                            .order_by(m.NoticeSubscription.id)).all()
    engine.dispose()
    assert tuple(rows[0]) == ("Newham", None, "newham", None, None)
    assert tuple(rows[1][:4]) == ("Lambeth", "Riverside", "lambeth", None)
    assert "'Riverside' is not a ward of Lambeth" in rows[1][4]
    assert rows[2][2] is None and "did you mean: Lambeth" in rows[2][4]
    assert tuple(rows[3]) == ("Lambeth", "Vauxhall", "lambeth", "lambeth--vauxhall", None)
    # The motion's known areas are codes; an unknown ward widens to its borough; the
    # rest is kept, flagged.
    assert motion[0] == ["newham", "lambeth"]
    assert motion[1] == ["Lambeth/Riverside", "Atlantis"]
    assert override == "single_signature"
    assert [x[0] for x in subs] == ["lambeth--vauxhall", "newham", "lambeth--riverside"]
    assert subs[0][1] is None and subs[1][1] is None
    assert "'riverside' is not a ward of Lambeth" in subs[2][1]


def test_the_cli_finds_areas_and_lists_flagged_records(tmp_path: Path) -> None:
    runner = CliRunner()
    found = runner.invoke(cli_app, ["areas", "find", "London Borough of Newham"])
    assert found.exit_code == 0 and found.output == "newham\tNewham\n"
    missing = runner.invoke(cli_app, ["areas", "find", "Lambth"])
    assert missing.exit_code != 0 and "did you mean: Lambeth" in missing.output
    clean = runner.invoke(cli_app, ["areas", "flagged", "--data-dir", str(tmp_path)])
    assert clean.exit_code == 0 and "no flagged areas" in clean.output
