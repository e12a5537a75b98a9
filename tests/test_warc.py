from __future__ import annotations

import io
import itertools
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from palimpsest.errors import ArchiveError
from palimpsest.models import Capture, Exchange, Frame
from palimpsest.warc import (
    MIN_DEDUP_BYTES,
    iter_records,
    locate,
    page_from_warc,
    payload_digests,
    read_record,
    write_warc,
)

from .helpers import warcio_check

WHEN = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
PAGE = b"<html><head><title>T</title></head><body><h1>Hello</h1></body></html>"


def make_capture() -> Capture:
    exchanges = (
        Exchange("http://news.test/old", "GET", (("User-Agent", "UA"),), None, 301,
                 "Moved Permanently", (("Location", "/story"), ("Content-Length", "0")), b"",
                 redirect=True),
        Exchange("http://news.test/story", "GET", (("User-Agent", "UA"), ("Accept", "*/*")),
                 None, 200, "OK",
                 (("Content-Type", "text/html"), ("Content-Encoding", "gzip"),
                  ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Content-Length", "42")), PAGE),
        Exchange("http://news.test/api", "POST", (("Content-Type", "application/json"),),
                 b'{"q": 1}', 200, "OK", (("Content-Type", "application/json"),), b"[]"),
    )
    return Capture(url="http://news.test/old", final_url="http://news.test/story", status=200,
                   fetched_at=WHEN, exchanges=exchanges, dom="<html><body>rendered</body></html>",
                   screenshot=b"\x89PNG fake", browser_version="test")


def fixed_ids() -> object:
    counter = itertools.count(1)
    return lambda: f"<urn:uuid:00000000-0000-0000-0000-{next(counter):012d}>"


def write(capture: Capture) -> tuple[bytes, dict[str, tuple[Any, ...]]]:
    out = io.BytesIO()
    layout = write_warc(capture, out, make_id=fixed_ids())  # type: ignore[arg-type]
    return out.getvalue(), layout.records


@pytest.mark.parametrize(("cut", "deduplicated"), [("length", True), ("unspecified", False)])
def test_a_payload_cut_at_a_set_length_is_deduplicated_and_one_cut_anywhere_is_not(
        cut: str, deduplicated: bool) -> None:
    # A media response cut at a set length is the same bytes each time;
    # one cut wherever the capture ended is not (its digest stands for no
    # stable payload). Either way the record says it was cut.
    clip = Exchange("http://news.test/clip.mp4", "GET", (), None, 200, "OK",
                    (("Content-Type", "video/mp4"),), bytes(range(256)) * 64, truncated=cut)
    capture = replace(make_capture(), exchanges=(*make_capture().exchanges, clip))
    first = write_warc(capture, io.BytesIO(), key="one.warc.gz")
    second = io.BytesIO()
    write_warc(replace(capture, fetched_at=WHEN.replace(hour=13)), second,
               originals=first.payloads)
    [record] = [r for r in iter_records(io.BytesIO(second.getvalue()))
                if r.rec_headers.get_header("WARC-Target-URI") == clip.url
                and r.rec_type != "request"]
    assert record.rec_type == ("revisit" if deduplicated else "response")
    assert record.rec_headers.get_header("WARC-Truncated") == cut


def test_same_capture_gives_identical_bytes() -> None:
    assert write(make_capture())[0] == write(make_capture())[0]


def test_warcio_check_accepts_it(tmp_path: Path) -> None:
    path = tmp_path / "capture.warc.gz"
    path.write_bytes(write(make_capture())[0])
    warcio_check(path)


def test_records_pair_requests_with_responses() -> None:
    data, _ = write(make_capture())
    records = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"),
                r.rec_headers.get_header("WARC-Record-ID"),
                r.rec_headers.get_header("WARC-Concurrent-To"))
               for r in iter_records(io.BytesIO(data))]
    types = [r[0] for r in records]
    assert types == ["warcinfo", "response", "request", "response", "request", "response",
                     "request", "resource", "resource", "metadata"]
    responses = {rid: uri for kind, uri, rid, _ in records if kind == "response"}
    for kind, uri, _, concurrent in records:
        if kind == "request":
            assert responses[concurrent] == uri


