"""Enrolling watchlist subjects from photos through the API: the platform's engine finds
exactly one face per photo, stores its descriptor and the aligned face (encrypted), and
refuses unusable photos by name, storing nothing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from platform_helpers import Scenario, ok
from sqlalchemy import func, select

from openlfr.recognition import FaceAnalyzer, describe_enrolment_photo
from openlfr.samples import SAMPLE_FACES as SAMPLE
from openlfr.services.watchlist_photos import engine_model_id
from openlfr.storage import models as m

LIN = SAMPLE / "identities" / "lin_manuel_miranda" / "lin-manuel-miranda.png"
OBAMA = SAMPLE / "identities" / "obama"

FIELDS = {"subject_ref": "CASE-77/B", "category": "wanted_for_arrest", "source": "PNC",
          "authorised_by": "Insp. Example", "image_taken_on": "2026-01-10"}


def _files(*paths: Path) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("photo", (p.name, p.read_bytes(), "image/jpeg")) for p in paths]


def _entries(scenario: Scenario) -> int:
    with scenario.staff.platform.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(m.WatchlistEntry)) or 0)


@pytest.fixture
def draft_with_watchlist(scenario: Scenario) -> Scenario:
    scenario.draft()
    ok(scenario.staff["planner"].post(scenario.url("/watchlist"),
                                      json={"descriptor_model": engine_model_id()}), 201)
    return scenario


@pytest.mark.slow
def test_a_photo_becomes_an_entry_with_descriptor_and_reference_face(
        draft_with_watchlist: Scenario) -> None:
    s = draft_with_watchlist
    planner = s.staff["planner"]
    entry = ok(planner.post(s.url("/watchlist/photos"), data=FIELDS, files=_files(LIN)), 201)
    assert entry["subject_ref"] == "CASE-77/B" and entry["descriptor_count"] == 1
    several = ok(planner.post(s.url("/watchlist/photos"),
                              data={**FIELDS, "subject_ref": "CASE-78/C"},
                              files=_files(*sorted(OBAMA.iterdir()))), 201)
    assert several["descriptor_count"] == 3

    expected = describe_enrolment_photo(LIN.read_bytes(), LIN.name, FaceAnalyzer())
    platform = s.staff.platform
    with platform.sessions() as session:
        row = session.get(m.WatchlistEntry, entry["id"])
        assert row is not None and row.image_encrypted is not None
        from openlfr.services.watchlists import decrypt_descriptors

        stored = np.asarray(decrypt_descriptors(platform.fernet, row.descriptors_encrypted))
        jpeg = platform.fernet.decrypt(row.image_encrypted)
    assert np.allclose(stored[0], expected.descriptor, atol=1e-6)
    face = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert face.shape[:2] == expected.chip.shape[:2]  # the aligned chip, not the photo
    # The audit log records the addition without the subject reference.
    events = ok(s.staff["admin"].get("/api/audit/events?limit=1000"))
    added = [e for e in events if e["action"] == "watchlist.entry_added"]
    assert len(added) == 2 and "CASE-77" not in str(added)


@pytest.mark.slow
def test_unusable_photos_are_refused_by_name_and_nothing_is_stored(
        draft_with_watchlist: Scenario) -> None:
    s = draft_with_watchlist
    planner = s.staff["planner"]
    cases = [
        (_files(SAMPLE / "groups" / "two_people.jpg"), "two_people.jpg: 2 faces found"),
        (_files(SAMPLE / "noface" / "coffee.png"), "coffee.png: no face found"),
        ([("photo", ("scan.jpg", b"\xff\xd8\xffnot really", "image/jpeg"))],
         "scan.jpg: not a readable image"),
        # One bad photo among good ones refuses the whole subject.
        (_files(LIN, SAMPLE / "groups" / "two_people.jpg"), "two_people.jpg: 2 faces"),
    ]
    for files, message in cases:
        r = planner.post(s.url("/watchlist/photos"), data=FIELDS, files=files)
        assert r.status_code == 422, r.text
        problem = r.json()["detail"][0]
        assert problem["loc"] == ["body", "photo"] and message in problem["msg"]
    tiny = cv2.resize(cv2.imread(str(LIN)), (48, 48))
    r = planner.post(s.url("/watchlist/photos"), data=FIELDS,
                     files=[("photo", ("tiny.png", cv2.imencode(".png", tiny)[1].tobytes(),
                                       "image/png"))])
    assert r.status_code == 422 and "tiny.png: " in r.json()["detail"][0]["msg"]
    assert _entries(s) == 0


def test_fields_roles_and_model_are_checked_before_the_engine_runs(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    planner = s.staff["planner"]
    r = planner.post(s.url("/watchlist/photos"), data=FIELDS, files=_files(LIN))
    assert r.status_code == 404 and "create one first" in r.json()["detail"]
    ok(planner.post(s.url("/watchlist"), json={"descriptor_model": "another-model-v2"}), 201)
    r = planner.post(s.url("/watchlist/photos"), data=FIELDS, files=_files(LIN))
    assert r.status_code == 409 and "another-model-v2" in r.json()["detail"]
    r = planner.post(s.url("/watchlist/photos"), data={**FIELDS, "category": "Bad Category"},
                     files=_files(LIN))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "category"]
    r = planner.post(s.url("/watchlist/photos"), data=FIELDS)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "photo"]
    r = s.staff["operator"].post(s.url("/watchlist/photos"), data=FIELDS, files=_files(LIN))
    assert r.status_code == 403
    assert _entries(s) == 0


@pytest.mark.slow
def test_a_second_opinion_watchlist_stores_dlibs_descriptor_of_each_photo_too(
        scenario: Scenario) -> None:
    from openlfr.recognition.analyzer import reference_model_id
    from openlfr.services.watchlists import decrypt_descriptors

    s = scenario
    s.draft()
    planner = s.staff["planner"]
    ok(planner.post(s.url("/watchlist"), json={"descriptor_model": engine_model_id(),
                                               "reference_model": "dlib:another"}), 201)
    r = planner.post(s.url("/watchlist/photos"), data=FIELDS, files=_files(LIN))
    assert r.status_code == 409 and "second opinion 'dlib:another'" in r.json()["detail"]

    s.draft()
    ok(planner.post(s.url("/watchlist"), json={"descriptor_model": engine_model_id(),
                                               "reference_model": reference_model_id()}), 201)
    entry = ok(planner.post(s.url("/watchlist/photos"), data=FIELDS,
                            files=_files(*sorted(OBAMA.iterdir()))), 201)
    platform = s.staff.platform
    with platform.sessions() as session:
        row = session.get(m.WatchlistEntry, entry["id"])
        assert row is not None and row.references_encrypted is not None
        references = decrypt_descriptors(platform.fernet, row.references_encrypted)
    analyzer = FaceAnalyzer()
    expected = [describe_enrolment_photo(p.read_bytes(), p.name, analyzer, second_opinion=True)
                for p in sorted(OBAMA.iterdir())]
    assert len(references) == len(expected) == 3
    for stored, photo in zip(references, expected, strict=True):
        assert photo.reference is not None
        assert np.allclose(stored, photo.reference, atol=1e-5)
