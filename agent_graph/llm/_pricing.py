"""Prices of LLM calls: US dollars per million prompt and completion tokens, per model."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field

from policies._errors import ConfigurationError

_PER_TOKEN = 1_000_000
_SPEC_ITEM = re.compile(
    r"^(?P<model>[^=\s]+)\s*=\s*(?P<prompt>[0-9.eE+-]+)/(?P<completion>[0-9.eE+-]+)$"
)


class ModelPrice(BaseModel):
    """What one model costs, in US dollars per million tokens.

    Args:
        prompt: dollars per million prompt (input) tokens.
        completion: dollars per million completion (output) tokens.
    """

    model_config = ConfigDict(frozen=True)

    prompt: float = Field(ge=0, allow_inf_nan=False)
    completion: float = Field(ge=0, allow_inf_nan=False)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Dollars for a call with these token counts."""
        return (prompt_tokens * self.prompt + completion_tokens * self.completion) / _PER_TOKEN


# OpenAI's public list prices (standard tier, USD per 1M tokens). gpt-4o-mini is the default
# model, the one the offline provider answers for, so offline runs carry a realistic price.
_LIST_PRICES: Mapping[str, ModelPrice] = MappingProxyType(
    {
        "gpt-4o-mini": ModelPrice(prompt=0.15, completion=0.60),
        "gpt-4o": ModelPrice(prompt=2.50, completion=10.00),
        "gpt-4.1": ModelPrice(prompt=2.00, completion=8.00),
        "gpt-4.1-mini": ModelPrice(prompt=0.40, completion=1.60),
        "gpt-4.1-nano": ModelPrice(prompt=0.10, completion=0.40),
        "gpt-3.5-turbo": ModelPrice(prompt=0.50, completion=1.50),
        "o3-mini": ModelPrice(prompt=1.10, completion=4.40),
    }
)

#: What a model missing from the table is charged (a nominal price, so its spend still counts).
NOMINAL_PRICE = ModelPrice(prompt=1.00, completion=4.00)


class PriceTable(BaseModel):
    """Prices per model name, with a nominal price for models not listed.

    A dated snapshot name (``gpt-4o-mini-2024-07-18``) gets the price of the longest listed name
    it starts with followed by ``-``. Build your own with :meth:`with_prices` or :meth:`parse`.

    Args:
        prices: price per model name.
        default: price of a model that is not listed.
    """

    model_config = ConfigDict(frozen=True)

    prices: Mapping[str, ModelPrice] = Field(default_factory=lambda: dict(_LIST_PRICES))
    default: ModelPrice = NOMINAL_PRICE

    @classmethod
    def standard(cls) -> PriceTable:
        """OpenAI's list prices for common models, nominal for the rest."""
        return cls()

    def price_of(self, model: str) -> ModelPrice:
        """The price of ``model`` (exact name, then snapshot prefix, then the default)."""
        exact = self.prices.get(model)
        if exact is not None:
            return exact
        prefixes = [name for name in self.prices if model.startswith(f"{name}-")]
        if prefixes:
            return self.prices[max(prefixes, key=len)]
        return self.default

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """Dollars for a call of ``model`` with these token counts."""
        return self.price_of(model).cost(prompt_tokens, completion_tokens)

    def with_prices(
        self,
        prices: Mapping[str, ModelPrice | tuple[float, float]],
        *,
        default: ModelPrice | tuple[float, float] | None = None,
    ) -> PriceTable:
        """A copy with ``prices`` added or replaced (and the default price, if given).

        Args:
            prices: model name to a :class:`ModelPrice` or ``(prompt, completion)`` dollars
                per million tokens.
            default: price of models not listed.

        Raises:
            ConfigurationError: a price is negative or not a finite number.
        """
        merged = dict(self.prices)
        merged.update({name: _price(name, value) for name, value in prices.items()})
        fallback = self.default if default is None else _price("*", default)
        return PriceTable(prices=merged, default=fallback)

    @classmethod
    def parse(cls, spec: str | None, *, base: PriceTable | None = None) -> PriceTable:
        """Read overrides such as ``"gpt-4o-mini=0.15/0.60, my-model=1/2, *=0.5/1.5"``.

        Each item is ``MODEL=PROMPT/COMPLETION`` in dollars per million tokens; ``*`` sets the
        price of unlisted models. Items are separated by commas or semicolons and applied on
        top of ``base`` (the standard table by default). Suited to a setting or an
        environment variable.

        Raises:
            ConfigurationError: an item does not follow ``MODEL=PROMPT/COMPLETION``.
        """
        table = base or cls.standard()
        overrides: dict[str, ModelPrice | tuple[float, float]] = {}
        default: tuple[float, float] | None = None
        for raw in re.split(r"[,;]", spec or ""):
            text = raw.strip()
            if not text:
                continue
            match = _SPEC_ITEM.match(text)
            if match is None:
                raise ConfigurationError(
                    f"malformed price {text!r}",
                    hint="write MODEL=PROMPT/COMPLETION in dollars per million tokens, "
                    "e.g. gpt-4o-mini=0.15/0.60 (or *=1/4 for unlisted models)",
                )
            try:
                pair = (float(match["prompt"]), float(match["completion"]))
            except ValueError:
                raise ConfigurationError(
                    f"malformed price {text!r}", hint="prices are numbers, e.g. 0.15/0.60"
                ) from None
            if match["model"] == "*":
                default = pair
            else:
                overrides[match["model"]] = pair
        return table.with_prices(overrides, default=default)


def _price(name: str, value: ModelPrice | tuple[float, float]) -> ModelPrice:
    if isinstance(value, ModelPrice):
        return value
    prompt, completion = value
    for amount in (prompt, completion):
        if not math.isfinite(amount) or amount < 0:
            raise ConfigurationError(
                f"price of {name!r} must be finite and >= 0, got {prompt}/{completion}",
                hint="give dollars per million tokens, e.g. 0.15/0.60",
            )
    return ModelPrice(prompt=prompt, completion=completion)


def estimate_usd(price: ModelPrice, prompt_chars: int, completion_tokens: int) -> float:
    """A pessimistic cost before a call: about 4 characters per prompt token.

    Args:
        price: the model's price.
        prompt_chars: characters of the serialised request.
        completion_tokens: the completion allowance (``max_tokens`` or a fixed allowance).
    """
    return price.cost(math.ceil(prompt_chars / 4), completion_tokens)
