"""Kafka ACLs as the Strimzi ``KafkaUser`` manifests grant them, applied to a real broker.

A ``KafkaUser`` names the default topics and the ``utxoiq-ingest-`` group prefix; a test
runs on topics and groups of its own, so ``for_test`` renames each resource to the
test's counterpart and keeps the resource type, pattern type and operations as they are.
aiokafka's admin client has no ACL methods, so the requests are sent through its
request plumbing (``_send_request``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

import yaml
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest

from consumer.settings import IngestSettings, TopicSettings
from consumer.topics_admin import start_or_close
from schemas.topics import Stream, dlq_topic
from tests.support.services import REPO

INGEST_USER_MANIFEST = REPO / "deploy" / "k8s" / "kafka-user.yaml"
OPERATOR_USER_MANIFEST = REPO / "deploy" / "k8s" / "kafka-user-operator.yaml"

DEFAULT_TOPICS = TopicSettings.model_construct()
DEFAULT_GROUP_PREFIX = str(IngestSettings.model_fields["group_prefix"].default) + "-"


class ResourceType(IntEnum):
    """Kafka's resource type codes (``ResourceType`` in the protocol)."""

    ANY = 1
    TOPIC = 2
    GROUP = 3


class PatternType(IntEnum):
    """Kafka's pattern type codes."""

    ANY = 1
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    """Kafka's ACL operation codes."""

    ANY = 1
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8


ALLOW = 3
ANY_PERMISSION = 1

_RESOURCE_TYPES = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP}
_PATTERN_TYPES = {"literal": PatternType.LITERAL, "prefix": PatternType.PREFIXED}


@dataclass(frozen=True, order=True)
class Acl:
    """One allowed operation on one resource (for any host)."""

    resource_type: ResourceType
    name: str
    pattern: PatternType
    operation: Operation


def kafka_user_acls(path: Path) -> tuple[str, list[Acl]]:
    """The user name and the ACLs of a ``KafkaUser`` manifest."""
    manifest: dict[str, Any] = yaml.safe_load(path.read_text())
    acls = [
        Acl(
            _RESOURCE_TYPES[entry["resource"]["type"]],
            entry["resource"]["name"],
            _PATTERN_TYPES[entry["resource"].get("patternType", "literal")],
            Operation[operation.upper()],
        )
        for entry in manifest["spec"]["authorization"]["acls"]
        for operation in entry["operations"]
    ]
    return manifest["metadata"]["name"], acls


def for_test(acls: Iterable[Acl], topics: TopicSettings, group_prefix: str) -> list[Acl]:
    """``acls`` with the default topic names and group prefix replaced by a test's own."""
    renames = {DEFAULT_GROUP_PREFIX: f"{group_prefix}-"}
    for stream in Stream:
        renames[DEFAULT_TOPICS.source(stream)] = topics.source(stream)
        renames[dlq_topic(DEFAULT_TOPICS.source(stream))] = topics.dead_letter(stream)
    renamed = []
    for acl in acls:
        if acl.name not in renames:
            raise AssertionError(f"the manifest names a resource tests cannot map: {acl.name}")
        renamed.append(Acl(acl.resource_type, renames[acl.name], acl.pattern, acl.operation))
    return renamed


class AclAdmin:
    """Creates, lists and deletes ACLs through a super user's connection."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._client = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)

    async def __aenter__(self) -> AclAdmin:
        await start_or_close(self._client)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.close()

    async def grant(self, principal: str, acls: Iterable[Acl]) -> None:
        for acl in acls:
            request = CreateAclsRequest(
                acl.resource_type, acl.name, acl.pattern, principal, "*", acl.operation, ALLOW
            )
            response = await self._client._send_request(request)
            for error_code, message in response.creation_responses:
                assert error_code == 0, f"CreateAcls {acl}: {error_code} {message}"

    async def revoke(self, principal: str, acls: Iterable[Acl]) -> None:
        for acl in acls:
            request = DeleteAclsRequest(
                acl.resource_type, acl.name, acl.pattern, principal, "*", acl.operation, ALLOW
            )
            await self._client._send_request(request)

    async def revoke_all(self, principal: str) -> None:
        """Delete every ACL of ``principal`` (what an earlier, interrupted run left)."""
        await self.revoke(principal, await self.granted(principal))

    async def granted(self, principal: str) -> set[Acl]:
        """Every ACL the broker holds for ``principal``."""
        request = DescribeAclsRequest(
            ResourceType.ANY, None, PatternType.ANY, principal, None, Operation.ANY, ANY_PERMISSION
        )
        response = await self._client._send_request(request)
        assert response.error_code == 0, response.error_message
        return {
            Acl(ResourceType(rtype), name, PatternType(pattern), Operation(entry[2]))
            for rtype, name, pattern, entries in response.resources
            for entry in entries
        }
