"""The safety filter (kestrel.planning.safety_filter): its QP, its closed-loop guarantee and its
failsafe actions, on airspaces built here from zones given in local metres.

Closed loop: a point mass (double integrator) at the filter's 50 Hz, whose acceleration follows
the filter's output through a first-order lag of 0.1 s (standing for the attitude and motor
response) plus a constant disturbance pushing toward the zone. The commanded acceleration is a
velocity loop, K_V·(v_demand − v) limited to ACCEL_CMD_MAX_MPS2, demanding 15 m/s toward the
boundary. The filter sees the true state with a small reported uncertainty. Expected results
are stated in terms of the body radius and `SafetyFilterParams.margin_m`: the centre must stay
at least body + margin from every boundary (the k·σ widening of the margin may be spent on the
lag and the disturbance, the body and the margin may not).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import pytest
import scipy.optimize
import shapely

from kestrel.airframe import REFERENCE_QUADROTOR
from kestrel.geodesy import GeoOrigin
from kestrel.messages import AccelerationSetpoint, Odometry, SafetyEvent
from kestrel.planning.airspace.local import LocalAirspace, local_volumes
from kestrel.planning.airspace.model import (
    Applicability,
    CircleShape,
    Limit,
    PolygonShape,
    Reference,
    Restriction,
    Volume,
    Zone,
    ZoneKind,
)
from kestrel.planning.safety_filter import (
    BarrierQP,
    DirectBarrierQP,
    SafetyFilter,
    SafetyFilterCore,
    SafetyFilterParams,
)

ORIGIN = GeoOrigin(lat_deg=47.3977, lon_deg=8.5456, alt_m=408.0, geoid_undulation_m=48.0)
START_UTC = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
BODY_RADIUS_M = REFERENCE_QUADROTOR.body_radius_m  # 0.36 m
RATE_HZ = 50.0
DT_S = 1.0 / RATE_HZ
LAG_S = 0.1
K_V = 2.0
"""Velocity-loop gain of the commanding position controller [1/s]."""
ACCEL_CMD_MAX_MPS2 = 6.0
"""Largest acceleration that controller commands (its tilt limit) [m/s²]."""
SPEED_DEMAND_MPS = 15.0
POSITION_STD_M = (0.1, 0.1, 0.1)
VELOCITY_STD_MPS = (0.05, 0.05, 0.05)
PARAMS = SafetyFilterParams(solver_time_limit_s=1.0)
"""Default tuning, but a solve time limit that no CPU contention during a parallel test run can
reach (an overrun brakes like a failed solve, which is tested on its own below); the geometry
under test is unaffected."""
KEPT_M = BODY_RADIUS_M + PARAMS.margin_m
"""What the centre must keep from every boundary."""


# -- zones in local metres ----------------------------------------------------------------------


def latlon(east_m: float, north_m: float) -> tuple[float, float]:
    lat, lon, _ = ORIGIN.enu_to_geodetic((east_m, north_m, 0.0))
    return lat, lon


def limits(floor_m: float | None, ceiling_m: float | None) -> dict:
    return {
        "lower": None if floor_m is None else Limit(floor_m, Reference.AGL),
        "upper": None if ceiling_m is None else Limit(ceiling_m, Reference.AGL),
    }


def polygon_zone(
    xy: list[tuple[float, float]],
    *,
    floor_m: float | None = None,
    ceiling_m: float | None = 120.0,
    kind: ZoneKind = ZoneKind.EXCLUSION,
    identifier: str = "Z",
    applicability: Applicability | None = None,
) -> Zone:
    shape = PolygonShape(tuple(latlon(*p) for p in xy))
    return Zone(
        index=0,
        identifier=identifier,
        name=identifier,
        restriction=Restriction.PROHIBITED,
        volumes=(Volume(shape, **limits(floor_m, ceiling_m)),),
        kind=kind,
        applicability=applicability or Applicability(),
    )


def circle_zone(
    centre: tuple[float, float],
    radius_m: float,
    *,
    floor_m: float | None = None,
    ceiling_m: float | None = 120.0,
    kind: ZoneKind = ZoneKind.EXCLUSION,
    identifier: str = "C",
) -> Zone:
    return Zone(
        index=0,
        identifier=identifier,
        name=identifier,
        restriction=Restriction.PROHIBITED,
        volumes=(Volume(CircleShape(latlon(*centre), radius_m), **limits(floor_m, ceiling_m)),),
        kind=kind,
    )


def airspace(*zones: Zone) -> LocalAirspace:
    return LocalAirspace(local_volumes(zones, ORIGIN), START_UTC)


def core_for(*zones: Zone, params: SafetyFilterParams = PARAMS) -> SafetyFilterCore:
    return SafetyFilterCore(airspace(*zones), params, body_radius_m=BODY_RADIUS_M)


# -- closed loop --------------------------------------------------------------------------------


@dataclass
class Trace:
    t: list[float] = field(default_factory=list)
    p: list[tuple[float, float, float]] = field(default_factory=list)
    v: list[tuple[float, float, float]] = field(default_factory=list)
    cmd: list[tuple[float, float, float]] = field(default_factory=list)
    out: list[tuple[float, float, float]] = field(default_factory=list)
    action: list[str] = field(default_factory=list)
    cause: list[str] = field(default_factory=list)


def velocity_loop(v_demand, v) -> tuple[float, float, float]:
    a = [K_V * (v_demand[i] - v[i]) for i in range(3)]
    norm = math.sqrt(a[0] ** 2 + a[1] ** 2 + a[2] ** 2)
    if norm > ACCEL_CMD_MAX_MPS2:
        a = [x * ACCEL_CMD_MAX_MPS2 / norm for x in a]
    return (a[0], a[1], a[2])


def fly(
    core: SafetyFilterCore,
    start_m: tuple[float, float, float],
    v_demand: tuple[float, float, float],
    *,
    disturbance_mps2: tuple[float, float, float] = (0.0, 0.0, 0.0),
    duration_s: float,
) -> Trace:
    """Integrate the point mass for `duration_s` with the filter in the loop."""
    p = list(start_m)
    v = [0.0, 0.0, 0.0]
    a = [0.0, 0.0, 0.0]  # the acceleration the vehicle produces (lagged filter output)
    trace = Trace()
    for k in range(round(duration_s * RATE_HZ)):
        t = k * DT_S
        cmd = velocity_loop(v_demand, v)
        decision = core.step(t, tuple(p), tuple(v), POSITION_STD_M, VELOCITY_STD_MPS, cmd)
        out = decision.acceleration_enu_mps2
        trace.t.append(t)
        trace.p.append((p[0], p[1], p[2]))
        trace.v.append((v[0], v[1], v[2]))
        trace.cmd.append(cmd)
        trace.out.append(tuple(float(x) for x in out))
        trace.action.append(decision.action)
        trace.cause.append(decision.cause)
        for i in range(3):
            a[i] += (out[i] - a[i]) * DT_S / LAG_S
            total = a[i] + disturbance_mps2[i]
            p[i] += v[i] * DT_S + 0.5 * total * DT_S * DT_S
            v[i] += total * DT_S
    return trace


@dataclass(frozen=True)
class Approach:
    """A zone, a start and a demand toward it, and the legal margin of the centre by hand."""

    zone: Zone
    start_m: tuple[float, float, float]
    toward: tuple[float, float, float]  # unit vector from the start toward the boundary
    margin_m: Callable[[tuple[float, float, float]], float]
    duration_s: float


S = math.sqrt(0.5)
APPROACHES = {
    # Exclusion square x 50…150, y ±50, surface to 120 m; flown at from the west.
    "wall": Approach(
        polygon_zone([(50, -50), (150, -50), (150, 50), (50, 50)]),
        (-60.0, 0.0, 50.0),
        (1.0, 0.0, 0.0),
        lambda p: 50.0 - p[0],
        20.0,
    ),
    # Exclusion ±50 m square from 60 m to 100 m AGL; climbed into from 5 m below it.
    "floor_above": Approach(
        polygon_zone([(-50, -50), (50, -50), (50, 50), (-50, 50)], floor_m=60.0, ceiling_m=100.0),
        (0.0, 0.0, 5.0),
        (0.0, 0.0, 1.0),
        lambda p: 60.0 - p[2],
        20.0,
    ),
    # Exclusion ±50 m square from the surface to 20 m; descended onto from 90 m.
    "ceiling_below": Approach(
        polygon_zone([(-50, -50), (50, -50), (50, 50), (-50, 50)], ceiling_m=20.0),
        (0.0, 0.0, 90.0),
        (0.0, 0.0, -1.0),
        lambda p: p[2] - 20.0,
        20.0,
    ),
    # Inclusion circle of 100 m, unbounded vertically; flown out of from its centre.
    "inclusion": Approach(
        circle_zone((0.0, 0.0), 100.0, ceiling_m=None, kind=ZoneKind.INCLUSION),
        (0.0, 0.0, 50.0),
        (1.0, 0.0, 0.0),
        lambda p: 100.0 - math.hypot(p[0], p[1]),
        20.0,
    ),
    # An L-shaped exclusion whose reflex vertex at (0, 0) leaves a 90° notch x ≥ 0, y ≥ 0 open;
    # flown into along the notch's bisector. The legal margin there is min(x, y).
    "concave_corner": Approach(
        polygon_zone([(0, 0), (0, 200), (-200, 200), (-200, -200), (200, -200), (200, 0)]),
        (60.0, 60.0, 50.0),
        (-S, -S, 0.0),
        lambda p: min(p[0], p[1]),
        20.0,
    ),
}


@pytest.mark.parametrize("disturbance_mps2", [0.0, 2.0], ids=["calm", "push_2mps2"])
@pytest.mark.parametrize("case", sorted(APPROACHES))
def test_closed_loop_stops_outside_with_body_and_margin_kept(case, disturbance_mps2):
    # Given a vehicle demanding 15 m/s toward a boundary, pushed toward it by a disturbance.
    approach = APPROACHES[case]
    core = core_for(approach.zone)
    push = tuple(disturbance_mps2 * u for u in approach.toward)
    # When flown with the filter in the loop.
    demand = tuple(SPEED_DEMAND_MPS * u for u in approach.toward)
    trace = fly(
        core, approach.start_m, demand, disturbance_mps2=push, duration_s=approach.duration_s
    )
    margins = [approach.margin_m(p) for p in trace.p]
    speeds_toward = [sum(v[i] * approach.toward[i] for i in range(3)) for v in trace.v]
    # Then it got going fast (the filter did not stop it early) …
    assert max(speeds_toward) > 8.0
    # … never came closer than body + margin …
    assert min(margins) >= KEPT_M
    # … and ends at rest close to the boundary, not short of it.
    assert math.hypot(*trace.v[-1]) < 0.2
    assert margins[-1] < KEPT_M + 3.0
    assert "limit" in trace.action
    assert "brake" not in trace.action


def test_sliding_along_a_wall_keeps_the_tangential_motion():
    # Given a 1.8 km straight wall along x = 30 m and a demand 80° off its normal.
    core = core_for(polygon_zone([(30, -900), (130, -900), (130, 900), (30, 900)]))
    angle = math.radians(80.0)
    demand = (SPEED_DEMAND_MPS * math.cos(angle), SPEED_DEMAND_MPS * math.sin(angle), 0.0)
    # When flown for 30 s.
    trace = fly(core, (0.0, -800.0, 50.0), demand, duration_s=30.0)
    limited = [k for k, a in enumerate(trace.action) if a == "limit"]
    # Then the filter intervened for most of the run …
    assert len(limited) > 0.5 * len(trace.t)
    # … changing the command only along the wall normal (x): its tangential (y) component is
    # what was commanded, within the intervention threshold, …
    assert max(abs(trace.out[k][1] - trace.cmd[k][1]) for k in limited) < 0.05
    assert min(trace.out[k][0] - trace.cmd[k][0] for k in limited) < -1.0
    # … so the vehicle slides along the wall at the demanded tangential speed, kept off it.
    assert trace.v[-1][1] == pytest.approx(demand[1], abs=0.2)
    assert abs(trace.v[-1][0]) < 0.1
    assert min(30.0 - p[0] for p in trace.p) >= KEPT_M
    assert trace.p[-1][1] - trace.p[0][1] > 300.0


# -- the QP ------------------------------------------------------------------------------------


def test_barrier_qp_is_dpp():
    qp = BarrierQP(12, PARAMS)
    assert qp.problem.is_dpp()


LIMITS = (PARAMS.horizontal_accel_max_mps2, PARAMS.accel_up_max_mps2, PARAMS.accel_down_max_mps2)
OCTAGON_NORMALS = np.array(
    [(math.cos(k * math.pi / 4), math.sin(k * math.pi / 4), 0.0) for k in range(8)]
)


def random_instance(rng: np.random.Generator, *, conflicting: bool):
    """Random barrier rows around a feasible point: 1–12 unit normals (half of them
    horizontal), bounds such that a random a₀ (|a₀ᵢ| ≤ 4 m/s², inside every limit) meets each
    row with 0–6 m/s² to spare, and a command within ±10 m/s² per axis.

    `conflicting`: rows 0 and 1 become n and −n with bounds n·a₀ − g/2 and −n·a₀ − g/2, which
    no acceleration meets together (their sum asks 0 ≤ −g); the least slack is exactly g/2,
    reached at a₀. Returns (a_cmd, normals, bounds, g)."""
    rows = int(rng.integers(2 if conflicting else 1, 13))
    normals = rng.normal(size=(rows, 3))
    normals[rng.uniform(size=rows) < 0.5, 2] = 0.0
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    a0 = rng.uniform(-4.0, 4.0, 3)
    bounds = normals @ a0 + rng.uniform(0.0, 6.0, rows)
    gap = 0.0
    if conflicting:
        gap = float(rng.uniform(0.2, 4.0))
        normals[1] = -normals[0]
        bounds[0] = normals[0] @ a0 - gap / 2.0
        bounds[1] = -normals[0] @ a0 - gap / 2.0
    a_cmd = tuple(float(x) for x in rng.uniform(-10.0, 10.0, 3))
    return a_cmd, normals, bounds, gap


def kkt_residual(a_cmd, a, slack, normals, bounds) -> float:
    """How far `a` is from meeting the optimality conditions of min ‖a − a_cmd‖² over the rows
    active at `a` (barrier rows up to the slack, octagon, vertical limits): the smallest
    ‖2(a_cmd − a) − Σ λᵢ gᵢ‖ over λ ≥ 0 (non-negative least squares). Zero at the optimum of
    a program whose slack is fixed at its least value; independent of either solver."""
    a = np.asarray(a)
    a_h, a_up, a_dn = LIMITS
    near = 1e-3  # a constraint this close counts as active (solver accuracy)
    rows = [n for n, b in zip(normals, bounds, strict=True) if n @ a >= b + slack - near]
    rows += [g for g in OCTAGON_NORMALS if g @ a >= a_h - near]
    if a[2] >= a_up - near:
        rows.append(np.array([0.0, 0.0, 1.0]))
    if a[2] <= -a_dn + near:
        rows.append(np.array([0.0, 0.0, -1.0]))
    target = 2.0 * (np.asarray(a_cmd) - a)
    if not rows:
        return float(np.linalg.norm(target))
    _, residual = scipy.optimize.nnls(np.array(rows).T, target)
    return float(residual)


def solve_both(a_cmd, normals, bounds):
    spec = BarrierQP(PARAMS.max_pieces, PARAMS)
    direct = DirectBarrierQP(PARAMS.max_pieces, PARAMS)
    return spec.solve(a_cmd, normals, bounds, *LIMITS), direct.solve(
        a_cmd, normals, bounds, *LIMITS
    )


def test_direct_qp_agrees_with_the_cvxpy_specification_when_the_rows_are_compatible():
    # Given 240 seeded random instances whose rows some acceleration meets.
    rng = np.random.default_rng(2024)
    spec = BarrierQP(PARAMS.max_pieces, PARAMS)
    direct = DirectBarrierQP(PARAMS.max_pieces, PARAMS)
    for _ in range(240):
        a_cmd, normals, bounds, _ = random_instance(rng, conflicting=False)
        # When the cvxpy program (the specification) and the direct Clarabel one solve it.
        a_spec, s_spec = spec.solve(a_cmd, normals, bounds, *LIMITS)
        a_direct, s_direct = direct.solve(a_cmd, normals, bounds, *LIMITS)
        # Then both succeed without slack, meet every row and limit, and are optimal.
        assert a_spec is not None
        assert a_direct is not None
        assert s_spec == pytest.approx(0.0, abs=1e-6)
        assert s_direct == pytest.approx(0.0, abs=1e-6)
        a = np.array(a_direct)
        assert np.all(normals @ a <= bounds + 1e-5)
        assert np.all(OCTAGON_NORMALS @ a <= LIMITS[0] + 1e-5)
        assert -LIMITS[2] - 1e-5 <= a[2] <= LIMITS[1] + 1e-5
        assert kkt_residual(a_cmd, a_direct, 0.0, normals, bounds) < 1e-2
        # And they agree.
        assert a_direct == pytest.approx(a_spec, abs=1e-4)


def test_direct_qp_agrees_with_the_cvxpy_specification_on_conflicting_rows():
    # Given 240 seeded instances holding two opposite rows that no acceleration meets.
    rng = np.random.default_rng(2025)
    spec = BarrierQP(PARAMS.max_pieces, PARAMS)
    direct = DirectBarrierQP(PARAMS.max_pieces, PARAMS)
    for _ in range(240):
        a_cmd, normals, bounds, gap = random_instance(rng, conflicting=True)
        a_spec, s_spec = spec.solve(a_cmd, normals, bounds, *LIMITS)
        a_direct, s_direct = direct.solve(a_cmd, normals, bounds, *LIMITS)
        # Then both use exactly the least slack, g/2 (the penalty is exact) …
        assert s_spec == pytest.approx(gap / 2.0, abs=1e-5)
        assert s_direct == pytest.approx(gap / 2.0, abs=1e-5)
        # … meet every row up to it, and agree on the acceleration.
        a = np.array(a_direct)
        assert np.all(normals @ a <= bounds + s_direct + 1e-5)
        assert a_direct == pytest.approx(a_spec, abs=1e-4)


def test_a_command_that_satisfies_every_row_passes_unchanged():
    # Given a vehicle at rest 9 m from a wall (within the look-ahead: barrier rows exist).
    core = core_for(polygon_zone([(9, -50), (100, -50), (100, 50), (9, 50)]))
    a_cmd = (1.0, 0.5, -0.2)  # gently toward the wall: room left is ~6.5 m, bound ~20 m/s²
    # When filtered.
    decision = core.step(
        0.0, (0.0, 0.0, 50.0), (0.0, 0.0, 0.0), POSITION_STD_M, VELOCITY_STD_MPS, a_cmd
    )
    # Then it is passed exactly, without a solve.
    assert decision.action == "pass"
    assert decision.acceleration_enu_mps2 == a_cmd
    assert decision.rows >= 1
    assert not decision.solved
    assert core.stats.solves == 0


def test_a_failed_solve_brakes_against_the_velocity(monkeypatch):
    # Given a vehicle at 10 m/s, 25 m from a wall, commanded on toward it, and a QP that fails.
    core = core_for(polygon_zone([(25, -50), (100, -50), (100, 50), (25, 50)]))
    monkeypatch.setattr(core.qp, "solve", lambda *args, **kwargs: (None, math.nan))
    v = (10.0, 1.0, 0.0)
    # When filtered.
    decision = core.step(
        0.0, (0.0, 0.0, 50.0), v, POSITION_STD_M, VELOCITY_STD_MPS, (4.0, 0.0, 0.0)
    )
    # Then it brakes: the output opposes the velocity.
    assert (decision.action, decision.cause) == ("brake", "solver_failure")
    out = decision.acceleration_enu_mps2
    assert sum(out[i] * v[i] for i in range(3)) < 0.0
    assert out[0] < -1.0
    assert core.stats.failed_solves == 1


# -- failsafe actions ---------------------------------------------------------------------------


def test_inside_a_volume_that_becomes_active_the_vehicle_exits_by_the_nearest_boundary_and_holds():
    # Given an exclusion square x −20…180, y ±100 that becomes active at t = 1 s around a
    # hovering vehicle at (0, 0, 50): the west wall is 20 m away, the others ≥ 100 m.
    z = polygon_zone(
        [(-20, -100), (180, -100), (180, 100), (-20, 100)],
        applicability=Applicability(active_from_s=1.0),
    )
    core = core_for(z)
    # When the vehicle demands to stay put for 25 s.
    trace = fly(core, (0.0, 0.0, 50.0), (0.0, 0.0, 0.0), duration_s=25.0)
    actions = trace.action
    first_exit = actions.index("exit")
    # Then nothing happens before activation …
    assert set(actions[:first_exit]) == {"pass"}
    assert 1.0 <= trace.t[first_exit] <= 1.0 + LocalAirspace.ACTIVITY_REFRESH_S + DT_S
    assert trace.cause[first_exit] == "zone_active_inside"
    # … then it flies out west (the nearest boundary), never east …
    assert max(p[0] for p in trace.p) < 0.5
    exit_ticks = [k for k, a in enumerate(actions) if a == "exit"]
    assert trace.p[exit_ticks[-1]][0] > -20.0  # exit lasts while the centre is inside
    # … holds outside for exit_hold_s …
    hold_ticks = [k for k, a in enumerate(actions) if a == "hold"]
    assert hold_ticks
    assert hold_ticks[0] == exit_ticks[-1] + 1
    assert all(trace.p[k][0] < -20.0 for k in hold_ticks)
    hold_s = (hold_ticks[-1] - hold_ticks[0] + 1) * DT_S
    assert PARAMS.exit_hold_s <= hold_s <= PARAMS.exit_hold_s + 2 * DT_S
    # … and is then released, clear of the zone by its margin and at rest.
    assert set(actions[hold_ticks[-1] + 1 :]) <= {"pass", "limit"}
    assert -20.0 - trace.p[-1][0] >= KEPT_M
    assert math.hypot(*trace.v[-1]) < 0.2


def test_inside_a_circle_the_exit_is_radial_toward_the_nearest_side():
    # Given a vehicle 30 m west of the centre of an active 50 m circle: the nearest boundary
    # point is (−50, 0).
    core = core_for(circle_zone((30.0, 0.0), 50.0))
    trace = fly(core, (0.0, 0.0, 50.0), (0.0, 0.0, 0.0), duration_s=12.0)
    assert trace.action[0] == "exit"
    assert max(p[0] for p in trace.p) < 0.5
    assert max(abs(p[1]) for p in trace.p) < 0.5
    assert trace.p[-1][0] < -20.0 - BODY_RADIUS_M


def test_invalid_estimate_holds():
    core = core_for(polygon_zone([(25, -50), (100, -50), (100, 50), (25, 50)]))
    v = (3.0, 0.0, 0.5)
    decision = core.step(
        0.0,
        (0.0, 0.0, 50.0),
        v,
        POSITION_STD_M,
        VELOCITY_STD_MPS,
        (4.0, 0.0, 0.0),
        estimate_valid=False,
    )
    assert (decision.action, decision.cause) == ("hold", "estimate_invalid")
    out = decision.acceleration_enu_mps2
    assert sum(out[i] * v[i] for i in range(3)) < 0.0


def test_invalid_non_finite_estimate_still_gives_a_finite_command():
    # The estimator flags its output invalid exactly when its state went non-finite.
    core = core_for(polygon_zone([(25, -50), (100, -50), (100, 50), (25, 50)]))
    nan3 = (math.nan, math.nan, math.nan)
    decision = core.step(0.0, nan3, nan3, nan3, nan3, (4.0, 0.0, 0.0), estimate_valid=False)
    assert decision.action == "hold"
    assert all(math.isfinite(x) for x in decision.acceleration_enu_mps2)


def test_uncertain_position_near_a_zone_holds_but_far_from_every_zone_passes():
    zone = polygon_zone([(25, -50), (100, -50), (100, 50), (25, 50)])
    std = (PARAMS.max_position_std_m + 1.0,) * 3
    v = (3.0, 0.0, 0.0)
    a_cmd = (2.0, 0.0, 0.0)
    near = core_for(zone).step(0.0, (0.0, 0.0, 50.0), v, std, VELOCITY_STD_MPS, a_cmd)
    assert (near.action, near.cause) == ("hold", "position_uncertain")
    assert near.acceleration_enu_mps2[0] < 0.0
    far = core_for(zone).step(0.0, (-5_000.0, 0.0, 50.0), v, std, VELOCITY_STD_MPS, a_cmd)
    assert far.action == "pass"
    assert far.acceleration_enu_mps2 == a_cmd


def test_receiver_reported_accuracy_floors_an_optimistic_estimate():
    # Given a confident estimate (σ 0.1 m) near a zone, but a receiver reporting 5 m.
    zone = polygon_zone([(25, -50), (100, -50), (100, 50), (25, 50)])
    receiver_std_m = PARAMS.max_position_std_m + 1.0
    args = (0.0, (0.0, 0.0, 50.0), (3.0, 0.0, 0.0), POSITION_STD_M, VELOCITY_STD_MPS, (2.0, 0, 0))
    # Then the receiver's figure is what counts: the position is too uncertain near a zone.
    held = core_for(zone).step(*args, receiver_horizontal_std_m=receiver_std_m)
    assert (held.action, held.cause) == ("hold", "position_uncertain")
    assert core_for(zone).step(*args).action == "pass"


def test_inactive_and_unenforced_zones_pass_everything():
    z = polygon_zone(
        [(5, -50), (100, -50), (100, 50), (5, 50)], applicability=Applicability(active_from_s=100.0)
    )
    core = core_for(z)
    decision = core.step(
        0.0, (0.0, 0.0, 50.0), (10.0, 0.0, 0.0), POSITION_STD_M, VELOCITY_STD_MPS, (6.0, 0.0, 0.0)
    )
    assert decision.action == "pass"
    assert decision.acceleration_enu_mps2 == (6.0, 0.0, 0.0)


# -- the component ----------------------------------------------------------------------------


def odometry(t: float, p, v, *, valid: bool = True) -> Odometry:
    return Odometry(
        t_s=t,
        position_enu_m=tuple(p),
        velocity_enu_mps=tuple(v),
        orientation=(0.0, 0.0, 0.0, 1.0),
        angular_velocity_flu_radps=(0.0, 0.0, 0.0),
        gyro_bias_flu_radps=(0.0, 0.0, 0.0),
        accel_bias_flu_mps2=(0.0, 0.0, 0.0),
        position_std_m=POSITION_STD_M,
        velocity_std_mps=VELOCITY_STD_MPS,
        yaw_std_rad=0.01,
        valid=valid,
    )


def component_for(*zones: Zone) -> SafetyFilter:
    return SafetyFilter(
        "safety_filter",
        "uav1",
        airspace=airspace(*zones),
        airframe=REFERENCE_QUADROTOR,
        params=PARAMS,
    )


def test_component_reports_one_start_and_one_end_per_episode():
    # Given a vehicle that flies at a wall for 10 s, then turns away for 5 s.
    component = component_for(polygon_zone([(50, -50), (150, -50), (150, 50), (50, 50)]))
    p, v, a = [-60.0, 0.0, 50.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
    events: list[SafetyEvent] = []
    for k in range(round(15.0 * RATE_HZ)):
        t = k * DT_S
        v_demand = (SPEED_DEMAND_MPS, 0.0, 0.0) if t < 10.0 else (-5.0, 0.0, 0.0)
        demand = AccelerationSetpoint(t, velocity_loop(v_demand, v), v_demand, 0.0)
        out = component.step(t, odometry(t, p, v), demand)
        events.extend([out["events"]] if "events" in out else [])
        acc = out["acceleration"].acceleration_enu_mps2
        for i in range(3):
            a[i] += (acc[i] - a[i]) * DT_S / LAG_S
            p[i] += v[i] * DT_S + 0.5 * a[i] * DT_S * DT_S
            v[i] += a[i] * DT_S
    component.finish(15.0)
    # Then exactly one episode: a "start" then an "end" with the same cause and action.
    assert [e.state for e in events] == ["start", "end"]
    start, end = events
    assert (start.cause, start.action) == ("geofence", "limit")
    assert (end.cause, end.action) == (start.cause, start.action)
    assert "Z" in start.zone
    assert 0.0 < start.t_s < end.t_s <= 10.0 + DT_S
    assert end.duration_s == pytest.approx(end.t_s - start.t_s, abs=1e-6)
    # And failsafe_events() lists it with its time, cause, action and duration.
    [entry] = component.failsafe_events()
    assert {"t", "cause", "action", "duration_s"} <= set(entry)
    assert entry["t"] == pytest.approx(start.t_s)
    assert (entry["cause"], entry["action"]) == ("geofence", "limit")
    assert entry["duration_s"] == pytest.approx(end.duration_s)


def test_component_never_passes_a_nan_demand():
    component = component_for(polygon_zone([(50, -50), (150, -50), (150, 50), (50, 50)]))
    nan_demand = AccelerationSetpoint(0.0, (math.nan, 1.0, math.inf), (0.0, 0.0, 0.0), 0.0)
    for p in [(0.0, 0.0, 50.0), (45.0, 0.0, 50.0), (-5_000.0, 0.0, 50.0)]:
        out = component.step(0.0, odometry(0.0, p, (5.0, 0.0, 0.0)), nan_demand)
        assert all(math.isfinite(x) for x in out["acceleration"].acceleration_enu_mps2)


def test_component_never_passes_a_nan_demand_before_the_first_odometry():
    component = component_for(polygon_zone([(50, -50), (150, -50), (150, 50), (50, 50)]))
    nan_demand = AccelerationSetpoint(0.0, (math.nan, 1.0, math.inf), (0.0, 0.0, 0.0), 0.0)
    out = component.step(0.0, None, nan_demand)
    assert all(math.isfinite(x) for x in out["acceleration"].acceleration_enu_mps2)


def test_inside_one_of_two_overlapping_inclusion_volumes_is_legal():
    # Given two overlapping inclusion circles (centres 150 m apart, radius 100 m) and a
    # vehicle at rest at the centre of the first: inside the union.
    core = core_for(
        circle_zone((0.0, 0.0), 100.0, ceiling_m=None, kind=ZoneKind.INCLUSION, identifier="A"),
        circle_zone((150.0, 0.0), 100.0, ceiling_m=None, kind=ZoneKind.INCLUSION, identifier="B"),
    )
    decision = core.step(
        0.0, (0.0, 0.0, 50.0), (0.0, 0.0, 0.0), POSITION_STD_M, VELOCITY_STD_MPS, (0.0, 0.0, 0.0)
    )
    # Then hovering there is left alone (not an "exit" toward the second circle).
    assert decision.action == "pass"


def test_closed_loop_crosses_between_overlapping_inclusion_volumes_and_stops_at_the_union_edge():
    # Given the same two inclusion circles (union x −100…250 along y = 0) and a vehicle at A's
    # centre demanding 15 m/s east, through the overlap (x 50…100) and on toward B's far edge.
    core = core_for(
        circle_zone((0.0, 0.0), 100.0, ceiling_m=None, kind=ZoneKind.INCLUSION, identifier="A"),
        circle_zone((150.0, 0.0), 100.0, ceiling_m=None, kind=ZoneKind.INCLUSION, identifier="B"),
    )
    trace = fly(core, (0.0, 0.0, 50.0), (SPEED_DEMAND_MPS, 0.0, 0.0), duration_s=30.0)
    # Then A's edge inside B does not stop it: it ends near B's far edge, with margin kept from
    # the union's boundary (B's circle, once past the overlap), and never "exits".
    assert "exit" not in trace.action
    union_margin = [
        max(100.0 - math.hypot(p[0], p[1]), 100.0 - math.hypot(p[0] - 150.0, p[1])) for p in trace.p
    ]
    assert min(union_margin) >= KEPT_M
    assert trace.p[-1][0] > 250.0 - KEPT_M - 3.0
    assert math.hypot(*trace.v[-1]) < 0.2


def union_margin_m(p, circles: list[tuple[float, float, float]]) -> float:
    """Signed distance from p to the boundary of a union of discs (cx, cy, r), positive inside,
    with shapely on 1024-gon discs (chord sag r·(1 − cos(π/1024)) < 0.5 mm at 100 m)."""
    union = shapely.union_all(
        [shapely.Point(cx, cy).buffer(r, quad_segs=256) for cx, cy, r in circles]
    )
    d = shapely.distance(union.exterior, shapely.Point(p[0], p[1]))
    return d if shapely.contains_xy(union, p[0], p[1]) else -d


def test_closed_loop_stops_at_the_union_edge_where_two_inclusion_circles_cross():
    # Given the same two inclusion circles; they cross at (75, ±66.1), where the union's
    # boundary has a reflex corner. The vehicle starts at (75, 0), in the overlap, and demands
    # 15 m/s north, straight at the crossing point.
    circles = [(0.0, 0.0, 100.0), (150.0, 0.0, 100.0)]
    core = core_for(
        circle_zone((0.0, 0.0), 100.0, ceiling_m=None, kind=ZoneKind.INCLUSION, identifier="A"),
        circle_zone((150.0, 0.0), 100.0, ceiling_m=None, kind=ZoneKind.INCLUSION, identifier="B"),
    )
    trace = fly(core, (75.0, 0.0, 50.0), (0.0, SPEED_DEMAND_MPS, 0.0), duration_s=15.0)
    # Then it stops inside the union with body + margin kept, as at any other boundary.
    assert min(union_margin_m(p, circles) for p in trace.p[::5]) >= KEPT_M
    assert "exit" not in trace.action


def test_params_reject_out_of_range_values():
    with pytest.raises(ValueError, match="margin_m"):
        replace(PARAMS, margin_m=-1.0)