def test_decoded_body_does_not_claim_its_old_encoding() -> None:
    data, _ = write(make_capture())
    page = next(r for r in iter_records(io.BytesIO(data))
                if r.rec_type == "response" and r.http_headers.get_statuscode() == "200"
                and r.rec_headers.get_header("WARC-Target-URI").endswith("/story"))
    headers = page.http_headers
    assert headers.get_header("Content-Encoding") is None
    assert headers.get_header("X-Archive-Orig-Content-Encoding") == "gzip"
    assert headers.get_header("Content-Length") == str(len(PAGE))
    assert [v for k, v in headers.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert page.content_stream().read() == PAGE


def test_a_body_stored_as_served_keeps_its_content_encoding() -> None:
    # a coding the tap does not decode: only the dechunking is undone
    body = b"\x1f\x9d\x90<h"
    served = Exchange("http://news.test/app.js", "GET", (), None, 200, "OK", (
        ("Content-Encoding", "compress"), ("Transfer-Encoding", "chunked")), body, encoded=True)
    capture = make_capture()
    data, _ = write(replace(capture, exchanges=(*capture.exchanges, served)))
    [(headers, payload)] = [(r.http_headers.headers, r.raw_stream.read())
                            for r in iter_records(io.BytesIO(data)) if r.rec_type == "response"
                            and r.rec_headers.get_header("WARC-Target-URI") == served.url]
    assert headers == [
        ("Content-Encoding", "compress"), ("X-Archive-Orig-Transfer-Encoding", "chunked"),
        ("Content-Length", str(len(body)))]
    assert payload == body


def test_post_body_is_kept_in_the_request_record() -> None:
    data, _ = write(make_capture())
    request = next(r for r in iter_records(io.BytesIO(data))
                   if r.rec_type == "request" and r.http_headers.protocol == "POST")
    assert request.content_stream().read() == b'{"q": 1}'


def test_key_records_can_be_read_alone_from_their_offsets() -> None:
    data, positions = write(make_capture())
    for name, (kind, uri_end, payload) in {
        "page": ("response", "/story", PAGE),
        "dom": ("resource", "/story", b"<html><body>rendered</body></html>"),
        "screenshot": ("resource", "/story", b"\x89PNG fake"),
    }.items():
        _, offset, length = locate("", positions[name])
        rec_kind, uri, body = read_record(data[offset:offset + length])
        assert rec_kind == kind and uri.endswith(uri_end) and body == payload


def test_page_from_warc_returns_the_rendered_dom() -> None:
    url, html = page_from_warc(io.BytesIO(write(make_capture())[0]))
    assert url == "http://news.test/story" and "rendered" in html


def test_malformed_warc_is_a_clear_error() -> None:
    with pytest.raises(ArchiveError):
        page_from_warc(io.BytesIO(b"this is not a WARC at all\r\n\r\n"))


def test_every_payload_written_once_is_looked_up_the_next_time() -> None:
    # archive() asks the index only for the digests payload_digests names: a
    # payload the writer indexes but that is not named there (an embed's
    # unchanged DOM) would be written in full in every snapshot.
    frame = Frame(url="http://embed.test/post", parent="http://news.test/story",
                  dom="<p>" + "y" * MIN_DEDUP_BYTES + "</p>")
    capture = replace(make_capture(), dom="<p>" + "x" * MIN_DEDUP_BYTES + "</p>",
                      frames=(frame,))
    layout = write_warc(capture, io.BytesIO(), key="one.warc.gz")
    assert len(layout.payloads) == 2 and set(layout.payloads) <= payload_digests(capture)


def test_payloads_archived_before_become_revisit_records(tmp_path: Path) -> None:
    big = b"<html><body>" + b"x" * MIN_DEDUP_BYTES + b"</body></html>"
    image = bytes(range(256)) * 8
    first = replace(make_capture(), dom=big.decode(), exchanges=(
        *make_capture().exchanges,
        Exchange("http://news.test/a.png", "GET", (), None, 200, "OK",
                 (("Content-Type", "image/png"),), image),
        # the same bytes under a second URL, in the same WARC
        Exchange("http://news.test/b.png", "GET", (), None, 200, "OK",
                 (("Content-Type", "image/png"),), image),
    ))
    out = io.BytesIO()
    layout = write_warc(first, out, key="one.warc.gz")
    kinds = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"))
             for r in iter_records(io.BytesIO(out.getvalue()))]
    assert ("response", "http://news.test/a.png") in kinds
    assert ("revisit", "http://news.test/b.png") in kinds
    assert len(layout.payloads) == 2  # the image and the DOM; small payloads are not indexed

    later = replace(first, fetched_at=WHEN.replace(hour=13))
    second = io.BytesIO()
    again = write_warc(later, second, key="two.warc.gz", originals=layout.payloads)
    path = tmp_path / "two.warc.gz"
    path.write_bytes(second.getvalue())
    warcio_check(path)
    revisits = {r.rec_headers.get_header("WARC-Target-URI"): r
                for r in iter_records(io.BytesIO(second.getvalue())) if r.rec_type == "revisit"}
    assert set(revisits) == {"http://news.test/a.png", "http://news.test/b.png",
                             "urn:dom:http://news.test/story"}
    image_revisit = revisits["http://news.test/a.png"].rec_headers
    assert image_revisit.get_header("WARC-Profile").endswith("/revisit/identical-payload-digest")
    assert image_revisit.get_header("WARC-Refers-To-Target-URI") == "http://news.test/a.png"
    assert image_revisit.get_header("WARC-Refers-To-Date") == "2026-11-28T12:00:00.000000Z"
    assert again.payloads == {}
    # the DOM's position points into the first WARC, where its bytes are
    key, offset, length = locate("two.warc.gz", again.records["dom"])
    assert key == "one.warc.gz"
    assert read_record(out.getvalue()[offset:offset + length])[2] == big
