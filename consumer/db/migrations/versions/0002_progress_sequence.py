"""Track the sequence of the progress event that set current_block.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "backfill_jobs",
        sa.Column(
            "progress_sequence", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
    )
    op.execute(
        "UPDATE backfill_jobs SET progress_sequence = sequence WHERE current_block IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("backfill_jobs", "progress_sequence")
