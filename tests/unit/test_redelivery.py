"""Pure parts of dead letters once per record, and of naming a missing grant."""

from __future__ import annotations

from consumer.batching import Batch, BatchLimits
from consumer.coordinates import KafkaMessage, RecordId, TopicPartition
from consumer.deadletters import decode_headers, encode_headers
from consumer.grants import denied_table
from consumer.outcomes import DeadLetter
from consumer.redelivery import DeadLetterMarks, first_time, must_look_up
from consumer.vocabulary import Stage
from tests.unit.helpers import record

TP = TopicPartition("t", 0)


def batch_from(offset: int, count: int, partition: int = 0) -> Batch:
    batch = Batch(BatchLimits(1000, 1 << 20, 1.0))
    records: list[KafkaMessage] = [
        record(b"x", offset=o, partition=partition) for o in range(offset, offset + count)
    ]
    batch.extend(TopicPartition("t", partition), records)
    return batch


def dead(offset: int) -> DeadLetter:
    return DeadLetter(record(b"x", offset=offset), Stage.DECODE, "MalformedJson", "bad")


def test_a_batch_looks_up_dead_letters_only_when_it_reaches_back_to_one() -> None:
    marks = DeadLetterMarks()
    assert not marks.may_meet(batch_from(0, 10))
    marks.raise_to([dead(4), dead(2)])
    assert marks.highest == {TP: 4}
    assert marks.may_meet(batch_from(3, 10))
    assert marks.may_meet(batch_from(4, 1))
    assert not marks.may_meet(batch_from(5, 10))
    assert not marks.may_meet(batch_from(0, 10, partition=1))
    assert must_look_up(None, batch_from(5, 1))
    marks.forget(TP)
    assert not marks.may_meet(batch_from(0, 10))


def test_only_dead_letters_without_a_row_are_published() -> None:
    letters = [dead(1), dead(2), dead(3)]
    assert first_time(letters, set()) == letters
    assert first_time(letters, {RecordId("t", 0, 2)}) == [letters[0], letters[2]]


def test_null_header_values_survive_the_table_round_trip() -> None:
    headers = (("trace", None), ("empty", b""), ("bin", b"\xff"))
    assert decode_headers(encode_headers(headers)) == headers


def test_the_denied_table_is_read_from_postgresqls_message() -> None:
    assert denied_table("permission denied for table system_metrics") == "system_metrics"
    assert denied_table("permission denied for schema utxoiq") is None
