"""The content agent of the article: one keyword in, one published article out."""

from ._graph import GRAPH_NAME, NODE_KINDS, build_content_graph
from ._nodes import slugify
from ._services import ContentServices, LlmSettings
from ._state import Article, ArticleRequest, ContentState

__all__ = [
    "GRAPH_NAME",
    "NODE_KINDS",
    "Article",
    "ArticleRequest",
    "ContentServices",
    "ContentState",
    "LlmSettings",
    "build_content_graph",
    "slugify",
]
