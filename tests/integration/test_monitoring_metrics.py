"""The dashboard and the alert rules read only metrics the running service serves."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from consumer.settings import Settings
from tests.support.monitoring import (
    dashboard_expressions,
    metric_names,
    rule_expressions,
    scrape,
    served_series,
)
from tests.support.proxy import free_port
from tests.support.running import ConsumerProcess
from tests.support.waiting import wait_until


async def test_every_metric_of_the_dashboard_and_rules_is_served(
    make_settings: Callable[..., Settings], clean_db: asyncpg.Pool
) -> None:
    """A real `utxoiq consume` serves, at /metrics, every series name that the Grafana
    dashboard and the Prometheus alert rules query, so no panel or alert reads a name
    the service never exports."""
    port = free_port()
    settings = make_settings(http_port=port, http_host="127.0.0.1")
    consumer = ConsumerProcess(settings).start()
    try:

        async def exposition() -> str | None:
            assert consumer.alive, "utxoiq consume exited"
            text = await scrape(port)
            return text if text and "utxoiq_assigned_partitions{" in text else None

        text = await wait_until(exposition, within=90, interval=0.5, what="a /metrics scrape")
        assert text is not None
        served = served_series(text)
        for source, expressions in (
            ("dashboard", dashboard_expressions()),
            ("alert rules", rule_expressions()),
        ):
            used = metric_names(expressions)
            assert used, source
            assert used <= served, f"{source} use names not served: {sorted(used - served)}"
    finally:
        assert consumer.terminate() == 0
