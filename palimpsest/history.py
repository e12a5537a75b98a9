"""The history database: record snapshots, versions, edits and events; query them.

SQLite by default, PostgreSQL through ``PALIMPSEST_DB_URL``. Recording one
snapshot is one transaction: a crash leaves either nothing or the snapshot
with its version, edit and events. Versions store full fields; edits are
derived from consecutive versions and can be rebuilt.

What a snapshot does to an article's history (its ``outcome``):

- ``new``, ``changed``: a new version (with an edit from the current one);
- ``unchanged``: the current version was seen again;
- ``revert``: a new version equal to an earlier, non-current one (A, B, A);
- ``ab-flip``: the headline flipped back to one seen within hours: a likely
  A/B test, recorded once as an ``ab_test`` event, not as a stream of edits;
- ``unpublished`` (404, 410..., or a page that says the story is not there:
  a "page not found" served with 200, a takedown notice), ``wall`` (paywall,
  consent or bot check; 401 and 403, which refuse the reader), ``redirected``
  (to a different article): lifecycle events, no version;
- ``unavailable`` (5xx, 429, 408): the server could not answer then, which
  says nothing about the article: archived, no event, no version.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Text, cast, func, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from . import dedup
from .database import from_db_time, open_engine, to_db_time
from .diff import compare
from .errors import Forgotten, HistoryError
from .extract import EXTRACTOR_VERSION
from .identity import add_aliases, aliases, find_article, known_article, known_urls, same_story
from .models import Article, Capture, Outcome, SnapshotResult, StoredWarc
from .queries import site_filter
from .schedule import next_check, retry_after, retry_interval
from .schema import articles, edits, events, snapshots, versions
from .urls import normalize_url, url_id
from .warc import Original

log = logging.getLogger(__name__)

#: Characters of a failed check's error kept
MAX_ERROR = 1000
#: The status of an article whose archive was deleted (``forget.py``)
FORGOTTEN = "forgotten"

#: A headline that flips back to one last seen this recently is an A/B test.
AB_WINDOW = timedelta(hours=6)
#: Statuses below 500 that say the server could not answer then (a request
#: timeout, rate limiting), like a 5xx, not that the article went
UNAVAILABLE = (408, 429)
#: Statuses that keep the reader out (a login; a bot check: Cloudflare, Akamai
#: and DataDome answer 403), not a story taken down
REFUSED = (401, 403)


def content_hash(article: Article) -> str:
    """A hash of the article's normalised fields: equal hashes, same version."""
    data = json.dumps(article.fields(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


class HistoryStore:
    """Versions, edits and lifecycle events of every tracked article."""

    def __init__(self, db_url: str) -> None:
        self.engine = open_engine(db_url)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def originals(self, digests: Iterable[str]) -> dict[str, Original]:
        """Where each already archived payload among ``digests`` lives."""
        try:
            with self.engine.connect() as conn:
                return dedup.originals(conn, digests)
        except SQLAlchemyError as exc:
            raise HistoryError(f"could not read the payload index: {exc}") from exc

    def read_otherwise(self, capture: Capture, article: Article | None) -> str | None:
        """The article ``capture`` is of, if the version it shows now was read
        otherwise than ``article`` was (by an older extractor, or under
        another rule of the site's): compared with it, what the extractor
        learned since would pass for edits."""
        if article is None:
            return None
        try:
            with self.engine.connect() as conn:
                urls = known_urls(capture, article)
                aid = find_article(conn, urls[:1]) or find_article(conn, urls)
                current = _current_version(conn, aid) if aid is not None else None
        except SQLAlchemyError as exc:
            raise HistoryError(f"could not read the history of {capture.url}: {exc}") from exc
        stale = current is not None and current.extractor_version != article.extractor
        return aid if stale else None

    def record(
        self, capture: Capture, article: Article | None, warc: StoredWarc
    ) -> SnapshotResult:
        """Record a stored snapshot; a new version only if the article changed.

        ``article`` is None when the page was an error status. Recording the
        same WARC again returns the earlier result and changes nothing.
        """
        for attempt in range(3):
            try:
                with self.engine.begin() as conn:
                    recorder = Recorder(conn, capture, article, warc)
                    result = recorder.run()
                if recorder.hold is not None:
                    self._hold_site(capture.url, recorder.hold)
                return result
            except (IntegrityError, OperationalError) as exc:
                # Another worker recorded this article (or this WARC) at the
                # same moment, or PostgreSQL chose this transaction to end a
                # deadlock; the next attempt sees the other's rows.
                if attempt == 2 or not _again(exc):
                    raise HistoryError(f"could not record {capture.url}: {exc}") from exc
            except SQLAlchemyError as exc:
                raise HistoryError(f"could not record {capture.url}: {exc}") from exc
        raise AssertionError("unreachable")

    def _hold_site(self, url: str, until: datetime) -> None:
        """:func:`hold_site`, in a transaction of its own once the snapshot
        is recorded: one holding the article's lock while it waits for its
        neighbours' could deadlock with another doing the same. Best effort:
        the article's own wait is recorded already."""
        try:
            with self.engine.begin() as conn:
                hold_site(conn, url, until)
        except SQLAlchemyError as exc:
            log.warning("could not push back the checks of %s's site: %s", url, exc)

    def history(self, url: str) -> dict[str, Any]:
        """Versions, edits and events of the article at ``url`` (the JSON contract)."""
        data: dict[str, Any] = json.loads(self.history_json(url))
        return data

    def history_json(self, url: str) -> str:
        """:meth:`history` as JSON text, built without decoding the stored fields.

        An article with a thousand versions has megabytes of fields; splicing
        the stored JSON text into the answer instead of decoding and encoding
        it again makes the query several times faster.
        """
        try:
            with self.engine.connect() as conn:
                article = _article_row(conn, url)
                aid = article.id
                version_rows = conn.execute(
                    select(*_raw(versions, "fields")).where(versions.c.article_id == aid)
                    .order_by(versions.c.version)).all()
                edit_rows = conn.execute(
                    select(*_raw(edits, "changed_fields", "changes"))
                    .where(edits.c.article_id == aid).order_by(edits.c.to_version)).all()
                event_rows = conn.execute(
                    select(events).where(events.c.article_id == aid)
                    .order_by(events.c.at, events.c.id)).all()
                snapshot_count = conn.execute(
                    select(func.count()).where(snapshots.c.article_id == aid)).scalar()
                names = aliases(conn, aid)
        except SQLAlchemyError as exc:
            raise HistoryError(f"could not read the history of {url}: {exc}") from exc
        head = json.dumps({
            "url": article.url,
            "article_id": aid,
            "status": article.status,
            "aliases": names,
            "first_seen": from_db_time(article.first_seen),
            "last_checked": from_db_time(article.last_checked),
            "snapshots": snapshot_count,
            "failing": failing_of(article),
            "events": [{"kind": e.kind, "at": from_db_time(e.at), "snapshot_id": e.snapshot_id,
                        **e.detail} for e in event_rows],
        }, ensure_ascii=False)
        return (f'{head[:-1]}, "versions": [{", ".join(map(_version_text, version_rows))}], '
                f'"edits": [{", ".join(map(_edit_text, edit_rows))}]}}')

    def as_of(self, url: str, when: datetime) -> dict[str, Any]:
        """The article as it stood at ``when``: the version its last snapshot showed."""
        try:
            with self.engine.connect() as conn:
                article = _article_row(conn, url)
                last = conn.execute(
                    select(snapshots.c.fetched_at, snapshots.c.outcome, snapshots.c.http_status)
                    .where(snapshots.c.article_id == article.id,
                           snapshots.c.fetched_at <= to_db_time(when))
                    .order_by(snapshots.c.fetched_at.desc(), snapshots.c.id.desc())
                    .limit(1)).first()
                shown = _current_version(conn, article.id, before=when)
        except SQLAlchemyError as exc:
            raise HistoryError(f"could not read the history of {url}: {exc}") from exc
        if last is None:
            raise HistoryError(f"{url} had not been captured by {when.isoformat()}")
        return {
            "url": article.url,
            "as_of": when.isoformat(),
            "last_snapshot_at": from_db_time(last.fetched_at),
            "outcome": last.outcome,
            "http_status": last.http_status,
            "version": _version_json(shown) if shown is not None else None,
        }

    def snapshot_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(snapshots)).scalar() or 0)


