"""Attitude control: acceleration demand → body-rate setpoint and collective thrust.

PX4's mc_att_control stage, fed by the acceleration the position loop (and the safety filter
after it) demands:

1. Thrust vector T = m (a + g ẑ) with the airframe mass; its direction is limited to the
   maximum tilt (PX4 ControlMath::limitTilt).
2. Desired attitude: body z along T with the setpoint yaw (PX4 ControlMath::bodyzToAttitude;
   that is roll/pitch/yaw in the Z-Y-X convention with the yaw exactly the setpoint's).
3. Quaternion attitude control with reduced yaw weight (Brescianini, Hehn, D'Andrea,
   "Nonlinear quadrocopter attitude control", ETH Zürich tech. report, 2013; PX4
   AttitudeControl.cpp). The shortest rotation that tilts the current thrust axis onto the
   desired one gives a "reduced" attitude q_red; the remaining rotation about the thrust axis
   (pure yaw) is scaled by the yaw weight w, so roll/pitch, which move the thrust vector, are
   corrected first:

       q_red = q(e_z → e_z,d) ⊗ q,   q_mix = q_red⁻¹ ⊗ q_d = (0, 0, sin(α/2), cos(α/2)),
       q_cmd = q_red ⊗ (0, 0, sin(w α/2), cos(w α/2)),   e = 2 · vec(q⁻¹ ⊗ q_cmd)

   with the rate setpoint ω_sp = K ⊙ e, K = (K_roll, K_pitch, K_yaw / w) (PX4 divides the yaw
   gain by the weight so that a pure yaw error keeps the gain K_yaw), plus the yaw-rate
   feed-forward about the world z axis expressed in the body frame, then limited per axis.
4. Collective thrust [N] = projection of T on the current body z axis: while the vehicle is
   still tilting towards the demanded direction it produces only the useful component.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from kestrel.airframe import GRAVITY_MPS2, QuadrotorAirframe
from kestrel.component import Component, Port
from kestrel.messages import AccelerationSetpoint, Odometry, Quat, RateSetpoint, Vec3
from kestrel.params import ValidatedParams, param
from kestrel.rotation import quat_from_euler, quat_multiply

from .params import TILT_MAX_AIR_DEG

log = logging.getLogger(__name__)

_P = "rad/s per rad"


@dataclass(frozen=True)
class AttitudeControlParams(ValidatedParams):
    """Attitude gains, yaw weight, rate limits and tilt limit (PX4 MC_* / MPC_TILTMAX_AIR).

    Roll/pitch gain 10 (PX4 default 6.5) is what the default rate loop supports for
    REFERENCE_QUADROTOR: a 10° tilt step settles within 5 % in about 0.2 s without overshoot.
    """

    roll_p: float = param(
        10.0,
        unit=_P,
        low=0.0,
        high=30.0,
        px4="MC_ROLL_P",
        description="Roll attitude gain: roll-rate setpoint per rad of roll attitude error",
    )
    pitch_p: float = param(
        10.0,
        unit=_P,
        low=0.0,
        high=30.0,
        px4="MC_PITCH_P",
        description="Pitch attitude gain: pitch-rate setpoint per rad of pitch attitude error",
    )
    yaw_p: float = param(
        3.0,
        unit=_P,
        low=0.0,
        high=15.0,
        px4="MC_YAW_P",
        description="Yaw attitude gain: yaw-rate setpoint per rad of yaw error",
    )
    yaw_weight: float = param(
        0.4,
        unit="1",
        low=0.01,
        high=1.0,
        px4="MC_YAW_WEIGHT",
        description="Weight of yaw against roll/pitch in the attitude error (1 = equal priority)",
    )
    roll_rate_max_dps: float = param(
        220.0,
        unit="deg/s",
        low=0.0,
        high=1800.0,
        px4="MC_ROLLRATE_MAX",
        description="Largest roll-rate setpoint",
    )
    pitch_rate_max_dps: float = param(
        220.0,
        unit="deg/s",
        low=0.0,
        high=1800.0,
        px4="MC_PITCHRATE_MAX",
        description="Largest pitch-rate setpoint",
    )
    yaw_rate_max_dps: float = param(
        200.0,
        unit="deg/s",
        low=0.0,
        high=1800.0,
        px4="MC_YAWRATE_MAX",
        description="Largest yaw-rate setpoint",
    )
    tilt_max_deg: float = param(
        TILT_MAX_AIR_DEG,
        unit="deg",
        low=1.0,
        high=89.0,
        px4="MPC_TILTMAX_AIR",
        description="Largest angle between the demanded thrust and the vertical",
    )


@dataclass(frozen=True, slots=True)
class AttitudeDemand:
    """What the attitude loop commands: body rates [rad/s, FLU] and collective thrust [N]."""

    body_rates_flu_radps: Vec3
    thrust_n: float
    attitude_setpoint: Quat


def body_z_to_attitude(body_z_enu: Vec3, yaw_rad: float) -> Quat:
    """Attitude whose body z is `body_z_enu` (unit, pointing up) and whose yaw is `yaw_rad`.

    PX4's bodyzToAttitude builds body x = y_C × body_z with y_C = (−sin ψ, cos ψ, 0), i.e. body
    x stays in the vertical plane of the heading: that is exactly Z-Y-X Euler angles with yaw ψ.
    Expressed in the heading frame C (ENU rotated by ψ), R = Ry(θ) Rx(φ) has third column
    (cos φ sin θ, −sin φ, cos φ cos θ), which gives φ and θ directly.
    """
    cy, sy = math.cos(yaw_rad), math.sin(yaw_rad)
    zx, zy, zz = body_z_enu
    zc_x = cy * zx + sy * zy
    zc_y = -sy * zx + cy * zy
    roll = math.atan2(-zc_y, math.hypot(zc_x, zz))
    pitch = math.atan2(zc_x, zz)
    return quat_from_euler(roll, pitch, yaw_rad)


class AttitudeControl:
    """Acceleration → rate setpoint and thrust, as a pure function (PX4 AttitudeControl)."""

    def __init__(self, params: AttitudeControlParams, airframe: QuadrotorAirframe) -> None:
        self.params = params
        self.mass_kg = airframe.mass_kg
        self.max_thrust_n = airframe.max_thrust_per_rotor_n * len(airframe.rotors)
        self._yaw_weight = params.yaw_weight
        self._gain = (params.roll_p, params.pitch_p, params.yaw_p / params.yaw_weight)
        self._rate_limit = (
            math.radians(params.roll_rate_max_dps),
            math.radians(params.pitch_rate_max_dps),
            math.radians(params.yaw_rate_max_dps),
        )
        tilt = math.radians(params.tilt_max_deg)
        self._cos_tilt_max = math.cos(tilt)
        self._sin_tilt_max = math.sin(tilt)

    def thrust_direction(self, acceleration_enu_mps2: Vec3) -> tuple[Vec3, Vec3]:
        """Thrust vector T [N] for an acceleration demand and its tilt-limited unit direction."""
        m = self.mass_kg
        tx = m * acceleration_enu_mps2[0]
        ty = m * acceleration_enu_mps2[1]
        tz = m * (acceleration_enu_mps2[2] + GRAVITY_MPS2)
        horizontal = math.hypot(tx, ty)
        length = math.hypot(horizontal, tz)
        if horizontal < 1e-9 * (1.0 + length):
            return (tx, ty, tz), (0.0, 0.0, 1.0)
        cos_tilt = tz / length
        if cos_tilt >= self._cos_tilt_max:
            return (tx, ty, tz), (tx / length, ty / length, cos_tilt)
        s = self._sin_tilt_max / horizontal
        return (tx, ty, tz), (tx * s, ty * s, self._cos_tilt_max)

    def target(self, acceleration_enu_mps2: Vec3, yaw_rad: float) -> tuple[Vec3, Vec3, Quat]:
        """What depends on the demand alone: thrust vector T [N], its tilt-limited unit
        direction and the desired attitude (steps 1–2 of the module docstring).

        The component computes it once per new demand (50 Hz) rather than every tick (250 Hz).
        """
        thrust_enu, z_d = self.thrust_direction(acceleration_enu_mps2)
        return thrust_enu, z_d, body_z_to_attitude(z_d, yaw_rad)

    def update(
        self,
        orientation: Quat,
        acceleration_enu_mps2: Vec3,
        yaw_rad: float,
        yaw_rate_radps: float,
    ) -> AttitudeDemand:
        """Rate setpoint and thrust for the current attitude and an acceleration demand."""
        thrust_enu, z_d, q_d = self.target(acceleration_enu_mps2, yaw_rad)
        rates, collective = self.track(orientation, thrust_enu, z_d, q_d, yaw_rate_radps)
        return AttitudeDemand(rates, collective, q_d)

    def track(
        self,
        orientation: Quat,
        thrust_enu: Vec3,
        z_d: Vec3,
        q_d: Quat,
        yaw_rate_radps: float,
    ) -> tuple[Vec3, float]:
        """Rate setpoint [rad/s, FLU] and collective thrust [N] towards a `target` (steps 3–4).

        Runs every tick: the products with the measured attitude are written out on locals
        rather than through `quat_multiply` (each call builds and unpacks tuples), term for term
        in its order, so the result is the same to the bit; a conjugate's −1 is folded into the
        signs (x + (−y) = x − y exactly in IEEE 754).
        """
        qx, qy, qz, qw = orientation
        zdx, zdy, zdz = z_d
        # Current body z in ENU: third column of R(q).
        ezx = 2.0 * (qx * qz + qw * qy)
        ezy = 2.0 * (qy * qz - qw * qx)
        ezz = 1.0 - 2.0 * (qx * qx + qy * qy)
        # Shortest rotation from e_z to e_z,d (world frame): (e_z × e_z,d, 1 + e_z · e_z,d).
        cw = 1.0 + ezx * zdx + ezy * zdy + ezz * zdz
        if cw < 1e-6:
            # Thrust axes opposite: full attitude control is fine (as PX4).
            bx, by, bz, bw = q_d
        else:
            cx = ezy * zdz - ezz * zdy
            cy = ezz * zdx - ezx * zdz
            cz = ezx * zdy - ezy * zdx
            n = math.sqrt(cx * cx + cy * cy + cz * cz + cw * cw)
            ax, ay, az, aw = cx / n, cy / n, cz / n, cw / n
            # q_red = q(e_z → e_z,d) ⊗ q
            rx = aw * qx + ax * qw + ay * qz - az * qy
            ry = aw * qy - ax * qz + ay * qw + az * qx
            rz = aw * qz + ax * qy - ay * qx + az * qw
            rw = aw * qw - ax * qx - ay * qy - az * qz
            # q_mix = q_red⁻¹ ⊗ q_d is a pure yaw (x = y = 0): only z and w are needed.
            dx, dy, dz, dw = q_d
            mz = rw * dz - rx * dy + ry * dx - rz * dw
            mw = rw * dw + rx * dx + ry * dy + rz * dz
            if mw < 0.0:
                mz, mw = -mz, -mw
            # min(1, mw) and max(−1, min(1, mz)), with the builtins' NaN behaviour.
            mw = mw if mw < 1.0 else 1.0
            mz = mz if mz < 1.0 else 1.0
            mz = mz if mz > -1.0 else -1.0
            w = self._yaw_weight
            bx, by, bz, bw = quat_multiply(
                (rx, ry, rz, rw),
                (0.0, 0.0, math.sin(w * math.asin(mz)), math.cos(w * math.acos(mw))),
            )
        # Attitude error q⁻¹ ⊗ q_cmd.
        ex = qw * bx - qx * bw - qy * bz + qz * by
        ey = qw * by + qx * bz - qy * bw - qz * bx
        ez_err = qw * bz - qx * by + qy * bx - qz * bw
        ew = qw * bw + qx * bx + qy * by + qz * bz
        if ew < 0.0:
            ex, ey, ez_err = -ex, -ey, -ez_err
        gx, gy, gz = self._gain
        lx, ly, lz = self._rate_limit
        # World z in the body frame: third row of R(q), for the yaw-rate feed-forward (its z
        # component is ezz).
        wzx = 2.0 * (qx * qz - qw * qy)
        wzy = 2.0 * (qy * qz + qw * qx)
        rate_x = 2.0 * gx * ex + wzx * yaw_rate_radps
        rate_y = 2.0 * gy * ey + wzy * yaw_rate_radps
        rate_z = 2.0 * gz * ez_err + ezz * yaw_rate_radps
        rates = (
            -lx if rate_x < -lx else lx if rate_x > lx else rate_x,
            -ly if rate_y < -ly else ly if rate_y > ly else rate_y,
            -lz if rate_z < -lz else lz if rate_z > lz else rate_z,
        )
        tx, ty, tz = thrust_enu
        collective = tx * ezx + ty * ezy + tz * ezz
        # min(max(collective, 0), max_thrust)
        collective = 0.0 if collective < 0.0 else collective
        max_thrust_n = self.max_thrust_n
        collective = max_thrust_n if collective > max_thrust_n else collective
        return rates, collective


_isfinite = math.isfinite


class AttitudeController(Component):
    """Acceleration demand → body-rate setpoint and collective thrust (PX4 mc_att_control).

    Inputs: `odometry` (Odometry, state/odometry), `acceleration` (AccelerationSetpoint,
    control/acceleration_setpoint — after the safety filter). Output: `rates` (RateSetpoint,
    control/rate_setpoint).

    Publishes nothing without a valid, finite attitude estimate or before the first valid
    acceleration demand. A non-finite demand is refused and the last valid one kept (logged once
    per episode).
    """

    inputs = {
        "odometry": Port(Odometry, "state/odometry"),
        "acceleration": Port(AccelerationSetpoint, "control/acceleration_setpoint"),
    }
    outputs = {"rates": Port(RateSetpoint, "control/rate_setpoint")}
    rate_hz = 250.0

    def __init__(
        self,
        name: str,
        namespace: str = "",
        *,
        params: AttitudeControlParams | None = None,
        airframe: QuadrotorAirframe,
    ) -> None:
        super().__init__(name, namespace)
        self.params = params if params is not None else AttitudeControlParams()
        self.control = AttitudeControl(self.params, airframe)
        self._setpoint: AccelerationSetpoint | None = None
        self._target: tuple[Vec3, Vec3, Quat] | None = None
        """`AttitudeControl.target` of `_setpoint` (it changes at 50 Hz, this runs at 250 Hz)."""
        self._refusing = False

    def step(
        self,
        t_s: float,
        odometry: Odometry | None,
        acceleration: AccelerationSetpoint | None,
    ) -> RateSetpoint | None:
        if acceleration is not None and acceleration is not self._setpoint:
            a = acceleration.acceleration_enu_mps2
            if (
                _isfinite(a[0])
                and _isfinite(a[1])
                and _isfinite(a[2])
                and _isfinite(acceleration.yaw_rad)
                and _isfinite(acceleration.yaw_rate_radps)
            ):
                self._setpoint = acceleration
                self._target = self.control.target(a, acceleration.yaw_rad)
                self._refusing = False
            elif not self._refusing:
                log.warning(
                    "%s: non-finite acceleration setpoint refused: %s",
                    self.qualified_name,
                    acceleration,
                )
                self._refusing = True
        target = self._target
        if target is None or odometry is None or not odometry.valid:
            return None
        q = odometry.orientation
        if not (_isfinite(q[0]) and _isfinite(q[1]) and _isfinite(q[2]) and _isfinite(q[3])):
            return None
        thrust_enu, z_d, q_d = target
        rates, thrust_n = self.control.track(
            q,
            thrust_enu,
            z_d,
            q_d,
            self._setpoint.yaw_rate_radps,  # type: ignore[union-attr]
        )
        return RateSetpoint(t_s, rates, thrust_n)
