"""Helpers for the platform tests, used by the fixtures in conftest.py and by the tests:
a controllable clock, fresh PostgreSQL schemas, HTTP clients logged in as each role, and
a scenario that walks a deployment through its life."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import sqlite3
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from sqlalchemy.engine import make_url

from openlfr.services import users
from openlfr.services.consultations import submit_response
from openlfr.services.platform import PUBLIC_ACTOR, SYSTEM_ACTOR, Platform
from openlfr.services.schemas import ApiKeyIn, ConsultationResponseIn, UserIn
from openlfr.settings import DATABASE_FILE_NAME, Settings
from openlfr.web import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient



PASSWORD = "correct horse battery staple"
T = TypeVar("T")


ROLES = ("operator", "planner", "authoriser", "oversight", "councillor", "admin")
#: The areas a test councillor acts for.
COUNCILLOR_AREAS = ["Lambeth"]
#: The descriptor model of the scenario's watchlist and of the technology its audit is for
#: (the threshold gate holds an audit only for the network it measured).
WATCHLIST_MODEL = "dlib-resnet-v1"
#: The scenario audit's per-group results (the fair threshold compares them).
AUDITED_GROUPS = [{"group": f"sex={sex}", "threshold": 0.6, "tpir": 0.89, "fpir": 0.0002}
                  for sex in ("female", "male")]
#: The scenario audit's overall results per watchlist size and threshold: within the policy
#: maximum (1 in 1,000) at every swept threshold, so the threshold gate passes on them
#: (60 false alerts in 100,000 non-mated searches: the platform's exact upper 95% bound is
#: 0.000772).
AUDITED_WITHIN_LIMIT = [
    {"watchlist_size": 1000, "threshold": t, "tpir": 0.9, "fpir": 0.0006,
     "fpir_ci_low": 0.00046, "fpir_ci_high": 0.00077, "nonmated_searches": 100_000,
     "false_alerts": 60} for t in (0.5, 0.55, 0.6, 0.65)]
#: The newest migration: a database migrated on start must be at it.
HEAD_REVISION = "0017"


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeClock:
    """The platform's clock, moved by hand so deadlines and gates can be tested."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def postgres_url() -> str | None:
    return os.environ.get("OPENLFR_TEST_POSTGRES_URL") or None


@contextmanager
def fresh_pg_schema(base: str) -> Iterator[str]:
    """Create an empty schema, yield a URL that uses it, drop it (and all in it) after."""
    schema = f"openlfr_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def make_settings(data_dir: Path, database_url: str | None = None, **extra: Any) -> Settings:
    """Settings for a platform in ``data_dir``. On SQLite (``database_url`` None: the file
    in the data dir) a database file not there yet starts as a copy of an empty database
    already migrated to the head (below)."""
    settings = Settings(data_dir=data_dir, database_url=database_url, **extra)
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        settings.ensure_data_dir()
        database = Path(url.database)
        if not database.exists():
            shutil.copyfile(_migrated_sqlite_template(), database)
    return settings


@cache
def _migrated_sqlite_template() -> Path:
    """An empty SQLite database migrated to the head, made once per test process by the
    platform's own start (Platform.open runs every migration). Hundreds of tests start from
    an empty platform; running every migration for each cost 0.1-0.4 s a test.
    Migrating from empty, and each data migration, are tested on their own databases
    (test_storage, test_aggregates); Platform.open still runs ``migrate`` on the copy (a
    no-op at the head)."""
    folder = Path(tempfile.mkdtemp(prefix="openlfr-migrated-"))
    atexit.register(shutil.rmtree, folder, True)
    Platform.open(Settings(data_dir=folder / "data", database_url=None)).close()
    template = folder / DATABASE_FILE_NAME
    source = sqlite3.connect(folder / "data" / DATABASE_FILE_NAME)
    target = sqlite3.connect(template)
    try:
        source.backup(target)  # a consistent copy whatever is left in the write-ahead log
    finally:
        target.close()
        source.close()
    return template


def new_client(app: Any) -> TestClient:
    return TestClient(app, base_url="http://testserver")


#: The second member of oversight ``Staff.countersign`` signs as.
SECOND_OVERSIGHT = "oversight.two"
#: The password a person chooses at their first login (``Staff.first_login``).
OWN_PASSWORD = "a-password-of-my-own"


