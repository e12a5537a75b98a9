"""Webhooks: each edit and each event is POSTed as it is recorded, to a real
HTTP server on loopback; a hook that fails does not fail the snapshot."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from palimpsest.capture import Browser
from palimpsest.config import Settings
from palimpsest.demo_site import NewsSite
from palimpsest.errors import ConfigError
from palimpsest.history import HistoryStore
from palimpsest.notify import Outbox, signature
from palimpsest.pipeline import snapshot
from palimpsest.storage import open_store

from .s3server import free_port

SLUG = "museum-returns-bronzes"


@contextmanager
def hook(*answers: int, delay: float = 0.0, headers: tuple[tuple[str, str], ...] = (),
         seen: list[tuple[dict[str, str], bytes]] | None = None,
         ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook on loopback: its URL, and the messages it received (their
    headers and bodies also in ``seen``). It answers ``answers`` in turn
    (then 204), each ``delay`` seconds late, and with ``headers``."""
    received: list[dict[str, Any]] = []
    statuses = list(answers)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            if seen is not None:
                seen.append((dict(self.headers), body))
            time.sleep(delay)
            self.send_response(statuses.pop(0) if statuses else 204)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()


@pytest.mark.browser
def test_each_edit_and_event_is_posted_and_a_failing_hook_fails_nothing(
    site: NewsSite, settings: Settings, browser: Browser, caplog: pytest.LogCaptureFixture,
) -> None:
    url, seen = site.url(SLUG), []
    with HistoryStore(settings.db_url) as history, hook(seen=seen) as (webhook, received):
        def take(settings: Settings) -> str:
            return snapshot(url, settings=settings, browser=browser, history=history,
                            store=open_store(settings.storage_url)).outcome

        hooked = settings.with_(webhook_url=webhook, public_url="https://archive.example/",
                                webhook_secret=Settings.from_env(
                                    {"PALIMPSEST_WEBHOOK_SECRET": "s3cret"}).webhook_secret)
        assert take(hooked) == "new" and received == []  # (a first version is no edit)
        site.edit(SLUG, headline="Museum to return 36 looted bronzes")
        assert take(hooked) == "changed"
        (edit,) = received
        assert (edit["kind"], edit["changed_fields"], edit["url"]) == ("edit", ["headline"], url)
        assert edit["link"] == (f"https://archive.example/articles/{edit['article_id']}"
                                "/diff?from_version=1&to_version=2")
        assert edit["text"] == edit["content"]
        assert seen[0][0]["X-Palimpsest-Signature"] == signature("s3cret", seen[0][1])
        assert edit["text"].startswith("Museum to return 36 looted bronzes: headline changed")
        # a hook that asked for headlines only is not told of a paragraph added
        site.edit(SLUG, body=(*site.articles[SLUG].body, "A paragraph added."))
        headlines = hooked.with_(webhook_only=frozenset({"headline", "unpublished"}))
        assert take(headlines) == "changed" and len(received) == 1
        site.edit(SLUG, not_found=True)
        assert take(headlines) == "unpublished"
        gone = received[1]
        assert (gone["kind"], gone["detail"]["notice"]) == \
            ("unpublished", "Sorry, we couldn't find that page")
        assert "unpublished" in gone["text"] and len(received) == 2
        site.edit(SLUG, not_found=False)
        down = settings.with_(webhook_url=f"http://127.0.0.1:{free_port()}/hook")
        with caplog.at_level(logging.WARNING, logger="palimpsest.notify"):
            assert take(down) == "unchanged"  # (and back online: an event, whose hook fails)
        assert "webhook failed" in caplog.text and "asked again in 0:01:00" in caplog.text
        assert [e["kind"] for e in history.history(url)["events"]] == \
            ["unpublished", "republished"]
        # kept, and delivered when its turn comes (the sweep's, or the next news)
        (waiting,) = Outbox(history).undelivered()
        assert waiting["message"]["kind"] == "republished" and waiting["attempts"] == 1
        later = datetime.now(UTC) + timedelta(minutes=2)
        assert Outbox(history).deliver(webhook, now=later) == 1
        assert received[-1]["kind"] == "republished" and Outbox(history).undelivered() == []


def test_a_webhook_must_be_a_web_address() -> None:
    with pytest.raises(ConfigError, match="PALIMPSEST_WEBHOOK_URL must be an http"):
        Settings.from_env({"PALIMPSEST_WEBHOOK_URL": "file:///etc/passwd"})


