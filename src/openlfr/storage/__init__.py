"""Storage: SQLAlchemy tables, the database engine and the Alembic migrations."""

from openlfr.storage.db import make_engine, make_sessionmaker, migrate

__all__ = ["make_engine", "make_sessionmaker", "migrate"]
