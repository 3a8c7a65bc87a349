"""TEST DOUBLE — a real X.509 certificate authority shaped like the CAs Strimzi's cluster operator makes.

Strimzi (1.2.0, `InternalCa` + `OpenSslCertIssuer`) gives every Kafka cluster two self-signed CAs,
`CN=cluster-ca v<key generation>, O=io.strimzi` and `CN=clients-ca v<n>, O=io.strimzi`
(`basicConstraints critical CA:true pathlen:0`, `keyUsage critical keyCertSign,cRLSign`, SHA-512),
signs leaf certificates with them (`CA:false`, `digitalSignature,keyEncipherment`; server certificates
also `extendedKeyUsage clientAuth,serverAuth`), stores private keys as unencrypted PKCS#8 PEM and
keystores as PKCS#12 protected by a random password (12 characters from the cluster operator, 32 from the
User Operator). When it replaces a CA key it keeps the old certificate trusted next to the new one until
every component has rolled. A user certificate from the User Operator is valid from the moment it is
issued for the validity days (365), even past the CA's own expiry; the test bed's server certificates are
backdated a little and capped at the CA's expiry.

This module does the same with `cryptography`, so everything built on it (the Strimzi simulator, the
local Kafka broker's certificates, the tests) speaks real TLS. RSA keys are 2048 bits by default
(Strimzi uses 4096 for CAs) to keep key generation quick on small machines.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import os
import secrets
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

STRIMZI_ORGANIZATION = "io.strimzi"
DEFAULT_KEY_SIZE = 2048
DEFAULT_VALIDITY_DAYS = 365  # Strimzi's default CA and certificate validity
PASSWORD_LENGTH = 12  # Strimzi's PasswordGenerator default
_PASSWORD_ALPHABET = string.ascii_letters + string.digits
_CLOCK_SKEW = dt.timedelta(minutes=5)


def random_password(length: int = PASSWORD_LENGTH) -> str:
    """A keystore password like Strimzi's PasswordGenerator makes (letters and digits)."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


def new_private_key(key_size: int = DEFAULT_KEY_SIZE) -> rsa.RSAPrivateKey:
    """A fresh RSA key, the only key type Strimzi's issuer makes."""
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


def private_key_pem(key: rsa.RSAPrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), the format of Strimzi's user.key / ca.key."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def certificate_pem(cert: x509.Certificate) -> bytes:
    """One certificate as PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def load_certificates(pem: bytes | str) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, in order."""
    data = pem.encode() if isinstance(pem, str) else pem
    return x509.load_pem_x509_certificates(data)


def load_private_key(pem: bytes | str) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM (PKCS#8 or PKCS#1)."""
    return _parse_private_key(pem.encode() if isinstance(pem, str) else pem)


@functools.lru_cache(maxsize=512)
def _parse_private_key(data: bytes) -> rsa.RSAPrivateKey:
    """Parsing checks the RSA key's consistency (~55 ms for 2048 bits): the simulator re-reads every CA key on
    every pass, so a profile of the test suite found it spending most of its CPU here. Keys are immutable."""
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"expected an RSA private key, got {type(key).__name__}")
    return key


def common_name(cert: x509.Certificate) -> str:
    """The subject CN of a certificate."""
    value = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    return value if isinstance(value, str) else value.decode()


