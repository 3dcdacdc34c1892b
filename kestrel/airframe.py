"""The reference multirotor airframe: one description shared by the simulator and the controllers.

The simulator builds its physics (URDF, rotors) from it; the control chain uses it as the
nominal model (mass for thrust, rotor layout for allocation). A real vehicle's parameter file
replaces it; nothing about it is hidden in code elsewhere.

Reference: a 450 mm-class quadrotor with 10-inch propellers.
- Frame: DJI Flame Wheel F450 (diagonal wheelbase 450 mm, frame 282 g, takeoff weight
  800–1600 g; DJI F450 user manual v2.2).
- Propulsion: 2212 920 KV motors with 10×4.5 in propellers on 4S, ~8.5 N static thrust per rotor
  at full throttle (DJI E305 / T-Motor MN2212 published thrust tables); maximum loaded speed
  ~10 000 rpm ≈ 1047 rad/s, so k_f = 8.5 / 1047² ≈ 7.75e-6 N/(rad/s)².
- Torque-to-thrust ratio 0.016 m: C_Q·D/C_T for an APC 10×4.5 (C_T ≈ 0.11, C_P ≈ 0.045,
  UIUC propeller database), C_Q = C_P / 2π.
- Motor time constants 12.5 ms up / 25 ms down (PX4 SITL iris model, `motorConstant` plugin).
- Inertia from a mass budget: 4 × 90 g (motor + ESC + propeller) at the 0.225 m arm tips as point
  masses plus a 1.14 kg central box of 0.18 × 0.18 × 0.10 m (hub, battery, autopilot, GNSS):
  I_xx = I_yy = 2·0.09·0.225² + 1.14·(0.18² + 0.10²)/12 ≈ 0.0131, I_zz = 4·0.09·0.225²
  + 1.14·2·0.18²/12 ≈ 0.0244 kg·m²; rounded up to 0.015 / 0.026 for wiring and gear.
- Body radius: arm 0.225 m + propeller radius 0.127 m = 0.352 m → 0.36 m sphere (SCENARIOS.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kestrel.messages import Vec3

GRAVITY_MPS2 = 9.80665
"""Standard gravity (ISO 80000-3)."""


@dataclass(frozen=True)
class Rotor:
    """One rotor: hub position in the body FLU frame and its spin direction.

    `spin` is +1 for counter-clockwise seen from above (its reaction torque on the body is
    clockwise, i.e. negative about body z) and −1 for clockwise.
    """

    position_flu_m: Vec3
    spin: int


@dataclass(frozen=True)
class QuadrotorAirframe:
    """Mass, inertia and propulsion of a quadrotor (SI units, FLU body frame)."""

    mass_kg: float
    inertia_diag_kgm2: Vec3
    arm_length_m: float
    propeller_radius_m: float
    body_radius_m: float
    rotors: tuple[Rotor, ...]
    thrust_coefficient_n_per_radps2: float
    torque_to_thrust_m: float
    max_rotor_speed_radps: float
    motor_time_constant_up_s: float
    motor_time_constant_down_s: float
    body_half_extents_m: Vec3
    """Central hub box (collision and drawing), half sizes along FLU x, y, z."""
    landing_gear_height_m: float
    """Height of the centre of mass above the skids when standing on the ground."""

    @property
    def max_thrust_per_rotor_n(self) -> float:
        return self.thrust_coefficient_n_per_radps2 * self.max_rotor_speed_radps**2

    @property
    def hover_thrust_normalized(self) -> float:
        """Normalised per-rotor thrust that holds the vehicle in hover."""
        return self.mass_kg * GRAVITY_MPS2 / (len(self.rotors) * self.max_thrust_per_rotor_n)


def _quad_x_rotors(arm_length_m: float) -> tuple[Rotor, ...]:
    """PX4 quad-x order: 1 front-right CCW, 2 rear-left CCW, 3 front-left CW, 4 rear-right CW."""
    a = arm_length_m / math.sqrt(2.0)
    return (
        Rotor((a, -a, 0.0), +1),
        Rotor((-a, a, 0.0), +1),
        Rotor((a, a, 0.0), -1),
        Rotor((-a, -a, 0.0), -1),
    )


REFERENCE_QUADROTOR = QuadrotorAirframe(
    mass_kg=1.5,
    inertia_diag_kgm2=(0.015, 0.015, 0.026),
    arm_length_m=0.225,
    propeller_radius_m=0.127,
    body_radius_m=0.36,
    rotors=_quad_x_rotors(0.225),
    thrust_coefficient_n_per_radps2=7.75e-6,
    torque_to_thrust_m=0.016,
    max_rotor_speed_radps=1047.0,
    motor_time_constant_up_s=0.0125,
    motor_time_constant_down_s=0.025,
    body_half_extents_m=(0.09, 0.09, 0.05),
    landing_gear_height_m=0.12,
)
