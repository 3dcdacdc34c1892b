"""Position/velocity controller, and the whole multirotor chain in closed loop.

The first part tests the position stage on its own. The second flies the chain (position →
attitude → rate → allocation) through `LockstepRunner` against a 6-DOF rigid-body model
integrated here, with first-order motor lag, and a "perfect estimator" that publishes Odometry
and Imu from the model's state (with a gyro bias, so the rate loop's bias correction is in the
loop, and a little latency). That is a unit test of the controllers and their default gains,
not of the simulator.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pytest

from kestrel.airframe import GRAVITY_MPS2, REFERENCE_QUADROTOR, QuadrotorAirframe
from kestrel.component import Component, Port
from kestrel.control.allocation import ControlAllocator
from kestrel.control.attitude_control import AttitudeController
from kestrel.control.position_control import (
    INITIAL_POSITION_CONTROL_STATE,
    PositionControl,
    PositionController,
    PositionControlParams,
    PositionControlState,
    constrain_xy,
)
from kestrel.control.rate_control import RateController
from kestrel.messages import (
    AccelerationSetpoint,
    GroundTruth,
    Imu,
    MotorCommand,
    Odometry,
    TrajectorySetpoint,
    Vec3,
    VehicleMode,
)
from kestrel.params import param_specs
from kestrel.random_streams import NormalBlock, rng_for
from kestrel.rotation import (
    IDENTITY,
    quat_from_rotvec,
    quat_multiply,
    quat_normalized,
    rotate,
    wrap_pi,
    yaw_from_quat,
)
from kestrel.runner import LockstepRunner

AIRFRAME = REFERENCE_QUADROTOR
PARAMS = PositionControlParams()
DT_S = 1.0 / PositionController.rate_hz
ZERO = (0.0, 0.0, 0.0)
MAX_SPECIFIC_THRUST_MPS2 = AIRFRAME.max_thrust_per_rotor_n * len(AIRFRAME.rotors) / AIRFRAME.mass_kg
"""Acceleration the rotors give at full thrust."""


def setpoint(
    position: Vec3 | None = ZERO,
    velocity: Vec3 = ZERO,
    acceleration: Vec3 = ZERO,
    yaw_rad: float = 0.0,
    t_s: float = 0.0,
) -> TrajectorySetpoint:
    return TrajectorySetpoint(t_s, position, velocity, acceleration, yaw_rad)


@pytest.fixture
def control() -> PositionControl:
    return PositionControl(PARAMS, AIRFRAME)


def one_tick(
    control: PositionControl,
    sp: TrajectorySetpoint,
    *,
    position: Vec3 = ZERO,
    velocity: Vec3 = ZERO,
    state: PositionControlState = INITIAL_POSITION_CONTROL_STATE,
    in_flight: bool = True,
) -> tuple[Vec3, Vec3, PositionControlState]:
    out, new_state = control.update(
        state,
        position_enu_m=position,
        velocity_enu_mps=velocity,
        setpoint=sp,
        dt_s=DT_S,
        in_flight=in_flight,
    )
    return out.acceleration_enu_mps2, out.velocity_demand_enu_mps, new_state


def test_on_the_trajectory_the_demand_is_the_feed_forward(control: PositionControl) -> None:
    sp = setpoint((1.0, 2.0, 3.0), velocity=(1.0, -0.5, 0.2), acceleration=(0.3, 0.4, -0.1))
    accel, velocity_demand, _ = one_tick(
        control, sp, position=(1.0, 2.0, 3.0), velocity=sp.velocity_enu_mps
    )
    assert velocity_demand == pytest.approx(sp.velocity_enu_mps, abs=1e-12)
    assert accel == pytest.approx(sp.acceleration_enu_mps2, abs=1e-12)


def test_position_error_gives_p_gain_velocity_and_acceleration_demands(
    control: PositionControl,
) -> None:
    # Given a 0.5 m east and 0.2 m up error at rest
    error = (0.5, 0.0, 0.2)
    accel, velocity_demand, _ = one_tick(control, setpoint(error))
    # Then v_sp = K_p e and a = K_v,P v_sp (empty integrator, no feed-forward)
    expected_v = (PARAMS.xy_p * error[0], 0.0, PARAMS.z_p * error[2])
    assert velocity_demand == pytest.approx(expected_v, rel=1e-12)
    expected_a = (PARAMS.xy_vel_p * expected_v[0], 0.0, PARAMS.z_vel_p * expected_v[2])
    assert accel == pytest.approx(expected_a, rel=1e-12)


def test_without_a_position_the_velocity_is_controlled(control: PositionControl) -> None:
    # Given pilot sticks: no position, 2 m/s north, while the vehicle is 10 m away from origin
    sp = setpoint(None, velocity=(0.0, 2.0, 0.0))
    _, velocity_demand, _ = one_tick(control, sp, position=(10.0, -5.0, 3.0))
    assert velocity_demand == (0.0, 2.0, 0.0)


@pytest.mark.parametrize(
    ("error", "expected_v"),
    [
        ((100.0, 0.0, 0.0), (PARAMS.xy_vel_max_mps, 0.0, 0.0)),
        ((0.0, 0.0, 50.0), (0.0, 0.0, PARAMS.z_vel_max_up_mps)),
        ((0.0, 0.0, -50.0), (0.0, 0.0, -PARAMS.z_vel_max_down_mps)),
    ],
    ids=["horizontal", "climb", "descent"],
)
def test_velocity_demand_is_limited(
    control: PositionControl, error: Vec3, expected_v: Vec3
) -> None:
    _, velocity_demand, _ = one_tick(control, setpoint(error))
    assert velocity_demand == pytest.approx(expected_v, rel=1e-12)


def test_speed_limit_keeps_the_position_term_and_shortens_the_feed_forward() -> None:
    # Given a 3 m/s correction east, a 10 m/s feed-forward north and a 5 m/s limit
    # Then all of the correction is kept: north is what remains, sqrt(5² − 3²) = 4
    assert constrain_xy((3.0, 0.0), (0.0, 10.0), 5.0) == pytest.approx((3.0, 4.0))
    assert constrain_xy((6.0, 8.0), (0.0, 1.0), 5.0) == pytest.approx((3.0, 4.0))
    assert constrain_xy((1.0, 0.0), (1.0, 0.0), 5.0) == (2.0, 0.0)


def test_horizontal_demand_is_limited_to_the_tilt_limit(control: PositionControl) -> None:
    # Given a large position error north, hovering altitude
    accel, _, _ = one_tick(control, setpoint((0.0, 100.0, 0.0)))
    # Then |a_xy| = (g + a_z) tan(tilt_max) with a_z = 0
    expected = GRAVITY_MPS2 * math.tan(math.radians(PARAMS.tilt_max_deg))
    assert math.hypot(accel[0], accel[1]) == pytest.approx(expected, rel=1e-12)
    assert accel[0] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("error_z", "expected_az"),
    [
        (50.0, PARAMS.thrust_max * MAX_SPECIFIC_THRUST_MPS2 - GRAVITY_MPS2),
        (-50.0, PARAMS.thrust_min * MAX_SPECIFIC_THRUST_MPS2 - GRAVITY_MPS2),
    ],
    ids=["climb", "descent"],
)
def test_vertical_demand_stays_within_the_thrust_range(
    control: PositionControl, error_z: float, expected_az: float
) -> None:
    # Given a velocity far from the limited demand (the P term alone exceeds the range)
    velocity = (0.0, 0.0, -math.copysign(20.0, error_z))
    accel, _, _ = one_tick(control, setpoint((0.0, 0.0, error_z)), velocity=velocity)
    assert accel[2] == pytest.approx(expected_az, rel=1e-12)


def test_horizontal_integrator_does_not_wind_up_while_tilt_limited(
    control: PositionControl,
) -> None:
    # Given a 100 m error held for 10 s at rest: the demand stays at the tilt limit
    state = INITIAL_POSITION_CONTROL_STATE
    for _ in range(round(10.0 / DT_S)):
        _, _, state = one_tick(control, setpoint((100.0, 0.0, 0.0)), state=state)
    # Then the integrator has not charged at all (unprotected: K_i · 12 m/s · 10 s, capped at
    # g·tan(tilt_max))
    assert state.velocity_integral_enu_mps2 == ZERO


def test_error_across_a_saturated_demand_is_still_integrated(control: PositionControl) -> None:
    # Given a saturated demand east (large position error), and an integrator already charged
    # north-east whose north part pushes the demand off the error direction
    state = PositionControlState((0.0, 3.0, 0.0), ZERO)
    _, _, new_state = one_tick(control, setpoint((100.0, 0.0, 0.0)), state=state)
    # Then the error component across the demand (pointing south, against the north charge) is
    # integrated: the north integrator discharges
    assert new_state.velocity_integral_enu_mps2[1] < 3.0


def test_vertical_integrator_stops_while_saturated_towards_the_error(
    control: PositionControl,
) -> None:
    state = INITIAL_POSITION_CONTROL_STATE
    for _ in range(100):
        _, _, state = one_tick(
            control, setpoint((0.0, 0.0, 50.0)), velocity=(0.0, 0.0, -20.0), state=state
        )
    assert state.velocity_integral_enu_mps2[2] == 0.0


def test_integrator_charges_by_k_i_times_velocity_error(control: PositionControl) -> None:
    # Given velocity control with a 0.1 m/s error east for 1 s (unsaturated)
    state = INITIAL_POSITION_CONTROL_STATE
    for _ in range(round(1.0 / DT_S)):
        _, _, state = one_tick(control, setpoint(None, velocity=(0.1, 0.0, 0.0)), state=state)
    assert state.velocity_integral_enu_mps2[0] == pytest.approx(PARAMS.xy_vel_i * 0.1, rel=1e-9)


def test_integrators_are_held_at_zero_on_the_ground(control: PositionControl) -> None:
    state = PositionControlState((1.0, -1.0, 2.0), ZERO)
    _, _, state = one_tick(control, setpoint((1.0, 1.0, 1.0)), state=state, in_flight=False)
    assert state.velocity_integral_enu_mps2 == ZERO


# ----------------------------------------------------------------------------- component


def odometry(position: Vec3 = ZERO, *, valid: bool = True) -> Odometry:
    return Odometry(0.0, position, ZERO, IDENTITY, ZERO, ZERO, ZERO, ZERO, ZERO, 0.0, valid)


IN_FLIGHT = VehicleMode(0.0, armed=True, phase="mission")


@pytest.fixture
def controller() -> PositionController:
    return PositionController("position", "uav1", airframe=AIRFRAME)


@pytest.mark.parametrize(
    ("odom", "sp"),
    [
        (None, setpoint()),
        (odometry(valid=False), setpoint()),
        (odometry((math.nan, 0.0, 0.0)), setpoint()),
        (odometry(), None),
    ],
    ids=["no odometry", "invalid odometry", "NaN position", "no setpoint"],
)
def test_nothing_is_published_without_estimate_or_setpoint(
    controller: PositionController, odom: Odometry | None, sp: TrajectorySetpoint | None
) -> None:
    assert controller.step(0.0, odometry=odom, setpoint=sp, mode=IN_FLIGHT) is None


def test_publishes_the_acceleration_demand_with_the_setpoint_yaw(
    controller: PositionController,
) -> None:
    sp = TrajectorySetpoint(0.0, (0.0, 0.0, 1.0), ZERO, ZERO, 1.2, 0.3)
    out = controller.step(0.0, odometry=odometry(), setpoint=sp, mode=IN_FLIGHT)
    expected_az = PARAMS.z_vel_p * PARAMS.z_p * 1.0
    assert out == AccelerationSetpoint(
        0.0, (0.0, 0.0, expected_az), (0.0, 0.0, PARAMS.z_p), 1.2, 0.3
    )


@pytest.mark.parametrize(
    "bad",
    [
        setpoint((math.nan, 0.0, 0.0)),
        setpoint(ZERO, velocity=(0.0, math.inf, 0.0)),
        setpoint(ZERO, acceleration=(0.0, 0.0, math.nan)),
        setpoint(ZERO, yaw_rad=math.nan),
        TrajectorySetpoint(0.0, ZERO, ZERO, ZERO, 0.0, math.inf),
    ],
)
def test_non_finite_setpoint_is_refused_and_the_last_kept(
    controller: PositionController, bad: TrajectorySetpoint
) -> None:
    good = setpoint((1.0, 0.0, 0.0), yaw_rad=0.5)
    first = controller.step(0.0, odometry=odometry(), setpoint=good, mode=IN_FLIGHT)
    second = controller.step(DT_S, odometry=odometry(), setpoint=bad, mode=IN_FLIGHT)
    assert first is not None
    assert second is not None
    assert second.velocity_demand_enu_mps == first.velocity_demand_enu_mps
    assert second.yaw_rad == 0.5


def test_component_steps_the_same_law_as_the_pure_update(controller: PositionController) -> None:
    # Given a moving estimate, setpoints with and without a position that push the demand into
    # the speed, tilt and thrust limits, and a take-off (integrators released) mid-run
    control = PositionControl(PARAMS, AIRFRAME)
    state = INITIAL_POSITION_CONTROL_STATE
    for k in range(300):
        t_s = k * DT_S
        position = (3.0 * math.sin(0.02 * k), 2.0 * math.cos(0.03 * k), 0.05 * k)
        velocity = (0.06 * math.cos(0.02 * k), -0.06 * math.sin(0.03 * k), 0.05 / DT_S)
        target = None if k % 60 >= 45 else (20.0 * math.sin(0.01 * k), 8.0, 5.0 - 0.1 * k)
        sp = setpoint(target, velocity=(1.0, -2.0, 0.5), acceleration=(0.2, 0.0, -0.1), t_s=t_s)
        in_flight = k >= 30
        mode = IN_FLIGHT if in_flight else VehicleMode(t_s, armed=True, phase="idle")
        odom = Odometry(t_s, position, velocity, IDENTITY, ZERO, ZERO, ZERO, ZERO, ZERO, 0.0)
        # When the component steps on the messages and the pure update on their contents
        out = controller.step(t_s, odometry=odom, setpoint=sp, mode=mode)
        expected, state = control.update(
            state,
            position_enu_m=position,
            velocity_enu_mps=velocity,
            setpoint=sp,
            dt_s=DT_S if k == 0 else t_s - (k - 1) * DT_S,  # the component's clock difference
            in_flight=in_flight,
        )
        # Then demand and state agree to the bit
        assert out == AccelerationSetpoint(
            t_s, expected.acceleration_enu_mps2, expected.velocity_demand_enu_mps, 0.0, 0.0
        )
        assert controller.state == state
    assert state.velocity_integral_enu_mps2 != ZERO


def test_every_parameter_documents_unit_range_and_px4_name() -> None:
    specs = param_specs(PositionControlParams)
    assert set(specs) == {f.name for f in dataclasses.fields(PositionControlParams)}
    for name, spec in specs.items():
        assert spec.unit, name
        assert spec.description, name
        assert spec.px4, name
        assert spec.low <= getattr(PARAMS, name) <= spec.high


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"xy_p": -1.0}, "xy_p"),
        ({"z_vel_i": math.nan}, "z_vel_i"),
        ({"tilt_max_deg": 0.0}, "tilt_max_deg"),
        ({"thrust_min": 0.5, "thrust_max": 0.4}, "thrust_min"),
    ],
)
def test_invalid_parameters_are_refused_naming_the_field(
    changes: dict[str, float], field: str
) -> None:
    with pytest.raises(ValueError, match=f"PositionControlParams.{field}"):
        PositionControlParams(**changes)


# ============================================================================ closed loop

PHYSICS_HZ = 1000.0
IMU_LATENCY_S = 0.001
ODOMETRY_LATENCY_S = 0.004
ODOMETRY_EVERY_TICKS = 4
"""Odometry at 250 Hz, IMU at 1 kHz."""
GYRO_BIAS = (0.02, -0.01, 0.015)
HOVER_ALTITUDE_M = 10.0


class RigidBodyQuadrotor(Component):
    """6-DOF rigid-body quadrotor for the closed-loop tests (not the simulator).

    Rotor thrust follows the command with first-order lag (the airframe's up/down time
    constants), acts along body +z at the hub, with reaction torque −spin·k_Q·T about z. Euler's
    equations I ω̇ = τ − ω × I ω; gravity; linear drag on the airspeed (velocity minus wind);
    an optional external acceleration. Semi-implicit Euler at the physics rate, no ground.
    """

    inputs = {"motors": Port(MotorCommand, "actuators/motors")}
    outputs = {"truth": Port(GroundTruth, "sim/ground_truth")}
    rate_hz = PHYSICS_HZ
    direct_feedthrough = False
    reads_ground_truth = True

    def __init__(
        self,
        name: str,
        *,
        airframe: QuadrotorAirframe,
        position_enu_m: Vec3,
        velocity_enu_mps: Vec3 = ZERO,
        external_accel_enu_mps2: Callable[[float], Vec3] = lambda t_s: ZERO,
        wind_enu_mps: Callable[[float], Vec3] = lambda t_s: ZERO,
        drag_per_s: float = 0.0,
    ) -> None:
        super().__init__(name)
        self.airframe = airframe
        self.dt_s = 1.0 / PHYSICS_HZ
        self.position = position_enu_m
        self.velocity = velocity_enu_mps
        self.orientation = IDENTITY
        self.rates = ZERO
        hover_n = airframe.mass_kg * GRAVITY_MPS2 / len(airframe.rotors)
        self.rotor_thrust_n = [hover_n] * len(airframe.rotors)
        self.external_accel = external_accel_enu_mps2
        self.wind = wind_enu_mps
        self.drag_per_s = drag_per_s

    def step(self, t_s: float, motors: MotorCommand | None) -> GroundTruth:
        af, dt = self.airframe, self.dt_s
        if motors is not None:
            for i, command in enumerate(motors.thrust_normalized):
                target = command * af.max_thrust_per_rotor_n
                up = target > self.rotor_thrust_n[i]
                tau = af.motor_time_constant_up_s if up else af.motor_time_constant_down_s
                self.rotor_thrust_n[i] += (target - self.rotor_thrust_n[i]) * (
                    1.0 - math.exp(-dt / tau)
                )
        tx = ty = tz = total = 0.0
        for rotor, thrust in zip(af.rotors, self.rotor_thrust_n, strict=True):
            x, y, _ = rotor.position_flu_m
            tx += y * thrust
            ty -= x * thrust
            tz -= rotor.spin * af.torque_to_thrust_m * thrust
            total += thrust
        ixx, iyy, izz = af.inertia_diag_kgm2
        wx, wy, wz = self.rates
        self.rates = (
            wx + dt * (tx - (izz - iyy) * wy * wz) / ixx,
            wy + dt * (ty - (ixx - izz) * wz * wx) / iyy,
            wz + dt * (tz - (iyy - ixx) * wx * wy) / izz,
        )
        step_rotation = quat_from_rotvec(tuple(w * dt for w in self.rates))
        self.orientation = quat_normalized(quat_multiply(self.orientation, step_rotation))
        thrust_enu = rotate(self.orientation, (0.0, 0.0, total / af.mass_kg))
        extra, wind, v = self.external_accel(t_s), self.wind(t_s), self.velocity
        accel = tuple(
            thrust_enu[i] + extra[i] - self.drag_per_s * (v[i] - wind[i]) for i in range(3)
        )
        self.velocity = (
            v[0] + dt * accel[0],
            v[1] + dt * accel[1],
            v[2] + dt * (accel[2] - GRAVITY_MPS2),
        )
        self.position = tuple(p + dt * u for p, u in zip(self.position, self.velocity, strict=True))
        return GroundTruth(t_s, self.position, self.velocity, self.orientation, self.rates)


class PerfectEstimator(Component):
    """Publishes the model's true state as Odometry (250 Hz) and its rates as Imu (1 kHz).

    The gyro reads the true rate plus GYRO_BIAS, which the odometry reports, so only a rate loop
    that subtracts the estimator's bias sees the true rate.
    """

    inputs = {"truth": Port(GroundTruth, "sim/ground_truth")}
    outputs = {
        "odometry": Port(Odometry, "state/odometry", latency_s=ODOMETRY_LATENCY_S),
        "imu": Port(Imu, "sensors/imu", latency_s=IMU_LATENCY_S),
    }
    rate_hz = PHYSICS_HZ
    reads_ground_truth = True

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.tick = 0

    def step(self, t_s: float, truth: GroundTruth | None) -> dict[str, object] | None:
        if truth is None:
            return None
        w, b = truth.angular_velocity_flu_radps, GYRO_BIAS
        out: dict[str, object] = {
            "imu": Imu(t_s, (w[0] + b[0], w[1] + b[1], w[2] + b[2]), (0.0, 0.0, GRAVITY_MPS2))
        }
        if self.tick % ODOMETRY_EVERY_TICKS == 0:
            out["odometry"] = Odometry(
                t_s,
                truth.position_enu_m,
                truth.velocity_enu_mps,
                truth.orientation,
                w,
                GYRO_BIAS,
                ZERO,
                ZERO,
                ZERO,
                0.0,
            )
        self.tick += 1
        return out


class TrajectorySource(Component):
    """A setpoint function of time at 50 Hz, armed and in flight throughout."""

    outputs = {
        "setpoint": Port(TrajectorySetpoint, "control/setpoint"),
        "mode": Port(VehicleMode, "planning/mode"),
    }
    rate_hz = 50.0

    def __init__(self, name: str, trajectory: Callable[[float], TrajectorySetpoint]) -> None:
        super().__init__(name)
        self.trajectory = trajectory

    def step(self, t_s: float) -> dict[str, object]:
        return {
            "setpoint": self.trajectory(t_s),
            "mode": VehicleMode(t_s, armed=True, phase="mission", tracking=True),
        }


@dataclasses.dataclass
class Flight:
    """Ground-truth samples of a closed-loop run every 10 ms."""

    t_s: np.ndarray
    position_enu_m: np.ndarray
    yaw_rad: np.ndarray


def fly(
    trajectory: Callable[[float], TrajectorySetpoint],
    duration_s: float,
    *,
    start_enu_m: Vec3 = (0.0, 0.0, HOVER_ALTITUDE_M),
    start_velocity_enu_mps: Vec3 = ZERO,
    **plant_options: object,
) -> Flight:
    """Flies the default control chain against the rigid-body model."""
    plant = RigidBodyQuadrotor(
        "plant",
        airframe=AIRFRAME,
        position_enu_m=start_enu_m,
        velocity_enu_mps=start_velocity_enu_mps,
        **plant_options,
    )
    runner = LockstepRunner(
        [
            plant,
            PerfectEstimator("estimator"),
            TrajectorySource("mission", trajectory),
            PositionController("position", airframe=AIRFRAME),
            AttitudeController("attitude", airframe=AIRFRAME),
            RateController("rate", airframe=AIRFRAME),
            ControlAllocator("allocator", airframe=AIRFRAME),
        ],
        physics_hz=PHYSICS_HZ,
    )
    samples = []
    sample_period_s = 0.01
    for k in range(1, round(duration_s / sample_period_s) + 1):
        runner.run_until(k * sample_period_s)
        samples.append((k * sample_period_s, plant.position, yaw_from_quat(plant.orientation)))
    return Flight(
        np.array([s[0] for s in samples]),
        np.array([s[1] for s in samples]),
        np.array([s[2] for s in samples]),
    )


def hold(position: Vec3, yaw_rad: float = 0.0) -> Callable[[float], TrajectorySetpoint]:
    return lambda t_s: TrajectorySetpoint(t_s, position, ZERO, ZERO, yaw_rad)


STEP_M = 1.0
STEP_AT_S = 0.5


def test_closed_loop_1_m_step_settles_within_3_s_with_little_overshoot() -> None:
    # Given hover at the origin and, at 0.5 s, a setpoint 1 m east
    start = (0.0, 0.0, HOVER_ALTITUDE_M)
    target = (STEP_M, 0.0, HOVER_ALTITUDE_M)

    def trajectory(t_s: float) -> TrajectorySetpoint:
        return hold(target if t_s >= STEP_AT_S else start)(t_s)

    flight = fly(trajectory, STEP_AT_S + 5.0, start_enu_m=start)
    x = flight.position_enu_m[:, 0]
    # Then overshoot < 20 % and, 3 s after the step, the error stays below 5 % of it
    assert x.max() - STEP_M < 0.2 * STEP_M
    settled = flight.t_s >= STEP_AT_S + 3.0
    assert np.abs(x[settled] - STEP_M).max() < 0.05 * STEP_M
    # and the other axes hardly move
    others = flight.position_enu_m[:, 1:] - np.array(start[1:])
    assert np.abs(others).max() < 0.05


DISTURBANCE_MPS2 = 2.0
DISTURBANCE_AT_S = 0.5


def test_closed_loop_constant_horizontal_disturbance_is_rejected() -> None:
    # Given hover and, from 0.5 s, a constant 2 m/s² push east (3 N on 1.5 kg)
    start = (0.0, 0.0, HOVER_ALTITUDE_M)

    def push(t_s: float) -> Vec3:
        return (DISTURBANCE_MPS2, 0.0, 0.0) if t_s >= DISTURBANCE_AT_S else ZERO

    flight = fly(hold(start), 9.0, start_enu_m=start, external_accel_enu_mps2=push)
    error = np.linalg.norm(flight.position_enu_m - np.array(start), axis=1)
    # Then it is pushed off (the push is real) and the integrator brings it back within 5 cm
    assert error.max() > 0.05
    assert error[flight.t_s >= 7.0].max() < 0.05


CIRCLE_RADIUS_M = 5.0
CIRCLE_SPEED_MPS = 3.0


def test_closed_loop_3_mps_circle_with_feed_forward_is_tracked_within_10_cm_rms() -> None:
    # Given a 5 m circle at 3 m/s with position, velocity and acceleration along it
    omega = CIRCLE_SPEED_MPS / CIRCLE_RADIUS_M

    def reference(t_s: float) -> TrajectorySetpoint:
        c, s = math.cos(omega * t_s), math.sin(omega * t_s)
        return TrajectorySetpoint(
            t_s,
            (CIRCLE_RADIUS_M * c, CIRCLE_RADIUS_M * s, HOVER_ALTITUDE_M),
            (-CIRCLE_SPEED_MPS * s, CIRCLE_SPEED_MPS * c, 0.0),
            (-CIRCLE_SPEED_MPS * omega * c, -CIRCLE_SPEED_MPS * omega * s, 0.0),
            0.0,
        )

    lap_s = 2.0 * math.pi / omega
    flight = fly(
        reference,
        2.0 + lap_s,
        start_enu_m=(CIRCLE_RADIUS_M, 0.0, HOVER_ALTITUDE_M),
        start_velocity_enu_mps=(0.0, CIRCLE_SPEED_MPS, 0.0),
    )
    # Then over one lap after 2 s of settling, the RMS distance to the reference is < 0.1 m
    lap = flight.t_s >= 2.0
    expected = np.array([reference(t).position_enu_m for t in flight.t_s[lap]])
    error = np.linalg.norm(flight.position_enu_m[lap] - expected, axis=1)
    assert math.sqrt(float(np.mean(error**2))) < 0.1


YAW_STEP_RAD = math.pi / 2
YAW_STEP_AT_S = 0.5


def test_closed_loop_90_deg_yaw_step_converges_in_place() -> None:
    start = (0.0, 0.0, HOVER_ALTITUDE_M)

    def trajectory(t_s: float) -> TrajectorySetpoint:
        return hold(start, YAW_STEP_RAD if t_s >= YAW_STEP_AT_S else 0.0)(t_s)

    flight = fly(trajectory, YAW_STEP_AT_S + 3.5, start_enu_m=start)
    yaw_error = np.abs([wrap_pi(y - YAW_STEP_RAD) for y in flight.yaw_rad])
    # Then the yaw is within 2° of the setpoint from 2.5 s after the step, without turning
    # past it, and the vehicle stays where it was
    assert yaw_error[flight.t_s >= YAW_STEP_AT_S + 2.5].max() < math.radians(2.0)
    assert flight.yaw_rad.max() < YAW_STEP_RAD + math.radians(2.0)
    position_error = np.linalg.norm(flight.position_enu_m - np.array(start), axis=1)
    assert position_error.max() < 0.05


WIND_MEAN_MPS = 3.0
GUST_STD_MPS = 1.0
GUST_TIME_CONSTANT_S = 1.0
DRAG_PER_S = 0.3
"""Linear drag: 0.45 N per m/s of airspeed on 1.5 kg (≈1.35 N at 3 m/s, on the high side for a
450-class quad), so the wind is a real load for the position loop."""


def test_closed_loop_hover_holds_within_10_cm_in_3_mps_gusty_wind() -> None:
    # Given a 3 m/s east wind with first-order (Markov) gusts of 1 m/s per axis, seeded
    start = (0.0, 0.0, HOVER_ALTITUDE_M)
    normals = NormalBlock(rng_for(7, "test/gusts"), 3)
    decay = math.exp(-1.0 / (PHYSICS_HZ * GUST_TIME_CONSTANT_S))
    drive = GUST_STD_MPS * math.sqrt(1.0 - decay * decay)
    gust = [0.0, 0.0, 0.0]

    def wind(t_s: float) -> Vec3:  # called once per physics tick
        row = normals.next_row()
        for i in range(3):
            gust[i] = decay * gust[i] + drive * row[i]
        return (WIND_MEAN_MPS + gust[0], gust[1], gust[2])

    flight = fly(hold(start), 20.0, start_enu_m=start, wind_enu_mps=wind, drag_per_s=DRAG_PER_S)
    # Then after the initial 5 s (the mean wind is switched on at once) it stays within 0.1 m
    error = np.linalg.norm(flight.position_enu_m - np.array(start), axis=1)
    assert error[flight.t_s >= 5.0].max() < 0.1
