"""The mission layer of one multirotor: arming, take-off, waypoints, final action, operator.

`Mission` turns a scenario's `mission:` block (SCENARIOS.md) into a setpoint stream for the
position controller and a mode stream for the allocator and the metrics. Its definitions are the
ones the metrics use, so they follow SCENARIOS.md word for word:

- **Reference trajectory.** Take-off climb and waypoints (and, for `then: return`, the leg back
  above the start) are planned once, when the mission is loaded, as one time-indexed
  `Trajectory`; arming only fixes its clock origin (the climb starts `spool_up_s` after the
  estimate first becomes valid). The setpoint at time t is the reference at t — never re-timed
  to the vehicle's progress — so `tracking_*` can compare ground truth with it. After an
  operator command the reference is re-planned from where the vehicle is to the next unreached
  waypoint (and the ones after it), and tracking continues against that.
- **tracking** (VehicleMode) is True from reaching take-off altitude (estimate within
  `takeoff_reached_tolerance_m`) until landing starts, except while the operator is in control
  (velocity sticks, goto, and the brake to a stop before the mission resumes).
- **Waypoint reached**: the estimate passes within WAYPOINT_RADIUS_M of it, in order.
  `waypoint_index` is the index of the next waypoint to reach (= the number reached). A missed
  waypoint does not stop the reference, but the mission can then not complete.
- **mission_complete**: every waypoint reached in order, then the final action done — `land`:
  on the ground and disarmed; `hover`: within WAYPOINT_RADIUS_M of the last waypoint for
  HOVER_HOLD_S; `return`: landed within RETURN_RADIUS_M of the start. It latches.

Phases (VehicleMode.phase): idle (disarmed, waiting for a valid estimate), takeoff (spool-up and
climb), mission, return, hover, land, landed (disarmed), operator.

Operator (`operator/cmd_vel`, `operator/goto`): while a velocity command is fresh (stamp within
`stick_timeout_s`, PX4's COM_RC_LOSS_T in spirit) the vehicle flies it with velocity control
(setpoint position None); "base_link" commands are rotated by the estimated yaw; a zero
vertical command holds the altitude at which it began through a proportional velocity
correction. A goto newer than any stick input brakes to a stop, then flies a minimum-snap
reference to the point at cruise speed and holds it until the estimate is within
WAYPOINT_RADIUS_M after that reference ended. The newest command (by stamp) wins. When the
operator releases, the vehicle brakes to below `resume_speed_mps` and the mission resumes on a
re-planned reference.

Safety: the vehicle never arms on an invalid estimate (missing, `valid` False, non-finite or
older than `estimate_timeout_s`). In flight, an estimate invalid for longer than
`estimate_timeout_s` starts a failsafe descent (velocity setpoint straight down at
`land_speed_mps`); shorter gaps keep following the reference. Commands containing NaN/inf are
ignored. Touchdown is detected from the estimate alone (near the start altitude with vertical
speed ≈ 0 for `touchdown_time_s`, as PX4's land detector's LNDMC_TRIG_TIME), then the motors
are disarmed.

Ports (namespace = vehicle id):
    inputs:  odometry ← `state/odometry` (Odometry), cmd_vel ← `operator/cmd_vel`
             (VelocityCommand), goto ← `operator/goto` (GotoCommand)
    outputs: setpoint → `control/setpoint` (TrajectorySetpoint), mode → `planning/mode`
             (VehicleMode)
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from kestrel.component import Component, Port
from kestrel.messages import (
    GotoCommand,
    Odometry,
    TrajectorySetpoint,
    Vec3,
    VehicleMode,
    VelocityCommand,
)
from kestrel.planning.trajectory import (
    PolynomialSegment,
    Trajectory,
    TrajectoryParams,
    minimum_jerk_segment,
    minimum_snap_segments,
    plan_trajectory,
)
from kestrel.rotation import wrap_pi, yaw_from_quat

log = logging.getLogger(__name__)

WAYPOINT_RADIUS_M = 1.0
"""A waypoint (or goto point) is reached within this distance (SCENARIOS.md, Mission complete)."""

HOVER_HOLD_S = 2.0
"""`then: hover` completes after holding within WAYPOINT_RADIUS_M of the last waypoint this long."""

RETURN_RADIUS_M = 1.0
"""`then: return` completes when landed within this distance of the start."""

_ZERO: Vec3 = (0.0, 0.0, 0.0)

Phase = Literal["idle", "takeoff", "mission", "operator", "land", "landed", "hover", "return"]


_isfinite = math.isfinite


def _finite(v: Vec3) -> bool:
    return _isfinite(v[0]) and _isfinite(v[1]) and _isfinite(v[2])


def _distance(a: Vec3, b: Vec3) -> float:
    return math.sqrt((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2)


def _vec3(name: str, value: Vec3) -> Vec3:
    if len(value) != 3:
        raise ValueError(f"{name} must have 3 components, got {value!r}")
    vec = (float(value[0]), float(value[1]), float(value[2]))
    if not _finite(vec):
        raise ValueError(f"{name} must be finite, got {vec}")
    return vec


@dataclass(frozen=True)
class MissionPlan:
    """What one vehicle is asked to do (a scenario's `mission:` block, geodetic points in ENU).

    start_position_enu_m: where the vehicle stands before take-off [m, ENU].
    takeoff_alt_m: climb height above the start [m], (0, 500].
    waypoints_enu_m: points to pass in order [m, ENU]; may be empty.
    cruise_speed_mps: speed between waypoints [m/s], (0, 20].
    then: final action after the last waypoint: "land", "hover" or "return".
    start_yaw_rad: heading on the ground [rad], REP-103 (0 = east, CCW).
    """

    start_position_enu_m: Vec3
    takeoff_alt_m: float
    waypoints_enu_m: tuple[Vec3, ...]
    cruise_speed_mps: float
    then: Literal["land", "hover", "return"] = "hover"
    start_yaw_rad: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "start_position_enu_m", _vec3("start_position_enu_m", self.start_position_enu_m)
        )
        object.__setattr__(
            self,
            "waypoints_enu_m",
            tuple(_vec3(f"waypoints_enu_m[{i}]", w) for i, w in enumerate(self.waypoints_enu_m)),
        )
        if not (math.isfinite(self.takeoff_alt_m) and 0.0 < self.takeoff_alt_m <= 500.0):
            raise ValueError(f"takeoff_alt_m must be in (0, 500], got {self.takeoff_alt_m!r}")
        if not (math.isfinite(self.cruise_speed_mps) and 0.0 < self.cruise_speed_mps <= 20.0):
            raise ValueError(f"cruise_speed_mps must be in (0, 20], got {self.cruise_speed_mps!r}")
        if self.then not in ("land", "hover", "return"):
            raise ValueError(f"then must be 'land', 'hover' or 'return', got {self.then!r}")
        if not math.isfinite(self.start_yaw_rad):
            raise ValueError(f"start_yaw_rad must be finite, got {self.start_yaw_rad!r}")

    @property
    def takeoff_point(self) -> Vec3:
        x, y, z = self.start_position_enu_m
        return (x, y, z + self.takeoff_alt_m)


def _check(name: str, value: float, low: float, high: float, *, low_open: bool = True) -> None:
    ok = math.isfinite(value) and (value > low if low_open else value >= low) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bracket}{low}, {high}], got {value!r}")


@dataclass(frozen=True)
class MissionParams:
    """Tuning of the mission layer (every value with unit and valid range).

    rate_hz: update rate [Hz], (0, 1000].
    trajectory: limits and yaw behaviour of every planned reference.
    spool_up_s: motors idle on the ground between arming and the climb [s], [0, 10]; PX4
        COM_SPOOLUP_TIME (default 1 s).
    takeoff_speed_mps: peak climb speed of the take-off [m/s], (0, 10]; PX4 MPC_TKO_SPEED
        (default 1.5 m/s).
    takeoff_reached_tolerance_m: take-off altitude counts as reached this far below it [m],
        (0, 5].
    land_speed_mps: descent speed when landing [m/s], (0, 5]; PX4 MPC_LAND_SPEED (0.7 m/s).
    land_accel_mps2: acceleration of the descent start [m/s²], (0, 10].
    land_lead_m: the descending setpoint is kept at most this far below the estimated altitude,
        so on the ground the controller keeps pressing down with a bounded error, and an
        estimate drifting low never makes it climb [m], (0, 5].
    touchdown_height_m: the estimate counts as on the ground up to this height above the start
        [m], (0, 5].
    touchdown_speed_mps: and with |vertical speed| below this [m/s], (0, 2]; PX4
        LNDMC_Z_VEL_MAX plays the same role.
    touchdown_time_s: for this long before disarming [s], (0, 10]; PX4 LNDMC_TRIG_TIME (1 s).
    stick_timeout_s: a velocity command older than this is released [s], (0, 5].
    estimate_timeout_s: an estimate older than this is invalid, and an invalid estimate in
        flight for longer than this starts the failsafe descent [s], (0, 10].
    resume_speed_mps: after the operator, the vehicle brakes to below this speed before the
        mission resumes [m/s], (0, 5].
    altitude_hold_gain_per_s: vertical speed per metre of altitude error while the operator
        commands zero vertical speed [1/s], [0, 10].
    altitude_hold_max_mps: bound of that correction [m/s], (0, 5].
    """

    rate_hz: float = 50.0
    trajectory: TrajectoryParams = field(default_factory=TrajectoryParams)
    spool_up_s: float = 1.0
    takeoff_speed_mps: float = 1.5
    takeoff_reached_tolerance_m: float = 0.3
    land_speed_mps: float = 0.7
    land_accel_mps2: float = 1.0
    land_lead_m: float = 0.5
    touchdown_height_m: float = 0.3
    touchdown_speed_mps: float = 0.2
    touchdown_time_s: float = 1.0
    stick_timeout_s: float = 0.3
    estimate_timeout_s: float = 0.5
    resume_speed_mps: float = 0.3
    altitude_hold_gain_per_s: float = 1.0
    altitude_hold_max_mps: float = 1.0

    def __post_init__(self) -> None:
        _check("rate_hz", self.rate_hz, 0.0, 1000.0)
        if not isinstance(self.trajectory, TrajectoryParams):
            raise ValueError("trajectory must be a TrajectoryParams")
        _check("spool_up_s", self.spool_up_s, 0.0, 10.0, low_open=False)
        _check("takeoff_speed_mps", self.takeoff_speed_mps, 0.0, 10.0)
        _check("takeoff_reached_tolerance_m", self.takeoff_reached_tolerance_m, 0.0, 5.0)
        _check("land_speed_mps", self.land_speed_mps, 0.0, 5.0)
        _check("land_accel_mps2", self.land_accel_mps2, 0.0, 10.0)
        _check("land_lead_m", self.land_lead_m, 0.0, 5.0)
        _check("touchdown_height_m", self.touchdown_height_m, 0.0, 5.0)
        _check("touchdown_speed_mps", self.touchdown_speed_mps, 0.0, 2.0)
        _check("touchdown_time_s", self.touchdown_time_s, 0.0, 10.0)
        _check("stick_timeout_s", self.stick_timeout_s, 0.0, 5.0)
        _check("estimate_timeout_s", self.estimate_timeout_s, 0.0, 10.0)
        _check("resume_speed_mps", self.resume_speed_mps, 0.0, 5.0)
        _check("altitude_hold_gain_per_s", self.altitude_hold_gain_per_s, 0.0, 10.0, low_open=False)
        _check("altitude_hold_max_mps", self.altitude_hold_max_mps, 0.0, 5.0)


@dataclass(frozen=True)
class _Route:
    """A planned reference and where its sections end (absolute times once started)."""

    trajectory: Trajectory
    climb_end_s: float
    waypoints_end_s: float

    def started_at(self, start_time_s: float) -> _Route:
        offset = start_time_s - self.trajectory.start_time_s
        return _Route(
            self.trajectory.with_start_time(start_time_s),
            self.climb_end_s + offset,
            self.waypoints_end_s + offset,
        )


class Mission(Component):
    """Mission state machine and reference for one multirotor (see the module docstring)."""

    inputs: ClassVar[dict[str, Port]] = {
        "odometry": Port(Odometry, "state/odometry"),
        "cmd_vel": Port(VelocityCommand, "operator/cmd_vel"),
        "goto": Port(GotoCommand, "operator/goto"),
    }
    outputs: ClassVar[dict[str, Port]] = {
        "setpoint": Port(TrajectorySetpoint, "control/setpoint"),
        "mode": Port(VehicleMode, "planning/mode"),
    }

    def __init__(
        self,
        name: str = "mission",
        namespace: str = "",
        *,
        plan: MissionPlan,
        params: MissionParams | None = None,
    ) -> None:
        super().__init__(name, namespace)
        self.plan = plan
        self.params = params or MissionParams()
        self.rate_hz = self.params.rate_hz
        self._dt_s = 1.0 / self.params.rate_hz
        self._home: Vec3 = plan.start_position_enu_m
        self._final_point = self._mission_final_point()
        # Planned at load to validate the plan; planned again, once, at arming from the home
        # position (below), and frozen from then on: arming only moves its clock origin.
        self._loaded_route = self._plan_route(
            plan.start_position_enu_m,
            plan.waypoints_enu_m,
            start_yaw_rad=plan.start_yaw_rad,
            climb=True,
        )
        # State.
        self._stage = "idle"  # idle | reference | operator | land | landed
        self._armed = False
        self._route: _Route | None = None
        self._climb_start_s = math.inf
        self._at_altitude = False
        self._waypoint_index = 0
        self._complete = False
        self._complete_s: float | None = None
        self._hover_since_s: float | None = None
        self._last_valid_s = -math.inf
        self._last_setpoint = TrajectorySetpoint(
            0.0, plan.start_position_enu_m, _ZERO, _ZERO, plan.start_yaw_rad
        )
        # Operator.
        self._stick: VelocityCommand | None = None
        self._op_yaw = 0.0
        self._hold_z: float | None = None
        self._goto_stamp_s = -math.inf
        self._goto_target: Vec3 | None = None
        self._goto_ref: Trajectory | None = None
        # Landing.
        self._land_start_s = 0.0
        self._land_from: Vec3 = plan.start_position_enu_m
        self._land_yaw = plan.start_yaw_rad
        self._land_est_z = plan.start_position_enu_m[2]
        self._failsafe = False
        self._touchdown_since_s: float | None = None
        self._landed_at: Vec3 | None = None
        self.reference_history: list[Trajectory] = []
        """Every mission reference flown, in order (for metrics and plots)."""

    # ------------------------------------------------------------------ public views
    @property
    def reference(self) -> Trajectory | None:
        """The mission reference being tracked now (None while idle or under operator control)."""
        return self._route.trajectory if self._route is not None else None

    @property
    def loaded_reference(self) -> Trajectory:
        """The reference planned at load, with the climb starting at t = 0."""
        return self._loaded_route.trajectory

    @property
    def mission_time_s(self) -> float | None:
        """When mission_complete first became True (SCENARIOS.md `mission_time_s`)."""
        return self._complete_s

    # ------------------------------------------------------------------ planning
    @property
    def home_position_enu_m(self) -> Vec3:
        """Where the take-off starts: the horizontal position estimate at arming, on the
        planned start's ground height (PX4 sets its home position at arming the same way)."""
        return self._home

    @property
    def _takeoff_point(self) -> Vec3:
        x, y, z = self._home
        return (x, y, z + self.plan.takeoff_alt_m)

    def _mission_final_point(self) -> Vec3:
        waypoints = self.plan.waypoints_enu_m
        return waypoints[-1] if waypoints else self._takeoff_point

    def _plan_route(
        self,
        start: Vec3,
        waypoints: tuple[Vec3, ...],
        *,
        start_yaw_rad: float,
        climb: bool,
        start_time_s: float = 0.0,
    ) -> _Route:
        """Climb (optional) + waypoints + return leg, each section rest-to-rest.

        The trajectory's `waypoint_times_s` are the times it passes `waypoints`.
        """
        plan, traj_params = self.plan, self.params.trajectory
        segments: list[PolynomialSegment] = []
        origin = start
        if climb:
            top = self._takeoff_point
            segments.append(
                minimum_jerk_segment(
                    start,
                    top,
                    peak_speed_mps=self.params.takeoff_speed_mps,
                    max_acceleration_mps2=traj_params.max_acceleration_mps2,
                )
            )
            origin = top
        climb_s = sum(s.duration_s for s in segments)
        leg_segments, leg_knots = minimum_snap_segments(
            (origin, *waypoints), cruise_speed_mps=plan.cruise_speed_mps, params=traj_params
        )
        waypoint_knots = [len(segments) + k for k in leg_knots[1:]]
        segments.extend(leg_segments)
        waypoints_s = sum(s.duration_s for s in segments)
        if plan.then == "return":
            last = waypoints[-1] if waypoints else origin
            back, _ = minimum_snap_segments(
                (last, self._takeoff_point),
                cruise_speed_mps=plan.cruise_speed_mps,
                params=traj_params,
            )
            segments.extend(back)
        trajectory = Trajectory.from_segments(
            segments,
            hold_position=start,
            waypoint_knots=waypoint_knots,
            start_time_s=start_time_s,
            start_yaw_rad=start_yaw_rad,
            params=traj_params,
        )
        return _Route(trajectory, start_time_s + climb_s, start_time_s + waypoints_s)

    # ------------------------------------------------------------------ inputs
    def _valid_estimate(self, t_s: float, odom: Odometry | None) -> Odometry | None:
        if odom is None or not odom.valid:
            return None
        if not (0.0 <= t_s - odom.t_s <= self.params.estimate_timeout_s):
            return None
        p, v = odom.position_enu_m, odom.velocity_enu_mps
        if not (
            _isfinite(p[0])
            and _isfinite(p[1])
            and _isfinite(p[2])
            and _isfinite(v[0])
            and _isfinite(v[1])
            and _isfinite(v[2])
        ):
            return None
        q = odom.orientation
        if (
            not (_isfinite(q[0]) and _isfinite(q[1]) and _isfinite(q[2]) and _isfinite(q[3]))
            or (q[0] ** 2 + q[1] ** 2 + q[2] ** 2 + q[3] ** 2) < 0.5
        ):
            return None
        return odom

    def _fresh_stick(self, t_s: float, cmd: VelocityCommand | None) -> VelocityCommand | None:
        """The newest valid stick command if still fresh; a NaN/inf one is ignored, so the last
        valid one holds until it goes stale."""
        if (
            cmd is not None
            and _finite(cmd.linear_mps)
            and math.isfinite(cmd.yaw_rate_radps)
            and cmd.frame in ("map", "base_link")
            and (self._stick is None or cmd.t_s > self._stick.t_s)
        ):
            self._stick = cmd
        stick = self._stick
        if stick is None or not (0.0 <= t_s - stick.t_s <= self.params.stick_timeout_s):
            return None
        if stick.t_s <= self._goto_stamp_s:
            return None  # an older stick input than the newest goto
        return stick

    def _take_goto(
        self, t_s: float, goto: GotoCommand | None, stick: VelocityCommand | None
    ) -> None:
        if goto is None or goto.t_s <= self._goto_stamp_s or goto.t_s > t_s:
            return
        if not _finite(goto.position_enu_m):
            log.warning("%s: ignoring a goto with a non-finite position", self.qualified_name)
            self._goto_stamp_s = goto.t_s
            return
        self._goto_stamp_s = goto.t_s
        if stick is not None and stick.t_s > goto.t_s:
            return  # already superseded by a newer stick input
        self._goto_target = goto.position_enu_m
        self._goto_ref = None

    # ------------------------------------------------------------------ step
    def step(
        self,
        t_s: float,
        odometry: Odometry | None = None,
        cmd_vel: VelocityCommand | None = None,
        goto: GotoCommand | None = None,
    ) -> dict[str, object]:
        est = self._valid_estimate(t_s, odometry)
        if est is not None:
            self._last_valid_s = t_s
        if self._stage == "idle":
            setpoint = self._idle(t_s, est)
        elif self._stage == "landed":
            setpoint = self._last_setpoint
        else:
            setpoint = self._fly(t_s, est, cmd_vel, goto)
        if setpoint.t_s != t_s:
            setpoint = TrajectorySetpoint(
                t_s,
                setpoint.position_enu_m,
                setpoint.velocity_enu_mps,
                setpoint.acceleration_enu_mps2,
                setpoint.yaw_rad,
                setpoint.yaw_rate_radps,
            )
        self._last_setpoint = setpoint
        self._update_completion(t_s, est)
        mode = VehicleMode(
            t_s,
            self._armed,
            self._phase(t_s),
            self._tracking(),
            self._complete,
            self._waypoint_index,
        )
        return {"setpoint": setpoint, "mode": mode}

    def _idle(self, t_s: float, est: Odometry | None) -> TrajectorySetpoint:
        if est is None:
            return self._last_setpoint
        offset_m = _distance(est.position_enu_m, self.plan.start_position_enu_m)
        if offset_m > WAYPOINT_RADIUS_M:
            log.warning(
                "%s: estimate is %.2f m from the planned start; the reference starts there",
                self.qualified_name,
                offset_m,
            )
        self._home = (
            est.position_enu_m[0],
            est.position_enu_m[1],
            self.plan.start_position_enu_m[2],
        )
        self._final_point = self._mission_final_point()
        self._loaded_route = self._plan_route(
            self._home,
            self.plan.waypoints_enu_m,
            start_yaw_rad=self.plan.start_yaw_rad,
            climb=True,
        )
        self._armed = True
        self._stage = "reference"
        self._climb_start_s = t_s + self.params.spool_up_s
        self._set_route(self._loaded_route.started_at(self._climb_start_s), at_altitude=False)
        log.info(
            "%s: armed at %.3f s, climb at %.3f s", self.qualified_name, t_s, self._climb_start_s
        )
        return self._route.trajectory.setpoint(t_s)  # type: ignore[union-attr]

    def _set_route(self, route: _Route | None, *, at_altitude: bool) -> None:
        self._route = route
        self._at_altitude = at_altitude
        if route is not None:
            self.reference_history.append(route.trajectory)

    def _fly(
        self,
        t_s: float,
        est: Odometry | None,
        cmd_vel: VelocityCommand | None,
        goto: GotoCommand | None,
    ) -> TrajectorySetpoint:
        params = self.params
        if est is None and t_s - self._last_valid_s > params.estimate_timeout_s:
            return self._estimate_lost(t_s)
        if est is not None:
            self._update_waypoints(est.position_enu_m)
        flying = t_s >= self._climb_start_s and not self._failsafe
        if flying:
            stick = self._fresh_stick(t_s, cmd_vel)
            self._take_goto(t_s, goto, stick)
            if stick is not None:
                self._goto_target = None
                self._goto_ref = None
            if stick is not None or self._goto_target is not None:
                self._enter_operator(t_s, est)
            if self._stage == "operator":
                return self._operate(t_s, est, stick)
        if self._stage == "land":
            return self._land(t_s, est)
        return self._follow_route(t_s, est)

    # ------------------------------------------------------------------ reference phases
    def _follow_route(self, t_s: float, est: Odometry | None) -> TrajectorySetpoint:
        route = self._route
        assert route is not None
        if (
            not self._at_altitude
            and est is not None
            and t_s >= self._climb_start_s
            and est.position_enu_m[2]
            >= self._home[2] + self.plan.takeoff_alt_m - self.params.takeoff_reached_tolerance_m
        ):
            self._at_altitude = True
        if t_s >= route.trajectory.end_time_s and self.plan.then in ("land", "return"):
            pos = route.trajectory.end_position
            yaw, _ = route.trajectory.yaw(t_s)
            self._start_landing(t_s, pos, yaw)
            return self._land(t_s, est)
        return route.trajectory.setpoint(t_s)

    def _phase(self, t_s: float) -> Phase:
        stage = self._stage
        if stage == "idle":
            return "idle"
        if stage in ("operator", "land", "landed"):
            return stage  # type: ignore[return-value]
        route = self._route
        assert route is not None
        if t_s < route.climb_end_s:
            return "takeoff"
        if t_s < route.waypoints_end_s:
            return "mission"
        if t_s < route.trajectory.end_time_s:
            return "return"
        return "hover"

    def _tracking(self) -> bool:
        return self._armed and self._stage == "reference" and self._at_altitude

    def _update_waypoints(self, position: Vec3) -> None:
        waypoints = self.plan.waypoints_enu_m
        while (
            self._waypoint_index < len(waypoints)
            and _distance(position, waypoints[self._waypoint_index]) <= WAYPOINT_RADIUS_M
        ):
            log.info("%s: waypoint %d reached", self.qualified_name, self._waypoint_index)
            self._waypoint_index += 1

    def _update_completion(self, t_s: float, est: Odometry | None) -> None:
        if self._complete or self._waypoint_index < len(self.plan.waypoints_enu_m):
            self._hover_since_s = None
            return
        then = self.plan.then
        done = False
        if then == "hover":
            holding = (
                self._stage == "reference"
                and self._phase(t_s) == "hover"
                and est is not None
                and _distance(est.position_enu_m, self._final_point) <= WAYPOINT_RADIUS_M
            )
            if not holding:
                self._hover_since_s = None
            elif self._hover_since_s is None:
                self._hover_since_s = t_s
            done = holding and t_s - self._hover_since_s >= HOVER_HOLD_S - 1e-9  # type: ignore[operator]
        elif self._stage == "landed":
            done = then == "land" or (
                self._landed_at is not None
                and _distance(self._landed_at, self._home) <= RETURN_RADIUS_M
            )
        if done:
            self._complete = True
            self._complete_s = t_s
            log.info("%s: mission complete at %.3f s", self.qualified_name, t_s)

    # ------------------------------------------------------------------ landing
    def _start_landing(self, t_s: float, position: Vec3, yaw_rad: float) -> None:
        self._stage = "land"
        self._land_start_s = t_s
        self._land_from = position
        self._land_yaw = yaw_rad
        self._land_est_z = position[2]
        self._touchdown_since_s = None
        self._route = None
        log.info("%s: landing at %.3f s", self.qualified_name, t_s)

    def _land(self, t_s: float, est: Odometry | None) -> TrajectorySetpoint:
        p = self.params
        if self._failsafe:
            setpoint = TrajectorySetpoint(
                t_s, None, (0.0, 0.0, -p.land_speed_mps), _ZERO, self._land_yaw
            )
        else:
            tau = t_s - self._land_start_s
            ramp_s = p.land_speed_mps / p.land_accel_mps2
            if tau < ramp_s:
                drop = 0.5 * p.land_accel_mps2 * tau * tau
                vz, az = -p.land_accel_mps2 * tau, -p.land_accel_mps2
            else:
                drop = 0.5 * p.land_accel_mps2 * ramp_s * ramp_s + p.land_speed_mps * (tau - ramp_s)
                vz, az = -p.land_speed_mps, 0.0
            x, y, z0 = self._land_from
            z = z0 - drop
            if est is not None:
                self._land_est_z = est.position_enu_m[2]
            if z < self._land_est_z - p.land_lead_m:
                # Pinned just below the estimate: the controller keeps pressing down on the
                # ground, and an estimate drifting low never makes it climb.
                z, az = self._land_est_z - p.land_lead_m, 0.0
            setpoint = TrajectorySetpoint(
                t_s, (x, y, z), (0.0, 0.0, vz), (0.0, 0.0, az), self._land_yaw
            )
        if est is not None:
            on_ground = (
                est.position_enu_m[2] - self.plan.start_position_enu_m[2] <= p.touchdown_height_m
                and abs(est.velocity_enu_mps[2]) <= p.touchdown_speed_mps
            )
            if not on_ground:
                self._touchdown_since_s = None
            elif self._touchdown_since_s is None:
                self._touchdown_since_s = t_s
            elif t_s - self._touchdown_since_s >= p.touchdown_time_s - 1e-9:
                self._stage = "landed"
                self._armed = False
                x, y, z = self._landed_at = est.position_enu_m
                log.info("%s: landed and disarmed at %.3f s", self.qualified_name, t_s)
                return TrajectorySetpoint(t_s, (x, y, z), _ZERO, _ZERO, self._land_yaw)
        return setpoint

    def _estimate_lost(self, t_s: float) -> TrajectorySetpoint:
        """Failsafe: an invalid estimate in flight → descend by velocity, never re-plan."""
        if t_s < self._climb_start_s:
            # Still on the ground, spooling up: disarm and wait for the estimate again.
            self._stage = "idle"
            self._armed = False
            self._route = None
            self._climb_start_s = math.inf
            log.warning("%s: estimate invalid before take-off, disarmed", self.qualified_name)
            return TrajectorySetpoint(
                t_s, self.plan.start_position_enu_m, _ZERO, _ZERO, self.plan.start_yaw_rad
            )
        if not self._failsafe:
            log.warning("%s: estimate invalid in flight, failsafe descent", self.qualified_name)
            self._failsafe = True
            self._land_yaw = self._last_setpoint.yaw_rad
            self._start_landing(t_s, self._last_setpoint.position_enu_m or _ZERO, self._land_yaw)
            self._goto_target = None
            self._goto_ref = None
        return self._land(t_s, None)

    # ------------------------------------------------------------------ operator
    def _enter_operator(self, t_s: float, est: Odometry | None) -> None:
        if self._stage != "operator":
            log.info("%s: operator in control at %.3f s", self.qualified_name, t_s)
            self._stage = "operator"
            self._route = None
            self._hold_z = None
            self._op_yaw = (
                yaw_from_quat(est.orientation) if est is not None else self._last_setpoint.yaw_rad
            )

    def _operate(
        self, t_s: float, est: Odometry | None, stick: VelocityCommand | None
    ) -> TrajectorySetpoint:
        if stick is not None:
            return self._velocity_setpoint(
                t_s, est, self._stick_enu(stick, est), stick.yaw_rate_radps
            )
        if est is None:
            return self._last_setpoint  # short estimate gap: keep the last command
        if self._goto_target is not None:
            return self._fly_goto(t_s, est)
        # Released: brake to a stop, then resume the mission on a re-planned reference.
        if _speed(est) > self.params.resume_speed_mps:
            return self._velocity_setpoint(t_s, est, _ZERO, 0.0)
        return self._resume(t_s, est)

    def _stick_enu(self, stick: VelocityCommand, est: Odometry | None) -> Vec3:
        f, left, up = stick.linear_mps
        if stick.frame == "map":
            return (f, left, up)
        yaw = yaw_from_quat(est.orientation) if est is not None else self._op_yaw
        c, s = math.cos(yaw), math.sin(yaw)
        return (c * f - s * left, s * f + c * left, up)

    def _velocity_setpoint(
        self, t_s: float, est: Odometry | None, velocity: Vec3, yaw_rate_radps: float
    ) -> TrajectorySetpoint:
        vx, vy, vz = velocity
        if vz == 0.0:
            if self._hold_z is None:
                self._hold_z = est.position_enu_m[2] if est is not None else self._last_setpoint_z()
            if est is not None:
                p = self.params
                error = self._hold_z - est.position_enu_m[2]
                vz = max(
                    -p.altitude_hold_max_mps,
                    min(p.altitude_hold_max_mps, p.altitude_hold_gain_per_s * error),
                )
        else:
            self._hold_z = None
        self._op_yaw = wrap_pi(self._op_yaw + yaw_rate_radps * self._dt_s)
        return TrajectorySetpoint(t_s, None, (vx, vy, vz), _ZERO, self._op_yaw, yaw_rate_radps)

    def _last_setpoint_z(self) -> float:
        pos = self._last_setpoint.position_enu_m
        return pos[2] if pos is not None else self._takeoff_point[2]

    def _fly_goto(self, t_s: float, est: Odometry) -> TrajectorySetpoint:
        target = self._goto_target
        assert target is not None
        if self._goto_ref is None:
            if _speed(est) > self.params.resume_speed_mps:
                return self._velocity_setpoint(t_s, est, _ZERO, 0.0)
            self._goto_ref = plan_trajectory(
                [est.position_enu_m, target],
                cruise_speed_mps=self.plan.cruise_speed_mps,
                start_time_s=t_s,
                start_yaw_rad=yaw_from_quat(est.orientation),
                params=self.params.trajectory,
            )
            self._hold_z = None
        ref = self._goto_ref
        if t_s >= ref.end_time_s and _distance(est.position_enu_m, target) <= WAYPOINT_RADIUS_M:
            log.info("%s: goto reached at %.3f s", self.qualified_name, t_s)
            self._goto_target = None
            self._goto_ref = None
            return self._resume(t_s, est)
        return ref.setpoint(t_s)

    def _resume(self, t_s: float, est: Odometry) -> TrajectorySetpoint:
        """Mission resumes: re-plan from here to the next unreached waypoint (and the rest)."""
        log.info("%s: mission resumes at %.3f s", self.qualified_name, t_s)
        here = est.position_enu_m
        yaw = yaw_from_quat(est.orientation)
        remaining = self.plan.waypoints_enu_m[self._waypoint_index :]
        if not remaining and self.plan.then == "land":
            self._start_landing(t_s, here, yaw)
            return self._land(t_s, est)
        if not remaining and self.plan.then == "hover":
            remaining = (self._final_point,)
        self._stage = "reference"
        self._set_route(
            self._plan_route(here, remaining, start_yaw_rad=yaw, climb=False, start_time_s=t_s),
            at_altitude=True,
        )
        return self._follow_route(t_s, est)


def _speed(est: Odometry) -> float:
    v = est.velocity_enu_mps
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
