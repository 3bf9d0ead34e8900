"""Alembic environment: runs against the engine openlfr passes in (see storage.db)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from openlfr.storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or create_engine(
        config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
            compare_type=True,
        )
        context.run_migrations()


run_migrations_online()