class Staff:
    """HTTP clients, one per role, each logged in; plus an anonymous one."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.app = create_app(platform=platform)
        self.anon = new_client(self.app)
        self.by_role: dict[str, TestClient] = {}

    def add_user(self, username: str, role: str, areas: list[str] | None = None) -> None:
        """A person with ``role``; a councillor acts for ``areas`` (default: Lambeth)."""
        if role == "councillor" and areas is None:
            areas = COUNCILLOR_AREAS
        users.create_user(self.platform, SYSTEM_ACTOR, UserIn(
            username=username, password=PASSWORD, role=role, areas=areas or []))  # type: ignore[arg-type]

    def login(self, username: str) -> TestClient:
        client = new_client(self.app)
        r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return client

    def __getitem__(self, role: str) -> TestClient:
        if role not in self.by_role:
            self.add_user(role, role)
            self.by_role[role] = self.login(role)
        return self.by_role[role]

    def countersign(self, account: dict[str, Any]) -> dict[str, Any]:
        """A second member of oversight (not ``oversight``, who asks in these tests)
        countersigns the change waiting on ``account`` (as returned when it was asked
        for); returns the account, with the first login's code where one is given."""
        return ok(self.member().post(
            f"/api/oversight/account-changes/{account['id']}/countersign",
            json={"change_id": account["held_change"]["id"]}))

    def member(self, username: str = SECOND_OVERSIGHT) -> TestClient:
        """Another member of oversight than ``oversight``, logged in (the command line
        adds them, as it adds the first members)."""
        if username not in self.by_role:
            self.add_user(username, "oversight")
            self.by_role[username] = self.login(username)
        return self.by_role[username]

    def first_login(self, username: str, code: str) -> TestClient:
        """The first login of an account someone else set the password of (``PASSWORD``):
        with the countersigner's ``code``, setting ``OWN_PASSWORD``."""
        client = new_client(self.app)
        r = client.post("/api/auth/login", json={
            "username": username, "password": PASSWORD, "first_login_code": code,
            "new_password": OWN_PASSWORD})
        assert r.status_code == 200, r.text
        return client

    def node(self, deployment_id: int | None = None, name: str = "van-1",
             role: str = "node") -> TestClient:
        """A client sending a fresh engine-node API key (or an audit tool's: ``role``)."""
        key = users.create_api_key(self.platform, SYSTEM_ACTOR, ApiKeyIn(
            name=name, deployment_id=deployment_id, role=role))  # type: ignore[arg-type]
        client = new_client(self.app)
        client.headers["X-API-Key"] = key.secret
        return client


def route_table(app: Any) -> list[tuple[str, set[str]]]:
    """(path, methods) of every API route, including those of included routers. Newer
    FastAPI keeps included routers nested in app.routes; older versions flatten them."""
    routes = app.routes
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return [(r.path, set(r.methods or ())) for r in routes if isinstance(r, APIRoute)]
    return [(str(rc.path), set(rc.methods or ())) for rc in iter_route_contexts(routes)
            if isinstance(rc.original_route, APIRoute)]


