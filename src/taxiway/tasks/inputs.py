"""A task's media inputs: checked at submission, fetched and measured against the catalog's rules
before the engine runs, so engines only ever see bytes that passed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from taxiway.assets.intake import AssetIntake, AssetRejected, LoadedAsset
from taxiway.catalog import ModelSpec
from taxiway.catalog.models import AssetRef, iter_assets
from taxiway.engines.base import EngineFailure

ASSET_INVALID = "ASSET.INVALID"


async def check_at_submission(
    intake: AssetIntake, spec: ModelSpec, params: Mapping[str, Any], organization_id: str
) -> list[dict[str, Any]]:
    """Zod-style issues for every input that can be refused without fetching it."""
    issues = []
    for ref in iter_assets(params, spec.assets):
        try:
            await intake.check_at_submission(ref.uri, ref.kind, ref.path, organization_id)
        except AssetRejected as rejected:
            issues.append(rejected.issue)
    return issues


def _field(ref: AssetRef) -> str:
    return ".".join(str(part) for part in ref.path)


def _check_rules(ref: AssetRef, asset: LoadedAsset) -> None:
    rule, info = ref.rule, asset.info
    seconds = info.duration or 0.0
    if rule.min_seconds is not None and seconds < rule.min_seconds:
        raise EngineFailure(
            ASSET_INVALID, f"{_field(ref)}: must be at least {rule.min_seconds:g} seconds long"
        )
    if rule.max_seconds is not None and seconds > rule.max_seconds + 0.05:
        raise EngineFailure(
            ASSET_INVALID, f"{_field(ref)}: must be at most {rule.max_seconds:g} seconds long"
        )
    if rule.min_short_side is not None and min(info.width or 0, info.height or 0) < rule.min_short_side:
        raise EngineFailure(ASSET_INVALID, f"{_field(ref)}: must be at least {rule.min_short_side}p")


async def load(
    intake: AssetIntake, spec: ModelSpec, params: Mapping[str, Any], organization_id: str
) -> dict[str, bytes]:
    """Every input's bytes by URI; EngineFailure(ASSET.INVALID) naming the field on any problem."""
    loaded: dict[str, bytes] = {}
    totals: dict[str, float] = defaultdict(float)
    for ref in iter_assets(params, spec.assets):
        asset = await intake.resolve(ref.uri, ref.kind, ref.path, organization_id)
        _check_rules(ref, asset)
        if ref.rule.total_seconds is not None:
            totals[ref.rule.path] += asset.info.duration or 0.0
            if totals[ref.rule.path] > ref.rule.total_seconds + 0.05:
                name = ref.rule.path.split("[")[0]
                raise EngineFailure(
                    ASSET_INVALID,
                    f"{name}: the combined duration must be at most {ref.rule.total_seconds:g} s",
                )
        loaded[ref.uri] = asset.data
    return loaded
