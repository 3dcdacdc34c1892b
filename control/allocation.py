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

When the demand does not fit in [0, 1], the priorities are those of PX4's airmode-disabled
sequential desaturation (MC_AIRMODE = 0): the collective is never raised to unsaturate a rotor,
roll and pitch keep the vehicle upright and are given up last, yaw first:
1. collective thrust alone, clipped to what the rotors can give;
2. roll and pitch added, scaled down together (keeping the direction of the tilt torque) only
   as far as needed for a downward shift of the collective to bring every rotor into [0, 1];
   the collective is lowered by that shift;
3. yaw added, scaled down the same way, with the collective allowed to drop by at most 15 % of
   the rotor range more for it (PX4 mixYaw's headroom), and lowered by what it needs.
PX4 finds each scale with a two-pass heuristic gain (computeDesaturationGain), which can leave a
rotor out of range for the final clip to cut, changing roll/pitch. Here each scale is computed
exactly: every condition (each rotor ≥ 0, at most 1 + headroom, and each pair of rotors within
one collective shift of [0, 1]) is linear in the scale, so the largest feasible scale is a
minimum over a few ratios. Roll and pitch are therefore delivered exactly whenever some
collective no higher than the demanded one allows it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from kestrel.airframe import GRAVITY_MPS2, QuadrotorAirframe
from kestrel.component import Component, Port
from kestrel.messages import MotorCommand, TorqueThrust, Vec3, VehicleMode
from kestrel.params import ValidatedParams

from .params import GROUND_PHASES

log = logging.getLogger(__name__)

YAW_HEADROOM = 0.15
"""How far the collective may be lowered (fraction of the rotor range) to make room for yaw, so
that yaw keeps some authority at full thrust without costing much climb (PX4 mixYaw)."""

_FITS_MARGIN = 1e-9
"""Margin of `ControlAllocation.unallocated_torque`'s shortcut, in normalised rotor thrust."""


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
        roll, pitch, yaw, self._thrust = (
            tuple(float(v) for v in allocation[:, axis]) for axis in range(4)
        )
        if min(self._thrust) <= 0.0:
            raise ValueError("every rotor must carry a share of the collective thrust")
        self._per_collective = tuple(1.0 / t for t in self._thrust)
        """C_i = 1 / A_T,i: rotor i's full range in newtons of collective thrust."""
        self._roll_pitch_per_collective = tuple(
            (r * c, p * c) for r, p, c in zip(roll, pitch, self._per_collective, strict=True)
        )
        self._yaw_per_collective = tuple(
            y * c for y, c in zip(yaw, self._per_collective, strict=True)
        )
        self._pairs = tuple(
            (i, j, self._per_collective[i])
            for i in range(self.rotor_count)
            for j in range(self.rotor_count)
            if i != j
        )
        self._no_upper = [math.inf] * self.rotor_count
        self._yaw_upper = [(1.0 + YAW_HEADROOM) * c for c in self._per_collective]
        # Bounds for `unallocated_torque`'s shortcut: |u_i − A_T,i·T| ≤ Σ_axis max_i|A_axis,i|·|τ|.
        self._roll_share_max = max(abs(v) for v in roll)
        self._pitch_share_max = max(abs(v) for v in pitch)
        self._yaw_share_max = max(abs(v) for v in yaw)
        self._thrust_share_min = min(self._thrust)
        self._thrust_share_max = max(self._thrust)
        self.hover_thrust_normalized: tuple[float, ...] = tuple(
            self.allocate((0.0, 0.0, 0.0), airframe.mass_kg * GRAVITY_MPS2)[0]
        )
        """Zero-torque rotor thrusts that hold the airframe's weight."""

    def allocate(self, torque_flu_nm: Vec3, thrust_n: float) -> tuple[list[float], bool]:
        """Normalised rotor thrusts for a torque [N·m] and collective thrust [N].

        Returns the thrusts in [0, 1] and whether the demand had to be modified (saturation).
        """
        tx, ty, tz = torque_flu_nm
        # One loop that also checks the range: cheaper than a comprehension plus min() and max()
        # (this runs at 500 Hz in the allocator).
        u = []
        inside = True
        for r, p, y, c in self.allocation:
            v = r * tx + p * ty + y * tz + c * thrust_n
            if not 0.0 <= v <= 1.0:
                inside = False
            u.append(v)
        if inside:
            return u, False
        # Saturated: build the demand axis by axis in priority order (module docstring), in
        # collective units: w_i = u_i / A_T,i is rotor i's thrust in newtons of collective, so a
        # collective shift moves every w_i alike and rotor i's range is [0, 1 / A_T,i].
        capacity = self._per_collective
        collective_n = min(max(thrust_n, 0.0), min(capacity))
        w = [collective_n] * self.rotor_count
        tilt = [r * tx + p * ty for r, p in self._roll_pitch_per_collective]
        scale = self._largest_scale(w, tilt, self._no_upper)
        w = self._lower_collective([v + scale * d for v, d in zip(w, tilt, strict=False)])
        spin = [y * tz for y in self._yaw_per_collective]
        scale = self._largest_scale(w, spin, self._yaw_upper)
        w = self._lower_collective([v + scale * d for v, d in zip(w, spin, strict=False)])
        return [min(max(v * t, 0.0), 1.0) for v, t in zip(w, self._thrust, strict=False)], True

    def _lower_collective(self, w: list[float]) -> list[float]:
        """Shift the collective down until no rotor is above full thrust (never up)."""
        shift_n = min(c - v for v, c in zip(w, self._per_collective, strict=False))
        if shift_n >= 0.0:
            return w
        return [v + shift_n for v in w]

    def _largest_scale(self, w: list[float], direction: list[float], upper: list[float]) -> float:
        """Largest s in [0, 1] for which w + s·direction (collective units) can be brought into
        every rotor's range by lowering the collective, with no rotor above `upper` before that.

        Lowering the collective fits rotor i into [0, C_i] (C_i = 1 / A_T,i) iff every
        w_j ≥ 0 and w_i − w_j ≤ C_i for every pair. Each condition is linear in s and holds at
        s = 0, so s is a minimum of ratios.
        """
        s = 1.0
        for v, d, top in zip(w, direction, upper, strict=False):
            if d < 0.0:
                if v + s * d < 0.0:
                    s = max(0.0, -v / d)
            elif d > 0.0 and v + s * d > top:
                s = max(0.0, (top - v) / d)
        for i, j, capacity in self._pairs:
            slope = direction[i] - direction[j]
            if slope > 0.0:
                excess = w[i] - w[j] + s * slope - capacity
                if excess > 0.0:
                    s = max(0.0, s - excess / slope)
        return s

    def unallocated_torque(self, torque_flu_nm: Vec3, thrust_n: float) -> Vec3:
        """Torque [N·m] of a demand that `allocate` cannot deliver: τ − B·u when it saturates,
        zero otherwise.

        The rate loop needs this every tick, and almost always the demand fits, so a bound
        answers first without allocating: rotor i's thrust is u_i = A_T,i·T + Σ A_axis,i·τ_axis,
        so with T ≥ 0, min_i A_T,i·T − m ≤ u_i ≤ max_i A_T,i·T + m where
        m = Σ_axis max_i |A_axis,i|·|τ_axis| (A_T,i > 0 is checked at construction). If that
        interval lies inside [0, 1] with a margin of 1e-9, every term of every u_i is at most 1
        in size, so the rounding of `allocate`'s sums (~1e-15) cannot take a u_i out of [0, 1]:
        it would report no saturation, and the answer is zero, exactly as through `allocate`.
        Otherwise (close to the edge, T < 0, non-finite) it asks `allocate`.
        """
        tx, ty, tz = torque_flu_nm
        if thrust_n >= 0.0:
            spread = (
                self._roll_share_max * (tx if tx >= 0.0 else -tx)
                + self._pitch_share_max * (ty if ty >= 0.0 else -ty)
                + self._yaw_share_max * (tz if tz >= 0.0 else -tz)
            )
            if (
                self._thrust_share_min * thrust_n - spread >= _FITS_MARGIN
                and self._thrust_share_max * thrust_n + spread <= 1.0 - _FITS_MARGIN
            ):
                return (0.0, 0.0, 0.0)
        thrusts, saturated = self.allocate(torque_flu_nm, thrust_n)
        if not saturated:
            return (0.0, 0.0, 0.0)
        achieved, _ = self.wrench(thrusts)
        return (tx - achieved[0], ty - achieved[1], tz - achieved[2])

    def wrench(self, thrust_normalized: list[float] | tuple[float, ...]) -> tuple[Vec3, float]:
        """Torque [N·m] and collective thrust [N] that rotor thrusts produce: B u."""
        tx = ty = tz = thrust = 0.0
        for (bx, by, bz, bt), v in zip(self._columns, thrust_normalized, strict=True):
            tx += bx * v
            ty += by * v
            tz += bz * v
            thrust += bt * v
        return (tx, ty, tz), thrust


_isfinite = math.isfinite


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
        self._rows = self.allocation.allocation
        self._refusing = False

    def step(
        self, t_s: float, torque_thrust: TorqueThrust | None, mode: VehicleMode | None
    ) -> MotorCommand:
        if mode is None or not mode.armed or torque_thrust is None:
            return MotorCommand(t_s, self._stopped)
        torque = torque_thrust.torque_flu_nm
        tx, ty, tz = torque
        thrust_n = torque_thrust.thrust_n
        if not (_isfinite(tx) and _isfinite(ty) and _isfinite(tz) and _isfinite(thrust_n)):
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
        # The unsaturated case of `ControlAllocation.allocate`, repeated here: at 500 Hz the
        # method call and its (thrusts, saturated) tuple are a sixth of this step's cost.
        u = []
        for r, p, y, c in self._rows:
            v = r * tx + p * ty + y * tz + c * thrust_n
            if not 0.0 <= v <= 1.0:
                thrusts, _ = self.allocation.allocate(torque, thrust_n)
                return MotorCommand(t_s, tuple(thrusts))
            u.append(v)
        return MotorCommand(t_s, tuple(u))
