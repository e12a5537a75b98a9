"""Webhooks: a POST for each edit and each event, as it is recorded.

``PALIMPSEST_WEBHOOK_URL`` receives one JSON object a message: what happened
(``kind``: ``edit``, or the event's: ``unpublished``, ``republished``,
``moved``...), the article, and a ``text`` (``content`` too) that chat tools
(Slack, Mattermost, Discord) show as it is. Links point at the web UI when
``PALIMPSEST_PUBLIC_URL`` says where it is served.

Delivery is at least once: each message is kept in the history database
(``deliveries``) until the hook takes it. One it could not take then (no
answer, 429, 5xx) is asked again a minute later, twice as long after each
try (up to an hour), by the next snapshot that has news or the next sweep;
one it refused (another 4xx), or had not taken within a day, is given up,
logged and listed (``palimpsest webhooks``). A failing hook never fails a
snapshot, and holds it up for one timeout at most: while it is down, the
messages wait their turn instead of each being tried.

Each POST says which delivery it is (``X-Palimpsest-Delivery``, the same on
every try: a hook can drop one it took before) and, with
``PALIMPSEST_WEBHOOK_SECRET`` set, signs its body (``X-Palimpsest-Signature:
sha256=`` and the HMAC-SHA256 of the body, as GitHub's webhooks do).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from . import lifecycle, queries
from .database import from_db_time, to_db_time, translated
from .errors import HistoryError
from .feeds_atom import article_page, edit_page
from .history import HistoryStore, failing_of
from .models import SnapshotResult
from .schedule import backoff, retry_after
from .schema import articles, deliveries

log = logging.getLogger(__name__)
#: Seconds a hook has to answer
TIMEOUT = 10
#: The wait before asking again, doubled after each failed try, up to the last
FIRST_RETRY, LAST_RETRY = timedelta(minutes=1), timedelta(hours=1)
#: A message the hook has not taken by then is given up
GIVE_UP_AFTER = timedelta(days=1)
#: Messages sent in one go at most
BATCH = 100
#: Failed captures in a row of a watched article after which the hook is told
#: (once: its watch is broken, not the story)
FAILING_ALERT = 3
#: Outcomes that record an edit
EDITED = ("changed", "revert")


def notify(result: SnapshotResult, history: HistoryStore, *, webhook: str,
           public_url: str | None = None, only: frozenset[str] | None = None,
           secret: str | None = None) -> int:
    """Keep what ``result`` recorded as messages for ``webhook`` (``only``:
    those :func:`wanted`) and deliver them (after any older ones whose time
    has come; signed with ``secret``); how many were delivered."""
    try:
        return tell(history, messages(result, history, public_url), webhook=webhook, only=only,
                    secret=secret)
    except HistoryError as exc:  # (recorded all the same: the hook is told nothing)
        log.warning("webhook: the messages of %s could not be kept: %s", result.url, exc)
        return 0


def tell(history: HistoryStore, found: list[dict[str, Any]], *, webhook: str,
         only: frozenset[str] | None = None, secret: str | None = None) -> int:
    """Keep the messages of ``found`` the hook wants and deliver them (after
    any older ones whose time has come); how many it took."""
    outbox = Outbox(history)
    outbox.add([message for message in found if wanted(message, only)])
    return outbox.deliver(webhook, secret=secret)


def wanted(message: dict[str, Any], only: frozenset[str] | None) -> bool:
    """Whether the hook is told ``message``, given the fields and kinds it
    asked for (``PALIMPSEST_WEBHOOK_ONLY``): an edit that changed one of
    them, a message of one of those kinds; everything when it asked for all."""
    if only is None:
        return True
    if message["kind"] == "edit":
        return not only.isdisjoint(message["changed_fields"])
    return message["kind"] in only


class Outbox:
    """The webhook's messages not yet delivered, kept in the history database."""

    def __init__(self, history: HistoryStore) -> None:
        self.engine = history.engine

    def add(self, found: list[dict[str, Any]], *, now: datetime | None = None) -> None:
        """Keep ``found``, to be delivered from ``now`` on."""
        when = to_db_time(now or datetime.now(UTC))
        if found:
            with translated("keep the webhook's messages"), self.engine.begin() as conn:
                conn.execute(deliveries.insert(), [
                    {"created_at": when, "message": message, "attempts": 0,
                     "next_attempt_at": when, "failed": False} for message in found])

    def deliver(self, webhook: str, *, secret: str | None = None,
                now: datetime | None = None) -> int:
        """POST the messages whose time has come, oldest first, until the hook
        cannot take one (it is down: the rest wait their turn); how many it
        took. Each carries its delivery's id (the same on every try: the hook
        can tell a message sent again), signed with ``secret`` if one is set."""
        when = to_db_time(now or datetime.now(UTC))
        with translated("read the webhook's messages"), self.engine.connect() as conn:
            due = conn.execute(select(deliveries).where(
                ~deliveries.c.failed, deliveries.c.next_attempt_at <= when,
            ).order_by(deliveries.c.id).limit(BATCH)).all()
        delivered = 0
        for row in due:
            if not self._claim(row, when):
                continue  # (another process is sending it)
            error, again, asked = _post(webhook, row.message, row.id, secret)
            with translated("note the webhook's answer"), self.engine.begin() as conn:
                mine = deliveries.c.id == row.id
                if error is None:
                    conn.execute(deliveries.delete().where(mine))
                    delivered += 1
                    continue
                conn.execute(deliveries.update().where(mine).values(
                    **_failed_try(row, error, again, when, asked)))
            if again:
                break
        return delivered

    def undelivered(self) -> list[dict[str, Any]]:
        """The messages waiting for the hook, and those given up, oldest first."""
        with translated("read the webhook's messages"), self.engine.connect() as conn:
            rows = conn.execute(select(deliveries).order_by(deliveries.c.id)).all()
        return [{"id": r.id, "created_at": from_db_time(r.created_at), "attempts": r.attempts,
                 "next_attempt_at": None if r.failed else from_db_time(r.next_attempt_at),
                 "given_up": r.failed, "last_error": r.last_error, "message": r.message}
                for r in rows]

    def given_up(self, *, retry: bool, now: datetime | None = None) -> int:
        """Put the messages given up back in line, due at once and with a day
        more to be taken (``retry``: once the hook is mended), or delete
        them; how many."""
        when = to_db_time(now or datetime.now(UTC))
        mine = deliveries.c.failed
        with translated("change the webhook's messages"), self.engine.begin() as conn:
            change = (deliveries.update().where(mine).values(
                failed=False, attempts=0, created_at=when, next_attempt_at=when)
                if retry else deliveries.delete().where(mine))
            return int(conn.execute(change).rowcount)

    def _claim(self, row: Any, when: datetime) -> bool:
        """Whether this process may send ``row``: it moves its next try past the
        time a try takes, unless another process did so first."""
        with translated("claim a webhook message"), self.engine.begin() as conn:
            return bool(conn.execute(deliveries.update().where(
                deliveries.c.id == row.id, deliveries.c.next_attempt_at == row.next_attempt_at,
            ).values(next_attempt_at=when + timedelta(seconds=3 * TIMEOUT))).rowcount)


