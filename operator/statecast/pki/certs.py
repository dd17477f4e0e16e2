"""Authorities and certificates (``cryptography``): make, sign, read back.

Keys are ECDSA P-256 (small, fast handshakes). An authority is a CA certificate with
path length 0; an agent's (or the operator's) certificate holds one DNS name, its
statecast identity (:func:`statecast.core.pki.agent_name`, ``operator.statecast``),
and may serve and authenticate as a client. Everything is PEM bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from statecast.core.pki import BACKDATE, Authority, Leaf

__all__ = [
    "KeyPair",
    "authority_of",
    "issue",
    "leaf_of",
    "new_authority",
    "new_request",
    "request_names",
    "sign_request",
    "split_bundle",
]


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key (PEM)."""

    cert: bytes
    key: bytes


#: An agent's certificate serves its listener and authenticates it as a client.
_BOTH_WAYS = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _time(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def new_authority(now: float, lifetime: float) -> KeyPair:
    """A new self-signed CA valid from ``now`` (less the backdate) for ``lifetime`` s."""
    key = ec.generate_private_key(ec.SECP256R1())
    stamp = _time(now).strftime("%Y%m%dT%H%M%SZ")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"statecast CA {stamp}")])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_time(now - BACKDATE))
        .not_valid_after(_time(now + lifetime))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
        .sign(key, hashes.SHA256())
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def _signed(
    authority: KeyPair,
    public: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    name: str,
    now: float,
    lifetime: float,
) -> bytes:
    """A certificate for ``name`` and ``public`` signed by ``authority``, never outliving it.

    Its extensions are ours whatever a request asked for: one DNS name, server and
    client authentication, not a CA.
    """
    ca = x509.load_pem_x509_certificate(authority.cert)
    ca_key = serialization.load_pem_private_key(authority.key, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the authority's key is not an EC key")
    not_after = min(_time(now + lifetime), ca.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_time(now - BACKDATE))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage(_BOTH_WAYS), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def issue(authority: KeyPair, name: str, now: float, lifetime: float) -> KeyPair:
    """A new key pair and a certificate for ``name`` signed by ``authority``."""
    key = ec.generate_private_key(ec.SECP256R1())
    return KeyPair(_signed(authority, key.public_key(), name, now, lifetime), _key_pem(key))


def new_request(name: str) -> KeyPair:
    """A new private key and a certificate request (PKCS#10) for ``name``, signed by it.

    ``cert`` holds the request (PEM), ``key`` the key that never leaves its holder.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(request.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def request_names(request_pem: bytes) -> tuple[tuple[str, ...], int, bool, bool]:
    """A request's DNS names, count of other names, proof of possession, key accepted.

    Raises:
        ValueError: not a PEM certificate request.
    """
    request = x509.load_pem_x509_csr(request_pem)
    try:
        names = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        dns: tuple[str, ...] = ()
        others = 0
    else:
        dns = tuple(names.get_values_for_type(x509.DNSName))
        others = len(list(names)) - len(dns)
    public = request.public_key()
    key = (isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1") or (
        isinstance(public, rsa.RSAPublicKey) and public.key_size >= 2048
    )
    return dns, others, request.is_signature_valid, key


def sign_request(
    authority: KeyPair, request_pem: bytes, name: str, now: float, lifetime: float
) -> bytes:
    """A certificate for ``name`` and the request's key, signed by ``authority`` (PEM).

    Raises:
        ValueError: not a request, or a key :func:`request_names` does not accept.
    """
    public = x509.load_pem_x509_csr(request_pem).public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise ValueError("unsupported key in the request")
    return _signed(authority, public, name, now, lifetime)


def _key_id(cert: x509.Certificate) -> str:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex()


def authority_of(cert_pem: bytes, published: float) -> Authority:
    """The facts of a CA certificate the core decides on."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    return Authority(
        key_id=_key_id(cert),
        not_before=cert.not_valid_before_utc.timestamp(),
        not_after=cert.not_valid_after_utc.timestamp(),
        published=published,
    )


def leaf_of(cert_pem: bytes) -> Leaf:
    """The facts of an issued certificate the core decides on.

    Raises:
        ValueError: not a certificate of ours (no DNS name or no authority key id).
    """
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        issuer = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound as err:
        raise ValueError(f"not a statecast certificate: {err}") from err
    dns = names.get_values_for_type(x509.DNSName)
    if not dns or issuer.key_identifier is None:
        raise ValueError("not a statecast certificate: no DNS name or authority key id")
    return Leaf(
        identity=dns[0],
        issuer=issuer.key_identifier.hex(),
        not_before=cert.not_valid_before_utc.timestamp(),
        not_after=cert.not_valid_after_utc.timestamp(),
    )


def split_bundle(bundle: bytes) -> list[bytes]:
    """The PEM certificates of a bundle, one by one."""
    return (
        [
            c.public_bytes(serialization.Encoding.PEM)
            for c in x509.load_pem_x509_certificates(bundle)
        ]
        if bundle.strip()
        else []
    )
