"""Server-level administration: create and drop databases (synchronous, one-shot)."""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from checkpointers._dsn import driver_reason, redact_dsn
from checkpointers._errors import DatabaseUnavailable
from checkpointers._queries import QUERIES

__all__ = ["connect_admin", "create_database", "database_exists", "drop_database"]

logger = logging.getLogger(__name__)


def connect_admin(dsn: str, *, connect_timeout: float = 5.0) -> psycopg.Connection[TupleRow]:
    """Open an autocommit connection for administrative statements.

    Raises:
        DatabaseUnavailable: the server did not accept the connection.
    """
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=max(2, round(connect_timeout)))
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {redact_dsn(dsn)}: {driver_reason(exc, dsn)}"
        ) from None


def database_exists(dsn: str, name: str) -> bool:
    """True if a database called ``name`` exists on the server ``dsn`` points at."""
    with connect_admin(dsn) as conn:
        return _exists(conn, name)


def create_database(
    dsn: str, name: str, *, template: str | None = None, exist_ok: bool = False
) -> bool:
    """Create database ``name`` on the server ``dsn`` points at.

    Args:
        dsn: connection string to any database on the server (needs CREATEDB privilege).
        name: the new database's name.
        template: copy this database instead of the default template (must have no sessions).
        exist_ok: return False instead of raising when ``name`` already exists; safe when several
            processes race to create the same database.

    Returns:
        True if this call created the database.

    Raises:
        DatabaseUnavailable: the server did not accept the connection.
        psycopg.errors.DuplicateDatabase: ``name`` exists and ``exist_ok`` is false.
    """
    if template is None:
        statement = sql.SQL(QUERIES.create_database).format(name=sql.Identifier(name))
    else:
        statement = sql.SQL(QUERIES.create_database_from_template).format(
            name=sql.Identifier(name), template=sql.Identifier(template)
        )
    with connect_admin(dsn) as conn:
        if exist_ok and _exists(conn, name):
            return False
        try:
            conn.execute(statement)
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            # UniqueViolation: two CREATE DATABASE of one name raced inside the catalog.
            if not exist_ok:
                raise
            return False
    logger.info("created database", extra={"database": name, "template": template})
    return True


def drop_database(dsn: str, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting its sessions (``WITH (FORCE)``).

    Raises:
        DatabaseUnavailable: the server did not accept the connection.
    """
    statement = sql.SQL(QUERIES.drop_database).format(name=sql.Identifier(name))
    with connect_admin(dsn) as conn:
        conn.execute(statement)
    logger.info("dropped database", extra={"database": name})


def _exists(conn: psycopg.Connection[TupleRow], name: str) -> bool:
    row = conn.execute(QUERIES.database_exists, {"name": name}).fetchone()
    return bool(row and row[0])
