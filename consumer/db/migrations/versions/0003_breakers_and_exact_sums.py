"""Rollup sums that cannot overflow; the breaker tables operators and members share.

``value_sum`` of the hourly and daily rollups becomes ``numeric``: a sum of finite
doubles can exceed the largest double. ``breaker_states`` holds each member's
dead-letter breaker as it last changed; ``breaker_closes`` the operators' close
requests per consumer group.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLLUPS = ("system_metrics_hourly", "system_metrics_daily")


def upgrade() -> None:
    for table in ROLLUPS:
        op.alter_column(
            table,
            "value_sum",
            type_=sa.Numeric(),
            existing_nullable=False,
            postgresql_using="value_sum::text::numeric",
        )
    op.create_table(
        "breaker_states",
        sa.Column("consumer_group", sa.Text(), nullable=False),
        sa.Column("member", sa.Text(), nullable=False),
        sa.Column("pipeline", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("cooldown_s", sa.Double(), nullable=False),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "state IN ('closed', 'open', 'half_open')", name=op.f("ck_breaker_states_state_known")
        ),
        sa.PrimaryKeyConstraint("consumer_group", "member", name=op.f("pk_breaker_states")),
    )
    op.create_table(
        "breaker_closes",
        sa.Column("consumer_group", sa.Text(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("consumer_group", name=op.f("pk_breaker_closes")),
    )


def downgrade() -> None:
    op.drop_table("breaker_closes")
    op.drop_table("breaker_states")
    for table in ROLLUPS:
        op.alter_column(
            table,
            "value_sum",
            type_=sa.Double(),
            existing_nullable=False,
            postgresql_using="least(greatest(value_sum, -1.7976931348623157e308),"
            " 1.7976931348623157e308)::double precision",
        )
