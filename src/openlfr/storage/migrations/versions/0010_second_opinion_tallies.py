"""The published figures count the alerts the second opinion lifted, and how many of
those were false (``second_opinion_alerts``, ``second_opinion_false_alerts`` tallies):
every deployment's tallies, days and months, recounted from its alerts and counter
batches (this fills 0008's month tallies too).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAMES = ("second_opinion_alerts", "second_opinion_false_alerts")


def upgrade() -> None:
    # The recount this revision made (services.figures.rebuild_tallies, today's code) reads
    # every column the figures count, and 0011 added one: run here, it would ask for a
    # column that does not exist yet. 0011 recounts instead, once its column is there; a
    # database already past this revision was recounted here and is again there.
    return None


def downgrade() -> None:
    for table in ("figure_tallies", "figure_month_tallies"):
        op.execute(sa.text(f"DELETE FROM {table} WHERE name IN :names").bindparams(
            sa.bindparam("names", _NAMES, expanding=True)))
