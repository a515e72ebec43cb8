"""Configuration read from the environment, at the edges (CLI, factories) only."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the CLI and the factories; each field is also an environment variable.

    ``DATABASE_URL``, ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` keep their usual names; the rest
    take the ``AGENT_GRAPH_`` prefix (``AGENT_GRAPH_MODEL``, ``AGENT_GRAPH_SERVICES_URL``, ...).
    """

    model_config = SettingsConfigDict(env_prefix="AGENT_GRAPH_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "AGENT_GRAPH_DATABASE_URL"),
        description="Postgres URL; unset: the embedded server in data_dir.",
    )
    data_dir: Path | None = Field(
        default=None, description="Where the embedded Postgres keeps its data (per-user default)."
    )
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY"),
        description="Unset: the offline provider is started and used.",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "AGENT_GRAPH_OPENAI_BASE_URL"),
    )
    model: str = Field(default="gpt-4o-mini", description="Chat model name.")
    llm_prices: str = Field(
        default="",
        description="Price overrides in $ per 1M prompt/completion tokens, "
        "e.g. 'gpt-4o-mini=0.15/0.60, *=1/4'.",
    )
    services_url: str | None = Field(
        default=None,
        description="Base URL of search, pages, CMS and webhook; unset: the offline provider.",
    )
    provider_latency: float = Field(
        default=0.0, ge=0, description="Seconds the auto-started offline provider waits per answer."
    )
    provider_faults: str = Field(default="", description="Fault plan for the offline provider.")
    failpoints: str = Field(default="", description="Chaos-testing failpoints, see the README.")
    concurrency: int = Field(default=16, ge=1, description="Threads run at once by one process.")
    pool_size: int = Field(default=10, ge=1, description="Postgres connections per process.")
    llm_timeout: float = Field(default=60.0, gt=0)
    http_timeout: float = Field(default=20.0, gt=0)
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    max_recoveries: int = Field(
        default=3,
        ge=0,
        description="Crashes of one node task (its process died under it) before the thread "
        "is dead-lettered as a crash loop.",
    )
