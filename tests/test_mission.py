"""Mission state machine, flown by a perfect follower in the lockstep runner.

The follower stands in for the controller, vehicle and estimator: it publishes an estimate equal
to the last setpoint (integrating the velocity when the setpoint has no position, and stopping
at the ground), so every behaviour below is the mission layer's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import pytest

from kestrel.component import Component, Port
from kestrel.messages import (
    GotoCommand,
    Odometry,
    TrajectorySetpoint,
    Vec3,
    VehicleMode,
    VelocityCommand,
)
from kestrel.planning.mission import (
    HOVER_HOLD_S,
    RETURN_RADIUS_M,
    WAYPOINT_RADIUS_M,
    Mission,
    MissionParams,
    MissionPlan,
)
from kestrel.planning.operator import OperatorCommand, ScenarioOperator
from kestrel.planning.trajectory import TrajectoryParams
from kestrel.rotation import quat_from_euler
from kestrel.runner import LockstepRunner

VEHICLE = "uav1"
RATE_HZ = 50.0
DT_S = 1.0 / RATE_HZ
PHYSICS_HZ = 1000.0
START: Vec3 = (0.0, 0.0, 0.0)
TAKEOFF_ALT_M = 2.0
CRUISE_MPS = 4.0
WAYPOINTS: tuple[Vec3, ...] = ((30.0, 0.0, 2.0), (30.0, 15.0, 4.0))
PARAMS = MissionParams()


class PerfectFollower(Component):
    """Estimate = last setpoint; valid from `valid_from_s`; the ground stops it at z = 0."""

    inputs: ClassVar[dict[str, Port]] = {"setpoint": Port(TrajectorySetpoint, "control/setpoint")}
    outputs: ClassVar[dict[str, Port]] = {"odometry": Port(Odometry, "state/odometry")}
    direct_feedthrough: ClassVar[bool] = False
    rate_hz = RATE_HZ

    def __init__(
        self,
        *,
        start: Vec3 = START,
        yaw_rad: float = 0.0,
        valid_from_s: float = 0.0,
        offset: Vec3 = (0.0, 0.0, 0.0),
    ) -> None:
        super().__init__("follower", VEHICLE)
        self.position = start
        self.velocity: Vec3 = (0.0, 0.0, 0.0)
        self.yaw_rad = yaw_rad
        self.valid_from_s = valid_from_s
        self.offset = offset

    def step(self, t_s: float, setpoint: TrajectorySetpoint | None = None) -> Odometry:
        if setpoint is not None:
            if setpoint.position_enu_m is None:
                self.position = tuple(
                    p + v * DT_S
                    for p, v in zip(self.position, setpoint.velocity_enu_mps, strict=True)
                )  # type: ignore[assignment]
            else:
                self.position = tuple(
                    p + o for p, o in zip(setpoint.position_enu_m, self.offset, strict=True)
                )  # type: ignore[assignment]
            self.velocity = setpoint.velocity_enu_mps
            self.yaw_rad = setpoint.yaw_rad
        if self.position[2] <= 0.0:
            self.position = (self.position[0], self.position[1], 0.0)
            self.velocity = (self.velocity[0], self.velocity[1], 0.0)
        return Odometry(
            t_s,
            self.position,
            self.velocity,
            quat_from_euler(0.0, 0.0, self.yaw_rad),
            (0.0, 0.0, 0.0),
            (0.0, 0.0, 0.0),
            (0.0, 0.0, 0.0),
            (0.02, 0.02, 0.03),
            (0.05, 0.05, 0.05),
            0.01,
            valid=t_s >= self.valid_from_s,
        )


@dataclass(frozen=True)
class Row:
    t_s: float
    mode: VehicleMode
    setpoint: TrajectorySetpoint
    estimate: Odometry


class Recorder(Component):
    """Records the mission's outputs and the estimate it saw, once per mission tick."""

    inputs: ClassVar[dict[str, Port]] = {
        "mode": Port(VehicleMode, "planning/mode"),
        "setpoint": Port(TrajectorySetpoint, "control/setpoint"),
        "odometry": Port(Odometry, "state/odometry"),
    }
    outputs: ClassVar[dict[str, Port]] = {}
    rate_hz = RATE_HZ

    def __init__(self) -> None:
        super().__init__("recorder", VEHICLE)
        self.rows: list[Row] = []

    def step(
        self,
        t_s: float,
        mode: VehicleMode | None = None,
        setpoint: TrajectorySetpoint | None = None,
        odometry: Odometry | None = None,
    ) -> None:
        assert mode is not None
        assert setpoint is not None
        assert odometry is not None
        self.rows.append(Row(t_s, mode, setpoint, odometry))


