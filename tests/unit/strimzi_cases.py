"""Representative BridgedApps for the Strimzi builders, shared by the golden and the CRD-schema tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridgedapp.builders.common import owner_value
from bridgedapp.builders.kafka import API_V1, API_V1BETA2, build_kafka, build_node_pool
from bridgedapp.builders.topics import build_topics
from bridgedapp.builders.user import build_user
from bridgedapp.models import BridgedAppSpec, parse_spec

KAFKA_NAMESPACE = "kafka"


@dataclass(frozen=True)
class Case:
    """One BridgedApp (namespace, name, spec) and the Strimzi API version it is built for."""

    name: str
    spec: dict[str, Any]
    api_version: str = API_V1
    app_namespace: str = "shop"
    app_name: str = "orders"
    notes: str = field(default="", compare=False)

    def parsed(self) -> BridgedAppSpec:
        return parse_spec(self.spec)

    def build(self) -> list[dict[str, Any]]:
        """Every Strimzi object the operator would write for this app: Kafka, pool, topics, user."""
        spec = self.parsed()
        owner = owner_value(self.app_namespace, self.app_name)
        common = {"namespace": KAFKA_NAMESPACE, "api_version": self.api_version}
        return [
            build_kafka(spec, owner=owner, **common),
            build_node_pool(spec, owner=owner, **common),
            *build_topics(spec, owner=owner, owner_namespace=self.app_namespace, **common),
            build_user(spec, app_name=self.app_name, app_namespace=self.app_namespace, **common),
        ]


CASES: tuple[Case, ...] = (
    Case("defaults", {"deploymentName": "orders-api", "topics": [{"name": "orders"}]}),
    Case(
        "single-node-external",
        {
            "deploymentName": "orders-api",
            "kafka": {
                "clusterName": "dev",
                "replicas": 1,
                "version": "4.2.0",
                "storage": {"size": "5Gi", "class": "fast-ssd", "deleteClaim": True},
                "externalNodePort": True,
                "deletionPolicy": "DeleteWhenUnused",
            },
            "topics": [{"name": "orders", "partitions": 1, "replicas": 1}],
        },
    ),
    Case(
        "sanitised-topics",
        {
            "deploymentName": "ingest",
            "topics": [
                {"name": "payments.v1"},
                {"name": "Orders_Events", "config": {"retention.ms": 86400000, "cleanup.policy": "compact"}},
                {"name": "orders_events"},
                {"name": "_internal..audit-"},
                {"name": "x" * 70, "partitions": 12},
            ],
        },
        app_name="ingest",
    ),
    Case(
        "acls",
        {
            "deploymentName": "billing",
            "consumerGroup": "billing-cg",
            "topics": [
                {"name": "invoices", "access": "Read"},
                {"name": "payments", "access": "Write"},
                {"name": "ledger", "access": "ReadWrite"},
            ],
        },
        app_namespace="finance",
        app_name="billing",
    ),
    Case(
        "write-only",
        {"deploymentName": "emitter", "topics": [{"name": "events", "access": "Write"}]},
        app_name="emitter",
    ),
    Case(
        "v1beta2",
        {
            "deploymentName": "orders-api",
            "kafka": {"externalNodePort": True, "storage": {"class": "standard"}},
            "topics": [{"name": "orders", "access": "Read"}],
        },
        api_version=API_V1BETA2,
    ),
)
