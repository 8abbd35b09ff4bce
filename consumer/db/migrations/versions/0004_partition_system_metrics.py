"""system_metrics range-partitioned by day on recorded_at, key (recorded_at, event_id).

The existing table is renamed, the partitioned table created in its place with a
default partition and one partition per day its rows cover (plus today and the next
seven days), the rows copied over and the old table dropped. The whole migration holds
an ACCESS EXCLUSIVE lock on system_metrics: ingestion of metrics waits for it (about
what docs/growth.md measures per million rows). Later days' partitions are made by
``utxoiq db maintain``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 07:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = "event_id, service_name, metric_type, value, unit, recorded_at, ingested_at"

MAKE_DAY_PARTITIONS = """
DO $$
DECLARE
  day date;
BEGIN
  FOR day IN
    SELECT DISTINCT (recorded_at AT TIME ZONE 'UTC')::date FROM system_metrics_unpartitioned
    UNION
    SELECT generate_series((now() AT TIME ZONE 'UTC')::date,
                           (now() AT TIME ZONE 'UTC')::date + 7, interval '1 day')::date
  LOOP
    EXECUTE format(
      'CREATE TABLE %I PARTITION OF system_metrics FOR VALUES FROM (%L) TO (%L)',
      'system_metrics_p' || to_char(day, 'YYYYMMDD'),
      day::text || ' 00:00+00', (day + 1)::text || ' 00:00+00');
  END LOOP;
END
$$
"""


def _create_table(partition_by: str = "") -> None:
    op.execute(
        f"""
CREATE TABLE system_metrics (
  event_id uuid NOT NULL,
  service_name text NOT NULL,
  metric_type text NOT NULL,
  value double precision NOT NULL,
  unit text NOT NULL,
  recorded_at timestamptz NOT NULL,
  ingested_at timestamptz NOT NULL DEFAULT now()
) {partition_by}"""
    )


def _add_key_and_index(key: str) -> None:
    op.execute(f"ALTER TABLE system_metrics ADD CONSTRAINT pk_system_metrics PRIMARY KEY ({key})")
    op.execute(
        "CREATE INDEX ix_system_metrics_series_time "
        "ON system_metrics (service_name, metric_type, recorded_at)"
    )


def upgrade() -> None:
    op.execute("LOCK TABLE system_metrics IN ACCESS EXCLUSIVE MODE")
    op.execute("ALTER TABLE system_metrics RENAME TO system_metrics_unpartitioned")
    op.execute("ALTER INDEX pk_system_metrics RENAME TO pk_system_metrics_unpartitioned")
    op.execute(
        "ALTER INDEX ix_system_metrics_series_time "
        "RENAME TO ix_system_metrics_unpartitioned_series_time"
    )
    _create_table("PARTITION BY RANGE (recorded_at)")
    op.execute("CREATE TABLE system_metrics_default PARTITION OF system_metrics DEFAULT")
    op.execute(MAKE_DAY_PARTITIONS)
    # rows first, then the key and index: one sorted build per partition is cheaper than
    # inserting every row into two indexes
    op.execute(
        f"INSERT INTO system_metrics ({COLUMNS}) SELECT {COLUMNS} FROM system_metrics_unpartitioned"
    )
    _add_key_and_index("recorded_at, event_id")
    op.execute("DROP TABLE system_metrics_unpartitioned")


def downgrade() -> None:
    op.execute("LOCK TABLE system_metrics IN ACCESS EXCLUSIVE MODE")
    op.execute("ALTER TABLE system_metrics RENAME TO system_metrics_partitioned")
    op.execute("ALTER INDEX pk_system_metrics RENAME TO pk_system_metrics_partitioned")
    op.execute(
        "ALTER INDEX ix_system_metrics_series_time RENAME TO ix_system_metrics_partitioned_series"
    )
    _create_table()
    _add_key_and_index("event_id")
    # The old key holds one sample per event id: of an id reused with other times, the
    # earliest sample is kept.
    op.execute(
        f"INSERT INTO system_metrics ({COLUMNS}) SELECT {COLUMNS} FROM system_metrics_partitioned"
        " ORDER BY recorded_at ON CONFLICT (event_id) DO NOTHING"
    )
    op.execute("DROP TABLE system_metrics_partitioned")
