"""Builds the component graph of a scenario: the simulator plus, per vehicle, the flight stack.

This is the one place where the scenario file meets the components: geographic waypoints become
ENU points, scenario keys become parameter dataclasses, and each vehicle's components get its id
as their namespace. The flight components receive sensor topics only; ground truth reaches the
metrics probe and the run log, never a controller (tests/test_stack_wiring.py checks it).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from kestrel.airframe import REFERENCE_QUADROTOR
from kestrel.bag import BagRecorder, MarkerShape, RunBag
from kestrel.component import Component, Port
from kestrel.control.allocation import ControlAllocator
from kestrel.control.attitude_control import AttitudeController
from kestrel.control.position_control import PositionController
from kestrel.control.rate_control import RateController
from kestrel.geodesy import GeoOrigin
from kestrel.messages import AccelerationSetpoint
from kestrel.metrics import FlightProbe
from kestrel.perception.estimator import Estimator, EstimatorParams
from kestrel.planning.airspace.local import LocalAirspace, local_volumes
from kestrel.planning.mission import Mission, MissionPlan
from kestrel.planning.mission_routing import route_mission, zone_conflicts
from kestrel.planning.operator import OperatorCommand, ScenarioOperator
from kestrel.planning.routing import RoutingError
from kestrel.planning.safety_filter import SafetyFilter, SafetyFilterParams
from kestrel.planning.zone_feed import ScenarioZoneFeed
from kestrel.runner import LockstepRunner
from kestrel.scenario import GeoWaypoint, Scenario, ScenarioError, VehicleSpec
from kestrel.sim.obstacles import BoxObstacle, CylinderObstacle, obstacle_from_mapping
from kestrel.sim.quadrotor_sim import QuadrotorSim, SimVehicle
from kestrel.sim.sensors.faults import FaultSpec
from kestrel.sim.sensors.suite import SensorSuiteConfig
from kestrel.sim.wind import WindConfig
from kestrel.zone_metrics import ZoneProbe

log = logging.getLogger(__name__)

LOCKSTEP_SOLVER_TIME_LIMIT_S = 1.0
"""The safety filter's wall-clock solve limit in lockstep simulation. Simulated time stands
still while a component computes, so a wall-clock limit there would only let machine load
change a run's metrics (same scenario and seed must give the same metrics); the iteration cap
still bounds every solve, and a slow tick still shows as a deadline miss in `nodes.*`. On a
vehicle the default (15 ms) applies."""

BAG_RATE_HZ = 50.0
"""Rate at which the run log samples each vehicle's topics (IMU decimated to it)."""


@dataclass
class Stack:
    """A built, checked graph ready to run, and handles to what the metrics need."""

    runner: LockstepRunner
    sim: QuadrotorSim
    probes: dict[str, FlightProbe]
    zone_probes: dict[str, ZoneProbe]
    safety_filters: dict[str, SafetyFilter]

    def obstacle_shapes(self, t_s: float) -> list[MarkerShape]:
        return [_marker(o) for o in self.sim.obstacle_snapshot(t_s)]


def _marker(obstacle: Any) -> MarkerShape:
    center = tuple(obstacle.center_m)
    if isinstance(obstacle, BoxObstacle):
        return MarkerShape("cube", center, tuple(obstacle.size_m), math.radians(obstacle.yaw_deg))
    if isinstance(obstacle, CylinderObstacle):
        d = 2.0 * obstacle.radius_m
        h = obstacle.height_m
        return MarkerShape("cylinder", (center[0], center[1], center[2] + h / 2), (d, d, h))
    d = 2.0 * obstacle.radius_m
    return MarkerShape("sphere", center, (d, d, d))


def geo_origin(scenario: Scenario) -> GeoOrigin:
    origin = scenario.world.origin
    if origin is None:
        return GeoOrigin()
    return GeoOrigin(origin.lat_deg, origin.lon_deg, origin.alt_m, origin.geoid_undulation_m)


