from __future__ import annotations

import pytest

from palimpsest.errors import BlockedURL, InvalidURL
from palimpsest.urls import check_url, normalize_url, url_id


@pytest.mark.parametrize("url", [
    "ftp://example.com/file", "javascript:alert(1)", "file:///etc/passwd",
    "http://", "not a url", "http://exa mple.com/", "http://example.com:99999/",
    "data:text/html,<p>hi</p>",
])
def test_malformed_or_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidURL):
        check_url(url, allow_private=True)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://localhost:8080/x", "http://10.1.2.3/",
    "http://192.168.0.1/", "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/", "http://0.0.0.0/", "http://[fd00::1]/",
])
def test_internal_addresses_are_blocked(url: str) -> None:
    with pytest.raises(BlockedURL, match="PALIMPSEST_ALLOW_PRIVATE"):
        check_url(url)


def test_internal_addresses_pass_when_allowed() -> None:
    assert check_url(" http://127.0.0.1:8000/a ", allow_private=True) == "http://127.0.0.1:8000/a"


def test_normalisation_drops_tracking_fragment_and_default_port() -> None:
    url = "HTTPS://News.Example.COM:443/a/b?utm_source=x&id=7&fbclid=y&b=2#comments"
    assert normalize_url(url) == "https://news.example.com/a/b?b=2&id=7"


def test_id_is_stable_across_tracking_parameters() -> None:
    assert url_id("http://x.org/story?utm_medium=rss") == url_id("http://x.org/story")
    assert url_id("http://x.org/story?id=1") != url_id("http://x.org/story?id=2")