class Recorder:
    """Records one snapshot inside one transaction."""

    def __init__(self, conn: Connection, capture: Capture, article: Article | None,
                 warc: StoredWarc) -> None:
        self.conn, self.capture, self.article, self.warc = conn, capture, article, warc
        self.when = to_db_time(capture.fetched_at)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.changed: tuple[str, ...] = ()
        #: until when the site asked for time, if it did (see :func:`hold_site`)
        self.hold: datetime | None = None

    def run(self) -> SnapshotResult:
        earlier = self.conn.execute(
            select(snapshots.c.id, snapshots.c.article_id, snapshots.c.outcome, versions.c.version)
            .outerjoin(versions, snapshots.c.version_id == versions.c.id)
            .where(snapshots.c.warc_key == self.warc.key)).first()
        if earlier:
            return SnapshotResult(self.capture.url, earlier.article_id, earlier.id,
                                  earlier.outcome, earlier.version, self.warc.key)
        urls = known_urls(self.capture, self.article)
        aid = find_article(self.conn, urls[:1]) or find_article(self.conn, urls)
        row = self._article(aid, urls[0])
        if row.status == FORGOTTEN:
            raise Forgotten(row.url)
        self.aid, self.status = row.id, row.status
        self.current = _current_version(self.conn, self.aid)
        outcome, version = self._decide(urls)
        snapshot_id = self._insert_snapshot(outcome, version)
        for kind, detail in self.events:
            self.conn.execute(events.insert().values(
                article_id=self.aid, snapshot_id=snapshot_id, at=self.when, kind=kind,
                detail=detail))
        self.conn.execute(articles.update().where(articles.c.id == self.aid).values(
            last_checked=self.when, status=self.status, **self._watch(row, outcome, version)))
        return SnapshotResult(self.capture.url, self.aid, snapshot_id, outcome,
                              version.version if version is not None else None, self.warc.key,
                              self.changed)

    def _watch(self, row: Row[Any], outcome: Outcome, version: Row[Any] | None,
               ) -> dict[str, Any]:
        """The article's failures and next check after this snapshot. A
        server that could not answer (``unavailable``) is a failed check, like
        a failed capture; any other answer clears the failures."""
        if outcome == "unavailable":
            return self._unanswered(row)
        values: dict[str, Any] = {"failures": 0, "last_error": None, "failing_since": None}
        if row.watched:
            shown = version if version is not None else self.current
            values["next_check_at"] = next_check(
                now=self.when, first_seen=row.first_seen, priority=row.priority,
                last_changed=shown.captured_at if shown is not None else None)
        return values

    def _unanswered(self, row: Row[Any]) -> dict[str, Any]:
        """A failed check, waiting at least as long as the server asked (its
        ``Retry-After``); a site that asks for time (429, or any
        ``Retry-After``) is given as long for all its watched articles."""
        status = self.capture.status
        try:
            said = self.capture.page.header("Retry-After")
        except LookupError:  # (no exchange recorded)
            said = None
        asked = retry_after(said, self.capture.fetched_at)
        values = failed_check(row, f"the server answered HTTP {status}", self.when, asked=asked)
        if status == 429 or asked:
            self.hold = self.when + retry_interval(values["failures"], asked=asked)
        return values

    def _article(self, aid: str | None, url: str) -> Row[Any]:
        if aid is None:
            aid = url_id(self.capture.url)
            self.conn.execute(articles.insert().values(
                id=aid, url=url, status="new", first_seen=self.when, last_checked=self.when))
            add_aliases(self.conn, aid, [url], self.when)
        return locked_article(self.conn, aid)

    def _decide(self, urls: list[str]) -> tuple[Outcome, Row[Any] | None]:
        capture, article = self.capture, self.article
        if capture.status >= 500 or capture.status in UNAVAILABLE:
            return "unavailable", None  # (an overloaded site is not an unpublished story)
        if capture.status in REFUSED:
            return self._walled({"http_status": capture.status})
        if capture.status >= 400 or article is None:
            return self._unpublished({"http_status": capture.status})
        if article.wall:
            return self._walled({"headline": article.headline})
        if article.gone:  # (a "page not found" served with 200, a takedown notice)
            return self._unpublished({"http_status": capture.status, "notice": article.gone})
        final = normalize_url(capture.final_url)
        if final != urls[0] and not self._follow_redirect(final):
            return "redirected", None
        add_aliases(self.conn, self.aid, urls, self.when)
        if self.status in ("gone", "redirected"):
            self.events.append(("republished", {"http_status": capture.status}))
        self.status = "live"
        return self._version(article)

    def _unpublished(self, event: dict[str, Any]) -> tuple[Outcome, None]:
        """The story is not there (any more): said when it goes, no version."""
        if self.status == "live":
            self.events.append(("unpublished", event))
        self.status = "gone"
        return "unpublished", None

    def _walled(self, event: dict[str, Any]) -> tuple[Outcome, None]:
        """The reader was kept out (a paywall, a login, a consent or bot
        check): said once, however long it lasts; no version."""
        if self._last_outcome() != "wall":
            self.events.append(("wall", event))
        return "wall", None

    def _follow_redirect(self, final: str) -> bool:
        """Whether a redirect leads to this same article (then it is an alias)."""
        owner = find_article(self.conn, [final])
        if owner == self.aid:
            return True
        assert self.article is not None
        if owner is None and (self.current is None or same_story(self.article,
                                                                  self.current.fields)):
            if self.current is not None:
                self.events.append(("moved", {"from": self.capture.url,
                                              "to": self.capture.final_url}))
            return True
        if self._last_outcome() != "redirected":
            self.events.append(("redirected", {"to": self.capture.final_url}))
        self.status = "redirected"
        return False

    def _last_outcome(self) -> str | None:
        return self.conn.execute(
            select(snapshots.c.outcome).where(snapshots.c.article_id == self.aid)
            .order_by(snapshots.c.fetched_at.desc(), snapshots.c.id.desc()).limit(1)).scalar()

    def _version(self, article: Article) -> tuple[Outcome, Row[Any]]:
        digest = content_hash(article)
        current = self.current
        if current is not None and current.content_hash == digest:
            self._seen(current)
            return "unchanged", current
        earlier = self.conn.execute(
            select(versions).where(versions.c.article_id == self.aid,
                                   versions.c.content_hash == digest)
            .order_by(versions.c.version.desc()).limit(1)).first()
        if earlier is not None and current is not None and self._ab_flip(current, earlier):
            self._seen(earlier)
            return "ab-flip", earlier
        version = self._add_version(article, digest, reverts_to=earlier)
        if current is None:
            return "new", version
        return ("revert" if earlier is not None else "changed"), version

    def _ab_flip(self, current: Row[Any], earlier: Row[Any]) -> bool:
        """Only the headline differs, and the other one was live hours ago."""
        a, b = dict(current.fields), dict(earlier.fields)
        if a.pop("headline", None) == b.pop("headline", None) or a != b:
            return False
        if self.when - earlier.last_seen > AB_WINDOW:
            return False
        pair = sorted([current.version, earlier.version])
        known = self.conn.execute(select(events.c.detail).where(
            events.c.article_id == self.aid, events.c.kind == "ab_test")).scalars()
        if all(detail.get("versions") != pair for detail in known):
            self.events.append(("ab_test", {
                "versions": pair,
                "headlines": [current.fields["headline"], earlier.fields["headline"]]}))
        return True

    def _seen(self, version: Row[Any]) -> None:
        self.conn.execute(versions.update()
                          .where(versions.c.id == version.id, versions.c.last_seen < self.when)
                          .values(last_seen=self.when))

    def _add_version(self, article: Article, digest: str,
                     reverts_to: Row[Any] | None) -> Row[Any]:
        current = self.current
        number = self.conn.execute(select(func.coalesce(func.max(versions.c.version), 0))
                                   .where(versions.c.article_id == self.aid)).scalar_one() + 1
        new_id = self.conn.execute(versions.insert().values(
            article_id=self.aid, version=number, fields=article.fields(), content_hash=digest,
            captured_at=self.when, last_seen=self.when,
            extractor_version=article.extractor or EXTRACTOR_VERSION,
            reverts_to=reverts_to.version if reverts_to is not None else None,
        )).inserted_primary_key[0]  # type: ignore[index]
        if current is not None:
            edit = compare(Article.from_fields(current.fields), article)
            if edit is not None:
                self.changed = edit.changed_fields
                changes = edit.as_dict()
                del changes["changed_fields"]  # a column of its own
                if reverts_to is not None:
                    changes["flags"].append("revert")
                    changes["reverts_to"] = reverts_to.version
                self.conn.execute(edits.insert().values(
                    article_id=self.aid, from_version=current.version, to_version=number,
                    changed_fields=list(edit.changed_fields), changes=changes,
                    delta=edit.delta, words_added=edit.words_added,
                    words_removed=edit.words_removed, created_at=self.when,
                ))
        return self.conn.execute(select(versions).where(versions.c.id == new_id)).one()

    def _insert_snapshot(self, outcome: Outcome, version: Row[Any] | None) -> int:
        capture, warc = self.capture, self.warc
        dedup.remember(self.conn, warc.payloads)
        dedup.referred(self.conn, warc.key, warc.revisits)
        return int(self.conn.execute(snapshots.insert().values(
            article_id=self.aid, fetched_at=self.when, requested_url=capture.url,
            final_url=capture.final_url, http_status=capture.status, settled=capture.settled,
            warc_key=warc.key, warc_size=warc.size, warc_sha256=warc.sha256,
            records={k: list(v) for k, v in warc.records.items()},
            version_id=version.id if version is not None else None, outcome=outcome,
            revisits_indexed=True,
        )).inserted_primary_key[0])  # type: ignore[index]


