"""Reference trajectories: through the waypoints, at rest at both ends, smooth, within limits."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from kestrel.planning.trajectory import (
    MIN_JERK_PEAK_ACCEL_RATIO,
    MIN_JERK_PEAK_SPEED_RATIO,
    Trajectory,
    TrajectoryParams,
    minimum_jerk_segment,
    plan_trajectory,
)

STRAIGHT = ((0.0, 0.0, 5.0), (40.0, 0.0, 5.0))
SQUARE_CLIMB = ((0.0, 0.0, 5.0), (40.0, 0.0, 5.0), (40.0, 30.0, 12.0), (0.0, 0.0, 5.0))
ZIGZAG_SHORT = (
    (0.0, 0.0, 5.0),
    (2.0, 1.0, 5.0),
    (3.0, -1.0, 5.0),
    (5.0, 1.0, 6.0),
    (6.0, -1.0, 5.0),
    (30.0, 0.0, 5.0),
)
REVERSAL = ((0.0, 0.0, 5.0), (10.0, 0.0, 5.0), (0.0, 0.0, 5.0))
JOG = ((0.0, 0.0, 5.0), (40.0, 0.0, 5.0), (40.0, 0.5, 5.0), (80.0, 0.5, 5.0))

PATHS = {
    "straight": (STRAIGHT, 4.0),
    "square-climb": (SQUARE_CLIMB, 4.0),
    "zigzag-short-legs": (ZIGZAG_SHORT, 6.0),
    "reversal": (REVERSAL, 3.0),
    "jog": (JOG, 5.0),
}

SAMPLE_DT_S = 0.002
"""Dense sampling for the limit checks: 10× finer than the planner's own samples."""


def dense_samples(traj: Trajectory) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    times = np.arange(traj.start_time_s, traj.end_time_s + SAMPLE_DT_S, SAMPLE_DT_S)
    rows = [traj.evaluate(float(t)) for t in times]
    pos = np.array([r[0] for r in rows])
    vel = np.array([r[1] for r in rows])
    acc = np.array([r[2] for r in rows])
    return pos, vel, acc


@pytest.mark.parametrize("name", PATHS)
def test_reference_passes_through_every_waypoint_at_its_knot(name: str) -> None:
    # Given a path and cruise speed
    waypoints, cruise = PATHS[name]
    # When the reference is planned
    traj = plan_trajectory(waypoints, cruise_speed_mps=cruise, start_time_s=3.0)
    # Then at each waypoint's knot time it is at that waypoint (< 1 mm)
    assert len(traj.waypoint_times_s) == len(waypoints)
    assert traj.waypoint_times_s[0] == pytest.approx(3.0)
    assert traj.waypoint_times_s[-1] == pytest.approx(traj.end_time_s)
    for t_s, waypoint in zip(traj.waypoint_times_s, waypoints, strict=True):
        position, _, _ = traj.evaluate(t_s)
        assert math.dist(position, waypoint) < 1e-3
    # and the waypoint times increase
    assert all(b > a for a, b in itertools.pairwise(traj.waypoint_times_s))


@pytest.mark.parametrize("name", PATHS)
def test_reference_starts_and_ends_at_rest_and_holds_outside_its_interval(name: str) -> None:
    waypoints, cruise = PATHS[name]
    traj = plan_trajectory(waypoints, cruise_speed_mps=cruise, start_time_s=2.0)
    for t_s, expected in (
        (traj.start_time_s, waypoints[0]),
        (traj.start_time_s + 1e-9, waypoints[0]),
        (traj.end_time_s - 1e-9, waypoints[-1]),
        (traj.end_time_s, waypoints[-1]),
    ):
        position, velocity, acceleration = traj.evaluate(t_s)
        assert math.dist(position, expected) < 1e-6
        assert math.hypot(*velocity) < 1e-6
        assert math.hypot(*acceleration) < 1e-6
    # Before the start the first point is held, after the end the last one, at rest.
    for t_s, expected in ((0.0, waypoints[0]), (traj.end_time_s + 100.0, waypoints[-1])):
        position, velocity, acceleration = traj.evaluate(t_s)
        assert math.dist(position, expected) < 1e-9
        assert velocity == acceleration == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("name", PATHS)
