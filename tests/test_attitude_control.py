"""Attitude controller: thrust vector, tilt limit, reduced-yaw attitude law, refusals."""

from __future__ import annotations

import dataclasses
import math

import pytest

from kestrel.airframe import GRAVITY_MPS2, REFERENCE_QUADROTOR
from kestrel.control.attitude_control import (
    AttitudeControl,
    AttitudeController,
    AttitudeControlParams,
    body_z_to_attitude,
)
from kestrel.messages import AccelerationSetpoint, Odometry, Quat, RateSetpoint
from kestrel.params import param_specs
from kestrel.rotation import (
    IDENTITY,
    quat_angle_rad,
    quat_from_euler,
    rotate,
    yaw_from_quat,
)

AIRFRAME = REFERENCE_QUADROTOR
PARAMS = AttitudeControlParams()
WEIGHT_N = AIRFRAME.mass_kg * GRAVITY_MPS2
HOVER = (0.0, 0.0, 0.0)


@pytest.fixture
def control() -> AttitudeControl:
    return AttitudeControl(PARAMS, AIRFRAME)


@pytest.mark.parametrize("yaw_rad", [0.0, 1.0, -2.5])
def test_level_at_the_setpoint_commands_zero_rates_and_hover_thrust(
    control: AttitudeControl, yaw_rad: float
) -> None:
    demand = control.update(quat_from_euler(0.0, 0.0, yaw_rad), HOVER, yaw_rad, 0.0)
    assert demand.body_rates_flu_radps == pytest.approx((0.0, 0.0, 0.0), abs=1e-12)
    assert demand.thrust_n == pytest.approx(WEIGHT_N, rel=1e-12)


def test_tilted_at_the_setpoint_commands_zero_rates_and_full_thrust(
    control: AttitudeControl,
) -> None:
    # Given a demand of 3 m/s² east and 1 m/s² north, and the vehicle already at the attitude
    # that points its thrust along m (a + g ẑ)
    acceleration = (3.0, 1.0, 0.0)
    yaw_rad = 0.4
    thrust_vector = (3.0, 1.0, GRAVITY_MPS2)
    attitude = control.update(IDENTITY, acceleration, yaw_rad, 0.0).attitude_setpoint
    demand = control.update(attitude, acceleration, yaw_rad, 0.0)
    # Then no rates, the thrust is the whole vector, and the attitude keeps the setpoint yaw
    assert demand.body_rates_flu_radps == pytest.approx((0.0, 0.0, 0.0), abs=1e-12)
    assert demand.thrust_n == pytest.approx(
        AIRFRAME.mass_kg * math.hypot(*thrust_vector), rel=1e-12
    )
    assert yaw_from_quat(attitude) == pytest.approx(yaw_rad, abs=1e-12)


@pytest.mark.parametrize(
    ("euler_error", "axis", "gain"),
    [
        ((math.radians(5.0), 0.0, 0.0), 0, PARAMS.roll_p),
        ((0.0, math.radians(-4.0), 0.0), 1, PARAMS.pitch_p),
        ((math.radians(-3.0), 0.0, 0.0), 0, PARAMS.roll_p),
    ],
    ids=["roll +5°", "pitch −4°", "roll −3°"],
)
def test_small_tilt_error_commands_a_rate_back_to_level(
    control: AttitudeControl, euler_error: tuple[float, float, float], axis: int, gain: float
) -> None:
    # Given a level setpoint and the vehicle tilted by a small angle θ about one axis
    angle = euler_error[axis]
    demand = control.update(quat_from_euler(*euler_error), HOVER, 0.0, 0.0)
    rates = demand.body_rates_flu_radps
    # Then the rate about that axis is −K · 2 sin(θ/2) (the quaternion error), nothing else
    assert rates[axis] == pytest.approx(-gain * 2.0 * math.sin(angle / 2.0), rel=1e-6)
    assert math.copysign(1.0, rates[axis]) == -math.copysign(1.0, angle)
    others = [rates[i] for i in range(3) if i != axis]
    assert others == pytest.approx([0.0, 0.0], abs=1e-9)


def test_pure_yaw_error_uses_the_yaw_gain(control: AttitudeControl) -> None:
    # Given level flight and a 10° yaw error
    error_rad = math.radians(10.0)
    demand = control.update(IDENTITY, HOVER, error_rad, 0.0)
    # Then yaw rate = (K_yaw / w) · 2 sin(w·α/2) (PX4 rescales the weighted error), ≈ K_yaw·α
    w = PARAMS.yaw_weight
    expected = PARAMS.yaw_p / w * 2.0 * math.sin(w * error_rad / 2.0)
    rates = demand.body_rates_flu_radps
    assert rates[2] == pytest.approx(expected, rel=1e-9)
    assert rates[2] == pytest.approx(PARAMS.yaw_p * error_rad, rel=0.01)
    assert rates[:2] == pytest.approx((0.0, 0.0), abs=1e-12)