class SilentOperator(Component):
    """Publishes nothing: gives the mission's operator inputs a producer."""

    outputs: ClassVar[dict[str, Port]] = {
        "cmd_vel": Port(VelocityCommand, "operator/cmd_vel"),
        "goto": Port(GotoCommand, "operator/goto"),
    }
    rate_hz = RATE_HZ

    def __init__(self) -> None:
        super().__init__("operator", VEHICLE)

    def step(self, t_s: float) -> None:
        return None


def fly(
    *,
    then: str = "land",
    waypoints: tuple[Vec3, ...] = WAYPOINTS,
    commands: list[OperatorCommand] | None = None,
    end_s: float = 60.0,
    params: MissionParams = PARAMS,
    start_yaw_rad: float = 0.0,
    valid_from_s: float = 0.0,
    offset: Vec3 = (0.0, 0.0, 0.0),
    follower_start: Vec3 = START,
) -> tuple[Mission, list[Row]]:
    plan = MissionPlan(START, TAKEOFF_ALT_M, waypoints, CRUISE_MPS, then, start_yaw_rad)  # type: ignore[arg-type]
    mission = Mission("mission", VEHICLE, plan=plan, params=params)
    operator: Component = (
        ScenarioOperator("operator", VEHICLE, commands=commands) if commands else SilentOperator()
    )
    follower = PerfectFollower(
        start=follower_start, yaw_rad=start_yaw_rad, valid_from_s=valid_from_s, offset=offset
    )
    recorder = Recorder()
    runner = LockstepRunner([operator, mission, follower, recorder], physics_hz=PHYSICS_HZ)
    runner.run_until(end_s)
    return mission, recorder.rows


def first(rows: list[Row], predicate) -> Row:  # type: ignore[no-untyped-def]
    return next(r for r in rows if predicate(r))


# --------------------------------------------------------------------------- arming


def test_stays_disarmed_and_idle_until_the_estimate_is_valid() -> None:
    # Given an estimate that becomes valid at 3 s
    valid_from_s = 3.0
    _, rows = fly(valid_from_s=valid_from_s, end_s=6.0)
    # Then every mode before 3 s is disarmed and idle, and it arms on the first valid tick
    before = [r for r in rows if r.t_s < valid_from_s]
    assert before
    assert all(not r.mode.armed and r.mode.phase == "idle" for r in before)
    armed = first(rows, lambda r: r.mode.armed)
    assert armed.t_s == pytest.approx(valid_from_s)
    assert armed.mode.phase == "takeoff"
    # and the vehicle stays on the ground through the spool-up
    spool = [r for r in rows if valid_from_s <= r.t_s <= valid_from_s + PARAMS.spool_up_s]
    assert all(r.setpoint.position_enu_m == START for r in spool)


def test_takeoff_climbs_from_the_home_position_estimated_at_arming() -> None:
    # Given an estimate at arming 0.6 m east and 0.4 m south of the planned start (a GNSS
    # error), When a hover mission without waypoints flies,
    # Then the climb goes straight up from the estimated home (PX4 home at arming), and the
    # hover point is the take-off point above it.
    home = (0.6, -0.4, 0.0)
    mission, rows = fly(then="hover", waypoints=(), end_s=15.0, follower_start=home)
    assert mission.home_position_enu_m == home
    climb = [r for r in rows if r.mode.phase == "takeoff" and r.setpoint.position_enu_m]
    assert climb
    assert all(r.setpoint.position_enu_m[:2] == pytest.approx(home[:2]) for r in climb)
    assert rows[-1].setpoint.position_enu_m == pytest.approx((0.6, -0.4, TAKEOFF_ALT_M))
    assert rows[-1].mode.mission_complete


# --------------------------------------------------------------------------- final actions


