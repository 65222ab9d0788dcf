"""X.509 certificates made for a test: a CA and a client certificate it issued, as PEM."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def ca_and_client(common_name: str = "Partners CA", *, days: int = 365) -> tuple[bytes, bytes]:
    """A self-signed CA valid for ``days`` from yesterday (negative: expired), and a client
    certificate it signed, each as PEM."""
    now = datetime.now(UTC)
    ca_key, client_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name(common_name))
          .issuer_name(_name(common_name)).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(days=1) + min(timedelta(days=days), timedelta(0)))
          .not_valid_after(now + timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    client = (x509.CertificateBuilder().subject_name(_name("partner.example.com"))
              .issuer_name(ca.subject).public_key(client_key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(now - timedelta(days=1))
              .not_valid_after(now + timedelta(days=30))
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .sign(ca_key, hashes.SHA256()))
    return (ca.public_bytes(serialization.Encoding.PEM),
            client.public_bytes(serialization.Encoding.PEM))