def write_files(
    directory: Path | str, files: Mapping[str, bytes | str], *, mode: int = 0o600
) -> dict[str, Path]:
    """Write key material into `directory` (created if needed), one file per entry, private to the owner."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, content in files.items():
        path = target / name
        data = content.encode() if isinstance(content, str) else content
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(path, mode)
        written[name] = path
    return written


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _subject(cn: str, organization: str | None) -> x509.Name:
    attributes = []
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attributes)


@dataclass(frozen=True)
class IssuedCertificate:
    """A leaf certificate, its private key, and the CA certificate that signed it."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    ca_cert: x509.Certificate

    @property
    def common_name(self) -> str:
        return common_name(self.cert)

    def cert_pem(self) -> bytes:
        return certificate_pem(self.cert)

    def key_pem(self) -> bytes:
        """PKCS#8 PEM, unencrypted, like Strimzi's user.key."""
        return private_key_pem(self.key)

    def chain_pem(self) -> bytes:
        """Leaf then CA: what a server presents so a client holding only the root can build the path."""
        return self.cert_pem() + certificate_pem(self.ca_cert)

    def pkcs12(self, password: str, *, alias: str | None = None) -> bytes:
        """A PKCS#12 keystore with the key and certificate under `alias` (default: the CN, like Strimzi).

        As close to the User Operator's (Java's KeyStore) as `cryptography` allows: PBES2 with PBKDF2-HMAC-SHA256
        and AES-256-CBC at 10000 iterations, SHA-256 MAC. Java encrypts the key bag with AES-128 at 2048
        iterations and MACs at 10000; `cryptography` uses one algorithm for both bags and 2048 for the MAC."""
        encryption = (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(10000)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256())
            .build(password.encode())
        )
        return pkcs12.serialize_key_and_certificates(
            (alias or self.common_name).encode(), self.key, self.cert, None, encryption
        )

    def write_files(
        self,
        directory: Path | str,
        *,
        cert_name: str = "user.crt",
        key_name: str = "user.key",
        ca_name: str | None = "ca.crt",
    ) -> dict[str, Path]:
        """Write the certificate, the PKCS#8 key and (unless `ca_name` is None) the CA certificate as PEM."""
        files: dict[str, bytes] = {cert_name: self.cert_pem(), key_name: self.key_pem()}
        if ca_name:
            files[ca_name] = certificate_pem(self.ca_cert)
        return write_files(directory, files)


