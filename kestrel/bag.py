"""The run log: a rosbag2 in MCAP storage with standard ROS 2 message types (Foxglove opens it).

Written with the `rosbags` library (pure Python, no ROS installation needed) against the Kilted
type store, so the schemas in the file are exactly the ROS 2 message definitions. Kestrel writes
its transforms into `/tf` here because there is no tf2 wheel on PyPI (ARCHITECTURE.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from kestrel.component import Component, Port
from kestrel.messages import (
    GroundTruth,
    Imu,
    MotorCommand,
    NavSatFix,
    Odometry,
    Quat,
    TrajectorySetpoint,
    Vec3,
)
from kestrel.rotation import rotate_inverse

ROSBAG_VERSION = 9
"""rosbag2 metadata version written (Jazzy and later read it)."""


@dataclass(frozen=True)
class MarkerShape:
    """A world object to draw: `kind` is "cube", "sphere" or "cylinder"; sizes are full extents."""

    kind: str
    position_enu_m: Vec3
    size_m: Vec3
    yaw_rad: float = 0.0


class RunBag:
    """Writes Kestrel messages as standard ROS 2 messages into one MCAP rosbag2."""

    def __init__(self, path: Path) -> None:
        self._store = get_typestore(Stores.ROS2_KILTED)
        self._types = self._store.types
        self._writer = Writer(path, version=ROSBAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections: dict[str, Any] = {}

    # ------------------------------------------------------------ message builders
    def _time(self, t_s: float) -> Any:
        sec = math.floor(t_s)
        return self._types["builtin_interfaces/msg/Time"](
            sec=sec, nanosec=round((t_s - sec) * 1e9) % 1_000_000_000
        )

    def _header(self, t_s: float, frame_id: str) -> Any:
        return self._types["std_msgs/msg/Header"](stamp=self._time(t_s), frame_id=frame_id)

    def _vector3(self, v: Vec3) -> Any:
        return self._types["geometry_msgs/msg/Vector3"](x=v[0], y=v[1], z=v[2])

    def _point(self, v: Vec3) -> Any:
        return self._types["geometry_msgs/msg/Point"](x=v[0], y=v[1], z=v[2])

    def _quaternion(self, q: Quat) -> Any:
        return self._types["geometry_msgs/msg/Quaternion"](x=q[0], y=q[1], z=q[2], w=q[3])

    def _odometry(
        self, t_s: float, child: str, p: Vec3, q: Quat, v_enu: Vec3, w_flu: Vec3, cov: Vec3
    ) -> Any:
        T = self._types
        pose_cov = np.zeros(36)
        pose_cov[0], pose_cov[7], pose_cov[14] = cov
        return T["nav_msgs/msg/Odometry"](
            header=self._header(t_s, "map"),
            child_frame_id=child,
            pose=T["geometry_msgs/msg/PoseWithCovariance"](
                pose=T["geometry_msgs/msg/Pose"](
                    position=self._point(p), orientation=self._quaternion(q)
                ),
                covariance=pose_cov,
            ),
            # REP-105 puts twist in child_frame_id; Kestrel logs the ENU velocity rotated there.
            twist=T["geometry_msgs/msg/TwistWithCovariance"](
                twist=T["geometry_msgs/msg/Twist"](
                    linear=self._vector3(rotate_inverse(q, v_enu)), angular=self._vector3(w_flu)
                ),
                covariance=np.zeros(36),
            ),
        )

    def _transform(self, t_s: float, child: str, p: Vec3, q: Quat) -> Any:
        T = self._types
        return T["geometry_msgs/msg/TransformStamped"](
            header=self._header(t_s, "map"),
            child_frame_id=child,
            transform=T["geometry_msgs/msg/Transform"](
                translation=self._vector3(p), rotation=self._quaternion(q)
            ),
        )

    # ------------------------------------------------------------ writing
    def write(self, topic: str, msgtype: str, t_s: float, ros_msg: Any) -> None:
        connection = self._connections.get(topic)
        if connection is None:
            connection = self._writer.add_connection(topic, msgtype, typestore=self._store)
            self._connections[topic] = connection
        data = self._store.serialize_cdr(ros_msg, msgtype)
        self._writer.write(connection, round(t_s * 1e9), data)

    def write_odometry(self, topic: str, vehicle_id: str, msg: Odometry) -> None:
        cov = tuple(s * s for s in msg.position_std_m)
        ros = self._odometry(
            msg.t_s,
            f"{vehicle_id}/base_link",
            msg.position_enu_m,
            msg.orientation,
            msg.velocity_enu_mps,
            msg.angular_velocity_flu_radps,
            cov,  # type: ignore[arg-type]
        )
        self.write(topic, "nav_msgs/msg/Odometry", msg.t_s, ros)

    def write_ground_truth(self, topic: str, vehicle_id: str, msg: GroundTruth) -> None:
        ros = self._odometry(
            msg.t_s,
            f"{vehicle_id}/base_link_truth",
            msg.position_enu_m,
            msg.orientation,
            msg.velocity_enu_mps,
            msg.angular_velocity_flu_radps,
            (0.0, 0.0, 0.0),
        )
        self.write(topic, "nav_msgs/msg/Odometry", msg.t_s, ros)

    def write_tf(self, t_s: float, frames: Sequence[tuple[str, Vec3, Quat]]) -> None:
        T = self._types
        ros = T["tf2_msgs/msg/TFMessage"](
            transforms=[self._transform(t_s, child, p, q) for child, p, q in frames]
        )
        self.write("/tf", "tf2_msgs/msg/TFMessage", t_s, ros)

    def write_setpoint(self, topic: str, msg: TrajectorySetpoint) -> None:
        T = self._types
        position = msg.position_enu_m if msg.position_enu_m is not None else (0.0, 0.0, 0.0)
        half = 0.5 * msg.yaw_rad
        point = T["trajectory_msgs/msg/MultiDOFJointTrajectoryPoint"](
            transforms=[
                T["geometry_msgs/msg/Transform"](
                    translation=self._vector3(position),
                    rotation=self._quaternion((0.0, 0.0, math.sin(half), math.cos(half))),
                )
            ],
            velocities=[
                T["geometry_msgs/msg/Twist"](
                    linear=self._vector3(msg.velocity_enu_mps),
                    angular=self._vector3((0.0, 0.0, msg.yaw_rate_radps)),
                )
            ],
            accelerations=[
                T["geometry_msgs/msg/Twist"](
                    linear=self._vector3(msg.acceleration_enu_mps2),
                    angular=self._vector3((0.0, 0.0, 0.0)),
                )
            ],
            time_from_start=T["builtin_interfaces/msg/Duration"](sec=0, nanosec=0),
        )
        ros = T["trajectory_msgs/msg/MultiDOFJointTrajectory"](
            header=self._header(msg.t_s, "map"), joint_names=["base_link"], points=[point]
        )
        self.write(topic, "trajectory_msgs/msg/MultiDOFJointTrajectory", msg.t_s, ros)

    def write_imu(self, topic: str, frame_id: str, msg: Imu) -> None:
        T = self._types
        ros = T["sensor_msgs/msg/Imu"](
            header=self._header(msg.t_s, frame_id),
            orientation=self._quaternion((0.0, 0.0, 0.0, 1.0)),
            orientation_covariance=np.array([-1.0] + [0.0] * 8),  # REP-145: no orientation
            angular_velocity=self._vector3(msg.angular_velocity_flu_radps),
            angular_velocity_covariance=np.zeros(9),
            linear_acceleration=self._vector3(msg.linear_acceleration_flu_mps2),
            linear_acceleration_covariance=np.zeros(9),
        )
        self.write(topic, "sensor_msgs/msg/Imu", msg.t_s, ros)

    def write_navsatfix(self, topic: str, frame_id: str, msg: NavSatFix) -> None:
        T = self._types
        cov = np.zeros(9)
        cov[0] = cov[4] = msg.horizontal_std_m**2
        cov[8] = msg.vertical_std_m**2
        ros = T["sensor_msgs/msg/NavSatFix"](
            header=self._header(msg.t_s, frame_id),
            status=T["sensor_msgs/msg/NavSatStatus"](status=msg.status, service=1),
            latitude=msg.latitude_deg,
            longitude=msg.longitude_deg,
            altitude=msg.altitude_m,
            position_covariance=cov,
            position_covariance_type=2,  # COVARIANCE_TYPE_DIAGONAL_KNOWN
        )
        self.write(topic, "sensor_msgs/msg/NavSatFix", msg.t_s, ros)

    def write_motors(self, topic: str, msg: MotorCommand) -> None:
        T = self._types
        ros = T["std_msgs/msg/Float32MultiArray"](
            layout=T["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0),
            data=np.asarray(msg.thrust_normalized, dtype=np.float32),
        )
        self.write(topic, "std_msgs/msg/Float32MultiArray", msg.t_s, ros)

    def write_markers(self, topic: str, t_s: float, shapes: Sequence[MarkerShape]) -> None:
        T = self._types
        Marker = T["visualization_msgs/msg/Marker"]
        kinds = {"cube": 1, "sphere": 2, "cylinder": 3}
        markers = []
        for i, shape in enumerate(shapes):
            half = 0.5 * shape.yaw_rad
            markers.append(
                Marker(
                    header=self._header(t_s, "map"),
                    ns="obstacles",
                    id=i,
                    type=kinds[shape.kind],
                    action=0,
                    pose=T["geometry_msgs/msg/Pose"](
                        position=self._point(shape.position_enu_m),
                        orientation=self._quaternion((0.0, 0.0, math.sin(half), math.cos(half))),
                    ),
                    scale=self._vector3(shape.size_m),
                    color=T["std_msgs/msg/ColorRGBA"](r=0.55, g=0.45, b=0.35, a=0.8),
                    lifetime=T["builtin_interfaces/msg/Duration"](sec=0, nanosec=0),
                    frame_locked=False,
                    points=[],
                    colors=[],
                    texture_resource="",
                    texture=T["sensor_msgs/msg/CompressedImage"](
                        header=self._header(t_s, ""), format="", data=np.zeros(0, np.uint8)
                    ),
                    uv_coordinates=[],
                    text="",
                    mesh_resource="",
                    mesh_file=T["visualization_msgs/msg/MeshFile"](
                        filename="", data=np.zeros(0, np.uint8)
                    ),
                    mesh_use_embedded_materials=False,
                )
            )
        ros = T["visualization_msgs/msg/MarkerArray"](markers=markers)
        self.write(topic, "visualization_msgs/msg/MarkerArray", t_s, ros)

    def close(self) -> None:
        self._writer.close()


class BagRecorder(Component):
    """Logs one vehicle's topics into the run's bag at `rate_hz`, each message once.

    Ports: truth (sim/ground_truth), odometry (state/odometry), setpoint (control/setpoint),
    imu (sensors/imu, decimated to rate_hz), gnss (sensors/gnss), motors (actuators/motors).
    It reads ground truth to log it beside the estimate; it drives nothing.
    """

    reads_ground_truth = True

    def __init__(self, name: str, namespace: str, *, bag: RunBag, rate_hz: float = 50.0) -> None:
        super().__init__(name, namespace)
        self.rate_hz = rate_hz
        self._bag = bag
        self.inputs = {
            "truth": Port(GroundTruth, "sim/ground_truth"),
            "odometry": Port(Odometry, "state/odometry"),
            "setpoint": Port(TrajectorySetpoint, "control/setpoint"),
            "imu": Port(Imu, "sensors/imu"),
            "gnss": Port(NavSatFix, "sensors/gnss"),
            "motors": Port(MotorCommand, "actuators/motors"),
        }
        self.outputs = {}
        self._last_stamp: dict[str, float] = {}
        vid = namespace
        self._writers: dict[str, Callable[[Any], None]] = {
            "truth": lambda m: bag.write_ground_truth(f"/{vid}/sim/ground_truth", vid, m),
            "odometry": lambda m: bag.write_odometry(f"/{vid}/state/odometry", vid, m),
            "setpoint": lambda m: bag.write_setpoint(f"/{vid}/control/setpoint", m),
            "imu": lambda m: bag.write_imu(f"/{vid}/sensors/imu", f"{vid}/imu_link", m),
            "gnss": lambda m: bag.write_navsatfix(f"/{vid}/sensors/gnss", f"{vid}/gnss_link", m),
            "motors": lambda m: bag.write_motors(f"/{vid}/actuators/motors", m),
        }

    def step(self, t_s: float, **messages: Any) -> None:
        frames = []
        for key, msg in messages.items():
            if msg is None or self._last_stamp.get(key) == msg.t_s:
                continue
            self._last_stamp[key] = msg.t_s
            self._writers[key](msg)
            if key == "odometry" and msg.valid:
                frames.append((f"{self.namespace}/base_link", msg.position_enu_m, msg.orientation))
            elif key == "truth":
                frames.append(
                    (f"{self.namespace}/base_link_truth", msg.position_enu_m, msg.orientation)
                )
        if frames:
            self._bag.write_tf(t_s, frames)
