"""Rate controller: PID law in physical units, integrator rules, bias correction, refusals."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from kestrel.airframe import GRAVITY_MPS2, REFERENCE_QUADROTOR
from kestrel.control.rate_control import (
    I_TERM_ERROR_SCALE_RADPS,
    INITIAL_RATE_CONTROL_STATE,
    RateControl,
    RateController,
    RateControlParams,
    RateControlState,
)
from kestrel.messages import Imu, Odometry, RateSetpoint, TorqueThrust, Vec3, VehicleMode
from kestrel.params import param_specs

AIRFRAME = REFERENCE_QUADROTOR
PARAMS = RateControlParams()
INERTIA = AIRFRAME.inertia_diag_kgm2
WEIGHT_N = AIRFRAME.mass_kg * GRAVITY_MPS2
DT_S = 1.0 / RateController.rate_hz
IN_FLIGHT = VehicleMode(0.0, armed=True, phase="mission")
GYRO_BIAS = (0.01, -0.02, 0.005)


def odometry(bias: Vec3 = GYRO_BIAS, *, valid: bool = True) -> Odometry:
    zero = (0.0, 0.0, 0.0)
    return Odometry(0.0, zero, zero, (0.0, 0.0, 0.0, 1.0), zero, bias, zero, zero, zero, 0.0, valid)


def imu(t_s: float, gyro: Vec3) -> Imu:
    return Imu(t_s, gyro, (0.0, 0.0, GRAVITY_MPS2))


HOVER_SETPOINT = RateSetpoint(0.0, (0.0, 0.0, 0.0), WEIGHT_N)


def run_pure(
    control: RateControl,
    *,
    rate: Vec3,
    setpoint: Vec3,
    thrust_n: float,
    duration_s: float,
    in_flight: bool = True,
    state: RateControlState = INITIAL_RATE_CONTROL_STATE,
) -> tuple[Vec3, RateControlState]:
    """Steps the pure update at 500 Hz with a constant measurement and setpoint."""
    torque: Vec3 = (0.0, 0.0, 0.0)
    for k in range(round(duration_s / DT_S)):
        torque, state = control.update(
            state,
            rate_flu_radps=rate,
            sample_t_s=k * DT_S,
            rate_setpoint_flu_radps=setpoint,
            thrust_n=thrust_n,
            dt_s=DT_S,
            in_flight=in_flight,
        )
    return torque, state


@pytest.fixture
def control() -> RateControl:
    return RateControl(PARAMS, AIRFRAME)


def test_zero_error_at_rest_commands_zero_torque(control: RateControl) -> None:
    torque, _ = run_pure(
        control, rate=(0.0, 0.0, 0.0), setpoint=(0.0, 0.0, 0.0), thrust_n=WEIGHT_N, duration_s=0.1
    )
    assert torque == (0.0, 0.0, 0.0)


def test_first_torque_is_inertia_times_gain_times_rate_error(control: RateControl) -> None:
    # Given no history (no derivative, empty integrator), torque = I · K · P · e per axis
    error = (0.2, -0.1, 0.3)
    torque, _ = control.update(
        INITIAL_RATE_CONTROL_STATE,
        rate_flu_radps=(0.0, 0.0, 0.0),
        sample_t_s=0.0,
        rate_setpoint_flu_radps=error,
        thrust_n=WEIGHT_N,
        dt_s=DT_S,
        in_flight=True,
    )
    p = PARAMS
    expected = (
        INERTIA[0] * p.roll_rate_k * p.roll_rate_p * error[0],
        INERTIA[1] * p.pitch_rate_k * p.pitch_rate_p * error[1],
        INERTIA[2] * p.yaw_rate_k * p.yaw_rate_p * error[2],
    )
    assert torque == pytest.approx(expected, rel=1e-12)


def test_overall_gain_k_scales_every_term() -> None:
    doubled = RateControl(dataclasses.replace(PARAMS, roll_rate_k=2.0), AIRFRAME)
    single = RateControl(PARAMS, AIRFRAME)
    kwargs = {"rate": (0.0, 0.0, 0.0), "setpoint": (0.1, 0.0, 0.0), "thrust_n": WEIGHT_N}
    torque_doubled, _ = run_pure(doubled, duration_s=0.2, **kwargs)
    torque_single, _ = run_pure(single, duration_s=0.2, **kwargs)
    assert torque_doubled[0] == pytest.approx(2.0 * torque_single[0], rel=1e-9)


def test_integrator_accumulates_k_i_times_error_while_unsaturated(control: RateControl) -> None:
    # Given a small constant roll-rate error the allocator can deliver
    error_radps = 0.2
    duration_s = 0.4
    _, state = run_pure(
        control,
        rate=(0.0, 0.0, 0.0),
        setpoint=(error_radps, 0.0, 0.0),
        thrust_n=WEIGHT_N,
        duration_s=duration_s,
    )
    # Then the integral is K·I·e·t, reduced by PX4's i-factor 1 − (e / 400 °/s)²
    i_factor = 1.0 - (error_radps / I_TERM_ERROR_SCALE_RADPS) ** 2
    expected = PARAMS.roll_rate_k * PARAMS.roll_rate_i * error_radps * duration_s * i_factor
    assert expected < PARAMS.roll_rate_integrator_limit
    assert state.integral_radps2[0] == pytest.approx(expected, rel=1e-9)


def test_integrator_is_clamped_to_its_limit(control: RateControl) -> None:
    _, state = run_pure(
        control,
        rate=(0.0, 0.0, 0.0),
        setpoint=(0.0, 0.0, -0.05),
        thrust_n=WEIGHT_N,
        duration_s=30.0,
    )
    assert state.integral_radps2[2] == -PARAMS.yaw_rate_integrator_limit


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_integrator_does_not_wind_up_while_the_allocator_saturates(
    control: RateControl, sign: float
) -> None:
    # Given a collective of 5 % of the maximum: each rotor can move only ~0.4 N, so a 2 rad/s
    # roll-rate error (I·P·e ≈ 1.5 N·m) cannot be delivered
    low_thrust_n = 0.05 * AIRFRAME.max_thrust_per_rotor_n * len(AIRFRAME.rotors)
    error_radps = sign * 2.0
    torque, state = run_pure(
        control,
        rate=(0.0, 0.0, 0.0),
        setpoint=(error_radps, 0.0, 0.0),
        thrust_n=low_thrust_n,
        duration_s=1.0,
    )
    _, saturated = control.allocation.allocate(torque, low_thrust_n)
    assert saturated
    # Then the roll integrator stayed where it was (an unsaturated run would reach the limit)
    assert state.integral_radps2[0] == 0.0


def test_integrator_saturating_the_output_still_discharges(control: RateControl) -> None:
    # Given a roll integrator at its limit, a 5 % collective, and the body rolling slightly
    # faster than demanded: the output is saturated positive while the error is negative
    limit = PARAMS.roll_rate_integrator_limit
    charged = RateControlState((limit, 0.0, 0.0), (0.0, 0.0, 0.0))
    low_thrust_n = 0.05 * AIRFRAME.max_thrust_per_rotor_n * len(AIRFRAME.rotors)
    torque, state = run_pure(
        control,
        rate=(0.1, 0.0, 0.0),
        setpoint=(0.0, 0.0, 0.0),
        thrust_n=low_thrust_n,
        duration_s=0.1,
        state=charged,
    )
    _, saturated = control.allocation.allocate(torque, low_thrust_n)
    assert saturated
    # Then integration away from the saturation goes on (only towards it is blocked)
    assert state.integral_radps2[0] < limit


def test_integrator_resets_when_not_in_flight(control: RateControl) -> None:
    charged = RateControlState((10.0, -5.0, 2.0), (0.0, 0.0, 0.0))
    _, state = run_pure(
        control,
        rate=(0.0, 0.0, 0.0),
        setpoint=(0.5, 0.5, 0.5),
        thrust_n=WEIGHT_N,
        duration_s=0.01,
        in_flight=False,
        state=charged,
    )
    assert state.integral_radps2 == (0.0, 0.0, 0.0)


def test_derivative_term_opposes_the_measured_angular_acceleration(control: RateControl) -> None:
    # Given the roll rate ramps at 2 rad/s² and the setpoint follows it exactly (no error)
    accel_radps2 = 2.0
    state = INITIAL_RATE_CONTROL_STATE
    torque: Vec3 = (0.0, 0.0, 0.0)
    for k in range(500):  # 1 s: many filter time constants (30 Hz → 5 ms)
        rate = (accel_radps2 * k * DT_S, 0.0, 0.0)
        torque, state = control.update(
            state,
            rate_flu_radps=rate,
            sample_t_s=k * DT_S,
            rate_setpoint_flu_radps=rate,
            thrust_n=WEIGHT_N,
            dt_s=DT_S,
            in_flight=False,
        )
    # Then torque = −I · K · D · α once the derivative filter has settled
    expected = -INERTIA[0] * PARAMS.roll_rate_k * PARAMS.roll_rate_d * accel_radps2
    assert state.angular_accel_flu_radps2[0] == pytest.approx(accel_radps2, rel=1e-6)
    assert torque[0] == pytest.approx(expected, rel=1e-6)


# ----------------------------------------------------------------------------- component


@pytest.fixture
def controller() -> RateController:
    return RateController("rate", "uav1", airframe=AIRFRAME)


@pytest.mark.parametrize(
    ("gyro", "setpoint"),
    [(None, HOVER_SETPOINT), (imu(0.0, GYRO_BIAS), None)],
    ids=["no gyro yet", "no setpoint yet"],
)
def test_nothing_is_published_before_gyro_and_setpoint(
    controller: RateController, gyro: Imu | None, setpoint: RateSetpoint | None
) -> None:
    assert controller.step(0.0, imu=gyro, odometry=None, rates=setpoint, mode=IN_FLIGHT) is None


def test_gyro_bias_from_odometry_is_subtracted(controller: RateController) -> None:
    # Given the gyro reads exactly its bias while the body is still
    out = controller.step(
        0.0, imu=imu(0.0, GYRO_BIAS), odometry=odometry(), rates=HOVER_SETPOINT, mode=IN_FLIGHT
    )
    # Then the corrected rate is zero and so is the torque; thrust passes through
    assert out == TorqueThrust(0.0, (0.0, 0.0, 0.0), WEIGHT_N)


def test_invalid_odometry_keeps_the_last_valid_bias(controller: RateController) -> None:
    controller.step(
        0.0, imu=imu(0.0, GYRO_BIAS), odometry=odometry(), rates=HOVER_SETPOINT, mode=IN_FLIGHT
    )
    out = controller.step(
        0.002,
        imu=imu(0.002, GYRO_BIAS),
        odometry=odometry((math.nan, 5.0, 5.0), valid=False),
        rates=HOVER_SETPOINT,
        mode=IN_FLIGHT,
    )
    assert out is not None
    assert out.torque_flu_nm == pytest.approx((0.0, 0.0, 0.0), abs=1e-12)


@pytest.mark.parametrize(
    "bad",
    [
        RateSetpoint(0.002, (math.nan, 0.0, 0.0), WEIGHT_N),
        RateSetpoint(0.002, (0.0, 0.0, math.inf), WEIGHT_N),
        RateSetpoint(0.002, (0.0, 0.0, 0.0), math.nan),
    ],
)
def test_non_finite_rate_setpoint_is_refused_and_the_last_kept(
    controller: RateController, bad: RateSetpoint
) -> None:
    good = RateSetpoint(0.0, (0.1, 0.0, 0.0), WEIGHT_N)
    controller.step(0.0, imu=imu(0.0, (0.0, 0.0, 0.0)), odometry=None, rates=good, mode=None)
    out = controller.step(
        0.002, imu=imu(0.002, (0.0, 0.0, 0.0)), odometry=None, rates=bad, mode=None
    )
    assert out is not None
    assert out.thrust_n == WEIGHT_N
    assert out.torque_flu_nm[0] == pytest.approx(INERTIA[0] * PARAMS.roll_rate_p * 0.1)
    assert all(math.isfinite(v) for v in out.torque_flu_nm)


def test_non_finite_gyro_sample_is_refused_and_the_last_reused(controller: RateController) -> None:
    controller.step(
        0.0, imu=imu(0.0, (0.0, 0.0, 0.0)), odometry=None, rates=HOVER_SETPOINT, mode=None
    )
    out = controller.step(
        0.002, imu=imu(0.002, (math.nan, 0.0, 0.0)), odometry=None, rates=HOVER_SETPOINT, mode=None
    )
    assert out == TorqueThrust(0.002, (0.0, 0.0, 0.0), WEIGHT_N)


@pytest.mark.parametrize(
    "mode",
    [
        None,
        VehicleMode(0.0, armed=False, phase="mission"),
        VehicleMode(0.0, armed=True, phase="landed"),
        VehicleMode(0.0, armed=True, phase="idle"),
    ],
    ids=["no mode", "disarmed", "landed", "idle"],
)
def test_integrator_held_at_zero_on_the_ground_or_disarmed(
    controller: RateController, mode: VehicleMode | None
) -> None:
    setpoint = RateSetpoint(0.0, (0.3, -0.3, 0.3), WEIGHT_N)
    for k in range(100):
        controller.step(
            k * DT_S, imu=imu(k * DT_S, (0.0, 0.0, 0.0)), odometry=None, rates=setpoint, mode=mode
        )
    assert controller.state.integral_radps2 == (0.0, 0.0, 0.0)


def test_integrator_charges_in_flight(controller: RateController) -> None:
    setpoint = RateSetpoint(0.0, (0.3, 0.0, 0.0), WEIGHT_N)
    for k in range(100):
        controller.step(
            k * DT_S,
            imu=imu(k * DT_S, (0.0, 0.0, 0.0)),
            odometry=None,
            rates=setpoint,
            mode=IN_FLIGHT,
        )
    assert controller.state.integral_radps2[0] > 0.0


def test_component_steps_the_same_law_as_the_pure_update(controller: RateController) -> None:
    # Given a wobbling gyro (bias-corrected by the odometry), a sweeping rate setpoint that
    # saturates the rotors at low collective part of the time, and a take-off mid-run
    rng = np.random.default_rng(7)
    control = RateControl(PARAMS, AIRFRAME)
    state = INITIAL_RATE_CONTROL_STATE
    low_thrust_n = 0.05 * AIRFRAME.max_thrust_per_rotor_n * len(AIRFRAME.rotors)
    for k in range(400):
        t_s = k * DT_S
        gyro = tuple(float(v) for v in rng.normal(0.0, 0.5, 3))
        body_rates = (2.0 * math.sin(0.05 * k), -1.5 * math.cos(0.03 * k), 0.5)
        thrust_n = low_thrust_n if k % 100 < 50 else WEIGHT_N
        mode = IN_FLIGHT if k >= 50 else VehicleMode(t_s, armed=True, phase="idle")
        # When the component steps on the messages and the pure update on their contents
        out = controller.step(
            t_s,
            imu=imu(t_s, gyro),  # type: ignore[arg-type]
            odometry=odometry(),
            rates=RateSetpoint(t_s, body_rates, thrust_n),
            mode=mode,
        )
        torque, state = control.update(
            state,
            rate_flu_radps=tuple(g - b for g, b in zip(gyro, GYRO_BIAS, strict=True)),  # type: ignore[arg-type]
            sample_t_s=t_s,
            rate_setpoint_flu_radps=body_rates,
            thrust_n=thrust_n,
            dt_s=DT_S if k == 0 else t_s - (k - 1) * DT_S,  # the component's clock difference
            in_flight=k >= 50,
        )
        # Then torque, thrust and the whole state agree to the bit
        assert out == TorqueThrust(t_s, torque, thrust_n)
        assert controller.state == state
    assert state.integral_radps2 != (0.0, 0.0, 0.0)


def test_component_state_can_be_restored(controller: RateController) -> None:
    # Given a charged integrator set on the component
    charged = RateControlState((10.0, -5.0, 2.0), (0.0, 0.0, 0.0))
    controller.state = charged
    # When read back; Then it is the same state
    assert controller.state == charged


# ----------------------------------------------------------------------------- parameters


def test_every_parameter_documents_unit_range_and_px4_name() -> None:
    specs = param_specs(RateControlParams)
    assert set(specs) == {f.name for f in dataclasses.fields(RateControlParams)}
    for name, spec in specs.items():
        assert spec.unit, name
        assert spec.description, name
        assert spec.px4, name
        assert spec.low <= getattr(PARAMS, name) <= spec.high


@pytest.mark.parametrize(
    ("field", "value"),
    [("roll_rate_p", -1.0), ("yaw_rate_i", math.nan), ("derivative_cutoff_hz", 0.0)],
)
def test_out_of_range_parameter_is_refused_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"RateControlParams.{field}"):
        RateControlParams(**{field: value})