def test_land_mission_reaches_every_waypoint_lands_and_disarms() -> None:
    mission, rows = fly(then="land")
    last = rows[-1]
    assert last.mode.phase == "landed"
    assert not last.mode.armed
    assert last.mode.mission_complete
    assert last.mode.waypoint_index == len(WAYPOINTS)
    # landed below the last waypoint, on the ground
    assert last.estimate.position_enu_m[:2] == pytest.approx(WAYPOINTS[-1][:2], abs=1e-6)
    assert last.estimate.position_enu_m[2] == 0.0
    # complete exactly when it disarmed
    disarmed = first(rows, lambda r: r.mode.phase == "landed")
    assert mission.mission_time_s == disarmed.t_s
    assert first(rows, lambda r: r.mode.mission_complete).t_s == disarmed.t_s
    # after touching down (z = 0, still) for touchdown_time_s
    touchdown = first(
        rows, lambda r: r.mode.phase == "land" and r.estimate.position_enu_m[2] == 0.0
    )
    assert disarmed.t_s - touchdown.t_s == pytest.approx(PARAMS.touchdown_time_s, abs=2 * DT_S)


def test_landing_descends_at_the_landing_speed() -> None:
    _, rows = fly(then="land")
    descent = [r.setpoint.velocity_enu_mps[2] for r in rows if r.mode.phase == "land"]
    assert min(descent) == pytest.approx(-PARAMS.land_speed_mps)


def test_hover_mission_completes_after_holding_the_last_waypoint_for_two_seconds() -> None:
    mission, rows = fly(then="hover", end_s=40.0)
    hover_start = first(rows, lambda r: r.mode.phase == "hover")
    complete = first(rows, lambda r: r.mode.mission_complete)
    assert complete.t_s - hover_start.t_s == pytest.approx(HOVER_HOLD_S, abs=1e-9)
    assert mission.mission_time_s == complete.t_s
    # still armed, tracking, holding the last waypoint
    last = rows[-1]
    assert last.mode.armed
    assert last.mode.phase == "hover"
    assert last.mode.tracking
    assert math.dist(last.estimate.position_enu_m, WAYPOINTS[-1]) < 1e-6


def test_return_mission_flies_back_and_lands_within_one_metre_of_the_start() -> None:
    _, rows = fly(then="return", end_s=80.0)
    phases = [r.mode.phase for r in rows]
    assert "return" in phases
    # the return leg ends above the start at the take-off altitude, then it lands
    land_start = first(rows, lambda r: r.mode.phase == "land")
    assert math.dist(land_start.setpoint.position_enu_m, (0.0, 0.0, TAKEOFF_ALT_M)) < 1e-6
    last = rows[-1]
    assert last.mode.phase == "landed"
    assert not last.mode.armed
    assert last.mode.mission_complete
    assert math.dist(last.estimate.position_enu_m, START) <= RETURN_RADIUS_M


def test_missed_waypoint_lets_the_reference_continue_but_the_mission_is_not_complete() -> None:
    # Given a follower that flies 1.5 m north of every position setpoint (> 1 m radius)
    _, rows = fly(then="land", offset=(0.0, 1.5, 0.0))
    # Then the vehicle flies the whole reference and lands, but reaches no waypoint
    last = rows[-1]
    assert last.mode.phase == "landed"
    assert last.mode.waypoint_index == 0
    assert not any(r.mode.mission_complete for r in rows)


# --------------------------------------------------------------------------- reference & tracking


def test_setpoint_is_the_reference_planned_at_load_evaluated_at_the_same_time() -> None:
    # Given the estimate valid at 0.4 s: arm at 0.4 s, climb from 0.4 + spool_up_s
    valid_from_s = 0.4
    mission, rows = fly(valid_from_s=valid_from_s, then="hover", end_s=30.0)
    reference = mission.loaded_reference.with_start_time(valid_from_s + PARAMS.spool_up_s)
    # Then every setpoint from arming on is that reference at the setpoint's time
    flown = [r for r in rows if r.mode.armed]
    assert len(flown) > 1000
    for r in flown:
        expected = reference.setpoint(r.t_s)
        assert r.setpoint == expected
    # and that reference goes through the take-off point and every waypoint
    climb_end = reference.start_position
    assert climb_end == pytest.approx(START)
    for waypoint in WAYPOINTS:
        assert min(math.dist(r.setpoint.position_enu_m, waypoint) for r in flown) < 0.1


