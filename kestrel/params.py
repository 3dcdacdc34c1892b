"""Declared parameters: every field with its default, unit, valid range, description and the
PX4 parameter it mirrors, machine-readable.

Why one declaration: STYLE.md asks that a parameter's default, unit and range are never written
twice. The ROS 2 adapter builds `ParameterDescriptor`s with `FloatingPointRange` from these
specs, the docs read them, and `ValidatedParams.__post_init__` refuses an out-of-range or
non-finite value with a ValueError naming the class, the field and the range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class ParamSpec:
    """What one parameter means: unit, closed valid range, description, mirrored PX4 name."""

    unit: str
    low: float
    high: float
    description: str
    px4: str | None


def param(
    default: float,
    *,
    unit: str,
    low: float,
    high: float,
    description: str,
    px4: str | None = None,
) -> Any:
    """A dataclass field with a default and its `ParamSpec` in the field metadata.

    `low`/`high` bound the closed valid range; `description` says what per what.
    """
    if not low <= default <= high:
        raise ValueError(f"default {default!r} outside [{low}, {high}] ({description})")
    spec = ParamSpec(unit=unit, low=low, high=high, description=description, px4=px4)
    return field(default=default, metadata={"spec": spec})


def param_specs(params: Any) -> dict[str, ParamSpec]:
    """Field name → `ParamSpec` for a params dataclass (class or instance)."""
    return {f.name: f.metadata["spec"] for f in fields(params) if "spec" in f.metadata}


@dataclass(frozen=True)
class ValidatedParams:
    """Base of the control params dataclasses: checks every field against its `ParamSpec`."""

    def __post_init__(self) -> None:
        for f in fields(self):
            spec = f.metadata.get("spec")
            if spec is None:
                raise TypeError(f"{type(self).__name__}.{f.name} is not declared with param()")
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(
                    f"{type(self).__name__}.{f.name} must be a number [{spec.unit}], got {value!r}"
                )
            if not (math.isfinite(value) and spec.low <= value <= spec.high):
                raise ValueError(
                    f"{type(self).__name__}.{f.name} = {value!r} [{spec.unit}] is outside "
                    f"its valid range [{spec.low}, {spec.high}]"
                )


ParamRange = tuple[str, float, float, bool]
"""(field, low, high, low bound excluded) — a range table for params that are plain dataclasses."""


def check_param_ranges(params: Any, ranges: tuple[ParamRange, ...]) -> None:
    """Refuse a field outside its range (NaN included) with a ValueError naming class and field.

    For params dataclasses declared with a range table rather than `param()` (the sensor models);
    the upper bound is always included.
    """
    for name, low, high, low_open in ranges:
        value = getattr(params, name)
        in_range = isinstance(value, int | float) and (
            (low < value if low_open else low <= value) and value <= high
        )
        if not in_range:
            bracket = "(" if low_open else "["
            raise ValueError(
                f"{type(params).__name__}.{name} must be in {bracket}{low}, {high}], got {value!r}"
            )
