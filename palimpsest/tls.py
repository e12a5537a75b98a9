"""TLS through the egress proxy: ended there, so that what is relayed can be read.

The proxy holds one key, made when it starts and never written anywhere
that outlives it; Chromium is told to accept that key alone
(``--ignore-certificate-errors-spki-list``), whatever the name. The site's
own certificate is verified by the proxy, against the system's trusted
authorities, on the connection it makes onward. Both legs speak HTTP/1.1
(offered by ALPN), which the tap can follow.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CHUNK = 1 << 16
T = TypeVar("T")


class Interception:
    """The proxy's key and certificate, and the contexts of both legs."""

    def __init__(self) -> None:
        key, certificate = self_signed("Palimpsest capture proxy")
        spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        #: What Chromium is told to accept (base64 SHA-256 of the public key)
        self.pin = base64.b64encode(hashlib.sha256(spki).digest()).decode()
        self.server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server.set_alpn_protocols(["http/1.1"])
        with tempfile.TemporaryDirectory() as folder:  # ssl loads keys from files only
            path = os.path.join(folder, "proxy.pem")
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as out:
                out.write(pem(key, certificate))
            self.server.load_cert_chain(path)
        self.client = ssl.create_default_context()
        self.client.set_alpn_protocols(["http/1.1"])

    def trust(self, cafile: str) -> None:
        """Also trust this authority for sites (a test's own, a company's)."""
        self.client.load_verify_locations(cafile)


def served(connection: ssl.SSLObject) -> dict[str, Any]:
    """What the site's end of a verified TLS connection showed: the protocol,
    the cipher, and the certificate it proved itself with (the evidence that
    the page came from whoever holds that name)."""
    der = connection.getpeercert(binary_form=True)
    cipher = connection.cipher()
    facts: dict[str, Any] = {"tls": connection.version(), "cipher": cipher[0] if cipher else ""}
    if der:
        facts["certificate"] = {"sha256": hashlib.sha256(der).hexdigest(), **_described(der)}
    return facts


def _described(der: bytes) -> dict[str, Any]:
    """Who a certificate names, who vouches for it, and for how long; nothing
    if it is one that OpenSSL took but cryptography will not read (the
    evidence is its hash then, and the connection goes on all the same)."""
    try:
        certificate = x509.load_der_x509_certificate(der)
        try:
            names = certificate.extensions.get_extension_for_class(
                x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
        except x509.ExtensionNotFound:
            names = []
        return {
            "subject": certificate.subject.rfc4514_string(),
            "issuer": certificate.issuer.rfc4514_string(),
            "serial": format(certificate.serial_number, "x"),
            "not_before": certificate.not_valid_before_utc.isoformat(),
            "not_after": certificate.not_valid_after_utc.isoformat(),
            "names": names,
        }
    except ValueError:
        return {}


def self_signed(name: str, names: Sequence[x509.GeneralName] = (), days: int = 30
                ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new key and a certificate it signs itself, for ``names`` (any, if none)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(days=1))
               .not_valid_after(now + timedelta(days=days)))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return key, builder.sign(key, hashes.SHA256())


def pem(key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> bytes:
    """The key and its certificate as one PEM file (what ``load_cert_chain`` reads)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()) + \
        certificate.public_bytes(serialization.Encoding.PEM)


class BrowserSide:
    """The browser's end of a connection whose TLS the proxy ends. Its first
    bytes were read already (to tell TLS from plain HTTP), so TLS runs over
    memory buffers rather than asyncio's own ``start_tls``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 context: ssl.SSLContext, first: bytes) -> None:
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._incoming.write(first)
        self._reader, self._writer = reader, writer

    async def handshake(self) -> None:
        await self._io(self._tls.do_handshake)

    async def read(self) -> bytes:
        try:
            return await self._io(lambda: self._tls.read(CHUNK))
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""

    async def write(self, data: bytes) -> None:
        await self._io(lambda: self._tls.write(data))

    async def _io(self, operation: Callable[[], T]) -> T:
        while True:
            try:
                result = operation()
            except ssl.SSLWantReadError:
                await self._flush()
                data = await self._reader.read(CHUNK)
                if data:
                    self._incoming.write(data)
                elif self._incoming.eof:
                    raise ConnectionResetError("the browser closed the connection") from None
                else:
                    self._incoming.write_eof()
                continue
            await self._flush()
            return result

    async def _flush(self) -> None:
        if data := self._outgoing.read():
            self._writer.write(data)
            await self._writer.drain()
