"""Control allocation: torque and collective thrust → normalised thrust per rotor.

PX4's control_allocator stage (docs "Control Allocation"; ControlAllocationPseudoInverse and
ControlAllocationSequentialDesaturation with MC_AIRMODE = 0). The effectiveness matrix B maps
normalised rotor thrusts u ∈ [0, 1] to the wrench they produce on the body:

    [τx, τy, τz, T]ᵀ = B u,   column i = T_max · [r_i × ẑ ; −spin_i · k_Q ; 1]

with r_i the rotor hub in FLU, ẑ the thrust direction (+z body), k_Q the torque-to-thrust ratio
[m] and spin_i = +1 for a counter-clockwise rotor whose reaction torque on the body is −k_Q·T
about z (airframe.py). The allocation matrix is the Moore–Penrose pseudo-inverse A = B⁺, so
B A = I whenever B has full row rank (every useful multirotor), and an unsaturated demand is
reproduced exactly.

When the demand does not fit in [0, 1] the airmode-disabled sequential desaturation decides what
to give up, in this order:
1. mix roll, pitch and thrust (no yaw); lower the collective (never raise it) to pull rotors
   under full thrust, keeping roll/pitch;
2. reduce roll, then pitch, by what is still out of range;
3. add yaw, reduce yaw to fit (allowing 15 % headroom above full thrust, as PX4), then lower the
   collective again;
4. clip to [0, 1].
Roll and pitch keep the vehicle upright and are sacrificed last; yaw first.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from kestrel.airframe import GRAVITY_MPS2, QuadrotorAirframe
from kestrel.component import Component, Port
from kestrel.messages import MotorCommand, TorqueThrust, Vec3, VehicleMode

from .params import GROUND_PHASES, ValidatedParams

log = logging.getLogger(__name__)

WEAK_EFFECTIVENESS_RATIO = 0.2
"""Rotors whose share of a desaturation direction is below this fraction of the largest share
are not used to compute the desaturation gain (PX4 skips entries below 0.2 of a normalised mix
column: a weak actuator would demand a huge gain)."""


YAW_HEADROOM = 0.15
"""Fraction of the rotor range allowed above full thrust while yaw is desaturated, so that yaw
keeps some authority at full thrust; the collective is lowered afterwards (PX4 mixYaw)."""


@dataclass(frozen=True)
class ControlAllocationParams(ValidatedParams):
    """Parameters of the allocator: none to tune today.

    The geometry comes from the airframe and the airmode-disabled strategy (PX4 MC_AIRMODE = 0)
    has no tunables; the class keeps every control component's constructor alike and is where an
    MC_AIRMODE choice would go.
    """


class ControlAllocation:
    """Pseudo-inverse allocation with sequential desaturation (pure; no state)."""

    def __init__(self, airframe: QuadrotorAirframe) -> None:
        self.rotor_count = len(airframe.rotors)
        self.max_thrust_per_rotor_n = airframe.max_thrust_per_rotor_n
        k_q = airframe.torque_to_thrust_m
        columns = []
        for rotor in airframe.rotors:
            x, y, _ = rotor.position_flu_m
            # r × (0, 0, 1) = (y, −x, 0); reaction torque −spin·k_Q per newton of thrust.
            columns.append((y, -x, -rotor.spin * k_q, 1.0))
        effectiveness = np.array(columns, dtype=np.float64).T * self.max_thrust_per_rotor_n
        if np.linalg.matrix_rank(effectiveness) < 4:
            raise ValueError(
                "airframe rotor layout cannot produce independent roll, pitch, yaw and thrust"
            )
        allocation = np.linalg.pinv(effectiveness)
        self.effectiveness: tuple[tuple[float, ...], ...] = tuple(
            tuple(float(v) for v in row) for row in effectiveness
        )
        """B: rows τx, τy, τz [N·m], T [N]; one column per rotor, per unit normalised thrust."""
        self._columns = tuple(zip(*self.effectiveness, strict=True))
        self.allocation: tuple[tuple[float, ...], ...] = tuple(
            tuple(float(v) for v in row) for row in allocation
        )
        """A = B⁺: one row per rotor; columns roll, pitch, yaw [1/(N·m)], thrust [1/N]."""
        self._roll, self._pitch, self._yaw, self._thrust = (
            _Direction(tuple(float(v) for v in allocation[:, axis])) for axis in range(4)
        )
        self._yaw_upper = 1.0 + YAW_HEADROOM
        self.hover_thrust_normalized: tuple[float, ...] = tuple(
            self.allocate((0.0, 0.0, 0.0), airframe.mass_kg * GRAVITY_MPS2)[0]
        )
        """Zero-torque rotor thrusts that hold the airframe's weight."""

    def allocate(self, torque_flu_nm: Vec3, thrust_n: float) -> tuple[list[float], bool]:
        """Normalised rotor thrusts for a torque [N·m] and collective thrust [N].

        Returns the thrusts in [0, 1] and whether the demand had to be modified (saturation).
        """
        tx, ty, tz = torque_flu_nm
        u = [r * tx + p * ty + y * tz + c * thrust_n for r, p, y, c in self.allocation]
        if min(u) >= 0.0 and max(u) <= 1.0:
            return u, False
        roll, pitch, yaw, thrust = self._roll, self._pitch, self._yaw, self._thrust
        # Saturated: redo the mix without yaw and desaturate axis by axis (module docstring).
        u = [
            r * tx + p * ty + c * thrust_n
            for r, p, c in zip(roll.vector, pitch.vector, thrust.vector, strict=True)
        ]
        thrust.desaturate(u, 1.0, reduce_only=True)
        roll.desaturate(u, 1.0)
        pitch.desaturate(u, 1.0)
        u = [v + y * tz for v, y in zip(u, yaw.vector, strict=True)]
        yaw.desaturate(u, self._yaw_upper)
        thrust.desaturate(u, 1.0, reduce_only=True)
        return [0.0 if v < 0.0 else 1.0 if v > 1.0 else v for v in u], True

    def wrench(self, thrust_normalized: list[float] | tuple[float, ...]) -> tuple[Vec3, float]:
        """Torque [N·m] and collective thrust [N] that rotor thrusts produce: B u."""
        tx = ty = tz = thrust = 0.0
        for (bx, by, bz, bt), v in zip(self._columns, thrust_normalized, strict=True):
            tx += bx * v
            ty += by * v
            tz += bz * v
            thrust += bt * v
        return (tx, ty, tz), thrust


