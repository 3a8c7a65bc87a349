"""TEST DOUBLE — simulates Strimzi's User Operator: KafkaUser status and user Secrets (no ACLs in any broker).

As in Strimzi 1.2.0 (UserController, KafkaUserModel): the User Operator of a Kafka cluster watches one
namespace (`spec.entityOperator.userOperator.watchedNamespace`, default the Kafka's) for KafkaUsers
labelled `strimzi.io/cluster=<cluster>`; it runs only where the Kafka declares a user operator and its
clients CA exists. A KafkaUser no User Operator selects gets no status at all, as with real Strimzi.
For `authentication.type: tls` it writes a Secret named like the user with `ca.crt` (clients CA),
`user.crt` (CN=<user name>, signed by the clients CA, valid from now for 365 days), `user.key` (PKCS#8),
`user.p12`, `user.password` (32 characters), labelled like the KafkaUser plus `strimzi.io/kind=KafkaUser` and
the User Operator's `app.kubernetes.io/*` labels, owned by the KafkaUser; the certificate is kept until the
clients CA certificate changes or a renewal is forced (`strimzi.io/force-renew: "true"` on the user Secret, as
with Strimzi, or `StrimziSimulator.rotate_user`). Status: Ready, observedGeneration, username (`CN=<name>` for
TLS users), secret; a failure is a `NotReady` condition with status True, as Strimzi reports it. Checked
against the real User Operator by tests/datapath/test_strimzi_operators_tier3.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from testbed.strimzi_sim.ca import (
    CertificateAuthority,
    IssuedCertificate,
    load_certificates,
    load_private_key,
)
from testbed.strimzi_sim.ca import random_password as _password
from testbed.strimzi_sim.cluster_operator import ca_secret_names, load_ca
from testbed.strimzi_sim.common import (
    KIND_LABEL,
    Context,
    condition,
    inherited_labels,
    key_of,
    label_value,
    labels_of,
    log,
    paused,
    paused_status,
    secret_object,
    skipped_if_terminating,
    unb64,
)

# STRIMZI_SCRAM_SHA_PASSWORD_LENGTH's default: the User Operator's one PasswordGenerator makes SCRAM passwords and
# the `user.password` of user keystores alike (the cluster operator's CA keystores keep 12 characters).
PASSWORD_LENGTH = 32
MAX_TLS_USERNAME = 64
USER_OPERATOR_NAME = "strimzi-user-operator"  # KafkaUserModel.KAFKA_USER_OPERATOR_NAME
FORCE_RENEW_ANNOTATION = "strimzi.io/force-renew"


def invalid_resource(message: str) -> tuple[str, str]:
    """(reason, message) of a KafkaUser the User Operator rejects while building its model: the controller loop
    reports the InvalidResourceException wrapped twice (seen from the real 1.2.0 User Operator)."""
    return (
        "ExecutionException",
        "io.strimzi.operator.common.ReconciliationException: "
        f"io.strimzi.operator.common.model.InvalidResourceException: {message}",
    )


def entity_operator_namespace(kafka: Mapping[str, Any], operator: str) -> str | None:
    """Where the Kafka's `userOperator` / `topicOperator` watches, or None when it declares none."""
    entity_operator = (kafka.get("spec") or {}).get("entityOperator")
    if not isinstance(entity_operator, dict) or operator not in entity_operator:
        return None
    settings = entity_operator.get(operator) or {}
    return settings.get("watchedNamespace") or kafka["metadata"]["namespace"]


def entity_operator_deployed(kafka: Mapping[str, Any]) -> bool:
    """Strimzi deploys the entity operator once the cluster has been reconciled successfully.

    It keeps running while the Kafka fails or is paused (a paused status keeps only the cluster id).
    """
    status = kafka.get("status") or {}
    return bool(status.get("operatorLastSuccessfulVersion") or (paused(kafka) and status.get("clusterId")))


