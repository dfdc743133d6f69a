"""A task's media inputs: checked at submission, fetched and measured against the catalog's rules
before the engine runs, so engines only ever see bytes that passed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from taxiway.assets.intake import AssetIntake, AssetRejected, LoadedAsset
from taxiway.assets.probe import MediaInfo
from taxiway.catalog import ModelSpec, model_spec
from taxiway.catalog.models import AssetRef, Measured, iter_assets
from taxiway.errors import ASSET_INVALID, Failure


@dataclass(frozen=True)
class SubmissionCheck:
    """What submission learned of the inputs: problems to answer 400 with, and the priced input's length."""

    issues: list[dict[str, Any]]
    # Seconds of the input the model is priced on (`Duration.from_input`), when it could be measured now.
    input_seconds: float | None = None
    # Pixels per frame of that input, for prices that depend on its size (`Price.large_per_second`).
    input_pixels: int | None = None


async def check_at_submission(
    intake: AssetIntake, spec: ModelSpec, params: Mapping[str, Any], organization_id: str
) -> SubmissionCheck:
    """Zod-style issues for every input that can be refused without fetching it.

    Data URIs and uploads are local, so their length rules are judged here too, and their length
    prices the task exactly instead of at the model's maximum input.
    """
    issues: list[dict[str, Any]] = []
    input_seconds: float | None = None
    input_pixels: int | None = None
    priced = spec.duration.from_input
    for ref in iter_assets(params, spec.assets):
        if ref.rule.internal:
            continue  # stored by the server itself, already checked
        try:
            info = await intake.check_at_submission(ref.uri, ref.kind, ref.path, organization_id)
        except AssetRejected as rejected:
            issues.append(rejected.issue)
            continue
        if info is None:
            continue
        problem = _rule_problem(ref, info.duration, info.width, info.height)
        if problem:
            issues.append({"code": "custom", "path": ref.path, "message": problem})
        elif measured := _measured_problems(ref, params, _measured(info)):
            issues += [{"code": "custom", "path": path, "message": message} for path, message in measured]
        elif priced in (ref.rule.path, ref.rule.path.split(".")[0]):
            input_seconds = info.duration if info.duration is not None else input_seconds
            if info.width and info.height:
                input_pixels = info.width * info.height
    return SubmissionCheck(issues, input_seconds, input_pixels)


def _field(ref: AssetRef) -> str:
    return ".".join(str(part) for part in ref.path)


def _rule_problem(ref: AssetRef, duration: float | None, width: int | None, height: int | None) -> str | None:
    rule = ref.rule
    seconds = duration or 0.0
    if rule.min_seconds is not None and (
        seconds <= rule.min_seconds if rule.exclusive_min else seconds < rule.min_seconds
    ):
        bound = "longer than" if rule.exclusive_min else "at least"
        return f"{_field(ref)}: must be {bound} {rule.min_seconds:g} seconds, got {seconds:.2f}"
    if rule.max_seconds is not None and seconds > rule.max_seconds + 0.05:
        return f"{_field(ref)}: must be at most {rule.max_seconds:g} seconds long, got {seconds:.2f}"
    if rule.min_short_side is not None and min(width or 0, height or 0) < rule.min_short_side:
        return f"{_field(ref)}: must be at least {rule.min_short_side}p"
    if width and height and rule.min_aspect is not None and rule.max_aspect is not None:
        aspect = width / height
        if not rule.min_aspect <= aspect <= rule.max_aspect:
            return (
                f"{_field(ref)}: the aspect ratio (width / height) must be between {rule.min_aspect:g} "
                f"and {rule.max_aspect:g}, got {aspect:.2f}"
            )
    return None


def _measured(info: MediaInfo) -> Measured:
    return Measured(info.width, info.height, info.duration, info.fps)


def _measured_problems(
    ref: AssetRef, params: Mapping[str, Any], measured: Measured
) -> list[tuple[list[str | int], str]]:
    return [problem for check in ref.rule.measured for problem in check(params, measured)]


def _check_rules(ref: AssetRef, asset: LoadedAsset, params: Mapping[str, Any]) -> None:
    info = asset.info
    problem = _rule_problem(ref, info.duration, info.width, info.height)
    if problem:
        raise Failure(ASSET_INVALID, problem)
    measured = _measured_problems(ref, params, _measured(info))
    if measured:
        raise Failure(ASSET_INVALID, measured[0][1])


def needed(endpoint: str, model: str, params: Mapping[str, Any]) -> bool:
    """Whether a task has media inputs to load before its engine runs (a model gone from the catalog
    is left to `load`'s caller, which reports it)."""
    try:
        spec = model_spec(endpoint, model)
    except KeyError:
        return True
    return next(iter_assets(params, spec.assets), None) is not None


async def load(
    intake: AssetIntake, spec: ModelSpec, params: Mapping[str, Any], organization_id: str
) -> dict[str, bytes]:
    """Every input's bytes by URI; Failure(ASSET.INVALID) naming the field on any problem."""
    loaded: dict[str, bytes] = {}
    totals: dict[str, float] = defaultdict(float)
    for ref in iter_assets(params, spec.assets):
        if ref.rule.internal:
            loaded[ref.uri] = await intake.read_stored(
                ref.uri, f"the stored {ref.kind.value} ({_field(ref)})"
            )
            continue
        asset = await intake.resolve(ref.uri, ref.kind, ref.path, organization_id)
        _check_rules(ref, asset, params)
        if ref.rule.total_seconds is not None:
            totals[ref.rule.path] += asset.info.duration or 0.0
            if totals[ref.rule.path] > ref.rule.total_seconds + 0.05:
                name = ref.rule.path.split("[")[0]
                raise Failure(
                    ASSET_INVALID,
                    f"{name}: the combined duration must be at most {ref.rule.total_seconds:g} s",
                )
        loaded[ref.uri] = asset.data
    return loaded