def ok(response: Any, status: int = 200) -> Any:
    """Assert the status (showing the body if not) and return the JSON body."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json() if response.content else None


# --- a deployment that can pass every gate ---------------------------------------------

START = T0 + timedelta(days=20, hours=1)


AREA_PROFILE = (
    "Vauxhall ward is a mainly residential area of about 14,000 residents, many of them "
    "young families and older residents in social housing, with a busy high street, a "
    "market on Saturdays and two secondary schools. Residents have raised robbery near the "
    "station as their main concern at ward panels.")


RISKS = (
    "False alerts may lead to people being stopped who are not wanted; the independent test "
    "found about one false alert in six thousand faces at this threshold. Misidentification "
    "risk is higher at lower thresholds. Residents may feel watched and avoid the high street, "
    "and trust in policing may fall if the deployment is seen as imposed.")


MITIGATIONS = (
    "Threshold at or above the fair threshold from the latest equity audit; every alert is "
    "adjudicated by a trained officer before any approach; non-matching faces are never "
    "stored; clear signage at every approach; results and false alerts published within a "
    "week; an independent observer from the advisory group attends.")


EQUALITY = (
    "The equity audit found false alerts fell unequally by race and sex at thresholds below "
    "0.58, so the threshold is set above that. Older people and disabled people may find "
    "signage hard to read; large-print leaflets and staff at each site explain the process. "
    "Religion or belief: head coverings are not asked to be removed.")


DECISION = (
    "Proceed with a single-day deployment subject to every gate passing and to publication of "
    "results within seven days.")


#: An authoriser's and a member of oversight's reasons for an override (published).
ASKED_BECAUSE = ("A named suspect in three robberies is expected at the station this week; "
                 "the objection will be answered before the day.")
COUNTERSIGNED_BECAUSE = ("The oversight panel has seen the intelligence and accepts the "
                         "urgency; the answer must be published before the start.")


class Scenario:
    """Walks a deployment through its life over HTTP, as the roles would."""

    def __init__(self, staff: Staff, clock: FakeClock) -> None:
        self.staff, self.clock = staff, clock
        self.deployment_id: int = 0
        self.reference = ""

    def deployment_body(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "title": "Vauxhall high street",
            "borough": "Lambeth",
            "ward": "Vauxhall",
            "sites": [{"name": "Station forecourt", "street": "Wandsworth Road",
                       "postcode": "SW8 1SR", "lat": 51.4952, "lon": -0.1115}],
            "start_at": START.isoformat(),
            "end_at": (START + timedelta(hours=8)).isoformat(),
            "purpose": "Locate people wanted for robbery and violent offences.",
            "offence_categories": ["robbery", "violence against the person"],
            "intelligence_basis": "Robbery reports near the station doubled this year.",
            "legal_basis": "Common law policing powers; force LFR policy v3.",
            "threshold": 0.64,
            "camera_count": 2,
            "signage": "A-boards at every entrance to the zone, 20 m before the cameras.",
        }
        body.update(overrides)
        return body

    def draft(self, **overrides: Any) -> dict[str, Any]:
        body = ok(self.staff["planner"].post("/api/deployments",
                                             json=self.deployment_body(**overrides)), 201)
        self.deployment_id, self.reference = body["id"], body["reference"]
        return body

    def publish_notice(self) -> None:
        """Propose the drafted deployment and publish its notice (a consultation opens only
        once the public can find it)."""
        ok(self.staff["planner"].post(self.url("/propose")))
        ok(self.staff["planner"].post(self.url("/publish-notice")))

    def url(self, suffix: str = "") -> str:
        return f"/api/deployments/{self.deployment_id}{suffix}"

    def equity_audit(self, fair: float = 0.6, model: str = WATCHLIST_MODEL,
                     second_opinion: str | None = None) -> int:
        """A technology of descriptor ``model`` and its equity audit (made with the
        ``second_opinion`` model, if given), whose fair threshold ``fair`` is one it swept."""
        tech = ok(self.staff["admin"].post("/api/technology", json={
            "algorithm": "dlib ResNet descriptor + cosine", "model_version": model,
            "vendor_or_project": "openlfr", "default_threshold": 0.64}), 201)
        ok(self.staff["oversight"].post(f"/api/technology/{tech['id']}/equity-audits", json={
            "conducted_on": "2026-01-15", "dataset": "balanced test set",
            "engine_version": "0.1.0", "model_id": model,
            "second_opinion_model": second_opinion,
            "thresholds_swept": sorted({0.5, 0.55, 0.6, 0.65, fair}),
            "group_results": AUDITED_GROUPS,
            "identification": AUDITED_WITHIN_LIMIT,
            "recommended_threshold": max(fair, 0.65), "fair_threshold": fair}), 201)
        return int(tech["id"])

    def engage(self, residents: int = 60, officials: int = 20) -> None:
        """Two events, held the day before and on the clock's day (never in the future)."""
        planner = self.staff["planner"]
        today = self.clock.now.date()
        ok(planner.post(self.url("/engagement"), json={
            "held_on": (today - timedelta(days=1)).isoformat(), "format": "public_meeting",
            "audience": "residents", "met_with": "Vauxhall Tenants' and Residents' Association",
            "attendees": residents, "materials": "leaflet with benefits and risks",
            "questions_raised": ["Where are my photos kept?"]}), 201)
        ok(planner.post(self.url("/engagement"), json={
            "held_on": today.isoformat(), "format": "briefing", "audience": "council_officials",
            "met_with": "Lambeth Council community safety team", "attendees": officials}), 201)

    def open_consultation(self, questions: list[dict[str, Any]] | None = None) -> int:
        """Write the consultation (neutral questions) and open it; return its id."""
        planner = self.staff["planner"]
        c = ok(planner.put(self.url("/consultation"), json={
            "benefits": "Finding people wanted for robbery more quickly.",
            "risks": "False alerts can lead to innocent people being stopped; the camera sees "
                     "everyone who passes, which affects privacy, and accuracy differs between "
                     "demographic groups at low thresholds. Some people may avoid the area "
                     "while the cameras are there; faces that match nobody are deleted at "
                     "once.",
            "questions": questions or [{"text": "What do you think about LFR here?"}]}))
        ok(planner.post(self.url("/consultation/open")))
        return int(c["id"])

    def consult(self) -> int:
        """A consultation that counts: open for the minimum period (the clock moves on by
        it), with the minimum number of responses, each from its own client, then closed."""
        consultation_id = self.open_consultation([
            {"text": "What do you think about the use of LFR on the high street?"},
            {"text": "How would LFR here affect how you use the high street?",
             "options": ["use it more", "no change", "use it less"]}])
        ok(self.staff.anon.post(f"/api/public/consultations/{consultation_id}/responses",
                                json={"answers": {"q1": "Worried", "q2": "use it less"}}), 204)
        self.responses(consultation_id, self.staff.platform.settings.consultation_min_responses - 1)
        self.clock.advance(days=self.staff.platform.settings.consultation_min_days)
        ok(self.staff["planner"].post(self.url("/consultation/close")))
        return consultation_id

    def responses(self, consultation_id: int, count: int, district: str = "SE11") -> None:
        """``count`` more responses, each from a client address of its own (a client's
        response counts once per consultation)."""
        for i in range(count):
            submit_response(self.staff.platform, PUBLIC_ACTOR, consultation_id,
                            ConsultationResponseIn(answers={"q1": f"Response {i}"},
                                                   postcode_district=district),
                            client=f"198.51.100.{i % 250}.{i // 250}")

    def assess(self) -> None:
        planner = self.staff["planner"]
        ok(planner.put(self.url("/assessment"), json={
            "area_profile": AREA_PROFILE, "risks": RISKS, "mitigations": MITIGATIONS,
            "equality_impact": EQUALITY, "decision": DECISION}))
        ok(planner.post(self.url("/assessment/publish")))

    def object_and_answer(self) -> None:
        f = ok(self.staff.anon.post(f"/api/public/deployments/{self.reference}/feedback", json={
            "kind": "objection", "text": "I do not want my face scanned on my way to work.",
            "contact": "resident@example.org"}), 201)
        ok(self.staff["planner"].post(f"/api/feedback/{f['id']}/answer", json={
            "answer": "Faces that match nobody are discarded at once; see the assessment.",
            "outcome": "not_upheld"}))

    def watchlist(self, category: str = "wanted_for_arrest",
                  image_taken_on: str = "2026-01-10") -> int:
        planner = self.staff["planner"]
        ok(planner.post(self.url("/watchlist"), json={"descriptor_model": WATCHLIST_MODEL}), 201)
        entry = ok(planner.post(self.url("/watchlist/entries"), json={
            "subject_ref": "CASE-123/A", "category": category, "source": "PNC",
            "authorised_by": "Insp. Example", "image_taken_on": image_taken_on,
            "descriptors": [[0.01 * i for i in range(128)]]}), 201)
        return int(entry["id"])

    def records(self) -> None:
        """After notice: the engagement, the consultation, the assessment, an objection
        answered and the watchlist enrolled (not built), each as the gates ask."""
        self.engage()
        self.consult()
        self.assess()
        self.object_and_answer()
        self.watchlist()

    def prepare(self, technology_id: int | None = None) -> None:
        """Everything up to (not including) authorisation, with notice 20 days ahead, for
        the technology entry ``technology_id`` (default: one audited for equity)."""
        self.draft(technology_id=technology_id or self.equity_audit())
        self.publish_notice()
        self.records()
        self.clock.now = START - timedelta(hours=12)
        ok(self.staff["planner"].post(self.url("/watchlist/build")))

    def activate(self) -> None:
        self.prepare()
        ok(self.staff["authoriser"].post(self.url("/authorise")))
        self.clock.now = START
        ok(self.staff["operator"].post(self.url("/activate")))

    def late_objection(self) -> int:
        """An objection nobody has answered: the consultation gate fails (a failure an
        override may set aside)."""
        f = ok(self.staff.anon.post(f"/api/public/deployments/{self.reference}/feedback",
                                    json={"kind": "objection", "text": "Nobody asked the "
                                          "people on my estate about this."}), 201)
        return int(f["id"])

    def override(self, action: str = "authorise") -> dict[str, Any]:
        """Two people go ahead despite the failing gates: an authoriser asks, and a member
        of oversight countersigns. Returns the override as the API shows it."""
        asked = self.staff["authoriser"].post(self.url(f"/{action}"), json={
            "override_justification": ASKED_BECAUSE})
        assert asked.status_code == 202, asked.text
        return ok(self.staff["oversight"].post(self.url("/overrides/countersign"), json={
            "override_id": asked.json()["override"]["id"],
            "justification": COUNTERSIGNED_BECAUSE}))


