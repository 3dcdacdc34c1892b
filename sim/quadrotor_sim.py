"""The quadrotor simulator: PyBullet rigid-body physics, motors, drag, wind, sensors, metrics.

Ports, per vehicle `vid` (the component has no namespace; topics are absolute per vehicle):

    inputs   f"{vid}/motors"        MotorCommand   /{vid}/actuators/motors
    outputs  f"{vid}/imu"           Imu            /{vid}/sensors/imu
             f"{vid}/gnss"          NavSatFix      /{vid}/sensors/gnss    (latency: GNSS model)
             f"{vid}/baro"          FluidPressure  /{vid}/sensors/baro
             f"{vid}/mag"           MagneticField  /{vid}/sensors/mag
             f"{vid}/motor_speed"   MotorSpeed     /{vid}/actuators/motor_speed   (100 Hz)
             f"{vid}/ground_truth"  GroundTruth    /{vid}/sim/ground_truth  (ground_truth_hz)

The simulator is a plant: `direct_feedthrough = False`, so the runner steps it first in each
tick with the motor command the controllers produced one tick earlier. `step(t)` applies that
command over [t − dt, t], advances PyBullet by one fixed step and publishes the state at t.
The first call (t = 0) only publishes the initial state. Ground truth is published every
n = physics_hz / ground_truth_hz ticks from t = 0 (default 250 Hz: every 4th tick at 1 kHz; its
readers, the metrics probe and the logger, run at 50 Hz on the same grid); the collision and
clearance metrics below are computed inside the simulator every tick, not from that topic.

Per vehicle and step, the body gets exactly one force and one torque, both in the body frame at
the centre of mass (two PyBullet calls; the sim-speed study measured 6 calls as 20 % slower):
- rotor thrust and torques from the motor model (sim/motors.py);
- aerodynamic drag on the air-relative velocity v_r = v − wind, in FLU:
  * rotor drag (blade flapping / induced drag), linear in v_r and in rotor speed, in the rotor
    plane: F = −c_rd·Σω_i·(v_r,x, v_r,y, 0), c_rd = 8.06428e-5 N/((rad/s)·(m/s)) per rotor
    (PX4 SITL gazebo_motor_model `rotorDragCoefficient` of the iris, a 10-inch-propeller quad
    like the reference airframe; the linear rotor-drag model of Faessler, Franchi & Scaramuzza,
    "Differential flatness of quadrotor dynamics subject to rotor drag", RA-L 2018); at hover
    it is ≈ 0.22 N per m/s for the reference quadrotor;
  * quadratic body (parasitic) drag per body axis, F_k = −½·ρ·(C_D·A)_k·|v_r|·v_r,k.

The IMU's specific force is the finite-differenced PyBullet velocity minus gravity, rotated into
FLU, so contact forces (standing, crashing) appear in it as they would on a real IMU; PyBullet's
angular velocity is in the world frame and is rotated into FLU.

Metrics (ground truth, per vehicle; SCENARIOS.md):
- `collisions`: contact episodes of the body sphere (radius `airframe.body_radius_m` about the
  CoM) with an obstacle (clearance ≤ 0) or with another vehicle's body sphere, plus ground
  contacts whose descent speed at touchdown exceeds `HARD_LANDING_SPEED_MPS`. An episode ends
  when the clearance exceeds `CONTACT_EXIT_CLEARANCE_M` (ground: `GROUND_EXIT_HEIGHT_M`), so
  grazing contact is counted once.
- `min_clearance_m`: smallest clearance between the body sphere and any obstacle (None without
  obstacles). It is exact to within max(`CLEARANCE_TOLERANCE_M`, `CLEARANCE_RELATIVE_TOLERANCE`
  × value): after each exact query, the clearance can shrink at most by the vehicle's
  displacement plus (obstacle max speed × elapsed time), both 1-Lipschitz bounds, so the exact
  query is skipped while that bound keeps the clearance above the running minimum minus the
  tolerance (and above 0, so every contact tick is seen). Far from obstacles this means a query
  every few tens of ms; near them, every tick.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pybullet as pb

from kestrel.airframe import GRAVITY_MPS2, REFERENCE_QUADROTOR, QuadrotorAirframe
from kestrel.component import Component, Port
from kestrel.geodesy import GeoOrigin
from kestrel.messages import (
    FluidPressure,
    GroundTruth,
    Imu,
    MagneticField,
    MotorCommand,
    MotorSpeed,
    NavSatFix,
    Quat,
    Vec3,
)
from kestrel.rotation import quat_from_euler
from kestrel.sim.motors import MotorModel
from kestrel.sim.obstacles import (
    Obstacle,
    ObstacleField,
    ObstacleSpec,
    expand_obstacles,
)
from kestrel.sim.sensors.gnss import GNSS_PRESETS
from kestrel.sim.sensors.imu import ImuModel
from kestrel.sim.sensors.suite import SensorSuite, SensorSuiteConfig
from kestrel.sim.urdf import DISC_THICKNESS_M, collision_support_points_flu_m
from kestrel.sim.wind import WindConfig, WindModel
from kestrel.sim.world import World

log = logging.getLogger(__name__)

# PyBullet entry points bound once: a module attribute lookup per call is measurable at 1 kHz.
_get_pose = pb.getBasePositionAndOrientation
_get_velocity = pb.getBaseVelocity
_apply_force = pb.applyExternalForce
_apply_torque = pb.applyExternalTorque
_step_simulation = pb.stepSimulation
_LINK_FRAME = pb.LINK_FRAME
_ORIGIN = (0.0, 0.0, 0.0)

MOTOR_SPEED_RATE_HZ = 100.0
"""Rate of the `actuators/motor_speed` ESC telemetry [Hz] (the topic contract; bidirectional
DShot reports eRPM with every command frame, so a real ESC can deliver at least this)."""
HARD_LANDING_SPEED_MPS = 1.5
"""Ground contact counts as a collision above this descent speed (SCENARIOS.md)."""
GROUND_CONTACT_HEIGHT_M = 0.005
"""The vehicle's lowest point at or below this height touches the ground [m] (Bullet's resting
penetration is ~1e-5 m; 5 mm absorbs contact jitter)."""
GROUND_EXIT_HEIGHT_M = 0.02
"""A ground contact episode ends when the lowest point rises above this height [m]."""
CONTACT_EXIT_CLEARANCE_M = 0.01
"""An obstacle/vehicle contact episode ends when the clearance exceeds this [m]."""
CLEARANCE_TOLERANCE_M = 0.01
"""Absolute resolution of `min_clearance_m` [m] (see module docstring)."""
CLEARANCE_RELATIVE_TOLERANCE = 0.01
"""Relative resolution of `min_clearance_m` (1 % of its value)."""
GROUND_TRUTH_RATE_HZ = 250.0
"""Default rate of `sim/ground_truth` [Hz]. Its readers are the metrics probe and the bag
recorder at 50 Hz (kestrel.metrics.PROBE_RATE_HZ, kestrel.stack.BAG_RATE_HZ), and 50 divides
250, so each of their ticks is a publication tick (`ground_truth_period_ticks`); building and
delivering the message every 1-kHz tick cost ~1 µs per vehicle and tick for nothing."""
KEEP_CLEAR_MARGIN_M = 1.0
"""Generated forest trunks stay this far [m] beyond the body sphere of every start position."""


@dataclass(frozen=True)
class AeroDragParams:
    """Aerodynamic drag of a quadrotor (see module docstring for the model).

    rotor_drag_coefficient: c_rd per rotor [N/((rad/s)·(m/s))], ≥ 0. Default 8.06428e-5, PX4
        SITL iris `rotorDragCoefficient` (10-inch propellers).
    drag_area_flu_m2: C_D·A along body x, y, z [m²], each ≥ 0. Default (0.025, 0.025, 0.05):
        reference airframe frontal area ≈ 0.025 m² (hub 0.18 × 0.10 m plus motors and arms
        edge-on) and top area ≈ 0.05 m² (hub 0.18 × 0.18 m plus four 0.225 × 0.02 m arms),
        with C_D ≈ 1.0 for bluff bodies (S. F. Hoerner, "Fluid-Dynamic Drag", 1965, ch. 3).
    air_density_kgpm3: ρ [kg/m³], in (0, 2]. Default 1.225, ISA sea level (ISO 2533:1975).
    """

    rotor_drag_coefficient: float = 8.06428e-5
    drag_area_flu_m2: Vec3 = (0.025, 0.025, 0.05)
    air_density_kgpm3: float = 1.225

    def __post_init__(self) -> None:
        if not (0.0 <= self.rotor_drag_coefficient < 1.0):
            raise ValueError(
                f"rotor_drag_coefficient must be in [0, 1), got {self.rotor_drag_coefficient!r}"
            )
        if len(self.drag_area_flu_m2) != 3 or not all(
            0.0 <= a < 10.0 for a in self.drag_area_flu_m2
        ):
            raise ValueError(
                f"drag_area_flu_m2 must be 3 values in [0, 10) m², got {self.drag_area_flu_m2!r}"
            )
        if not (0.0 < self.air_density_kgpm3 <= 2.0):
            raise ValueError(f"air_density_kgpm3 must be in (0, 2], got {self.air_density_kgpm3!r}")

    @property
    def quadratic_coefficients(self) -> Vec3:
        """½·ρ·C_D·A per body axis [N/(m/s)²]."""
        half_rho = 0.5 * self.air_density_kgpm3
        ax, ay, az = self.drag_area_flu_m2
        return (half_rho * ax, half_rho * ay, half_rho * az)


@dataclass(frozen=True)
class SimVehicle:
    """One simulated quadrotor.

    vehicle_id: topic namespace ("uav1").
    start_position_enu_m: where the centre of mass starts [m]; raised to at least
        `airframe.landing_gear_height_m` so that a start at z = 0 stands on its skids.
    start_yaw_rad: initial heading, REP-103 (0 = east, CCW positive) [rad].
    airframe: mass, inertia, rotors (default: the reference 450-class quadrotor).
    sensors: sensor suite configuration; None simulates no sensors (ground truth and motor
        speeds only), e.g. for physics tests and benchmarks.
    drag: aerodynamic drag parameters.
    start_thrust_normalized: rotors start spinning at the steady speed of this normalised
        thrust, in [0, 1] (0: stopped, a ground start; `airframe.hover_thrust_normalized`: an
        air start in hover). The motor command still rules from the first step on.
    """

    vehicle_id: str
    start_position_enu_m: Vec3
    start_yaw_rad: float
    airframe: QuadrotorAirframe = REFERENCE_QUADROTOR
    sensors: SensorSuiteConfig | None = field(default_factory=SensorSuiteConfig)
    drag: AeroDragParams = AeroDragParams()
    start_thrust_normalized: float = 0.0

    def __post_init__(self) -> None:
        if not self.vehicle_id or "/" in self.vehicle_id:
            raise ValueError(
                f"vehicle_id must be a non-empty name without '/', got {self.vehicle_id!r}"
            )
        if len(self.start_position_enu_m) != 3 or not all(
            math.isfinite(v) for v in self.start_position_enu_m
        ):
            raise ValueError(
                f"{self.vehicle_id}: start_position_enu_m must be 3 finite numbers, "
                f"got {self.start_position_enu_m!r}"
            )
        if not math.isfinite(self.start_yaw_rad):
            raise ValueError(f"{self.vehicle_id}: start_yaw_rad must be finite")
        if not (0.0 <= self.start_thrust_normalized <= 1.0):
            raise ValueError(
                f"{self.vehicle_id}: start_thrust_normalized must be within [0, 1], "
                f"got {self.start_thrust_normalized!r}"
            )


def ground_truth_period_ticks(physics_hz: float, ground_truth_hz: float) -> int:
    """Ticks between two `sim/ground_truth` messages: physics_hz / ground_truth_hz when that
    is a whole number, otherwise 1 (every tick; a rate at or above physics_hz is capped).

    Publication ticks are k·n from t = 0, so a reader whose rate divides `ground_truth_hz`
    (its period a multiple of n ticks, on the same grid) always reads the state of its own
    tick; a rate that does not fit the grid falls back to every tick rather than hand any
    reader a stale state.
    """
    ratio = physics_hz / ground_truth_hz
    period = round(ratio)
    if period <= 1 or abs(ratio - period) > 1e-9 * ratio:
        return 1
    return period


def _warn_sensor_rates(config: SensorSuiteConfig, vehicle_id: str, physics_hz: float) -> None:
    """SCENARIOS.md: `physics_hz` caps every sensor rate above it, with a warning (the sensor
    models then sample every tick)."""
    rates = (
        ("imu", config.imu.rate_hz),
        ("gnss", GNSS_PRESETS[config.gnss].rate_hz),
        ("baro", config.baro.rate_hz),
        ("mag", config.mag.rate_hz),
    )
    for sensor, rate_hz in rates:
        if rate_hz > physics_hz:
            log.warning(
                "%s/%s: %.1f Hz is above physics_hz %.1f Hz: capped (one sample per tick)",
                vehicle_id,
                sensor,
                rate_hz,
                physics_hz,
            )


class _Vehicle:
    """Per-vehicle simulation state and the per-step arithmetic (plain floats, no numpy)."""

    def __init__(
        self,
        spec: SimVehicle,
        *,
        body_id: int,
        client_id: int,
        dt_s: float,
        seed: int,
        origin: GeoOrigin,
        field_: ObstacleField | None,
    ) -> None:
        vid = spec.vehicle_id
        af = spec.airframe
        self.spec = spec
        self.vehicle_id = vid
        self.body_id = body_id
        self.client_id = client_id
        self.hz = 1.0 / dt_s
        self.motors = MotorModel(af, dt_s=dt_s, label=vid)
        self.motors.reset(af.max_rotor_speed_radps * math.sqrt(spec.start_thrust_normalized))
        self.input_name = f"{vid}/motors"
        self.out_imu = f"{vid}/imu"
        self.out_gnss = f"{vid}/gnss"
        self.out_baro = f"{vid}/baro"
        self.out_mag = f"{vid}/mag"
        self.out_motor_speed = f"{vid}/motor_speed"
        self.out_ground_truth = f"{vid}/ground_truth"
        self.origin_alt_m = origin.alt_m
        self.motor_step = self.motors.step
        self.sensors: SensorSuite | None = None
        self.imu: ImuModel | None = None
        self.slow_due_s = math.inf
        """Earliest time [s] at which the GNSS, barometer or magnetometer is due."""
        if spec.sensors is not None:
            self.sensors = SensorSuite(spec.sensors, origin=origin, seed=seed, vehicle_id=vid)
            self.imu = self.sensors.imu
            self.slow_due_s = -math.inf
            _warn_sensor_rates(spec.sensors, vid, self.hz)
        self.rotor_drag = spec.drag.rotor_drag_coefficient
        self.quad_drag = spec.drag.quadratic_coefficients
        self.body_radius_m = af.body_radius_m
        # State at the last published tick.
        self.position: Vec3 = (0.0, 0.0, 0.0)
        self.orientation = (0.0, 0.0, 0.0, 1.0)
        self.velocity: Vec3 = (0.0, 0.0, 0.0)
        self.rot: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
        # Ground contact geometry: hull points and rotor discs (centre, radius).
        self.support_points = collision_support_points_flu_m(af)
        self.discs = tuple(r.position_flu_m for r in af.rotors)
        self.disc_radius_m = af.propeller_radius_m
        reach = max(math.sqrt(p[0] ** 2 + p[1] ** 2 + p[2] ** 2) for p in self.support_points)
        reach_discs = max(
            math.hypot(c[0], c[1]) + af.propeller_radius_m + abs(c[2]) + DISC_THICKNESS_M
            for c in self.discs
        )
        self.ground_gate_m = max(reach, reach_discs) + GROUND_CONTACT_HEIGHT_M
        """Below this CoM height some part of the vehicle may touch the ground."""
        self.on_ground = False
        self.ground_collisions = 0
        # Obstacle clearance monitor (see module docstring).
        self.field = field_
        self.obstacle_speed_mps = field_.max_speed_mps if field_ is not None else 0.0
        self.min_clearance_m = math.inf
        self.obstacle_collisions = 0
        self.in_obstacle_contact = False
        self.check_position: Vec3 = (0.0, 0.0, 0.0)
        self.check_t_s = 0.0
        self.check_margin_m = -1.0
        # Vehicle–vehicle contacts (maintained by the simulator).
        self.vehicle_collisions = 0

    # ------------------------------------------------------------------ physics
    def apply_wrench(self, command: MotorCommand | None, wind: Vec3) -> None:
        """Motor lag, thrust, torques and drag over the coming step, applied as one body-frame
        force and one body-frame torque at the CoM."""
        thrust, tau_x, tau_y, tau_z, speed_sum = self.motor_step(
            None if command is None else command.thrust_normalized
        )
        r00, r01, r02, r10, r11, r12, r20, r21, r22 = self.rot
        vx, vy, vz = self.velocity
        wx, wy, wz = wind
        ex = vx - wx
        ey = vy - wy
        ez = vz - wz
        # Air-relative velocity in FLU: Rᵀ·v_r.
        bx = r00 * ex + r10 * ey + r20 * ez
        by = r01 * ex + r11 * ey + r21 * ez
        bz = r02 * ex + r12 * ey + r22 * ez
        speed = math.sqrt(bx * bx + by * by + bz * bz)
        rotor = self.rotor_drag * speed_sum
        qx, qy, qz = self.quad_drag
        body = self.body_id
        client = self.client_id
        _apply_force(
            body,
            -1,
            (-(rotor + qx * speed) * bx, -(rotor + qy * speed) * by, thrust - qz * speed * bz),
            _ORIGIN,
            _LINK_FRAME,
            client,
        )
        _apply_torque(body, -1, (tau_x, tau_y, tau_z), _LINK_FRAME, client)

    def publish(self, t_s: float, out: dict[str, Any], first: bool, truth_due: bool) -> None:
        """Read the new state back from PyBullet; publish ground truth (when `truth_due`) and
        the sensor samples that are due.

        Hot path (every vehicle, every tick): tuples are unpacked into locals, and a sensor
        model is called only from its `next_due_s` on (IMU every tick at the default rate;
        GNSS, barometer and magnetometer on one tick in 20–200, checked together against the
        earliest of their due times), so a tick without a slow sample makes no call for them.
        """
        body = self.body_id
        client = self.client_id
        pos, orn = _get_pose(body, client)
        vel, om = _get_velocity(body, client)
        x, y, z, w = orn
        xx = x * x
        yy = y * y
        zz = z * z
        xy = x * y
        xz = x * z
        yz = y * z
        wx = w * x
        wy = w * y
        wz = w * z
        # Body → world rotation matrix R (row-major); body vectors are Rᵀ·world vectors.
        r00 = 1.0 - 2.0 * (yy + zz)
        r01 = 2.0 * (xy - wz)
        r02 = 2.0 * (xz + wy)
        r10 = 2.0 * (xy + wz)
        r11 = 1.0 - 2.0 * (xx + zz)
        r12 = 2.0 * (yz - wx)
        r20 = 2.0 * (xz - wy)
        r21 = 2.0 * (yz + wx)
        r22 = 1.0 - 2.0 * (xx + yy)
        self.rot = (r00, r01, r02, r10, r11, r12, r20, r21, r22)
        v_prev = self.velocity
        self.position = pos
        self.orientation = orn
        self.velocity = vel
        imu = self.imu
        imu_due = imu is not None and t_s >= imu.next_due_s
        if truth_due or imu_due:
            ox, oy, oz = om
            omega_flu = (
                r00 * ox + r10 * oy + r20 * oz,
                r01 * ox + r11 * oy + r21 * oz,
                r02 * ox + r12 * oy + r22 * oz,
            )
            if truth_due:
                out[self.out_ground_truth] = GroundTruth(t_s, pos, vel, orn, omega_flu)
        if pos[2] < self.ground_gate_m or self.on_ground:
            self._ground_contact(v_prev[2])
        if self.field is not None:
            self._obstacle_clearance(t_s, pos)
        if imu_due:
            if first:
                ax = ay = 0.0
                az = GRAVITY_MPS2
            else:
                hz = self.hz
                ax = (vel[0] - v_prev[0]) * hz
                ay = (vel[1] - v_prev[1]) * hz
                az = (vel[2] - v_prev[2]) * hz + GRAVITY_MPS2
            specific_force_flu = (
                r00 * ax + r10 * ay + r20 * az,
                r01 * ax + r11 * ay + r21 * az,
                r02 * ax + r12 * ay + r22 * az,
            )
            sample = imu.sample(t_s, omega_flu, specific_force_flu)  # type: ignore[union-attr]
            if sample is not None:
                out[self.out_imu] = sample
        if t_s >= self.slow_due_s:
            self._sample_slow_sensors(t_s, pos, orn, out)

    def _sample_slow_sensors(self, t_s: float, pos: Vec3, orn: Quat, out: dict[str, Any]) -> None:
        """GNSS, barometer and magnetometer: each samples if due (the models keep their own
        schedules); then the earliest next due time gates the next call."""
        sensors = self.sensors
        assert sensors is not None  # slow_due_s stays +inf without sensors
        gnss = sensors.gnss
        baro = sensors.baro
        mag = sensors.mag
        fix = gnss.sample(t_s, pos)
        if fix is not None:
            out[self.out_gnss] = fix
        pressure = baro.sample(t_s, self.origin_alt_m + pos[2])
        if pressure is not None:
            out[self.out_baro] = pressure
        field_ = mag.sample(t_s, orn)
        if field_ is not None:
            out[self.out_mag] = field_
        self.slow_due_s = min(gnss.next_due_s, baro.next_due_s, mag.next_due_s)

    # ------------------------------------------------------------------ metrics
    def lowest_point_z_m(self) -> float:
        """Height of the vehicle's lowest point [m] (hull points and rotor discs)."""
        r = self.rot
        r20, r21, r22 = r[6], r[7], r[8]
        lowest = math.inf
        for px, py, pz in self.support_points:
            h = r20 * px + r21 * py + r22 * pz
            if h < lowest:
                lowest = h
        # A disc of radius R in the body x–y plane reaches R·√(r20² + r21²) below its centre.
        tilt = self.disc_radius_m * math.sqrt(r20 * r20 + r21 * r21)
        half_thickness = 0.5 * DISC_THICKNESS_M * abs(r22)
        for cx, cy, cz in self.discs:
            h = r20 * cx + r21 * cy + r22 * cz - tilt - half_thickness
            if h < lowest:
                lowest = h
        return self.position[2] + lowest

    def _ground_contact(self, previous_vz_mps: float) -> None:
        lowest = self.lowest_point_z_m()
        if self.on_ground:
            if lowest > GROUND_EXIT_HEIGHT_M:
                self.on_ground = False
        elif lowest <= GROUND_CONTACT_HEIGHT_M:
            self.on_ground = True
            # Descent speed just before touchdown (the contact impulse of this step has
            # already changed the current velocity).
            if -previous_vz_mps > HARD_LANDING_SPEED_MPS:
                self.ground_collisions += 1

    def _obstacle_clearance(self, t_s: float, pos: Vec3) -> None:
        margin = self.check_margin_m - self.obstacle_speed_mps * (t_s - self.check_t_s)
        if margin > 0.0:
            p0 = self.check_position
            dx, dy, dz = pos[0] - p0[0], pos[1] - p0[1], pos[2] - p0[2]
            if dx * dx + dy * dy + dz * dz < margin * margin:
                return
        clearance = self.field.clearance_m(pos, t_s, self.body_radius_m)  # type: ignore[union-attr]
        if clearance < self.min_clearance_m:
            self.min_clearance_m = clearance
        if clearance <= 0.0:
            if not self.in_obstacle_contact:
                self.in_obstacle_contact = True
                self.obstacle_collisions += 1
        elif self.in_obstacle_contact and clearance > CONTACT_EXIT_CLEARANCE_M:
            self.in_obstacle_contact = False
        self.check_position = pos
        self.check_t_s = t_s
        if self.in_obstacle_contact:
            self.check_margin_m = -1.0  # watch every tick until the episode ends
        else:
            lowest = self.min_clearance_m
            tolerance = max(CLEARANCE_TOLERANCE_M, CLEARANCE_RELATIVE_TOLERANCE * lowest)
            self.check_margin_m = clearance - max(lowest - tolerance, 0.0)

    def metrics(self) -> dict[str, Any]:
        return {
            "collisions": self.ground_collisions
            + self.obstacle_collisions
            + self.vehicle_collisions,
            "min_clearance_m": None if self.field is None else self.min_clearance_m,
        }


