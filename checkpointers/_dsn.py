"""Connection strings: choose the server, validate ``DATABASE_URL``, hide passwords."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from policies._errors import ConfigurationError

__all__ = ["driver_reason", "is_url", "redact_dsn", "resolve_dsn", "scrub", "with_database"]

_SCHEMES = ("postgresql", "postgres")
_MASK = "***"
_SECRET_KEYS = ("password", "sslpassword")
# libpq key=value grammar: a value is a single-quoted string (backslash escapes) or a run of
# non-blanks. Also matches "sslpassword" on purpose.
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*(@)")
_HINT = (
    "use postgresql://user:password@host:5432/dbname or libpq key=value form "
    "('host=... dbname=...'), or leave DATABASE_URL unset to use the embedded server"
)


def is_url(dsn: str) -> bool:
    """True if ``dsn`` is in URL form (``scheme://...``) rather than libpq key=value form."""
    return "://" in dsn


def redact_dsn(dsn: str) -> str:
    """Return ``dsn`` with any password replaced by ``***`` (safe to log or show).

    Handles URL form (``user:secret@host``, ``?password=``, ``?sslpassword=``) and libpq
    key=value form (``password=...``, quoted or not). Never raises.
    """
    if is_url(dsn):
        try:
            return _redact_url(dsn)
        except ValueError:
            pass
        dsn = _URL_PASSWORD.sub(rf"\1{_MASK}\2", dsn)
    return _KV_PASSWORD.sub(rf"\1{_MASK}", dsn)


def scrub(text: str, dsn: str) -> str:
    """Return ``text`` (an error message) with ``dsn`` and its password masked."""
    text = text.replace(dsn, redact_dsn(dsn))
    for secret in _passwords(dsn):
        text = text.replace(secret, _MASK)
    return text


def driver_reason(exc: BaseException, dsn: str) -> str:
    """A driver error's message on one line, without the DSN's password or libpq's generic
    "Is the server running..." advice (our errors carry their own hint)."""
    lines = [line.strip() for line in scrub(str(exc), dsn).splitlines()]
    kept = [line for line in lines if line and not line.startswith("Is the server running")]
    return "; ".join(kept) or type(exc).__name__


def _passwords(dsn: str) -> list[str]:
    found = [m.group(2).strip("'") for m in _KV_PASSWORD.finditer(dsn)]
    if is_url(dsn):
        try:
            parts = urlsplit(dsn)
            if parts.password:
                found.append(parts.password)
                found.append(unquote(parts.password))
        except ValueError:
            found.extend(m.group(0)[3:-1].split(":", 1)[-1] for m in _URL_PASSWORD.finditer(dsn))
    return [secret for secret in found if secret]


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, at, hosts = netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if at and colon and password:
        netloc = f"{user}:{_MASK}@{hosts}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(key.lower() in _SECRET_KEYS for key, _ in pairs):
            masked = [(key, _MASK if key.lower() in _SECRET_KEYS else val) for key, val in pairs]
            query = urlencode(masked, safe="/*", quote_via=quote)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _validate(database_url: str) -> str:
    dsn = database_url.strip()
    shown = redact_dsn(dsn)
    if is_url(dsn):
        scheme = dsn.split("://", 1)[0].lower()
        if scheme not in _SCHEMES:
            hint = _HINT
            if scheme.startswith(_SCHEMES) and "+" in scheme:
                hint = f"drop the driver suffix: write postgresql:// instead of {scheme}://"
            raise ConfigurationError(
                f"DATABASE_URL {shown!r} is not a PostgreSQL URL (scheme {scheme!r})", hint=hint
            )
    elif "=" not in dsn:
        raise ConfigurationError(
            f"DATABASE_URL {shown!r} is neither a postgresql:// URL nor a key=value string",
            hint=_HINT,
        )
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error as exc:
        reason = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise ConfigurationError(
            f"DATABASE_URL {shown!r} is malformed: {scrub(reason, dsn)}", hint=_HINT
        ) from None
    ports = str(params.get("port", "")).split(",")
    if not all(port.strip().isdigit() or not port.strip() for port in ports):
        raise ConfigurationError(
            f"DATABASE_URL {shown!r} has a non-numeric port {params['port']!r}", hint=_HINT
        )
    return dsn


def resolve_dsn(database_url: str | None, *, data_dir: Path | None = None) -> str:
    """Return the connection string to use: ``database_url``, or the embedded server's.

    Args:
        database_url: a ``postgresql://`` / ``postgres://`` URL or a libpq key=value string,
            typically the ``DATABASE_URL`` environment variable. ``None`` or blank selects the
            embedded server (started on first use, see :func:`embedded_dsn`).
        data_dir: data directory of the embedded server (default: per-user data directory).

    Raises:
        ConfigurationError: ``database_url`` is not a PostgreSQL connection string.
        EmbeddedPostgresError: the embedded server could not be started.
    """
    if database_url is None or not database_url.strip():
        from checkpointers._embedded import embedded_dsn

        return embedded_dsn(data_dir)
    return _validate(database_url)


def with_database(dsn: str, database: str) -> str:
    """Return ``dsn`` pointing at another database on the same server (same form as ``dsn``).

    Raises:
        ConfigurationError: ``dsn`` cannot be parsed.
    """
    dsn = _validate(dsn)
    if is_url(dsn):
        parts = urlsplit(dsn)
        query = parts.query
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(key == "dbname" for key, _ in pairs):
            kept = [(key, val) for key, val in pairs if key != "dbname"]
            query = urlencode(kept, safe="/", quote_via=quote)
        path = "/" + quote(database, safe="")
        return urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))
    return make_conninfo(dsn, dbname=database)
