"""Kestrel's messages: frozen dataclasses that mirror the ROS 2 messages on each topic.

Why dataclasses and not ROS messages: core code must run where ROS 2 is not installed, and the
lockstep runner moves hundreds of thousands of messages per simulated minute, so messages are
plain slotted dataclasses with float tuples. The ROS adapter converts each one to the standard
message named in its docstring (ARCHITECTURE.md, topic table).

Frames (REP-103): world vectors are ENU (`_enu`), body vectors FLU (`_flu`). Quaternions are
`(x, y, z, w)` as in ROS; `orientation` rotates FLU body vectors into ENU. Every message carries
`t_s`, the simulated (or ROS) time at which its content is valid.
"""

from __future__ import annotations

from dataclasses import dataclass

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]
"""Quaternion (x, y, z, w), Hamilton convention, rotating body FLU into world ENU."""


@dataclass(frozen=True, slots=True)
class Imu:
    """sensor_msgs/Imu on `sensors/imu`: bias-uncorrected gyro and specific force, FLU."""

    t_s: float
    angular_velocity_flu_radps: Vec3
    linear_acceleration_flu_mps2: Vec3


@dataclass(frozen=True, slots=True)
class NavSatFix:
    """sensor_msgs/NavSatFix on `sensors/gnss`: WGS84 position of the antenna.

    `altitude_m` is above the WGS84 ellipsoid as in ROS. `status` follows NavSatStatus:
    -1 no fix, 0 fix, 1 SBAS, 2 GBAS (RTK). Standard deviations are what the receiver reports.
    """

    t_s: float
    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    horizontal_std_m: float
    vertical_std_m: float
    status: int = 0


@dataclass(frozen=True, slots=True)
class FluidPressure:
    """sensor_msgs/FluidPressure on `sensors/baro`: static pressure [Pa]."""

    t_s: float
    pressure_pa: float
    variance_pa2: float


@dataclass(frozen=True, slots=True)
class MagneticField:
    """sensor_msgs/MagneticField on `sensors/mag`: field in the FLU body frame [T]."""

    t_s: float
    field_flu_t: Vec3
    variance_t2: float


@dataclass(frozen=True, slots=True)
class Odometry:
    """nav_msgs/Odometry on `state/odometry`: the estimator's state, `map` → `<id>/base_link`.

    Biases are carried so the rate loop can correct raw gyro samples as PX4's
    vehicle_angular_velocity does. `*_std_*` summarise the covariance diagonal.
    """

    t_s: float
    position_enu_m: Vec3
    velocity_enu_mps: Vec3
    orientation: Quat
    angular_velocity_flu_radps: Vec3
    gyro_bias_flu_radps: Vec3
    accel_bias_flu_mps2: Vec3
    position_std_m: Vec3
    velocity_std_mps: Vec3
    yaw_std_rad: float
    valid: bool = True


@dataclass(frozen=True, slots=True)
class TrajectorySetpoint:
    """One-point trajectory_msgs/MultiDOFJointTrajectory on `control/setpoint` (frame `map`).

    `position_enu_m` is None for pure velocity control (a pilot's sticks); the velocity and
    acceleration are feed-forward terms. `yaw_rad` follows REP-103 (0 = east, CCW positive).
    """

    t_s: float
    position_enu_m: Vec3 | None
    velocity_enu_mps: Vec3
    acceleration_enu_mps2: Vec3
    yaw_rad: float
    yaw_rate_radps: float = 0.0


@dataclass(frozen=True, slots=True)
class VehicleMode:
    """Arming and flight phase from the mission layer (PX4's vehicle_control_mode).

    Published on `planning/mode`; the allocator stops the motors while `armed` is False.
    `tracking` is True during the mission phases over which `tracking_*` metrics are computed.
    """

    t_s: float
    armed: bool
    phase: str
    tracking: bool = False
    mission_complete: bool = False
    waypoint_index: int = 0


@dataclass(frozen=True, slots=True)
class VelocityCommand:
    """geometry_msgs/TwistStamped on `operator/cmd_vel`: a pilot's or remote velocity command.

    `frame` is "map" (ENU) or "base_link" (FLU, yaw-only: body forward/left/up).
    """

    t_s: float
    linear_mps: Vec3
    yaw_rate_radps: float = 0.0
    frame: str = "map"


@dataclass(frozen=True, slots=True)
class GotoCommand:
    """geometry_msgs/PoseStamped on `operator/goto`: fly to a point and hold there."""

    t_s: float
    position_enu_m: Vec3


@dataclass(frozen=True, slots=True)
class AccelerationSetpoint:
    """Output of the position/velocity loop, input of the attitude loop (ENU, `map`).

    This is where the safety filter sits (ARCHITECTURE.md): it may rewrite the demanded
    acceleration before the attitude loop turns it into a thrust vector.
    """

    t_s: float
    acceleration_enu_mps2: Vec3
    velocity_demand_enu_mps: Vec3
    yaw_rad: float
    yaw_rate_radps: float = 0.0


@dataclass(frozen=True, slots=True)
class RateSetpoint:
    """Body-rate setpoint (FLU) and collective thrust [N] from the attitude loop."""

    t_s: float
    body_rates_flu_radps: Vec3
    thrust_n: float


@dataclass(frozen=True, slots=True)
class TorqueThrust:
    """Torque demand about FLU axes [N·m] and collective thrust [N] for allocation."""

    t_s: float
    torque_flu_nm: Vec3
    thrust_n: float


@dataclass(frozen=True, slots=True)
class MotorCommand:
    """std_msgs/Float32MultiArray on `actuators/motors`: normalised thrust per rotor in [0, 1].

    Rotor order is PX4's quadrotor-x order: front-right, rear-left, front-left, rear-right.
    """

    t_s: float
    thrust_normalized: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class MotorSpeed:
    """std_msgs/Float32MultiArray on `actuators/motor_speed`: ESC telemetry [rad/s], PX4 order."""

    t_s: float
    speeds_radps: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """nav_msgs/Odometry on `sim/ground_truth`. Debug and metrics only: no flight component
    may subscribe to it (a test checks the wiring)."""

    t_s: float
    position_enu_m: Vec3
    velocity_enu_mps: Vec3
    orientation: Quat
    angular_velocity_flu_radps: Vec3


@dataclass(frozen=True, slots=True)
class SafetyEvent:
    """diagnostic_msgs/DiagnosticArray on `safety/events`: a safety layer starting or ending an
    intervention episode (SCENARIOS.md "Failsafe event").

    `state` is "start" or "end"; `cause` says why (e.g. "geofence", "zone_active_inside",
    "position_uncertain", "solver_failure"); `action` what was done ("limit", "brake", "exit",
    "hold", "land"); `zone` names the volume concerned, if any; `duration_s` is set on "end".
    """

    t_s: float
    state: str
    cause: str
    action: str
    zone: str = ""
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class ZoneUpdate:
    """std_msgs/String (JSON) on `airspace/zone_updates` (reliable, transient-local): a live
    airspace update. `document_json` is a zone file's content (ED-269, ED-318 or GeoJSON); it
    replaces every zone previously received from the same `source` (an empty FeatureCollection
    withdraws them)."""

    t_s: float
    source: str
    document_json: str