class _Direction:
    """One column of the allocation matrix, used to slide rotor thrusts along one axis."""

    def __init__(self, vector: tuple[float, ...]) -> None:
        self.vector = vector
        weak = WEAK_EFFECTIVENESS_RATIO * max(abs(d) for d in vector)
        self._strong = tuple((i, d) for i, d in enumerate(vector) if abs(d) >= weak)

    def gain(self, u: list[float], upper: float) -> float:
        """Gain k such that u + k·vector is as far inside [0, upper] as this axis allows.

        Smallest (most negative) plus largest of the per-rotor gains that would bring each
        out-of-range rotor back to its bound (PX4 computeDesaturationGain).
        """
        k_min = 0.0
        k_max = 0.0
        for i, d in self._strong:
            value = u[i]
            if value < 0.0:
                k = -value / d
            elif value > upper:
                k = (upper - value) / d
            else:
                continue
            if k < k_min:
                k_min = k
            elif k > k_max:
                k_max = k
        return k_min + k_max

    def desaturate(self, u: list[float], upper: float, *, reduce_only: bool = False) -> None:
        """Slide u along this axis to minimise saturation (in place): a full step, then half of
        the remaining one so that opposite saturations are split (PX4 desaturateActuators).

        `reduce_only` never moves along +vector (used for thrust: never raise the collective to
        unsaturate a rotor, which is what "airmode disabled" means).
        """
        for fraction in (1.0, 0.5):
            gain = fraction * self.gain(u, upper)
            if gain == 0.0 or (reduce_only and gain > 0.0):
                return
            for i, d in enumerate(self.vector):
                u[i] += gain * d


class ControlAllocator(Component):
    """Torque/thrust demand → normalised rotor thrusts (PX4 control_allocator).

    Inputs: `torque_thrust` (TorqueThrust, control/torque_thrust), `mode` (VehicleMode,
    planning/mode). Output: `motors` (MotorCommand, actuators/motors), PX4 rotor order.

    Disarmed (no mode yet, or `armed` False) or no demand yet → all rotors zero. A non-finite
    demand is refused: in flight every rotor is set to the zero-torque hover thrust (the vehicle
    keeps its weight supported and stops adding torque, rather than falling or acting on
    garbage); on the ground (GROUND_PHASES) the rotors stop. The event is logged once.
    """

    inputs = {
        "torque_thrust": Port(TorqueThrust, "control/torque_thrust"),
        "mode": Port(VehicleMode, "planning/mode"),
    }
    outputs = {"motors": Port(MotorCommand, "actuators/motors")}
    rate_hz = 500.0

    def __init__(
        self,
        name: str,
        namespace: str = "",
        *,
        params: ControlAllocationParams | None = None,
        airframe: QuadrotorAirframe,
    ) -> None:
        super().__init__(name, namespace)
        self.params = params if params is not None else ControlAllocationParams()
        self.allocation = ControlAllocation(airframe)
        self._stopped = (0.0,) * self.allocation.rotor_count
        self._refusing = False

    def step(
        self, t_s: float, torque_thrust: TorqueThrust | None, mode: VehicleMode | None
    ) -> MotorCommand:
        if mode is None or not mode.armed or torque_thrust is None:
            return MotorCommand(t_s, self._stopped)
        torque = torque_thrust.torque_flu_nm
        thrust_n = torque_thrust.thrust_n
        if not (
            math.isfinite(torque[0])
            and math.isfinite(torque[1])
            and math.isfinite(torque[2])
            and math.isfinite(thrust_n)
        ):
            if not self._refusing:
                log.warning(
                    "%s: non-finite torque/thrust demand %s, %s refused",
                    self.qualified_name,
                    torque,
                    thrust_n,
                )
                self._refusing = True
            if mode.phase in GROUND_PHASES:
                return MotorCommand(t_s, self._stopped)
            return MotorCommand(t_s, self.allocation.hover_thrust_normalized)
        if self._refusing:
            log.info("%s: finite demand again", self.qualified_name)
            self._refusing = False
        thrusts, _ = self.allocation.allocate(torque, thrust_n)
        return MotorCommand(t_s, tuple(thrusts))
