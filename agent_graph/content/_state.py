"""Typed state of the content agent (pydantic models; descriptions show in LangGraph Studio)."""

from __future__ import annotations

import operator
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def normalise_keyword(value: str) -> str:
    """Collapse whitespace; refuse a keyword that is only whitespace."""
    value = " ".join(value.split())
    if not value:
        raise ValueError("keyword must contain at least one non-space character")
    return value


class ArticleRequest(BaseModel):
    """What a run of the content agent is asked for: one keyword."""

    model_config = ConfigDict(extra="forbid")

    keyword: str = Field(
        description="The keyword or topic the article is written for, e.g. 'solar panels'.",
        min_length=1,
        max_length=200,
    )

    @field_validator("keyword")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return normalise_keyword(value)


class SearchPlan(BaseModel):
    """Search queries the agent plans to run for a keyword."""

    queries: list[str] = Field(description="Three distinct web search queries.")


class Source(BaseModel):
    """One search result."""

    url: str = Field(description="Address of the page.")
    title: str = Field(description="Title shown by the search engine.")
    snippet: str = Field(default="", description="Excerpt shown by the search engine.")


class Page(BaseModel):
    """A scraped page reduced to plain text."""

    url: str
    title: str
    text: str = Field(description="Visible text of the page, tags removed.")


class Note(BaseModel):
    """Research notes taken from one source."""

    url: str = Field(default="", description="The source the notes come from.")
    summary: str = Field(description="Two or three sentences on what the source says.")
    facts: list[str] = Field(description="Checkable facts found in the source.")


class OutlineSection(BaseModel):
    """One section of the planned article."""

    heading: str = Field(description="Section heading.")
    points: list[str] = Field(description="Points the section must make.")


class Outline(BaseModel):
    """The article's plan: a title and its sections."""

    title: str = Field(description="Working title of the article.")
    sections: list[OutlineSection] = Field(description="Three to five sections, in order.")


class Section(BaseModel):
    """A drafted section."""

    index: int = Field(description="Position of the section in the outline.")
    heading: str
    body: str = Field(description="The section's text in Markdown.")


class FactCheck(BaseModel):
    """Result of checking the draft against the research notes."""

    verdict: Literal["pass", "revise"] = Field(description="Whether the draft can go on.")
    issues: list[str] = Field(description="Claims that are not supported by the notes.")


class SeoMetadata(BaseModel):
    """Search-engine metadata for the article."""

    slug: str = Field(description="URL slug, lowercase words joined by hyphens.")
    meta_description: str = Field(description="One-sentence description for result pages.")
    keywords: list[str] = Field(description="Secondary keywords.")


class QualityReport(BaseModel):
    """The quality gate's verdict."""

    score: int = Field(description="0-100; 60 or more passes.")
    passed: bool
    reasons: list[str] = Field(default_factory=list)


class Article(BaseModel):
    """The finished article."""

    keyword: str
    title: str
    slug: str
    markdown: str
    meta_description: str
    keywords: list[str]
    word_count: int


class Publication(BaseModel):
    """Where the article went live."""

    post_id: str
    slug: str
    status: str


class ContentState(BaseModel):
    """Everything the content agent knows about one keyword, checkpointed after every step."""

    keyword: str = Field(
        description="The keyword the article is written for.", min_length=1, max_length=200
    )
    queries: list[str] = Field(default_factory=list, description="Planned search queries.")
    results: list[Source] = Field(default_factory=list, description="Search results, all queries.")
    sources: list[Source] = Field(default_factory=list, description="Sources chosen to be read.")
    pages: list[Page] = Field(default_factory=list, description="Scraped text of the sources.")
    notes: Annotated[list[Note], operator.add] = Field(
        default_factory=list, description="Notes taken per source (written in parallel)."
    )
    brief: str = Field(default="", description="Research brief summarising the notes.")
    outline: Outline | None = Field(default=None, description="Title and section plan.")
    sections: Annotated[list[Section], operator.add] = Field(
        default_factory=list, description="Drafted sections (written in parallel)."
    )
    draft: str = Field(default="", description="Sections assembled into one Markdown draft.")
    fact_check: FactCheck | None = Field(default=None, description="Fact-check verdict.")
    edited: str = Field(default="", description="The edited article text.")
    seo: SeoMetadata | None = Field(default=None, description="Slug and meta description.")
    quality: QualityReport | None = Field(default=None, description="Quality gate verdict.")
    revisions: int = Field(default=0, description="Edits made after a failed quality gate.")
    article: Article | None = Field(default=None, description="The finished article.")
    publication: Publication | None = Field(default=None, description="The CMS post.")
    notified: bool = Field(default=False, description="Whether subscribers were notified.")

    @field_validator("keyword")
    @classmethod
    def _keyword_not_blank(cls, value: str) -> str:
        return normalise_keyword(value)


class NoteTask(BaseModel):
    """Input of one parallel note-taking task."""

    keyword: str
    page: Page


class SectionTask(BaseModel):
    """Input of one parallel section-drafting task."""

    keyword: str
    title: str
    brief: str
    index: int
    section: OutlineSection
