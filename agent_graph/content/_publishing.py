"""Publishing the article: upload assets, create the post, set it live, notify; each undoable.

Every step is an idempotent side effect (:func:`agent_graph.runtime.effect`): recorded in the
ledger under a key derived from the thread, node and content, sent to the CMS as
``Idempotency-Key``, reconciled after a crash by looking the key (or the post) up in the CMS, and
registered with a compensation (delete asset, delete post, unpublish, retract) that
:func:`agent_graph.runtime.compensate` runs, newest first, when the thread is undone.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, Field

from ..runtime import COMPENSATIONS, Compensations, Undo, effect
from ._services import ContentServices
from ._state import Article, ContentState, Publication

#: Names of the compensations registered by :class:`PublishingNodes`.
DELETE_ASSET = "content.delete_asset"
DELETE_POST = "content.delete_post"
UNPUBLISH = "content.unpublish"
RETRACT = "content.retract"


class Asset(BaseModel):
    """A file uploaded to the CMS with the article."""

    asset_id: str
    name: str


class PublishingState(ContentState):
    """The content agent's state plus what publishing tracks."""

    assets: list[Asset] = Field(default_factory=list, description="Assets uploaded to the CMS.")


def article_assets(article: Article) -> list[dict[str, str]]:
    """The article's images (a cover and a social card), as deterministic SVG text."""
    title = html.escape(article.title)
    shade = int(hashlib.sha256(article.slug.encode()).hexdigest()[:6], 16)
    colour = f"#{shade:06x}"
    assets = []
    for name, (width, height) in (("cover.svg", (1200, 630)), ("card.svg", (800, 418))):
        data = (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
            f'<rect width="100%" height="100%" fill="{colour}"/>'
            f'<text x="40" y="{height // 2}" font-size="40" fill="#fff">{title}</text>'
            f'<text x="40" y="{height - 40}" font-size="20" fill="#fff">'
            f"{article.word_count} words</text></svg>"
        )
        assets.append(
            {"slug": article.slug, "name": name, "content_type": "image/svg+xml", "data": data}
        )
    return assets


