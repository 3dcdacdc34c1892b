"""Parameter declarations shared by the multirotor control stages.

Each stage's parameters are a frozen dataclass declared next to its math (position_control.py,
attitude_control.py, rate_control.py). Every field is declared once with `param(...)`: its
default, unit, valid range, a description that says what per what ("m/s per m of position
error"), and the PX4 parameter it mirrors. The metadata is machine-readable so that the ROS 2
adapter can generate `ParameterDescriptor`s with `FloatingPointRange` from it (STYLE.md: "never
written twice"), and `ValidatedParams.__post_init__` refuses out-of-range or non-finite values
with a ValueError naming the field.

The module also holds the one convention the stages share about the flight phase: which
`VehicleMode` means "on the ground" (integrators reset, allocator fallback to zero thrust).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from kestrel.messages import VehicleMode

GROUND_PHASES = frozenset({"idle", "landed"})
"""`VehicleMode.phase` values meaning the vehicle stands on the ground.

While disarmed or in one of these phases the rate and velocity integrators are held at zero (PX4
resets them while `vehicle_land_detected.landed`), and a non-finite demand makes the allocator
stop the motors instead of holding hover thrust. The mission must leave these phases when it
commands a take-off.
"""

TILT_MAX_AIR_DEG = 35.0
"""Default maximum tilt in flight (PX4 MPC_TILTMAX_AIR). The position stage limits its
acceleration demand to it, and the attitude stage enforces it again because the safety filter
sits between them and may rewrite the demand."""


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


def in_flight(mode: VehicleMode | None) -> bool:
    """True when the vehicle is armed and not in a ground phase (see `GROUND_PHASES`)."""
    return mode is not None and mode.armed and mode.phase not in GROUND_PHASES


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
