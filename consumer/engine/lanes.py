"""Write lanes: which lane a partition belongs to, and which lane to gather for next."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def lane_of(partition: int, lanes: int) -> int:
    """The write lane of a partition: partitions are dealt to lanes by number."""
    return partition % lanes


def choose_lane(
    order: Sequence[int],
    writing: Collection[int],
    carried: Sequence[int],
    dry: Collection[int],
) -> int | None:
    """The free lane to gather for next, or None when every lane is writing.

    ``order``: the lanes with partitions, in turn; ``writing``: the lanes writing a
    batch; ``carried``: records carried per lane; ``dry``: lanes whose last gather came
    back empty.

    First a free lane with records carried for it, then a free lane that is not dry, then
    a dry one: a lane whose partitions have run dry is polled only when no other free
    lane has records to take or is likely to find some. A batch is only ever gathered for
    a free lane, so it never waits for its lane's previous write, and a lane held up by
    a slow write or by retries holds up no other.
    """
    free = [lane for lane in order if lane not in writing]
    for lane in free:
        if carried[lane]:
            return lane
    for lane in free:
        if lane not in dry:
            return lane
    return free[0] if free else None