@pytest.mark.parametrize(
    ("then", "tracked_phases"),
    [
        ("land", {"takeoff", "mission"}),
        ("return", {"takeoff", "mission", "return"}),
        ("hover", {"takeoff", "mission", "hover"}),
    ],
)
def test_tracking_is_true_from_takeoff_altitude_until_landing_starts(
    then: str, tracked_phases: set[str]
) -> None:
    _, rows = fly(then=then, end_s=80.0)
    tracking = [r for r in rows if r.mode.tracking]
    assert tracking
    # Tracking starts on the first tick the estimate is within the tolerance of take-off altitude
    at_altitude = first(
        rows,
        lambda r: (
            r.mode.armed
            and r.estimate.position_enu_m[2] >= TAKEOFF_ALT_M - PARAMS.takeoff_reached_tolerance_m
        ),
    )
    assert tracking[0].t_s == at_altitude.t_s
    assert tracking[0].mode.phase == "takeoff"
    # and stays True, without a gap, until the tick landing starts (or the end, hovering)
    land_start_s = next((r.t_s for r in rows if r.mode.phase == "land"), math.inf)
    window = [r for r in rows if at_altitude.t_s <= r.t_s < land_start_s]
    assert all(r.mode.tracking for r in window)
    assert not any(r.mode.tracking for r in rows if r.t_s >= land_start_s)
    assert {r.mode.phase for r in tracking} == tracked_phases


# --------------------------------------------------------------------------- operator

OP_START_S, OP_END_S = 5.0, 8.0
OP_VELOCITY: Vec3 = (0.0, 2.0, 0.0)


def test_operator_velocity_takes_over_then_the_mission_resumes_to_the_next_unreached_waypoint():  # type: ignore[no-untyped-def]
    # Given sticks at 2 m/s north from 5 s to 8 s, while flying the first leg
    commands = [OperatorCommand(OP_START_S, OP_END_S, OP_VELOCITY)]
    mission, rows = fly(then="land", commands=commands, end_s=70.0)
    # Then from 5 s while the sticks are fresh, phase operator, velocity control, no tracking
    sticks = [r for r in rows if OP_START_S <= r.t_s < OP_END_S]
    assert all(r.mode.phase == "operator" for r in sticks)
    assert all(r.setpoint.position_enu_m is None for r in sticks)
    assert all(r.setpoint.velocity_enu_mps == OP_VELOCITY for r in sticks)
    assert not any(r.mode.tracking for r in sticks)
    # The stream ends at 8 s; after stick_timeout_s the operator is released and, at rest, the
    # mission resumes on a reference re-planned from where the vehicle is
    resumed = first(rows, lambda r: r.t_s > OP_START_S and r.mode.phase == "mission")
    last_stick_s = OP_END_S - DT_S
    assert resumed.t_s - last_stick_s == pytest.approx(
        PARAMS.stick_timeout_s + 2 * DT_S, abs=1.5 * DT_S
    )
    assert resumed.mode.tracking
    assert resumed.mode.waypoint_index == 0
    replanned = mission.reference_history[-1]
    assert len(mission.reference_history) == 2
    assert math.dist(replanned.start_position, resumed.estimate.position_enu_m) < 1e-9
    # the vehicle was pushed north by 2 m/s × 3 s (+ the stick timeout)
    assert resumed.estimate.position_enu_m[1] == pytest.approx(
        OP_VELOCITY[1] * (OP_END_S - OP_START_S + PARAMS.stick_timeout_s), abs=0.1
    )
    # to the next unreached waypoint (the first) and on to the last
    assert replanned.waypoint_times_s == tuple(sorted(replanned.waypoint_times_s))
    assert math.dist(replanned.end_position, WAYPOINTS[-1]) < 1e-9
    assert len(replanned.waypoint_times_s) == len(WAYPOINTS)
    for t_wp, waypoint in zip(replanned.waypoint_times_s, WAYPOINTS, strict=True):
        assert math.dist(replanned.evaluate(t_wp)[0], waypoint) < 1e-3
    # tracking continues against the new reference: setpoints equal it while tracking
    after = [r for r in rows if r.t_s >= resumed.t_s and r.mode.tracking]
    assert after
    assert all(r.setpoint == replanned.setpoint(r.t_s) for r in after)
    # and the mission still completes
    assert rows[-1].mode.mission_complete


