"""Alembic environment: runs migrations on the connection handed over by
:func:`palimpsest.history.migrate`, or on ``sqlalchemy.url`` from the CLI."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from palimpsest.schema import metadata

config = context.config
connection = config.attributes.get("connection")


def run(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    with create_engine(config.get_main_option("sqlalchemy.url") or "").connect() as conn:
        run(conn)
