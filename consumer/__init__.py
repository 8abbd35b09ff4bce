"""utxoiq-ingest: Kafka to PostgreSQL with exactly-once effects and dead-letter topics."""

__version__ = "0.1.0"
