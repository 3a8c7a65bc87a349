"""The test bed's certificate authority (testbed.strimzi_sim.ca): real X.509 in Strimzi's shapes.

Certificates are checked with cryptography's own path validation and signature checks, with a real
mutual-TLS handshake through Python's ssl module (OpenSSL), and keystores with Java's keytool.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import ssl
import stat
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from testbed.strimzi_sim.ca import (
    CertificateAuthority,
    IssuedCertificate,
    load_certificates,
    old_cert_key,
    random_password,
)

BOOTSTRAP = "my-cluster-kafka-bootstrap.kafka.svc"


@pytest.fixture(scope="module")
def cluster_ca() -> CertificateAuthority:
    return CertificateAuthority.create("cluster-ca")


@pytest.fixture(scope="module")
def clients_ca() -> CertificateAuthority:
    return CertificateAuthority.create("clients-ca")


@pytest.fixture(scope="module")
def user(clients_ca: CertificateAuthority) -> IssuedCertificate:
    return clients_ca.issue_client("orders")


@pytest.fixture(scope="module")
def broker(cluster_ca: CertificateAuthority) -> IssuedCertificate:
    return cluster_ca.issue_server("my-cluster-kafka-0", dns_names=[BOOTSTRAP])


def _names(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(oid)]


def test_ca_is_self_signed_and_named_like_strimzis(cluster_ca: CertificateAuthority) -> None:
    cert = cluster_ca.cert
    assert _names(cert, NameOID.COMMON_NAME) == ["cluster-ca v0"]
    assert _names(cert, NameOID.ORGANIZATION_NAME) == ["io.strimzi"]
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert CertificateAuthority.create("clients-ca", generation=3).common_name == "clients-ca v3"


def test_client_certificate_has_the_user_as_cn_and_chains_to_the_clients_ca(
    clients_ca: CertificateAuthority, cluster_ca: CertificateAuthority, user: IssuedCertificate
) -> None:
    assert user.cert.subject.rfc4514_string() == "CN=orders"  # Kafka's principal: User:CN=orders
    assert user.cert.issuer == clients_ca.cert.subject
    user.cert.verify_directly_issued_by(clients_ca.cert)
    assert clients_ca.signed(user.cert)
    assert not cluster_ca.signed(user.cert)
    assert not user.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # As Strimzi's User Operator: valid from issuing for the validity days, not capped at the CA's expiry.
    assert user.cert.not_valid_after_utc - user.cert.not_valid_before_utc == timedelta(days=365)
    assert abs(user.cert.not_valid_before_utc - datetime.now(UTC)) < timedelta(minutes=1)
    short_lived = CertificateAuthority.create("clients-ca", validity_days=10)
    renewed = short_lived.issue_client("orders", validity_days=365)
    assert renewed.cert.not_valid_after_utc > short_lived.cert.not_valid_after_utc


def test_server_certificate_names_dns_and_loopback(
    cluster_ca: CertificateAuthority, broker: IssuedCertificate
) -> None:
    sans = broker.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == {BOOTSTRAP, "localhost"}
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usages = broker.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= set(usages)
    policy = PolicyBuilder().store(Store([cluster_ca.cert]))
    for name in (
        x509.DNSName(BOOTSTRAP),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ):
        chain = policy.build_server_verifier(name).verify(broker.cert, [])
        assert chain[-1] == cluster_ca.cert
    with pytest.raises(VerificationError):
        policy.build_server_verifier(x509.DNSName("elsewhere.example")).verify(broker.cert, [])


def test_keys_are_unencrypted_pkcs8_pem(cluster_ca: CertificateAuthority, user: IssuedCertificate) -> None:
    for pem, cert in ((user.key_pem(), user.cert), (cluster_ca.key_pem(), cluster_ca.cert)):
        assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#8, not "BEGIN RSA PRIVATE KEY"
        key = load_pem_private_key(pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        assert key.public_key().public_numbers() == cert.public_key().public_numbers()


def test_pkcs12_opens_only_with_its_password(user: IssuedCertificate) -> None:
    password = random_password()
    assert len(password) == 12 and password.isalnum()
    store = pkcs12.load_pkcs12(user.pkcs12(password), password.encode())
    assert store.cert is not None and store.cert.certificate == user.cert
    assert store.cert.friendly_name == b"orders"
    assert store.key is not None
    assert store.key.public_key().public_numbers() == user.cert.public_key().public_numbers()
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(user.pkcs12(password), b"not-the-password")


def test_rotation_keeps_the_old_certificate_trusted_until_completed(
    cluster_ca: CertificateAuthority, broker: IssuedCertificate
) -> None:
    rotated = cluster_ca.rotate()
    assert rotated.common_name == "cluster-ca v1"
    assert (rotated.cert_generation, rotated.key_generation) == (1, 1)
    assert rotated.key_pem() != cluster_ca.key_pem()
    bundle = load_certificates(rotated.bundle_pem())
    assert bundle == [rotated.cert, cluster_ca.cert]  # new first, old still there
    assert load_certificates(rotated.cert_pem()) == [rotated.cert]
    assert rotated.signed(broker.cert)  # issued before the rotation, still trusted
    assert rotated.signed(rotated.issue_client("after").cert)
    done = rotated.without_previous()
    assert load_certificates(done.bundle_pem()) == [rotated.cert]
    assert not done.signed(broker.cert)
    assert old_cert_key(cluster_ca.cert).startswith("ca-") and old_cert_key(cluster_ca.cert).endswith("Z.crt")


def test_renewal_keeps_the_key_and_the_issued_certificates(
    cluster_ca: CertificateAuthority, broker: IssuedCertificate
) -> None:
    renewed = cluster_ca.renew()
    assert (renewed.cert_generation, renewed.key_generation) == (1, 0)
    assert renewed.common_name == "cluster-ca v0"
    assert renewed.cert != cluster_ca.cert
    broker.cert.verify_directly_issued_by(renewed.cert)


def test_from_pem_round_trips_and_rejects_a_foreign_key(
    cluster_ca: CertificateAuthority, clients_ca: CertificateAuthority
) -> None:
    loaded = CertificateAuthority.from_pem(
        cluster_ca.cert_pem(), cluster_ca.key_pem(), cert_generation=2, key_generation=1
    )
    assert loaded.name == "cluster-ca" and loaded.cert == cluster_ca.cert
    assert (loaded.cert_generation, loaded.key_generation) == (2, 1)
    with pytest.raises(ValueError, match="does not belong"):
        CertificateAuthority.from_pem(cluster_ca.cert_pem(), clients_ca.key_pem())


def test_files_are_written_private(
    tmp_path: Path, cluster_ca: CertificateAuthority, user: IssuedCertificate
) -> None:
    paths = user.write_files(tmp_path / "user")
    assert sorted(paths) == ["ca.crt", "user.crt", "user.key"]
    assert paths["user.key"].read_bytes() == user.key_pem()
    assert stat.S_IMODE(paths["user.key"].stat().st_mode) == 0o600
    ca_paths = cluster_ca.rotate().write_files(tmp_path / "ca")
    assert list(ca_paths) == ["ca.crt"]  # never the key unless asked for
    assert len(load_certificates(ca_paths["ca.crt"].read_bytes())) == 2


def test_mutual_tls_handshake_with_issued_certificates(
    tmp_path: Path,
    cluster_ca: CertificateAuthority,
    clients_ca: CertificateAuthority,
    broker: IssuedCertificate,
    user: IssuedCertificate,
) -> None:
    """OpenSSL (through ssl) accepts the chain both ways and sees the client as CN=orders."""
    server_files = broker.write_files(
        tmp_path / "server", cert_name="tls.crt", key_name="tls.key", ca_name=None
    )
    client_files = user.write_files(tmp_path / "client")
    trust = {"cluster": tmp_path / "cluster-ca.crt", "clients": tmp_path / "clients-ca.crt"}
    trust["cluster"].write_bytes(cluster_ca.bundle_pem())
    trust["clients"].write_bytes(clients_ca.bundle_pem())

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(server_files["tls.crt"], server_files["tls.key"])
    server_ctx.load_verify_locations(trust["clients"])
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    client_ctx = ssl.create_default_context(cafile=trust["cluster"])
    client_ctx.load_cert_chain(client_files["user.crt"], client_files["user.key"])

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen: dict[str, object] = {}

    def serve() -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            seen["peer"] = tls.getpeercert()
            tls.sendall(b"ok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        client_ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.recv(2) == b"ok"
    thread.join(10)
    listener.close()
    peer = seen["peer"]
    assert isinstance(peer, dict)
    assert peer["subject"] == ((("commonName", "orders"),),)


@pytest.mark.skipif(shutil.which("keytool") is None, reason="Java's keytool is not installed")
def test_java_reads_the_keystores(
    tmp_path: Path, cluster_ca: CertificateAuthority, user: IssuedCertificate
) -> None:
    """Java's KeyStore sees ca.p12 as trusted certificates (old and new) and user.p12 as a key entry."""
    password = random_password()
    truststore = tmp_path / "ca.p12"
    truststore.write_bytes(cluster_ca.rotate().truststore_p12(password))
    keystore = tmp_path / "user.p12"
    keystore.write_bytes(user.pkcs12(password))

    def keytool_list(path: Path) -> str:
        result = subprocess.run(
            [
                "keytool",
                "-list",
                "-storetype",
                "PKCS12",
                "-keystore",
                str(path),
                "-storepass:env",
                "STOREPASS",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "STOREPASS": password},
            check=True,
        )
        return result.stdout

    trusted = keytool_list(truststore)
    assert trusted.count("trustedCertEntry") == 2
    assert "ca.crt," in trusted and "ca-" in trusted
    assert keytool_list(keystore).count("PrivateKeyEntry") == 1
