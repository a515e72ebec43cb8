"""Structured outputs: whatever schema a client sends, the content validates against it."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any, Literal

import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest
from pydantic import BaseModel, Field

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class Claim(BaseModel):
    text: str = Field(min_length=10)
    verdict: Literal["supported", "unsupported", "unclear"]
    confidence: float = Field(ge=0, le=1)
    sources: list[str] = Field(default_factory=list, max_length=2)


class Review(BaseModel):
    claims: list[Claim] = Field(min_length=1, max_length=5)
    needs_revision: bool
    approved: bool
    published_on: date | None = None
    word_count: int = Field(gt=0, lt=5000)


class Node(BaseModel):
    name: str
    children: list[Node] = Field(default_factory=list)


SCHEMAS: dict[str, dict[str, Any]] = {
    "pydantic_review": Review.model_json_schema(),
    "pydantic_recursive": Node.model_json_schema(),
    "numbers": {
        "type": "object",
        "properties": {
            "even": {"type": "integer", "minimum": 10, "maximum": 20, "multipleOf": 4},
            "open": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 2},
            "negative": {"type": "integer", "maximum": -5},
            "ratio": {"type": "number", "exclusiveMinimum": 0.5, "maximum": 0.6},
            "half": {"type": "number", "multipleOf": 0.5, "minimum": 1, "maximum": 3},
        },
        "required": ["even", "open", "negative", "ratio", "half"],
        "additionalProperties": False,
    },
    "strings": {
        "type": "object",
        "properties": {
            "slug": {"type": "string", "pattern": SLUG},
            "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2}$"},
            "short": {"type": "string", "maxLength": 5},
            "long": {"type": "string", "minLength": 300},
            "when": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date"},
            "email": {"type": "string", "format": "email"},
            "link": {"type": "string", "format": "uri"},
            "uid": {"type": "string", "format": "uuid"},
            "fixed": {"const": "v1"},
            "choice": {"enum": ["a", "b", None]},
        },
        "required": ["slug", "short", "long", "when", "day", "email", "link", "uid", "fixed"],
    },
    "arrays": {
        "type": "object",
        "properties": {
            "none": {"type": "array", "items": {"type": "string"}, "maxItems": 0},
            "one": {"type": "array", "items": {"type": "integer"}, "maxItems": 1},
            "five": {"type": "array", "items": {"type": "boolean"}, "minItems": 5},
            "pair": {
                "type": "array",
                "prefixItems": [{"type": "string"}, {"type": "integer"}],
                "items": False,
            },
            "unique": {
                "type": "array",
                "items": {"enum": ["x", "y", "z"]},
                "minItems": 3,
                "uniqueItems": True,
            },
        },
        "required": ["none", "one", "five", "pair", "unique"],
    },
    "combinators": {
        "type": "object",
        "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}}},
        "properties": {
            "nullable": {"type": ["string", "null"]},
            "either": {"oneOf": [{"type": "null"}, {"$ref": "#/$defs/Point"}]},
            "both": {
                "allOf": [
                    {"$ref": "#/$defs/Point"},
                    {"properties": {"y": {"type": "integer"}}, "required": ["y"]},
                ]
            },
            "mapping": {"type": "object", "additionalProperties": {"type": "integer"}},
            "untyped": {},
        },
        "required": ["nullable", "either", "both", "mapping", "untyped"],
    },
    "top_level_array": {"type": "array", "items": {"type": "string"}, "minItems": 2},
}


def structured(base: str, schema: dict[str, Any], prompt: str = "keyword: solar panels") -> Any:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": prompt}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": schema, "strict": False},
        },
    }
    response = httpx.post(f"{base}/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return json.loads(response.json()["choices"][0]["message"]["content"])


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_content_validates_against_the_schema(offline: str, name: str) -> None:
    schema = SCHEMAS[name]
    value = structured(offline, schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = [e.message for e in validator.iter_errors(value)]
    assert errors == []


def test_pydantic_models_validate_and_flags_lean_positive(offline: str) -> None:
    review = Review.model_validate(structured(offline, SCHEMAS["pydantic_review"]))
    assert review.approved is True
    assert review.needs_revision is False
    assert all(c.confidence >= 0.8 for c in review.claims)


def test_strings_are_worded_after_the_prompt(offline: str) -> None:
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "slug": {"type": "string"},
            "queries": {"type": "array", "items": {"type": "string"}},
            "summary": {"type": "string"},
            "url": {"type": "string"},
        },
    }
    value = structured(offline, schema, "Plan the article. Keyword: rooftop gardens")
    assert value["title"].startswith("Rooftop Gardens")
    assert value["slug"] == "rooftop-gardens"
    assert re.match(SLUG, value["slug"])
    assert len(value["queries"]) == 3
    assert len(set(value["queries"])) == 3
    assert all(q.startswith("rooftop gardens") for q in value["queries"])
    assert "rooftop gardens" in value["summary"]
    assert len(value["summary"].split()) >= 20
    assert value["url"].startswith(f"{offline}/pages/rooftop-gardens")
    assert httpx.get(value["url"]).status_code == 200
