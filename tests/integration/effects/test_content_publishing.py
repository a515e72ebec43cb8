"""The content agent publishes in undoable steps; a fatal failure before going live is undone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent_graph import Settings, compensate, open_content_agent
from agent_graph.provider import BackgroundProvider, fetch_stats
from checkpointers import EffectLedger, EventLog

SLUG = "solar-panels"


@pytest.fixture
def forbidding_cms() -> Iterator[BackgroundProvider]:
    """The CMS refuses to set posts live (403: fatal, never retried)."""
    with BackgroundProvider(faults="cms~/publish:forbidden") as running:
        yield running


def settings(database_url: str, provider: BackgroundProvider) -> Settings:
    return Settings.model_validate(
        {
            "DATABASE_URL": database_url,
            "OPENAI_API_KEY": "offline-test-key",
            "OPENAI_BASE_URL": provider.openai_base_url,
            "services_url": provider.base_url,
        }
    )


async def test_publishing_steps_are_recorded_with_their_compensations(database_url: str) -> None:
    with BackgroundProvider() as provider:
        async with open_content_agent(settings(database_url, provider)) as agent:
            [status] = await agent.run(["solar panels"])
            assert status.status == "completed"
            effects = await EffectLedger(agent.runner.ctx.pool).list(SLUG)
        stats = fetch_stats(provider.base_url)
    assert [(e.name, e.status) for e in effects] == [
        ("upload_asset", "done"),
        ("upload_asset", "done"),
        ("create_post", "done"),
        ("set_live", "done"),
        ("notify", "done"),
    ]
    assert [e.compensation and e.compensation["name"] for e in effects] == [
        "content.delete_asset",
        "content.delete_asset",
        "content.delete_post",
        "content.unpublish",
        "content.retract",
    ]
    # each undo names the object its step created (for set_live: the post it set live)
    asset_1, asset_2, post, live, notice = (e.result for e in effects)
    assert [e.compensation and e.compensation["args"] for e in effects] == [
        {"asset_id": asset_1["asset_id"]},
        {"asset_id": asset_2["asset_id"]},
        {"post_id": post["post_id"]},
        {"post_id": post["post_id"]},
        {"notification_id": notice["notification_id"]},
    ]
    assert asset_1["asset_id"] != asset_2["asset_id"]
    assert live["status"] == "live"
    assert stats["assets"] == {SLUG: 2}
    assert stats["posts"] == {SLUG: 1}
    assert stats["publishes"] == {SLUG: 1}
    assert stats["live"] == {SLUG: 1}
    assert stats["notifications"] == {SLUG: 1}


async def test_fatal_failure_before_live_removes_post_and_assets_once(
    database_url: str, forbidding_cms: BackgroundProvider
) -> None:
    async with open_content_agent(settings(database_url, forbidding_cms)) as agent:
        [status] = await agent.run(["solar panels"])
        assert status.status in ("failed", "dead_lettered", "compensated"), status
        before = fetch_stats(forbidding_cms.base_url)
        ctx = agent.runner.ctx
        if status.status != "compensated":  # until the runner compensates by itself
            assert before["posts"] == {SLUG: 1}
            assert before["assets"] == {SLUG: 2}
            assert await compensate(ctx, SLUG) == 3
        assert await compensate(ctx, SLUG) == 0, "compensations run once"
        effects = await EffectLedger(ctx.pool).list(SLUG)
        events = await EventLog(ctx.pool).list(SLUG, kinds=["compensated"])
    stats = fetch_stats(forbidding_cms.base_url)
    assert stats["posts"] == {}
    assert stats["assets"] == {}
    assert stats["live"] == {}
    assert stats["post_deletes"] == {SLUG: 1}
    assert stats["asset_deletes"] == {SLUG: 2}
    assert stats["notifications"] == {}
    statuses = [(e.name, e.status) for e in effects]
    assert statuses == [
        ("upload_asset", "compensated"),
        ("upload_asset", "compensated"),
        ("create_post", "compensated"),
        ("set_live", "claimed"),  # refused by the CMS: nothing to undo
    ]
    assert [e.data["effect"] for e in events] == ["create_post", "upload_asset", "upload_asset"]
