"""Position and velocity control: trajectory setpoint → acceleration demand (ENU).

PX4's mc_pos_control (PositionControl.cpp), in acceleration units throughout:

1. Position P: v_sp = K_p (p_sp − p) + v_ff. Horizontally the result is limited to the maximum
   speed giving priority to the position term over the feed-forward (PX4
   ControlMath::constrainXY); vertically it is clamped to the climb/descent limits. A setpoint
   without a position (a pilot's sticks) is pure velocity control: v_sp = v_ff.
2. Velocity PID with acceleration feed-forward:
   a = a_ff + K_v,P (v_sp − v) + ∫ K_v,I (v_sp − v) dt − K_v,D v̇_f, with v̇_f the derivative of
   the estimated velocity through a first-order low-pass (PX4 MPC_VELD_LP). As in PX4 the D
   term acts on the measured acceleration, so it also opposes the acceleration feed-forward
   while tracking a curve; its default is 0 (it doubled the circle-tracking error for little
   gain in the step and gust responses, and it differentiates estimator noise).
3. Limits, vertical first (PX4 prioritises vertical control): the vertical acceleration stays
   inside what the thrust range allows, then the horizontal acceleration is limited so that the
   thrust vector tilts at most MPC_TILTMAX_AIR and stays within the maximum thrust.
4. Anti-windup by conditional integration: vertically the integrator stops while the demand is
   saturated in the direction of the error (as PX4); horizontally, while the demand is cut by
   the tilt or thrust limit, the part of the velocity error along the demand is not integrated
   (the perpendicular part still is). PX4 uses tracking anti-reset windup here (Rundqwist 1990,
   gain 2 / K_v,P), which back-calculates the integrator negative while the P term alone is
   over the limit; on a raw 5 m position step that left the vehicle 0.6 m short at 2 s and
   creeping in for 7 s, against 0.13 m with conditional integration. The vertical integrator
   is bounded by g (it stands in for a hover-thrust error, as PX4's), the horizontal one by
   g·tan(tilt_max).

The output is an acceleration demand (plus the velocity demand it came from and the yaw): the
safety filter sits between this stage and the attitude stage (ARCHITECTURE.md).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from kestrel.airframe import GRAVITY_MPS2, QuadrotorAirframe
from kestrel.component import Component, Port
from kestrel.messages import AccelerationSetpoint, Odometry, TrajectorySetpoint, Vec3, VehicleMode
from kestrel.params import ValidatedParams, param

from .params import TILT_MAX_AIR_DEG, in_flight

log = logging.getLogger(__name__)

MAX_PERIODS_PER_STEP = 4.0
"""Integrator step cap, in nominal periods, after a gap in the inputs (estimate lost a while)."""

_POS_P = "m/s per m"
_VEL_P = "m/s² per m/s"
_VEL_I = "m/s² per m"
_VEL_D = "m/s² per m/s²"


@dataclass(frozen=True)
class PositionControlParams(ValidatedParams):
    """Position/velocity gains and limits (PX4 MPC_*), in acceleration units.

    Defaults are tuned for REFERENCE_QUADROTOR with the default attitude (10 rad/s per rad) and
    rate loops, in the 6-DOF model of tests/test_position_control.py: a 1 m step settles within
    5 % in about 2 s without overshoot, a constant 2 m/s² push moves the vehicle 0.18 m and is
    rejected to 2 cm within 5 s, and a 3 m/s circle of 5 m radius is tracked within 2–3 cm
    with feed-forward. The velocity loop (5 /s) stays at half the attitude
    bandwidth; stiffer gains tracked better in the ideal model but amplify estimator noise.
    """

    xy_p: float = param(
        1.5,
        unit=_POS_P,
        low=0.0,
        high=10.0,
        px4="MPC_XY_P",
        description="Horizontal position gain: velocity demand per m of position error",
    )
    z_p: float = param(
        1.5,
        unit=_POS_P,
        low=0.0,
        high=10.0,
        px4="MPC_Z_P",
        description="Vertical position gain: velocity demand per m of altitude error",
    )
    xy_vel_p: float = param(
        5.0,
        unit=_VEL_P,
        low=0.0,
        high=20.0,
        px4="MPC_XY_VEL_P_ACC",
        description="Horizontal velocity P: acceleration demand per m/s of velocity error",
    )
    xy_vel_i: float = param(
        3.0,
        unit=_VEL_I,
        low=0.0,
        high=20.0,
        px4="MPC_XY_VEL_I_ACC",
        description="Horizontal velocity I: acceleration demand per m of integrated velocity error",
    )
    xy_vel_d: float = param(
        0.0,
        unit=_VEL_D,
        low=0.0,
        high=2.0,
        px4="MPC_XY_VEL_D_ACC",
        description="Horizontal velocity D: acceleration demand per m/s² of measured acceleration",
    )
    z_vel_p: float = param(
        5.0,
        unit=_VEL_P,
        low=0.0,
        high=30.0,
        px4="MPC_Z_VEL_P_ACC",
        description="Vertical velocity P: acceleration demand per m/s of climb-rate error",
    )
    z_vel_i: float = param(
        2.5,
        unit=_VEL_I,
        low=0.0,
        high=30.0,
        px4="MPC_Z_VEL_I_ACC",
        description="Vertical velocity I: acceleration demand per m of integrated climb-rate error",
    )
    z_vel_d: float = param(
        0.0,
        unit=_VEL_D,
        low=0.0,
        high=2.0,
        px4="MPC_Z_VEL_D_ACC",
        description="Vertical velocity D: acceleration demand per m/s² of measured vertical "
        "acceleration",
    )
    xy_vel_max_mps: float = param(
        12.0,
        unit="m/s",
        low=0.0,
        high=30.0,
        px4="MPC_XY_VEL_MAX",
        description="Largest horizontal velocity demand",
    )
    z_vel_max_up_mps: float = param(
        3.0,
        unit="m/s",
        low=0.0,
        high=10.0,
        px4="MPC_Z_VEL_MAX_UP",
        description="Largest climb-rate demand",
    )
    z_vel_max_down_mps: float = param(
        1.5,
        unit="m/s",
        low=0.0,
        high=10.0,
        px4="MPC_Z_VEL_MAX_DN",
        description="Largest descent-rate demand",
    )
    tilt_max_deg: float = param(
        TILT_MAX_AIR_DEG,
        unit="deg",
        low=1.0,
        high=89.0,
        px4="MPC_TILTMAX_AIR",
        description="Largest tilt of the thrust vector the acceleration demand may require",
    )
    thrust_min: float = param(
        0.12,
        unit="1",
        low=0.0,
        high=1.0,
        px4="MPC_THR_MIN",
        description="Smallest collective thrust in flight, as a fraction of the airframe's maximum",
    )
    thrust_max: float = param(
        0.9,
        unit="1",
        low=0.0,
        high=1.0,
        px4="MPC_THR_MAX",
        description="Largest collective thrust, as a fraction of the airframe's maximum; below 1 "
        "to leave rotor range for attitude torques",
    )
    velocity_derivative_cutoff_hz: float = param(
        5.0,
        unit="Hz",
        low=0.1,
        high=25.0,
        px4="MPC_VELD_LP",
        description="Cut-off of the low-pass filter on the velocity derivative (D term)",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.thrust_min >= self.thrust_max:
            raise ValueError(
                f"PositionControlParams.thrust_min ({self.thrust_min}) must be below "
                f"thrust_max ({self.thrust_max})"
            )


@dataclass(frozen=True, slots=True)
class PositionControlState:
    """What the position/velocity loop remembers between ticks."""

    velocity_integral_enu_mps2: Vec3
    """Integrator output [m/s²]."""
    acceleration_filtered_enu_mps2: Vec3
    """Low-pass filtered derivative of the estimated velocity [m/s²] (D term)."""
    last_velocity_enu_mps: Vec3 | None = None


INITIAL_POSITION_CONTROL_STATE = PositionControlState((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))


@dataclass(frozen=True, slots=True)
class PositionControlOutput:
    acceleration_enu_mps2: Vec3
    """Limited acceleration demand."""
    velocity_demand_enu_mps: Vec3


def constrain_xy(
    v0: tuple[float, float], v1: tuple[float, float], max_norm: float
) -> tuple[float, float]:
    """v0 + v1 limited to `max_norm`, keeping as much of v0 as possible.

    v0 is the position-loop term and v1 the feed-forward (PX4 ControlMath::constrainXY): if the
    sum is too long and v0 alone fits, v1 is shortened along its own direction so that
    |v0 + s·v1/|v1|| = max_norm, i.e. s = −(v0·u1) + sqrt((v0·u1)² − (|v0|² − max²)).
    """
    sx, sy = v0[0] + v1[0], v0[1] + v1[1]
    if math.hypot(sx, sy) <= max_norm:
        return (sx, sy)
    n0 = math.hypot(v0[0], v0[1])
    if n0 >= max_norm:
        return (v0[0] * max_norm / n0, v0[1] * max_norm / n0)
    n1 = math.hypot(v1[0], v1[1])
    u1x, u1y = v1[0] / n1, v1[1] / n1
    m = u1x * v0[0] + u1y * v0[1]
    c = n0 * n0 - max_norm * max_norm
    s = -m + math.sqrt(m * m - c)
    return (v0[0] + u1x * s, v0[1] + u1y * s)


class PositionControl:
    """The position/velocity cascade as a pure update (PX4 PositionControl)."""

    def __init__(self, params: PositionControlParams, airframe: QuadrotorAirframe) -> None:
        self.params = params
        max_accel = airframe.max_thrust_per_rotor_n * len(airframe.rotors) / airframe.mass_kg
        self.accel_up_max_mps2 = params.thrust_max * max_accel - GRAVITY_MPS2
        """Largest upward acceleration demand (thrust_max with the vehicle level)."""
        self.accel_down_max_mps2 = GRAVITY_MPS2 - params.thrust_min * max_accel
        """Largest downward acceleration demand (thrust_min)."""
        self._specific_thrust_max_mps2 = params.thrust_max * max_accel
        self._tan_tilt_max = math.tan(math.radians(params.tilt_max_deg))
        self._xy_integral_max_mps2 = GRAVITY_MPS2 * self._tan_tilt_max
        self._velocity_filter_tau_s = 1.0 / (2.0 * math.pi * params.velocity_derivative_cutoff_hz)

    def velocity_demand(
        self, position_enu_m: Vec3, setpoint: TrajectorySetpoint
    ) -> tuple[float, float, float]:
        """Position P plus velocity feed-forward, limited (step 1 of the module docstring)."""
        p = self.params
        vff = setpoint.velocity_enu_mps
        target = setpoint.position_enu_m
        if target is None:
            vpx = vpy = vpz = 0.0
        else:
            xy_p = p.xy_p
            vpx = xy_p * (target[0] - position_enu_m[0])
            vpy = xy_p * (target[1] - position_enu_m[1])
            vpz = p.z_p * (target[2] - position_enu_m[2])
        # constrain_xy's first test inline: the limit is rarely reached.
        vx, vy = vpx + vff[0], vpy + vff[1]
        if not math.hypot(vx, vy) <= p.xy_vel_max_mps:
            vx, vy = constrain_xy((vpx, vpy), (vff[0], vff[1]), p.xy_vel_max_mps)
        # min(max(vz, −down), up) without the builtins' call cost.
        vz = vpz + vff[2]
        if vz < -p.z_vel_max_down_mps:
            vz = -p.z_vel_max_down_mps
        elif vz > p.z_vel_max_up_mps:
            vz = p.z_vel_max_up_mps
        return (vx, vy, vz)

    def update(
        self,
        state: PositionControlState,
        *,
        position_enu_m: Vec3,
        velocity_enu_mps: Vec3,
        setpoint: TrajectorySetpoint,
        dt_s: float,
        in_flight: bool,
    ) -> tuple[PositionControlOutput, PositionControlState]:
        """Acceleration demand for one tick; `in_flight` False holds the integrator at zero."""
        acceleration, v_sp, integral, accel_f = self.update_fields(
            state.velocity_integral_enu_mps2,
            state.acceleration_filtered_enu_mps2,
            state.last_velocity_enu_mps,
            position_enu_m,
            velocity_enu_mps,
            setpoint,
            dt_s,
            in_flight,
        )
        return (
            PositionControlOutput(acceleration, v_sp),
            PositionControlState(integral, accel_f, velocity_enu_mps),
        )

    def update_fields(
        self,
        integral: Vec3,
        accel_f: Vec3,
        last_v: Vec3 | None,
        position_enu_m: Vec3,
        velocity_enu_mps: Vec3,
        setpoint: TrajectorySetpoint,
        dt_s: float,
        in_flight: bool,
    ) -> tuple[Vec3, Vec3, Vec3, Vec3]:
        """`update` on the fields of the state and output: (acceleration demand, velocity
        demand, new integral, new filtered acceleration).

        The component keeps its state in plain attributes: building the two frozen dataclasses
        costs about 1 µs a tick. Clamps are inline comparisons (min/max cost 0.1 µs a call).
        """
        p = self.params
        v_sp = self.velocity_demand(position_enu_m, setpoint)
        vx, vy, vz = velocity_enu_mps
        # Velocity derivative for the D term.
        afx, afy, afz = accel_f
        if last_v is not None and dt_s > 0.0:
            alpha = dt_s / (dt_s + self._velocity_filter_tau_s)
            afx = afx + alpha * ((vx - last_v[0]) / dt_s - afx)
            afy = afy + alpha * ((vy - last_v[1]) / dt_s - afy)
            afz = afz + alpha * ((vz - last_v[2]) / dt_s - afz)
        ex, ey, ez = v_sp[0] - vx, v_sp[1] - vy, v_sp[2] - vz
        ix, iy, iz = integral
        aff = setpoint.acceleration_enu_mps2
        xy_vel_p, xy_vel_d = p.xy_vel_p, p.xy_vel_d
        ax = aff[0] + xy_vel_p * ex + ix - xy_vel_d * afx
        ay = aff[1] + xy_vel_p * ey + iy - xy_vel_d * afy
        az_demand = aff[2] + p.z_vel_p * ez + iz - p.z_vel_d * afz
        # Vertical first, then what remains horizontally (tilt and total thrust).
        up_max, down_max = self.accel_up_max_mps2, self.accel_down_max_mps2
        az = az_demand
        if az < -down_max:
            az = -down_max
        elif az > up_max:
            az = up_max
        specific_thrust_z = GRAVITY_MPS2 + az
        remaining = self._specific_thrust_max_mps2**2 - specific_thrust_z**2
        tilt_max = specific_thrust_z * self._tan_tilt_max
        thrust_max = math.sqrt(0.0 if remaining < 0.0 else remaining)
        horizontal_max = thrust_max if thrust_max < tilt_max else tilt_max
        horizontal = math.hypot(ax, ay)
        if horizontal > horizontal_max:
            scale = horizontal_max / horizontal
            acceleration = (ax * scale, ay * scale, az)
        else:
            acceleration = (ax, ay, az)
        if not in_flight:
            return acceleration, v_sp, _ZERO, (afx, afy, afz)
        # Vertical: stop integrating while saturated in the direction of the error.
        if (az_demand >= up_max and ez >= 0.0) or (az_demand <= -down_max and ez <= 0.0):
            ez = 0.0
        # Horizontal: do not integrate the error along a demand that was cut.
        if horizontal > horizontal_max:
            along = (ex * ax + ey * ay) / horizontal
            if along > 0.0:
                ex -= along * ax / horizontal
                ey -= along * ay / horizontal
        ix = ix + p.xy_vel_i * ex * dt_s
        iy = iy + p.xy_vel_i * ey * dt_s
        iz = iz + p.z_vel_i * ez * dt_s
        ixy = math.hypot(ix, iy)
        if ixy > self._xy_integral_max_mps2:
            ix *= self._xy_integral_max_mps2 / ixy
            iy *= self._xy_integral_max_mps2 / ixy
        if iz < -GRAVITY_MPS2:
            iz = -GRAVITY_MPS2
        elif iz > GRAVITY_MPS2:
            iz = GRAVITY_MPS2
        return acceleration, v_sp, (ix, iy, iz), (afx, afy, afz)


_ZERO: Vec3 = (0.0, 0.0, 0.0)

_isfinite = math.isfinite


def _finite(v: Vec3) -> bool:
    return _isfinite(v[0]) and _isfinite(v[1]) and _isfinite(v[2])


def _setpoint_is_finite(sp: TrajectorySetpoint) -> bool:
    return (
        (sp.position_enu_m is None or _finite(sp.position_enu_m))
        and _finite(sp.velocity_enu_mps)
        and _finite(sp.acceleration_enu_mps2)
        and _isfinite(sp.yaw_rad)
        and _isfinite(sp.yaw_rate_radps)
    )


class PositionController(Component):
    """Trajectory setpoint → acceleration demand in ENU (PX4 mc_pos_control).

    Inputs: `odometry` (Odometry, state/odometry), `setpoint` (TrajectorySetpoint,
    control/setpoint), `mode` (VehicleMode, planning/mode: integrators held at zero while
    disarmed or on the ground). Output: `acceleration` (AccelerationSetpoint,
    control/acceleration_setpoint), read by the safety filter or the attitude stage.

    Publishes nothing before the first valid setpoint or without a valid, finite estimate. A
    setpoint with a NaN or infinite field is refused and the last valid one kept (logged once per
    episode).
    """

    inputs = {
        "odometry": Port(Odometry, "state/odometry"),
        "setpoint": Port(TrajectorySetpoint, "control/setpoint"),
        "mode": Port(VehicleMode, "planning/mode"),
    }
    outputs = {"acceleration": Port(AccelerationSetpoint, "control/acceleration_setpoint")}
    rate_hz = 50.0

    def __init__(
        self,
        name: str,
        namespace: str = "",
        *,
        params: PositionControlParams | None = None,
        airframe: QuadrotorAirframe,
    ) -> None:
        super().__init__(name, namespace)
        self.params = params if params is not None else PositionControlParams()
        self.control = PositionControl(self.params, airframe)
        # PositionControlState's fields, kept as plain attributes (see update_fields).
        self._integral: Vec3 = INITIAL_POSITION_CONTROL_STATE.velocity_integral_enu_mps2
        self._accel_f: Vec3 = INITIAL_POSITION_CONTROL_STATE.acceleration_filtered_enu_mps2
        self._last_v: Vec3 | None = None
        self._setpoint: TrajectorySetpoint | None = None
        self._last_t_s: float | None = None
        self._refusing = False

    @property
    def state(self) -> PositionControlState:
        """What the loop remembers, as the `PositionControl.update` state."""
        return PositionControlState(self._integral, self._accel_f, self._last_v)

    @state.setter
    def state(self, state: PositionControlState) -> None:
        self._integral = state.velocity_integral_enu_mps2
        self._accel_f = state.acceleration_filtered_enu_mps2
        self._last_v = state.last_velocity_enu_mps

    def step(
        self,
        t_s: float,
        odometry: Odometry | None,
        setpoint: TrajectorySetpoint | None,
        mode: VehicleMode | None,
    ) -> AccelerationSetpoint | None:
        if setpoint is not None and setpoint is not self._setpoint:
            if _setpoint_is_finite(setpoint):
                self._setpoint = setpoint
                self._refusing = False
            elif not self._refusing:
                log.warning("%s: non-finite setpoint refused: %s", self.qualified_name, setpoint)
                self._refusing = True
        sp = self._setpoint
        if sp is None or odometry is None or not odometry.valid:
            return None
        position, velocity = odometry.position_enu_m, odometry.velocity_enu_mps
        if not (_finite(position) and _finite(velocity)):
            return None
        period_s = 1.0 / self.rate_hz
        last_t_s = self._last_t_s
        dt_s = period_s if last_t_s is None else t_s - last_t_s
        # min(max(dt_s, 0), cap) without the builtins' call cost.
        if dt_s < 0.0:
            dt_s = 0.0
        elif dt_s > MAX_PERIODS_PER_STEP * period_s:
            dt_s = MAX_PERIODS_PER_STEP * period_s
        self._last_t_s = t_s
        acceleration, v_sp, self._integral, self._accel_f = self.control.update_fields(
            self._integral,
            self._accel_f,
            self._last_v,
            position,
            velocity,
            sp,
            dt_s,
            in_flight(mode),
        )
        self._last_v = velocity
        return AccelerationSetpoint(t_s, acceleration, v_sp, sp.yaw_rad, sp.yaw_rate_radps)
