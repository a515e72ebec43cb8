"""A tiny in-memory CMS (assets, posts, publishing) and notification webhook.

Every mutating request honours an ``Idempotency-Key`` header: a repeated key with the same body
returns the stored result with status 200 and does nothing; the same key with another body is
answered 422. Keys are scoped per method and path. State lives in memory only.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent_graph.provider._inject import error_response
from agent_graph.provider._text import hexdigest

Handler = Callable[[Request, bytes], Response]
Result = tuple[int, dict[str, Any]]
Action = Callable[[dict[str, Any]], Result]


class _Invalid(Exception):
    def __init__(self, status: int, message: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


def _missing(kind: str, ident: str) -> _Invalid:
    return _Invalid(404, f"no {kind} with id {ident!r}", "not_found", f"{kind}_id")


def _field(body: dict[str, Any], name: str, kind: type, *, required: bool = True) -> Any:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or (kind is str and not value):
        names = {"str": "a non-empty string", "dict": "an object", "list": "an array"}
        wanted = names.get(kind.__name__, kind.__name__)
        raise _Invalid(422, f"field {name!r} must be {wanted}", "validation_error", name)
    return value


@dataclass
class CmsStore:
    """All CMS and notification state, plus the counters reported in ``/_stats``."""

    posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    notifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    publishes: Counter[str] = field(default_factory=Counter)
    notified: Counter[str] = field(default_factory=Counter)
    retractions: Counter[str] = field(default_factory=Counter)
    post_deletes: Counter[str] = field(default_factory=Counter)
    asset_deletes: Counter[str] = field(default_factory=Counter)
    _slugs: dict[str, str] = field(default_factory=dict)
    _replies: dict[tuple[str, str, str], tuple[str, int, dict[str, Any]]] = field(
        default_factory=dict
    )
    _next_id: int = 0

    def clear(self) -> None:
        """Forget every asset, post, notification, idempotency key and counter."""
        for store in (self.posts, self.assets, self.notifications, self._replies, self._slugs):
            store.clear()
        counters = (self.publishes, self.notified, self.retractions)
        for counter in (*counters, self.post_deletes, self.asset_deletes):
            counter.clear()
        self._next_id = 0

    def _new_id(self, prefix: str) -> str:
        self._next_id += 1
        return f"{prefix}_{self._next_id:06d}"

    def stats(self) -> dict[str, dict[str, int]]:
        """Counters and current-state tallies per slug."""
        live: Counter[str] = Counter(
            p["slug"] for p in self.posts.values() if p["status"] == "live"
        )
        return {
            "publishes": dict(self.publishes),
            "live": dict(live),
            "posts": dict(Counter(p["slug"] for p in self.posts.values())),
            "assets": dict(Counter(a["slug"] for a in self.assets.values())),
            "notifications": dict(self.notified),
            "retractions": dict(self.retractions),
            "post_deletes": dict(self.post_deletes),
            "asset_deletes": dict(self.asset_deletes),
        }

    def slug_of(self, ident: str) -> str | None:
        """The slug of an asset, post or notification ever created (deleted ones included)."""
        return self._slugs.get(ident)

    # -- idempotent dispatch -------------------------------------------------------------------

    def run(self, request: Request, raw: bytes, action: Action) -> Response:
        """Parse the body, honour ``Idempotency-Key`` and run ``action`` at most once per key."""
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return error_response(400, "the body is not valid JSON", "invalid_request_error", None)
        if not isinstance(body, dict):
            return error_response(
                400, "the body must be a JSON object", "invalid_request_error", None
            )
        key = request.headers.get("idempotency-key")
        scope = (request.method, request.url.path, key or "")
        fingerprint = hexdigest(body, length=32)
        if key:
            stored = self._replies.get(scope)
            if stored is not None:
                if stored[0] != fingerprint:
                    return error_response(
                        422,
                        f"Idempotency-Key {key!r} was already used with a different request body",
                        "idempotency_error",
                        "idempotency_key_reused",
                        "Idempotency-Key",
                    )
                return JSONResponse(stored[2], 200, headers={"idempotent-replayed": "true"})
        try:
            status, payload = action(body)
        except _Invalid as exc:
            return _invalid(exc)
        if key and 200 <= status < 300:
            self._replies[scope] = (fingerprint, status, payload)
        return JSONResponse(payload, status)

    # -- assets ---------------------------------------------------------------------------------

    def create_asset(self, body: dict[str, Any], key: str | None = None) -> Result:
        slug = _field(body, "slug", str)
        name = _field(body, "name", str)
        content_type = _field(body, "content_type", str)
        data = body.get("data")
        if not isinstance(data, str):
            raise _Invalid(422, "field 'data' must be a string", "validation_error", "data")
        asset_id = self._new_id("asset")
        self.assets[asset_id] = {
            "asset_id": asset_id,
            "slug": slug,
            "name": name,
            "content_type": content_type,
            "size": len(data),
            "idempotency_key": key,
        }
        self._slugs[asset_id] = slug
        return 201, {"asset_id": asset_id, "slug": slug, "name": name}

    def delete_asset(self, asset_id: str) -> Result:
        if self.assets.pop(asset_id, None) is None:
            raise _missing("asset", asset_id)
        return 200, {"asset_id": asset_id, "deleted": True}

    # -- posts ----------------------------------------------------------------------------------

    def create_post(self, body: dict[str, Any], key: str | None) -> Result:
        slug = _field(body, "slug", str)
        title = _field(body, "title", str)
        markdown = body.get("markdown")
        if not isinstance(markdown, str):
            raise _Invalid(422, "field 'markdown' must be a string", "validation_error", "markdown")
        meta = _field(body, "meta", dict, required=False) or {}
        asset_ids = _field(body, "asset_ids", list, required=False) or []
        unknown = [a for a in asset_ids if a not in self.assets]
        if unknown:
            raise _Invalid(422, f"unknown asset ids: {unknown}", "validation_error", "asset_ids")
        post_id = self._new_id("post")
        self.posts[post_id] = {
            "post_id": post_id,
            "slug": slug,
            "title": title,
            "markdown": markdown,
            "meta": meta,
            "asset_ids": asset_ids,
            "status": "draft",
            "idempotency_key": key,
        }
        self._slugs[post_id] = slug
        return 201, {"post_id": post_id, "slug": slug, "status": "draft"}

    def post(self, post_id: str) -> dict[str, Any]:
        """Return the post or raise a 404."""
        found = self.posts.get(post_id)
        if found is None:
            raise _missing("post", post_id)
        return found

    def set_status(self, post_id: str, status: str) -> Result:
        post = self.post(post_id)
        post["status"] = status
        return 200, {"post_id": post_id, "slug": post["slug"], "status": status}

    def delete_post(self, post_id: str) -> Result:
        post = self.post(post_id)
        del self.posts[post_id]
        return 200, {"post_id": post_id, "slug": post["slug"], "deleted": True}

    # -- notifications --------------------------------------------------------------------------

    def notify(self, body: dict[str, Any], key: str | None = None) -> Result:
        channel = _field(body, "channel", str)
        slug = _field(body, "slug", str)
        text = _field(body, "text", str)
        notification_id = self._new_id("ntf")
        self.notifications[notification_id] = {
            "notification_id": notification_id,
            "channel": channel,
            "slug": slug,
            "text": text,
            "retracted": False,
            "idempotency_key": key,
        }
        self._slugs[notification_id] = slug
        self.notified[slug] += 1
        return 201, {"notification_id": notification_id}

    def retract(self, notification_id: str) -> Result:
        found = self.notifications.get(notification_id)
        if found is None:
            raise _missing("notification", notification_id)
        if not found["retracted"]:
            found["retracted"] = True
            self.retractions[found["slug"]] += 1
        return 200, {"notification_id": notification_id, "retracted": True}


def _invalid(exc: _Invalid) -> JSONResponse:
    return error_response(exc.status, exc.message, "invalid_request_error", exc.code, exc.param)


def _matching(items: dict[str, dict[str, Any]], request: Request) -> list[dict[str, Any]]:
    """The items whose ``slug`` and ``idempotency_key`` match the query's, when given."""
    slug = request.query_params.get("slug")
    key = request.query_params.get("idempotency_key")
    return [
        item
        for item in items.values()
        if slug in (None, item["slug"]) and key in (None, item["idempotency_key"])
    ]