def test_goto_is_flown_and_reached_then_the_mission_resumes() -> None:
    goto: Vec3 = (10.0, 10.0, 6.0)
    commands = [OperatorCommand(OP_START_S, goto=goto)]
    mission, rows = fly(then="hover", commands=commands, end_s=70.0)
    # Then from 5 s it is under operator control, not tracking: it brakes to a stop (velocity
    # setpoint zero; one tick for the perfect follower), then flies a position reference
    operated = [r for r in rows if r.mode.phase == "operator"]
    assert operated[0].t_s == pytest.approx(OP_START_S)
    assert not any(r.mode.tracking for r in operated)
    braking = [r for r in operated if r.setpoint.position_enu_m is None]
    assert [r.t_s for r in braking] == pytest.approx([OP_START_S])
    assert braking[0].setpoint.velocity_enu_mps[:2] == (0.0, 0.0)
    assert all(r.setpoint.position_enu_m is not None for r in operated[len(braking) :])
    # it reaches the goto point (within 1 m) before the mission resumes
    resumed = first(rows, lambda r: r.t_s > OP_START_S and r.mode.phase == "mission")
    assert math.dist(resumed.estimate.position_enu_m, goto) <= WAYPOINT_RADIUS_M
    assert resumed.mode.tracking
    assert math.dist(mission.reference_history[-1].start_position, goto) <= WAYPOINT_RADIUS_M
    # and completes the waypoints afterwards
    assert rows[-1].mode.mission_complete
    assert rows[-1].mode.waypoint_index == len(WAYPOINTS)


def test_body_frame_stick_command_is_rotated_by_the_estimated_yaw() -> None:
    # Given the vehicle facing north (yaw 90°, kept fixed) and a base_link command
    # forward 2 m/s, left 1 m/s, up 0.5 m/s
    yaw = math.pi / 2
    forward, left, up = 2.0, 1.0, 0.5
    params = MissionParams(trajectory=TrajectoryParams(yaw_mode="fixed"))
    commands = [OperatorCommand(OP_START_S, OP_END_S, (forward, left, up), frame="base_link")]
    _, rows = fly(commands=commands, params=params, start_yaw_rad=yaw, end_s=OP_END_S)
    # Then the ENU velocity is R(yaw)·(forward, left) with the vertical unchanged:
    # east = cos·f − sin·l = −1, north = sin·f + cos·l = 2
    expected = (
        math.cos(yaw) * forward - math.sin(yaw) * left,
        math.sin(yaw) * forward + math.cos(yaw) * left,
        up,
    )
    sticks = [r for r in rows if OP_START_S <= r.t_s < OP_END_S]
    assert sticks
    for r in sticks:
        assert r.setpoint.position_enu_m is None
        assert r.setpoint.velocity_enu_mps == pytest.approx(expected, abs=1e-12)
        assert r.setpoint.yaw_rad == pytest.approx(yaw)


# --------------------------------------------------------------------------- step-level checks


def odometry(
    t_s: float, position: Vec3, *, velocity: Vec3 = (0.0, 0.0, 0.0), valid: bool = True
) -> Odometry:
    return Odometry(
        t_s,
        position,
        velocity,
        quat_from_euler(0.0, 0.0, 0.0),
        (0.0, 0.0, 0.0),
        (0.0, 0.0, 0.0),
        (0.0, 0.0, 0.0),
        (0.02, 0.02, 0.03),
        (0.05, 0.05, 0.05),
        0.01,
        valid=valid,
    )


def airborne_mission() -> tuple[Mission, float]:
    """A mission stepped by hand to the middle of its first leg; returns it and the time."""
    plan = MissionPlan(START, TAKEOFF_ALT_M, WAYPOINTS, CRUISE_MPS, "land")
    mission = Mission("mission", VEHICLE, plan=plan)
    t_s = 0.0
    out = mission.step(t_s, odometry(t_s, START))
    while out["mode"].phase != "mission":  # type: ignore[attr-defined]
        t_s += DT_S
        position = out["setpoint"].position_enu_m  # type: ignore[attr-defined]
        out = mission.step(t_s, odometry(t_s, position))
    for _ in range(100):
        t_s += DT_S
        position = out["setpoint"].position_enu_m  # type: ignore[attr-defined]
        out = mission.step(t_s, odometry(t_s, position))
    return mission, t_s