def test_velocity_and_acceleration_are_continuous_at_every_knot(name: str) -> None:
    # Given a planned reference with many segments
    waypoints, cruise = PATHS[name]
    traj = plan_trajectory(waypoints, cruise_speed_mps=cruise)
    assert len(traj.segments) > len(waypoints)
    # When evaluated just before and just after each interior knot
    eps_s = 1e-7
    # Then position, velocity and acceleration differ by no more than their bounded derivative
    # (speed ≤ 1.1·cruise, |acc| ≤ 3, jerk and snap of a few tens) allows over 2·eps.
    tolerance = 1e-4
    for knot in traj.knot_times_s[1:-1]:
        before = traj.evaluate(knot - eps_s)
        after = traj.evaluate(knot + eps_s)
        for left, right in zip(before, after, strict=True):
            assert math.dist(left, right) < tolerance, (knot, left, right)
    # and, exactly, the polynomial derivatives up to jerk agree at the joints
    for seg_a, seg_b in itertools.pairwise(traj.segments):
        for axis in range(3):
            ca = np.polynomial.Polynomial(seg_a.coefficients[axis])
            cb = np.polynomial.Polynomial(seg_b.coefficients[axis])
            for order in range(4):
                left = ca.deriv(order)(1.0) / seg_a.duration_s**order if order else ca(1.0)
                right = cb.deriv(order)(0.0) / seg_b.duration_s**order if order else cb(0.0)
                scale = max(1.0, abs(left))
                assert abs(left - right) < 1e-6 * scale, (order, left, right)


@pytest.mark.parametrize("name", PATHS)
def test_evaluation_is_each_segment_polynomial_and_its_derivatives(name: str) -> None:
    # Given a planned reference
    waypoints, cruise = PATHS[name]
    traj = plan_trajectory(waypoints, cruise_speed_mps=cruise, start_time_s=1.5)
    knots = traj.knot_times_s
    rng = np.random.default_rng(5)
    for index, segment in enumerate(traj.segments):
        for fraction in (0.0, *rng.uniform(0.0, 1.0, 5)):
            # When evaluated inside the segment
            t_s = knots[index] + fraction * segment.duration_s
            if not traj.start_time_s < t_s < traj.end_time_s:
                continue
            evaluated = traj.evaluate(t_s)
            # Then position, velocity and acceleration are those of the segment's polynomial
            # in normalised time s (numpy's evaluation), scaled by 1/T and 1/T²
            s = (t_s - knots[index]) / segment.duration_s
            for axis in range(3):
                poly = np.polynomial.Polynomial(segment.coefficients[axis])
                expected = (
                    poly(s),
                    poly.deriv(1)(s) / segment.duration_s,
                    poly.deriv(2)(s) / segment.duration_s**2,
                )
                for order in range(3):
                    value = evaluated[order][axis]
                    scale = 1.0 + abs(expected[order])
                    assert abs(value - expected[order]) < 1e-9 * scale, (t_s, axis, order)


@pytest.mark.parametrize("name", PATHS)
@pytest.mark.parametrize("max_accel_mps2", [1.5, 3.0])
def test_peak_speed_and_acceleration_respect_the_limits(name: str, max_accel_mps2: float) -> None:
    # Given limits: speed ≤ 1.1 × cruise, acceleration ≤ max_accel
    waypoints, cruise = PATHS[name]
    params = TrajectoryParams(max_acceleration_mps2=max_accel_mps2)
    # When planned
    traj = plan_trajectory(waypoints, cruise_speed_mps=cruise, params=params)
    # Then, sampled 10× finer than the planner checks, both peaks are within the limits
    _, vel, acc = dense_samples(traj)
    assert np.linalg.norm(vel, axis=1).max() <= params.speed_limit_factor * cruise
    assert np.linalg.norm(acc, axis=1).max() <= max_accel_mps2


