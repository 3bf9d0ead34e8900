"""Every platform setting in one place, each with its default and its environment variable.

Values come from (highest first) keyword arguments (e.g. the CLI's ``--data-dir``),
``OPENLFR_*`` environment variables, then the defaults below. List settings are read
from the environment as JSON, e.g. ``OPENLFR_WATCHLIST_ALLOWED_CATEGORIES='["missing_person"]'``.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import platformdirs
from cryptography.fernet import Fernet
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from openlfr.governance.gates import GateParameters
from openlfr.governance.outcomes import DEFAULT_DEMOGRAPHIC_GROUPS

#: Watchlist categories a deployment may search for unless configured otherwise.
DEFAULT_ALLOWED_CATEGORIES = [
    "wanted_by_court",
    "wanted_for_arrest",
    "bail_or_licence_conditions",
    "missing_person",
    "risk_to_self_or_others",
]

DATABASE_FILE_NAME = "openlfr.sqlite3"
ENCRYPTION_KEY_FILE_NAME = "watchlist.key"
AUDIT_SIGNING_KEY_FILE_NAME = "audit-signing.key"
KNOWN_BROWSER_KEY_FILE_NAME = "known-browser.key"


class Settings(BaseSettings):
    """The platform's configuration. Create one per process and pass it down."""

    model_config = SettingsConfigDict(env_prefix="OPENLFR_", extra="ignore")

    data_dir: Path = Field(
        default_factory=lambda: platformdirs.user_data_path("openlfr"),
        description="Folder for all local state: SQLite database, key files, probe crops "
        "(OPENLFR_DATA_DIR).",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL (OPENLFR_DATABASE_URL), e.g. "
        "postgresql+psycopg://user:pass@host/db. Default: SQLite file in the data dir.",
    )
    encryption_key: str | None = Field(
        default=None,
        description="Fernet key that encrypts watchlist descriptors at rest "
        "(OPENLFR_ENCRYPTION_KEY). Default: generated once and kept in the data dir.",
    )
    audit_signing_key: str | None = Field(
        default=None,
        description="Ed25519 private key that signs the audit log's published checkpoints "
        "(OPENLFR_AUDIT_SIGNING_KEY): 32 bytes, base64. Keep it outside the database. "
        "Default: generated once and kept in the data dir.",
    )
    notice_days: int = Field(default=14, ge=0, description="Days of public notice before start.")
    resident_share: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="Share of engagement attendees that must be in resident-facing events.",
    )
    watchlist_max_entries: int = Field(default=10_000, ge=1, description="Watchlist size cap.")
    watchlist_max_image_age_days: int = Field(
        default=365, ge=1, description="Oldest allowed watchlist image, in days before start.",
    )
    watchlist_allowed_categories: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_CATEGORIES),
        description="Watchlist categories allowed (JSON list in the environment).",
    )
    watchlist_built_within_hours: int = Field(
        default=24, ge=1, description="The watchlist must be built at most this long before start.",
    )
    answer_deadline_days: int = Field(
        default=20, ge=1, description="Days within which public feedback must get a public "
        "answer (objections and questions: or earlier, see answer_lead_hours).",
    )
    answer_lead_hours: int = Field(
        default=48, ge=0,
        description="Objections and questions must be answered at least this many hours "
        "before the deployment starts (when that is earlier than answer_deadline_days after "
        "filing); activation is refused while one is unanswered past its deadline.",
    )
    answer_min_chars: int = Field(
        default=40, ge=1,
        description="Shortest answer to the public accepted, not counting acknowledgements "
        "such as \"Noted.\" or \"Thank you for your feedback\".",
    )
    consultation_min_days: int = Field(
        default=14, ge=0,
        description="A consultation counts only if it was open at least this many days; "
        "closed sooner, its results are published as \"insufficient response\" and the "
        "consultation gate fails.",
    )
    demo_mailbox: bool = Field(
        default=False,
        description="Show the e-mails the platform sends at /staff/mailbox (admins), so a "
        "demo can be used without a mail server; `openlfr demo` turns it on. Never in "
        "production: the page shows recipients' addresses.",
    )
    rights_policy_links: list[dict[str, str]] = Field(
        default_factory=lambda: [
            {"title": "Metropolitan Police: facial recognition technology (policy and "
                      "documents)",
             "url": "https://www.met.police.uk/advice/advice-and-information/fr/"
                    "facial-recognition/"},
            {"title": "Information Commissioner's Office: your data protection rights",
             "url": "https://ico.org.uk/for-the-public/"},
            {"title": "Independent Office for Police Conduct: complain about the police",
             "url": "https://www.policeconduct.gov.uk/complaints-and-appeals/make-complaint"}],
        description="Links on the \"your rights\" page to the force's published policy and "
        "where to complain (JSON list of {\"title\", \"url\"} in the environment).",
    )
    collective_objection_threshold: int = Field(
        default=50, ge=1,
        description="Confirmed co-signatures (one per e-mail address) from which a "
        "collective objection needs an oversight hearing, recorded and published, before "
        "the deployment it is attached to can be authorised.",
    )
    consultation_min_responses: int = Field(
        default=20, ge=0,
        description="A consultation counts only with at least this many responses (each "
        "client counts once per consultation); with fewer, its results are published as "
        "\"insufficient response\" and the consultation gate fails.",
    )
    override_min_justification_chars: int = Field(
        default=40, ge=1,
        description="Shortest written justification accepted for a gate override (and for "
        "its countersignature).",
    )
    override_min_notice_days: int = Field(
        default=7, ge=0,
        description="Notice shorter than this many days fails the notice gate in a way no "
        "override can set aside.",
    )
    max_audit_fpir: float = Field(
        default=0.001, gt=0.0, le=1.0,
        description="Highest false positive identification rate (share of passers-by who "
        "raise a false alert) the technology's latest equity audit may show at a "
        "deployment's watchlist size and threshold: its upper 95% bound, computed by the "
        "platform from the audit's counts, else the audit's own; above it, or with no "
        "bound to hold, the threshold gate fails.",
    )
    engagement_window_days: int = Field(
        default=180, ge=0,
        description="An engagement event may be dated at most this many days before the "
        "deployment was first drafted (and never after its authorisation or in the future).",
    )
    engagement_evidence_max_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024,
        description="Largest PDF accepted as evidence of an engagement event (published).",
    )
    gazetteer_file: Path | None = Field(
        default=None,
        description="CSV of the areas deployments, motions and subscriptions may name "
        "(columns: code, name, kind, parent, ons_code, aliases). Default: the bundled list "
        "of London boroughs and wards.",
    )
    gazetteer_boundaries_file: Path | None = Field(
        default=None,
        description="GeoJSON FeatureCollection of the gazetteer's area outlines (Polygon or "
        "MultiPolygon in WGS84 longitude/latitude, as ONS Open Geography Portal exports "
        "them), drawn on the portal's maps; check one with `openlfr areas check-boundaries`. "
        "Default: none (the maps show the sites only, and say so).",
    )
    max_request_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024,
        description="Largest request body accepted (a full watchlist entry is ~1.5 MB).",
    )
    login_failures_allowed: int = Field(
        default=10, ge=1,
        description="Failed logins allowed per username from one client address in 15 "
        "minutes (half of them in a minute, twice as many in 4 hours, four times in a day: "
        "back-off); the same username from another address is not slowed. An admin can "
        "clear a username's block.",
    )
    rate_limit_storage: str | None = Field(
        default=None,
        description="Where rate-limit and login-throttle counts are kept "
        "(OPENLFR_RATE_LIMIT_STORAGE), e.g. redis://127.0.0.1:6379/0, so that every server "
        "process shares them. Default: each process's memory.",
    )
    server_threads: int = Field(
        default=16, ge=1, le=256,
        description="Threads one server process runs requests on (OPENLFR_SERVER_THREADS); "
        "the database connection pool holds as many connections. With PostgreSQL, keep "
        "workers x (this + password threads + 4) below the server's max_connections.",
    )
    password_threads: int = Field(
        default=2, ge=1, le=64,
        description="Threads of their own for the requests that check a password someone "
        "typed: logins and password changes (OPENLFR_PASSWORD_THREADS). argon2 makes each "
        "check cost time and memory on purpose; a flood of logins waits for these threads "
        "and never takes the server's others. The database pool holds one connection more "
        "for each.",
    )
    live_wakeups_url: str | None = Field(
        default=None,
        description="Redis through which server processes wake each other's console "
        "streams (OPENLFR_LIVE_WAKEUPS_URL), e.g. redis://127.0.0.1:6379/0. Default: "
        "PostgreSQL's LISTEN/NOTIFY on the platform's own database.",
    )
    live_poll_s: float = Field(
        default=2.0, gt=0, le=300,
        description="Seconds after which a console stream looks at the database even if "
        "nothing woke it (OPENLFR_LIVE_POLL_S): a safety net, as changes wake the streams of "
        "every server process at once (PostgreSQL LISTEN/NOTIFY, or Redis pub/sub).",
    )
    session_max_age_s: int = Field(default=12 * 3600, ge=60, description="Login session lifetime.")
    cookie_secure: bool = Field(
        default=False,
        description="Send the session cookie over HTTPS only (set true in production).",
    )
    probe_crop_retention_hours: int = Field(
        default=31 * 24, ge=1,
        description="Hours an alert's probe crop (the matched face) is kept for adjudication, "
        "complaints and redress; then it is deleted and the deletion audited.",
    )
    demographic_groups: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DEMOGRAPHIC_GROUPS), min_length=1,
        description="The groups an operator may record for an alert's equity monitoring "
        "(matched whatever the case and spacing; anything else is refused), as a JSON list. "
        "Default: the 2021 census's high-level ethnic groups and 'Not stated'.",
    )
    later_outcome_window_days: int = Field(
        default=90, ge=1, le=3650,
        description="Days after an alert within which what followed an arrest (charged, "
        "cautioned, released without charge, no further action) may be recorded; after it "
        "the arrest counts as 'later outcome not recorded' in the published records.",
    )
    late_delivery_hours: int = Field(
        default=24, ge=0,
        description="Hours after a deployment ends during which a node may still deliver "
        "alerts and counts recorded before the end (its outbox after a network outage).",
    )
    node_clock_skew_s: int = Field(
        default=300, ge=0, le=86_400,
        description="How far a node's clock may be off the platform's: the times a node "
        "reports (alerts, count periods) must lie inside the time the deployment ran, give "
        "or take this many seconds.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The portal's address as the public reaches it; used for links in "
        "e-mails and feeds sent out of a request.",
    )
    smtp_host: str | None = Field(
        default=None,
        description="SMTP server for notice e-mails; unset: e-mails wait in the outbox.",
    )
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP port.")
    smtp_starttls: bool = Field(default=False, description="Use STARTTLS with the SMTP server.")
    smtp_username: str | None = Field(default=None, description="SMTP login (optional).")
    smtp_password: str | None = Field(default=None, description="SMTP password (optional).")
    smtp_from: str = Field(
        default="openlfr notice <notice@localhost>", description="From: of notice e-mails.",
    )
    sent_email_retention_days: int = Field(
        default=30, ge=1,
        description="Days a sent e-mail (address and text) is kept in the outbox record.",
    )

    @property
    def database_connections(self) -> int:
        """Connections a server process keeps: one for each of its request threads."""
        return self.server_threads + self.password_threads

    @property
    def effective_database_url(self) -> str:
        """The configured database URL, or the SQLite file inside the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / DATABASE_FILE_NAME}"

    def gate_parameters(self) -> GateParameters:
        """The gate parameters as the pure domain wants them."""
        return GateParameters(
            notice_days=self.notice_days,
            resident_share=self.resident_share,
            watchlist_max_entries=self.watchlist_max_entries,
            watchlist_max_image_age_days=self.watchlist_max_image_age_days,
            watchlist_allowed_categories=frozenset(self.watchlist_allowed_categories),
            watchlist_built_within_hours=self.watchlist_built_within_hours,
            override_min_notice_days=self.override_min_notice_days,
            max_audit_fpir=self.max_audit_fpir,
            consultation_min_days=self.consultation_min_days,
            consultation_min_responses=self.consultation_min_responses,
            collective_threshold=self.collective_objection_threshold,
            answer_min_chars=self.answer_min_chars,
        )

    def ensure_data_dir(self) -> Path:
        """Create the data dir (private to this user) if it does not exist yet."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.data_dir

    def _key_file(self, name: str, new_key: bytes) -> bytes:
        """A key kept in the data dir: read, or first written (mode 0600, O_EXCL so two
        processes starting together never write two different keys)."""
        path = self.ensure_data_dir() / name
        if not path.exists():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(new_key)
        return path.read_bytes().strip()

    def audit_signing_key_bytes(self) -> bytes:
        """The 32 bytes of the Ed25519 key that signs audit checkpoints: configured, or
        read from (or first written to) the data dir."""
        text = (self.audit_signing_key.encode() if self.audit_signing_key
                else self._key_file(AUDIT_SIGNING_KEY_FILE_NAME,
                                    base64.b64encode(secrets.token_bytes(32))))
        try:
            raw = base64.b64decode(text, validate=True)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise ValueError(
                "the audit signing key is not 32 bytes of base64; generate one with "
                "`python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32))"
                ".decode())'`"
            )
        return raw

    def known_browser_key(self) -> bytes:
        """The key that signs the cookie a browser gets when someone logs in on it (read
        from, or first written to, the data dir; every server process shares it). Lost,
        browsers are only no longer known until their next login."""
        return self._key_file(KNOWN_BROWSER_KEY_FILE_NAME,
                              base64.b64encode(secrets.token_bytes(32)))

    def fernet_key(self) -> bytes:
        """The watchlist encryption key: configured, or read from (or first written to) the
        data dir. The key file is created with mode 0600 so only this user can read it."""
        if self.encryption_key:
            key = self.encryption_key.encode()
        else:
            key = self._key_file(ENCRYPTION_KEY_FILE_NAME, Fernet.generate_key())
        try:
            Fernet(key)
        except ValueError as exc:
            raise ValueError(
                "the watchlist encryption key is not a valid Fernet key (32 url-safe base64 "
                "bytes); generate one with `python3 -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`"
            ) from exc
        return key


def new_token(n_bytes: int = 32) -> str:
    """A random url-safe token (session ids, API keys)."""
    return secrets.token_urlsafe(n_bytes)
