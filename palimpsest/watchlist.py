"""The watchlist: which articles are re-captured, when, and the feeds that
feed it. Lives in the history database beside the articles."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from .database import from_db_time, to_db_time, translated
from .errors import Forgotten
from .history import FORGOTTEN, HistoryStore, failed_check, failing_of, locked_article
from .identity import add_aliases, find_article, known_article
from .schema import articles, feeds, versions
from .urls import check_url, normalize_url, url_id


def _now() -> datetime:
    return datetime.now(UTC)


class Watchlist:
    """Articles to re-capture and feeds to discover them in."""

    def __init__(self, history: HistoryStore) -> None:
        self.engine = history.engine

    def add(self, url: str, *, priority: int = 0, now: datetime | None = None) -> str:
        """Watch the article at ``url`` (due at once); return its article id."""
        url = check_url(url, allow_private=True)  # addresses are checked at capture time
        when = to_db_time(now or _now())
        with translated("add to the watchlist"), self.engine.begin() as conn:
            aid, _ = self._article(conn, url, when)
            if conn.execute(select(articles.c.status).where(articles.c.id == aid)).scalar() \
                    == FORGOTTEN:
                raise Forgotten(url)
            conn.execute(articles.update().where(articles.c.id == aid).values(
                watched=True, priority=priority,
                next_check_at=func.coalesce(articles.c.next_check_at, when)))
        return aid

    def remove(self, url: str) -> bool:
        """Stop watching ``url``; its history stays. False if it was not watched."""
        with translated("remove from the watchlist"), self.engine.begin() as conn:
            aid = known_article(conn, url)
            if aid is None:
                return False
            done = conn.execute(articles.update().where(articles.c.id == aid, articles.c.watched)
                                .values(watched=False, next_check_at=None)).rowcount
        return bool(done)

    def entries(self, *, failing: bool = False, limit: int | None = None,
                offset: int = 0) -> list[dict[str, Any]]:
        """Every watched article with its schedule, soonest due first; or only
        those whose last capture failed."""
        count = (select(func.count()).where(versions.c.article_id == articles.c.id)
                 .scalar_subquery())
        query = select(articles, count.label("versions")).where(articles.c.watched)
        if failing:
            query = query.where(articles.c.failures > 0)
        with translated("read the watchlist"), self.engine.connect() as conn:
            rows = conn.execute(query.order_by(articles.c.next_check_at, articles.c.url)
                                .limit(limit).offset(offset)).all()
        return [{"url": r.url, "article_id": r.id, "status": r.status, "priority": r.priority,
                 "versions": r.versions, "last_checked": from_db_time(r.last_checked),
                 "next_check_at": from_db_time(r.next_check_at), "failing": failing_of(r)}
                for r in rows]

    def due(self, *, now: datetime | None = None, limit: int = 1000) -> list[str]:
        """URLs of watched articles whose next check is due, most overdue first."""
        when = to_db_time(now or _now())
        with translated("read the watchlist"), self.engine.connect() as conn:
            return list(conn.execute(
                select(articles.c.url).where(articles.c.watched, articles.c.next_check_at <= when)
                .order_by(articles.c.next_check_at).limit(limit)).scalars())

    def is_due(self, url: str, *, now: datetime | None = None) -> bool:
        """Whether ``url`` is watched and due. A sweep asks again just before
        it captures: a sweep that overlaps it (the schedule's next, while this
        one runs on) may have captured it meanwhile, or a reader unwatched it."""
        when = to_db_time(now or _now())
        with translated("read the watchlist"), self.engine.connect() as conn:
            aid = known_article(conn, url)
            return aid is not None and conn.execute(select(articles.c.id).where(
                articles.c.id == aid, articles.c.watched, articles.c.next_check_at <= when,
            )).first() is not None

    def failed(self, url: str, error: str, *,
               now: datetime | None = None) -> tuple[str, int] | None:
        """Note that capturing ``url`` failed with ``error``, and push its next
        check back, twice as far after each failure in a row; the article's id
        and how many failures in a row that makes (None: no article is known
        by ``url``). The next capture that succeeds clears the note
        (:meth:`HistoryStore.record`)."""
        when = to_db_time(now or _now())
        with translated("note the failed capture"), self.engine.begin() as conn:
            aid = known_article(conn, url)
            if aid is None:
                return None
            row = locked_article(conn, aid)
            conn.execute(articles.update().where(articles.c.id == aid)
                         .values(**failed_check(row, error, when)))
        return aid, int(row.failures) + 1

    def add_feed(self, url: str, *, now: datetime | None = None) -> bool:
        """Register a feed or sitemap; False if it was already registered."""
        url = check_url(url, allow_private=True)
        with translated("add the feed"), self.engine.begin() as conn:
            if conn.execute(select(feeds.c.url).where(feeds.c.url == url)).first():
                return False
            conn.execute(feeds.insert().values(url=url, added_at=to_db_time(now or _now()),
                                               articles_found=0))
        return True

    def remove_feed(self, url: str) -> bool:
        with translated("remove the feed"), self.engine.begin() as conn:
            return bool(conn.execute(feeds.delete().where(feeds.c.url == url.strip())).rowcount)

    def feeds(self) -> list[dict[str, Any]]:
        with translated("read the feeds"), self.engine.connect() as conn:
            rows = conn.execute(select(feeds).order_by(feeds.c.added_at)).all()
        return [{"url": r.url, "added_at": from_db_time(r.added_at),
                 "last_polled": from_db_time(r.last_polled), "last_error": r.last_error,
                 "articles_found": r.articles_found} for r in rows]

    def add_discovered(self, feed_url: str, urls: Iterable[str], *,
                       error: str | None = None, now: datetime | None = None) -> list[str]:
        """Watch the article URLs a feed listed that no article is known by yet."""
        when = to_db_time(now or _now())
        added = []
        with translated("add discovered articles"), self.engine.begin() as conn:
            for url in dict.fromkeys(urls):
                aid, created = self._article(conn, url, when)
                if created:
                    conn.execute(articles.update().where(articles.c.id == aid)
                                 .values(watched=True, next_check_at=when))
                    added.append(url)
            conn.execute(feeds.update().where(feeds.c.url == feed_url).values(
                last_polled=when, last_error=error,
                articles_found=feeds.c.articles_found + len(added)))
        return added

    def _article(self, conn: Connection, url: str, when: datetime) -> tuple[str, bool]:
        """The id of the article at ``url``, created if need be; and whether it was."""
        normal = normalize_url(url)
        aid = find_article(conn, [normal])
        if aid is not None:
            return aid, False
        try:
            with conn.begin_nested():
                conn.execute(articles.insert().values(id=url_id(url), url=normal, status="new",
                                                      first_seen=when, last_checked=when))
                add_aliases(conn, url_id(url), [normal], when)
        except IntegrityError:
            # Added a moment ago by another feed or worker: theirs it is.
            return find_article(conn, [normal]) or url_id(url), False
        return url_id(url), True

