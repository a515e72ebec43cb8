"""Simulated web search and web pages, deterministic per (seed, query) and (seed, page id).

A page id carries its own topic (``solar-panels-3a41c09d``: topic words, then an angle digit and a
hash), so any page renders without server state and survives restarts.
"""

from __future__ import annotations

import html
import random
import re
from dataclasses import dataclass

from agent_graph.provider._text import (
    Topic,
    extract_topic,
    hexdigest,
    prose,
    rng_for,
    slugify,
)

MAX_RESULTS = 20
_PAGE_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*-(?P<angle>[0-9a-f])(?P<hash>[0-9a-f]{7})$")
_ANGLES = (
    "{T}: A Practical Guide",
    "What to Know About {T} in {Y}",
    "{T} Costs and Savings Explained",
    "{T}: Pros and Cons",
    "How {T} Works",
    "The {T} Checklist",
    "{T} by the Numbers",
    "Common Mistakes with {T}",
    "{T} for Beginners",
    "Is {T} Worth It?",
    "{T}: Expert Answers to Common Questions",
    "A Buyer's Guide to {T}",
)
_FACTS = (
    "According to a {y} industry survey, {p}% of people researching {t} named {a} "
    "as their main concern.",
    "Typical {t} projects take {w} weeks from the first quote to completion.",
    "The average price linked to {t} fell by {q}% between {y0} and {y}.",
    "Keeping {t} in good shape costs about ${c} per year, mostly for {a}.",
    "Roughly {x} in {z} owners say {a} improved after they adopted {t}.",
    "Analysts expect demand for {t} to grow by {q}% a year through {y2}.",
    "A {y} study of {n} households found that {b} was the factor most often overlooked.",
)


@dataclass(frozen=True)
class Page:
    """A rendered page: its title and paragraphs, plus a list of short facts."""

    page_id: str
    title: str
    paragraphs: tuple[str, ...]
    facts: tuple[str, ...]

    @property
    def snippet(self) -> str:
        """The first 30 words of the page, for search results."""
        words = self.paragraphs[0].split()
        return " ".join(words[:30]) + ("..." if len(words) > 30 else "")

    def html(self) -> str:
        """The page as a small HTML document."""
        esc = html.escape
        body = "\n".join(f"<p>{esc(p)}</p>" for p in self.paragraphs[:2])
        facts = "\n".join(f"<li>{esc(f)}</li>" for f in self.facts)
        rest = "\n".join(f"<p>{esc(p)}</p>" for p in self.paragraphs[2:])
        return (
            '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{esc(self.title)}</title>\n"
            f'<meta name="description" content="{esc(self.snippet)}">\n</head>\n<body>\n'
            f"<article>\n<h1>{esc(self.title)}</h1>\n{body}\n<h2>Key facts</h2>\n<ul>\n{facts}\n"
            f"</ul>\n{rest}\n</article>\n</body>\n</html>\n"
        )


def search(seed: int, query: str, n: int) -> list[tuple[str, Page]]:
    """Return ``n`` (page id, page) results for ``query``."""
    topic = extract_topic(f"topic: {query}")
    offset = int(hexdigest(seed, "angles", query, length=8), 16)
    results: list[tuple[str, Page]] = []
    for index in range(n):
        angle = (offset + index) % len(_ANGLES)
        token = int(f"{angle:x}{hexdigest(seed, query, index, length=7)}", 16)
        ident = page_id(topic.phrase, token)
        page = render_page(seed, ident)
        if page is not None:
            results.append((ident, page))
    return results


def page_id(phrase: str, token: int) -> str:
    """A well-formed page id about ``phrase``; ``token`` picks the angle and the hash."""
    slug = "-".join(slugify(phrase).split("-")[:6])
    return f"{slug}-{token & 0xFFFFFFFF:08x}"


def render_page(seed: int, page_id: str) -> Page | None:
    """Return the page for ``page_id``, or None if the id is malformed."""
    match = _PAGE_ID_RE.match(page_id)
    if match is None or len(page_id) > 160:
        return None
    angle = int(match["angle"], 16) % len(_ANGLES)
    phrase = " ".join(page_id.split("-")[:-1])
    topic = extract_topic(f"topic: {phrase}")
    rng = rng_for(seed, "page", page_id)
    year = 2020 + rng.randint(0, 5)
    title = _ANGLES[angle].format(T=topic.title, Y=year)
    paragraphs = tuple(prose(topic, rng, rng.randint(45, 75)) for _ in range(4))
    facts = tuple(_fact(template, topic, rng, year) for template in rng.sample(_FACTS, k=4))
    return Page(page_id, title, paragraphs, facts)


def _fact(template: str, topic: Topic, rng: random.Random, year: int) -> str:
    return template.format(
        t=topic.phrase,
        a=rng.choice(topic.aspects),
        b=rng.choice(topic.aspects),
        y=year,
        y0=year - rng.randint(2, 6),
        y2=year + rng.randint(3, 8),
        p=rng.randint(18, 74),
        q=rng.randint(3, 29),
        w=rng.randint(2, 16),
        c=rng.randint(3, 60) * 10,
        x=rng.randint(1, 4),
        z=rng.choice((5, 10)),
        n=rng.randint(4, 30) * 100,
    )
