"""Deterministic text helpers: hashing, topic extraction, prose, titles and token estimates.

Everything here is a pure function of its arguments, so the provider gives the same answer to the
same request whatever the time or the order of requests.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9'-]*[A-Za-z0-9]|[A-Za-z]")
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_TOPIC_RE = re.compile(
    r"\b(?:keyword|topic|subject|query|about|on)\s*[:=]\s*[\"'“]?([^\"'”\n.;:!?]{2,80})",
    re.IGNORECASE,
)
_QUOTED_RE = re.compile(r"[\"“']([^\"”'\n]{3,80})[\"”']")
_LENGTH_RE = re.compile(r"\b(\d{2,4})\s*(?:-|to|–)?\s*(\d{2,4})?\s*words\b", re.IGNORECASE)

_STOPWORDS_TEXT = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    me more most my no nor not now of off on once only or other our ours out over own same she
    should so some such than that the their theirs them then there these they this those through
    to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself via per etc may might must shall within without around near
    across toward towards among along behind beyond despite onto upon yet"""
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
# Words of instruction rather than of topic: a prompt says "write a section", not about writing.
_INSTRUCTION_TEXT = """
    write rewrite return give provide list create generate produce plan keyword keywords
    article articles section sections json schema words word following based using use please
    make respond answer output format formatted markdown text paragraph paragraphs short long
    concise brief detailed summary summarize summarise draft title titles heading headings
    outline outlines reply include includes including each exactly least most only one two three
    four five six seven eight nine ten step steps task tasks instructions instruction assistant
    user system role content given below above field fields value values string strings object
    objects array key keys note notes sentence sentences query queries search results result
    topic subject items item number numbers new should must need needs want tell explain
    describe discuss show help find get know think like create draft compose suggest propose
    review check edit improve rewrite fact facts claim claims verify seo meta description
    hello hi hey thanks thank dear"""
_INSTRUCTION_WORDS = frozenset(_INSTRUCTION_TEXT.split())

# Generic aspects of almost any topic, used when the prompt offers too few words of its own.
_ASPECTS = (
    "cost",
    "maintenance",
    "installation",
    "efficiency",
    "reliability",
    "long-term value",
    "safety",
    "local rules",
)


