"""The routing pipeline: hard filters, a capacity step, a ranking; one model chosen, every step kept.

Filters run in the SDK's order (capability, prompt_length, input_support, allow_deny, price), each
recording the models that survive it; the first to leave none ends the decision (`no_eligible_model`).
The survivors are ranked by the router's `optimizeFor`: estimated credits (`cost`), the measured run
time of each model on this server (`latency`, `tasks.run_times`) or the operator's ranking
(`quality`). With `fallback.onCapacity`, a model that is full is passed over for the next one: full
when the organization is at its concurrency limit for it (its task would wait THROTTLED), or when
this server already holds `TAXIWAY_ROUTER_QUEUE_LIMITS` of its tasks queued or running.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.accounts.repository import Principal
from taxiway.billing.tiers import limits_for
from taxiway.clock import utcnow
from taxiway.routing import data
from taxiway.routing.candidates import Candidate, Filter, Rejection, map_input
from taxiway.routing.data import Modality
from taxiway.routing.inputs import GenericInput
from taxiway.routing.settings import modality_models, routable_models
from taxiway.tasks import admission, repository, run_times

Step = dict[str, Any]


@dataclass(frozen=True)
class Decision:
    modality: Modality
    # "routed" or "no_eligible_model".
    status: str
    chosen: Candidate | None
    pipeline: list[Step]
    emptied_by: list[str]
    reason: str
    reason_code: str | None
    resolved_settings: dict[str, Any]
    # The capacity step, when capacity affected the choice.
    capacity: Step | None = None
    # Why each excluded model was, for the error a client gets when none is left.
    rejections: Mapping[str, list[Rejection]] = field(default_factory=dict)

    def blocking(self) -> list[Rejection]:
        """The reasons of the filter that emptied the pool, one per model it excluded there."""
        if not self.emptied_by:
            return []
        stage = Filter(self.emptied_by[0])
        found = []
        for problems in self.rejections.values():
            found += [problem for problem in problems if problem.filter is stage][:1]
        return found


def _earliest(problems: Sequence[Rejection]) -> Filter:
    order = list(Filter)
    return min((problem.filter for problem in problems), key=order.index)


def _allowed(model: str, models: Mapping[str, Any] | None) -> bool:
    if not models:
        return True
    listed = model in models["ids"]
    return listed if models["mode"] == "allowlist_only" else not listed


class RoutingPolicy:
    """The server's side of routing: the quality ranking, queue limits and the engines serving models."""

    def __init__(
        self,
        quality_ranking: Sequence[str] = (),
        queue_limits: Mapping[str, int] | None = None,
        engine_name: Callable[[str, str], str] | None = None,
    ) -> None:
        known = set(routable_models())
        unknown = sorted({*quality_ranking, *(queue_limits or {})} - known - {"*"})
        if unknown:
            raise ValueError(f"router settings name models no router can choose: {', '.join(unknown)}")
        self.quality_ranking = tuple(quality_ranking) or data.QUALITY_RANKING
        self.queue_limits = dict(queue_limits or {})
        self._engine_name = engine_name

    async def decide(
        self,
        session: AsyncSession,
        principal: Principal,
        settings: Mapping[str, Any],
        modality: Modality,
        given: GenericInput,
    ) -> Decision:
        ceiling = (settings.get("maxCreditsPerGeneration") or {}).get(modality.value)
        resolved_settings = {"optimizeFor": settings.get("optimizeFor", "cost"), "priceCeiling": ceiling}
        models = list(dict.fromkeys(model for _endpoint, model in modality_models(modality)))
        candidates: dict[str, Candidate] = {}
        rejections: dict[str, list[Rejection]] = {}
        for model in models:
            mapped = map_input(modality, model, given)
            if isinstance(mapped, Candidate):
                candidates[model] = mapped
            else:
                rejections[model] = mapped
            if not _allowed(model, settings.get("models")):
                rejections.setdefault(model, []).append(
                    Rejection(
                        Filter.ALLOW_DENY, ("configId",), f"{model}: not allowed by the router's models"
                    )
                )
            found = candidates.get(model)
            if found is not None and ceiling is not None and found.credits / found.outputs > ceiling:
                rejections.setdefault(model, []).append(
                    Rejection(
                        Filter.PRICE,
                        ("configId",),
                        f"{model}: {found.credits / found.outputs:g} credits per output, "
                        f"over the ceiling of {ceiling}",
                    )
                )
        pipeline: list[Step] = []
        pool = models
        for stage in Filter:
            pool = [m for m in pool if m not in rejections or _earliest(rejections[m]) is not stage]
            pipeline.append({"type": "filter", "filter": stage.value, "models": list(pool)})
            if not pool:
                return Decision(
                    modality,
                    "no_eligible_model",
                    None,
                    pipeline,
                    [stage.value],
                    f"No eligible model: the {stage.value} filter excluded every remaining model.",
                    None,
                    resolved_settings,
                    rejections=rejections,
                )
        eligible = [candidates[m] for m in pool]
        ordered, outcome, code, why = await self._rank(
            session, str(resolved_settings["optimizeFor"]), eligible
        )
        chosen, capacity = ordered[0], None
        if (settings.get("fallback") or {}).get("onCapacity"):
            chosen, capacity = await self._fall_back(session, principal, ordered)
        if capacity is not None:
            pipeline.append(capacity)
        pipeline.append({"type": "rank", "outcome": outcome})
        reason = why + self._capacity_note(capacity, chosen) + self._served_by(chosen)
        return Decision(
            modality, "routed", chosen, pipeline, [], reason, code, resolved_settings, capacity, rejections
        )

    async def _rank(
        self, session: AsyncSession, optimize_for: str, eligible: list[Candidate]
    ) -> tuple[list[Candidate], str, str, str]:
        """The eligible models best first, with the rank outcome, reason code and the why, in prose."""
        first = eligible[0]
        if len(eligible) == 1:
            return (
                eligible,
                "single_candidate",
                "only_eligible_model",
                f"{first.model} is the only eligible model",
            )
        position = {c.model: i for i, c in enumerate(eligible)}
        if optimize_for == "cost":
            ordered = sorted(eligible, key=lambda c: (c.credits, position[c.model]))
            best = ordered[0]
            return (
                ordered,
                "cost",
                "lowest_cost",
                (
                    f"{best.model} has the lowest estimated cost ({best.credits} credits) "
                    f"of {len(eligible)} eligible models"
                ),
            )
        if optimize_for == "latency":
            measured = await run_times.known(session, [(c.endpoint, c.model) for c in eligible])
            timed = {
                c.model: _expected_seconds(c, measured[(c.endpoint, c.model)])
                for c in eligible
                if (c.endpoint, c.model) in measured
            }
            if not timed:
                return (
                    eligible,
                    "fallback",
                    "filter_order_fallback",
                    (f"no eligible model has run on this server yet: {first.model}, first in filter order"),
                )
            ordered = sorted(
                (c for c in eligible if c.model in timed), key=lambda c: (timed[c.model], position[c.model])
            )
            ordered += [c for c in eligible if c.model not in timed]
            best = ordered[0]
            return (
                ordered,
                "selected",
                "best_latency",
                (
                    f"{best.model} is the fastest measured of {len(eligible)} eligible models "
                    f"(about {timed[best.model]:.1f} s for this request)"
                ),
            )
        ranking = {model: index for index, model in enumerate(self.quality_ranking)}
        ranked = sorted((c for c in eligible if c.model in ranking), key=lambda c: ranking[c.model])
        if not ranked:
            return (
                eligible,
                "fallback",
                "filter_order_fallback",
                (f"no eligible model is in the quality ranking: {first.model}, first in filter order"),
            )
        ordered = ranked + [c for c in eligible if c.model not in ranking]
        return (
            ordered,
            "selected",
            "best_quality",
            (f"{ordered[0].model} ranks highest for quality of {len(eligible)} eligible models"),
        )

    async def full(self, session: AsyncSession, principal: Principal, model: str) -> bool:
        """Whether a new task of `model` would wait: the organization holds its concurrency limit, or
        the server's queue for the model is at its configured depth."""
        limits = limits_for(principal.tier, model)
        slots, _ = await admission.read(session, principal.organization_id, model, utcnow(), limits)
        if slots.must_wait(limits.max_concurrent):
            return True
        limit = self.queue_limits.get(model, self.queue_limits.get("*"))
        return limit is not None and await repository.count_in_engines(session, model) >= limit

    async def _fall_back(
        self, session: AsyncSession, principal: Principal, ordered: list[Candidate]
    ) -> tuple[Candidate, Step | None]:
        skipped: list[str] = []
        for candidate in ordered:
            if not await self.full(session, principal, candidate.model):
                step = {"type": "capacity", "allExhausted": False, "skipped": skipped} if skipped else None
                return candidate, step
            skipped.append(candidate.model)
        return ordered[0], {"type": "capacity", "allExhausted": True, "skipped": []}

    @staticmethod
    def _capacity_note(capacity: Step | None, chosen: Candidate) -> str:
        if capacity is None:
            return ""
        if capacity["allExhausted"]:
            return f"; every eligible model is at capacity, so {chosen.model} was kept and its task queues"
        return f"; {', '.join(capacity['skipped'])} at capacity, passed over"

    def _served_by(self, chosen: Candidate) -> str:
        engine = self._engine_name(chosen.endpoint, chosen.model) if self._engine_name else chosen.spec.engine
        return f" (served by the {engine} engine)"


def _expected_seconds(candidate: Candidate, measured: run_times.RunTime) -> float:
    """A run time for this request from the model's measured seconds per unit of output."""
    if measured.unit == "second" and candidate.seconds:
        return measured.seconds_per_unit * candidate.seconds
    return measured.seconds_per_unit * candidate.outputs
