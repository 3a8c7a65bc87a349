"""Locate and read the official Strimzi install bundles used as test data (never by the operator).

Where a bundle comes from, in order: $BRIDGEDAPP_STRIMZI_BUNDLE_DIR, the shared folder next to the
repository (`<repo>/../shared/strimzi`), a copy downloaded earlier into the cache, the pinned release
URL (where the network allows). Absent everywhere: `bundle_path` returns None and callers skip with
`missing_reason`.
"""

from __future__ import annotations

import functools
import os
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from bridgedapp.settings import STRIMZI_RELEASE_URL

from testbed.host import cache_dir

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BUNDLE_DIR = REPO_ROOT.parent / "shared" / "strimzi"
ENV_DIR = "BRIDGEDAPP_STRIMZI_BUNDLE_DIR"
DOWNLOAD_TIMEOUT = 10.0

# The Strimzi release whose CRDs define each Kafka API version the operator writes.
BUNDLE_FOR_API_VERSION = {"kafka.strimzi.io/v1": "1.2.0", "kafka.strimzi.io/v1beta2": "0.48.0"}

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class BundleNotFound(FileNotFoundError):
    """No bundle for that Strimzi version in any of the places `bundle_path` looks."""


def file_name(version: str) -> str:
    return f"strimzi-cluster-operator-{version}.yaml"


def bundle_dir() -> Path:
    return Path(os.environ.get(ENV_DIR) or DEFAULT_BUNDLE_DIR)


def _cache_dir() -> Path:
    return cache_dir() / "strimzi"


@functools.cache
def _download(version: str) -> Path | None:
    """Fetch the release asset once per process; None when the network does not allow it."""
    target = _cache_dir() / file_name(version)
    try:
        with urllib.request.urlopen(
            STRIMZI_RELEASE_URL.format(version=version), timeout=DOWNLOAD_TIMEOUT
        ) as r:
            body = r.read()
    except OSError:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(body)
    partial.replace(target)
    return target


def bundle_path(version: str, *, download: bool = True) -> Path | None:
    """The bundle file for Strimzi `version`, or None when it is nowhere to be had."""
    for candidate in (bundle_dir() / file_name(version), _cache_dir() / file_name(version)):
        if candidate.is_file():
            return candidate
    return _download(version) if download else None


def missing_reason(version: str) -> str:
    """A skip reason that says what is missing and how to provide it."""
    return (
        f"Strimzi {version} install bundle not found: put {file_name(version)} into ${ENV_DIR} "
        f"(default {DEFAULT_BUNDLE_DIR}); the release URL "
        f"{STRIMZI_RELEASE_URL.format(version=version)} was not reachable"
    )


@functools.cache
def _documents(path: Path) -> tuple[dict[str, Any], ...]:
    with path.open() as f:
        return tuple(doc for doc in yaml.load_all(f, Loader=_Loader) if doc)


def documents(version: str) -> list[dict[str, Any]]:
    """Every object in the bundle, in file order (parsed once per process; callers must not mutate)."""
    path = bundle_path(version)
    if path is None:
        raise BundleNotFound(missing_reason(version))
    return list(_documents(path))


def crds(version: str) -> list[dict[str, Any]]:
    """The bundle's CustomResourceDefinitions."""
    return [d for d in documents(version) if d.get("kind") == "CustomResourceDefinition"]


def crd_schema(version: str, kind: str, api_version: str) -> dict[str, Any]:
    """The openAPIV3Schema that the bundle's CRD for `kind` declares for `api_version` (group/version)."""
    group, _, served = api_version.partition("/")
    for crd in crds(version):
        spec = crd["spec"]
        if spec["group"] != group or spec["names"]["kind"] != kind:
            continue
        for entry in spec["versions"]:
            if entry["name"] == served:
                return entry["schema"]["openAPIV3Schema"]
        raise KeyError(f"Strimzi {version}: {kind} does not serve {served}")
    raise KeyError(f"Strimzi {version}: no CRD for kind {kind} in group {group}")
