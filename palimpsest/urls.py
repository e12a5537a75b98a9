"""URL checks, normalisation and the stable id of an article.

URLs come from users and from hostile pages, so :func:`check_url` refuses
anything but http(s) and, unless private addresses are allowed, any host that
resolves to a private, loopback, link-local or otherwise internal address.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .errors import BlockedURL, InvalidURL

#: Query parameters that only track the reader; they never select content.
TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid",
     "igshid", "yclid", "_ga", "_gl", "ref_src", "cmpid", "ito", "ocid", "smid"}
)
TRACKING_PREFIXES = ("utm_", "at_", "pk_")


def check_url(url: str, *, allow_private: bool = False) -> str:
    """Return ``url`` stripped of whitespace if it is safe to fetch, else raise.

    Raises :class:`InvalidURL` for malformed or non-http(s) URLs and
    :class:`BlockedURL` for hosts on internal networks.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"malformed URL {url!r}: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise InvalidURL(f"only http and https URLs can be captured, not {url!r}")
    if not parts.hostname:
        raise InvalidURL(f"URL {url!r} has no host")
    if any(c.isspace() for c in url):
        raise InvalidURL(f"URL {url!r} contains whitespace")
    if not allow_private:
        check_host(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    return url


def check_host(host: str, port: int = 80) -> None:
    """Raise :class:`BlockedURL` if ``host`` resolves to an internal address.

    Every address the name resolves to is checked, so a name that answers with
    one public and one private address is refused too. Names that do not
    resolve pass: the browser will fail on them with a clear network error.
    """
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return
    for info in infos:
        address = str(info[4][0])
        if internal_address(address):
            raise BlockedURL(
                f"{host} resolves to the internal address {address}; "
                "set PALIMPSEST_ALLOW_PRIVATE=1 to capture it anyway"
            )


def internal_address(address: str) -> bool:
    """Whether an IP address is private, loopback, link-local or otherwise not public."""
    ip = ipaddress.ip_address(address.split("%")[0])  # (an IPv6 zone is no part of it)
    return not ip.is_global or ip.is_multicast


def normalize_url(url: str) -> str:
    """The form of ``url`` used to recognise an article.

    Lower-cases scheme and host, drops default ports, the fragment and tracking
    parameters, and sorts the remaining query parameters.
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port
    if port and (parts.scheme, port) not in {("http", 80), ("https", 443)}:
        host = f"{host}:{port}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    )
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", urlencode(query), ""))


def url_id(url: str) -> str:
    """A stable short id for the article at ``url`` (hash of the normal form)."""
    return hashlib.sha256(normalize_url(url).encode()).hexdigest()[:16]
