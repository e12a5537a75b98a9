"""The payload digest index behind revisit records.

A payload (a response body, a rendered DOM, a screenshot) already archived
is written again only as a ``revisit`` record pointing at its first copy.
The index maps each digest to that copy's URI, date and position, so the
original can be read back with one ranged read (and copied into a WACZ);
and which WARCs hold revisits of each, so the records other snapshots rely
on are known without reading those WARCs (``forget``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from .schema import payloads, revisits
from .warc import Original

#: Digests per query: well under SQLite's bound-parameter limit.
BATCH = 500


def originals(conn: Connection, digests: Iterable[str]) -> dict[str, Original]:
    """The first archived copy of each of ``digests`` that has one."""
    return {row.digest: Original(row.uri, row.date, row.warc_key, row.offset, row.length)
            for row in _matching(conn, payloads, digests)}


def remember(conn: Connection, new: Mapping[str, Original]) -> None:
    """Add payloads first archived by a snapshot (in its recording transaction).

    Two workers archiving the same payload at once both keep full copies; the
    first row stays, so later revisits all point at one of them.
    """
    _add(conn, payloads, [{"digest": d, "uri": o.uri, "date": o.date, "warc_key": o.warc_key,
                           "offset": o.offset, "length": o.length} for d, o in new.items()])


def referred(conn: Connection, warc_key: str, digests: Iterable[str]) -> None:
    """Note that the WARC ``warc_key`` holds revisits of ``digests``."""
    _add(conn, revisits, [{"digest": d, "warc_key": warc_key} for d in digests])


def referring(conn: Connection, digests: Iterable[str], outside: Collection[str]) -> set[str]:
    """Which of ``digests`` a revisit in a WARC not among ``outside`` points at
    (as far as the index knows: see ``snapshots.revisits_indexed``)."""
    return {row.digest for row in _matching(conn, revisits, digests)
            if row.warc_key not in outside}


def _matching(conn: Connection, table: Table, digests: Iterable[str]) -> Iterator[Any]:
    """The rows of ``table`` whose digest is one of ``digests``, asked for
    ``BATCH`` at a time."""
    wanted = sorted(set(digests))
    for start in range(0, len(wanted), BATCH):
        yield from conn.execute(select(table).where(
            table.c.digest.in_(wanted[start:start + BATCH])))


def _add(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows``, but those already there (added by another worker at once)."""
    if not rows:
        return
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
    conn.execute(insert.on_conflict_do_nothing(), rows)