def test_non_finite_commands_are_ignored() -> None:
    mission, t_s = airborne_mission()
    here = mission.reference.evaluate(t_s)[0]  # type: ignore[union-attr]
    t_s += DT_S
    nan_stick = VelocityCommand(t_s, (math.nan, 0.0, 0.0))
    inf_goto = GotoCommand(t_s, (0.0, math.inf, 5.0))
    out = mission.step(t_s, odometry(t_s, here), nan_stick, inf_goto)
    assert out["mode"].phase == "mission"  # type: ignore[attr-defined]
    assert out["mode"].tracking  # type: ignore[attr-defined]
    assert out["setpoint"].position_enu_m is not None  # type: ignore[attr-defined]
    # while a valid stick command takes over
    t_s += DT_S
    valid = VelocityCommand(t_s, (1.0, 0.0, 0.0))
    out = mission.step(t_s, odometry(t_s, here), valid)
    assert out["mode"].phase == "operator"  # type: ignore[attr-defined]
    assert out["setpoint"].velocity_enu_mps[:2] == (1.0, 0.0)  # type: ignore[attr-defined]
    # and a NaN one right after it is ignored: the last valid command holds while fresh
    t_s += DT_S
    out = mission.step(t_s, odometry(t_s, here), VelocityCommand(t_s, (0.0, math.nan, 0.0)))
    assert out["mode"].phase == "operator"  # type: ignore[attr-defined]
    assert out["setpoint"].velocity_enu_mps[:2] == (1.0, 0.0)  # type: ignore[attr-defined]


def test_zero_vertical_stick_holds_the_altitude_where_it_began() -> None:
    mission, t_s = airborne_mission()
    here = mission.reference.evaluate(t_s)[0]  # type: ignore[union-attr]
    t_s += DT_S
    mission.step(t_s, odometry(t_s, here), VelocityCommand(t_s, (1.0, 0.0, 0.0)))
    # When the estimate sinks 0.2 m below where the sticks took over
    sink_m = 0.2
    t_s += DT_S
    lower = (here[0], here[1], here[2] - sink_m)
    out = mission.step(t_s, odometry(t_s, lower), VelocityCommand(t_s, (1.0, 0.0, 0.0)))
    # Then the vertical velocity demand climbs back at gain × error
    vz = out["setpoint"].velocity_enu_mps[2]  # type: ignore[attr-defined]
    assert vz == pytest.approx(PARAMS.altitude_hold_gain_per_s * sink_m)


def test_estimate_lost_in_flight_starts_a_failsafe_descent() -> None:
    mission, t_s = airborne_mission()
    # When the estimate turns invalid for longer than estimate_timeout_s
    lost_at = t_s
    out = None
    while t_s - lost_at <= PARAMS.estimate_timeout_s + 2 * DT_S:
        t_s += DT_S
        out = mission.step(t_s, odometry(t_s, (0.0, 0.0, 2.0), valid=False))
    assert out is not None
    # Then it descends by velocity at the landing speed, and tracking stops
    assert out["mode"].phase == "land"  # type: ignore[index]
    assert not out["mode"].tracking  # type: ignore[index]
    assert out["mode"].armed  # type: ignore[index]
    assert out["setpoint"].position_enu_m is None  # type: ignore[index]
    assert out["setpoint"].velocity_enu_mps == (0.0, 0.0, -PARAMS.land_speed_mps)  # type: ignore[index]


def test_short_estimate_gap_keeps_following_the_reference() -> None:
    mission, t_s = airborne_mission()
    t_s += DT_S
    out = mission.step(t_s, None)
    assert out["mode"].phase == "mission"  # type: ignore[attr-defined]
    assert out["setpoint"] == mission.reference.setpoint(t_s)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"takeoff_alt_m": 0.0}, "takeoff_alt_m"),
        ({"cruise_speed_mps": -1.0}, "cruise_speed_mps"),
        ({"then": "orbit"}, "then"),
        ({"waypoints_enu_m": ((0.0, math.nan, 1.0),)}, r"waypoints_enu_m\[0\]"),
        ({"start_yaw_rad": math.inf}, "start_yaw_rad"),
    ],
)
def test_invalid_mission_plans_are_refused_naming_the_field(
    kwargs: dict[str, object], match: str
) -> None:
    base: dict[str, object] = {
        "start_position_enu_m": START,
        "takeoff_alt_m": TAKEOFF_ALT_M,
        "waypoints_enu_m": WAYPOINTS,
        "cruise_speed_mps": CRUISE_MPS,
        "then": "land",
    }
    with pytest.raises(ValueError, match=match):
        MissionPlan(**{**base, **kwargs})  # type: ignore[arg-type]


def test_invalid_params_are_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="stick_timeout_s"):
        MissionParams(stick_timeout_s=0.0)
    with pytest.raises(ValueError, match="land_speed_mps"):
        MissionParams(land_speed_mps=math.nan)
