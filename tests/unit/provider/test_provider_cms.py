"""The in-memory CMS and notification webhook, and their idempotency keys."""

from __future__ import annotations

import httpx

from agent_graph.provider import fetch_stats

POST = {"slug": "kites", "title": "Kites", "markdown": "# Kites\n\nFly them.", "meta": {"a": 1}}


def test_create_post_with_the_same_key_twice_creates_one_post(offline: str) -> None:
    headers = {"Idempotency-Key": "thread-1:persist"}
    first = httpx.post(f"{offline}/cms/posts", json=POST, headers=headers)
    assert first.status_code == 201
    created = first.json()
    assert created["slug"] == "kites"
    assert created["status"] == "draft"
    again = httpx.post(f"{offline}/cms/posts", json=dict(reversed(POST.items())), headers=headers)
    assert again.status_code == 200
    assert again.json() == created
    assert fetch_stats(offline)["posts"] == {"kites": 1}
    found = httpx.get(f"{offline}/cms/posts", params={"idempotency_key": "thread-1:persist"})
    assert [p["post_id"] for p in found.json()["posts"]] == [created["post_id"]]
    assert httpx.get(f"{offline}/cms/posts", params={"idempotency_key": "other"}).json() == {
        "posts": []
    }


def test_same_key_with_another_body_is_rejected(offline: str) -> None:
    headers = {"Idempotency-Key": "k1"}
    assert httpx.post(f"{offline}/cms/posts", json=POST, headers=headers).status_code == 201
    changed = {**POST, "title": "Other"}
    response = httpx.post(f"{offline}/cms/posts", json=changed, headers=headers)
    assert response.status_code == 422
    assert "different request body" in response.json()["error"]["message"]
    assert fetch_stats(offline)["posts"] == {"kites": 1}


def test_without_a_key_each_request_acts(offline: str) -> None:
    for _ in range(2):
        assert httpx.post(f"{offline}/cms/posts", json=POST).status_code == 201
    assert fetch_stats(offline)["posts"] == {"kites": 2}
    listed = httpx.get(f"{offline}/cms/posts", params={"slug": "kites"}).json()["posts"]
    assert len(listed) == 2


def test_publish_lifecycle_and_counters(offline: str) -> None:
    post_id = httpx.post(f"{offline}/cms/posts", json=POST).json()["post_id"]
    publish = f"{offline}/cms/posts/{post_id}/publish"
    headers = {"Idempotency-Key": "pub-1"}
    assert httpx.post(publish, headers=headers).status_code == 200
    replay = httpx.post(publish, headers=headers)
    assert replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"
    stats = fetch_stats(offline)
    assert stats["publishes"] == {"kites": 2}  # every publish request counts
    assert stats["live"] == {"kites": 1}
    assert httpx.get(f"{offline}/cms/posts/{post_id}").json()["status"] == "live"
    assert httpx.post(f"{offline}/cms/posts/{post_id}/unpublish").json()["status"] == "unpublished"
    assert fetch_stats(offline)["live"] == {}
    assert httpx.delete(f"{offline}/cms/posts/{post_id}").status_code == 200
    assert httpx.get(f"{offline}/cms/posts/{post_id}").status_code == 404
    assert httpx.post(publish).status_code == 404
    assert fetch_stats(offline)["posts"] == {}


def test_assets(offline: str) -> None:
    asset = {"slug": "kites", "name": "hero.png", "content_type": "image/png", "data": "aGk="}
    created = httpx.post(f"{offline}/cms/assets", json=asset, headers={"Idempotency-Key": "a"})
    assert created.status_code == 201
    asset_id = created.json()["asset_id"]
    assert created.json() == {"asset_id": asset_id, "slug": "kites", "name": "hero.png"}
    listed = httpx.get(f"{offline}/cms/assets", params={"slug": "kites"}).json()["assets"]
    assert [a["asset_id"] for a in listed] == [asset_id]
    post = {**POST, "asset_ids": [asset_id]}
    assert httpx.post(f"{offline}/cms/posts", json=post).status_code == 201
    unknown = {**POST, "asset_ids": ["asset_missing"]}
    assert httpx.post(f"{offline}/cms/posts", json=unknown).status_code == 422
    assert fetch_stats(offline)["assets"] == {"kites": 1}
    assert httpx.delete(f"{offline}/cms/assets/{asset_id}").status_code == 200
    assert httpx.delete(f"{offline}/cms/assets/{asset_id}").status_code == 404
    assert fetch_stats(offline)["assets"] == {}


def test_validation_errors(offline: str) -> None:
    missing = httpx.post(f"{offline}/cms/posts", json={"slug": "kites"})
    assert missing.status_code == 422
    assert missing.json()["error"]["param"] == "title"
    assert httpx.post(f"{offline}/cms/posts", content=b"[1]").status_code == 400
    assert httpx.post(f"{offline}/notify", json={"channel": "ops"}).status_code == 422


def test_notify_and_retract(offline: str) -> None:
    note = {"channel": "ops", "slug": "kites", "text": "Kites is live"}
    headers = {"Idempotency-Key": "n1"}
    created = httpx.post(f"{offline}/notify", json=note, headers=headers)
    assert created.status_code == 201
    assert httpx.post(f"{offline}/notify", json=note, headers=headers).json() == created.json()
    notification_id = created.json()["notification_id"]
    for _ in range(2):
        retract = httpx.post(f"{offline}/notify/{notification_id}/retract")
        assert retract.json() == {"notification_id": notification_id, "retracted": True}
    stats = fetch_stats(offline)
    assert stats["notifications"] == {"kites": 1}
    assert stats["retractions"] == {"kites": 1}
    assert httpx.post(f"{offline}/notify/ntf_missing/retract").status_code == 404


def test_reset_clears_cms_state(offline: str) -> None:
    headers = {"Idempotency-Key": "k"}
    httpx.post(f"{offline}/cms/posts", json=POST, headers=headers)
    httpx.post(f"{offline}/_reset")
    assert fetch_stats(offline)["posts"] == {}
    assert httpx.post(f"{offline}/cms/posts", json=POST, headers=headers).status_code == 201
