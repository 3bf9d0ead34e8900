"""Counter batches carry the frames a node's engine searched only near its tracks to keep
up with a live source (``frames_near_behind``): a deployment that ran on a CPU too slow
for its camera shows it in its figures, as it shows the frames dropped. Batches recorded
before count 0 (their nodes did not shed). Then every deployment's tallies are recounted
(the recount 0010 made, moved here: see there).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 10:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from openlfr.services.figures import rebuild_tallies

    with op.batch_alter_table("counter_batches") as batch:
        batch.add_column(sa.Column("frames_near_behind", sa.Integer(), nullable=False,
                                   server_default="0"))
    # One full recount of what was recorded before (0010's second-opinion tallies and
    # 0008's month tallies included), then running totals. The recount is today's code
    # and reads every column the figures count: it belongs in the latest revision that
    # adds such a column, and moves to the next one that does.
    rebuild_tallies(op.get_bind())


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM figure_tallies WHERE name = 'frames_near_behind'"))
    op.execute(sa.text("DELETE FROM figure_month_tallies WHERE name = 'frames_near_behind'"))
    with op.batch_alter_table("counter_batches") as batch:
        batch.drop_column("frames_near_behind")
