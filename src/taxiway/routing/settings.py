"""A router's settings: the create and update bodies as the SDK declares them, the stored snapshot
(what the API shows, `schemaVersion` included) and the nested merge an update applies."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from taxiway.catalog import CATALOG
from taxiway.routing.data import ENDPOINTS, Modality

OptimizeFor = Literal["cost", "latency", "quality"]
ModelsMode = Literal["allow_new_except", "allowlist_only"]
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$"
Cap = Annotated[int, Field(ge=1, le=10_000_000)]
ModelId = Annotated[str, Field(min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Fallback(_Strict):
    onCapacity: bool | None = None


class Caps(_Strict):
    audio: Cap | None = None
    image: Cap | None = None
    video: Cap | None = None


class Models(_Strict):
    ids: Annotated[list[ModelId], Field(max_length=200)]
    mode: ModelsMode


class SettingsIn(_Strict):
    schemaVersion: Literal[1] | None = None
    optimizeFor: OptimizeFor | None = None
    fallback: Fallback | None = None
    maxCreditsPerGeneration: Caps | None = None
    models: Models | None = None


class RouterCreate(_Strict):
    slug: Annotated[str, Field(pattern=SLUG_PATTERN, description="lowercase letters, digits, - and _")]
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    settings: SettingsIn | None = None


class ModelsPatch(_Strict):
    ids: Annotated[list[ModelId], Field(max_length=200)] | None = None
    mode: ModelsMode | None = None


class SettingsPatch(_Strict):
    """Nested merge: what is left out keeps its value; `maxCreditsPerGeneration` (or one modality of
    it) set to null removes the cap."""

    schemaVersion: Literal[1] | None = None
    optimizeFor: OptimizeFor | None = None
    fallback: Fallback | None = None
    maxCreditsPerGeneration: Caps | None = None
    models: ModelsPatch | None = None


class RouterUpdate(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    settings: SettingsPatch | None = None


class SettingsProblem(ValueError):
    """A setting the schema allows but the server refuses; `path` names it within the body."""

    def __init__(self, path: list[str | int], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


@cache
def routable_models() -> tuple[str, ...]:
    """Every model a router may choose (the catalog's current models of the generate endpoints), in
    catalog order: the ids a router's model list may name."""
    found = (model for modality in Modality for _endpoint, model in modality_models(modality))
    return tuple(dict.fromkeys(found))


def modality_models(modality: Modality) -> Iterator[tuple[str, str]]:
    """The (endpoint, model) pairs one modality routes among, in catalog order."""
    for (endpoint, model), spec in CATALOG.items():
        if endpoint in ENDPOINTS[modality] and not spec.legacy:
            yield endpoint, model


def _check_ids(ids: list[str]) -> None:
    known = set(routable_models())
    for index, model in enumerate(ids):
        if model not in known:
            raise SettingsProblem(
                ["settings", "models", "ids", index],
                f"unknown model {model!r}; a router can choose {', '.join(routable_models())}",
            )
    if len(set(ids)) != len(ids):
        raise SettingsProblem(["settings", "models", "ids"], "lists a model more than once")


def _check_models(models: dict[str, Any]) -> None:
    _check_ids(models["ids"])
    if models["mode"] == "allowlist_only" and not models["ids"]:
        raise SettingsProblem(["settings", "models", "ids"], "an allow list needs at least one model")


def _caps(caps: Caps) -> dict[str, int]:
    return {name: value for name, value in caps.model_dump().items() if value is not None}


def snapshot(given: SettingsIn | None) -> dict[str, Any]:
    """The stored settings of a new router: cost-optimized, allow-all, no fallback unless given."""
    given = given or SettingsIn()
    settings: dict[str, Any] = {
        "schemaVersion": 1,
        "optimizeFor": given.optimizeFor or "cost",
        "fallback": {"onCapacity": bool(given.fallback and given.fallback.onCapacity)},
    }
    if given.maxCreditsPerGeneration is not None and _caps(given.maxCreditsPerGeneration):
        settings["maxCreditsPerGeneration"] = _caps(given.maxCreditsPerGeneration)
    if given.models is not None:
        settings["models"] = given.models.model_dump()
        _check_models(settings["models"])
    return settings


def merged(current: dict[str, Any], patch: SettingsPatch) -> dict[str, Any]:
    """`current` with `patch` merged in, as an update stores it."""
    settings = {**current, "fallback": dict(current.get("fallback") or {"onCapacity": False})}
    given = patch.model_fields_set
    if patch.optimizeFor is not None:
        settings["optimizeFor"] = patch.optimizeFor
    if patch.fallback is not None and patch.fallback.onCapacity is not None:
        settings["fallback"]["onCapacity"] = patch.fallback.onCapacity
    if "maxCreditsPerGeneration" in given:
        caps = dict(current.get("maxCreditsPerGeneration") or {})
        if patch.maxCreditsPerGeneration is None:
            caps = {}
        else:
            for name in patch.maxCreditsPerGeneration.model_fields_set:
                value = getattr(patch.maxCreditsPerGeneration, name)
                if value is None:
                    caps.pop(name, None)
                else:
                    caps[name] = value
        settings.pop("maxCreditsPerGeneration", None)
        if caps:
            settings["maxCreditsPerGeneration"] = caps
    if patch.models is not None:
        models = dict(current.get("models") or {})
        for name in ("ids", "mode"):
            value = getattr(patch.models, name)
            if value is not None:
                models[name] = value
            elif name not in models:
                raise SettingsProblem(
                    ["settings", "models", name], "required: the router has no model list to keep it from"
                )
        settings["models"] = models
        _check_models(models)
    return settings
