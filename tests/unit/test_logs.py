"""The client log filter: a calm start, and one line per cause per interval in a flood."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from consumer.logs import ClientLogFilter, TextFormatter

COORDINATOR = "aiokafka.consumer.group_coordinator"
STARTUP_S = 60.0
INTERVAL_S = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lines(clock: Clock) -> Iterator[tuple[ClientLogFilter, io.StringIO]]:
    """A handler like ``configure_logging``'s (INFO, the filter on it), writing to a buffer."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(TextFormatter())
    client_filter = ClientLogFilter(logging.INFO, STARTUP_S, INTERVAL_S, clock)
    handler.addFilter(client_filter)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield client_filter, output
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def coordinator_not_available() -> None:
    logging.getLogger(COORDINATOR).error(
        "Group Coordinator Request failed: %s",
        "[Error 15] GroupCoordinatorNotAvailableError: Coordinator not available",
    )


def coordinator_marked_dead() -> None:
    logging.getLogger(COORDINATOR).warning(
        "Marking the coordinator dead (node %s)for group %s.", 1, "utxoiq-ingest-jobs"
    )


def unable_to_connect(node: int) -> None:
    logging.getLogger("aiokafka.client").error(
        "Unable connect to node with id %s: %s", node, "[Errno 111] Connection refused"
    )


def test_group_formation_noise_is_quiet_while_the_service_starts(
    lines: tuple[ClientLogFilter, io.StringIO],
) -> None:
    _, output = lines
    for _ in range(3):
        coordinator_not_available()
    for _ in range(6):
        coordinator_marked_dead()
    logging.getLogger("utxoiq.service").info("ready")
    assert output.getvalue().splitlines() == ["info    utxoiq.service: ready"]


def test_group_formation_noise_keeps_its_level_once_ready(
    lines: tuple[ClientLogFilter, io.StringIO],
) -> None:
    client_filter, output = lines
    client_filter.service_ready()
    coordinator_not_available()
    assert output.getvalue().startswith("error   aiokafka.consumer.group_coordinator: Group")


def test_group_formation_noise_keeps_its_level_past_the_startup_timeout(
    lines: tuple[ClientLogFilter, io.StringIO], clock: Clock
) -> None:
    _, output = lines
    clock.now += STARTUP_S + 1
    coordinator_marked_dead()
    assert output.getvalue().startswith("warning aiokafka.consumer.group_coordinator: Marking")


def test_demoted_noise_shows_at_debug_level(clock: Clock) -> None:
    client_filter = ClientLogFilter(logging.DEBUG, STARTUP_S, INTERVAL_S, clock)
    record = logging.LogRecord(
        COORDINATOR, logging.ERROR, __file__, 1, "Group Coordinator Request failed: %s",
        ("GroupCoordinatorNotAvailableError",), None,
    )  # fmt: skip
    assert client_filter.filter(record)
    assert (record.levelno, record.levelname) == (logging.DEBUG, "DEBUG")


def test_other_client_errors_are_not_demoted_while_starting(
    lines: tuple[ClientLogFilter, io.StringIO],
) -> None:
    _, output = lines
    logging.getLogger("aiokafka.cluster").error("Topic %s not found in cluster metadata", "t")
    assert output.getvalue() == "error   aiokafka.cluster: Topic t not found in cluster metadata\n"


def test_a_flood_is_one_line_per_cause_per_interval_with_a_count(
    lines: tuple[ClientLogFilter, io.StringIO], clock: Clock
) -> None:
    client_filter, output = lines
    client_filter.service_ready()
    for _second in range(25):  # a broker down for 25 s, 600 lines a second of each cause
        for _ in range(600):
            unable_to_connect(1)
            coordinator_marked_dead()
        clock.now += 1
    clock.now += INTERVAL_S  # the broker is back: the last interval closes on its timer
    client_filter.flush()
    shown = output.getvalue().splitlines()
    connect = [line for line in shown if "Unable connect" in line]
    dead = [line for line in shown if "Marking the coordinator dead" in line]
    assert len(connect) == 1 + 3 and len(dead) == 1 + 3, shown
    assert connect[0] == (
        "error   aiokafka.client: Unable connect to node with id 1: [Errno 111] Connection refused"
    )
    assert connect[1].startswith("error   utxoiq.client: Unable connect to node with id 1")
    assert "(and 5999 more like it in 10s)" in connect[1]
    counts = [int(line.split("repeated=")[1].split()[0]) for line in connect[1:]]
    assert sum(counts) == 25 * 600 - 1


def test_a_cause_quiet_for_an_interval_is_logged_again_when_it_returns(
    lines: tuple[ClientLogFilter, io.StringIO], clock: Clock
) -> None:
    client_filter, output = lines
    unable_to_connect(1)
    clock.now += INTERVAL_S
    client_filter.flush()
    clock.now += INTERVAL_S
    unable_to_connect(1)
    assert len(output.getvalue().splitlines()) == 2


def test_the_service_s_own_lines_pass_untouched(
    lines: tuple[ClientLogFilter, io.StringIO],
) -> None:
    _, output = lines
    for _ in range(3):
        logging.getLogger("utxoiq.consumer").warning("transient failure; retrying")
    assert len(output.getvalue().splitlines()) == 3