def test_a_hook_is_told_only_of_what_it_asked_for() -> None:
    from palimpsest.notify import wanted

    only = Settings.from_env({"PALIMPSEST_WEBHOOK_ONLY": " headline, unpublished,"}).webhook_only
    assert only == {"headline", "unpublished"}
    assert Settings.from_env({}).webhook_only is None
    with pytest.raises(ConfigError, match="PALIMPSEST_WEBHOOK_ONLY: headlines is neither"):
        Settings.from_env({"PALIMPSEST_WEBHOOK_ONLY": "headlines"})
    edit = {"kind": "edit", "changed_fields": ["dek", "body"]}
    assert not wanted(edit, only) and wanted({**edit, "changed_fields": ["headline"]}, only)
    assert wanted({"kind": "unpublished"}, only) and not wanted({"kind": "moved"}, only)
    assert wanted(edit, None) and wanted({"kind": "capture_failing"}, None)


T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
MESSAGE = {"kind": "edit", "url": "https://news.example/story", "text": "headline changed"}


def test_a_message_the_hook_could_not_take_is_asked_again_later(history: HistoryStore) -> None:
    outbox = Outbox(history)
    with hook(503) as (webhook, received):
        outbox.add([MESSAGE], now=T0)
        assert outbox.deliver(webhook, now=T0) == 0
        (waiting,) = outbox.undelivered()
        assert (waiting["attempts"], waiting["last_error"], waiting["given_up"]) == (
            1, "HTTP 503 Service Unavailable", False)
        assert waiting["next_attempt_at"] == (T0 + timedelta(minutes=1)).isoformat()
        assert outbox.deliver(webhook, now=T0 + timedelta(seconds=59)) == 0  # not yet
        assert outbox.deliver(webhook, now=T0 + timedelta(minutes=1)) == 1
        assert received == [MESSAGE, MESSAGE] and outbox.undelivered() == []


def test_each_message_says_its_delivery_and_is_signed_with_the_secret(
    history: HistoryStore,
) -> None:
    import hashlib
    import hmac

    outbox, seen = Outbox(history), []
    with hook(503, seen=seen) as (webhook, _):
        outbox.add([MESSAGE, {**MESSAGE, "text": "dek changed"}], now=T0)
        outbox.deliver(webhook, secret="s3cret", now=T0)
        assert outbox.deliver(webhook, secret="s3cret", now=T0 + timedelta(minutes=1)) == 2
    deliveries = [headers["X-Palimpsest-Delivery"] for headers, _ in seen]
    assert deliveries[0] == deliveries[1] != deliveries[2]  # (the first, tried twice)
    for headers, body in seen:
        expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert headers["X-Palimpsest-Signature"] == f"sha256={expected}"
    with hook(seen=seen) as (webhook, _):
        outbox.add([MESSAGE], now=T0)
        outbox.deliver(webhook, now=T0)
    assert "X-Palimpsest-Signature" not in seen[-1][0]  # (no secret, no signature)


def test_a_hook_that_asks_for_time_gets_it(history: HistoryStore) -> None:
    outbox = Outbox(history)
    with hook(429, headers=(("Retry-After", "600"),)) as (webhook, _):
        outbox.add([MESSAGE], now=T0)
        assert outbox.deliver(webhook, now=T0) == 0
        (waiting,) = outbox.undelivered()
        assert waiting["next_attempt_at"] == (T0 + timedelta(minutes=10)).isoformat()


