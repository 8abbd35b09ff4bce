"""Which write lane the loop gathers a batch for next."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def choose_lane(
    order: Sequence[int],
    writing: Collection[int],
    carried: Sequence[int],
    dry: Collection[int],
) -> int | None:
    """The free lane to gather for next, or None to wait for a writing lane to finish.

    ``order``: the lanes with partitions, in turn; ``writing``: the lanes writing a
    batch; ``carried``: records carried per lane; ``dry``: lanes whose last gather came
    back empty.

    First a free lane with records carried for it, then a free lane that is not dry.
    A dry lane is polled again only when no writing lane has records carried either:
    while one has, waiting for a lane to finish serves those records sooner than a poll
    that would likely find nothing. A batch is only ever gathered for a free lane, so it
    never waits for its lane's previous write.
    """
    free = [lane for lane in order if lane not in writing]
    for lane in free:
        if carried[lane]:
            return lane
    for lane in free:
        if lane not in dry:
            return lane
    if any(carried[lane] for lane in order if lane in writing):
        return None
    return free[0] if free else None
