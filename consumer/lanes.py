"""Which write lane the loop gathers a batch for next."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def choose_lane(
    order: Sequence[int],
    writing: Sequence[int],
    carried: Sequence[int],
    dry: Collection[int],
) -> int:
    """The lane to gather for next.

    ``order``: the lanes with partitions, in turn; ``writing``: the lanes writing a batch,
    in the order they started; ``carried``: records carried per lane; ``dry``: lanes whose
    last gather found no records.

    First a free lane with records carried for it; then a free lane that is not dry; then
    a writing lane with records carried (its next batch is gathered and decoded while it
    writes); then any free lane; then the lane that started writing first. So a lane whose
    partitions have run dry is polled only when no other lane has records to take, and
    never keeps them waiting for its poll's timeout.
    """
    free = [lane for lane in order if lane not in writing]
    busy = [lane for lane in writing if lane in order]
    choices = (
        [lane for lane in free if carried[lane]],
        [lane for lane in free if lane not in dry],
        [lane for lane in busy if carried[lane]],
        free,
        busy,
    )
    return next(lane for lanes in choices for lane in lanes)