@dataclass(frozen=True)
class CertificateAuthority:
    """A self-signed CA with Strimzi's naming and generations, able to issue, renew and rotate.

    `cert_generation` and `key_generation` follow Strimzi's `strimzi.io/ca-cert-generation` and
    `strimzi.io/ca-key-generation` annotations; the subject CN is `<name> v<key_generation>`.
    `previous` holds the certificates of replaced keys that are still trusted during a rotation.
    """

    name: str
    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    cert_generation: int = 0
    key_generation: int = 0
    previous: tuple[x509.Certificate, ...] = field(default=())
    validity_days: int = DEFAULT_VALIDITY_DAYS
    key_size: int = DEFAULT_KEY_SIZE

    # ----- making one ---------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        name: str = "cluster-ca",
        *,
        generation: int = 0,
        organization: str | None = STRIMZI_ORGANIZATION,
        validity_days: int = DEFAULT_VALIDITY_DAYS,
        key_size: int = DEFAULT_KEY_SIZE,
        key: rsa.RSAPrivateKey | None = None,
        cert_generation: int | None = None,
    ) -> CertificateAuthority:
        """A new CA named like Strimzi's (`cluster-ca` or `clients-ca`), CN `<name> v<generation>`.

        `generation` is the key generation (in the CN); pass `key` to self-sign an existing key.
        """
        key = key or new_private_key(key_size)
        cert = cls._self_sign(key, f"{name} v{generation}", organization, validity_days)
        return cls(
            name=name,
            cert=cert,
            key=key,
            cert_generation=generation if cert_generation is None else cert_generation,
            key_generation=generation,
            validity_days=validity_days,
            key_size=key.key_size,
        )

    @classmethod
    def from_pem(
        cls,
        cert_pem: bytes | str,
        key_pem: bytes | str,
        *,
        cert_generation: int = 0,
        key_generation: int = 0,
        previous_pem: bytes | str | Iterable[bytes | str] = (),
    ) -> CertificateAuthority:
        """Load a CA from its PEM certificate and key (e.g. Strimzi's `ca.crt` and `ca.key`)."""
        cert = load_certificates(cert_pem)[0]
        key = load_private_key(key_pem)
        if cert.public_key().public_numbers() != key.public_key().public_numbers():
            raise ValueError("the CA certificate does not belong to the CA key")
        chunks = [previous_pem] if isinstance(previous_pem, bytes | str) else list(previous_pem)
        previous = tuple(c for chunk in chunks if chunk for c in load_certificates(chunk))
        base = common_name(cert).rsplit(" v", 1)[0]
        return cls(
            name=base,
            cert=cert,
            key=key,
            cert_generation=cert_generation,
            key_generation=key_generation,
            previous=previous,
            key_size=key.key_size,
        )

    @staticmethod
    def _self_sign(
        key: rsa.RSAPrivateKey, cn: str, organization: str | None, validity_days: int
    ) -> x509.Certificate:
        subject = _subject(cn, organization)
        now = _now()
        public = key.public_key()
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _CLOCK_SKEW)
            .not_valid_after(now + dt.timedelta(days=validity_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA512())
        )

    # ----- what it holds ------------------------------------------------------------------------

    @property
    def common_name(self) -> str:
        return common_name(self.cert)

    @property
    def trusted_certs(self) -> tuple[x509.Certificate, ...]:
        """The current certificate first, then those of replaced keys still trusted during a rotation."""
        return (self.cert, *self.previous)

    def cert_pem(self) -> bytes:
        """The current CA certificate alone (Strimzi's `ca.crt`)."""
        return certificate_pem(self.cert)

    def key_pem(self) -> bytes:
        """The CA key as PKCS#8 PEM (Strimzi's `ca.key`)."""
        return private_key_pem(self.key)

    def bundle_pem(self) -> bytes:
        """Every trusted CA certificate, current first: what a client must trust during a rotation."""
        return b"".join(certificate_pem(c) for c in self.trusted_certs)

    def truststore_p12(self, password: str, aliases: Sequence[str] | None = None) -> bytes:
        """A PKCS#12 truststore Java reads as trusted-certificate entries (Strimzi's `ca.p12`).

        Aliases default to Strimzi's: `ca.crt` for the current certificate, `ca-<notAfter>.crt` for old ones.
        """
        names = list(aliases) if aliases else ["ca.crt", *(old_cert_key(c) for c in self.previous)]
        return java_truststore(list(zip(names, self.trusted_certs, strict=True)), password)

    def write_files(
        self,
        directory: Path | str,
        *,
        cert_name: str = "ca.crt",
        key_name: str | None = None,
        bundle: bool = True,
    ) -> dict[str, Path]:
        """Write the CA certificate (all trusted ones if `bundle`) and, only if `key_name` is set, its key."""
        files: dict[str, bytes] = {cert_name: self.bundle_pem() if bundle else self.cert_pem()}
        if key_name:
            files[key_name] = self.key_pem()
        return write_files(directory, files)

    # ----- issuing ------------------------------------------------------------------------------

    def _issue(
        self,
        cn: str,
        *,
        organization: str | None,
        validity_days: int | None,
        key: rsa.RSAPrivateKey | None,
        extensions: Sequence[tuple[x509.ExtensionType, bool]],
        backdated_and_capped: bool = True,
    ) -> IssuedCertificate:
        leaf_key = key or new_private_key(self.key_size)
        now = _now().replace(microsecond=0)
        not_after = now + dt.timedelta(days=validity_days or self.validity_days)
        not_before = now
        if backdated_and_capped:
            not_before, not_after = now - _CLOCK_SKEW, min(not_after, self.cert.not_valid_after_utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_subject(cn, organization))
            .issuer_name(self.cert.subject)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=True,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        cert = builder.sign(self.key, hashes.SHA512())
        return IssuedCertificate(cert=cert, key=leaf_key, ca_cert=self.cert)

    def issue_client(
        self,
        cn: str,
        *,
        organization: str | None = None,
        validity_days: int | None = None,
        key: rsa.RSAPrivateKey | None = None,
    ) -> IssuedCertificate:
        """A client certificate with subject `CN=<cn>` (no O), as Strimzi's User Operator issues a TLS user: valid
        from now for `validity_days`, neither backdated nor capped at the CA's expiry (as the real one does).

        Kafka's TLS principal for it is then `User:CN=<cn>`. Pass `key` to keep an existing key.
        """
        return self._issue(
            cn,
            organization=organization,
            validity_days=validity_days,
            key=key,
            extensions=(),
            backdated_and_capped=False,
        )

    def issue_server(
        self,
        cn: str,
        *,
        dns_names: Iterable[str] = (),
        ip_addresses: Iterable[str] = ("127.0.0.1",),
        include_localhost: bool = True,
        organization: str | None = STRIMZI_ORGANIZATION,
        validity_days: int | None = None,
        key: rsa.RSAPrivateKey | None = None,
    ) -> IssuedCertificate:
        """A broker/server certificate whose SANs hold `dns_names` (+ localhost) and `ip_addresses`.

        Good for both ends of a TLS connection (`clientAuth,serverAuth`), like Strimzi's broker certificates.
        """
        names = list(dict.fromkeys([*dns_names, *(["localhost"] if include_localhost else [])]))
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in dict.fromkeys(ip_addresses)]
        extensions: list[tuple[x509.ExtensionType, bool]] = [
            (
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
                False,
            ),
        ]
        if sans:
            extensions.append((x509.SubjectAlternativeName(sans), False))
        return self._issue(
            cn, organization=organization, validity_days=validity_days, key=key, extensions=extensions
        )

    # ----- renewing and rotating ----------------------------------------------------------------

    def renew(self) -> CertificateAuthority:
        """A new CA certificate for the same key (Strimzi's RENEW_CERT); issued certificates stay valid."""
        cert = self._self_sign(
            self.key, f"{self.name} v{self.key_generation}", _organization(self.cert), self.validity_days
        )
        return CertificateAuthority(
            name=self.name,
            cert=cert,
            key=self.key,
            cert_generation=self.cert_generation + 1,
            key_generation=self.key_generation,
            previous=self.previous,
            validity_days=self.validity_days,
            key_size=self.key_size,
        )

    def rotate(self) -> CertificateAuthority:
        """A new key and certificate (Strimzi's REPLACE_KEY); the old certificate stays in `previous`."""
        key = new_private_key(self.key_size)
        generation = self.key_generation + 1
        cert = self._self_sign(
            key, f"{self.name} v{generation}", _organization(self.cert), self.validity_days
        )
        return CertificateAuthority(
            name=self.name,
            cert=cert,
            key=key,
            cert_generation=self.cert_generation + 1,
            key_generation=generation,
            previous=(self.cert, *self.previous),
            validity_days=self.validity_days,
            key_size=self.key_size,
        )

    def without_previous(self) -> CertificateAuthority:
        """The same CA once a rotation is complete: the old certificates are no longer trusted."""
        return CertificateAuthority(
            name=self.name,
            cert=self.cert,
            key=self.key,
            cert_generation=self.cert_generation,
            key_generation=self.key_generation,
            validity_days=self.validity_days,
            key_size=self.key_size,
        )

    def signed(self, cert: x509.Certificate) -> bool:
        """True when `cert` was issued by one of the trusted CA certificates (signature checked)."""
        for ca_cert in self.trusted_certs:
            try:
                cert.verify_directly_issued_by(ca_cert)
            except (InvalidSignature, ValueError, TypeError):
                continue
            return True
        return False


def _organization(cert: x509.Certificate) -> str | None:
    values = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode()


def old_cert_key(cert: x509.Certificate) -> str:
    """The Secret key Strimzi gives a replaced CA certificate: `ca-<notAfter as YYYY-MM-DDTHH-MM-SSZ>.crt`."""
    return "ca-" + cert.not_valid_after_utc.strftime("%Y-%m-%dT%H-%M-%SZ") + ".crt"


def java_truststore(entries: Sequence[tuple[str, x509.Certificate]], password: str) -> bytes:
    """A PKCS#12 file of (alias, certificate) trusted entries, readable by Java's KeyStore and by OpenSSL."""
    certs = [pkcs12.PKCS12Certificate(cert, alias.encode()) for alias, cert in entries]
    return pkcs12.serialize_java_truststore(certs, serialization.BestAvailableEncryption(password.encode()))