def _failed_try(row: Any, error: str, again: bool, when: datetime,
                asked: timedelta) -> dict[str, Any]:
    """The columns of a message after a try the hook did not take (and
    asked to wait for, with a ``Retry-After``)."""
    attempts = row.attempts + 1
    wait = max(backoff(attempts, FIRST_RETRY, LAST_RETRY), asked)
    given_up = not again or when + wait - row.created_at > GIVE_UP_AFTER
    log.warning("webhook failed (try %d) for %s: %s%s", attempts, row.message.get("url"), error,
                "; given up" if given_up else f"; asked again in {wait}")
    return {"attempts": attempts, "last_error": error[:1000], "failed": given_up,
            "next_attempt_at": when + wait}


def _post(webhook: str, message: dict[str, Any], delivery: int,
          secret: str | None) -> tuple[str | None, bool, timedelta]:
    """Deliver one message: None if the hook took it, else what went wrong,
    whether asking again later may help (no answer, 429, 5xx: it could not
    take it then; any other 4xx refused it), and how long it asked to wait."""
    body = json.dumps(message).encode()
    headers = {"Content-Type": "application/json", "X-Palimpsest-Delivery": str(delivery)}
    if secret:
        headers["X-Palimpsest-Signature"] = signature(secret, body)
    request = urllib.request.Request(webhook, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT):
            return None, False, timedelta(0)
    except urllib.error.HTTPError as exc:
        asked = retry_after(exc.headers.get("Retry-After"), datetime.now(UTC))
        return (f"HTTP {exc.code} {exc.reason}", exc.code >= 500 or exc.code in (408, 429),
                asked)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return str(getattr(exc, "reason", None) or exc), True, timedelta(0)


def signature(secret: str, body: bytes) -> str:
    """What ``X-Palimpsest-Signature`` says of a message's ``body``: its
    HMAC-SHA256 under ``secret``, which the hook computes again to know that
    the message is Palimpsest's, unaltered."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def messages(result: SnapshotResult, history: HistoryStore,
             public_url: str | None) -> list[dict[str, Any]]:
    """The edit and the events ``result`` recorded, each as a message; and
    whether the article's checks have now failed ``FAILING_ALERT`` times in a
    row (its server could not answer)."""
    base = (public_url or "").rstrip("/")
    found = []
    if result.outcome in EDITED:
        (edit,) = queries.recent_edits(history.engine, article_id=result.article_id, limit=1)
        found.append(_edit_message(edit, base))
    events = queries.recent_events(history.engine, article_id=result.article_id, limit=10)
    found += [_event_message(e, base) for e in events if e["snapshot_id"] == result.snapshot_id]
    if result.outcome == "unavailable":
        (article,) = queries.fetch_all(history.engine, select(articles).where(
            articles.c.id == result.article_id))
        failing = failing_of(article) or {}
        if failing.get("failures") == FAILING_ALERT:
            found.append(failing_message(result.url, result.article_id, FAILING_ALERT,
                                         failing["error"], public_url))
    return found


def _edit_message(edit: dict[str, Any], base: str) -> dict[str, Any]:
    text = (f"{edit['headline']}: {', '.join(edit['changed_fields'])} changed "
            f"(v{edit['from_version']} → v{edit['to_version']}, +{edit['words_added']}"
            f"/-{edit['words_removed']} words) {edit['url']}")
    link = edit_page(base, edit) if base else None
    return {"kind": "edit", **edit, "link": link, "text": text, "content": text}


def _event_message(event: dict[str, Any], base: str) -> dict[str, Any]:
    said = lifecycle.describe(event["kind"], event["detail"])
    text = f"{event['headline'] or event['url']}: {said} {event['url']}"
    link = article_page(base, event["article_id"]) if base else None
    return {**event, "link": link, "text": text, "content": text}


def failing_message(url: str, article_id: str, failures: int, error: str,
                    public_url: str | None) -> dict[str, Any]:
    """A message saying the captures of a watched article keep failing."""
    base = (public_url or "").rstrip("/")
    text = f"{url}: captures failing ({failures} in a row): {error}"
    return {"kind": "capture_failing", "url": url, "article_id": article_id,
            "failures": failures, "error": error,
            "link": article_page(base, article_id) if base else None,
            "text": text, "content": text}
