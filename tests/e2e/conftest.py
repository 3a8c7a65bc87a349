"""kind end-to-end fixtures: a real cluster in Docker, the operator image built from this repo, nothing simulated.

Needs `kind`, `kubectl` and a running Docker engine. Every test here is marked `e2e`; the tier runs only when
selected (`make e2e`, i.e. `pytest tests/e2e -m e2e`, or BRIDGEDAPP_E2E=1), so `make test` never spends its
time creating clusters. Otherwise each test is skipped with the precise reason (which tool is missing, or why
`docker info` failed).

Variables: BRIDGEDAPP_KIND_IMAGE (a kindest/node image, for a kind release not listed in NODE_IMAGES),
BRIDGEDAPP_E2E_KEEP=1 (keep the cluster and the image afterwards, to look around).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import pykube
import pytest
from bridgedapp import OPERATOR_NAMESPACE

from testbed.kubeclient import pykube_client
from testbed.polling import poll

T = TypeVar("T")

E2E_DIR = Path(__file__).resolve().parent
REPO = E2E_DIR.parents[1]
KIND_CONFIG = E2E_DIR / "kind-config.yaml"
OPERATOR_KUSTOMIZATION = REPO / "deploy" / "operator"
IMAGE_NAME = "bridgedapp-operator"  # the image name in deploy/operator/deployment.yaml
IMAGE_TAG = "e2e"
IMAGE = f"{IMAGE_NAME}:{IMAGE_TAG}"

# kindest/node images for Kubernetes 1.36, by kind release, from each release's notes (kind supports a node
# image only with the release that built it, and only by digest). v0.32.0 made v1.36.1 its default image.
NODE_IMAGES = {
    "0.32": "kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5",
    "0.33": "kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed",
}
KIND_INSTALL = "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"


# ---------------------------------------------------------------------------------------------------------
# Selection and prerequisites
# ---------------------------------------------------------------------------------------------------------


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "no output")


def kind_release() -> str | None:
    """`0.32` from `kind v0.32.0 go1.26.1 linux/amd64`; None when kind is absent or says something else."""
    if shutil.which("kind") is None:
        return None
    done = subprocess.run(["kind", "version"], capture_output=True, text=True, timeout=30, check=False)
    match = re.search(r"v(\d+\.\d+)\.\d+", done.stdout)
    return match.group(1) if match else None


def node_image() -> str | None:
    return os.environ.get("BRIDGEDAPP_KIND_IMAGE") or NODE_IMAGES.get(kind_release() or "")


@cache
def missing_prerequisites() -> tuple[str, ...]:
    """Why this machine cannot run the tier, one phrase per problem; empty when it can."""
    missing: list[str] = []
    if shutil.which("kind") is None:
        missing.append(f"kind is not installed ({KIND_INSTALL})")
    elif node_image() is None:
        missing.append(
            f"kind v{kind_release()} is not one of the releases with a known Kubernetes 1.36 node image "
            f"({', '.join('v' + r for r in NODE_IMAGES)}): set BRIDGEDAPP_KIND_IMAGE to a kindest/node:v1.36 "
            "image from that release's notes"
        )
    if shutil.which("kubectl") is None:
        missing.append("kubectl is not installed")
    if shutil.which("docker") is None:
        missing.append("the docker CLI is not installed")
    else:
        try:
            info = subprocess.run(
                ["docker", "info", "--format", "{{.ServerVersion}}"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            if info.returncode != 0:
                missing.append(
                    f"`docker info` failed, so no Docker engine is reachable: {_first_line(info.stderr)}"
                )
        except subprocess.TimeoutExpired:
            missing.append("`docker info` did not answer within 30 s: the Docker engine is not responding")
    return tuple(missing)


def e2e_selected(config: pytest.Config) -> bool:
    """True for `-m e2e` (or an expression that asks for e2e without negating it) or BRIDGEDAPP_E2E=1."""
    if os.environ.get("BRIDGEDAPP_E2E", "") == "1":
        return True
    markexpr = str(config.getoption("markexpr", "") or "")
    return re.search(r"(?<!not )\be2e\b", markexpr) is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark everything under tests/e2e `e2e`, and skip it (with the reason) unless it can and should run."""
    ours = [item for item in items if E2E_DIR in Path(item.path).resolve().parents]
    if not ours:
        return
    for item in ours:
        item.add_marker(pytest.mark.e2e)
    missing = missing_prerequisites()
    if missing:
        reason = "kind e2e tier cannot run on this machine: " + "; ".join(missing)
    elif not e2e_selected(config):
        reason = (
            "kind e2e tier runs only when selected: `make e2e` (pytest tests/e2e -m e2e) or BRIDGEDAPP_E2E=1"
        )
    else:
        return
    for item in ours:
        item.add_marker(pytest.mark.skip(reason=reason))