def _article_row(conn: Connection, url: str) -> Row[Any]:
    aid = known_article(conn, url) or url_id(url)
    row = conn.execute(select(articles).where(articles.c.id == aid)).first()
    if row is None:
        raise HistoryError(f"{url} is not tracked: no snapshot has been recorded")
    return row


def _current_version(conn: Connection, aid: str, *, before: datetime | None = None
                     ) -> Row[Any] | None:
    """The version the article's latest snapshot showed (optionally, before a time)."""
    query = (select(versions).join(snapshots, snapshots.c.version_id == versions.c.id)
             .where(snapshots.c.article_id == aid))
    if before is not None:
        query = query.where(snapshots.c.fetched_at <= to_db_time(before))
    return conn.execute(query.order_by(snapshots.c.fetched_at.desc(), snapshots.c.id.desc())
                        .limit(1)).first()


def _raw(table: Any, *names: str) -> list[Any]:
    """The table's columns, with the named JSON columns read as their stored text."""
    # A cast in SQL: PostgreSQL drivers would otherwise decode json columns.
    return [cast(c, Text).label(c.name) if c.name in names else c for c in table.c]


def _version_json(v: Row[Any]) -> dict[str, Any]:
    return {
        "version": v.version,
        "captured_at": from_db_time(v.captured_at),
        "last_seen": from_db_time(v.last_seen),
        "extractor_version": v.extractor_version,
        "reverts_to": v.reverts_to,
        "fields": v.fields,
    }