def test_lower_acceleration_limit_stretches_the_time_instead_of_exceeding_it() -> None:
    # Given the zig-zag, whose short legs need time re-allocation at any cruise speed
    waypoints, cruise = PATHS["zigzag-short-legs"]
    fast = plan_trajectory(waypoints, cruise_speed_mps=cruise)
    # When the acceleration limit is cut to a third
    gentle_params = TrajectoryParams(max_acceleration_mps2=1.0)
    gentle = plan_trajectory(waypoints, cruise_speed_mps=cruise, params=gentle_params)
    # Then the reference is slower and its peak acceleration is within the new limit, while the
    # fast one uses most of its own (it is limited by acceleration, not speed)
    assert gentle.duration_s > fast.duration_s * 1.3
    _, _, acc_gentle = dense_samples(gentle)
    _, _, acc_fast = dense_samples(fast)
    assert np.linalg.norm(acc_gentle, axis=1).max() <= 1.0
    assert np.linalg.norm(acc_fast, axis=1).max() > 0.9 * TrajectoryParams().max_acceleration_mps2


def test_long_leg_cruises_close_to_the_cruise_speed() -> None:
    # Given a 100 m straight leg at 5 m/s and 3 m/s² allowed
    length_m, cruise, accel = 100.0, 5.0, 3.0
    traj = plan_trajectory(((0.0, 0.0, 5.0), (length_m, 0.0, 5.0)), cruise_speed_mps=cruise)
    _, vel, _ = dense_samples(traj)
    speed = np.linalg.norm(vel, axis=1)
    # Then it reaches at least 90 % of cruise, and takes at most 30 % longer than a trapezoidal
    # profile at the full acceleration limit (length / cruise + cruise / accel)
    assert speed.max() >= 0.9 * cruise
    assert traj.duration_s <= 1.3 * (length_m / cruise + cruise / accel)
    # and it spends most of the leg near cruise speed
    assert np.mean(speed > 0.9 * cruise) > 0.6


def test_consecutive_duplicate_waypoints_share_one_knot() -> None:
    waypoints = ((0.0, 0.0, 5.0), (0.0, 0.0, 5.0), (10.0, 0.0, 5.0), (10.0, 0.0, 5.0))
    traj = plan_trajectory(waypoints, cruise_speed_mps=3.0)
    times = traj.waypoint_times_s
    assert times[0] == times[1] == traj.start_time_s
    assert times[2] == times[3] == traj.end_time_s


def test_single_waypoint_is_held() -> None:
    traj = plan_trajectory(((1.0, 2.0, 3.0),), cruise_speed_mps=3.0, start_time_s=4.0)
    assert traj.duration_s == 0.0
    assert traj.evaluate(10.0) == ((1.0, 2.0, 3.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0))


def test_with_start_time_moves_the_clock_origin_only() -> None:
    traj = plan_trajectory(SQUARE_CLIMB, cruise_speed_mps=4.0)
    shifted = traj.with_start_time(7.5)
    assert shifted.duration_s == traj.duration_s
    assert shifted.end_time_s == pytest.approx(7.5 + traj.duration_s)
    # (times between yaw-table samples: the piecewise-linear yaw rate steps at the samples)
    for tau in (0.0, 0.311, 5.013, 17.207, traj.duration_s):
        for shifted_vec, vec in zip(shifted.evaluate(7.5 + tau), traj.evaluate(tau), strict=True):
            assert shifted_vec == pytest.approx(vec, abs=1e-9)
        assert shifted.yaw(7.5 + tau) == pytest.approx(traj.yaw(tau), abs=1e-9)
    assert traj.start_time_s == 0.0


