"""TEST DOUBLE — simulates Strimzi's (unidirectional) Topic Operator: KafkaTopic status only, no real topics.

As in Strimzi 1.2.0 (BatchingTopicController): the Topic Operator of a Kafka cluster watches one
namespace (`spec.entityOperator.topicOperator.watchedNamespace`, default the Kafka's) for KafkaTopics
labelled `strimzi.io/cluster=<cluster>`; a KafkaTopic no Topic Operator selects gets no status. Status:
Ready, observedGeneration, topicName (`spec.topicName` or the object name), topicId. Like Strimzi (with
STRIMZI_USE_FINALIZERS, its default) it puts the finalizer `strimzi.io/topic-operator` on every topic it
manages that is not paused, and takes it off again when the KafkaTopic is deleted (where Strimzi first
deletes the topic in Kafka). Errors it reports the way Strimzi does: a replication factor above the broker
count (`KafkaError`, Kafka's own message) when the topic would be created, and a changed `spec.topicName`
(`NotSupported`). Checked against the real Topic Operator by tests/datapath/test_strimzi_operators_tier3.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from testbed.strimzi_sim.cluster_operator import broker_count
from testbed.strimzi_sim.common import Context, condition, kafka_uuid, key_of, paused, skipped_if_terminating
from testbed.strimzi_sim.user_operator import entity_operator_deployed, entity_operator_namespace


def _default_replicas(kafka: Mapping[str, Any]) -> int:
    config = ((kafka.get("spec") or {}).get("kafka") or {}).get("config") or {}
    try:
        return int(config.get("default.replication.factor", 1))
    except (TypeError, ValueError):
        return 1


FINALIZER = "strimzi.io/topic-operator"


def _with_finalizer(topic: dict[str, Any], wanted: bool) -> list[str]:
    present = [f for f in topic["metadata"].get("finalizers") or [] if f != FINALIZER]
    return [*present, FINALIZER] if wanted else present


def replication_factor_error(replicas: int, brokers: int) -> tuple[str, str]:
    """(reason, message) of a topic Kafka cannot create for want of brokers, as Strimzi's Topic Operator relays
    Kafka 4.3's KRaft controller (seen from the real 1.2.0 Topic Operator on a Kafka 4.3.1 broker)."""
    return (
        "KafkaError",
        "org.apache.kafka.common.errors.InvalidReplicationFactorException: Unable to replicate the partition "
        f"{replicas} time(s): The target replication factor of {replicas} cannot be reached because only "
        f"{brokers} broker(s) are registered or some brokers have all their log directories cordoned.",
    )


def reconcile_topic(ctx: Context, kafka: Mapping[str, Any], brokers: int, topic: dict[str, Any]) -> None:
    namespace, name = key_of(topic)
    spec = topic.get("spec") or {}
    old = topic.get("status") or {}
    topic_name = spec.get("topicName") or name
    topic_id = old.get("topicId")
    generation = topic["metadata"].get("generation")
    if paused(topic):  # the Topic Operator still reports the generation it saw, without a topic id
        status = {"conditions": [condition("ReconciliationPaused", "True", old.get("conditions"))]}
        ctx.writer.status(topic, {**status, "observedGeneration": generation, "topicName": topic_name})
        return
    topic = ctx.writer.finalizers(topic, _with_finalizer(topic, True))

    problem: tuple[str, str] | None = None
    if old.get("topicName") and old["topicName"] != topic_name and topic_id:
        problem = ("NotSupported", "Changing spec.topicName is not supported")
        topic_name = old["topicName"]
    elif topic_id is None:  # not created in Kafka yet: Kafka checks the replication factor now
        replicas = int(spec.get("replicas") or _default_replicas(kafka))
        if replicas > brokers:
            problem = replication_factor_error(replicas, brokers)
    failure = ctx.failure(topic)
    if failure is not None:
        problem = (failure.reason, failure.message)

    if problem is None:
        topic_id = topic_id or kafka_uuid("topic", namespace, topic_name, topic["metadata"].get("uid", ""))
        conditions = [condition("Ready", "True", old.get("conditions"))]
    else:
        reason, message = problem
        conditions = [condition("Ready", "False", old.get("conditions"), reason=reason, message=message)]
    ctx.writer.status(
        topic,
        {
            "conditions": conditions,
            "observedGeneration": generation,
            "topicName": topic_name,
            "topicId": topic_id,
        },
    )


class TopicOperator:
    """One simulated Topic Operator per Kafka that declares one, as Strimzi's entity operator runs it."""

    name = "topic"
    kinds = ("KafkaTopic",)

    def reconcile(self, ctx: Context) -> None:
        for (namespace, _), kafka in sorted(ctx.snapshot.of("Kafka").items()):
            if not ctx.watched(namespace) or kafka["metadata"].get("deletionTimestamp"):
                continue
            watched = entity_operator_namespace(kafka, "topicOperator")
            if watched is None or not entity_operator_deployed(kafka):
                continue
            brokers = broker_count(ctx.snapshot, kafka)
            cluster = kafka["metadata"]["name"]
            for topic in ctx.snapshot.in_namespace("KafkaTopic", watched, cluster):
                if not topic["metadata"].get("deletionTimestamp"):
                    with skipped_if_terminating():
                        reconcile_topic(ctx, kafka, brokers, topic)
        # Deleted topics lose the finalizer whatever became of their Kafka: with real Strimzi a topic whose entity
        # operator went first stays stuck; here that would only leave test namespaces terminating forever.
        for (namespace, _), topic in sorted(ctx.snapshot.of("KafkaTopic").items()):
            deleted = topic["metadata"].get("deletionTimestamp")
            if (
                ctx.watched(namespace)
                and deleted
                and FINALIZER in (topic["metadata"].get("finalizers") or [])
            ):
                ctx.writer.finalizers(topic, _with_finalizer(topic, False))