def _listing(items: list[dict[str, Any]], name: str) -> JSONResponse:
    return JSONResponse({name: items})


def routes(store: CmsStore) -> list[tuple[str, str, Handler]]:
    """Return (method, path, handler) for every CMS and notify endpoint."""

    def create_asset(request: Request, raw: bytes) -> Response:
        key = request.headers.get("idempotency-key")
        return store.run(request, raw, lambda body: store.create_asset(body, key))

    def list_assets(request: Request, raw: bytes) -> Response:
        return _listing(_matching(store.assets, request), "assets")

    def delete_asset(request: Request, raw: bytes) -> Response:
        asset_id = request.path_params["asset_id"]
        slug = store.slug_of(asset_id)
        if slug is not None:
            store.asset_deletes[slug] += 1  # every delete request counts, replays included
        return store.run(request, raw, lambda _: store.delete_asset(asset_id))

    def create_post(request: Request, raw: bytes) -> Response:
        key = request.headers.get("idempotency-key")
        return store.run(request, raw, lambda body: store.create_post(body, key))

    def list_posts(request: Request, raw: bytes) -> Response:
        return _listing(_matching(store.posts, request), "posts")

    def get_post(request: Request, raw: bytes) -> Response:
        try:
            return JSONResponse(store.post(request.path_params["post_id"]))
        except _Invalid as exc:
            return _invalid(exc)

    def publish(request: Request, raw: bytes) -> Response:
        post_id = request.path_params["post_id"]
        found = store.posts.get(post_id)
        if found is not None:
            store.publishes[found["slug"]] += 1  # every request counts, deduplicated or not
        return store.run(request, raw, lambda _: store.set_status(post_id, "live"))

    def unpublish(request: Request, raw: bytes) -> Response:
        post_id = request.path_params["post_id"]
        return store.run(request, raw, lambda _: store.set_status(post_id, "unpublished"))

    def delete_post(request: Request, raw: bytes) -> Response:
        post_id = request.path_params["post_id"]
        slug = store.slug_of(post_id)
        if slug is not None:
            store.post_deletes[slug] += 1  # every delete request counts, replays included
        return store.run(request, raw, lambda _: store.delete_post(post_id))

    def notify(request: Request, raw: bytes) -> Response:
        key = request.headers.get("idempotency-key")
        return store.run(request, raw, lambda body: store.notify(body, key))

    def list_notifications(request: Request, raw: bytes) -> Response:
        return _listing(_matching(store.notifications, request), "notifications")

    def retract(request: Request, raw: bytes) -> Response:
        notification_id = request.path_params["notification_id"]
        return store.run(request, raw, lambda _: store.retract(notification_id))

    return [
        ("POST", "/cms/assets", create_asset),
        ("GET", "/cms/assets", list_assets),
        ("DELETE", "/cms/assets/{asset_id}", delete_asset),
        ("POST", "/cms/posts", create_post),
        ("GET", "/cms/posts", list_posts),
        ("GET", "/cms/posts/{post_id}", get_post),
        ("POST", "/cms/posts/{post_id}/publish", publish),
        ("POST", "/cms/posts/{post_id}/unpublish", unpublish),
        ("DELETE", "/cms/posts/{post_id}", delete_post),
        ("POST", "/notify", notify),
        ("GET", "/notify", list_notifications),
        ("POST", "/notify/{notification_id}/retract", retract),
    ]
