"""Usage tiers 1-5 as the Runway API documents them (per organization, limits per model)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class Tier:
    level: int
    # Defaults for every model; `MODEL_LIMITS` may override them per (tier, model).
    max_concurrent_generations: int
    max_daily_generations: int
    # In credits (1 credit = US$0.01).
    max_monthly_credit_spend: int


class ModelLimits(NamedTuple):
    """One model's limits in one tier; None means unlimited, as `null` does in the API."""

    max_concurrent: int | None
    max_daily: int | None


TIERS: dict[int, Tier] = {
    tier.level: tier
    for tier in (
        Tier(1, max_concurrent_generations=2, max_daily_generations=200, max_monthly_credit_spend=10_000),
        Tier(2, max_concurrent_generations=3, max_daily_generations=1_000, max_monthly_credit_spend=50_000),
        Tier(3, max_concurrent_generations=5, max_daily_generations=2_000, max_monthly_credit_spend=200_000),
        Tier(
            4, max_concurrent_generations=10, max_daily_generations=10_000, max_monthly_credit_spend=2_000_000
        ),
        Tier(
            5,
            max_concurrent_generations=20,
            max_daily_generations=30_000,
            max_monthly_credit_spend=10_000_000,
        ),
    )
}

# Per-model exceptions to a tier's defaults, keyed by (tier level, model id). Empty on purpose: the
# public material gives only one number per tier for every model (its example, gen4.5 at 2
# concurrent / 200 daily, is tier 1's default). Add a row here when a model is known to differ.
MODEL_LIMITS: Mapping[tuple[int, str], ModelLimits] = {}


def tier(level: int) -> Tier:
    try:
        return TIERS[level]
    except KeyError:
        raise ValueError(f"tier must be one of {sorted(TIERS)}, got {level}") from None


def limits_for(level: int, model_id: str) -> ModelLimits:
    """The concurrency and rolling-24-hour limits of `model_id` for an organization of tier `level`."""
    spec = tier(level)
    default = ModelLimits(spec.max_concurrent_generations, spec.max_daily_generations)
    return MODEL_LIMITS.get((level, model_id), default)