class _Cms:
    """Small HTTP helpers over the CMS endpoints publishing and its compensations use."""

    def __init__(self, services: ContentServices) -> None:
        self.services = services

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.services.services_url, timeout=self.services.http_timeout
        )

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Any | None:
        """GET JSON; None on a 404."""
        async with self._client() as client:
            response = await client.get(path, params=params)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    async def first(self, path: str, listing: str, key: str) -> dict[str, Any] | None:
        """The first item of a listing filtered by idempotency key, if any."""
        found = await self.get(path, {"idempotency_key": key})
        items: list[dict[str, Any]] = (found or {}).get(listing, [])
        return items[0] if items else None

    async def send(
        self, method: str, path: str, key: str, payload: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """POST or DELETE with an ``Idempotency-Key``; a 404 (already gone) is a success."""
        async with self._client() as client:
            response = await client.request(
                method, path, json=dict(payload or {}), headers={"Idempotency-Key": key}
            )
        if response.status_code == 404 and method == "DELETE":
            return {"already": "gone"}
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


@dataclass(frozen=True)
class _Step:
    """One publishing effect: a POST to the CMS, found again by key, undone by a compensation."""

    name: str
    """The effect's name in the ledger."""
    path: str
    """Where the POST goes; ``{id}`` stands for the target object's id."""
    listing: str
    """The listing at ``path`` that finds the effect by its key ("" when found another way)."""
    undo: str
    """The compensation that undoes it."""
    undo_arg: str
    """The compensation's argument: the id of the object the effect created or changed."""


_UPLOAD_ASSET = _Step("upload_asset", "/cms/assets", "assets", DELETE_ASSET, "asset_id")
_CREATE_POST = _Step("create_post", "/cms/posts", "posts", DELETE_POST, "post_id")
_SET_LIVE = _Step("set_live", "/cms/posts/{id}/publish", "", UNPUBLISH, "post_id")
_NOTIFY = _Step("notify", "/notify", "notifications", RETRACT, "notification_id")


class PublishingNodes:
    """The publishing nodes of the content agent and their compensations.

    Creating it registers the compensations (``content.delete_asset``, ``content.delete_post``,
    ``content.unpublish``, ``content.retract``) in ``registry`` (the process-wide one by
    default), bound to these services; the latest registration wins.

    Args:
        services: the CMS and webhook endpoints.
        registry: where to register the compensations.
    """

    def __init__(self, services: ContentServices, registry: Compensations | None = None) -> None:
        self.cms = _Cms(services)
        registry = registry or COMPENSATIONS
        registry.register(DELETE_ASSET, self._delete_asset, lookup=self._asset_gone)
        registry.register(DELETE_POST, self._delete_post, lookup=self._post_gone)
        registry.register(UNPUBLISH, self._unpublish, lookup=self._post_not_live)
        registry.register(RETRACT, self._retract, lookup=self._retracted)

    # -- nodes ----------------------------------------------------------------------------------

    async def upload_assets(self, state: PublishingState, config: RunnableConfig) -> dict[str, Any]:
        """Upload the cover and the social card (undo: delete each)."""
        assert state.article is not None
        uploaded: list[Asset] = []
        for asset in article_assets(state.article):
            content = {k: v for k, v in asset.items() if k != "data"}
            content["sha256"] = hashlib.sha256(asset["data"].encode()).hexdigest()
            result = await self._perform(_UPLOAD_ASSET, config, asset, content=content)
            uploaded.append(Asset(asset_id=str(result["asset_id"]), name=asset["name"]))
        return {"assets": uploaded}

    async def create_post(self, state: PublishingState, config: RunnableConfig) -> dict[str, Any]:
        """Create the post as a draft, with its assets (undo: delete the post)."""
        article = state.article
        assert article is not None
        payload = {
            "slug": article.slug,
            "title": article.title,
            "markdown": article.markdown,
            "meta": {"description": article.meta_description, "keywords": article.keywords},
            "asset_ids": [a.asset_id for a in state.assets],
        }
        post = await self._perform(_CREATE_POST, config, payload)
        publication = Publication(post_id=str(post["post_id"]), slug=article.slug, status="draft")
        return {"publication": publication}

    async def set_live(self, state: PublishingState, config: RunnableConfig) -> dict[str, Any]:
        """Publish the post (undo: unpublish it)."""
        assert state.publication is not None
        post_id = state.publication.post_id

        async def lookup(key: str) -> dict[str, Any] | None:
            post = await self.cms.get(f"/cms/posts/{post_id}")
            if post is None or post.get("status") != "live":
                return None
            return {"post_id": post_id, "slug": post["slug"], "status": "live"}

        live = await self._perform(
            _SET_LIVE, config, content={"post_id": post_id}, target=post_id, lookup=lookup
        )
        status = str(live.get("status", "live"))
        return {"publication": state.publication.model_copy(update={"status": status})}

    async def notify(self, state: PublishingState, config: RunnableConfig) -> dict[str, Any]:
        """Tell subscribers (undo: retract the notification)."""
        article = state.article
        assert article is not None
        payload = {
            "channel": "subscribers",
            "slug": article.slug,
            "text": f"New article: {article.title}",
        }
        await self._perform(_NOTIFY, config, payload)
        return {"notified": True}

    async def _perform(
        self,
        step: _Step,
        config: RunnableConfig,
        payload: Mapping[str, Any] | None = None,
        *,
        content: Any = None,
        target: str | None = None,
        lookup: Callable[[str], Awaitable[dict[str, Any] | None]] | None = None,
    ) -> dict[str, Any]:
        """POST ``payload`` for ``step`` as an idempotent, undoable :func:`effect`.

        Args:
            step: which effect, where it is sent, how it is found again and undone.
            config: the node's config.
            payload: the JSON body sent to the CMS.
            content: what the ledger keys the effect on; default ``payload``.
            target: the id of the existing object the effect acts on (filled in for ``{id}``
                in the path, and the compensation's argument); None when the effect creates
                the object, whose id the compensation then takes from the result.
            lookup: how to find the effect by key after a crash; default the first item of
                ``step.listing`` at ``step.path`` carrying the key.
        """
        path = step.path.format(id=target)

        async def act(key: str) -> dict[str, Any]:
            return await self.cms.send("POST", path, key, payload)

        async def find(key: str) -> dict[str, Any] | None:
            return await self.cms.first(step.path, step.listing, key)

        def undo(result: dict[str, Any]) -> Undo:
            return Undo(step.undo, {step.undo_arg: result[step.undo_arg]})

        return await effect(
            step.name,
            act,
            content=payload if content is None else content,
            lookup=lookup or find,
            compensate=undo if target is None else Undo(step.undo, {step.undo_arg: target}),
            config=config,
        )

    # -- compensations and their lookups (args come from the ledger) ----------------------------

    async def _delete_asset(self, args: Mapping[str, Any], key: str) -> Any:
        return await self.cms.send("DELETE", f"/cms/assets/{args['asset_id']}", key)

    async def _asset_gone(self, args: Mapping[str, Any], key: str) -> Any:
        listing = await self.cms.get("/cms/assets") or {}
        present = {a["asset_id"] for a in listing.get("assets", [])}
        return None if args["asset_id"] in present else {"deleted": True}

    async def _delete_post(self, args: Mapping[str, Any], key: str) -> Any:
        return await self.cms.send("DELETE", f"/cms/posts/{args['post_id']}", key)

    async def _post_gone(self, args: Mapping[str, Any], key: str) -> Any:
        post = await self.cms.get(f"/cms/posts/{args['post_id']}")
        return {"deleted": True} if post is None else None

    async def _unpublish(self, args: Mapping[str, Any], key: str) -> Any:
        if await self.cms.get(f"/cms/posts/{args['post_id']}") is None:
            return {"already": "gone"}
        return await self.cms.send("POST", f"/cms/posts/{args['post_id']}/unpublish", key)

    async def _post_not_live(self, args: Mapping[str, Any], key: str) -> Any:
        post = await self.cms.get(f"/cms/posts/{args['post_id']}")
        if post is None or post.get("status") != "live":
            return {"status": None if post is None else post.get("status")}
        return None

    async def _retract(self, args: Mapping[str, Any], key: str) -> Any:
        return await self.cms.send("POST", f"/notify/{args['notification_id']}/retract", key)

    async def _retracted(self, args: Mapping[str, Any], key: str) -> Any:
        listing = await self.cms.get("/notify") or {}
        for item in listing.get("notifications", []):
            if item["notification_id"] == args["notification_id"] and item["retracted"]:
                return {"retracted": True}
        return None
