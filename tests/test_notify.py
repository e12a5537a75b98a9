"""Webhooks: each edit and each event is POSTed as it is recorded, to a real
HTTP server on loopback; a hook that fails does not fail the snapshot."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from palimpsest.capture import Browser
from palimpsest.config import Settings
from palimpsest.demo_site import NewsSite
from palimpsest.errors import ConfigError
from palimpsest.history import HistoryStore
from palimpsest.pipeline import snapshot
from palimpsest.storage import open_store

from .s3server import free_port

SLUG = "museum-returns-bronzes"


@contextmanager
def hook(*answers: int) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook on loopback: its URL, and the messages it received. It
    answers ``answers`` in turn (then 204)."""
    received: list[dict[str, Any]] = []
    statuses = list(answers)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(statuses.pop(0) if statuses else 204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()


@pytest.fixture(autouse=True)
def no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("palimpsest.notify.RETRY_AFTER", 0.0)


@pytest.mark.browser
def test_each_edit_and_event_is_posted_and_a_failing_hook_fails_nothing(
    site: NewsSite, settings: Settings, browser: Browser, caplog: pytest.LogCaptureFixture,
) -> None:
    url = site.url(SLUG)
    with HistoryStore(settings.db_url) as history, hook() as (webhook, received):
        def take(settings: Settings) -> str:
            return snapshot(url, settings=settings, browser=browser, history=history,
                            store=open_store(settings.storage_url)).outcome

        hooked = settings.with_(webhook_url=webhook, public_url="https://archive.example/")
        assert take(hooked) == "new" and received == []  # (a first version is no edit)
        site.edit(SLUG, headline="Museum to return 36 looted bronzes")
        assert take(hooked) == "changed"
        (edit,) = received
        assert (edit["kind"], edit["changed_fields"], edit["url"]) == ("edit", ["headline"], url)
        assert edit["link"] == (f"https://archive.example/articles/{edit['article_id']}"
                                "/diff?from_version=1&to_version=2")
        assert edit["text"] == edit["content"]
        assert edit["text"].startswith("Museum to return 36 looted bronzes: headline changed")
        site.edit(SLUG, not_found=True)
        assert take(hooked) == "unpublished"
        gone = received[1]
        assert (gone["kind"], gone["detail"]["notice"]) == \
            ("unpublished", "Sorry, we couldn't find that page")
        assert "unpublished" in gone["text"] and len(received) == 2
        site.edit(SLUG, not_found=False)
        down = settings.with_(webhook_url=f"http://127.0.0.1:{free_port()}/hook")
        with caplog.at_level(logging.WARNING, logger="palimpsest.notify"):
            assert take(down) == "unchanged"  # (and back online: an event, whose hook fails)
        assert "webhook" in caplog.text and "failed" in caplog.text
        assert [e["kind"] for e in history.history(url)["events"]] == \
            ["unpublished", "republished"]


def test_a_webhook_must_be_a_web_address() -> None:
    with pytest.raises(ConfigError, match="PALIMPSEST_WEBHOOK_URL must be an http"):
        Settings.from_env({"PALIMPSEST_WEBHOOK_URL": "file:///etc/passwd"})


@pytest.mark.browser
@pytest.mark.parametrize(("answers", "posts", "delivered"), [
    ((503,), 2, 1),  # (busy then: asked again, and it took it)
    ((429, 502), 2, 0),  # (busy twice: given up, logged)
    ((400,), 1, 0),  # (refused: not asked again)
])
def test_a_hook_that_cannot_take_a_message_then_is_asked_once_more(
    site: NewsSite, settings: Settings, browser: Browser,
    answers: tuple[int, ...], posts: int, delivered: int,
) -> None:
    from palimpsest.notify import notify

    with HistoryStore(settings.db_url) as history, hook(*answers) as (webhook, received):
        snapshot(site.url(SLUG), settings=settings, browser=browser, history=history,
                 store=open_store(settings.storage_url))
        site.edit(SLUG, headline="Museum to return 36 looted bronzes")
        result = snapshot(site.url(SLUG), settings=settings, browser=browser, history=history,
                          store=open_store(settings.storage_url))
        assert notify(result, history, webhook=webhook) == delivered
        assert len(received) == posts and all(m["kind"] == "edit" for m in received)