def authorise_ahead(s: Scenario, start: datetime, end: datetime, enrol: Callable[[], T],
                    fair: float = 0.6, authorise: bool = True, model: str = WATCHLIST_MODEL,
                    second_opinion: str | None = None, **fields: Any) -> T:
    """A deployment from ``start`` to ``end`` governed as the gates require, with other
    ``fields`` of the plan changed (e.g. ``borough``): drafted, noticed, engaged, consulted
    and assessed 20 days before ``start`` (the clock goes there; keep it moving forward),
    its watchlist enrolled by ``enrol`` and built, and authorised (unless ``authorise`` is
    False) 12 hours before the start, where the clock is left. The equity audit's fair
    threshold is ``fair``, for the technology of descriptor ``model`` (the one ``enrol``
    builds the watchlist with), audited with the ``second_opinion`` model if given.
    Returns what ``enrol`` returned."""
    tech = s.equity_audit(fair=fair, model=model, second_opinion=second_opinion)
    s.clock.now = start - timedelta(days=20)
    s.draft(technology_id=tech, start_at=start.isoformat(), end_at=end.isoformat(), **fields)
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/publish-notice")))
    s.engage()
    s.consult()
    s.assess()
    s.object_and_answer()
    enrolled = enrol()
    s.clock.now = start - timedelta(hours=12)
    ok(s.staff["planner"].post(s.url("/watchlist/build")))
    if authorise:
        ok(s.staff["authoriser"].post(s.url("/authorise")))
    return enrolled


