"""Scalar quaternion and 3-vector math on float tuples, for the per-tick paths.

Why not numpy: a feasibility study for this project measured `np.cross` and small-array numpy
calls at 40 % of a full-stack tick; plain float arithmetic on tuples is 4–6× faster for 3-vectors.
Use numpy for anything larger (covariances, batches).

Conventions: quaternions are (x, y, z, w) Hamilton, as in ROS; `q` rotates body-frame vectors
into the world frame (v_world = q ⊗ v_body ⊗ q*). Euler angles are roll-pitch-yaw about FLU
x-y-z applied as R = Rz(yaw) · Ry(pitch) · Rx(roll) (REP-103).
"""

from __future__ import annotations

import math

from kestrel.messages import Quat, Vec3

IDENTITY: Quat = (0.0, 0.0, 0.0, 1.0)


def add(a: Vec3, b: Vec3) -> Vec3:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def sub(a: Vec3, b: Vec3) -> Vec3:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def scale(a: Vec3, s: float) -> Vec3:
    return (a[0] * s, a[1] * s, a[2] * s)


def dot(a: Vec3, b: Vec3) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def cross(a: Vec3, b: Vec3) -> Vec3:
    return (
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    )


def norm(a: Vec3) -> float:
    return math.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2])


def normalized(a: Vec3) -> Vec3:
    n = norm(a)
    if n == 0.0:
        raise ValueError("cannot normalise a zero vector")
    return (a[0] / n, a[1] / n, a[2] / n)


def quat_multiply(a: Quat, b: Quat) -> Quat:
    """Hamilton product a ⊗ b."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    )


def quat_conjugate(q: Quat) -> Quat:
    return (-q[0], -q[1], -q[2], q[3])


def quat_normalized(q: Quat) -> Quat:
    n = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    return (q[0] / n, q[1] / n, q[2] / n, q[3] / n)


def rotate(q: Quat, v: Vec3) -> Vec3:
    """q ⊗ v ⊗ q*: a body vector expressed in the world frame."""
    x, y, z, w = q
    vx, vy, vz = v
    # t = 2 q_vec × v ; v' = v + w t + q_vec × t
    tx = 2.0 * (y * vz - z * vy)
    ty = 2.0 * (z * vx - x * vz)
    tz = 2.0 * (x * vy - y * vx)
    return (
        vx + w * tx + (y * tz - z * ty),
        vy + w * ty + (z * tx - x * tz),
        vz + w * tz + (x * ty - y * tx),
    )


def rotate_inverse(q: Quat, v: Vec3) -> Vec3:
    """q* ⊗ v ⊗ q: a world vector expressed in the body frame."""
    return rotate((-q[0], -q[1], -q[2], q[3]), v)


def quat_from_rotvec(r: Vec3) -> Quat:
    """Exponential map: rotation vector [rad] → unit quaternion."""
    angle = norm(r)
    if angle < 1e-12:
        return quat_normalized((0.5 * r[0], 0.5 * r[1], 0.5 * r[2], 1.0))
    s = math.sin(0.5 * angle) / angle
    return (r[0] * s, r[1] * s, r[2] * s, math.cos(0.5 * angle))


def rotvec_from_quat(q: Quat) -> Vec3:
    """Logarithmic map: unit quaternion → rotation vector [rad] (shortest rotation)."""
    x, y, z, w = q
    if w < 0.0:
        x, y, z, w = -x, -y, -z, -w
    s = math.sqrt(x * x + y * y + z * z)
    if s < 1e-12:
        return (2.0 * x, 2.0 * y, 2.0 * z)
    angle = 2.0 * math.atan2(s, w)
    k = angle / s
    return (x * k, y * k, z * k)


def quat_from_euler(roll_rad: float, pitch_rad: float, yaw_rad: float) -> Quat:
    cr, sr = math.cos(0.5 * roll_rad), math.sin(0.5 * roll_rad)
    cp, sp = math.cos(0.5 * pitch_rad), math.sin(0.5 * pitch_rad)
    cy, sy = math.cos(0.5 * yaw_rad), math.sin(0.5 * yaw_rad)
    return (
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
        cr * cp * cy + sr * sp * sy,
    )


def euler_from_quat(q: Quat) -> Vec3:
    """(roll, pitch, yaw) [rad] of q, the inverse of `quat_from_euler`."""
    x, y, z, w = q
    roll = math.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    sinp = max(-1.0, min(1.0, 2.0 * (w * y - z * x)))
    pitch = math.asin(sinp)
    yaw = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    return (roll, pitch, yaw)


def yaw_from_quat(q: Quat) -> float:
    x, y, z, w = q
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def quat_angle_rad(a: Quat, b: Quat) -> float:
    """Angle of the rotation between two orientations [rad], in [0, π]."""
    d = abs(a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3])
    return 2.0 * math.acos(min(1.0, d))


def wrap_pi(angle_rad: float) -> float:
    """Wrap an angle into [-π, π)."""
    return (angle_rad + math.pi) % (2.0 * math.pi) - math.pi
