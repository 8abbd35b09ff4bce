"""Write lanes: which lane a partition belongs to, and which lane to gather for next."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def lane_of(partition: int, lanes: int) -> int:
    """The write lane of a partition: partitions are dealt to lanes by number."""
    return partition % lanes


def choose_lane(order: Sequence[int], writing: Collection[int]) -> int | None:
    """The first free lane of ``order`` (the lanes with partitions, in turn), or None
    when every lane is writing (``writing``). A batch is only ever gathered for a free
    lane, so it never waits for its lane's previous write, and a lane held up by a slow
    write or by retries holds up no other."""
    return next((lane for lane in order if lane not in writing), None)
