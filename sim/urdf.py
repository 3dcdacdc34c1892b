"""URDF text for a quadrotor, generated from its `QuadrotorAirframe`.

Why generate: the airframe dataclass is the single description of the vehicle (kestrel.airframe);
writing a URDF by hand would state the mass, inertia and rotor layout a second time.

The robot is one link, `base_link`, whose origin is the centre of mass (CoM) and whose axes are
FLU. Why one link: every extra link is an extra multibody joint that PyBullet integrates and
queries each step, and rotors never need to move as bodies — the simulator turns rotor speeds
into one force and one torque itself (sim/motors.py). The rotors, arms, hub and skids are
therefore collision and visual shapes of the base:

- hub: the box `airframe.body_half_extents_m`;
- arms: thin boxes from the hub centre to each rotor hub (`Rotor.position_flu_m`);
- rotor discs: thin cylinders of `airframe.propeller_radius_m` at each rotor hub, so the vehicle
  catches on obstacles with its propeller tips as a real one does;
- skids: two bars whose lower faces lie `airframe.landing_gear_height_m` below the CoM, so the
  vehicle standing on flat ground has its CoM at that height (kestrel.airframe docstring).

Mass and inertia come from the airframe only (`<inertial>` at the CoM); load the file with
`URDF_USE_INERTIA_FROM_FILE` so PyBullet does not recompute them from the collision shapes.
The geometry sizes below (arm and skid cross-sections) are drawing/contact choices that do not
enter the dynamics.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

from kestrel.airframe import QuadrotorAirframe
from kestrel.messages import Vec3

ARM_SECTION_M = 0.02
"""Arm cross-section (square) [m]. Contact/drawing geometry only, an estimate of a 450-class
arm; the mass properties come from the airframe."""
DISC_THICKNESS_M = 0.01
"""Thickness of the rotor-disc collision cylinder [m]: an estimate of the height swept by a
10-inch propeller's blades (their chord is ~2 cm, pitched)."""
SKID_SECTION_M = 0.015
"""Skid bar cross-section (square) [m]: an estimate of a landing-gear tube (10–16 mm carbon
tubes are common); contact/drawing geometry only."""


def skid_geometry(airframe: QuadrotorAirframe) -> tuple[float, float, float]:
    """(half length along x, lateral offset |y|, centre z) of the two skid bars [m].

    The skids span at least the hub and half the arm length so the stance is wide enough not
    to tip over on landing; their lower faces lie `landing_gear_height_m` below the CoM.
    """
    hx, hy, _ = airframe.body_half_extents_m
    half_length = max(hx, 0.5 * airframe.arm_length_m)
    lateral = max(hy, 0.5 * airframe.arm_length_m)
    centre_z = -airframe.landing_gear_height_m + 0.5 * SKID_SECTION_M
    return half_length, lateral, centre_z


def collision_support_points_flu_m(airframe: QuadrotorAirframe) -> tuple[Vec3, ...]:
    """Body-frame points whose convex hull contains the hub, the arms and the skids.

    Used by the simulator to find the lowest point of the vehicle (ground contact) without a
    PyBullet contact query. The rotor discs are handled separately (they are circles).
    """
    hx, hy, hz = airframe.body_half_extents_m
    points: list[Vec3] = [
        (sx * hx, sy * hy, sz * hz) for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)
    ]
    half_length, lateral, centre_z = skid_geometry(airframe)
    bottom = centre_z - 0.5 * SKID_SECTION_M
    points += [(sx * half_length, sy * lateral, bottom) for sx in (-1, 1) for sy in (-1, 1)]
    return tuple(points)


def _origin(xyz: Vec3, rpy: Vec3 = (0.0, 0.0, 0.0)) -> str:
    return (
        f'<origin xyz="{xyz[0]:.6f} {xyz[1]:.6f} {xyz[2]:.6f}" '
        f'rpy="{rpy[0]:.6f} {rpy[1]:.6f} {rpy[2]:.6f}"/>'
    )


def _box(size: Vec3) -> str:
    return f'<geometry><box size="{size[0]:.6f} {size[1]:.6f} {size[2]:.6f}"/></geometry>'


def _cylinder(radius_m: float, length_m: float) -> str:
    return f'<geometry><cylinder radius="{radius_m:.6f}" length="{length_m:.6f}"/></geometry>'


def _shape(origin: str, geometry: str, material: str) -> list[str]:
    return [
        f'    <visual>{origin}{geometry}<material name="{material}"/></visual>',
        f"    <collision>{origin}{geometry}</collision>",
    ]


def quadrotor_urdf(airframe: QuadrotorAirframe, name: str = "kestrel_quadrotor") -> str:
    """URDF text of `airframe` as one link (see module docstring)."""
    ixx, iyy, izz = airframe.inertia_diag_kgm2
    hx, hy, hz = airframe.body_half_extents_m
    lines = [
        '<?xml version="1.0"?>',
        f'<robot name="{name}">',
        '  <material name="hub"><color rgba="0.2 0.2 0.2 1"/></material>',
        '  <material name="arm"><color rgba="0.8 0.1 0.1 1"/></material>',
        '  <material name="disc"><color rgba="0.6 0.6 0.6 0.4"/></material>',
        '  <link name="base_link">',
        "    <inertial>",
        f"      {_origin((0.0, 0.0, 0.0))}",
        f'      <mass value="{airframe.mass_kg:.6f}"/>',
        f'      <inertia ixx="{ixx:.8f}" ixy="0" ixz="0" iyy="{iyy:.8f}" iyz="0" izz="{izz:.8f}"/>',
        "    </inertial>",
    ]
    lines += _shape(_origin((0.0, 0.0, 0.0)), _box((2 * hx, 2 * hy, 2 * hz)), "hub")
    for rotor in airframe.rotors:
        rx, ry, rz = rotor.position_flu_m
        length = math.hypot(rx, ry)
        heading = math.atan2(ry, rx)
        mid = (0.5 * rx, 0.5 * ry, 0.5 * rz)
        lines += _shape(
            _origin(mid, (0.0, 0.0, heading)),
            _box((length, ARM_SECTION_M, ARM_SECTION_M)),
            "arm",
        )
        lines += _shape(
            _origin((rx, ry, rz)),
            _cylinder(airframe.propeller_radius_m, DISC_THICKNESS_M),
            "disc",
        )
    half_length, lateral, centre_z = skid_geometry(airframe)
    for side in (-1.0, 1.0):
        lines += _shape(
            _origin((0.0, side * lateral, centre_z)),
            _box((2 * half_length, SKID_SECTION_M, SKID_SECTION_M)),
            "hub",
        )
    lines += ["  </link>", "</robot>", ""]
    return "\n".join(lines)


def write_quadrotor_urdf(airframe: QuadrotorAirframe, directory: Path) -> Path:
    """Write the URDF of `airframe` into `directory` and return its path.

    The file name is a hash of the text, so vehicles sharing an airframe share one file.
    """
    text = quadrotor_urdf(airframe)
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    path = Path(directory) / f"quadrotor_{digest}.urdf"
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    return path
