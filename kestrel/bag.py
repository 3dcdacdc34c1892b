"""The run log: a rosbag2 in MCAP storage with standard ROS 2 message types (Foxglove opens it).

Written with the `rosbags` library (pure Python, no ROS installation needed) against the Kilted
type store, so the schemas in the file are exactly the ROS 2 message definitions. Kestrel writes
its transforms into `/tf` here because there is no tf2 wheel on PyPI (ARCHITECTURE.md). Zones go
in once, latched, as markers styled like the PNG's (ZoneStyle), so both views read the same.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
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

if TYPE_CHECKING:
    from kestrel.planning.airspace.local import LocalVolume

ROSBAG_VERSION = 9
"""rosbag2 metadata version written (Jazzy and later read it)."""

ZONES_TOPIC = "/airspace/zones"
"""Where the run log holds the zones (ARCHITECTURE.md topic table: MarkerArray, `map`)."""

ZONE_DISPLAY_HEIGHT_M = 500.0
"""Drawn height of a zone without a ceiling, above its (drawn) floor [m]. Display only."""

_MARKER_CUBE, _MARKER_SPHERE, _MARKER_CYLINDER, _MARKER_LINE_LIST = 1, 2, 3, 5
"""visualization_msgs/Marker type constants (ROS 2 message definition)."""

_TRANSIENT_LOCAL = Qos(
    history=QosHistory.KEEP_LAST,
    depth=1,
    reliability=QosReliability.RELIABLE,
    durability=QosDurability.TRANSIENT_LOCAL,
    deadline=QosTime(0, 0),
    lifespan=QosTime(0, 0),
    liveliness=QosLiveliness.AUTOMATIC,
    liveliness_lease_duration=QosTime(0, 0),
    avoid_ros_namespace_conventions=False,
)
"""Latched topics (ARCHITECTURE.md: zones and maps are reliable, transient-local), so that
`ros2 bag play` offers them to late subscribers as a live system would."""


@dataclass(frozen=True)
class MarkerShape:
    """A world object to draw: `kind` is "cube", "sphere" or "cylinder"; sizes are full extents."""

    kind: str
    position_enu_m: Vec3
    size_m: Vec3
    yaw_rad: float = 0.0


class ZoneStyle(StrEnum):
    """What a zone volume means for the scenario's vehicles; the PNG and the log draw it so."""

    RESTRICTED = "restricted"  # an exclusion volume every vehicle must keep out of
    INCLUSION = "inclusion"  # a boundary every vehicle must stay within
    MIXED = "mixed"  # restricts some of the vehicles only (their authorisations differ)
    ADVISORY = "advisory"  # restricts no vehicle (action `warn`, or authorised for all)


ZONE_RGB: dict[ZoneStyle, tuple[float, float, float]] = {
    ZoneStyle.RESTRICTED: (0.84, 0.15, 0.16),
    ZoneStyle.INCLUSION: (0.17, 0.63, 0.17),
    ZoneStyle.MIXED: (1.0, 0.5, 0.05),
    ZoneStyle.ADVISORY: (0.5, 0.5, 0.5),
}
"""One colour per style (red keep-out, green stay-in, orange depends-on-vehicle, grey)."""

ZONE_FILL_ALPHA: dict[ZoneStyle, float] = {
    ZoneStyle.RESTRICTED: 0.35,
    ZoneStyle.INCLUSION: 0.0,
    ZoneStyle.MIXED: 0.2,
    ZoneStyle.ADVISORY: 0.0,
}
"""Fill opacity in the PNG: only volumes that keep (some) vehicles out are filled."""


@dataclass(frozen=True)
class ZoneDrawing:
    """One zone volume in ENU (the first vehicle's view of its geometry) and its style."""

    volume: LocalVolume
    style: ZoneStyle

    @property
    def identifier(self) -> str:
        return self.volume.zone.identifier

    def polygons(self) -> list[shapely.Polygon]:
        """The volume's parts as polygons (holes kept); empty for a circle."""
        if self.volume.polygon is None:
            return []
        return [p for p in shapely.get_parts(self.volume.polygon) if not p.is_empty]

    def part_count(self) -> int:
        return 1 if self.volume.polygon is None else len(self.polygons())

    def display_limits_m(self) -> tuple[float, float]:
        """(floor, ceiling) z to draw: a floor at the surface (−inf) is drawn at z = 0, a
        missing ceiling ZONE_DISPLAY_HEIGHT_M above the drawn floor."""
        floor, ceiling = self.volume.floor_z_m, self.volume.ceiling_z_m
        if not math.isfinite(floor):
            floor = min(0.0, ceiling)
        if not math.isfinite(ceiling):
            ceiling = floor + ZONE_DISPLAY_HEIGHT_M
        return floor, ceiling


def zone_drawings(views: Sequence[Sequence[LocalVolume]]) -> list[ZoneDrawing]:
    """The scenario's zone volumes once (not per vehicle), styled from every vehicle's view.

    `views` holds one `LocalAirspace.volumes` list per vehicle, all built from the same zones in
    the same order (kestrel.stack.vehicle_airspace); they differ only in `restricted`, which
    follows each vehicle's authorisations. A volume restricting every vehicle is RESTRICTED (or
    INCLUSION), one restricting none ADVISORY, one restricting some MIXED."""
    if not views:
        return []
    first = views[0]
    if any(len(v) != len(first) for v in views):
        raise ValueError("views: every vehicle's volume list must have the same length")
    drawings = []
    for i, volume in enumerate(first):
        restricting = [view[i].restricted for view in views]
        if all(restricting):
            inclusion = volume.kind == "inclusion"
            style = ZoneStyle.INCLUSION if inclusion else ZoneStyle.RESTRICTED
        elif any(restricting):
            style = ZoneStyle.MIXED
        else:
            style = ZoneStyle.ADVISORY
        drawings.append(ZoneDrawing(volume, style))
    return drawings


