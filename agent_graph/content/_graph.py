"""The content agent's graph: about twenty steps from a keyword to a published article."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from policies import OperationKind

from ._nodes import ContentNodes
from ._publishing import PublishingNodes, PublishingState
from ._services import ContentServices
from ._state import ArticleRequest, NoteTask, SectionTask

#: Operation kind of each node: selects its retry policy.
NODE_KINDS: dict[str, OperationKind] = {
    "plan_queries": "llm",
    "search": "http",
    "select_sources": "tool",
    "scrape_sources": "http",
    "take_notes": "llm",
    "research_brief": "llm",
    "outline": "llm",
    "draft_section": "llm",
    "assemble": "tool",
    "fact_check": "llm",
    "edit": "llm",
    "seo_metadata": "llm",
    "quality_gate": "tool",
    "persist_article": "db",
    "upload_assets": "http",
    "create_post": "http",
    "set_live": "http",
    "notify": "http",
}

GRAPH_NAME = "content_agent"


def build_content_graph(services: ContentServices) -> StateGraph[Any, Any, Any, Any]:
    """Build the (uncompiled) content agent graph.

    Args:
        services: the endpoints the agent talks to.

    Returns:
        A ``StateGraph`` over :class:`PublishingState` (the content state plus the uploaded
        assets) with input :class:`ArticleRequest`; wrap it
        with :func:`agent_graph.make_durable` and compile it with a durable saver.
    """
    nodes = ContentNodes(services)
    publishing = PublishingNodes(services)  # also registers the publishing compensations
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(
        PublishingState, input_schema=ArticleRequest
    )
    builder.add_node("plan_queries", nodes.plan_queries)
    builder.add_node("search", nodes.search)
    builder.add_node("select_sources", nodes.select_sources)
    builder.add_node("scrape_sources", nodes.scrape_sources)
    builder.add_node("take_notes", nodes.take_notes, input_schema=NoteTask)
    builder.add_node("research_brief", nodes.research_brief)
    builder.add_node("outline", nodes.outline)
    builder.add_node("draft_section", nodes.draft_section, input_schema=SectionTask)
    builder.add_node("assemble", nodes.assemble)
    builder.add_node("fact_check", nodes.fact_check)
    builder.add_node("edit", nodes.edit)
    builder.add_node("seo_metadata", nodes.seo_metadata)
    builder.add_node("quality_gate", nodes.quality_gate)
    builder.add_node("persist_article", nodes.persist_article)
    builder.add_node("upload_assets", publishing.upload_assets)
    builder.add_node("create_post", publishing.create_post)
    builder.add_node("set_live", publishing.set_live)
    builder.add_node("notify", publishing.notify)

    builder.add_edge(START, "plan_queries")
    builder.add_edge("plan_queries", "search")
    builder.add_edge("search", "select_sources")
    builder.add_edge("select_sources", "scrape_sources")
    builder.add_conditional_edges(
        "scrape_sources", nodes.fan_out_notes, ["take_notes", "research_brief"]
    )
    builder.add_edge("take_notes", "research_brief")
    builder.add_edge("research_brief", "outline")
    builder.add_conditional_edges("outline", nodes.fan_out_sections, ["draft_section", "assemble"])
    builder.add_edge("draft_section", "assemble")
    builder.add_edge("assemble", "fact_check")
    builder.add_edge("fact_check", "edit")
    builder.add_edge("edit", "seo_metadata")
    builder.add_edge("seo_metadata", "quality_gate")
    builder.add_conditional_edges(
        "quality_gate", nodes.after_quality_gate, ["edit", "persist_article"]
    )
    builder.add_edge("persist_article", "upload_assets")
    builder.add_edge("upload_assets", "create_post")
    builder.add_edge("create_post", "set_live")
    builder.add_edge("set_live", "notify")
    builder.add_edge("notify", END)
    return builder
