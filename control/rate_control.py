"""Body-rate control: rate setpoint → torque demand (PX4 mc_rate_control / lib/rate_control).

Per axis, PX4's PID in its "K · (P, I, D)" form with D on the measurement:

    α_cmd = K · (P · e + ∫ I · e dt − D · ω̇_f),   e = ω_sp − ω,   τ = I_body · α_cmd

where ω is the bias-corrected gyro rate (raw gyro − the estimator's gyro bias, as PX4's
vehicle_angular_velocity does) and ω̇_f its derivative through a first-order low-pass
(PX4 IMU_DGYRO_CUTOFF). Gains are physical: the controller commands an angular acceleration
[rad/s²] that the airframe inertia turns into torque [N·m], so a P gain reads "rad/s² per rad/s
of rate error" and the numbers carry over between airframes of similar motor lag. PX4's gains
are in normalised torque (per unit of actuator output), so their values are not comparable.

The integrator follows PX4 RateControl::updateIntegral:
- frozen in the direction of an axis the allocator could not deliver. PX4 reads that from the
  allocator's status; Kestrel has no such topic, so this stage runs the same pure allocation
  (allocation.py) on its own demand and takes its unallocated torque: the same answer, this tick
  (`ControlAllocation.unallocated_torque`, which skips the allocation when a bound shows the
  demand fits);
- scaled by 1 − (e / 400 °/s)² so a large error (a flip) does not charge it quickly;
- clamped to ± the axis's integrator limit, and reset while disarmed or on the ground.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from kestrel.airframe import QuadrotorAirframe
from kestrel.component import Component, Port
from kestrel.messages import Imu, Odometry, RateSetpoint, TorqueThrust, Vec3, VehicleMode
from kestrel.params import ValidatedParams, param

from .allocation import ControlAllocation
from .params import in_flight

log = logging.getLogger(__name__)

I_TERM_ERROR_SCALE_RADPS = math.radians(400.0)
"""Rate error at which the integrator stops charging (PX4 RateControl, hard-coded 400 °/s)."""

MAX_PERIODS_PER_STEP = 4.0
"""Integrator step cap, in nominal periods, after a gap in the inputs (a late or paused run)."""

UNALLOCATED_TORQUE_TOLERANCE_NM = 1e-6
"""Unallocated torque below this is rounding, not saturation."""

_P = "rad/s² per rad/s"
_I = "rad/s² per rad"
_D = "rad/s² per rad/s²"


@dataclass(frozen=True)
class RateControlParams(ValidatedParams):
    """Rate PID gains in angular-acceleration units (see the module docstring).

    Defaults are tuned for REFERENCE_QUADROTOR (motor lag 12.5/25 ms, 500 Hz) in closed loop with
    a 6-DOF model (tests/test_position_control.py): a 1 rad/s roll-rate step rises to 90 % in
    about 50 ms with under 5 % overshoot, and stays below 20 % overshoot with motors twice as
    slow and 4 ms of gyro latency. The D term damps the motor lag (with D = 0 the same step
    overshoots by about 20 %); yaw has no D, as in PX4.
    """

    roll_rate_p: float = param(
        50.0,
        unit=_P,
        low=0.0,
        high=500.0,
        px4="MC_ROLLRATE_P",
        description="Roll rate P: angular acceleration per rad/s of roll-rate error",
    )
    roll_rate_i: float = param(
        50.0,
        unit=_I,
        low=0.0,
        high=2000.0,
        px4="MC_ROLLRATE_I",
        description="Roll rate I: angular acceleration per rad of integrated roll-rate error",
    )
    roll_rate_d: float = param(
        0.5,
        unit=_D,
        low=0.0,
        high=5.0,
        px4="MC_ROLLRATE_D",
        description="Roll rate D: angular acceleration per rad/s² of measured roll acceleration",
    )
    roll_rate_k: float = param(
        1.0,
        unit="1",
        low=0.0,
        high=5.0,
        px4="MC_ROLLRATE_K",
        description="Roll rate overall gain multiplying P, I and D (PX4 ideal/parallel form)",
    )
    roll_rate_integrator_limit: float = param(
        30.0,
        unit="rad/s²",
        low=0.0,
        high=500.0,
        px4="MC_RR_INT_LIM",
        description="Largest angular acceleration the roll integrator may command",
    )
    pitch_rate_p: float = param(
        50.0,
        unit=_P,
        low=0.0,
        high=500.0,
        px4="MC_PITCHRATE_P",
        description="Pitch rate P: angular acceleration per rad/s of pitch-rate error",
    )
    pitch_rate_i: float = param(
        50.0,
        unit=_I,
        low=0.0,
        high=2000.0,
        px4="MC_PITCHRATE_I",
        description="Pitch rate I: angular acceleration per rad of integrated pitch-rate error",
    )
    pitch_rate_d: float = param(
        0.5,
        unit=_D,
        low=0.0,
        high=5.0,
        px4="MC_PITCHRATE_D",
        description="Pitch rate D: angular acceleration per rad/s² of measured pitch acceleration",
    )
    pitch_rate_k: float = param(
        1.0,
        unit="1",
        low=0.0,
        high=5.0,
        px4="MC_PITCHRATE_K",
        description="Pitch rate overall gain multiplying P, I and D (PX4 ideal/parallel form)",
    )
    pitch_rate_integrator_limit: float = param(
        30.0,
        unit="rad/s²",
        low=0.0,
        high=500.0,
        px4="MC_PR_INT_LIM",
        description="Largest angular acceleration the pitch integrator may command",
    )
    yaw_rate_p: float = param(
        15.0,
        unit=_P,
        low=0.0,
        high=500.0,
        px4="MC_YAWRATE_P",
        description="Yaw rate P: angular acceleration per rad/s of yaw-rate error",
    )
    yaw_rate_i: float = param(
        10.0,
        unit=_I,
        low=0.0,
        high=2000.0,
        px4="MC_YAWRATE_I",
        description="Yaw rate I: angular acceleration per rad of integrated yaw-rate error",
    )
    yaw_rate_d: float = param(
        0.0,
        unit=_D,
        low=0.0,
        high=5.0,
        px4="MC_YAWRATE_D",
        description="Yaw rate D: angular acceleration per rad/s² of measured yaw acceleration",
    )
    yaw_rate_k: float = param(
        1.0,
        unit="1",
        low=0.0,
        high=5.0,
        px4="MC_YAWRATE_K",
        description="Yaw rate overall gain multiplying P, I and D (PX4 ideal/parallel form)",
    )
    yaw_rate_integrator_limit: float = param(
        5.0,
        unit="rad/s²",
        low=0.0,
        high=500.0,
        px4="MC_YR_INT_LIM",
        description="Largest angular acceleration the yaw integrator may command",
    )
    derivative_cutoff_hz: float = param(
        30.0,
        unit="Hz",
        low=1.0,
        high=250.0,
        px4="IMU_DGYRO_CUTOFF",
        description="Cut-off of the low-pass filter on the measured angular acceleration (D term)",
    )


@dataclass(frozen=True, slots=True)
class RateControlState:
    """What the rate loop remembers between ticks."""

    integral_radps2: Vec3
    """Integrator output per axis [rad/s²]."""
    angular_accel_flu_radps2: Vec3
    """Low-pass filtered derivative of the measured rate [rad/s²]."""
    last_rate_flu_radps: Vec3 | None = None
    last_sample_t_s: float | None = None


INITIAL_RATE_CONTROL_STATE = RateControlState((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))


class RateControl:
    """The rate PID as a pure update: (state, measurements, setpoint) → (torque, new state)."""

    def __init__(self, params: RateControlParams, airframe: QuadrotorAirframe) -> None:
        self.params = params
        self.inertia_kgm2 = airframe.inertia_diag_kgm2
        p = params
        self._kp = (
            p.roll_rate_k * p.roll_rate_p,
            p.pitch_rate_k * p.pitch_rate_p,
            p.yaw_rate_k * p.yaw_rate_p,
        )
        self._ki = (
            p.roll_rate_k * p.roll_rate_i,
            p.pitch_rate_k * p.pitch_rate_i,
            p.yaw_rate_k * p.yaw_rate_i,
        )
        self._kd = (
            p.roll_rate_k * p.roll_rate_d,
            p.pitch_rate_k * p.pitch_rate_d,
            p.yaw_rate_k * p.yaw_rate_d,
        )
        self._integral_limit = (
            p.roll_rate_integrator_limit,
            p.pitch_rate_integrator_limit,
            p.yaw_rate_integrator_limit,
        )
        self._derivative_time_constant_s = 1.0 / (2.0 * math.pi * p.derivative_cutoff_hz)
        self.allocation = ControlAllocation(airframe)

    def update(
        self,
        state: RateControlState,
        *,
        rate_flu_radps: Vec3,
        sample_t_s: float,
        rate_setpoint_flu_radps: Vec3,
        thrust_n: float,
        dt_s: float,
        in_flight: bool,
    ) -> tuple[Vec3, RateControlState]:
        """Torque demand [N·m, FLU] for a bias-corrected rate measured at `sample_t_s`.

        `dt_s` is the time since the previous update (integrator step); `in_flight` False resets
        the integrator (disarmed or on the ground).
        """
        torque, integral, accel = self.update_fields(
            state.integral_radps2,
            state.angular_accel_flu_radps2,
            state.last_rate_flu_radps,
            state.last_sample_t_s,
            rate_flu_radps,
            sample_t_s,
            rate_setpoint_flu_radps,
            thrust_n,
            dt_s,
            in_flight,
        )
        return torque, RateControlState(integral, accel, rate_flu_radps, sample_t_s)

    def update_fields(
        self,
        integral: Vec3,
        accel: Vec3,
        last_rate: Vec3 | None,
        last_sample_t_s: float | None,
        rate_flu_radps: Vec3,
        sample_t_s: float,
        rate_setpoint_flu_radps: Vec3,
        thrust_n: float,
        dt_s: float,
        in_flight: bool,
    ) -> tuple[Vec3, Vec3, Vec3]:
        """`update` on the fields of the state: (torque, new integral, new filtered accel).

        The math of `update`, for the 500 Hz component: it keeps its state in plain attributes
        because building a frozen dataclass costs about 0.5 µs, a tenth of the whole update.
        Written with locals and inline clamps (min/max cost 0.1 µs a call) for the same reason.
        """
        wx, wy, wz = rate_flu_radps
        ax, ay, az = accel
        if last_rate is not None and last_sample_t_s is not None:
            sample_dt_s = sample_t_s - last_sample_t_s
            if sample_dt_s > 0.0:
                alpha = sample_dt_s / (sample_dt_s + self._derivative_time_constant_s)
                k = alpha / sample_dt_s
                ax = ax + k * (wx - last_rate[0]) - alpha * ax
                ay = ay + k * (wy - last_rate[1]) - alpha * ay
                az = az + k * (wz - last_rate[2]) - alpha * az
        kpx, kpy, kpz = self._kp
        kdx, kdy, kdz = self._kd
        jx, jy, jz = self.inertia_kgm2
        ix, iy, iz = integral
        ex = rate_setpoint_flu_radps[0] - wx
        ey = rate_setpoint_flu_radps[1] - wy
        ez = rate_setpoint_flu_radps[2] - wz
        torque = (
            jx * (kpx * ex + ix - kdx * ax),
            jy * (kpy * ey + iy - kdy * ay),
            jz * (kpz * ez + iz - kdz * az),
        )
        if not in_flight:
            return torque, _ZERO, (ax, ay, az)
        # PX4 RateControl::updateIntegral (module docstring), written out per axis (three calls
        # of a helper cost as much as the rest of this update): freeze the error in the
        # direction the allocator could not deliver, weight it by max(0, 1 − (e / 400 °/s)²),
        # integrate, clamp to the axis limit.
        ux, uy, uz = self.allocation.unallocated_torque(torque, thrust_n)
        if ux or uy or uz:  # exactly zero unless the allocator saturated
            tol = UNALLOCATED_TORQUE_TOLERANCE_NM
            if (ux > tol and ex > 0.0) or (ux < -tol and ex < 0.0):
                ex = 0.0
            if (uy > tol and ey > 0.0) or (uy < -tol and ey < 0.0):
                ey = 0.0
            if (uz > tol and ez > 0.0) or (uz < -tol and ez < 0.0):
                ez = 0.0
        kix, kiy, kiz = self._ki
        lx, ly, lz = self._integral_limit
        rx = ex / I_TERM_ERROR_SCALE_RADPS
        ry = ey / I_TERM_ERROR_SCALE_RADPS
        rz = ez / I_TERM_ERROR_SCALE_RADPS
        fx, fy, fz = 1.0 - rx * rx, 1.0 - ry * ry, 1.0 - rz * rz
        ix = ix + (fx if fx > 0.0 else 0.0) * kix * ex * dt_s
        iy = iy + (fy if fy > 0.0 else 0.0) * kiy * ey * dt_s
        iz = iz + (fz if fz > 0.0 else 0.0) * kiz * ez * dt_s
        integral = (
            -lx if ix < -lx else lx if ix > lx else ix,
            -ly if iy < -ly else ly if iy > ly else iy,
            -lz if iz < -lz else lz if iz > lz else iz,
        )
        return torque, integral, (ax, ay, az)


_ZERO: Vec3 = (0.0, 0.0, 0.0)


_isfinite = math.isfinite


class RateController(Component):
    """Body-rate PID → torque and thrust demand (PX4 mc_rate_control).

    Inputs: `imu` (Imu, sensors/imu: raw gyro), `odometry` (Odometry, state/odometry: only its
    gyro bias is used), `rates` (RateSetpoint, control/rate_setpoint), `mode` (VehicleMode,
    planning/mode). Output: `torque_thrust` (TorqueThrust, control/torque_thrust).

    Publishes nothing until a gyro sample and a rate setpoint have arrived. A non-finite rate
    setpoint is refused (the last valid one is kept); a non-finite gyro sample is refused (the
    last valid sample is reused); a non-finite or invalid bias keeps the last valid bias (zero at
    start). Refusals are logged once per episode.
    """

    inputs = {
        "imu": Port(Imu, "sensors/imu"),
        "odometry": Port(Odometry, "state/odometry"),
        "rates": Port(RateSetpoint, "control/rate_setpoint"),
        "mode": Port(VehicleMode, "planning/mode"),
    }
    outputs = {"torque_thrust": Port(TorqueThrust, "control/torque_thrust")}
    rate_hz = 500.0

    def __init__(
        self,
        name: str,
        namespace: str = "",
        *,
        params: RateControlParams | None = None,
        airframe: QuadrotorAirframe,
    ) -> None:
        super().__init__(name, namespace)
        self.params = params if params is not None else RateControlParams()
        self.control = RateControl(self.params, airframe)
        # RateControlState's fields, kept as plain attributes (see RateControl.update_fields).
        self._integral: Vec3 = INITIAL_RATE_CONTROL_STATE.integral_radps2
        self._accel: Vec3 = INITIAL_RATE_CONTROL_STATE.angular_accel_flu_radps2
        self._last_rate: Vec3 | None = None
        self._last_sample_t_s: float | None = None
        self._bias: Vec3 = (0.0, 0.0, 0.0)
        self._odometry: Odometry | None = None
        self._mode: VehicleMode | None = None
        self._in_flight = False
        """`in_flight(_mode)`: the mode changes at 50 Hz, this runs at 500 Hz."""
        self._setpoint: RateSetpoint | None = None
        self._gyro: Imu | None = None
        self._last_t_s: float | None = None
        self._refusing_setpoint = False
        self._refusing_gyro = False

    @property
    def state(self) -> RateControlState:
        """What the rate loop remembers, as the `RateControl.update` state."""
        return RateControlState(self._integral, self._accel, self._last_rate, self._last_sample_t_s)

    @state.setter
    def state(self, state: RateControlState) -> None:
        self._integral = state.integral_radps2
        self._accel = state.angular_accel_flu_radps2
        self._last_rate = state.last_rate_flu_radps
        self._last_sample_t_s = state.last_sample_t_s

    def step(
        self,
        t_s: float,
        imu: Imu | None,
        odometry: Odometry | None,
        rates: RateSetpoint | None,
        mode: VehicleMode | None,
    ) -> TorqueThrust | None:
        # Each input is checked once per message (the same object comes back on later ticks).
        if odometry is not None and odometry is not self._odometry:
            self._odometry = odometry
            b = odometry.gyro_bias_flu_radps
            if odometry.valid and _isfinite(b[0]) and _isfinite(b[1]) and _isfinite(b[2]):
                self._bias = b
        if rates is not None and rates is not self._setpoint:
            w = rates.body_rates_flu_radps
            if (
                _isfinite(w[0])
                and _isfinite(w[1])
                and _isfinite(w[2])
                and _isfinite(rates.thrust_n)
            ):
                self._setpoint = rates
                self._refusing_setpoint = False
            elif not self._refusing_setpoint:
                log.warning("%s: non-finite rate setpoint refused: %s", self.qualified_name, rates)
                self._refusing_setpoint = True
        if imu is not None and imu is not self._gyro:
            w = imu.angular_velocity_flu_radps
            if _isfinite(w[0]) and _isfinite(w[1]) and _isfinite(w[2]):
                self._gyro = imu
                self._refusing_gyro = False
            elif not self._refusing_gyro:
                log.warning("%s: non-finite gyro sample refused: %s", self.qualified_name, imu)
                self._refusing_gyro = True
        if mode is not self._mode:
            self._mode = mode
            self._in_flight = in_flight(mode)
        setpoint, gyro = self._setpoint, self._gyro
        if setpoint is None or gyro is None:
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
        w, b = gyro.angular_velocity_flu_radps, self._bias
        rate = (w[0] - b[0], w[1] - b[1], w[2] - b[2])
        thrust_n = setpoint.thrust_n
        torque, self._integral, self._accel = self.control.update_fields(
            self._integral,
            self._accel,
            self._last_rate,
            self._last_sample_t_s,
            rate,
            gyro.t_s,
            setpoint.body_rates_flu_radps,
            thrust_n,
            dt_s,
            self._in_flight,
        )
        self._last_rate = rate
        self._last_sample_t_s = gyro.t_s
        return TorqueThrust(t_s, torque, thrust_n)
