"""The consume engine of one pipeline member: the loop and its stages.

loop          the turn: position, pick a lane, gather, decode, hand over
partitions    assigned / positioned / unpositioned partitions, pausing, the listener
seeking       seeking to stored positions; the retention-loss alarm
audit         idle check of held positions against stored ones
fetcher       gathering a lane's batch; carrying other lanes' records (carry)
lane_pool     the lanes in flight, choosing the next (lanes), waiting for them
writing       a lane's apply, acting on the failure policy (failure)
gate          what a revocation closes: no write starts, those in progress end
parts         the machinery the stages share, built once per member
offset_mirror Kafka's committed offsets, a copy for lag tools
status        the frozen status health and tests read
"""

from consumer.engine.loop import PipelineRunner
from consumer.engine.status import PipelineStatus

__all__ = ["PipelineRunner", "PipelineStatus"]
