"""The anchored audit log: the platform signs checkpoints of the chain (Ed25519, key from
settings) and publishes them (JSON and Atom). Someone with write access to the database
can truncate the log and move its head, or edit a row and recompute every later hash,
and the chain alone still verifies; a checkpoint saved earlier does not."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import feedparser
import pytest
from platform_helpers import FakeClock, Staff, make_settings, ok
from sqlalchemy import text
from typer.testing import CliRunner

from openlfr.audit import append_event, verify_chain
from openlfr.audit.chain import GENESIS_HASH, event_hash
from openlfr.audit.checkpoint import Checkpoint
from openlfr.services import audit_log
from openlfr.services.platform import SYSTEM_ACTOR, Platform

KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture
def logged(tmp_path: Path, clock: FakeClock) -> Platform:
    p = Platform.open(make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'db.sqlite3'}",
                                    audit_signing_key=KEY))
    p.clock = clock
    _fill(p, 0, 6)
    return p


def _fill(p: Platform, first: int, n: int) -> None:
    with p.sessions.begin() as s:
        for i in range(first, first + n):
            append_event(s, actor="tester", action="test.event", subject_type="thing",
                         subject_id=i, details={"i": i})


def _saved(p: Platform, tmp_path: Path) -> Path:
    staff = Staff(p)
    body = ok(staff.anon.get("/api/public/audit/checkpoint"))
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(body))
    return path


def _cli(p: Platform, *args: str) -> tuple[int, str]:
    from openlfr.cli import app

    result = CliRunner().invoke(app, ["audit", "verify", "--data-dir",
                                      str(p.settings.data_dir), *args],
                                env={"OPENLFR_DATABASE_URL": p.settings.effective_database_url,
                                     "OPENLFR_AUDIT_SIGNING_KEY": KEY})
    return result.exit_code, result.stdout + result.stderr


def _truncate_and_move_head(p: Platform, keep: int) -> None:
    with p.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > :k"), {"k": keep})
        last = conn.execute(text("SELECT hash FROM audit_events WHERE seq = :k"),
                            {"k": keep}).scalar_one()
        conn.execute(text("UPDATE audit_head SET seq = :k, hash = :h"), {"k": keep, "h": last})


def _rewrite_from(p: Platform, seq: int) -> None:
    """Edit event ``seq`` and recompute its hash and every later one, and the head."""
    with p.engine.begin() as conn:
        rows = conn.execute(text("SELECT * FROM audit_events ORDER BY seq")).mappings().all()
        prev = GENESIS_HASH
        for row in rows:
            actor = "someone else" if row["seq"] == seq else row["actor"]
            new = event_hash(row["seq"], row["occurred_at"], actor, row["action"],
                             row["subject_type"], row["subject_id"], row["details"], prev)
            conn.execute(text("UPDATE audit_events SET actor = :a, prev_hash = :p, hash = :h "
                              "WHERE seq = :s"), {"a": actor, "p": prev, "h": new,
                                                  "s": row["seq"]})
            prev = new
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})


def test_an_honest_log_extends_its_checkpoints(logged: Platform, tmp_path: Path) -> None:
    saved = _saved(logged, tmp_path)
    checkpoint = Checkpoint.from_json(saved.read_text())
    assert checkpoint.seq == 6 and checkpoint.public_key == base64.b64encode(
        logged.audit_signing_key.public_key().public_bytes_raw()).decode()
    _fill(logged, 6, 3)  # the log grows
    assert audit_log.verify_checkpoint(logged, SYSTEM_ACTOR, checkpoint).ok
    code, out = _cli(logged, "--checkpoint", str(saved))
    assert code == 0 and "extends the checkpoint" in out and "9 event(s)" in out
    # The same seq fetched later carries the same hash (anyone can compare, no database).
    later = ok(Staff(logged).anon.get("/api/public/audit/checkpoint/6"))
    assert later["head_hash"] == checkpoint.head_hash


def test_truncation_with_a_moved_head_is_caught(logged: Platform, tmp_path: Path) -> None:
    saved = _saved(logged, tmp_path)
    _truncate_and_move_head(logged, 4)
    with logged.sessions() as s:
        assert verify_chain(s).ok  # the chain alone cannot tell
    code, out = _cli(logged, "--checkpoint", str(saved))
    assert code == 1 and "truncated" in out and "#6" in out
    assert Staff(logged).anon.get("/api/public/audit/checkpoint/6").status_code == 404


def test_a_rewrite_with_recomputed_hashes_is_caught(logged: Platform, tmp_path: Path) -> None:
    saved = _saved(logged, tmp_path)
    _rewrite_from(logged, 2)
    with logged.sessions() as s:
        assert verify_chain(s).ok  # the chain alone cannot tell
    code, out = _cli(logged, "--checkpoint", str(saved))
    assert code == 1 and "rewritten" in out


def test_a_forged_or_foreign_checkpoint_is_refused(logged: Platform, tmp_path: Path) -> None:
    saved = _saved(logged, tmp_path)
    body = json.loads(saved.read_text())
    _rewrite_from(logged, 2)
    with logged.engine.begin() as conn:  # the forger makes a checkpoint fit the new log
        body["head_hash"] = conn.execute(text("SELECT hash FROM audit_events WHERE seq = 6")
                                         ).scalar_one()
    saved.write_text(json.dumps(body))
    code, out = _cli(logged, "--checkpoint", str(saved))
    assert code == 1 and "signature does not verify" in out
    for junk in ("{", "[]", '{"format": "openlfr-audit-checkpoint", "seq": "x"}'):
        saved.write_text(junk)
        code, out = _cli(logged, "--checkpoint", str(saved))
        assert code == 1 and "not a checkpoint" in out and "Traceback" not in out
    code, out = _cli(logged, "--checkpoint", str(tmp_path / "missing.json"))
    assert code == 1 and "cannot read" in out


def test_a_checkpoint_is_fetched_from_a_url(logged: Platform, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    anon = Staff(logged).anon
    monkeypatch.setattr(httpx, "get", lambda url, **_: anon.get(httpx.URL(url).path))
    url = "http://platform.example/api/public/audit/checkpoint/5"
    assert _cli(logged, "--checkpoint", url)[0] == 0
    _truncate_and_move_head(logged, 3)
    assert _cli(logged, "--checkpoint", url)[0] == 1


def test_checkpoints_are_published_in_an_atom_feed(logged: Platform) -> None:
    r = Staff(logged).anon.get("/audit/checkpoints.atom")
    assert r.status_code == 200
    feed = feedparser.parse(r.content)
    assert not feed.bozo and feed.entries[0].title == "Audit log checkpoint: event #6"
    checkpoint = Checkpoint.from_json(feed.entries[0].content[0].value)
    assert audit_log.verify_checkpoint(logged, SYSTEM_ACTOR, checkpoint).ok


def test_the_signing_key_comes_from_settings_or_the_data_dir(tmp_path: Path) -> None:
    generated = make_settings(tmp_path / "a")
    raw = generated.audit_signing_key_bytes()
    assert len(raw) == 32 and raw == generated.audit_signing_key_bytes()
    assert (tmp_path / "a" / "audit-signing.key").stat().st_mode & 0o077 == 0
    with pytest.raises(ValueError, match="not 32 bytes of base64"):
        make_settings(tmp_path / "b", audit_signing_key="short").audit_signing_key_bytes()


def test_the_platform_signs_no_checkpoint_of_a_log_it_cannot_verify(logged: Platform) -> None:
    """A row edited without rehashing left every stored hash as it was, and a fresh
    checkpoint signed that hash: an outsider's comparison passed on a log the platform
    could tell was broken. Now the event signed must check out against its contents and
    its link, and the whole chain must have verified (at most VERIFY_EVERY_S ago)."""
    staff = Staff(logged)
    before = ok(staff.anon.get("/api/public/audit/checkpoint/6"))
    with logged.sessions.begin() as s:
        s.execute(text("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 3"))
    logged.audit_verified = None  # as if the verification had grown old
    logged.public_cache.clear()  # the edit was not an audited action: nothing cleared it
    for url in ("/api/public/audit/checkpoint/6", "/api/public/audit/checkpoint"):
        r = staff.anon.get(url)
        assert r.status_code == 409 and "event #3" in r.json()["detail"], url
    # The event itself edited: refused at once, whatever the last whole verification said.
    with logged.sessions.begin() as s:
        s.execute(text("UPDATE audit_events SET actor = 'tester' WHERE seq = 3"))
    logged.audit_verified = None
    logged.public_cache.clear()
    assert ok(staff.anon.get("/api/public/audit/checkpoint/6"))["head_hash"] == \
        before["head_hash"]
    with logged.sessions.begin() as s:
        s.execute(text("UPDATE audit_events SET details = '{\"i\": 99}' WHERE seq = 6"))
    logged.public_cache.clear()
    r = staff.anon.get("/api/public/audit/checkpoint/6")
    assert r.status_code == 409 and "event #6 does not check out" in r.json()["detail"]


def test_a_signing_oracle_is_closed(logged: Platform) -> None:
    """A head moved to an event that is not stored, or whose hash it does not name, is
    not signed."""
    staff = Staff(logged)
    with logged.sessions.begin() as s:
        s.execute(text(f"UPDATE audit_head SET seq = 5000, hash = '{'ab' * 32}'"))
    logged.public_cache.clear()
    r = staff.anon.get("/api/public/audit/checkpoint")
    assert r.status_code == 409


def test_a_deleted_head_row_is_a_broken_chain(logged: Platform) -> None:
    with logged.sessions.begin() as s:
        s.execute(text("DELETE FROM audit_head"))
    with logged.sessions() as s:
        result = verify_chain(s)
    assert not result.ok and "head row is missing" in (result.problem or "")
