"""A throw-away certificate authority for the local harness (`make demo`, `make up`, tests).

One CA, and per identity a leaf certificate valid both as a TLS server (SANs localhost and
127.0.0.1) and as a TLS client (mTLS): the common name is the identity a server reads back
from the peer's certificate (`meters.security.identity`). Deployments get theirs from
cert-manager instead (helm/). EC P-256 keys: fast to make, accepted by gRPC and Go.
"""

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "meters-local-ca"
VALID_FOR = dt.timedelta(days=30)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "meters local harness"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def cert_path(pki_dir: Path, identity: str) -> Path:
    return pki_dir / f"{identity}.pem"


def key_path(pki_dir: Path, identity: str) -> Path:
    return pki_dir / f"{identity}-key.pem"


def ca_path(pki_dir: Path) -> Path:
    return pki_dir / "ca.pem"


def make_ca(pki_dir: Path) -> None:
    """A CA in pki_dir (ca.pem, ca-key.pem), unless one is there already."""
    pki_dir.mkdir(parents=True, exist_ok=True)
    if ca_path(pki_dir).exists():
        return
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(_name(CA_NAME)).issuer_name(_name(CA_NAME))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write_key(pki_dir / "ca-key.pem", key)
    ca_path(pki_dir).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def issue(pki_dir: Path, identity: str, dns_names: tuple[str, ...] = ()) -> None:
    """A leaf certificate for `identity` signed by pki_dir's CA, unless one exists."""
    if cert_path(pki_dir, identity).exists():
        return
    ca_key = serialization.load_pem_private_key((pki_dir / "ca-key.pem").read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate(ca_path(pki_dir).read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            *(x509.DNSName(d) for d in dns_names)]
    cert = (
        x509.CertificateBuilder().subject_name(_name(identity)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(key_path(pki_dir, identity), key)
    cert_path(pki_dir, identity).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def make_pki(pki_dir: Path, identities: tuple[str, ...]) -> Path:
    """The CA and one certificate per identity (kept when present); returns pki_dir."""
    make_ca(pki_dir)
    for identity in identities:
        issue(pki_dir, identity)
    return pki_dir