def test_tilt_is_corrected_before_yaw(control: AttitudeControl) -> None:
    # Given equal 10° roll and yaw errors
    error_rad = math.radians(10.0)
    demand = control.update(quat_from_euler(error_rad, 0.0, 0.0), HOVER, error_rad, 0.0)
    roll_rate, _, yaw_rate = demand.body_rates_flu_radps
    # Then roll is corrected with the full roll gain and yaw with the (weaker) yaw gain
    assert abs(roll_rate) == pytest.approx(PARAMS.roll_p * error_rad, rel=0.02)
    assert abs(yaw_rate) < abs(roll_rate)


def test_yaw_rate_feed_forward_is_applied_about_the_world_vertical(
    control: AttitudeControl,
) -> None:
    # Given the vehicle pitched 20° and at its setpoint, with a yaw-rate feed-forward ψ̇
    pitched = quat_from_euler(0.0, math.radians(20.0), 0.0)
    acceleration = (GRAVITY_MPS2 * math.tan(math.radians(20.0)), 0.0, 0.0)
    yaw_rate = 0.5
    demand = control.update(pitched, acceleration, 0.0, yaw_rate)
    # Then the rates are ψ̇ times world z seen from the body: (−sin θ, 0, cos θ) ψ̇
    expected = (
        -math.sin(math.radians(20.0)) * yaw_rate,
        0.0,
        math.cos(math.radians(20.0)) * yaw_rate,
    )
    assert demand.body_rates_flu_radps == pytest.approx(expected, abs=1e-9)


def test_rate_setpoints_are_limited(control: AttitudeControl) -> None:
    # Given a 90° roll error and a 180° yaw error
    demand = control.update(quat_from_euler(math.pi / 2, 0.0, 0.0), HOVER, math.pi - 1e-3, 0.0)
    rates = demand.body_rates_flu_radps
    assert abs(rates[0]) == pytest.approx(math.radians(PARAMS.roll_rate_max_dps))
    assert abs(rates[2]) <= math.radians(PARAMS.yaw_rate_max_dps) + 1e-12


def test_demanded_tilt_is_limited_to_tilt_max(control: AttitudeControl) -> None:
    # Given an acceleration demand needing 2g sideways (63° of tilt)
    demand = control.update(IDENTITY, (2.0 * GRAVITY_MPS2, 0.0, 0.0), 0.0, 0.0)
    tilt = quat_angle_rad(demand.attitude_setpoint, IDENTITY)
    body_z = rotate(demand.attitude_setpoint, (0.0, 0.0, 1.0))
    assert tilt == pytest.approx(math.radians(PARAMS.tilt_max_deg), rel=1e-9)
    assert body_z[0] > 0.0  # tilted towards the demand
    assert body_z[1] == pytest.approx(0.0, abs=1e-12)


def test_collective_thrust_is_the_projection_on_the_current_body_z(
    control: AttitudeControl,
) -> None:
    # Given a hover demand while the vehicle is rolled 20°
    roll_rad = math.radians(20.0)
    demand = control.update(quat_from_euler(roll_rad, 0.0, 0.0), HOVER, 0.0, 0.0)
    assert demand.thrust_n == pytest.approx(WEIGHT_N * math.cos(roll_rad), rel=1e-12)


def test_demand_to_fall_faster_than_gravity_levels_out_with_zero_thrust(
    control: AttitudeControl,
) -> None:
    demand = control.update(IDENTITY, (0.0, 0.0, -2.0 * GRAVITY_MPS2), 0.0, 0.0)
    assert demand.thrust_n == 0.0
    assert quat_angle_rad(demand.attitude_setpoint, IDENTITY) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("body_z", "yaw_rad"),
    [((0.0, 0.0, 1.0), 0.7), ((0.3, -0.2, 0.9), -1.2), ((-0.5, 0.1, 0.6), 3.0)],
)
def test_body_z_to_attitude_points_body_z_and_keeps_yaw(
    body_z: tuple[float, float, float], yaw_rad: float
) -> None:
    n = math.sqrt(sum(c * c for c in body_z))
    unit = (body_z[0] / n, body_z[1] / n, body_z[2] / n)
    q: Quat = body_z_to_attitude(unit, yaw_rad)
    assert rotate(q, (0.0, 0.0, 1.0)) == pytest.approx(unit, abs=1e-12)
    assert yaw_from_quat(q) == pytest.approx(yaw_rad, abs=1e-12)


# ----------------------------------------------------------------------------- component


def odometry(orientation: Quat = IDENTITY, *, valid: bool = True) -> Odometry:
    zero = (0.0, 0.0, 0.0)
    return Odometry(0.0, zero, zero, orientation, zero, zero, zero, zero, zero, 0.0, valid)


