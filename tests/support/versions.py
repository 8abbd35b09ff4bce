"""A second version of the metric event, as a producer team would introduce one.

``utxoiq.system.metric.recorded.v2`` nests the service and the metric in objects of
their own, a change old consumers cannot read, so it is a new type. Its upgrade maps it
onto the version the metrics writer takes, so both versions land in ``system_metrics``.
``REGISTRY_WITH_V2`` is the registry of a consumer that learnt it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from schemas.events import Envelope, EventData, MetricRecorded, NulFree, ShortText
from schemas.registry import REGISTRY, EventVersion
from schemas.streams import Stream
from tests.support.events import envelope

METRIC_V2 = "utxoiq.system.metric.recorded.v2"


class ServiceRef(EventData):
    name: Annotated[str, Field(max_length=4096), NulFree]
    """Longer than the first version allows: such a sample cannot be stored as one."""


class MetricRef(EventData):
    type: ShortText
    unit: ShortText


class MetricRecordedV2Data(EventData):
    service: ServiceRef
    metric: MetricRef
    value: Annotated[float, Field(allow_inf_nan=False)]


class MetricRecordedV2(Envelope):
    type: Literal["utxoiq.system.metric.recorded.v2"]
    data: MetricRecordedV2Data


def to_v1(event: MetricRecordedV2) -> MetricRecorded:
    """The same sample as the first version carries it."""
    data = event.data
    return MetricRecorded.model_validate(
        {
            **event.model_dump(include={"specversion", "id", "source", "time", "datacontenttype"}),
            "type": "utxoiq.system.metric.recorded",
            "data": {
                "service_name": data.service.name,
                "metric_type": data.metric.type,
                "value": data.value,
                "unit": data.metric.unit,
            },
        }
    )


METRIC_RECORDED_V2 = EventVersion(MetricRecordedV2, to_v1)
REGISTRY_WITH_V2 = REGISTRY.with_versions(Stream.METRICS, METRIC_RECORDED_V2)


def metric_v2(
    service: str, metric_type: str, value: float, *, unit: str = "ms", at: datetime | None = None
) -> dict[str, Any]:
    """A version 2 metric event as the wire carries it."""
    data = {"service": {"name": service}, "metric": {"type": metric_type, "unit": unit}}
    return envelope(METRIC_V2, {**data, "value": value}, at=at)