class _PairMonitor:
    """Contact episodes between the body spheres of every pair of vehicles.

    After an exact pass finding the smallest surface gap g, no pair can touch before some
    vehicle has moved g/2 (both may close in), so the pass is skipped until then.
    """

    def __init__(self, vehicles: Sequence[_Vehicle]) -> None:
        self.vehicles = list(vehicles)
        self.in_contact: set[tuple[int, int]] = set()
        self.anchor: list[Vec3] = [(0.0, 0.0, 0.0)] * len(vehicles)
        self.margin_m = -1.0

    def update(self) -> None:
        vehicles = self.vehicles
        margin = self.margin_m
        if margin > 0.0:
            limit = margin * margin
            for v, p0 in zip(vehicles, self.anchor, strict=True):
                p = v.position
                dx, dy, dz = p[0] - p0[0], p[1] - p0[1], p[2] - p0[2]
                if dx * dx + dy * dy + dz * dz >= limit:
                    break
            else:
                return
        smallest = math.inf
        for i, a in enumerate(vehicles):
            for j in range(i + 1, len(vehicles)):
                b = vehicles[j]
                gap = math.dist(a.position, b.position) - a.body_radius_m - b.body_radius_m
                smallest = min(smallest, gap)
                key = (i, j)
                if gap <= 0.0:
                    if key not in self.in_contact:
                        self.in_contact.add(key)
                        a.vehicle_collisions += 1
                        b.vehicle_collisions += 1
                elif key in self.in_contact and gap > CONTACT_EXIT_CLEARANCE_M:
                    self.in_contact.discard(key)
        self.anchor = [v.position for v in vehicles]
        self.margin_m = -1.0 if self.in_contact else 0.5 * smallest


