"""Which actors serve a model: its placement (declared per model, per `endpoint/model`, or for `*`)
and the pool of actors it shares. Pure data, no Ray: the executor and the status view both read it."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from taxiway.catalog import CATALOG
from taxiway.catalog.recipes import RECIPE_SPECS
from taxiway.config import RayPlacement, Settings

DEFAULT_KEY = "*"
DEFAULT = RayPlacement()
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class Pool:
    """Actors `<name>-<i>` (i < placement.actors) that load the engines of every model routed to them."""

    name: str
    placement: RayPlacement
    # Names the configuration that built the actors: a changed one gets fresh actors, not stale ones.
    digest: str

    def actor_name(self, index: int) -> str:
        return f"engine-{self.name}-{index}-{self.digest}"


class Placements:
    def __init__(self, settings: Settings) -> None:
        self._declared = dict(settings.ray_placement)
        known = {model for _endpoint, model in [*CATALOG, *RECIPE_SPECS]}
        known |= {f"{endpoint}/{model}" for endpoint, model in [*CATALOG, *RECIPE_SPECS]}
        unknown = set(self._declared) - known - {DEFAULT_KEY}
        if unknown:
            raise ValueError(f"ray_placement names unknown models: {', '.join(sorted(unknown))}")
        shared: dict[str, RayPlacement] = {}
        for key, placement in self._declared.items():
            if placement.pool is None:
                continue
            reservation = placement.model_copy(update={"pool": None})
            if shared.setdefault(placement.pool, reservation) != reservation:
                raise ValueError(
                    f"ray_placement: the models of pool {placement.pool!r} declare different resources "
                    f"(see {key!r}); a pool's actors reserve one set"
                )
        # What every actor builds its engines from: the same for every replica of a deployment.
        self._config = json.dumps(
            {
                "engines": settings.engines,
                "weights": {key: str(value) for key, value in settings.weights.items()},
            },
            sort_keys=True,
        )

    def placement(self, endpoint: str, model: str) -> RayPlacement:
        for key in (f"{endpoint}/{model}", model, DEFAULT_KEY):
            if key in self._declared:
                return self._declared[key]
        return DEFAULT

    def pool(self, endpoint: str, model: str) -> Pool:
        placement = self.placement(endpoint, model)
        name = placement.pool or _UNSAFE.sub("_", model)
        identity = json.dumps([self._config, placement.model_dump(mode="json")], sort_keys=True)
        digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
        return Pool(name, placement.model_copy(update={"pool": name}), digest)

    def pools(self) -> list[Pool]:
        """Every pool some catalog model is routed to, each once."""
        found: dict[str, Pool] = {}
        for endpoint, model in [*CATALOG, *RECIPE_SPECS]:
            pool = self.pool(endpoint, model)
            found.setdefault(pool.actor_name(0), pool)
        return list(found.values())