# ---------------------------------------------------------------------------------------------------------
# The cluster
# ---------------------------------------------------------------------------------------------------------


class E2EError(RuntimeError):
    """A setup step failed: the message names the command and its output's tail."""


def run(
    *cmd: str, input: str | None = None, timeout: float = 300, check: bool = True, stream: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run a command; `stream` shows its output live (long builds), else it is captured."""
    done = subprocess.run(
        list(cmd),
        input=input,
        text=True,
        capture_output=not stream,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        tail = "\n".join(((done.stdout or "") + (done.stderr or "")).splitlines()[-40:])
        raise E2EError(f"`{' '.join(cmd)}` exited {done.returncode}:\n{tail}")
    return done


@dataclass
class KindCluster:
    """A kind cluster with the operator deployed: kubectl for actions, pykube (`api`) for observation."""

    name: str
    kubeconfig: Path
    api: pykube.HTTPClient

    def kubectl(
        self, *args: str, input: str | None = None, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return run(
            "kubectl", "--kubeconfig", str(self.kubeconfig), *args, input=input, timeout=timeout, check=check
        )

    def get(self, api_version: str, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        """The object as the API server has it now, or None."""
        cls = pykube.object_factory(self.api, api_version, kind)
        found = cls.objects(self.api, namespace=namespace).get_or_none(name=name)
        return found.obj if found is not None else None

    def diagnostics(self) -> str:
        """What someone debugging a failure needs: BridgedApps, events, the operator's log tail. No Secrets."""
        parts = []
        for args in (
            ("get", "bridgedapps", "-A", "-o", "yaml"),
            ("get", "pods", "-A", "-o", "wide"),
            ("get", "kafka,kafkanodepool,kafkatopic,kafkauser", "-A"),
            ("get", "events", "-A", "--sort-by=.lastTimestamp"),
            ("logs", "-n", OPERATOR_NAMESPACE, "deploy/bridgedapp-operator", "--tail=200"),
        ):
            done = self.kubectl(*args, check=False, timeout=60)
            parts.append(f"$ kubectl {' '.join(args)}\n{done.stdout}{done.stderr}")
        return "\n".join(parts)

    def wait_for(
        self, predicate: Callable[[], T | None], *, timeout: float, what: str, interval: float = 3.0
    ) -> T:
        """Poll until `predicate` returns something truthy; on timeout fail with `what` and the diagnostics."""
        result = poll(predicate, timeout=timeout, interval=interval)
        if not result:
            pytest.fail(
                f"timed out after {timeout:.0f}s waiting for {what}\n{self.diagnostics()}", pytrace=False
            )
        return result

    def kubectl_wait(self, *args: str, timeout: float, what: str) -> None:
        """`kubectl wait ...`; on failure, fail the test with `what` and the diagnostics."""
        done = self.kubectl("wait", *args, f"--timeout={int(timeout)}s", timeout=timeout + 60, check=False)
        if done.returncode != 0:
            pytest.fail(f"{what}: {done.stdout}{done.stderr}\n{self.diagnostics()}", pytrace=False)


def _operator_manifests(workdir: Path) -> str:
    """deploy/operator with the image set to the one built here, as one YAML stream.

    `kubectl apply -k deploy/operator` would refuse: its kustomization lists ../../crds/..., a file outside its
    root, which kustomize's default load restrictor rejects; so build it with the restrictor off.
    """
    overlay = workdir / "overlay"
    overlay.mkdir()
    base = os.path.relpath(OPERATOR_KUSTOMIZATION, overlay)
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        f"resources:\n  - {base}\n"
        f"images:\n  - name: {IMAGE_NAME}\n    newName: {IMAGE_NAME}\n    newTag: {IMAGE_TAG}\n"
    )
    return run("kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(overlay)).stdout


@pytest.fixture(scope="session")
def kind_cluster(pytestconfig: pytest.Config) -> Iterator[KindCluster]:
    """A fresh kind cluster (1 control plane, 3 workers) running the operator image built from this checkout.

    Built and loaded with `docker build` and `kind load docker-image`, deployed from deploy/operator; deleted
    with its image afterwards unless BRIDGEDAPP_E2E_KEEP=1.
    """
    image = node_image()
    assert image is not None, "pytest_collection_modifyitems skips the tier when no node image is known"
    name = f"bridgedapp-e2e-{os.getpid()}"
    keep = os.environ.get("BRIDGEDAPP_E2E_KEEP", "") == "1"
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    workdir = Path(tempfile.mkdtemp(prefix="bridgedapp-e2e-"))
    kubeconfig = workdir / "kubeconfig"
    created = False
    try:
        with capture.global_and_fixture_disabled():  # show the long steps live
            print(f"\n[e2e] building {IMAGE} from {REPO / 'Dockerfile'}", flush=True)
            run("docker", "build", "-t", IMAGE, str(REPO), stream=True, timeout=1800)
            print(f"[e2e] creating kind cluster {name} with {image}", flush=True)
            created = True
            config = ("--config", str(KIND_CONFIG), "--kubeconfig", str(kubeconfig), "--wait", "5m")
            run(
                "kind",
                "create",
                "cluster",
                "--name",
                name,
                "--image",
                image,
                *config,
                stream=True,
                timeout=900,
            )
            print(f"[e2e] loading {IMAGE} into the nodes", flush=True)
            run("kind", "load", "docker-image", IMAGE, "--name", name, stream=True, timeout=600)
        api = pykube_client(kubeconfig)
        cluster = KindCluster(name, kubeconfig, api)
        manifests = _operator_manifests(workdir)
        cluster.kubectl(
            "apply", "--server-side", "--field-manager=bridgedapp-e2e", "-f", "-", input=manifests
        )
        cluster.kubectl_wait(
            "--for=condition=Established", "crd/bridgedapps.bridgedapp.io", timeout=120, what="CRD not served"
        )
        cluster.kubectl_wait(
            "--for=condition=Available", "deployment/bridgedapp-operator", "-n", OPERATOR_NAMESPACE,
            timeout=300, what="the operator did not become available",
        )  # fmt: skip
        yield cluster
    except E2EError as err:
        pytest.fail(f"kind e2e setup failed: {err}", pytrace=False)
    finally:
        if keep:
            print(
                f"\n[e2e] kept: kind cluster {name} (KUBECONFIG={kubeconfig}) and image {IMAGE}", flush=True
            )
        else:
            if created:
                run("kind", "delete", "cluster", "--name", name, "--kubeconfig", str(kubeconfig), check=False)
            run("docker", "image", "rm", IMAGE, check=False)
            shutil.rmtree(workdir, ignore_errors=True)


def load_json(text: str) -> Any:
    """JSON from a command's output, failing the test with that output when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pytest.fail(f"expected JSON, got: {text!r}", pytrace=False)
