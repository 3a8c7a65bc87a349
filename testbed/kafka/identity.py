"""TLS client identities for the test broker: a certificate from a `CertificateAuthority`, the files Strimzi's user
Secret holds, and the client properties that use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from testbed.kafka.acls import tls_principal
from testbed.strimzi_sim.ca import CertificateAuthority


@dataclass(frozen=True)
class ClientIdentity:
    """A TLS client: its certificate and PKCS#8 key (PEM), and the CA bundle it trusts for the broker."""

    name: str  # the CN; the Kafka principal is User:CN=<name>
    cert_pem: bytes
    key_pem: bytes
    trusted_ca_pem: bytes

    @property
    def principal(self) -> str:
        return tls_principal(self.name)

    def write_files(self, directory: Path) -> dict[str, Path]:
        """Write ca.crt / user.crt / user.key (the names of Strimzi's user Secret) and keystore.pem (key + chain)."""
        directory.mkdir(parents=True, exist_ok=True)
        paths = {
            "ca.crt": directory / "ca.crt",
            "user.crt": directory / "user.crt",
            "user.key": directory / "user.key",
            "keystore.pem": directory / "keystore.pem",
        }
        paths["ca.crt"].write_bytes(self.trusted_ca_pem)
        paths["user.crt"].write_bytes(self.cert_pem)
        paths["user.key"].write_bytes(self.key_pem)
        paths["keystore.pem"].write_bytes(self.key_pem.rstrip(b"\n") + b"\n" + self.cert_pem)
        for path in paths.values():
            path.chmod(0o600)
        return paths

    def client_properties(self, bootstrap: str, directory: Path) -> dict[str, str]:
        """Plain Kafka client settings (no `kafka.` prefix) for mTLS with PEM files written into `directory`."""
        paths = self.write_files(directory)
        return {
            "bootstrap.servers": bootstrap,
            "security.protocol": "SSL",
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(paths["ca.crt"]),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(paths["keystore.pem"]),
        }


def issue_client_identity(issuer: CertificateAuthority, name: str, trusted_ca_pem: bytes) -> ClientIdentity:
    """A client certificate with subject CN=<name> signed by `issuer` (a Strimzi clients CA in production)."""
    issued = issuer.issue_client(name)
    return ClientIdentity(
        name=name, cert_pem=issued.cert_pem(), key_pem=issued.key_pem(), trusted_ca_pem=trusted_ca_pem
    )


def write_properties(path: Path, values: Mapping[str, str]) -> Path:
    """A .properties file with keys and values escaped the way java.util.Properties reads them back."""

    def esc(text: str, key: bool) -> str:
        out = []
        for i, ch in enumerate(text):
            if ch == "\\":
                out.append("\\\\")
            elif ch == "\n":
                out.append("\\n")
            elif ch == "\r":
                out.append("\\r")
            elif ch == "\t":
                out.append("\\t")
            elif ch in "=:#!" or (ch == " " and (key or i == 0)):
                out.append("\\" + ch)
            else:
                out.append(ch)
        return "".join(out)

    path.write_text("".join(f"{esc(k, True)}={esc(v, False)}\n" for k, v in values.items()))
    return path