def digest(*parts: object) -> bytes:
    """Return a SHA-256 digest of ``parts`` serialised as canonical JSON."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).digest()


def hexdigest(*parts: object, length: int = 24) -> str:
    """Return the first ``length`` hex characters of :func:`digest`."""
    return digest(*parts).hex()[:length]


def rng_for(*parts: object) -> random.Random:
    """Return a ``random.Random`` seeded from the digest of ``parts``."""
    return random.Random(int.from_bytes(digest(*parts), "big"))


def unit_interval(*parts: object) -> float:
    """Return a deterministic float in ``[0, 1)`` derived from ``parts``."""
    return int.from_bytes(digest(*parts)[:8], "big") / 2**64


def count_tokens(text: str) -> int:
    """Approximate a token count: one token per word or punctuation mark."""
    return len(_TOKEN_RE.findall(text))


def words_of(text: str) -> list[str]:
    """Split ``text`` into lowercase words (letters, digits, inner hyphens and apostrophes)."""
    return [w.lower() for w in _WORD_RE.findall(text)]


def content_words(text: str) -> list[str]:
    """Return the words of ``text`` that carry topic, most frequent first, ties by first use."""
    words = [
        w
        for w in words_of(text)
        if w not in _STOPWORDS and w not in _INSTRUCTION_WORDS and len(w) > 2 and not w.isdigit()
    ]
    counts = Counter(words)
    first = {w: i for i, w in reversed(list(enumerate(words)))}
    return sorted(counts, key=lambda w: (-counts[w], first[w]))


@dataclass(frozen=True)
class Topic:
    """What a prompt is about: a short phrase plus a pool of content words."""

    phrase: str
    words: tuple[str, ...]

    @property
    def aspects(self) -> tuple[str, ...]:
        """Content words outside the phrase, padded with generic aspects (at least four)."""
        own = [w for w in self.words if w not in self.phrase.split()]
        padding = [a for a in _ASPECTS if a not in own]
        return tuple(own + padding[: max(0, 4 - len(own))])

    @property
    def title(self) -> str:
        """The phrase in title case."""
        return title_case(self.phrase)

    @property
    def slug(self) -> str:
        """The phrase as lowercase words joined by hyphens."""
        return slugify(self.phrase)

    def word(self, index: int) -> str:
        """Return a content word, cycling through the pool."""
        return self.words[index % len(self.words)]


def extract_topic(text: str) -> Topic:
    """Find the topic of a prompt: an explicit ``keyword: ...`` phrase, a quoted phrase, or the
    most frequent content words."""
    pool = content_words(text)
    phrase = ""
    match = _TOPIC_RE.search(text) or _QUOTED_RE.search(text)
    if match:
        candidate = " ".join(words_of(match.group(1))[:6])
        if any(w not in _STOPWORDS for w in candidate.split()):
            phrase = candidate
    if not phrase:
        phrase = _leading_phrase(text, pool)
    if not phrase:
        phrase = "the topic"
    phrase_words = [w for w in phrase.split() if w not in _STOPWORDS]
    ordered = list(dict.fromkeys([*phrase_words, *pool]))
    if len(ordered) < 3:
        ordered.extend(w for w in _ASPECTS if w not in ordered)
    return Topic(phrase=phrase, words=tuple(ordered[:24]))


def _leading_phrase(text: str, pool: Sequence[str]) -> str:
    """Return the first run of up to three adjacent content words among the top of ``pool``."""
    top = set(pool[:6])
    best: list[str] = []
    run: list[str] = []
    for word in words_of(text):
        if word in top:
            run.append(word)
            if len(run) > len(best):
                best = run[:3]
        else:
            run = []
    return " ".join(best)


def title_case(phrase: str) -> str:
    """Capitalise each word except short joiners (but always the first)."""
    small = {"a", "an", "and", "or", "the", "of", "for", "in", "on", "to", "vs"}
    parts = phrase.split()
    return " ".join(
        p if (i and p in small) else (p[:1].upper() + p[1:]) for i, p in enumerate(parts)
    )


def slugify(text: str) -> str:
    """Lowercase ``text`` and join its alphanumeric runs with hyphens."""
    slug = "-".join(re.findall(r"[a-z0-9]+", text.lower()))
    return slug or "item"


def requested_length(text: str, rng: random.Random) -> int:
    """Return the word count asked for in ``text`` (``"300 words"``, ``"80-120 words"``),
    or a number between 70 and 120."""
    match = _LENGTH_RE.search(text)
    if match:
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        return max(20, min(1500, (low + high) // 2))
    return rng.randint(70, 120)


_SENTENCES = (
    "{T} has become a practical concern for anyone weighing {a} against {b}.",
    "People who adopt {t} early often find that {a} matters more than {b} at first.",
    "A careful look at {t} shows that {a}, {b} and {c} tend to move together.",
    "Costs around {t} vary widely, yet recent surveys put typical savings near {n} percent.",
    "A sensible plan starts small with {a}, measures the results, and only then scales {b}.",
    "Good preparation around {t} lowers risk and keeps {a} predictable.",
    "A shift in {a} usually affects {t} within {m} months.",
    "Most guides to {t} agree that {a} is the first thing to get right.",
    "The strongest case for {t} rests on {a}, while the main caveat is {b}.",
    "Newcomers to {t} should compare at least {k} options for {a} before deciding.",
    "In practice, {a} and {b} decide whether {t} pays off for a given household or team.",
    "Independent reviews of {t} rate {a} highly but warn that {b} needs regular attention.",
    "Over a period of {m} months, steady attention to {c} makes {t} noticeably easier.",
    "Nobody needs to master {b} on day one; understanding {a} covers most of {t}.",
)


def prose(topic: Topic, rng: random.Random, target_words: int) -> str:
    """Return readable sentences about ``topic`` of roughly ``target_words`` words."""
    sentences: list[str] = []
    total = 0
    order = list(range(len(_SENTENCES)))
    rng.shuffle(order)
    i = 0
    while total < target_words:
        template = _SENTENCES[order[i % len(order)]]
        a, b, c = rng.sample(topic.aspects, k=3)
        sentence = template.format(
            T=_capitalise(topic.phrase),
            t=topic.phrase,
            a=a,
            b=b,
            c=c,
            n=rng.randint(8, 42),
            m=rng.randint(2, 18),
            k=rng.randint(2, 5),
        )
        sentences.append(_capitalise(sentence))
        total += len(sentence.split())
        i += 1
    return " ".join(sentences)


def short_phrase(topic: Topic, rng: random.Random, index: int) -> str:
    """Return a short search-style phrase about ``topic`` (varies with ``index``)."""
    tails = ("guide", "costs", "benefits", "best practices", "statistics", "pros and cons")
    aspects = topic.aspects
    extra = aspects[(index + rng.randrange(len(aspects))) % len(aspects)]
    return f"{topic.phrase} {extra} {tails[index % len(tails)]}"


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]