def _ring_segments(ring: np.ndarray, z0: float, z1: float) -> list[Vec3]:
    """LINE_LIST point pairs outlining one closed ring (first vertex repeated last) as a prism:
    the ring at z0 and at z1, and vertical edges at (at most about 32 of) its vertices."""
    xy = [(float(x), float(y)) for x, y in ring]
    points: list[Vec3] = []
    for z in (z0, z1):
        for (ax, ay), (bx, by) in itertools.pairwise(xy):
            points += [(ax, ay, z), (bx, by, z)]
    stride = max(1, (len(xy) - 1) // 32)
    for x, y in xy[:-1:stride]:
        points += [(x, y, z0), (x, y, z1)]
    return points


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

    def _marker(
        self,
        t_s: float,
        ns: str,
        marker_id: int,
        marker_type: int,
        *,
        position: Vec3,
        scale: Vec3,
        rgba: tuple[float, float, float, float],
        yaw_rad: float = 0.0,
        points: Sequence[Vec3] = (),
    ) -> Any:
        T = self._types
        half = 0.5 * yaw_rad
        r, g, b, a = rgba
        return T["visualization_msgs/msg/Marker"](
            header=self._header(t_s, "map"),
            ns=ns,
            id=marker_id,
            type=marker_type,
            action=0,  # ADD
            pose=T["geometry_msgs/msg/Pose"](
                position=self._point(position),
                orientation=self._quaternion((0.0, 0.0, math.sin(half), math.cos(half))),
            ),
            scale=self._vector3(scale),
            color=T["std_msgs/msg/ColorRGBA"](r=r, g=g, b=b, a=a),
            lifetime=T["builtin_interfaces/msg/Duration"](sec=0, nanosec=0),  # forever
            frame_locked=False,
            points=[self._point(p) for p in points],
            colors=[],
            texture_resource="",
            texture=T["sensor_msgs/msg/CompressedImage"](
                header=self._header(t_s, ""), format="", data=np.zeros(0, np.uint8)
            ),
            uv_coordinates=[],
            text="",
            mesh_resource="",
            mesh_file=T["visualization_msgs/msg/MeshFile"](filename="", data=np.zeros(0, np.uint8)),
            mesh_use_embedded_materials=False,
        )

    # ------------------------------------------------------------ writing
    def write(
        self, topic: str, msgtype: str, t_s: float, ros_msg: Any, *, latched: bool = False
    ) -> None:
        """Serialise `ros_msg` onto `topic`; `latched` (transient-local QoS) is recorded when
        the topic's first message creates its connection."""
        connection = self._connections.get(topic)
        if connection is None:
            connection = self._writer.add_connection(
                topic,
                msgtype,
                typestore=self._store,
                offered_qos_profiles=(_TRANSIENT_LOCAL,) if latched else (),
            )
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
        kinds = {"cube": _MARKER_CUBE, "sphere": _MARKER_SPHERE, "cylinder": _MARKER_CYLINDER}
        markers = [
            self._marker(
                t_s,
                "obstacles",
                i,
                kinds[shape.kind],
                position=shape.position_enu_m,
                scale=shape.size_m,
                rgba=(0.55, 0.45, 0.35, 0.8),
                yaw_rad=shape.yaw_rad,
            )
            for i, shape in enumerate(shapes)
        ]
        ros = self._types["visualization_msgs/msg/MarkerArray"](markers=markers)
        self.write(topic, "visualization_msgs/msg/MarkerArray", t_s, ros)

    def write_zone_markers(
        self, t_s: float, zones: Sequence[ZoneDrawing], topic: str = ZONES_TOPIC
    ) -> None:
        """The zones as one MarkerArray in `map`, latched: one marker per volume part, its
        namespace the zone identifier, ids unique across the array.

        A polygon part is a LINE_LIST prism (its rings, holes included, at the drawn floor and
        ceiling, joined by vertical edges); a circle a translucent CYLINDER (scale 2r × 2r ×
        height). Colours are ZONE_RGB, as in the PNG."""
        markers = []
        for zone in zones:
            floor, ceiling = zone.display_limits_m()
            rgb = ZONE_RGB[zone.style]
            volume = zone.volume
            if volume.polygon is None:
                cx, cy = volume.circle_xy_m  # type: ignore[misc]
                d = 2.0 * volume.radius_m
                markers.append(
                    self._marker(
                        t_s,
                        zone.identifier,
                        len(markers),
                        _MARKER_CYLINDER,
                        position=(cx, cy, 0.5 * (floor + ceiling)),
                        scale=(d, d, ceiling - floor),
                        rgba=(*rgb, 0.3),
                    )
                )
                continue
            for part in zone.polygons():
                points: list[Vec3] = []
                for ring in shapely.get_rings(part):
                    points += _ring_segments(shapely.get_coordinates(ring), floor, ceiling)
                markers.append(
                    self._marker(
                        t_s,
                        zone.identifier,
                        len(markers),
                        _MARKER_LINE_LIST,
                        position=(0.0, 0.0, 0.0),
                        scale=(1.0, 0.0, 0.0),  # line width [m]
                        rgba=(*rgb, 0.9),
                        points=points,
                    )
                )
        ros = self._types["visualization_msgs/msg/MarkerArray"](markers=markers)
        self.write(topic, "visualization_msgs/msg/MarkerArray", t_s, ros, latched=True)

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
