"""Bulk INSERT ... RETURNING that gives each row its id back, in one statement on every backend.

RETURNING does not promise its rows in the order of the VALUES, and SQLAlchemy's
``sort_by_parameter_order``, which does, sends a statement per row on SQLite. So ids are matched
back to rows by key columns whose values tell the rows apart (a listing's source and URL, a
version's capture); rows that repeat a key take the ordered, slower way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from storage.models.base import Base


def insert_ids(
    session: Session, model: type[Base], rows: Sequence[dict[str, Any]], key: Sequence[str]
) -> list[int]:
    """Insert rows of a model's table; return their ids in the order of ``rows``."""
    if not rows:
        return []
    table = cast(Table, model.__table__)
    keys = [tuple(row[name] for name in key) for row in rows]
    if len(set(keys)) < len(keys):
        ordered = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(session.scalars(ordered, rows))
    query = insert(table).returning(table.c.id, *(table.c[name] for name in key))
    found = {tuple(row[1:]): row[0] for row in session.execute(query, rows)}
    return [found[k] for k in keys]


def insert_rows(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows of a model's table, all with the same keys (no ORM objects, no ids back).

    On PostgreSQL (psycopg) this is a COPY: a twentieth of the client's time of an INSERT
    (measured: 9,000 indicator rows in 11 ms of CPU against 218 ms); elsewhere an executemany.
    """
    if not rows:
        return
    table = cast(Table, model.__table__)
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        session.execute(insert(table), rows)
        return
    from psycopg import sql  # only where psycopg is the driver

    names = list(rows[0])
    processors = [table.c[name].type.bind_processor(dialect) for name in names]
    copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(copy) as out:
        for row in rows:
            values = (row[name] for name in names)
            out.write_row([p(v) if p else v for p, v in zip(processors, values, strict=True)])
