"""The steps of the content agent, one coroutine per node."""

from __future__ import annotations

import re
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Send

from checkpointers import ArticleStore

from .._errors import ConfigurationError
from ..runtime import durable_context
from ._services import ContentServices
from ._state import (
    Article,
    ContentState,
    FactCheck,
    Note,
    NoteTask,
    Outline,
    QualityReport,
    SearchPlan,
    Section,
    SectionTask,
    SeoMetadata,
    Source,
)

MAX_SOURCES = 4
MAX_SECTIONS = 5
PASS_SCORE = 60
EDITOR = "You are a careful editor of a content team. Be concise and factual."


def slugify(text: str) -> str:
    """Lowercase words joined by hyphens, at most 80 characters."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "article"


class ContentNodes:
    """Node functions of the content agent, bound to the services they call.

    Args:
        services: the LLM, search, web, CMS and notification endpoints.
    """

    def __init__(self, services: ContentServices) -> None:
        self.services = services

    async def plan_queries(self, state: ContentState, config: RunnableConfig) -> dict[str, Any]:
        plan = await self.services.ask_structured(
            SearchPlan,
            EDITOR,
            f"Plan three web search queries to research an article about: {state.keyword}",
            config,
        )
        queries = [q.strip() for q in plan.queries if q.strip()][:3] or [state.keyword]
        return {"queries": queries}

    async def search(self, state: ContentState) -> dict[str, Any]:
        results: list[Source] = []
        for query in state.queries:
            results.extend(await self.services.search(query))
        return {"results": results}

    async def select_sources(self, state: ContentState) -> dict[str, Any]:
        seen: set[str] = set()
        chosen: list[Source] = []
        for source in state.results:
            if source.url not in seen:
                seen.add(source.url)
                chosen.append(source)
        return {"sources": chosen[:MAX_SOURCES]}

    async def scrape_sources(self, state: ContentState) -> dict[str, Any]:
        return {"pages": [await self.services.fetch_page(s) for s in state.sources]}

    @staticmethod
    def fan_out_notes(state: ContentState) -> list[Send]:
        """One note-taking task per scraped page."""
        tasks = [Send("take_notes", NoteTask(keyword=state.keyword, page=p)) for p in state.pages]
        return tasks or [Send("research_brief", state)]

    async def take_notes(self, state: NoteTask, config: RunnableConfig) -> dict[str, Any]:
        note = await self.services.ask_structured(
            Note,
            EDITOR,
            f"Take research notes for an article about {state.keyword} from this page.\n"
            f"Title: {state.page.title}\n\n{state.page.text[:2500]}",
            config,
        )
        return {"notes": [note.model_copy(update={"url": state.page.url})]}

    async def research_brief(self, state: ContentState, config: RunnableConfig) -> dict[str, Any]:
        notes = "\n".join(f"- {n.summary} Facts: {'; '.join(n.facts)}" for n in state.notes)
        brief = await self.services.ask(
            EDITOR,
            f"Write a research brief for an article about {state.keyword} from these notes:\n"
            f"{notes}",
            config,
        )
        return {"brief": brief}

    async def outline(self, state: ContentState, config: RunnableConfig) -> dict[str, Any]:
        outline = await self.services.ask_structured(
            Outline,
            EDITOR,
            f"Outline an article with 3 to 5 sections.\nTopic: {state.keyword}\n"
            f"Brief:\n{state.brief}",
            config,
        )
        sections = outline.sections[:MAX_SECTIONS]
        return {"outline": outline.model_copy(update={"sections": sections})}

    @staticmethod
    def fan_out_sections(state: ContentState) -> list[Send]:
        """One drafting task per outline section."""
        assert state.outline is not None
        return [
            Send(
                "draft_section",
                SectionTask(
                    keyword=state.keyword,
                    title=state.outline.title,
                    brief=state.brief,
                    index=i,
                    section=section,
                ),
            )
            for i, section in enumerate(state.outline.sections)
        ] or [Send("assemble", state)]

    async def draft_section(self, state: SectionTask, config: RunnableConfig) -> dict[str, Any]:
        body = await self.services.ask(
            EDITOR,
            f"Write the section '{state.section.heading}' of the article '{state.title}' about "
            f"{state.keyword}. Make these points: {'; '.join(state.section.points)}.\n"
            f"Brief:\n{state.brief}",
            config,
        )
        return {"sections": [Section(index=state.index, heading=state.section.heading, body=body)]}

    async def assemble(self, state: ContentState) -> dict[str, Any]:
        title = state.outline.title if state.outline else state.keyword.title()
        parts = [f"# {title}"]
        for section in sorted(state.sections, key=lambda s: s.index):
            parts.append(f"## {section.heading}\n\n{section.body.strip()}")
        return {"draft": "\n\n".join(parts)}

    async def fact_check(self, state: ContentState, config: RunnableConfig) -> dict[str, Any]:
        facts = "\n".join(f"- {fact}" for note in state.notes for fact in note.facts)
        verdict = await self.services.ask_structured(
            FactCheck,
            EDITOR,
            f"Fact-check this draft against the notes.\nNotes:\n{facts}\n\nDraft:\n{state.draft}",
            config,
        )
        return {"fact_check": verdict}

    async def edit(self, state: ContentState, config: RunnableConfig) -> dict[str, Any]:
        issues = state.fact_check.issues if state.fact_check else []
        source = state.edited or state.draft
        edited = await self.services.ask(
            EDITOR,
            f"Edit this article about {state.keyword} for clarity. Fix: {'; '.join(issues)}.\n\n"
            f"{source}",
            config,
        )
        title = state.outline.title if state.outline else state.keyword.title()
        text = edited.strip()
        body = source if len(text) < 40 else f"{source}\n\n## Editor's summary\n\n{text}"
        if not body.startswith("#"):
            body = f"# {title}\n\n{body}"
        return {"edited": body, "revisions": state.revisions + (1 if state.edited else 0)}

    async def seo_metadata(self, state: ContentState, config: RunnableConfig) -> dict[str, Any]:
        seo = await self.services.ask_structured(
            SeoMetadata,
            EDITOR,
            f"Write SEO metadata for an article about {state.keyword}:\n{state.edited[:1500]}",
            config,
        )
        return {"seo": seo.model_copy(update={"slug": slugify(state.keyword)})}

    async def quality_gate(self, state: ContentState) -> dict[str, Any]:
        words = len(state.edited.split())
        reasons: list[str] = []
        score = min(100, 40 + words // 10)
        if state.fact_check and state.fact_check.verdict == "revise":
            score -= 20
            reasons.append("fact-check asked for revisions")
        if words < 150:
            reasons.append(f"only {words} words")
        passed = score >= PASS_SCORE or state.revisions >= 1
        return {"quality": QualityReport(score=max(score, 0), passed=passed, reasons=reasons)}

    @staticmethod
    def after_quality_gate(state: ContentState) -> str:
        """Back to editing once when the gate fails, else on to persisting."""
        if state.quality is not None and not state.quality.passed:
            return "edit"
        return "persist_article"

    async def persist_article(self, state: ContentState, config: RunnableConfig) -> dict[str, Any]:
        assert state.seo is not None
        title = state.outline.title if state.outline else state.keyword.title()
        article = Article(
            keyword=state.keyword,
            title=title,
            slug=state.seo.slug,
            markdown=state.edited,
            meta_description=state.seo.meta_description,
            keywords=state.seo.keywords,
            word_count=len(state.edited.split()),
        )
        ctx = durable_context(config)
        if ctx is None:
            raise ConfigurationError(
                "persist_article needs the durable Postgres saver",
                hint="compile the graph with agent_graph.open_runtime(...) or the Studio factory",
            )
        thread_id = str(config.get("configurable", {}).get("thread_id", ""))
        await ArticleStore(ctx.pool).upsert(
            article.slug,
            thread_id,
            article.keyword,
            article.title,
            article.markdown,
            {"meta_description": article.meta_description, "keywords": article.keywords},
        )
        return {"article": article}
