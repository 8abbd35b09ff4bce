"""The benchmark: drain rate, latency, memory and CPU of each pipeline, beside the
ceilings of the same machine (fetch-only, decode-only, write-only) and a naive
one-transaction-per-event baseline."""