def acls_supported(kafka: Mapping[str, Any]) -> bool:
    """Whether the cluster's authorizer takes ACLs through Kafka's Admin API (Strimzi's `simple`, or custom)."""
    authorization = ((kafka.get("spec") or {}).get("kafka") or {}).get("authorization") or {}
    kind = authorization.get("type")
    return kind == "simple" or (kind == "custom" and bool(authorization.get("supportsAdminApi")))


def user_secret_labels(user: Mapping[str, Any]) -> dict[str, str]:
    """The labels of a user Secret (KafkaUserModel): the KafkaUser's inherited ones, its kind, and the User
    Operator's name, instance, part-of and managed-by."""
    name = user["metadata"]["name"]
    return {
        **inherited_labels(user),
        KIND_LABEL: user.get("kind", "KafkaUser"),
        "app.kubernetes.io/name": USER_OPERATOR_NAME,
        "app.kubernetes.io/instance": label_value(name),
        "app.kubernetes.io/part-of": label_value(f"strimzi-{name}"),
        "app.kubernetes.io/managed-by": USER_OPERATOR_NAME,
    }


def _renewal_forced(ctx: Context, secret: Mapping[str, Any] | None, namespace: str, name: str) -> bool:
    annotations = ((secret or {}).get("metadata") or {}).get("annotations") or {}
    by_annotation = str(annotations.get(FORCE_RENEW_ANNOTATION, "")).lower() == "true"
    return by_annotation or ("KafkaUser", namespace, name) in ctx.force_renew


def _tls_secret(ctx: Context, user: Mapping[str, Any], ca: CertificateAuthority, ca_crt_b64: str) -> None:
    namespace, name = key_of(user)
    existing = ctx.snapshot.secret(namespace, name)
    data = dict((existing or {}).get("data") or {})
    forced = _renewal_forced(ctx, existing, namespace, name)
    keep = not forced and data.get("ca.crt") == ca_crt_b64 and data.get("user.crt") and data.get("user.key")
    if keep:
        content = {k: unb64(data[k]) for k in ("ca.crt", "user.crt", "user.key")}
        if data.get("user.p12") and data.get("user.password"):
            content["user.p12"], content["user.password"] = (
                unb64(data["user.p12"]),
                unb64(data["user.password"]),
            )
        else:
            issued = IssuedCertificate(
                cert=load_certificates(content["user.crt"])[0],
                key=load_private_key(content["user.key"]),
                ca_cert=ca.cert,
            )
            password = _password(PASSWORD_LENGTH)
            content["user.p12"], content["user.password"] = (
                issued.pkcs12(password, alias=name),
                password.encode(),
            )
    else:
        issued = ca.issue_client(name)
        password = _password(PASSWORD_LENGTH)
        content = {
            "ca.crt": unb64(ca_crt_b64),
            "user.crt": issued.cert_pem(),
            "user.key": issued.key_pem(),
            "user.p12": issued.pkcs12(password, alias=name),
            "user.password": password.encode(),
        }
        log.info("KafkaUser %s/%s: certificate issued (CN=%s)", namespace, name, name)
    ctx.writer.secret(
        secret_object(namespace, name, content, labels=user_secret_labels(user), owner=user),
        drop_annotations=(FORCE_RENEW_ANNOTATION,),
    )
    ctx.force_renew.discard(("KafkaUser", namespace, name))


def _scram_secret(ctx: Context, user: Mapping[str, Any]) -> None:
    namespace, name = key_of(user)
    existing = ctx.snapshot.secret(namespace, name)
    password = unb64(((existing or {}).get("data") or {}).get("password")).decode()
    if not password or _renewal_forced(ctx, existing, namespace, name):
        password = _password(PASSWORD_LENGTH)
    jaas = f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{name}" password="{password}";'
    content = {"password": password, "sasl.jaas.config": jaas}
    ctx.writer.secret(
        secret_object(namespace, name, content, labels=user_secret_labels(user), owner=user),
        drop_annotations=(FORCE_RENEW_ANNOTATION,),
    )
    ctx.force_renew.discard(("KafkaUser", namespace, name))


