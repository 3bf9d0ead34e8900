"""`openlfr demo`: the whole story on embedded defaults and the bundled sample data.

An area with a council motion, a deployment proposed with notice three weeks ahead,
engagement, a consultation with answers, an objection and its answer, the impact
assessment, a watchlist enrolled from sample photos, authorisation, a node running the
real engine on the sample clip and posting alerts to the platform over HTTP, alerts
adjudicated, the review published; then the portal is served. `--engine-only` runs just
the engine on the sample data and writes nothing.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs
import typer

from openlfr.cli.errors import fail
from openlfr.interrupts import Background
from openlfr.recognition import (
    EngineConfig,
    FaceAnalyzer,
    RecognitionError,
    Watcher,
    build_watchlist,
    open_source,
)
from openlfr.samples import CLIP, GROUPS, IDENTITIES, SAMPLE_FACES

if TYPE_CHECKING:
    import uvicorn

#: What a previous demo leaves in its folder (removed by --fresh).
DEMO_FILES = ("openlfr.sqlite3", "openlfr.sqlite3-wal", "openlfr.sqlite3-shm", "watchlist.key",
              "node-outbox")


def default_demo_dir() -> Path:
    """The demo's own folder, apart from any real platform's data."""
    return platformdirs.user_data_path("openlfr") / "demo"


def demo(
    port: int = typer.Option(8000, min=0, max=65535,
                             help="Port to serve the portal on (0: any free port)."),
    host: str = typer.Option("127.0.0.1", help="Address to serve on."),
    data_dir: Path = typer.Option(None, "--data-dir", file_okay=False,
                                  help="Folder for the demo's state (default: the user data "
                                       "folder's openlfr/demo). Always a SQLite database."),
    fresh: bool = typer.Option(False, "--fresh",
                               help="Delete the state of an earlier demo run and start clean."),
    live: bool = typer.Option(False, "--live",
                              help="Stop when the node has run: the deployment stays active "
                                   "and its alerts wait for you in the operator console."),
    serve: bool = typer.Option(True, "--serve/--no-serve",
                               help="Keep serving the portal when the story is done."),
    workers: int = typer.Option(2, min=0, help="Engine worker processes."),
    engine_only: bool = typer.Option(False, "--engine-only",
                                     help="Only the engine on the sample clip and photos; no "
                                          "platform, nothing written."),
) -> None:
    """Run the whole story on the bundled sample data, then serve the portal.

    A second run reuses the state the first left (and says so); --fresh starts clean.
    Prints the portal's addresses and the demo logins (username = role).
    """
    if engine_only:
        _engine_demo(workers)
        return
    import uvicorn

    from openlfr.demo import story
    from openlfr.interrupts import sigterm_as_interrupt
    from openlfr.node.runner import NodeConfig, NodeError, NodeRunner
    from openlfr.services.platform import Platform
    from openlfr.settings import Settings
    from openlfr.web import create_app
    from openlfr.web.server import PlatformServer

    folder = (data_dir or default_demo_dir()).expanduser().resolve()
    if fresh:
        removed = [name for name in DEMO_FILES if (folder / name).exists()]
        for name in removed:
            path = folder / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        print(f"--fresh: removed the earlier demo state in {folder}" if removed
              else f"--fresh: nothing to remove in {folder}")
    # Embedded defaults only: never a database named in the environment (it may be real).
    # The demo's local mailbox: the e-mails it sends are read at /staff/mailbox.
    settings = Settings(data_dir=folder, database_url=None, encryption_key=None,
                        demo_mailbox=True)
    platform = Platform.open(settings)
    app = create_app(platform=platform)
    server = PlatformServer(uvicorn.Config(app, host=host, port=port, log_level="warning"),
                            platform)
    serving = Background(server.run, name="openlfr-demo-server").start()
    base_url = _wait_for(server, serving, host, port)
    platform.settings.public_url = base_url

    def say(line: str) -> None:
        print(f"  {line}", flush=True)

    with sigterm_as_interrupt():  # Ctrl-C or SIGTERM stop it cleanly
        try:
            existing = story.existing_demo(platform)
            if existing is not None:
                print(f"Reusing the demo state in {folder}: {existing.reference} is "
                      f"'{existing.status}'. Run with --fresh to start again.")
                state = story.DemoState(existing.id, existing.reference)
            else:
                print(f"Starting a clean demo in {folder}")
                print("1. Governance, weeks before the deployment (the clock is set back):")
                state = story.run_governance(platform, say)
                story.run_watchlist_and_authorisation(platform, state, SAMPLE_FACES, say)
                print("2. The deployment goes live now:")
                story.activate_now(platform, state, say)
                print(f"3. The engine node runs on {CLIP.name} and reports to the platform:")
                from openlfr.cli.node_command import event_text, summary_line

                def report(event: dict[str, object]) -> None:
                    if event.get("type") == "alert":  # the operator judges it by its frame
                        state.alert_frames[str(event["alert_uid"])] = int(str(event["frame"]))
                    line = event_text(event)
                    if line is not None:
                        say(line)

                summary = NodeRunner(NodeConfig(
                    platform_url=base_url, api_key=state.node_api_key, deployment=state.reference,
                    source=str(CLIP), camera="demo-camera-1", outbox_dir=folder / "node-outbox",
                    workers=workers, flush_timeout_s=60.0), report).run()
                say(summary_line(summary))
                if summary.stop_reason not in ("source_ended", "deployment_ended"):
                    fail(NodeError(f"the demo node stopped: {summary.stop_reason} "
                                   f"({summary.detail})"))
                if live:
                    print("4. Left for you: the deployment is active and its alerts wait in the "
                          "operator console.")
                else:
                    print("4. Adjudication, completion and review:")
                    story.adjudicate_and_complete(platform, state, say)
                print("5. An upcoming deployment beside it, for you to answer and object to:")
                story.run_upcoming(platform, say)
            _print_addresses(base_url, state, folder, live and existing is None)
            if serve:
                print(f"Serving at {base_url} (Ctrl-C to stop)", flush=True)
                serving.wait()
        except KeyboardInterrupt:
            print("stopping")
        except (NodeError, RecognitionError) as exc:
            fail(exc)
        finally:
            server.should_exit = True
            if not serving.wait(timeout=15):
                print("the server did not stop within 15 s; leaving it", file=sys.stderr)
            platform.close()


def _wait_for(server: uvicorn.Server, serving: Background, host: str, port: int) -> str:
    """The server's base URL once it listens; a clear error if it cannot."""
    deadline = time.monotonic() + 30
    while not server.started:
        if not serving.running() or time.monotonic() > deadline:
            fail(OSError(f"cannot serve on {host}:{port} (is the port in use? choose another "
                         "with --port, or --port 0 for any free one)"))
        time.sleep(0.05)
    bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
    return f"http://{host}:{bound}"


