"""Removing secrets from text before it is stored, logged or shown."""

from __future__ import annotations

import re

MASK = "***"

# user:password@ inside a URL or DSN. The password runs to the last "@" of the token, so a
# password with a raw "@" or "/" is still hidden (at worst the host is hidden too).
_URL_PASSWORD = re.compile(
    r"(?P<keep>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/?#@'\"<>]*:)(?P<secret>[^\s'\"<>]*)(?=@)"
)

# "Bearer <token>" anywhere (HTTP Authorization values, curl lines, exception reprs).
_BEARER = re.compile(r"(?P<keep>\bbearer\s+)[A-Za-z0-9\-._~+/]{8,}=*", re.IGNORECASE)

# Authorization: <scheme> <credentials> - the whole value goes, whatever the scheme.
_AUTHORIZATION = re.compile(
    r"(?P<keep>authorization[\"']?\s*[:=]\s*[\"']?)(?P<secret>(?:[A-Za-z]+\s+)?[^\s\"',;&}\]]+)",
    re.IGNORECASE,
)

_SECRET_NAMES = (
    r"api[_-]?key|access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token"
    r"|session[_-]?token|client[_-]?secret|secret[_-]?key|private[_-]?key|secret"
    r"|sslpassword|password|passwd|pwd|token|credentials?"
)

# name=value / name: value / "name": "value" - JSON, reprs, query strings, libpq keyword DSNs
# (host=db password='a b' dbname=x). The name part is kept, the value replaced.
_KEY_VALUE = re.compile(
    rf"(?P<keep>(?:{_SECRET_NAMES})[\"']?\s*[:=]\s*)"
    r"(?P<secret>\"[^\"]*\"|'[^']*'|[^\s\"',;&}\]]+)",
    re.IGNORECASE,
)

# Well-known token shapes, matched wherever they stand.
_TOKENS = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"sk-[A-Za-z0-9_\-]{16,}"  # OpenAI (sk-..., sk-proj-..., sk-svcacct-...) and look-alikes
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"  # GitHub
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"  # Slack
    r"|AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|AIza[0-9A-Za-z_\-]{35}"  # Google API key
    r"|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"  # JWT
    r")"
)


def _mask_value(match: re.Match[str]) -> str:
    secret = match.group("secret")
    if len(secret) >= 2 and secret[0] == secret[-1] and secret[0] in "\"'":
        return f"{match.group('keep')}{secret[0]}{MASK}{secret[0]}"
    return f"{match.group('keep')}{MASK}"


def _mask_token(match: re.Match[str]) -> str:
    token = match.group(0)
    return f"sk-{MASK}" if token.startswith("sk-") else MASK


def redact(text: str) -> str:
    """Return ``text`` with secrets replaced by ``***``.

    Removes: passwords in URLs and DSNs (``postgresql://user:***@host``), ``Bearer`` tokens,
    ``Authorization`` header values, ``name=value`` / ``"name": "value"`` pairs whose name says
    secret (``api_key``, ``password``, ``token``, ``secret``, ... - this covers libpq keyword
    DSNs such as ``host=db password=***``), and well-known token shapes (OpenAI ``sk-...`` keys,
    GitHub, Slack, AWS, Google keys, JWTs). Idempotent: redacting twice changes nothing more.

    Args:
        text: any text that may contain secrets.

    Returns:
        The redacted text. Non-secret parts are left as they were.
    """
    if not text:
        return text
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('keep')}{MASK}", text)
    text = _BEARER.sub(lambda m: f"{m.group('keep')}{MASK}", text)
    text = _AUTHORIZATION.sub(_mask_value, text)
    text = _KEY_VALUE.sub(_mask_value, text)
    return _TOKENS.sub(_mask_token, text)
