"""Conventions shared by the multirotor control stages.

Each stage's parameters are a `kestrel.params.ValidatedParams` dataclass declared next to its
math (position_control.py, attitude_control.py, rate_control.py, allocation.py), every field
declared once with `param(...)`: default, unit, range, what per what, mirrored PX4 name.

This module holds what the stages share about the flight phase: which `VehicleMode` means "on
the ground" (integrators reset, allocator fallback to zero thrust), and the default tilt limit.
"""

from __future__ import annotations

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


def in_flight(mode: VehicleMode | None) -> bool:
    """True when the vehicle is armed and not in a ground phase (see `GROUND_PHASES`)."""
    return mode is not None and mode.armed and mode.phase not in GROUND_PHASES