class QuadrotorSim(Component):
    """Simulator of one or more quadrotors in one PyBullet world (ports: module docstring).

    physics_hz: physics rate [Hz] (> 0); the component runs every tick.
    seed: scenario seed; every random stream derives from it (wind, forest, sensors).
    vehicles: the quadrotors, with unique ids.
    wind: mean wind and gusts.
    obstacles: primitives and forests (SCENARIOS.md `world.obstacles`).
    origin: geodetic origin of the ENU frame (GNSS, barometer altitude AMSL).
    ground_truth_hz: rate of `sim/ground_truth` [Hz] (> 0; default `GROUND_TRUTH_RATE_HZ`),
        see `ground_truth_period_ticks`; the attribute of the same name holds the rate in
        effect. Collisions and clearance are evaluated every tick whatever this rate.
    """

    direct_feedthrough: ClassVar[bool] = False
    reads_ground_truth: ClassVar[bool] = True

    def __init__(
        self,
        name: str = "sim",
        *,
        physics_hz: float,
        seed: int,
        vehicles: Sequence[SimVehicle],
        wind: WindConfig,
        obstacles: Sequence[ObstacleSpec],
        origin: GeoOrigin,
        ground_truth_hz: float = GROUND_TRUTH_RATE_HZ,
    ) -> None:
        super().__init__(name)
        if not (physics_hz > 0.0 and math.isfinite(physics_hz)):
            raise ValueError(f"physics_hz must be a positive finite number, got {physics_hz!r}")
        if not (ground_truth_hz > 0.0 and math.isfinite(ground_truth_hz)):
            raise ValueError(
                f"ground_truth_hz must be a positive finite number, got {ground_truth_hz!r}"
            )
        if not vehicles:
            raise ValueError("vehicles: at least one vehicle is required")
        ids = [v.vehicle_id for v in vehicles]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"vehicles: duplicate vehicle_id {', '.join(duplicates)}")
        self.rate_hz = float(physics_hz)
        self.physics_hz = float(physics_hz)
        self.dt_s = 1.0 / self.physics_hz
        self.seed = int(seed)
        self.origin = origin
        keep_clear = [
            (
                v.start_position_enu_m[0],
                v.start_position_enu_m[1],
                v.airframe.body_radius_m + KEEP_CLEAR_MARGIN_M,
            )
            for v in vehicles
        ]
        primitives = expand_obstacles(obstacles, self.seed, keep_clear)
        self.obstacle_field: ObstacleField | None = (
            ObstacleField(primitives) if primitives else None
        )
        self.world = World(physics_hz=self.physics_hz, obstacles=primitives)
        self.wind = WindModel(wind, seed=self.seed, dt_s=self.dt_s)
        self._vehicles: list[_Vehicle] = []
        inputs: dict[str, Port] = {}
        outputs: dict[str, Port] = {}
        for spec in vehicles:
            vehicle = self._spawn(spec)
            self._vehicles.append(vehicle)
            vid = spec.vehicle_id
            inputs[vehicle.input_name] = Port(MotorCommand, f"{vid}/actuators/motors")
            if vehicle.sensors is not None:
                outputs[vehicle.out_imu] = Port(Imu, f"{vid}/sensors/imu")
                outputs[vehicle.out_gnss] = Port(
                    NavSatFix, f"{vid}/sensors/gnss", latency_s=vehicle.sensors.gnss.latency_s
                )
                outputs[vehicle.out_baro] = Port(FluidPressure, f"{vid}/sensors/baro")
                outputs[vehicle.out_mag] = Port(MagneticField, f"{vid}/sensors/mag")
            outputs[vehicle.out_motor_speed] = Port(MotorSpeed, f"{vid}/actuators/motor_speed")
            outputs[vehicle.out_ground_truth] = Port(GroundTruth, f"{vid}/sim/ground_truth")
        self.inputs = inputs  # type: ignore[misc]
        self.outputs = outputs  # type: ignore[misc]
        self._pairs = _PairMonitor(self._vehicles) if len(self._vehicles) > 1 else None
        self._motor_speed_every = max(1, round(self.physics_hz / MOTOR_SPEED_RATE_HZ))
        self._truth_every = ground_truth_period_ticks(self.physics_hz, ground_truth_hz)
        self.ground_truth_hz = self.physics_hz / self._truth_every
        self._tick = 0
        self._client_id = self.world.client_id
        self._moving_obstacles = self.world.has_moving_obstacles

    def _spawn(self, spec: SimVehicle) -> _Vehicle:
        af = spec.airframe
        x, y, z = spec.start_position_enu_m
        position = (float(x), float(y), max(float(z), af.landing_gear_height_m))
        orientation = quat_from_euler(0.0, 0.0, spec.start_yaw_rad)
        body = self.world.spawn_quadrotor(af, position, orientation)
        return _Vehicle(
            spec,
            body_id=body,
            client_id=self.world.client_id,
            dt_s=self.dt_s,
            seed=self.seed,
            origin=self.origin,
            field_=self.obstacle_field,
        )

    # ------------------------------------------------------------------ component
    def step(self, t_s: float, **inputs: MotorCommand | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        vehicles = self._vehicles
        tick = self._tick
        self._tick = tick + 1
        first = tick == 0
        if not first:
            wind = self.wind.advance()
            if self._moving_obstacles:
                self.world.move_obstacles(t_s)
            for v in vehicles:
                v.apply_wrench(inputs.get(v.input_name), wind)
            _step_simulation(self._client_id)
        truth_due = tick % self._truth_every == 0
        for v in vehicles:
            v.publish(t_s, out, first, truth_due)
        if self._pairs is not None:
            self._pairs.update()
        if tick % self._motor_speed_every == 0:
            for v in vehicles:
                out[v.out_motor_speed] = MotorSpeed(t_s, tuple(v.motors.speeds_radps))
        return out

    # ------------------------------------------------------------------ queries
    def vehicle_metrics(self) -> dict[str, dict[str, Any]]:
        """Per vehicle: `collisions` (int) and `min_clearance_m` (float, None without
        obstacles), as defined in SCENARIOS.md (see module docstring)."""
        return {v.vehicle_id: v.metrics() for v in self._vehicles}

    def obstacle_snapshot(self, t_s: float) -> list[Obstacle]:
        """Every obstacle (forests expanded) as a static shape placed where it is at `t_s`."""
        if self.obstacle_field is None:
            return []
        return self.obstacle_field.snapshot(t_s)

    def body_id(self, vehicle_id: str) -> int:
        """PyBullet body of a vehicle (for tests and debugging tools)."""
        for v in self._vehicles:
            if v.vehicle_id == vehicle_id:
                return v.body_id
        raise KeyError(vehicle_id)

    def close(self) -> None:
        """Release the PyBullet client (the metrics stay readable)."""
        self.world.close()