def test_travel_yaw_faces_each_leg_and_respects_the_yaw_rate_limit() -> None:
    # Given an L-shaped path: 30 m east, then 30 m north, starting with yaw = −90° (south)
    start_yaw = -math.pi / 2
    params = TrajectoryParams(yaw_mode="travel", max_yaw_rate_dps=45.0)
    path = ((0.0, 0.0, 5.0), (30.0, 0.0, 5.0), (30.0, 30.0, 5.0))
    traj = plan_trajectory(path, cruise_speed_mps=4.0, start_yaw_rad=start_yaw, params=params)
    t_corner = traj.waypoint_times_s[1]
    # Then it starts at the start yaw, faces east (0) mid first leg, north (π/2) mid second leg
    assert traj.yaw(traj.start_time_s)[0] == pytest.approx(start_yaw)
    assert traj.yaw(0.5 * t_corner)[0] == pytest.approx(0.0, abs=1e-3)
    assert traj.yaw(0.5 * (t_corner + traj.end_time_s))[0] == pytest.approx(math.pi / 2, abs=1e-3)
    # and its rate never exceeds 45 °/s
    times = np.arange(traj.start_time_s, traj.end_time_s, 0.01)
    rates = [abs(traj.yaw(float(t))[1]) for t in times]
    assert max(rates) <= math.radians(45.0) + 1e-9
    # and the setpoint carries the same yaw
    setpoint = traj.setpoint(0.5 * t_corner)
    assert setpoint.yaw_rad == traj.yaw(0.5 * t_corner)[0]
    assert setpoint.position_enu_m == traj.evaluate(0.5 * t_corner)[0]


def test_fixed_yaw_keeps_the_start_yaw() -> None:
    params = TrajectoryParams(yaw_mode="fixed")
    traj = plan_trajectory(SQUARE_CLIMB, cruise_speed_mps=4.0, start_yaw_rad=1.2, params=params)
    for t_s in np.linspace(-1.0, traj.end_time_s + 1.0, 50):
        assert traj.yaw(float(t_s)) == (pytest.approx(1.2), 0.0)


def test_minimum_jerk_climb_meets_its_peak_speed_or_acceleration_exactly() -> None:
    # Given a 5 m climb at 1.5 m/s peak and 3 m/s²
    height, peak_speed, accel = 5.0, 1.5, 3.0
    segment = minimum_jerk_segment(
        (0.0, 0.0, 0.0), (0.0, 0.0, height), peak_speed_mps=peak_speed, max_acceleration_mps2=accel
    )
    # Then the duration is the longer of the two limits' minimum times
    expected = max(
        MIN_JERK_PEAK_SPEED_RATIO * height / peak_speed,
        math.sqrt(MIN_JERK_PEAK_ACCEL_RATIO * height / accel),
    )
    assert segment.duration_s == pytest.approx(expected)
    traj = Trajectory.from_segments([segment])
    _, vel, acc = dense_samples(traj)
    assert np.abs(vel[:, 2]).max() == pytest.approx(peak_speed, rel=1e-4)
    assert np.abs(acc[:, 2]).max() <= accel
    assert np.abs(vel[:, :2]).max() == 0.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("speed_limit_factor", 1.0),
        ("max_acceleration_mps2", 0.0),
        ("max_acceleration_mps2", math.nan),
        ("yaw_mode", "spin"),
        ("max_yaw_rate_dps", -1.0),
        ("knot_spacing_s", 0.01),
    ],
)
def test_params_out_of_range_are_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        TrajectoryParams(**{field: value})


def test_non_finite_waypoints_and_speeds_are_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        plan_trajectory(((0.0, 0.0, 0.0), (math.nan, 0.0, 0.0)), cruise_speed_mps=3.0)
    with pytest.raises(ValueError, match="cruise_speed_mps"):
        plan_trajectory(STRAIGHT, cruise_speed_mps=0.0)


def test_segments_that_do_not_join_are_refused() -> None:
    a = minimum_jerk_segment(
        (0.0, 0.0, 0.0), (0.0, 0.0, 5.0), peak_speed_mps=1.5, max_acceleration_mps2=3.0
    )
    b = minimum_jerk_segment(
        (1.0, 0.0, 5.0), (1.0, 0.0, 0.0), peak_speed_mps=1.5, max_acceleration_mps2=3.0
    )
    with pytest.raises(ValueError, match="does not start where"):
        Trajectory.from_segments([a, b])
