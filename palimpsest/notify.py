"""Webhooks: a POST for each edit and each event, as it is recorded.

``PALIMPSEST_WEBHOOK_URL`` receives one JSON object a message: what happened
(``kind``: ``edit``, or the event's: ``unpublished``, ``republished``,
``moved``...), the article, and a ``text`` (``content`` too) that chat tools
(Slack, Mattermost, Discord) show as it is. Links point at the web UI when
``PALIMPSEST_PUBLIC_URL`` says where it is served. Delivery is best effort: a
hook that cannot take a message then is asked once more; one that still
fails is logged, never fails the snapshot (the Atom feeds and the history
hold everything).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any

from . import queries
from .errors import HistoryError
from .feeds_atom import article_page, edit_page
from .history import HistoryStore
from .models import SnapshotResult

log = logging.getLogger(__name__)
#: Seconds a hook has to answer
TIMEOUT = 10
#: Seconds before the one retry of a hook that could not take a message then
#: (no answer, 429, 5xx); one that refused it (another 4xx) is not asked again
RETRY_AFTER = 2.0
#: Outcomes that record an edit
EDITED = ("changed", "revert")


def notify(result: SnapshotResult, history: HistoryStore, *, webhook: str,
           public_url: str | None = None) -> int:
    """POST what ``result`` recorded to ``webhook``; how many were delivered."""
    try:
        found = messages(result, history, public_url)
    except HistoryError as exc:  # (recorded all the same: the hook is told nothing)
        log.warning("webhook: what was recorded of %s could not be read back: %s",
                    result.url, exc)
        return 0
    return sum(_post(webhook, message) for message in found)


def _post(webhook: str, message: dict[str, Any]) -> bool:
    """Deliver one message (retried once if the hook could not take it then)."""
    data = json.dumps(message).encode()
    for attempt in (1, 2):
        request = urllib.request.Request(webhook, data=data,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT):
                return True
        except (urllib.error.URLError, OSError, ValueError) as exc:
            refused = isinstance(exc, urllib.error.HTTPError) and exc.code < 500 \
                and exc.code != 429
            log.warning("webhook %s failed (attempt %d) for %s: %s", webhook, attempt,
                        message["url"], exc)
            if refused or attempt == 2:
                return False
            time.sleep(RETRY_AFTER)
    return False


def messages(result: SnapshotResult, history: HistoryStore,
             public_url: str | None) -> list[dict[str, Any]]:
    """The edit and the events ``result`` recorded, each as a message."""
    base = (public_url or "").rstrip("/")
    found = []
    if result.outcome in EDITED:
        (edit,) = queries.recent_edits(history.engine, article_id=result.article_id, limit=1)
        found.append(_edit_message(edit, base))
    events = queries.recent_events(history.engine, article_id=result.article_id, limit=10)
    found += [_event_message(e, base) for e in events if e["snapshot_id"] == result.snapshot_id]
    return found


def _edit_message(edit: dict[str, Any], base: str) -> dict[str, Any]:
    text = (f"{edit['headline']}: {', '.join(edit['changed_fields'])} changed "
            f"(v{edit['from_version']} → v{edit['to_version']}, +{edit['words_added']}"
            f"/-{edit['words_removed']} words) {edit['url']}")
    link = edit_page(base, edit) if base else None
    return {"kind": "edit", **edit, "link": link, "text": text, "content": text}


def _event_message(event: dict[str, Any], base: str) -> dict[str, Any]:
    said = "".join(f"; {key}: {value}" for key, value in event["detail"].items())
    text = f"{event['headline'] or event['url']}: {event['kind']}{said} {event['url']}"
    link = article_page(base, event["article_id"]) if base else None
    return {**event, "link": link, "text": text, "content": text}
