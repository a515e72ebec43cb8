"""Shared fixtures: one PostgreSQL server per test session and a fresh database per test.

The server is the one ``DATABASE_URL`` points at when set (test databases are created next to
its database), else an embedded PostgreSQL 18 started in a temporary directory and stopped at
the end of the session. Each test gets its own database, copied from a template on which the
schema was set up once, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from checkpointers import (
    AsyncPool,
    create_database,
    drop_database,
    embedded_dsn,
    open_async_pool,
    resolve_dsn,
    setup_database_sync,
    stop_embedded,
    with_database,
)
from checkpointers._admin import connect_admin


@dataclass(frozen=True)
class PgServer:
    """The session's PostgreSQL server."""

    admin_dsn: str
    """DSN of a database on the server that tests never drop (used to create the others)."""
    data_dir: Path | None
    """Data directory of the embedded server, None when DATABASE_URL is used."""

    @property
    def embedded(self) -> bool:
        return self.data_dir is not None

    def dsn(self, database: str) -> str:
        """DSN of ``database`` on this server (a plain string other processes can use)."""
        return with_database(self.admin_dsn, database)

    def new_database(self, prefix: str, *, template: str | None = None) -> str:
        """Create a database with a unique name and return the name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        create_database(self.admin_dsn, name, template=template)
        return name


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The PostgreSQL server of this test session (DATABASE_URL, else embedded)."""
    database_url = os.environ.get("DATABASE_URL", "").strip()
    if database_url:
        admin = resolve_dsn(database_url)
        connect_admin(admin).close()  # fail the session early and clearly if it is down
        yield PgServer(admin_dsn=admin, data_dir=None)
        return
    # Not under tmp_path_factory: as root the server runs as another user, and every pytest
    # process resets /tmp/pytest-of-<user> to mode 0700, which would cut the server off from its
    # own data directory in the middle of the session.
    scratch = Path(tempfile.mkdtemp(prefix="agent-graph-pg-"))
    data_dir = scratch / "data"
    try:
        admin = embedded_dsn(data_dir, database="postgres")
        yield PgServer(admin_dsn=admin, data_dir=data_dir)
    finally:
        stop_embedded(data_dir)
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def template_db(pg_server: PgServer) -> Iterator[str]:
    """Name of a database with the full schema set up, used as a template by ``database_url``."""
    name = pg_server.new_database("agtpl")
    # setup_database_sync closes its pool before returning: no session stays on the template,
    # which CREATE DATABASE ... TEMPLATE requires.
    setup_database_sync(pg_server.dsn(name))
    try:
        yield name
    finally:
        drop_database(pg_server.admin_dsn, name)


@pytest.fixture
def database_url(pg_server: PgServer, template_db: str) -> Iterator[str]:
    """DSN of a new database with the full schema, dropped after the test."""
    name = pg_server.new_database("agtest", template=template_db)
    try:
        yield pg_server.dsn(name)
    finally:
        drop_database(pg_server.admin_dsn, name)


@pytest.fixture
def fresh_database_url(pg_server: PgServer) -> Iterator[str]:
    """DSN of a new, empty database (no schema at all), dropped after the test."""
    # template0 is never modified, unlike template1 on a shared server.
    name = pg_server.new_database("agfresh", template="template0")
    try:
        yield pg_server.dsn(name)
    finally:
        drop_database(pg_server.admin_dsn, name)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncPool]:
    """An async pool (as langgraph needs it) over ``database_url``."""
    async with open_async_pool(database_url) as opened:
        yield opened
