"""Small helpers shared by several test modules."""

from __future__ import annotations

import ipaddress
import ssl
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from palimpsest.tls import pem, self_signed


def warcio_check(path: Path) -> str:
    """Run ``warcio check -v`` on a WARC; fail the test unless it passes."""
    result = subprocess.run([str(Path(sys.executable).with_name("warcio")), "check", "-v",
                             str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "digest pass" in result.stdout and "fail" not in result.stdout
    return result.stdout


def https_context(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a self-signed certificate for 127.0.0.1 and
    localhost, and the certificate's file (for whoever is to trust it)."""
    key, certificate = self_signed("localhost", [
        x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], days=2)
    cert, chain = folder / "site.crt", folder / "site.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    chain.write_bytes(pem(key, certificate))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return context, cert
