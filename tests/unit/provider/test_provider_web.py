"""Simulated search and web pages."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from agent_graph.provider import fetch_stats

StartProvider = Callable[..., str]


def test_search_returns_links_to_this_servers_pages(offline: str) -> None:
    body = httpx.get(f"{offline}/search", params={"q": "solar panels cost", "n": 4}).json()
    assert body["query"] == "solar panels cost"
    results = body["results"]
    assert len(results) == 4
    assert len({r["url"] for r in results}) == 4
    assert len({r["title"] for r in results}) == 4
    for result in results:
        assert result["url"].startswith(f"{offline}/pages/solar-panels-cost-")
        assert "Solar Panels Cost" in result["title"]
        assert "solar panels cost" in result["snippet"]
    assert len(httpx.get(f"{offline}/search", params={"q": "kites"}).json()["results"]) == 5


def test_search_is_deterministic_per_seed_and_query(start_offline: StartProvider) -> None:
    def titles(base: str, query: str) -> list[str]:
        found = httpx.get(f"{base}/search", params={"q": query}).json()["results"]
        return [r["title"] + r["snippet"] for r in found]

    first, second, other = start_offline(), start_offline(), start_offline(seed=5)
    assert titles(first, "kites") == titles(second, "kites")
    assert titles(first, "kites") != titles(first, "gliders")
    assert titles(first, "kites") != titles(other, "kites")


def test_pages_render_html_about_the_topic(offline: str) -> None:
    result = httpx.get(f"{offline}/search", params={"q": "heat pumps"}).json()["results"][0]
    page = httpx.get(result["url"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert f"<title>{result['title']}</title>" in html
    assert html.count("<p>") >= 4
    assert html.count("heat pumps") >= 5
    assert "<li>" in html
    assert httpx.get(result["url"]).text == html


def test_bad_search_and_page_requests(offline: str) -> None:
    assert httpx.get(f"{offline}/search").status_code == 400
    assert httpx.get(f"{offline}/search", params={"q": "x", "n": 0}).status_code == 400
    assert httpx.get(f"{offline}/search", params={"q": "x", "n": "many"}).status_code == 400
    assert httpx.get(f"{offline}/pages/NOT_A_PAGE").status_code == 404


def test_search_and_page_counters(offline: str) -> None:
    url = httpx.get(f"{offline}/search", params={"q": "kites"}).json()["results"][0]["url"]
    httpx.get(url)
    httpx.get(f"{offline}/pages/nope")
    stats = fetch_stats(offline)
    assert (stats["searches"], stats["searches_ok"]) == (1, 1)
    assert (stats["page_fetches"], stats["page_fetches_ok"]) == (2, 1)
    assert httpx.post(f"{offline}/_reset").status_code == 200
    assert fetch_stats(offline)["searches"] == 0
