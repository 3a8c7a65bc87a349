"""pykube-ng clients for the test bed, the tests and the benchmarks: one constructor for all of them.

pykube writes a kubeconfig's embedded `*-data` credentials to `/tmp/pykube-ng.<md5>.crt` lazily, on the first
request, by check-then-truncate-then-write. Threads or processes that start using a new cluster at the same
moment can read that file while it is empty, and the request fails with `[X509: NO_CERTIFICATE_OR_CRL_FOUND]`
(seen in CI when twenty threads created BridgedApps at once). Here each embedded credential is written once,
atomically (a private temporary file renamed into place), and the kubeconfig points at the file instead.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import pykube
import yaml

CREDENTIAL_DIR = Path(tempfile.gettempdir()) / "bridgedapp-pykube"
EMBEDDED = (("cluster", "certificate-authority"), ("user", "client-certificate"), ("user", "client-key"))


def pykube_client(kubeconfig: Path | str, *, timeout: float | None = None) -> pykube.HTTPClient:
    """A pykube client for `kubeconfig`, safe to create and use from many threads and processes at once."""
    doc = yaml.safe_load(Path(kubeconfig).read_text())
    config = pykube.KubeConfig(with_credential_files(doc))
    config.filepath = Path(kubeconfig)  # relative file references resolve as kubectl resolves them
    return pykube.HTTPClient(config) if timeout is None else pykube.HTTPClient(config, timeout=timeout)


def with_credential_files(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of a kubeconfig document whose embedded credentials are file references instead."""
    doc = copy.deepcopy(doc)
    for section, key in EMBEDDED:
        for entry in doc.get(f"{section}s") or []:
            body = entry.get(section) or {}
            data = body.pop(f"{key}-data", None)
            if data is not None:
                body[key] = str(credential_file(base64.b64decode(data)))
    return doc


def credential_file(content: bytes) -> Path:
    """A file holding `content`, named by its digest, readable by its owner only, never seen half-written."""
    CREDENTIAL_DIR.mkdir(mode=0o700, exist_ok=True)
    path = CREDENTIAL_DIR / f"{hashlib.sha256(content).hexdigest()}.pem"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=CREDENTIAL_DIR)  # mode 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(tmp, path)
    return path