def _print_addresses(base_url: str, state: object, folder: Path, live: bool) -> None:
    from openlfr.demo.story import DEMO_PASSWORD, DEMO_ROLES, DemoState

    assert isinstance(state, DemoState)
    ref, dep_id = state.reference, state.deployment_id
    print("Public portal (no login):")
    print(f"  {base_url}/                                  upcoming, active and past deployments")
    print(f"  {base_url}/deployments/{ref}          everything published about it")
    print(f"  {base_url}/deployments/{ref}/review   the post-deployment review (and .pdf)")
    print(f"  {base_url}/transparency                      figures, charts, CSV and JSON")
    print(f"  {base_url}/register                          technology register and motions")
    print("Staff (log in at /staff/login; username = role):")
    print(f"  {', '.join(DEMO_ROLES)}; password: {DEMO_PASSWORD}")
    console = f"  {base_url}/staff/deployments/{dep_id}/console   operator console"
    print(console + (" (your alerts are waiting)" if live else ""))
    print(f"  {base_url}/docs                              the JSON API")
    print(f"  {base_url}/staff/mailbox                     the demo's mailbox (admin): "
          "confirm an e-mail subscription there")
    print(f"State: {folder} (serve it again with: openlfr demo --data-dir {folder})")


def _engine_demo(workers: int) -> None:
    """The engine alone: enrol the bundled subjects, watch the clip and group photos."""
    try:
        analyzer = FaceAnalyzer()
        print(f"1. enrolling sample subjects from {IDENTITIES}")
        watchlist, report = build_watchlist(IDENTITIES, analyzer, workers=workers)
        print(
            f"   {len(watchlist.subjects)} subjects, {report.enrolled_images} photos: "
            + ", ".join(s.ref for s in watchlist.subjects)
        )
        config = EngineConfig(workers=workers)
        for step, source in ((2, CLIP), (3, GROUPS)):
            print(f"{step}. watching {source.name} (threshold {config.threshold})")
            watcher = Watcher(watchlist, config, analyzer)
            for alert in watcher.run(open_source(str(source))):
                print(
                    f"   ALERT frame {alert.frame:>4}  {alert.subject:<20} score {alert.score:.3f}"
                )
            c = watcher.counters
            print(
                f"   {c.frames_processed} frames, {c.faces_detected} faces, {c.tracks} tracks, "
                f"{c.descriptors} descriptors, {c.alerts} alerts; non-matching faces kept: none"
            )
    except RecognitionError as exc:
        fail(exc)
    print(
        "Next: openlfr watchlist build YOUR_PHOTOS --out w.json"
        " && openlfr watch VIDEO --watchlist w.json"
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
