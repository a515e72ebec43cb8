"""The provider's settings."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from agent_graph.provider._faults import FaultPlan
from policies._errors import ConfigurationError


@dataclass(frozen=True)
class ProviderConfig:
    """Settings of the offline provider.

    Args:
        seed: varies every generated answer; the same seed gives the same answers.
        latency: seconds added to each chat completion; search, pages, CMS and notify get a fifth.
        faults: which requests fail and how (see :func:`parse_faults`).

    Raises:
        ConfigurationError: if ``latency`` is negative or not finite.
    """

    seed: int = 0
    latency: float = 0.0
    faults: FaultPlan = field(default_factory=FaultPlan)

    def __post_init__(self) -> None:
        if not math.isfinite(self.latency) or self.latency < 0:
            raise ConfigurationError(
                f"provider latency must be a finite number of seconds >= 0, got {self.latency!r}",
                hint="pass --latency 0 (or a positive number of seconds)",
            )
        if not isinstance(self.faults, FaultPlan):
            raise ConfigurationError(
                "ProviderConfig.faults must be a FaultPlan",
                hint="build it with parse_faults('chat:rate_limit@1')",
            )
