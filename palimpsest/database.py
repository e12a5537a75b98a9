"""Opening the history database: engine, SQLite pragmas, Alembic migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from .errors import HistoryError

#: The newest migration in palimpsest/migrations/versions.
SCHEMA_REVISION = "0008"
MIGRATIONS = Path(__file__).with_name("migrations")


def open_engine(db_url: str) -> Engine:
    """An engine for ``db_url`` with the schema migrated to the newest revision."""
    if db_url.startswith("sqlite:///"):
        Path(db_url.removeprefix("sqlite:///")).expanduser().parent.mkdir(
            parents=True, exist_ok=True)
    try:
        engine = create_engine(db_url)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise HistoryError(f"cannot use database {db_url!r}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        migrate(engine)
    except SQLAlchemyError as exc:
        raise HistoryError(f"cannot open database {engine.url!r}: {exc}") from exc
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the web server read while a worker writes; the busy timeout
    # makes concurrent writers wait for each other instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def migrate(engine: Engine) -> None:
    """Run Alembic's upgrade to head, unless the database is already there."""
    with engine.connect() as conn:
        try:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except SQLAlchemyError:
            current = None
            conn.rollback()
    if current == SCHEMA_REVISION:
        return  # importing and running Alembic costs ~0.2 s; skip it when current
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            _upgrade_sqlite(conn, config)
        else:
            with conn.begin():
                _upgrade(conn, config)


def _upgrade(conn: Any, config: Any) -> None:
    from alembic import command

    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def _upgrade_sqlite(conn: Any, config: Any) -> None:
    """Upgrade a SQLite database, all or nothing.

    SQLite alters a table by rebuilding it (copy, drop, rename), and enforced
    foreign keys refuse to drop a table others refer to: they are off while
    migrating (this cannot change inside a transaction) and checked, whole,
    before the upgrade commits. And pysqlite runs DDL outside its
    transactions: BEGIN is said here, so that a failed upgrade leaves the
    database as it was (IMMEDIATE: a second process upgrading at once waits,
    then finds nothing left to do)."""
    raw: Any = conn.connection.driver_connection
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    conn.commit()
    raw.isolation_level = None
    try:
        with conn.begin():
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            _drop_scratch_tables(conn)
            _upgrade(conn, config)
            if broken := conn.exec_driver_sql("PRAGMA foreign_key_check").all():
                raise HistoryError(f"the upgraded database breaks foreign keys: {broken[:3]}")
    finally:
        raw.isolation_level = ""  # pysqlite's own transactions again
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.commit()


def _drop_scratch_tables(conn: Any) -> None:
    """Drop the copies an upgrade interrupted before this release left behind
    (``_alembic_tmp_articles``): the table they were copied from is intact,
    and they would stop every later upgrade."""
    names = set(conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table'").scalars())
    for name in names:
        if name.startswith("_alembic_tmp_") and name.removeprefix("_alembic_tmp_") in names:
            conn.exec_driver_sql(f'DROP TABLE "{name}"')


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Database errors become a HistoryError saying what could not be done."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise HistoryError(f"could not {what}: {exc}") from exc


def iso_time(value: str) -> datetime:
    """A time said in ISO 8601 ("Z" for UTC too), in UTC when it names no
    offset; ValueError if it is none."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_db_time(moment: datetime) -> datetime:
    """Naive UTC, as stored (SQLite keeps no offsets)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def from_db_time(moment: datetime | None) -> str | None:
    """ISO 8601 with the UTC offset, for output."""
    return moment.replace(tzinfo=UTC).isoformat() if moment else None