def _drop_secret(ctx: Context, user: Mapping[str, Any]) -> None:
    """Users without credentials of their own have no Secret: Strimzi deletes one it made before."""
    namespace, name = key_of(user)
    existing = ctx.snapshot.secret(namespace, name)
    if existing and labels_of(existing).get(KIND_LABEL) == "KafkaUser":
        ctx.writer.delete_secret(namespace, name)


def reconcile_user(
    ctx: Context, kafka: Mapping[str, Any], ca: CertificateAuthority, user: dict[str, Any]
) -> None:
    _, name = key_of(user)
    spec = user.get("spec") or {}
    auth = (spec.get("authentication") or {}).get("type")
    authorization = spec.get("authorization") or {}
    old = user.get("status") or {}
    if paused(user):
        ctx.writer.status(user, paused_status(user))
        return

    problem: tuple[str, str] | None = None
    if auth in ("tls", "tls-external") and len(name) > MAX_TLS_USERNAME:
        problem = invalid_resource(
            "Users with TLS client authentication can have a username (name of the KafkaUser custom resource) "
            "only up to 64 characters long."
        )
    elif authorization.get("type") == "simple" and not acls_supported(kafka):
        problem = invalid_resource(
            "Simple authorization ACL rules are configured but not supported in the Kafka cluster configuration."
        )
    failure = ctx.failure(user)
    if failure is not None:
        problem = (failure.reason, failure.message)

    status: dict[str, Any] = {"observedGeneration": user["metadata"].get("generation")}
    if problem is not None:
        reason, message = problem
        # Strimzi's User Operator reports every failure as a `NotReady` condition with status True, whose reason is
        # the exception's class (StatusUtils.setStatusConditionAndObservedGeneration); there is no Ready then.
        status["conditions"] = [
            condition("NotReady", "True", old.get("conditions"), reason=reason, message=message)
        ]
        status["username"], status["secret"] = old.get("username"), old.get("secret")
        ctx.writer.status(user, status)
        return

    cert_name, _ = ca_secret_names(kafka["metadata"]["name"], "clients-ca")
    ca_secret = ctx.snapshot.secret(kafka["metadata"]["namespace"], cert_name) or {}
    if auth == "tls":
        _tls_secret(ctx, user, ca, (ca_secret.get("data") or {})["ca.crt"])
        status["username"], status["secret"] = f"CN={name}", name
    elif auth == "scram-sha-512":
        _scram_secret(ctx, user)
        status["username"], status["secret"] = name, name
    else:
        _drop_secret(ctx, user)
        status["username"] = f"CN={name}" if auth == "tls-external" else name
    status["conditions"] = [condition("Ready", "True", old.get("conditions"))]
    ctx.writer.status(user, status)


class UserOperator:
    """One simulated User Operator per Kafka that declares one, as Strimzi's entity operator runs it."""

    name = "user"
    kinds = ("KafkaUser",)

    def reconcile(self, ctx: Context) -> None:
        for (namespace, cluster), kafka in sorted(ctx.snapshot.of("Kafka").items()):
            if not ctx.watched(namespace) or kafka["metadata"].get("deletionTimestamp"):
                continue
            watched = entity_operator_namespace(kafka, "userOperator")
            if not entity_operator_deployed(kafka):
                continue
            ca = load_ca(ctx.snapshot, namespace, cluster, "clients-ca") if watched else None
            if watched is None or ca is None:  # no User Operator deployed (yet)
                continue
            for user in ctx.snapshot.in_namespace("KafkaUser", watched, cluster):
                if not user["metadata"].get("deletionTimestamp"):
                    with skipped_if_terminating():
                        reconcile_user(ctx, kafka, ca, user)
