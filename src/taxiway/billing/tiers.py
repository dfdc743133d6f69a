"""Usage tiers 1-5 as the Runway API documents them (per organization, limits per model)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tier:
    level: int
    max_concurrent_generations: int
    max_daily_generations: int
    max_monthly_credit_spend: int


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


def tier(level: int) -> Tier:
    try:
        return TIERS[level]
    except KeyError:
        raise ValueError(f"tier must be one of {sorted(TIERS)}, got {level}") from None