def _waypoints_enu(vehicle: VehicleSpec, origin: GeoOrigin) -> tuple[tuple[float, ...], ...]:
    points = []
    for wp in vehicle.mission.waypoints:
        if isinstance(wp, GeoWaypoint):
            points.append(origin.geographic_to_enu(wp.lat_deg, wp.lon_deg, wp.alt_m))
        else:
            points.append(tuple(float(v) for v in wp))
    return tuple(points)


def _sensor_config(vehicle: VehicleSpec, physics_hz: float) -> SensorSuiteConfig:
    """The vehicle's sensors; a sensor rate above physics_hz is capped to it (SCENARIOS.md),
    with a warning, so its noise statistics follow the rate it really samples at."""
    faults = tuple(
        FaultSpec(sensor=f.sensor, mode=f.mode, t_s=f.t, until_s=f.until, value=f.values)
        for f in vehicle.faults
    )
    defaults = SensorSuiteConfig()
    capped = {}
    for name in ("imu", "baro", "mag"):
        params = getattr(defaults, name)
        if params.rate_hz > physics_hz:
            log.warning(
                "%s %s: %.0f Hz capped at physics_hz %.0f Hz",
                vehicle.id,
                name,
                params.rate_hz,
                physics_hz,
            )
            capped[name] = replace(params, rate_hz=physics_hz)
    return SensorSuiteConfig(gnss=vehicle.sensors.gnss, faults=faults, **capped)


def vehicle_airspace(scenario: Scenario, vehicle: VehicleSpec) -> LocalAirspace:
    """The scenario's zones in ENU, as they apply to one vehicle (its authorisations)."""
    volumes = local_volumes(scenario.zones, geo_origin(scenario), frozenset(vehicle.authorisations))
    return LocalAirspace(volumes, scenario.world.start_time_utc)


def mission_plan(vehicle: VehicleSpec, origin: GeoOrigin) -> MissionPlan:
    """The vehicle's mission as planned from the scenario, before routing around zones."""
    mission = vehicle.mission
    return MissionPlan(
        start_position_enu_m=tuple(float(v) for v in vehicle.start.position),
        takeoff_alt_m=mission.takeoff_alt_m,
        waypoints_enu_m=_waypoints_enu(vehicle, origin),
        cruise_speed_mps=mission.cruise_speed_mps,
        then=mission.then,
        start_yaw_rad=math.radians(vehicle.start.yaw_deg),
    )


def mission_zone_conflicts(scenario: Scenario) -> list[str]:
    """Waypoints and straight legs of every vehicle that enter a volume active at t = 0."""
    origin = geo_origin(scenario)
    lines = []
    for vehicle in scenario.vehicles:
        plan = mission_plan(vehicle, origin)
        airspace = vehicle_airspace(scenario, vehicle)
        lines += [f"{vehicle.id}: {line}" for line in zone_conflicts(plan, airspace)]
    return lines


def flight_stack(
    vehicle: VehicleSpec, origin: GeoOrigin, airspace: LocalAirspace | None = None
) -> list[Component]:
    """The on-vehicle components of one quadrotor (what runs on its onboard computer).

    The position loop publishes its demand on `control/acceleration_demand`; the safety filter
    turns it into `control/acceleration_setpoint` for the attitude loop, so nothing upstream can
    bypass it (ARCHITECTURE.md)."""
    vid = vehicle.id
    airframe = REFERENCE_QUADROTOR
    if airspace is None:
        airspace = LocalAirspace([], datetime(2026, 1, 1, tzinfo=UTC))
    position_control = PositionController("position_control", vid, airframe=airframe)
    position_control.outputs = {
        "acceleration": Port(AccelerationSetpoint, "control/acceleration_demand")
    }
    components: list[Component] = [
        Estimator("estimator", vid, params=EstimatorParams(), origin=origin),
        position_control,
        SafetyFilter(
            "safety_filter",
            vid,
            airspace=airspace,
            airframe=airframe,
            params=SafetyFilterParams(solver_time_limit_s=LOCKSTEP_SOLVER_TIME_LIMIT_S),
            origin=origin,
            authorisations=frozenset(vehicle.authorisations),
        ),
        AttitudeController("attitude_control", vid, airframe=airframe),
        RateController("rate_control", vid, airframe=airframe),
        ControlAllocator("control_allocator", vid, airframe=airframe),
    ]
    plan = mission_plan(vehicle, origin)
    try:
        plan = route_mission(plan, airspace)
    except RoutingError as exc:
        raise ValueError(f"vehicle {vid}: mission: {exc}") from None
    components.append(Mission("mission", vid, plan=plan))
    commands = [
        OperatorCommand(
            t_s=c.t,
            until_s=c.until,
            velocity_mps=c.velocity_mps,
            frame="base_link" if c.frame == "body" else "map",
            goto=c.goto,
        )
        for c in vehicle.operator
    ]
    components.append(ScenarioOperator("operator", vid, commands=commands))
    return components


