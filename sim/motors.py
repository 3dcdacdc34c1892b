"""Rotor speeds from normalised thrust commands, and the force and torque they put on the body.

Model (per rotor i, all SI):
- command u_i ∈ [0, 1] (PX4 quad-x order, kestrel.messages.MotorCommand) → commanded speed
  ω_cmd = ω_max·√u, so that the steady-state thrust k_f·ω_cmd² = u·T_max is linear in u, as the
  allocator assumes (PX4 `THR_MDL_FAC` = 1: thrust linear in the normalised command);
- first-order lag dω/dt = (ω_cmd − ω)/τ with τ = `motor_time_constant_up_s` while speeding up and
  `motor_time_constant_down_s` while slowing down (PX4 SITL gazebo_motor_model `timeConstantUp`
  / `timeConstantDown`), integrated exactly over a step: ω ← ω_cmd + (ω − ω_cmd)·e^(−dt/τ);
- thrust T_i = k_f·ω_i² along body +z at the rotor hub;
- reaction (drag) torque −spin_i·κ·T_i about body z, κ = `torque_to_thrust_m`
  (kestrel.airframe: spin +1 = CCW seen from above, whose reaction turns the body clockwise).

The body force and torque about the centre of mass follow: F_z = ΣT_i, τ = Σ r_i × (0, 0, T_i)
+ (0, 0, −κ·Σ spin_i·T_i), i.e. τ_x = Σ y_i·T_i, τ_y = −Σ x_i·T_i.

Command hygiene (the component boundary): values are clipped to [0, 1] (saturation), and NaN
or ±inf entries are treated as 0 (rotor stopped), logged once per model, because the simulator
must never act on a non-finite number. A command of the wrong length is a wiring error and
raises. Per-step code is scalar float math (sim-speed feasibility study: numpy is 5× slower for
a handful of numbers).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from kestrel.airframe import QuadrotorAirframe

log = logging.getLogger(__name__)

_NO_COMMAND_YET = object()
"""Sentinel: no command seen since construction or `reset` (the next one, None included,
is applied)."""


class MotorModel:
    """Rotor speeds of one vehicle with first-order lag; see the module docstring.

    `set_command` stores a command (validated once per new command object); `advance` moves
    the rotor speeds over one step of `dt_s` and returns the body wrench; `step(command)` does
    both (the simulator's per-tick call).
    """

    def __init__(self, airframe: QuadrotorAirframe, *, dt_s: float, label: str = "") -> None:
        if not (dt_s > 0.0 and math.isfinite(dt_s)):
            raise ValueError(f"dt_s must be a positive finite number [s], got {dt_s!r}")
        for name in ("motor_time_constant_up_s", "motor_time_constant_down_s"):
            tau = getattr(airframe, name)
            if not (tau > 0.0 and math.isfinite(tau)):
                raise ValueError(f"airframe.{name} must be positive [s], got {tau!r}")
        self.label = label
        self.dt_s = float(dt_s)
        self.rotor_count = len(airframe.rotors)
        self.max_speed_radps = float(airframe.max_rotor_speed_radps)
        self.thrust_coefficient = float(airframe.thrust_coefficient_n_per_radps2)
        # Fraction of the remaining speed error removed in one step: 1 − e^(−dt/τ).
        self._alpha_up = 1.0 - math.exp(-self.dt_s / airframe.motor_time_constant_up_s)
        self._alpha_down = 1.0 - math.exp(-self.dt_s / airframe.motor_time_constant_down_s)
        # Per-rotor lever arms of the thrust (τ_x = y·T, τ_y = −x·T) and yaw reaction (−spin·κ).
        self._roll_arm_m = tuple(r.position_flu_m[1] for r in airframe.rotors)
        self._pitch_arm_m = tuple(-r.position_flu_m[0] for r in airframe.rotors)
        self._yaw_arm_m = tuple(-r.spin * airframe.torque_to_thrust_m for r in airframe.rotors)
        self.speeds_radps: list[float] = [0.0] * self.rotor_count
        self._targets_radps: list[float] = [0.0] * self.rotor_count
        self._command: object = _NO_COMMAND_YET
        self._warned_non_finite = False
        if self.rotor_count == 4:
            self.step = self._step_quad  # type: ignore[method-assign]
            self.advance = self._advance_quad  # type: ignore[method-assign]

    def set_command(self, thrust_normalized: Sequence[float] | None) -> None:
        """Latest command (None = motors off). Re-validated only when the object changes."""
        if thrust_normalized is self._command:
            return
        self._command = thrust_normalized
        if thrust_normalized is None:
            self._targets_radps = [0.0] * self.rotor_count
            return
        if len(thrust_normalized) != self.rotor_count:
            raise ValueError(
                f"{self.label}: motor command has {len(thrust_normalized)} entries, "
                f"the airframe has {self.rotor_count} rotors"
            )
        w_max = self.max_speed_radps
        if self.rotor_count == 4:
            # Fast path for the common case, every entry within (0, 1] (the allocator sends a
            # new command every control period): the same ω_max·√u as below, without the
            # per-entry branches. Chained comparisons are False for NaN.
            u0, u1, u2, u3 = thrust_normalized
            if 0.0 < u0 <= 1.0 and 0.0 < u1 <= 1.0 and 0.0 < u2 <= 1.0 and 0.0 < u3 <= 1.0:
                sqrt = math.sqrt
                self._targets_radps = [
                    w_max * sqrt(u0),
                    w_max * sqrt(u1),
                    w_max * sqrt(u2),
                    w_max * sqrt(u3),
                ]
                return
        targets = []
        for u in thrust_normalized:
            if not math.isfinite(u):
                if not self._warned_non_finite:
                    log.warning("%s: non-finite motor command %r treated as 0", self.label, u)
                    self._warned_non_finite = True
                u = 0.0
            elif u <= 0.0:
                u = 0.0
            elif u > 1.0:
                u = 1.0
            targets.append(w_max * math.sqrt(u))
        self._targets_radps = targets

    def step(
        self, thrust_normalized: Sequence[float] | None
    ) -> tuple[float, float, float, float, float]:
        """`set_command(thrust_normalized)`, then `advance()`: the simulator's per-tick call.

        The command is re-validated only when the object changes (the allocator publishes a
        new one at its own rate; in between the runner passes the same object)."""
        if thrust_normalized is not self._command:
            self.set_command(thrust_normalized)
        return self.advance()

    def advance(self) -> tuple[float, float, float, float, float]:
        """Advance one step; return (thrust [N], τ_x, τ_y, τ_z [N·m] in FLU, Σω [rad/s]).

        Forces and torques are evaluated with the speeds at the end of the step (the step is
        1 ms or less, well below the 12.5 ms motor time constant).
        """
        speeds = self.speeds_radps
        targets = self._targets_radps
        alpha_up = self._alpha_up
        alpha_down = self._alpha_down
        k_f = self.thrust_coefficient
        roll_arm = self._roll_arm_m
        pitch_arm = self._pitch_arm_m
        yaw_arm = self._yaw_arm_m
        thrust = tau_x = tau_y = tau_z = speed_sum = 0.0
        for i in range(self.rotor_count):
            w = speeds[i]
            error = targets[i] - w
            w += error * (alpha_up if error > 0.0 else alpha_down)
            speeds[i] = w
            t_i = k_f * w * w
            thrust += t_i
            tau_x += roll_arm[i] * t_i
            tau_y += pitch_arm[i] * t_i
            tau_z += yaw_arm[i] * t_i
            speed_sum += w
        return thrust, tau_x, tau_y, tau_z, speed_sum

    def _advance_quad(self) -> tuple[float, float, float, float, float]:
        return self._step_quad(self._command)  # type: ignore[arg-type]

    def _step_quad(
        self, thrust_normalized: Sequence[float] | None
    ) -> tuple[float, float, float, float, float]:
        """`step` for four rotors, with `advance` unrolled: the same arithmetic in the same
        order as the loop (bit-identical), at about half its cost; tuples are unpacked into
        locals rather than indexed, one bytecode instead of four."""
        if thrust_normalized is not self._command:
            self.set_command(thrust_normalized)
        s0, s1, s2, s3 = self.speeds_radps
        g0, g1, g2, g3 = self._targets_radps
        up = self._alpha_up
        down = self._alpha_down
        k_f = self.thrust_coefficient
        e0 = g0 - s0
        e1 = g1 - s1
        e2 = g2 - s2
        e3 = g3 - s3
        w0 = s0 + e0 * (up if e0 > 0.0 else down)
        w1 = s1 + e1 * (up if e1 > 0.0 else down)
        w2 = s2 + e2 * (up if e2 > 0.0 else down)
        w3 = s3 + e3 * (up if e3 > 0.0 else down)
        self.speeds_radps = [w0, w1, w2, w3]
        t0 = k_f * w0 * w0
        t1 = k_f * w1 * w1
        t2 = k_f * w2 * w2
        t3 = k_f * w3 * w3
        r0, r1, r2, r3 = self._roll_arm_m
        p0, p1, p2, p3 = self._pitch_arm_m
        y0, y1, y2, y3 = self._yaw_arm_m
        return (
            t0 + t1 + t2 + t3,
            r0 * t0 + r1 * t1 + r2 * t2 + r3 * t3,
            p0 * t0 + p1 * t1 + p2 * t2 + p3 * t3,
            y0 * t0 + y1 * t1 + y2 * t2 + y3 * t3,
            w0 + w1 + w2 + w3,
        )

    def reset(self, speed_radps: float) -> None:
        """Set every rotor to `speed_radps` and command the matching steady state (an air
        start with spinning rotors)."""
        if not (0.0 <= speed_radps <= self.max_speed_radps):
            raise ValueError(
                f"speed_radps must be within [0, {self.max_speed_radps}], got {speed_radps!r}"
            )
        self.speeds_radps = [float(speed_radps)] * self.rotor_count
        self._targets_radps = [float(speed_radps)] * self.rotor_count
        self._command = _NO_COMMAND_YET

    def thrusts_n(self) -> tuple[float, ...]:
        """Current thrust of each rotor [N] (for tests and logging)."""
        k_f = self.thrust_coefficient
        return tuple(k_f * w * w for w in self.speeds_radps)
