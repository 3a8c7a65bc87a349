"""Secrets never leave their Secrets, and many apps at once all become Ready with a clean operator log.

The secret scan takes the real key material: every private key and password in every Secret of the cluster
(the Strimzi simulator's CA and user keys, the operator's mirrored copies) and every certificate, and looks for
it in everything the operator can have written elsewhere: its logs (at DEBUG, every run of the suite), every
event, every BridgedApp status and every annotation of every object the suite's namespaces hold.
"""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import pykube

from tests.faults.apps import AllReady, create_apps, delete_apps_and_assert_nothing_left, make_namespace
from tests.faults.conftest import Bed, report, sized, wait_for
from tests.operator_fixtures import bridgedapp_kind, strimzi_kind

READY_TIMEOUT = 240
LOAD_APPS = sized(30, 200)
LOAD_TIMEOUT = sized(300, 1200)
PEM_LINE = re.compile(r"^[A-Za-z0-9+/=]{40,}$")


def _needles(secret: dict[str, Any]) -> set[str]:
    """Search strings from one Secret: each base64 body line of a PEM block (a key line is unique to that key),
    every other value as stored (base64) and, when it is text of 8+ characters, decoded (passwords)."""
    found: set[str] = set()
    for value in (secret.get("data") or {}).values():
        if len(value) >= 16:
            found.add(value)
        raw = base64.b64decode(value)
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            continue
        if "-----BEGIN" in text:
            found.update(line for line in text.splitlines() if PEM_LINE.match(line))
        elif len(text) >= 8:
            found.add(text)
    return found


def _haystacks(bed: Bed, namespaces: list[str]) -> dict[str, str]:
    api = bed.api
    stacks = {
        f"operator log {p.name}": p.read_text(errors="replace") for p in bed.operator.logs if p.exists()
    }
    stacks["events"] = json.dumps([e.obj for e in pykube.Event.objects(api, namespace=pykube.all)])
    apps = list(bridgedapp_kind(api).objects(api, namespace=pykube.all))
    stacks["statuses"] = json.dumps([a.obj.get("status") for a in apps])
    kinds: list[Any] = [pykube.Deployment, pykube.ConfigMap, pykube.Secret, pykube.Pod, pykube.ReplicaSet]
    kinds += [strimzi_kind(api, k) for k in ("Kafka", "KafkaNodePool", "KafkaUser", "KafkaTopic")]
    annotations = [a.obj["metadata"].get("annotations") for a in apps]
    for kind in kinds:
        for ns in namespaces:
            annotations += [o.obj["metadata"].get("annotations") for o in kind.objects(api, namespace=ns)]
    stacks["annotations"] = json.dumps(annotations)
    return stacks


def test_no_key_password_or_certificate_outside_its_secrets(faults_bed: Bed) -> None:
    api = faults_bed.api
    if not faults_bed.operator.alive():
        faults_bed.operator.start()
    namespace = "secrets"
    make_namespace(api, namespace)
    names = ["vault-0", "vault-1"]
    create_apps(api, namespace, names)
    wait_for(AllReady(api, namespace, names), READY_TIMEOUT, "the apps Ready (their credentials mirrored)")
    secrets = [
        s.obj
        for s in pykube.Secret.objects(api, namespace=pykube.all)
        if s.obj.get("type") != "kubernetes.io/service-account-token"
    ]
    needles = set().union(*(_needles(s) for s in secrets))
    mirrored = [s for s in secrets if s["metadata"]["namespace"] == namespace]
    assert mirrored and all(_needles(s) for s in mirrored), "no key material found to search for"
    namespaces = sorted({s["metadata"]["namespace"] for s in secrets} | {namespace})
    stacks = _haystacks(faults_bed, namespaces)
    leaks = {where: [n[:12] + "..." for n in needles if n in text][:3] for where, text in stacks.items()}
    leaks = {k: v for k, v in leaks.items() if v}
    report(
        "secrets",
        secrets=len(secrets),
        search_strings=len(needles),
        operator_logs=len(faults_bed.operator.logs),
        log_bytes=sum(len(t) for w, t in stacks.items() if w.startswith("operator log")),
        events_bytes=len(stacks["events"]),
        statuses_bytes=len(stacks["statuses"]),
        annotations_bytes=len(stacks["annotations"]),
        leaks=len(leaks),
    )
    assert leaks == {}, f"secret material found outside Secrets (first characters only): {leaks}"


# ERROR lines the load run may log that are not faults, each explained; any other ERROR or traceback under
# load means something failed in a way the operator did not expect.
EXPLAINED_ERRORS: tuple[re.Pattern[str], ...] = (
    # Kopf's own watch of a Strimzi kind, opened right after the operator installed Strimzi's CRDs, gets
    # 429 "storage is (re)initializing" while the API server sets up the new CRD's storage; Kopf logs that at
    # ERROR and retries (attempt 1 of 9) a second later. Seen once in the 200-app run (docs/reliability.md).
    re.compile(
        r"Request attempt #[1-3]/9 failed; will retry: GET \S+/apis/kafka\.strimzi\.io/.*storage is \(re\)initializing"
    ),
)


def test_many_apps_at_once_all_ready_and_a_clean_log(faults_bed: Bed) -> None:
    api, op = faults_bed.api, faults_bed.operator
    if not op.alive():
        op.start()
    mark = op.mark()  # only what the operator logs from here on counts
    namespace = "load"
    make_namespace(api, namespace)
    names = [f"load-{i:03d}" for i in range(LOAD_APPS)]
    started = time.monotonic()
    create_apps(api, namespace, names)
    wait_for(AllReady(api, namespace, names), LOAD_TIMEOUT, f"all {LOAD_APPS} apps Ready", interval=2.0)
    ready_in = time.monotonic() - started
    log = op.text_since(mark)
    bad = [
        line
        for line in log.splitlines()
        if ("ERROR" in line or "Traceback" in line) and not any(p.search(line) for p in EXPLAINED_ERRORS)
    ]
    deleted_in = delete_apps_and_assert_nothing_left(api, namespace, LOAD_TIMEOUT)
    report(
        "load",
        apps=LOAD_APPS,
        all_ready_s=round(ready_in, 1),
        unexplained_error_lines=len(bad),
        log_lines=len(log.splitlines()),
        deleted_in_s=round(deleted_in, 1),
    )
    assert bad == [], "\n".join(bad[:20])


def test_the_search_strings_cover_keys_and_passwords() -> None:
    """The scan is only as good as its search strings: each PEM body line and each password is one."""
    from testbed.strimzi_sim.ca import new_private_key, private_key_pem

    pem = private_key_pem(new_private_key(2048)).decode()
    secret = {
        "data": {
            "user.key": base64.b64encode(pem.encode()).decode(),
            "user.password": base64.b64encode(b"s3cr3t-passw0rd").decode(),
        }
    }
    needles = _needles(secret)
    body = [line for line in pem.splitlines() if not line.startswith("-----")][:-1]  # the last line is short
    assert body and set(body) <= needles
    assert "s3cr3t-passw0rd" in needles
    assert any(n in f"a log line with {body[3]} inside" for n in needles)
