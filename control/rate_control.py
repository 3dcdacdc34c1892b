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
  (allocation.py) on its own demand and takes its unallocated torque: the same answer, this tick;
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

from .allocation import ControlAllocation
from .params import ValidatedParams, in_flight, param

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
        accel = state.angular_accel_flu_radps2
        last = state.last_rate_flu_radps
        wx, wy, wz = rate_flu_radps
        if last is not None and state.last_sample_t_s is not None:
            sample_dt_s = sample_t_s - state.last_sample_t_s
            if sample_dt_s > 0.0:
                alpha = sample_dt_s / (sample_dt_s + self._derivative_time_constant_s)
                k = alpha / sample_dt_s
                accel = (
                    accel[0] + k * (wx - last[0]) - alpha * accel[0],
                    accel[1] + k * (wy - last[1]) - alpha * accel[1],
                    accel[2] + k * (wz - last[2]) - alpha * accel[2],
                )
        kp, kd, inertia = self._kp, self._kd, self.inertia_kgm2
        integral = state.integral_radps2
        ex = rate_setpoint_flu_radps[0] - wx
        ey = rate_setpoint_flu_radps[1] - wy
        ez = rate_setpoint_flu_radps[2] - wz
        torque = (
            inertia[0] * (kp[0] * ex + integral[0] - kd[0] * accel[0]),
            inertia[1] * (kp[1] * ey + integral[1] - kd[1] * accel[1]),
            inertia[2] * (kp[2] * ez + integral[2] - kd[2] * accel[2]),
        )
        if in_flight:
            integral = self._integrate(integral, (ex, ey, ez), torque, thrust_n, dt_s)
        else:
            integral = (0.0, 0.0, 0.0)
        new_state = RateControlState(integral, accel, rate_flu_radps, sample_t_s)
        return torque, new_state

    def _integrate(
        self, integral: Vec3, error: Vec3, torque: Vec3, thrust_n: float, dt_s: float
    ) -> Vec3:
        thrusts, saturated = self.allocation.allocate(torque, thrust_n)
        if saturated:
            achieved, _ = self.allocation.wrench(thrusts)
            unallocated = (
                torque[0] - achieved[0],
                torque[1] - achieved[1],
                torque[2] - achieved[2],
            )
        else:
            unallocated = (0.0, 0.0, 0.0)
        return (
            self._integrate_axis(0, integral[0], error[0], unallocated[0], dt_s),
            self._integrate_axis(1, integral[1], error[1], unallocated[1], dt_s),
            self._integrate_axis(2, integral[2], error[2], unallocated[2], dt_s),
        )

    def _integrate_axis(
        self, axis: int, integral: float, error: float, unallocated_nm: float, dt_s: float
    ) -> float:
        if unallocated_nm > UNALLOCATED_TORQUE_TOLERANCE_NM:
            error = min(error, 0.0)  # the allocator could not push further positive
        elif unallocated_nm < -UNALLOCATED_TORQUE_TOLERANCE_NM:
            error = max(error, 0.0)
        ratio = error / I_TERM_ERROR_SCALE_RADPS
        i_factor = max(0.0, 1.0 - ratio * ratio)
        limit = self._integral_limit[axis]
        value = integral + i_factor * self._ki[axis] * error * dt_s
        return -limit if value < -limit else limit if value > limit else value


def _finite3(v: Vec3) -> bool:
    return math.isfinite(v[0]) and math.isfinite(v[1]) and math.isfinite(v[2])


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
        self.state = INITIAL_RATE_CONTROL_STATE
        self._bias: Vec3 = (0.0, 0.0, 0.0)
        self._setpoint: RateSetpoint | None = None
        self._gyro: Imu | None = None
        self._last_t_s: float | None = None
        self._refusing_setpoint = False
        self._refusing_gyro = False

    def step(
        self,
        t_s: float,
        imu: Imu | None,
        odometry: Odometry | None,
        rates: RateSetpoint | None,
        mode: VehicleMode | None,
    ) -> TorqueThrust | None:
        if odometry is not None and odometry.valid and _finite3(odometry.gyro_bias_flu_radps):
            self._bias = odometry.gyro_bias_flu_radps
        if rates is not None and rates is not self._setpoint:
            if _finite3(rates.body_rates_flu_radps) and math.isfinite(rates.thrust_n):
                self._setpoint = rates
                self._refusing_setpoint = False
            elif not self._refusing_setpoint:
                log.warning("%s: non-finite rate setpoint refused: %s", self.qualified_name, rates)
                self._refusing_setpoint = True
        if imu is not None and imu is not self._gyro:
            if _finite3(imu.angular_velocity_flu_radps):
                self._gyro = imu
                self._refusing_gyro = False
            elif not self._refusing_gyro:
                log.warning("%s: non-finite gyro sample refused: %s", self.qualified_name, imu)
                self._refusing_gyro = True
        setpoint, gyro = self._setpoint, self._gyro
        if setpoint is None or gyro is None:
            return None
        period_s = 1.0 / self.rate_hz
        dt_s = period_s if self._last_t_s is None else t_s - self._last_t_s
        dt_s = min(max(dt_s, 0.0), MAX_PERIODS_PER_STEP * period_s)
        self._last_t_s = t_s
        w, b = gyro.angular_velocity_flu_radps, self._bias
        torque, self.state = self.control.update(
            self.state,
            rate_flu_radps=(w[0] - b[0], w[1] - b[1], w[2] - b[2]),
            sample_t_s=gyro.t_s,
            rate_setpoint_flu_radps=setpoint.body_rates_flu_radps,
            thrust_n=setpoint.thrust_n,
            dt_s=dt_s,
            in_flight=in_flight(mode),
        )
        return TorqueThrust(t_s, torque, setpoint.thrust_n)
