"""The test bed's pykube constructor: embedded credentials become whole files before any request is made."""

from __future__ import annotations

import base64
import stat
import threading
from pathlib import Path

import yaml

from testbed.kubeclient import credential_file, pykube_client, with_credential_files

CA = b"-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"
CERT = b"-----BEGIN CERTIFICATE-----\nuser\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n"


def kubeconfig_doc() -> dict:
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": "https://127.0.0.1:1", "certificate-authority-data": b64(CA)}}
        ],
        "users": [{"name": "u", "user": {"client-certificate-data": b64(CERT), "client-key-data": b64(KEY)}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }


def test_embedded_credentials_become_private_files() -> None:
    original = kubeconfig_doc()
    doc = with_credential_files(original)
    cluster, user = doc["clusters"][0]["cluster"], doc["users"][0]["user"]
    assert "certificate-authority-data" not in cluster and "client-key-data" not in user
    assert Path(cluster["certificate-authority"]).read_bytes() == CA
    assert Path(user["client-certificate"]).read_bytes() == CERT
    assert Path(user["client-key"]).read_bytes() == KEY
    assert stat.S_IMODE(Path(user["client-key"]).stat().st_mode) == 0o600
    assert "client-key-data" in original["users"][0]["user"], "the caller's document is not changed"


def test_many_threads_see_only_whole_files() -> None:
    content = b"unique content %f" % threading.get_ident()
    seen: list[bytes] = []

    def write_and_read() -> None:
        seen.append(credential_file(content).read_bytes())

    threads = [threading.Thread(target=write_and_read) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [content] * 32


def test_client_uses_the_files(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig_doc()))
    api = pykube_client(path, timeout=3)
    assert Path(api.config.cluster["certificate-authority"].filename()).read_bytes() == CA
    assert api.config.kubeconfig_path == path
