"""Prometheus metrics of the pipelines (names follow Prometheus conventions)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from consumer.outcomes import BatchReport, Outcome


class Telemetry:
    """Counters, gauges and histograms for every pipeline in this process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.records = Counter(
            "utxoiq_records_total",
            "Consumed records by final outcome.",
            ["pipeline", "topic", "outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            "utxoiq_dead_letters_total",
            "Records sent to the dead-letter topic, by stage.",
            ["pipeline", "topic", "stage"],
            registry=r,
        )
        self.unknown_fields = Counter(
            "utxoiq_unknown_fields_total",
            "Fields of valid events that this consumer does not know (ignored), by event type.",
            ["pipeline", "type"],
            registry=r,
        )
        self.batch_records = Histogram(
            "utxoiq_batch_records",
            "Records per committed batch.",
            ["pipeline"],
            buckets=(1, 10, 50, 100, 500, 1000, 2500, 5000, 10000, 25000),
            registry=r,
        )
        self.write_seconds = Histogram(
            "utxoiq_batch_write_seconds",
            "Time from transaction start to commit, per batch.",
            ["pipeline"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.event_age = Histogram(
            "utxoiq_event_age_at_commit_seconds",
            "Age of the oldest event of each batch when its transaction committed.",
            ["pipeline"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
            registry=r,
        )
        self.lag = Gauge(
            "utxoiq_consumer_lag_records",
            "High watermark minus the stored position, per partition.",
            ["pipeline", "topic", "partition"],
            registry=r,
        )
        self.retries = Counter(
            "utxoiq_retries_total",
            "Batch attempts that failed transiently, by cause.",
            ["pipeline", "cause"],
            registry=r,
        )
        self.retry_budget_exhausted = Counter(
            "utxoiq_retry_budget_exhausted_total",
            "Times a batch used its whole retry budget (an alarm; it keeps retrying).",
            ["pipeline"],
            registry=r,
        )
        self.rebalances = Counter(
            "utxoiq_rebalances_total",
            "Partition assignments and revocations.",
            ["pipeline", "kind"],
            registry=r,
        )
        self.paused = Gauge(
            "utxoiq_paused_partitions",
            "Partitions currently paused (retrying or breaker open).",
            ["pipeline"],
            registry=r,
        )
        self.breaker_open = Gauge(
            "utxoiq_dead_letter_breaker_open",
            "1 while the dead-letter circuit breaker holds the pipeline.",
            ["pipeline"],
            registry=r,
        )
        self.lost_to_retention = Counter(
            "utxoiq_records_lost_to_retention_total",
            "Offsets deleted by Kafka (retention) below a stored position before they were "
            "consumed (an alarm).",
            ["pipeline"],
            registry=r,
        )
        self.assigned = Gauge(
            "utxoiq_assigned_partitions",
            "Partitions assigned to this process.",
            ["pipeline"],
            registry=r,
        )

        self.partitions_ahead = Gauge(
            "utxoiq_metrics_partitions_ahead_days",
            "Days from now to the end of the metrics partitions made ahead (0: today's "
            "samples wait in the default partition); alert well before it reaches 0. "
            "Only processes that run the metrics pipeline export it.",
            ["pipeline"],
            registry=r,
        )

    def batch_committed(self, pipeline: str, topic: str, report: BatchReport) -> None:
        for outcome in (Outcome.INSERTED, Outcome.UPDATED, Outcome.SUPERSEDED, Outcome.EXPIRED):
            if report.outcomes[outcome]:
                self.records.labels(pipeline, topic, outcome.value).inc(report.outcomes[outcome])
        dead = report.outcomes[Outcome.DEAD_LETTERED]
        if dead:
            self.records.labels(pipeline, topic, Outcome.DEAD_LETTERED.value).inc(dead)
        for stage, count in report.dead_by_stage.items():
            self.dead_letters.labels(pipeline, topic, stage).inc(count)
        for event_type, count in report.unknown_fields.items():
            self.unknown_fields.labels(pipeline, event_type).inc(count)
        self.batch_records.labels(pipeline).observe(report.records)
        self.write_seconds.labels(pipeline).observe(report.write_seconds)
        if report.oldest_event_age_s is not None:
            self.event_age.labels(pipeline).observe(max(report.oldest_event_age_s, 0.0))
