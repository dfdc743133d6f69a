"""Cross-field rules the SDK documents in words ("requires at least one reference image"), as `Check`s.

Each factory returns a check naming the field to blame; the API answers 400 with every problem found.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from taxiway.catalog.models import Check, ratio_size

Problems = list[tuple[list[str | int], str]]


def _count(params: Mapping[str, Any], field: str) -> int:
    value = params.get(field)
    return len(value) if isinstance(value, list) else 0


def _given(params: Mapping[str, Any], field: str, value: Any = None) -> bool:
    """Whether the request sets `field` (to `value`, when one is named); `false` counts as unset."""
    found = params.get(field)
    if value is not None:
        return found == value and isinstance(found, bool) is isinstance(value, bool)
    return found is not None and found is not False


def _named(check: Callable[[Mapping[str, Any]], Problems], name: str) -> Check:
    check.__name__ = name
    return check


def needs_items(field: str, minimum: int, *, when: str | None = None, value: Any = None) -> Check:
    """`field` must hold at least `minimum` items (whenever `when` is set, or always)."""

    def check(params: Mapping[str, Any]) -> Problems:
        if when is not None and not _given(params, when, value):
            return []
        if _count(params, field) >= minimum:
            return []
        condition = f" when {when} is {value if value is not None else 'set'}" if when else ""
        items = "item" if minimum == 1 else "items"
        blamed = when if when is not None else field
        return [([blamed], f"requires at least {minimum} {items} in {field}{condition}")]

    return _named(check, f"needs_{minimum}_{field}_for_{when}")


def not_together(field: str, *others: str, value: Any = None) -> Check:
    """`field` (or `field` = `value`) cannot be combined with any of `others`."""

    def check(params: Mapping[str, Any]) -> Problems:
        if not _given(params, field, value):
            return []
        clash = [other for other in others if _given(params, other)]
        if not clash:
            return []
        what = f"{field} {value!r}" if value is not None else field
        return [([field], f"{what} cannot be combined with {', '.join(clash)}")]

    return _named(check, f"{field}_not_with_{'_'.join(others)}")


def requires(field: str, needed: str, *, value: Any = None) -> Check:
    """`field` (or `field` = `value`) needs `needed` to be set too."""

    def check(params: Mapping[str, Any]) -> Problems:
        if _given(params, field, value) and not _given(params, needed):
            what = f"{field} {value!r}" if value is not None else field
            return [([needed], f"is required with {what}")]
        return []

    return _named(check, f"{field}_requires_{needed}")


def unique_tags(field: str = "referenceImages") -> Check:
    def check(params: Mapping[str, Any]) -> Problems:
        tags = [item.get("tag") for item in params.get(field) or () if isinstance(item, Mapping)]
        named = [tag for tag in tags if tag is not None]
        if len(named) != len(set(named)):
            return [([field], "no two images may share the same tag")]
        return []

    return _named(check, f"unique_tags_{field}")


def at_most_with(field: str, key: str, value: str, maximum: int) -> Check:
    """At most `maximum` items of `field` whose `key` is `value` (e.g. 5 `subject: "human"` images)."""

    def check(params: Mapping[str, Any]) -> Problems:
        found = sum(
            1 for item in params.get(field) or () if isinstance(item, Mapping) and item.get(key) == value
        )
        if found > maximum:
            return [([field], f"at most {maximum} images may pass {key}: {value!r}, got {found}")]
        return []

    return _named(check, f"at_most_{maximum}_{value}")


def pixel_area(field: str, low: int, high: int, listed: Sequence[str]) -> Check:
    """A free-form "W:H" outside `listed` must cover between `low` and `high` pixels."""

    def check(params: Mapping[str, Any]) -> Problems:
        ratio = params.get(field)
        if not isinstance(ratio, str) or ratio in listed:
            return []
        size = ratio_size(ratio)
        if size is None or not low <= size[0] * size[1] <= high:
            return [([field], f"a free-form size W:H must have W x H between {low} and {high} pixels")]
        return []

    return _named(check, f"pixel_area_{field}")


def value_not_with_items(field: str, values: Sequence[str], items: str, *, present: bool) -> Check:
    """Some values of `field` are only for requests with (`present`) or without `items`."""

    def check(params: Mapping[str, Any]) -> Problems:
        value = params.get(field)
        if value not in values or (_count(params, items) > 0) == present:
            return []
        need = "requires" if present else "is not available with"
        return [([field], f"{value!r} {need} {items}")]

    return _named(check, f"{field}_with_{items}_{present}")


def in_values(
    field: str, allowed: Sequence[Any], *, when: Callable[[Mapping[str, Any]], bool], why: str
) -> Check:
    """When `when` holds, `field` (if given) must be one of `allowed`."""

    def check(params: Mapping[str, Any]) -> Problems:
        value = params.get(field)
        if value is None or not when(params) or value in allowed:
            return []
        listed = ", ".join(repr(a) for a in allowed)
        return [([field], f"must be one of {listed} {why}")]

    return _named(check, f"{field}_in_values")


def forbidden_when(field: str, *, when: Callable[[Mapping[str, Any]], bool], why: str) -> Check:
    def check(params: Mapping[str, Any]) -> Problems:
        return [([field], f"is not allowed {why}")] if field in params and when(params) else []

    return _named(check, f"{field}_forbidden")
