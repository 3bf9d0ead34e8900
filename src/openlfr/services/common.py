"""Helpers shared by the use cases."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session

from openlfr.governance.errors import NotFound
from openlfr.storage.models import Base, Deployment

T = TypeVar("T", bound=Base)


def get_or_404(session: Session, model: type[T], id_: int, what: str, *,
               lock: bool = False) -> T:
    """Load a row by id or raise NotFound naming what was looked for; ``lock`` takes a row
    lock (PostgreSQL) until the transaction ends."""
    row = session.get(model, id_, with_for_update=lock)
    if row is None:
        raise NotFound(f"{what} {id_} does not exist")
    return row


def deployment_or_404(session: Session, deployment_id: int, *, lock: bool = False) -> Deployment:
    """Load a deployment by id; ``lock`` takes a row lock (PostgreSQL) for transitions,
    so two concurrent requests cannot both move it on."""
    row = session.get(Deployment, deployment_id, with_for_update=lock or None)
    if row is None:
        raise NotFound(f"deployment {deployment_id} does not exist")
    return row