def _version_text(v: Row[Any]) -> str:
    head = json.dumps({key: value for key, value in _version_json(v).items() if key != "fields"})
    return f'{head[:-1]}, "fields": {v.fields}}}'


def _edit_text(e: Row[Any]) -> str:
    head = json.dumps({
        "from_version": e.from_version,
        "to_version": e.to_version,
        "captured_at": from_db_time(e.created_at),
    })
    changes = e.changes.strip()[1:-1].strip()
    return (f'{head[:-1]}, "changed_fields": {e.changed_fields}'
            f'{", " + changes if changes else ""}, "delta": {e.delta}}}')


def failing_of(article: Any) -> dict[str, Any] | None:
    """The failed checks in a row of an ``articles`` row, if its last failed."""
    if not article.failures:
        return None
    return {"failures": article.failures, "since": from_db_time(article.failing_since),
            "error": article.last_error}


def _again(exc: IntegrityError | OperationalError) -> bool:
    """Whether a transaction that failed so may succeed when run again: a
    unique row another worker added meanwhile, a deadlock victim, a
    serialization failure."""
    return isinstance(exc, IntegrityError) or \
        getattr(exc.orig, "sqlstate", None) in ("40P01", "40001")


def locked_article(conn: Connection, aid: str) -> Row[Any]:
    """The ``articles`` row of ``aid``, locked until the transaction ends.

    Two workers deciding from the same row (how many failures in a row,
    whether the story has just gone) take turns instead of one overwriting the
    other. A write that changes nothing takes the lock before the row is read,
    in both databases: PostgreSQL locks the row, SQLite the whole database
    (pysqlite begins its transaction at the first write, not at a read)."""
    conn.execute(articles.update().where(articles.c.id == aid).values(id=articles.c.id))
    return conn.execute(select(articles).where(articles.c.id == aid)).one()