def test_waits_double_until_a_day_has_gone_then_the_message_is_given_up(
    history: HistoryStore,
) -> None:
    outbox = Outbox(history)
    with hook(*[429] * 60) as (webhook, received):
        outbox.add([MESSAGE], now=T0)
        when, waits = T0, []
        while True:
            outbox.deliver(webhook, now=when)
            (waiting,) = outbox.undelivered()
            if waiting["given_up"]:
                break
            after = datetime.fromisoformat(waiting["next_attempt_at"])
            waits.append(after - when)
            when = after
    minutes = [int(w.total_seconds() // 60) for w in waits]
    assert minutes[:8] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert T0 + timedelta(hours=23) < when <= T0 + timedelta(days=1)
    assert len(received) == outbox.undelivered()[0]["attempts"] == len(waits) + 1


def test_a_refused_message_is_given_up_at_once(history: HistoryStore) -> None:
    outbox = Outbox(history)
    with hook(400) as (webhook, received):
        outbox.add([MESSAGE], now=T0)
        assert outbox.deliver(webhook, now=T0) == 0
        assert outbox.deliver(webhook, now=T0 + timedelta(days=2)) == 0
        (refused,) = outbox.undelivered()
        assert refused["given_up"] and refused["last_error"] == "HTTP 400 Bad Request"
        assert len(received) == 1
        # once the hook is mended, the messages given up can be put back in line
        assert outbox.given_up(retry=True, now=T0 + timedelta(days=2)) == 1
        assert outbox.deliver(webhook, now=T0 + timedelta(days=2)) == 1
        assert len(received) == 2 and outbox.undelivered() == []
        outbox.add([MESSAGE], now=T0)
        outbox.deliver(f"http://127.0.0.1:{free_port()}/hook", now=T0 + timedelta(days=2))
        assert outbox.undelivered()[0]["given_up"]  # (not taken within a day)
        assert outbox.given_up(retry=False) == 1 and outbox.undelivered() == []


def test_while_the_hook_is_down_one_message_is_tried_not_each(history: HistoryStore) -> None:
    outbox = Outbox(history)
    outbox.add([MESSAGE, {**MESSAGE, "kind": "moved"}], now=T0)
    assert outbox.deliver(f"http://127.0.0.1:{free_port()}/hook", now=T0) == 0
    assert [m["attempts"] for m in outbox.undelivered()] == [1, 0]
    with hook() as (webhook, received):  # back: both, oldest first
        assert outbox.deliver(webhook, now=T0 + timedelta(minutes=1)) == 2
        assert [m["kind"] for m in received] == ["edit", "moved"]


def test_two_processes_delivering_at_once_send_each_message_once(
    history: HistoryStore, settings: Settings,
) -> None:
    Outbox(history).add([{**MESSAGE, "n": n} for n in range(4)], now=T0)
    with hook(delay=0.3) as (webhook, received), HistoryStore(settings.db_url) as other, \
            ThreadPoolExecutor(2) as pool:
        sent = list(pool.map(lambda h: Outbox(h).deliver(webhook, now=T0), [history, other]))
    assert sum(sent) == 4 and sorted(m["n"] for m in received) == [0, 1, 2, 3]


def test_the_webhooks_command_lists_and_the_sweep_delivers_what_waits(
    history: HistoryStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from palimpsest.cli import main
    from tasks.sweep import deliver_webhooks

    Outbox(history).add([MESSAGE])
    listed = CliRunner().invoke(main, ["webhooks", "--json"])
    (waiting,) = json.loads(listed.stdout)
    assert waiting["message"] == MESSAGE and waiting["attempts"] == 0
    refused = CliRunner().invoke(main, ["webhooks", "--deliver"])
    assert refused.exit_code == 2 and "PALIMPSEST_WEBHOOK_URL" in refused.output
    assert CliRunner().invoke(main, ["webhooks", "--retry", "--drop"]).exit_code == 2
    dropped = CliRunner().invoke(main, ["webhooks", "--drop"])  # (none is given up)
    assert dropped.exit_code == 0 and "dropped 0" in dropped.stderr
    assert deliver_webhooks.fn() == 0  # (no hook set: nothing to do)
    with hook() as (webhook, received), monkeypatch.context() as env:
        env.setenv("PALIMPSEST_WEBHOOK_URL", webhook)
        assert deliver_webhooks.fn() == 1 and received == [MESSAGE]
        Outbox(history).add([{**MESSAGE, "kind": "moved"}])
        delivered = CliRunner().invoke(main, ["webhooks", "--deliver"])
        assert delivered.exit_code == 0 and "delivered 1" in delivered.stderr
        assert delivered.stdout == "" and [m["kind"] for m in received] == ["edit", "moved"]


def test_the_hook_is_told_once_when_an_articles_captures_keep_failing(
    history: HistoryStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from palimpsest.watchlist import Watchlist
    from tasks.sweep import note_failures

    url = "https://news.example/2026/story"
    aid = Watchlist(history).add(url)
    with hook() as (webhook, received), monkeypatch.context() as env:
        env.setenv("PALIMPSEST_WEBHOOK_URL", webhook)
        env.setenv("PALIMPSEST_PUBLIC_URL", "https://archive.example")
        for n in range(1, 6):
            note_failures.fn({url: f"could not reach news.example (try {n})"})
            assert len(received) == (0 if n < 3 else 1)
    (alert,) = received
    assert (alert["kind"], alert["failures"], alert["article_id"]) == ("capture_failing", 3, aid)
    assert alert["link"] == f"https://archive.example/articles/{aid}"
    assert alert["text"] == (f"{url}: captures failing (3 in a row): "
                             "could not reach news.example (try 3)")
