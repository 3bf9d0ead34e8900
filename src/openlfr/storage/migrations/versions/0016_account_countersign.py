"""An admin's change to a force account (a new account, a new role, a password reset, a
reactivation) is held until oversight countersigns it (``users.held_change``: what it
would do, who asked and when). Existing accounts hold nothing. When a password the admin
chose takes effect, oversight is given a code the first login needs, with a password of
the person's own (``users.first_login_code_hash``): the admin alone never holds a working
login.

Engine nodes' keys are issued by authorisers from now on, not by an admin: a node key
reads its deployment's watchlist, which an admin may not. Node keys a person issued
before (an admin: the only role that could) are revoked here (``revoked_at`` set), so
that no admin keeps that reach, whatever their role is now; an authoriser issues the
node a new key. Keys the platform issued itself (``system``) stay. A node key works once
an operator confirms it (``confirmed_at``, ``confirmed_by``): one person alone neither
issues a working key (an authoriser could feed the figures they are judged by) nor makes
one (an operator would judge the alerts it sends). Existing keys count as confirmed as
issued.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 06:00:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from openlfr.storage.types import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # In place: copying the table on SQLite would cascade-delete what refers to it.
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.add_column(sa.Column("held_change", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("first_login_code_hash", sa.String(length=64),
                                   nullable=True))
    with op.batch_alter_table("api_keys", recreate="never") as batch:
        batch.add_column(sa.Column("confirmed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("confirmed_by", sa.String(length=64), nullable=True))
    users = sa.table("users", sa.column("username", sa.String))
    keys = sa.table("api_keys", sa.column("role", sa.String),
                    sa.column("created_by", sa.String), sa.column("created_at", UTCDateTime()),
                    sa.column("revoked_at", UTCDateTime()),
                    sa.column("confirmed_at", UTCDateTime()),
                    sa.column("confirmed_by", sa.String))
    op.get_bind().execute(keys.update().values(confirmed_at=keys.c.created_at,
                                               confirmed_by=keys.c.created_by))
    op.get_bind().execute(keys.update().where(
        keys.c.role == "node", keys.c.revoked_at.is_(None),
        keys.c.created_by.in_(sa.select(users.c.username)),
    ).values(revoked_at=datetime.now(UTC)))


def downgrade() -> None:
    # The keys revoked on the way up stay revoked: a revocation is never undone.
    with op.batch_alter_table("api_keys", recreate="never") as batch:
        batch.drop_column("confirmed_by")
        batch.drop_column("confirmed_at")
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.drop_column("first_login_code_hash")
        batch.drop_column("held_change")