@pytest.fixture
def controller() -> AttitudeController:
    return AttitudeController("attitude", "uav1", airframe=AIRFRAME)


HOVER_SETPOINT = AccelerationSetpoint(0.0, HOVER, HOVER, 0.0)


@pytest.mark.parametrize(
    ("odom", "setpoint"),
    [
        (None, HOVER_SETPOINT),
        (odometry(valid=False), HOVER_SETPOINT),
        (odometry((math.nan, 0.0, 0.0, 1.0)), HOVER_SETPOINT),
        (odometry(), None),
    ],
    ids=["no odometry", "invalid odometry", "NaN attitude", "no setpoint"],
)
def test_nothing_is_published_without_estimate_or_setpoint(
    controller: AttitudeController, odom: Odometry | None, setpoint: AccelerationSetpoint | None
) -> None:
    assert controller.step(0.0, odometry=odom, acceleration=setpoint) is None


def test_publishes_rate_setpoint_and_thrust(controller: AttitudeController) -> None:
    out = controller.step(0.5, odometry=odometry(), acceleration=HOVER_SETPOINT)
    assert out == RateSetpoint(0.5, (0.0, 0.0, 0.0), pytest.approx(WEIGHT_N, rel=1e-12))


@pytest.mark.parametrize(
    "bad",
    [
        AccelerationSetpoint(0.004, (math.nan, 0.0, 0.0), HOVER, 0.0),
        AccelerationSetpoint(0.004, (0.0, 0.0, math.inf), HOVER, 0.0),
        AccelerationSetpoint(0.004, HOVER, HOVER, math.nan),
        AccelerationSetpoint(0.004, HOVER, HOVER, 0.0, math.nan),
    ],
)
def test_non_finite_acceleration_setpoint_is_refused_and_the_last_kept(
    controller: AttitudeController, bad: AccelerationSetpoint
) -> None:
    good = AccelerationSetpoint(0.0, (1.0, 0.0, 0.0), HOVER, 0.0)
    first = controller.step(0.0, odometry=odometry(), acceleration=good)
    second = controller.step(0.004, odometry=odometry(), acceleration=bad)
    assert first is not None
    assert second is not None
    assert second.body_rates_flu_radps == first.body_rates_flu_radps
    assert second.thrust_n == first.thrust_n


def test_component_follows_new_demands_like_the_pure_update(
    controller: AttitudeController,
) -> None:
    # Given demands that change every fifth tick (50 Hz against 250 Hz), one of them non-finite,
    # and an attitude that moves every tick, including flips far from the demand
    control = AttitudeControl(PARAMS, AIRFRAME)
    last_good: AccelerationSetpoint | None = None
    demand_msg = HOVER_SETPOINT
    for k in range(200):
        t_s = k / AttitudeController.rate_hz
        if k % 5 == 0:
            accel = (4.0 * math.sin(0.1 * k), -3.0 * math.cos(0.07 * k), 2.0 * math.sin(0.05 * k))
            demand_msg = AccelerationSetpoint(t_s, accel, HOVER, 0.03 * k - 3.0, 0.2)
            if k == 100:
                demand_msg = AccelerationSetpoint(t_s, (math.nan, 0.0, 0.0), HOVER, 0.0)
        if not math.isnan(demand_msg.acceleration_enu_mps2[0]):
            last_good = demand_msg
        assert last_good is not None
        attitude = quat_from_euler(0.9 * math.sin(0.05 * k), 2.5 * math.sin(0.02 * k), 0.1 * k)
        # When the component steps on the messages and the pure update on the last valid demand
        out = controller.step(t_s, odometry=odometry(attitude), acceleration=demand_msg)
        expected = control.update(
            attitude, last_good.acceleration_enu_mps2, last_good.yaw_rad, last_good.yaw_rate_radps
        )
        # Then both agree to the bit
        assert out == RateSetpoint(t_s, expected.body_rates_flu_radps, expected.thrust_n)


# ----------------------------------------------------------------------------- parameters


def test_every_parameter_documents_unit_range_and_px4_name() -> None:
    specs = param_specs(AttitudeControlParams)
    assert set(specs) == {f.name for f in dataclasses.fields(AttitudeControlParams)}
    for name, spec in specs.items():
        assert spec.unit, name
        assert spec.description, name
        assert spec.px4, name
        assert spec.low <= getattr(PARAMS, name) <= spec.high


@pytest.mark.parametrize(
    ("field", "value"),
    [("roll_p", -0.1), ("yaw_weight", 0.0), ("tilt_max_deg", 90.0), ("yaw_p", math.inf)],
)
def test_out_of_range_parameter_is_refused_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"AttitudeControlParams.{field}"):
        AttitudeControlParams(**{field: value})