def activate_at(s: Scenario, start: datetime, hours: float = 8, **fields: Any) -> int:
    """``authorise_ahead`` with the scenario's watchlist, then activated at ``start`` (where
    the clock ends), every gate passed. Returns the watchlist entry's id."""
    entry = authorise_ahead(s, start, start + timedelta(hours=hours), s.watchlist, **fields)
    s.clock.now = start
    ok(s.staff["operator"].post(s.url("/activate")))
    return entry


@contextmanager
def clock_set_to(platform: Platform, moment: datetime) -> Iterator[FakeClock]:
    """A platform that runs on the real clock, on a clock moved by hand from ``moment``
    for the block, then on its own clock again: to govern beforehand a deployment that a
    test needs active now (with ``authorise_ahead``; the gates want notice, engagement and
    authorisation days before the start, and no override may skip them)."""
    fake = FakeClock(moment)
    real, platform.clock = platform.clock, fake
    try:
        yield fake
    finally:
        platform.clock = real


def descriptor(seed: float = 0.0) -> list[float]:
    return [seed + 0.01 * i for i in range(128)]


def day(text: str) -> date:
    return date.fromisoformat(text)


# Fixtures shared by the platform and portal test folders (each conftest imports them).


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with its production cost takes ~0.1 s a hash; tests hash dozens of times.
    The algorithm is the same, only the work factor is lowered."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024,
                                                         parallelism=1))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def database_url() -> Iterator[str | None]:
    """None (SQLite in the data dir), or a brand-new PostgreSQL schema dropped after."""
    base = postgres_url()
    if base is None:
        yield None
        return
    with fresh_pg_schema(base) as url:
        yield url


def open_platform(data_dir: Path, clock: FakeClock, database_url: str | None = None
                  ) -> Platform:
    """A platform on the test clock. Scenarios jump the clock by weeks; sessions must
    outlive that (expiry has its own test)."""
    p = Platform.open(make_settings(data_dir, database_url, session_max_age_s=90 * 86400))
    p.clock = clock
    return p


@pytest.fixture
def platform_on_test_clock(
    tmp_path: Path, clock: FakeClock, database_url: str | None
) -> Iterator[Platform]:
    """A platform on a throwaway database and the test clock (the portal, browser and
    hardening folders use it as their `platform`)."""
    p = open_platform(tmp_path / "data", clock, database_url)
    yield p
    p.close()


@pytest.fixture
def staff(platform: Platform) -> Staff:
    return Staff(platform)


@pytest.fixture
def scenario(staff: Staff, clock: FakeClock) -> Scenario:
    return Scenario(staff, clock)


def csrf_from(html: str) -> str:
    """The CSRF token a staff page put in its forms."""
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)