def build_stack(scenario: Scenario, *, bag: RunBag | None = None) -> Stack:
    """Every component of the scenario, wired and checked, plus the probes for metrics."""
    origin = geo_origin(scenario)
    wind = scenario.world.wind
    sim = QuadrotorSim(
        "sim",
        physics_hz=scenario.physics_hz,
        seed=scenario.seed,
        vehicles=[
            SimVehicle(
                vehicle_id=v.id,
                start_position_enu_m=tuple(float(x) for x in v.start.position),
                start_yaw_rad=math.radians(v.start.yaw_deg),
                sensors=_sensor_config(v, scenario.physics_hz),
            )
            for v in scenario.vehicles
        ],
        wind=WindConfig(mean_enu_mps=tuple(wind.mean_mps), gust_std_mps=wind.gust_std_mps),
        obstacles=[obstacle_from_mapping(o.model_dump()) for o in scenario.world.obstacles],
        origin=origin,
    )
    components: list[Component] = [
        sim,
        ScenarioZoneFeed("zone_feed", updates=scenario.zone_updates),
    ]
    probes: dict[str, FlightProbe] = {}
    zone_probes: dict[str, ZoneProbe] = {}
    filters: dict[str, SafetyFilter] = {}
    for vehicle in scenario.vehicles:
        airspace = vehicle_airspace(scenario, vehicle)
        on_board = flight_stack(vehicle, origin, airspace)
        components += on_board
        filters[vehicle.id] = next(c for c in on_board if isinstance(c, SafetyFilter))
        probe = FlightProbe("metrics_probe", vehicle.id)
        probes[vehicle.id] = probe
        components.append(probe)
        if scenario.zones or scenario.zone_updates:
            # The probe gets its own copy: the metric must not share state with the filter.
            zone_probe = ZoneProbe(
                "zone_probe",
                vehicle.id,
                airspace=vehicle_airspace(scenario, vehicle),
                body_radius_m=REFERENCE_QUADROTOR.body_radius_m,
                origin=origin,
                authorisations=frozenset(vehicle.authorisations),
            )
            zone_probes[vehicle.id] = zone_probe
            components.append(zone_probe)
        if bag is not None:
            components.append(BagRecorder("bag_recorder", vehicle.id, bag=bag, rate_hz=BAG_RATE_HZ))
    runner = LockstepRunner(components, physics_hz=scenario.physics_hz)
    stack = Stack(runner, sim, probes, zone_probes, filters)
    if bag is not None:
        bag.write_markers("/obstacles", 0.0, stack.obstacle_shapes(0.0))
    return stack


def check_scenario(scenario: Scenario, file: str) -> None:
    """Deeper checks than the schema: build the whole graph once (as `kestrel validate` does)
    so a value the components refuse is reported like a schema error."""
    try:
        stack = build_stack(scenario)
    except ValueError as exc:
        raise ScenarioError(file, "", str(exc)) from None
    stack.sim.close()