def failed_check(article: Any, error: str, when: datetime, *,
                 asked: timedelta = timedelta(0)) -> dict[str, Any]:
    """The columns of an ``articles`` row whose check failed with ``error`` at
    ``when``: one failure more in a row, and (if watched) its next check
    pushed back twice as far as after the last, and at least as far as the
    server ``asked``."""
    failures = article.failures + 1
    values: dict[str, Any] = {"failures": failures, "last_error": error[:MAX_ERROR],
                              "failing_since": article.failing_since or when}
    if article.watched:
        values["next_check_at"] = when + retry_interval(failures, asked=asked)
    return values


def hold_site(conn: Connection, url: str, until: datetime) -> None:
    """Push the next check of every watched article on ``url``'s site back
    to ``until``: a site that asks for time (429 Too Many Requests, a
    ``Retry-After``) is given it for all its articles, not only the one it
    answered."""
    # (locked in one order, the id's: two holds at once wait for each other
    # instead of each holding rows the other wants)
    ids = conn.execute(select(articles.c.id).where(
        articles.c.watched, articles.c.next_check_at < until,
        site_filter(articles.c.url, urlsplit(url).hostname),
    ).order_by(articles.c.id).with_for_update()).scalars().all()
    conn.execute(articles.update().where(articles.c.id.in_(ids), articles.c.next_check_at < until)
                 .values(next_check_at=until))
