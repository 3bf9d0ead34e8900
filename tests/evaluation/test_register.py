"""`--register`: the audit is POSTed to the platform's equity-audits endpoint with the
API key, in the platform's own schema; refusals come back as one clear error."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import pytest

from openlfr.evaluation import EvaluationOptions, RegistrationError, evaluate_descriptions
from openlfr.evaluation.register import (
    MAX_IDENTIFICATION_ROWS,
    audit_payload,
    audits_url,
    identification_rows,
    register_audit,
)

from .conftest import GOOD_KEY, MODEL_ID, FakePlatform, GroupSpec, Window, make_synthetic

SYNTHETIC = make_synthetic([GroupSpec("A", 30, 0.04, 0.05), GroupSpec("B", 30, 0.2, 0.1)])
#: Two watchlist sizes: the smaller leaves the twins (filler) off, so no false alert.
SIZES = [10, SYNTHETIC.watchlist_size]
WINDOW = Window.at(SYNTHETIC.watchlist_size)
#: Lookalikes alert at the first, not at the others (see conftest).
THRESHOLDS = [WINDOW.known, WINDOW.fair, WINDOW.high]


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return evaluate_descriptions(
        SYNTHETIC.dataset, SYNTHETIC.descriptions,
        EvaluationOptions(thresholds=THRESHOLDS, watchlist_sizes=SIZES), model_id=MODEL_ID,
        filler=SYNTHETIC.filler)


def test_payload_fits_the_platforms_schema(results: dict[str, Any]) -> None:
    payload = audit_payload(results, "synthetic set")
    assert payload["fair_threshold"] == WINDOW.fair
    assert payload["recommended_threshold"] == WINDOW.fair
    assert payload["thresholds_swept"] == THRESHOLDS
    assert MODEL_ID in payload["engine_version"]
    # What the platform matches against the register entry's model, and the watchlist's
    # second opinion: the model measured, and none (this run decided alone).
    assert payload["model_id"] == results["engine"]["model_id"] == MODEL_ID
    assert payload["second_opinion_model"] is None
    groups = {(g["group"], g["threshold"]): g for g in payload["group_results"]}
    assert set(groups) == {(f"group={x}", t) for x in "AB" for t in THRESHOLDS}
    b = groups[("group=B", WINDOW.known)]
    assert b["ci_low"] <= b["fpir"] <= b["ci_high"]
    assert b["fpir"] > groups[("group=A", WINDOW.known)]["fpir"]
    # Group results are those of the largest watchlist, where the lookalikes alert.
    largest = results["identification"][-1]["groups"]["group"]["B"]["rows"][0]
    assert b["fpir"] == largest["fpir"] > 0
    # The platform's own input model accepts it (a contract test, not a copy of it).
    schemas = pytest.importorskip("openlfr.services.schemas")
    schemas.EquityAuditIn.model_validate(payload)


def test_payload_carries_the_overall_rates_of_every_watchlist_size(
    results: dict[str, Any],
) -> None:
    """The threshold gate reads these rows: one per watchlist size and threshold, the
    overall figures of the evaluation, FPIR with its 95% interval."""
    rows = audit_payload(results, "synthetic set")["identification"]
    assert [(r["watchlist_size"], r["threshold"]) for r in rows] == [
        (size, t) for size in SIZES for t in THRESHOLDS]
    for result in results["identification"]:
        for overall in result["overall"]:
            [row] = [r for r in rows if (r["watchlist_size"], r["threshold"])
                     == (result["watchlist_size"], overall["threshold"])]
            assert row == {
                "watchlist_size": result["watchlist_size"], "threshold": overall["threshold"],
                "tpir": overall["tpir"], "fpir": overall["fpir"],
                "fpir_ci_low": overall["fpir_ci"][0], "fpir_ci_high": overall["fpir_ci"][1],
                "nonmated_searches": overall["nonmated_searches"],
                "false_alerts": overall["false_alerts"]}
            assert row["fpir"] == row["false_alerts"] / row["nonmated_searches"]
    by_key = {(r["watchlist_size"], r["threshold"]): r for r in rows}
    small, large = SIZES
    # Lookalikes alert falsely only where their twins are on the watchlist.
    assert by_key[(large, WINDOW.known)]["fpir"] > 0
    assert by_key[(small, WINDOW.known)]["fpir"] == 0
    assert by_key[(large, WINDOW.fair)]["fpir"] == 0 < by_key[(large, WINDOW.fair)]["fpir_ci_high"]


def test_rows_without_an_fpir_are_left_out_and_intervals_hold_their_rate(
    results: dict[str, Any],
) -> None:
    changed = copy.deepcopy(results)
    first, second = changed["identification"][0]["overall"][:2]
    first.update(fpir=None, fpir_ci=[None, None])  # no non-mated search: no rate
    # A Wilson interval at 0 false alerts can start a rounding error above 0.
    second.update(fpir=0.0, fpir_ci=[6.9e-18, 0.07])
    rows = identification_rows(changed)
    assert len(rows) == len(SIZES) * len(THRESHOLDS) - 1
    assert (SIZES[0], first["threshold"]) not in {(r["watchlist_size"], r["threshold"])
                                                  for r in rows}
    [kept] = [r for r in rows if (r["watchlist_size"], r["threshold"])
              == (SIZES[0], second["threshold"])]
    assert kept["fpir_ci_low"] == 0.0 and kept["fpir_ci_high"] == 0.07
    schemas = pytest.importorskip("openlfr.services.schemas")
    schemas.EquityAuditIn.model_validate(audit_payload(changed, "synthetic set"))


def test_the_payload_names_the_second_opinion_the_results_decided_with(
    results: dict[str, Any],
) -> None:
    """What the platform matches a watchlist on comes from the results themselves: the
    model measured and the second opinion it decided with (results.json's engine)."""
    opinion = {"model_id": "dlib_face_recognition_resnet_model_v1:synthetic",
               "rule": "score + 0.25 where this network puts the same entry first"}
    second = {**results, "engine": {**results["engine"], "second_opinion": opinion}}
    payload = audit_payload(second, "synthetic set")
    assert (payload["model_id"], payload["second_opinion_model"]) == (
        MODEL_ID, opinion["model_id"])
    schemas = pytest.importorskip("openlfr.services.schemas")
    schemas.EquityAuditIn.model_validate(payload)


def test_group_intervals_hold_their_rate(results: dict[str, Any]) -> None:
    """A Wilson interval a rounding error off the group's rate is sent as the rate, so
    the platform (which refuses an interval that misses its rate) takes it."""
    changed = copy.deepcopy(results)
    table = changed["identification"][-1]["groups"]["group"]["A"]["rows"]
    table[-1].update(fpir=0.0, fpir_ci=[6.9e-18, 0.07])
    payload = audit_payload(changed, "synthetic set")
    row = next(g for g in payload["group_results"]
               if (g["group"], g["threshold"]) == ("group=A", table[-1]["threshold"]))
    assert (row["ci_low"], row["ci_high"]) == (0.0, 0.07)
    schemas = pytest.importorskip("openlfr.services.schemas")
    schemas.EquityAuditIn.model_validate(payload)


def test_more_identification_rows_than_the_platform_takes_are_refused(
    results: dict[str, Any],
) -> None:
    per_size = len(THRESHOLDS)
    sizes = MAX_IDENTIFICATION_ROWS // per_size + 1
    many = {**results, "identification": [
        {**results["identification"][0], "watchlist_size": n} for n in range(1, sizes + 1)]}
    with pytest.raises(RegistrationError, match=rf"the platform takes at most "
                                                rf"{MAX_IDENTIFICATION_ROWS}"):
        audit_payload(many, "x")
    fits = {**many, "identification": many["identification"][:-1]}
    assert len(audit_payload(fits, "x")["identification"]) <= MAX_IDENTIFICATION_ROWS
    schemas = pytest.importorskip("openlfr.services.schemas")
    assert schemas.EquityAuditIn.model_fields["identification"].metadata[0].max_length == (
        MAX_IDENTIFICATION_ROWS)


def test_register_posts_to_the_equity_audits_endpoint_with_the_key(
    platform_url: str, results: dict[str, Any]
) -> None:
    payload = audit_payload(results, "synthetic set")
    record = register_audit(f"{platform_url}/api/technology/3", GOOD_KEY, payload)
    assert record["id"] == 12
    [request] = FakePlatform.received
    assert request["path"] == "/api/technology/3/equity-audits"
    assert request["key"] == GOOD_KEY
    assert request["body"] == payload


def test_refusals_and_unreachable_platforms_are_one_clear_error(
    platform_url: str, results: dict[str, Any]
) -> None:
    payload = audit_payload(results, "synthetic set")
    with pytest.raises(RegistrationError, match="HTTP 401: the API key was refused"):
        register_audit(f"{platform_url}/api/technology/3", "wrong", payload)
    with pytest.raises(RegistrationError, match="HTTP 404: no such technology register entry"):
        register_audit(f"{platform_url}/api/technology/9/equity-audits", GOOD_KEY, payload)
    with pytest.raises(RegistrationError, match="cannot reach the platform"):
        register_audit("http://127.0.0.1:9/api/technology/3", GOOD_KEY, payload, timeout_s=2)


@pytest.mark.parametrize(
    "url,expected",
    [
        ("https://p.example/api/technology/3", "https://p.example/api/technology/3/equity-audits"),
        ("https://p.example/api/technology/3/", "https://p.example/api/technology/3/equity-audits"),
        ("http://h:8000/api/technology/3/equity-audits", "http://h:8000/api/technology/3/equity-audits"),
    ],
)
def test_audits_url(url: str, expected: str) -> None:
    assert audits_url(url) == expected


@pytest.mark.parametrize("url", ["ftp://p.example/api/technology/3", "https://p.example/api",
                                 "p.example/api/technology/3"])
def test_bad_register_urls_say_what_to_give(url: str) -> None:
    with pytest.raises(RegistrationError, match="technology"):
        audits_url(url)


def test_no_fair_threshold_cannot_be_registered(results: dict[str, Any]) -> None:
    with pytest.raises(RegistrationError, match="no fair threshold"):
        audit_payload({**results, "fair_threshold": None}, "x")


def test_against_the_real_platform(tmp_path: Path, results: dict[str, Any]) -> None:
    """The platform's own app on a throwaway SQLite database: the payload is accepted by
    POST /api/technology/{id}/equity-audits on an entry of the model it measured, and its
    fair threshold is what the register then shows; on an entry of another model it is
    refused (422 on model_id), and an engine-node API key is refused with a clear message
    (see the note in register.py: only oversight and its audit tools' keys record
    audits)."""
    web = pytest.importorskip("openlfr.web")
    with warnings.catch_warnings():  # starlette's note about its httpx use is not ours
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from datetime import timedelta

    from openlfr.services import deployments, technology, users
    from openlfr.services.platform import SYSTEM_ACTOR, Platform
    from openlfr.services.schemas import ApiKeyIn, DeploymentIn, TechnologyIn, UserIn
    from openlfr.settings import Settings

    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'p.sqlite3'}")
    platform = Platform.open(settings)
    try:
        entry = technology.register_technology(platform, SYSTEM_ACTOR, TechnologyIn(
            algorithm="synthetic descriptor", model_version=results["engine"]["model_id"],
            vendor_or_project="openlfr", default_threshold=0.5))
        another = technology.register_technology(platform, SYSTEM_ACTOR, TechnologyIn(
            algorithm="dlib ResNet", model_version="v1", vendor_or_project="openlfr",
            default_threshold=0.5))
        password = "correct horse battery staple"
        users.create_user(platform, SYSTEM_ACTOR, UserIn(
            username="auditor", password=password, role="oversight"))
        app = web.create_app(platform=platform)
        url = f"http://testserver/api/technology/{entry.id}"
        payload = audit_payload(results, "synthetic set")

        with TestClient(app, base_url="http://testserver") as person:
            login = person.post("/api/auth/login",
                                json={"username": "auditor", "password": password})
            assert login.status_code == 200, login.text
            created = person.post(audits_url(url), json=payload)
            assert created.status_code == 201, created.text
            register = person.get("/api/technology").json()
            # Another network's entry: its watchlists would pass on rates nobody measured.
            elsewhere = person.post(f"http://testserver/api/technology/{another.id}"
                                    "/equity-audits", json=payload)
            assert elsewhere.status_code == 422, elsewhere.text
            [detail] = elsewhere.json()["detail"]
            assert detail["loc"] == ["body", "model_id"]
            assert f"the audit measured {MODEL_ID}, but this register entry is for v1" in (
                detail["msg"])
            assert not [r for r in person.get("/api/technology").json()
                        if r["technology"]["id"] == another.id and r["last_equity_audit"]]
        [row] = [r for r in register if r["technology"]["id"] == entry.id]
        assert row["last_equity_audit"]["fair_threshold"] == results["fair_threshold"]
        # As sent, plus the upper bound the platform computed from the counts: the same
        # exact interval evaluate computed.
        stored = row["last_equity_audit"]["identification"]
        assert [{k: v for k, v in r.items() if k != "fpir_upper_exact"} for r in stored] == (
            payload["identification"])
        for r in stored:
            assert r["fpir_upper_exact"] == pytest.approx(r["fpir_ci_high"], rel=1e-9)

        # A node key serves one deployment: a draft one is enough to be refused here.
        planner = users.create_user(platform, SYSTEM_ACTOR, UserIn(
            username="planner", password=password, role="planner"))
        soon = platform.clock() + timedelta(days=30)
        draft = deployments.create_deployment(
            platform, users.actor_of(planner), DeploymentIn.model_validate({
                "title": "Vauxhall high street", "borough": "Lambeth",
                "sites": [{"name": "Station forecourt", "street": "Wandsworth Road",
                           "postcode": "SW8 1SR", "lat": 51.4952, "lon": -0.1115}],
                "start_at": soon, "end_at": soon + timedelta(hours=8),
                "purpose": "Locate people wanted for robbery and violent offences.",
                "offence_categories": ["robbery"],
                "intelligence_basis": "Robbery reports near the station doubled this year.",
                "legal_basis": "Common law policing powers; force LFR policy v3.",
                "threshold": 0.64, "camera_count": 1,
                "signage": "Signs at every approach to the station forecourt."}))
        node_key = users.create_api_key(platform, SYSTEM_ACTOR, ApiKeyIn(
            name="van-1", deployment_id=draft.id))
        with (TestClient(app, base_url="http://testserver") as node,
              pytest.raises(RegistrationError, match="HTTP 403: the key may not record")):
            register_audit(url, node_key.secret, payload, client=node)

        audit_key = users.create_api_key(
            platform, SYSTEM_ACTOR, ApiKeyIn(name="audit-cli", role="audit_tool"))
        with TestClient(app, base_url="http://testserver") as tool:
            register_audit(url, audit_key.secret, payload, client=tool)
            listed = tool.get("/api/technology", headers={"X-API-Key": audit_key.secret})
            assert listed.status_code == 200, listed.text
            audits = [r for r in listed.json() if r["technology"]["id"] == entry.id]
        assert audits[0]["last_equity_audit"]["fair_threshold"] == results["fair_threshold"]
    finally:
        platform.close()


def test_the_published_summary_says_how_many_false_alerts_look_like_one_person_twice(
    results: dict[str, Any],
) -> None:
    plain = audit_payload(results, "synthetic set")["summary"]
    assert "two identities" not in plain
    flagged = {**results, "probable_duplicates": {
        "found": 12, "alerts_checked": 15, "watchlist_size": 61, "threshold_from": 0.3,
        "found_at_default_threshold": 9, "alerts_checked_at_default_threshold": 10,
        "judges": ["w600k", "dlib", "mobilefacenet"]}}
    payload = audit_payload(flagged, "synthetic set")
    assert payload["summary"].startswith(plain)
    assert ("12 of the 15 non-mated alerts at watchlist size 61 (threshold 0.30 and up; 9 of "
            "10 at the default 0.5) name a photo that 2 of the 3 networks (w600k, dlib, "
            "mobilefacenet) call the same person, probably one person filed under two "
            "identities; they are counted as false alerts") in payload["summary"]
    schemas = pytest.importorskip("openlfr.services.schemas")
    schemas.EquityAuditIn.model_validate(payload)
