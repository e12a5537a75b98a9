"""Small helpers shared by several test modules."""

from __future__ import annotations

import gzip
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


def write_arc(path: Path, records: list[tuple[str, str, bytes]]) -> list[bytes]:
    """An ARC file (version 1, each record a gzip member) as the Internet
    Archive's crawlers wrote them before WARC: (14-digit date, URL, HTTP
    response) a record each; the HTTP responses, as written."""
    fields = b"1 0 Crawl\nURL IP-address Archive-date Content-type Archive-length\n"
    members = [b"filedesc://crawl.arc 0.0.0.0 20040101000000 text/plain %d\n%s\n"
               % (len(fields), fields)]
    for date, url, http in records:
        members.append(b"%s 192.0.2.7 %s text/html %d\n%s\n"
                       % (url.encode(), date.encode(), len(http), http))
    path.write_bytes(b"".join(gzip.compress(member, mtime=0) for member in members))
    return [http for _, _, http in records]
