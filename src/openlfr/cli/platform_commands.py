"""`openlfr serve`, `openlfr user ...`, `openlfr audit verify|checkpoint`, `openlfr powers`,
`openlfr areas find|check-boundaries|flagged`: the platform from the command line. Thin:
parse, call a service, print."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from openlfr.cli.errors import fail
from openlfr.governance.roles import PERSON_ROLES

if TYPE_CHECKING:  # loaded by the commands that use them: `openlfr watch` needs none
    from pydantic import ValidationError

    from openlfr.audit.checkpoint import Checkpoint
    from openlfr.services.platform import Platform
    from openlfr.settings import Settings

DATA_DIR_HELP = ("Folder for the platform's local state (SQLite database, key files). "
                 "Default: $OPENLFR_DATA_DIR, else your user data folder.")
DataDir = Annotated[Path | None, typer.Option("--data-dir", help=DATA_DIR_HELP)]
ROLE_NAMES = ", ".join(r.value for r in PERSON_ROLES)
#: A checkpoint is a few hundred bytes; anything far larger is not one.
MAX_CHECKPOINT_BYTES = 64 * 1024

user_app = typer.Typer(help="Manage the people who can log in.", no_args_is_help=True)
audit_app = typer.Typer(help="Check the audit log.", no_args_is_help=True)
areas_app = typer.Typer(help="The gazetteer: the areas deployments, motions and "
                        "subscriptions may name.", no_args_is_help=True)


def _settings(data_dir: Path | None) -> Settings:
    from pydantic import ValidationError

    from openlfr.settings import Settings

    try:
        return Settings(data_dir=data_dir) if data_dir is not None else Settings()
    except ValidationError as exc:
        fail(f"bad configuration: {_errors(exc)}")


def _open(data_dir: Path | None) -> Platform:
    from openlfr.services.platform import Platform

    settings = _settings(data_dir)
    try:
        return Platform.open(settings)
    except Exception as exc:  # noqa: BLE001  (any connection problem gets one clear line)
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        fail(f"cannot open the database at {_shown_url(settings)}: {first_line}")


def _shown_url(settings: Settings) -> str:
    """The database URL with any password masked, for printing."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(settings.effective_database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: all).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Server processes sharing the port. More than 1 needs "
        "PostgreSQL (OPENLFR_DATABASE_URL); each runs OPENLFR_SERVER_THREADS threads, and "
        "OPENLFR_PASSWORD_THREADS for logins, with a database connection for each.")] = 1,
    access_log: Annotated[bool, typer.Option(
        "--access-log/--no-access-log", help="Log every request (method, path, status and "
        "the caller's address). Off by default: residents read the public pages, and their "
        "addresses are not the platform's to keep; errors are logged either way.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Run the platform's web server (API at /api, OpenAPI at /openapi.json). The database
    is migrated to the latest schema on start."""
    from openlfr.services.gazetteer import boundaries_for
    from openlfr.web import create_app
    from openlfr.web.server import WorkersNeedPostgres, require_workers_supported, serve_workers
    from openlfr.web.server import serve as serve_app

    settings = _settings(data_dir)
    try:
        require_workers_supported(settings, workers)
        # A boundaries file with a refused feature stops the start, naming each one,
        # rather than failing every page that draws a map.
        boundaries_for(settings)
    except (WorkersNeedPostgres, ValueError) as exc:
        fail(str(exc))
    platform = _open(data_dir)  # migrates the database once, before any worker starts
    typer.echo(f"openlfr: database {_shown_url(platform.settings)}; "
               f"serving on http://{host}:{port}"
               + (f" with {workers} worker processes" if workers > 1 else ""))
    if workers > 1:
        platform.close()
        serve_workers(platform.settings, host=host, port=port, workers=workers,
                      access_log=access_log)
        return
    serve_app(create_app(platform=platform), host=host, port=port, access_log=access_log)


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(
        help="Login name: lower-case letters, digits, . _ -")],
    role: Annotated[str, typer.Option("--role", help=f"One of: {ROLE_NAMES}.")],
    area: Annotated[list[str] | None, typer.Option(
        "--area", help="A councillor's area (a borough or \"Borough/Ward\" from the "
        "gazetteer, or its code); repeat for several. Only for councillors.")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from the first line of stdin (for "
        "scripts) instead of prompting.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Add a person who can log in, with one role."""
    from pydantic import ValidationError

    from openlfr.governance.errors import GovernanceError
    from openlfr.services import users
    from openlfr.services.platform import SYSTEM_ACTOR
    from openlfr.services.schemas import UserIn

    if role not in {r.value for r in PERSON_ROLES}:
        fail(f"unknown role {role!r}; choose one of: {ROLE_NAMES}")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password (12 characters or more)", hide_input=True,
                                confirmation_prompt=True)
    try:
        data = UserIn(username=username, password=password, role=role,  # type: ignore[arg-type]
                      areas=area or [])
    except ValidationError as exc:
        fail(_errors(exc))
    platform = _open(data_dir)
    try:
        user = users.create_user(platform, SYSTEM_ACTOR, data)
    except GovernanceError as exc:
        fail(exc)
    finally:
        platform.close()
    areas = f" for {', '.join(user.areas)}" if user.areas else ""
    typer.echo(f"added {user.username} ({user.role}{areas})")


@user_app.command("list")
def user_list(data_dir: DataDir = None) -> None:
    """List accounts with their roles."""
    from openlfr.services import users
    from openlfr.services.platform import SYSTEM_ACTOR

    platform = _open(data_dir)
    try:
        for user in users.list_users(platform, SYSTEM_ACTOR):
            state = "" if user.active else " (deactivated)"
            areas = f"\t{', '.join(user.areas)}" if user.areas else ""
            typer.echo(f"{user.username}\t{user.role}{state}{areas}")
    finally:
        platform.close()


#: A checkpoint signed this recently says nothing about what happened before it.
FRESH_CHECKPOINT = timedelta(minutes=10)


def _read_checkpoint(source: str) -> Checkpoint:
    """A saved checkpoint from a file, or fetched from a URL (an archive's copy, or one
    you published). One fetched now from the platform being checked proves nothing about
    changes made before it was signed: ``audit_verify`` says so."""
    from openlfr.audit.checkpoint import Checkpoint, CheckpointError

    if source.startswith(("http://", "https://")):
        import httpx

        try:
            response = httpx.get(source, timeout=30, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            fail(f"{source}: cannot fetch the checkpoint ({exc})")
        text: str | bytes = response.content
    else:
        try:
            path = Path(source)
            if path.stat().st_size > MAX_CHECKPOINT_BYTES:
                fail(f"{source}: too large for a checkpoint (at most {MAX_CHECKPOINT_BYTES} "
                     "bytes)")
            text = path.read_bytes()
        except OSError as exc:
            fail(f"{source}: cannot read ({exc.strerror or exc})")
    try:
        return Checkpoint.from_json(text)
    except CheckpointError as exc:
        fail(f"{source}: {exc}")


@audit_app.command("verify")
def audit_verify(
    data_dir: DataDir = None,
    checkpoint: str | None = typer.Option(
        None, "--checkpoint", metavar="FILE_OR_URL",
        help="A signed checkpoint saved earlier (a file, or a URL to fetch it from): fail "
        "unless the log still holds its event with the same hash (not truncated, not "
        "rewritten since)."),
) -> None:
    """Recompute the audit log's hash chain. Exits 0 when intact; otherwise names the first
    broken event and exits 1. With --checkpoint, also proves that the log still extends
    a checkpoint the platform signed earlier."""
    from openlfr.services import audit_log
    from openlfr.services.platform import SYSTEM_ACTOR

    saved = _read_checkpoint(checkpoint) if checkpoint else None
    platform = _open(data_dir)
    try:
        result = (audit_log.verify(platform, SYSTEM_ACTOR) if saved is None
                  else audit_log.verify_checkpoint(platform, SYSTEM_ACTOR, saved))
    finally:
        platform.close()
    if not result.ok:
        fail(result.describe())
    typer.echo(result.describe())
    if saved is not None:
        typer.echo(f"the log extends the checkpoint of {saved.signed_at} "
                   f"(event #{saved.seq}, hash {saved.head_hash[:16]}...)")
        signed = datetime.fromisoformat(saved.signed_at)
        if datetime.now(UTC) - signed < FRESH_CHECKPOINT:
            typer.echo("warning: this checkpoint was signed minutes ago: it proves nothing "
                       "about changes made before then (the platform signs the log as it is "
                       "now). Compare with one saved earlier, somewhere the platform cannot "
                       "write.", err=True)


@audit_app.command("checkpoint")
def audit_checkpoint(data_dir: DataDir = None) -> None:
    """Print a signed checkpoint of the audit log's head (JSON): save it somewhere the
    platform cannot write, and verify against it later."""
    import json

    from openlfr.services import audit_log
    from openlfr.services.platform import SYSTEM_ACTOR

    platform = _open(data_dir)
    try:
        found = audit_log.checkpoint(platform, SYSTEM_ACTOR)
    finally:
        platform.close()
    if found is None:
        fail("the audit log has no events yet")
    typer.echo(json.dumps(found.to_json(), indent=2))


def powers(
    markdown: Annotated[bool, typer.Option(
        "--markdown", help="Print a Markdown table (the README's copy is this output).")] = False,
) -> None:
    """Print the powers table: every action, and the roles that may take it."""
    from openlfr.services.powers import POWERS, ordered, powers_markdown

    if markdown:
        typer.echo(powers_markdown())
        return
    for p in POWERS.values():
        typer.echo(f"{p.action.value:28} {', '.join(r.value for r in ordered(p.roles))}")


@areas_app.command("find")
def areas_find(
    text: Annotated[str, typer.Argument(help='A name, alias or code: "Newham", '
                                        '"London Borough of Newham", "Lambeth/Vauxhall".')],
) -> None:
    """Say which gazetteer area a name means (or the closest known names)."""
    from openlfr.governance.areas import UnknownArea
    from openlfr.services.gazetteer import gazetteer_for

    g = gazetteer_for(_settings(None))
    try:
        found = g.resolve(text)
    except UnknownArea as exc:
        fail(exc)
    typer.echo(f"{found.code}\t{g.label(found.code)}")


@areas_app.command("check-boundaries")
def areas_check_boundaries(
    file: Annotated[Path, typer.Argument(
        help="A GeoJSON FeatureCollection of area outlines in WGS84 longitude/latitude, "
        "e.g. ONS's London Boroughs or Wards boundaries exported as GeoJSON.")],
) -> None:
    """Check a boundaries file against the gazetteer before pointing
    OPENLFR_GAZETTEER_BOUNDARIES_FILE at it: print each feature refused (its index and
    why), then how many matched. Exits 1 if any is refused."""
    from openlfr.services.gazetteer import check_boundaries, gazetteer_for

    g = gazetteer_for(_settings(None))
    try:
        check = check_boundaries(file, g)
    except ValueError as exc:
        fail(exc)
    for line in check.problems:
        typer.echo(line)
    typer.echo(check.summary(g))
    if check.problems:
        raise typer.Exit(1)


@areas_app.command("flagged")
def areas_flagged(data_dir: DataDir = None) -> None:
    """List records whose free-text area (from before the gazetteer) matched no known
    area: deployments, council motions and subscriptions to correct. Exits 1 if any."""
    from sqlalchemy import select

    from openlfr.storage import models as m

    platform = _open(data_dir)
    lines: list[str] = []
    try:
        with platform.sessions() as s:
            lines += [f"deployment {d.reference}: {d.area_flag}" for d in s.scalars(
                select(m.Deployment).where(m.Deployment.area_flag.is_not(None)))]
            lines += [f"motion {x.id} ({x.body}): unmatched areas {', '.join(x.unmatched_areas)}"
                      for x in s.scalars(select(m.CouncilMotion)) if x.unmatched_areas]
            lines += [f"subscription {x.id}: {x.area_flag}" for x in s.scalars(
                select(m.NoticeSubscription).where(m.NoticeSubscription.area_flag.is_not(None)))]
    finally:
        platform.close()
    for line in lines:
        typer.echo(line)
    if lines:
        raise typer.Exit(1)
    typer.echo("no flagged areas: every record names a gazetteer area")


def register(app: typer.Typer) -> None:
    """Add the platform's commands to the `openlfr` command."""
    app.command("serve")(serve)
    app.command("powers")(powers)
    app.add_typer(user_app, name="user")
    app.add_typer(audit_app, name="audit")
    app.add_typer(areas_app, name="areas")
