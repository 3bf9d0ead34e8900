"""`openlfr watchlist push`: enrol a folder of subjects on a deployment's watchlist on the
platform, one entry per sub-folder, through the platform's photo API (the platform finds
the faces and computes the descriptors). Thin: read the folder, post, print."""

from __future__ import annotations

import getpass
import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from openlfr.cli.errors import fail
from openlfr.node.client import api_root
from openlfr.recognition.enrolment import find_enrolment_photos
from openlfr.recognition.errors import RecognitionError

#: Photos per subject the platform accepts in one entry.
MAX_PHOTOS = 20


def _problem(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return f"{response.status_code} {response.reason_phrase}"
    if isinstance(detail, list):
        return "; ".join(f"{'.'.join(str(x) for x in e.get('loc', [])[1:])}: {e.get('msg')}"
                         for e in detail if isinstance(e, dict))
    return str(detail)


def _deployment_id(client: httpx.Client, deployment: str) -> int:
    if deployment.isdigit():
        return int(deployment)
    listed = client.get("/deployments")
    if listed.status_code != 200:
        fail(f"cannot list deployments: {_problem(listed)}")
    for d in listed.json():
        if d["reference"] == deployment:
            return int(d["id"])
    fail(f"no deployment with reference {deployment!r}")


def watchlist_push(
    subjects_dir: Annotated[Path, typer.Argument(
        help="Folder with one sub-folder per subject: the sub-folder name is the subject "
        "reference, its photos (.jpg/.png, at most 20) become one entry.")],
    platform: Annotated[str, typer.Option(
        "--platform", help="The platform's address, e.g. https://lfr.example.org.")],
    deployment: Annotated[str, typer.Option(
        "--deployment", help="The deployment's numeric id or reference (LFR-2026-0007).")],
    category: Annotated[str, typer.Option(
        help="Watchlist category of every subject, e.g. wanted_for_arrest.")],
    source: Annotated[str, typer.Option(help="Where the photos come from, e.g. custody.")],
    authorised_by: Annotated[str, typer.Option(
        "--authorised-by", help="Who authorised putting these subjects on the list.")],
    image_date: Annotated[str, typer.Option(
        "--image-date", help="When the photos were taken (YYYY-MM-DD).")],
    expires_on: Annotated[str | None, typer.Option(
        "--expires-on", help="Date the entries expire (YYYY-MM-DD); optional.")] = None,
    username: Annotated[str | None, typer.Option(
        "--username", envvar="OPENLFR_USERNAME",
        help="A planner's username (or OPENLFR_USERNAME; else asked).")] = None,
    create: Annotated[bool, typer.Option(
        "--create", help="Create the deployment's watchlist first if it has none.")] = False,
    build: Annotated[bool, typer.Option(
        "--build", help="Build the watchlist after enrolling (the gates need it built "
        "within 24 hours of the start).")] = False,
    second_opinion: Annotated[bool, typer.Option(
        "--second-opinion", help="With --create: the watchlist decides with a second "
        "opinion (dlib's network describes each photo too; nodes ask it about scores just "
        "below the threshold). The threshold gate then needs an equity audit made with it "
        "(openlfr evaluate --second-opinion).")] = False,
) -> None:
    """Enrol every subject in SUBJECTS_DIR on a deployment's watchlist on the platform.

    The password is read from OPENLFR_PASSWORD or asked for. A subject whose photos the
    platform cannot use (no face, several faces, face too small, unreadable) is reported
    with the platform's reason and skipped; the others are enrolled.
    """
    try:
        photos = find_enrolment_photos(subjects_dir)
        date.fromisoformat(image_date)
        if expires_on:
            date.fromisoformat(expires_on)
    except RecognitionError as exc:
        fail(exc)
    except ValueError as exc:
        fail(f"dates are written YYYY-MM-DD ({exc})")
    by_subject: dict[str, list[Path]] = {}
    for ref, path in photos:
        by_subject.setdefault(ref, []).append(path)
    user = username or input("username: ")
    password = os.environ.get("OPENLFR_PASSWORD") or getpass.getpass("password: ")
    with httpx.Client(base_url=api_root(platform), timeout=120) as client:
        try:
            login = client.post("/auth/login", json={"username": user, "password": password})
        except httpx.HTTPError as exc:
            fail(f"cannot reach the platform at {platform} ({exc})")
        if login.status_code != 200:
            fail(f"cannot log in: {_problem(login)}")
        deployment_id = _deployment_id(client, deployment)
        base = f"/deployments/{deployment_id}/watchlist"
        existing = client.get(base) if create or second_opinion else None
        if existing is not None and create and existing.status_code == 404:
            from openlfr.recognition.analyzer import reference_model_id
            from openlfr.recognition.backends import engine_model_id

            created = client.post(base, json={
                "descriptor_model": engine_model_id(),
                "reference_model": reference_model_id() if second_opinion else None})
            if created.status_code != 201:
                fail(f"cannot create the watchlist: {_problem(created)}")
            print(f"created the watchlist of deployment {deployment_id}"
                  + (" (decides with a second opinion)" if second_opinion else ""))
        elif existing is not None and second_opinion and existing.status_code == 200 and not (
                existing.json()["watchlist"].get("reference_model")):
            fail(f"deployment {deployment_id}'s watchlist was created without a second "
                 "opinion; --second-opinion applies only when --create makes the watchlist")
        enrolled = 0
        fields: dict[str, Any] = {"category": category, "source": source,
                                  "authorised_by": authorised_by, "image_taken_on": image_date}
        if expires_on:
            fields["expires_on"] = expires_on
        for ref, paths in by_subject.items():
            if len(paths) > MAX_PHOTOS:
                print(f"skipped {ref}: {len(paths)} photos; at most {MAX_PHOTOS} per subject")
                continue
            files = [("photo", (p.name, p.read_bytes(), "application/octet-stream"))
                     for p in paths]
            r = client.post(f"{base}/photos", data={**fields, "subject_ref": ref}, files=files)
            if r.status_code == 201:
                enrolled += 1
                print(f"enrolled {ref} as entry {r.json()['id']} ({len(paths)} photos)")
            elif r.status_code == 422:
                print(f"skipped {ref}: {_problem(r)}")
            else:
                fail(f"{ref}: the platform refused ({r.status_code}): {_problem(r)}")
        print(f"enrolled {enrolled} of {len(by_subject)} subjects on deployment "
              f"{deployment_id}'s watchlist")
        if build and enrolled:
            built = client.post(f"{base}/build")
            if built.status_code != 200:
                fail(f"cannot build the watchlist: {_problem(built)}")
            print("built the watchlist")
    if enrolled == 0:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``push`` to the ``watchlist`` group (defined with the engine's commands and
    already on ``app``)."""
    from openlfr.cli.engine_commands import watchlist_app

    watchlist_app.command("push")(watchlist_push)
