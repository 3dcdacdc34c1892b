"""Error-state extended Kalman filter: IMU propagation, GNSS / barometer / magnetometer updates.

Pure filter math; the `Estimator` component (estimator.py) feeds it messages. The formulation is
the error-state Kalman filter (ESKF) of J. Solà, "Quaternion kinematics for the error-state
Kalman filter", arXiv:1711.02508v1, 2017 (equation numbers below refer to that version), with
the *local* angular error: q_true = q ⊗ exp(δθ).

Nominal state (plain floats, per-tick path): position p (ENU, m), velocity v (ENU, m/s),
orientation q (body FLU → ENU, (x, y, z, w)), gyro bias b_g (FLU, rad/s), accelerometer bias b_a
(FLU, m/s²), barometer bias b_baro (m). Error state (16, numpy covariance):

    δx = [δp(0:3), δv(3:6), δθ(6:9), δb_g(9:12), δb_a(12:15), δb_baro(15)]

Gravity is a known constant (Solà's δg state is dropped).

Measurements are fused **at their time of validity**. GNSS fixes arrive 50–100 ms after they
were valid (SCENARIOS.md "Sensors"). The filter keeps a short ring buffer of past nominal
states (one per predict step) and forms the innovation against the state interpolated at the
measurement stamp, then corrects the *current* state. This is PX4 ekf2's delayed-horizon idea
simplified: ekf2 runs the whole filter at the delayed horizon and predicts forward with an output
observer; here the covariance stays at the current time and the delayed measurement's Jacobian
maps the current error back over the delay τ with the kinematic model, δp(t−τ) ≈ δp − τ·δv
(dropping the O(τ²) attitude/accel-bias terms and the process noise over τ, both negligible for
τ ≤ 0.1 s). Because the buffered states were recorded before later corrections, the filter
accumulates every correction it applies (Σδp, Σδv, Σδv·t, Σ world-yaw) and each buffered entry
holds a snapshot of those sums, so a past state is read back "as currently believed":
p(t_m) = p_buf + ΔΣδp − (ΔΣδv·t − t_m·ΔΣδv). Without this, a correction would be applied twice
(once now, once again through the next innovation computed against the stale buffer).
"""

from __future__ import annotations

import enum
import logging
import math
import struct
from bisect import bisect_right
from collections import deque
from operator import itemgetter
from typing import Protocol

import numpy as np

from kestrel.airframe import GRAVITY_MPS2
from kestrel.messages import Quat, Vec3
from kestrel.rotation import quat_from_euler, rotate, wrap_pi

log = logging.getLogger(__name__)

N_ERROR_STATES = 16
IDX_P = 0
IDX_V = 3
IDX_THETA = 6
IDX_BG = 9
IDX_BA = 12
IDX_BBARO = 15

_RESET_JACOBIAN_MIN_ANGLE_RAD = 1e-3
"""Attitude corrections smaller than this skip the reset Jacobian G (see `_inject`)."""

_stamp = itemgetter(0)
"""Time of validity of a history entry (the bisect key)."""

_MAX_CACHED_DT = 64
"""Size bound of the per-Δt cache of the process-noise diagonal (see `_cache_q_step`)."""

_MIN_HORIZONTAL_FIELD_FRACTION = 0.2
"""Skip a heading update when the measured field's horizontal part (after tilt compensation) is
below this fraction of the reference field's: the heading is then ill-defined (disturbance)."""


class EkfTuning(Protocol):
    """The parameters the filter reads. `EstimatorParams` (estimator.py) provides them, with
    units, defaults and valid ranges documented there (one place for each default)."""

    @property
    def gyro_noise_density_radps_rthz(self) -> float: ...
    @property
    def accel_noise_density_mps2_rthz(self) -> float: ...
    @property
    def gyro_bias_random_walk_radps_rts(self) -> float: ...
    @property
    def accel_bias_random_walk_mps2_rts(self) -> float: ...
    @property
    def baro_bias_random_walk_m_rts(self) -> float: ...
    @property
    def init_velocity_std_mps(self) -> float: ...
    @property
    def init_tilt_std_deg(self) -> float: ...
    @property
    def init_yaw_std_deg(self) -> float: ...
    @property
    def init_gyro_bias_std_radps(self) -> float: ...
    @property
    def init_accel_bias_std_mps2(self) -> float: ...
    @property
    def gnss_gate_chi2(self) -> float: ...
    @property
    def baro_gate_chi2(self) -> float: ...
    @property
    def mag_gate_chi2(self) -> float: ...
    @property
    def gnss_reset_timeout_s(self) -> float: ...
    @property
    def baro_reset_timeout_s(self) -> float: ...
    @property
    def history_s(self) -> float: ...
    @property
    def earth_field_enu_t(self) -> Vec3: ...


class Fusion(enum.Enum):
    """Outcome of one measurement update."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    """Innovation outside the chi-square gate; the state is unchanged."""
    RESET = "reset"
    """Rejected for longer than the reset timeout: the state was reset to the measurement."""
    TOO_OLD = "too_old"
    """Stamp older than the history buffer: cannot be fused at its time of validity."""
    SKIPPED = "skipped"
    """Measurement carries no usable information (e.g. a near-vertical magnetic field)."""


def align_at_rest(mean_accel_flu_mps2: Vec3, field_flu_t: Vec3, earth_field_enu_t: Vec3) -> Quat:
    """Initial attitude of a vehicle at rest: roll/pitch from gravity, yaw from the magnetometer.

    At rest the accelerometer measures f = Rᵀ·(0, 0, g). With R = Rz(ψ)·Ry(θ)·Rx(φ) (REP-103),
    Rᵀ·e_z = (−sin θ, cos θ sin φ, cos θ cos φ), hence φ = atan2(f_y, f_z) and
    θ = atan2(−f_x, √(f_y² + f_z²)). The magnetometer vector levelled by Ry(θ)·Rx(φ) must
    point along the reference field's horizontal part once rotated by Rz(ψ), so ψ is the
    reference heading minus the levelled field's heading (tilt-compensated compass).
    """
    fx, fy, fz = mean_accel_flu_mps2
    roll = math.atan2(fy, fz)
    pitch = math.atan2(-fx, math.sqrt(fy * fy + fz * fz))
    level = rotate(quat_from_euler(roll, pitch, 0.0), field_flu_t)
    yaw = math.atan2(earth_field_enu_t[1], earth_field_enu_t[0]) - math.atan2(level[1], level[0])
    return quat_from_euler(roll, pitch, wrap_pi(yaw))


def _inverse_small(S: list[list[float]]) -> tuple[float, ...]:
    """Inverse of a 2×2 or 3×3 matrix (adjugate / determinant), flat in row-major order:
    ~1 µs in floats, against ~15 µs for `np.linalg.inv` on a 3×3 array."""
    if len(S) == 2:
        (a, b), (c, d) = S
        k = 1.0 / (a * d - b * c)
        return (d * k, -b * k, -c * k, a * k)
    (a, b, c), (d, e, f), (g, h, i) = S
    A, B, C = e * i - f * h, f * g - d * i, d * h - e * g
    k = 1.0 / (a * A + b * B + c * C)
    return (
        A * k, (c * h - b * i) * k, (b * f - c * e) * k,
        B * k, (a * i - c * g) * k, (c * d - a * f) * k,
        C * k, (b * g - a * h) * k, (a * e - b * d) * k,
    )  # fmt: skip


def _flat_indices(blocks: list[tuple[int, int, bool]]) -> np.ndarray:
    """Row-major flat indices of the 3×3 blocks of F rewritten each step, in the order given:
    (first row, first column, diagonal only)."""
    out: list[int] = []
    for r0, c0, diagonal in blocks:
        cells = (
            [(i, i) for i in range(3)] if diagonal else [(i, j) for i in range(3) for j in range(3)]
        )
        out.extend((r0 + i) * N_ERROR_STATES + c0 + j for i, j in cells)
    return np.asarray(out, dtype=np.intp)


class _GnssWork:
    """Arrays of a GNSS update fusing the first `m` position axes (`fuse_position`), made
    once: views of the δp / δv columns of P, P·Hᵀ with views of its δp / δv rows and of its
    transpose, S, K, and S⁻¹ and y with their bytes and `struct` packers (as in `predict`).
    Contiguous views matter: a ufunc on a strided 2-D view costs twice as much."""

    __slots__ = (
        "K",
        "PHt",
        "PHt_T",
        "PHt_p",
        "PHt_v",
        "P_pos",
        "P_vel",
        "S",
        "S_inv",
        "S_inv_bytes",
        "axes",
        "pack_S_inv",
        "pack_y",
        "y",
        "y_bytes",
    )

    def __init__(self, P: np.ndarray, m: int) -> None:
        n = P.shape[0]
        self.axes = tuple(range(m))
        self.P_pos = P[:, IDX_P : IDX_P + m]
        self.P_vel = P[:, IDX_V : IDX_V + m]
        self.PHt = np.empty((n, m))
        self.PHt_p = self.PHt[IDX_P : IDX_P + m]
        self.PHt_v = self.PHt[IDX_V : IDX_V + m]
        self.PHt_T = self.PHt.T
        self.S = np.empty((m, m))
        self.K = np.empty((n, m))
        self.S_inv = np.empty((m, m))
        self.S_inv_bytes = memoryview(self.S_inv).cast("B")
        self.pack_S_inv = struct.Struct(f"{m * m}d").pack
        self.y = np.empty(m)
        self.y_bytes = memoryview(self.y).cast("B")
        self.pack_y = struct.Struct(f"{m}d").pack


class ErrorStateEkf:
    """16-state error-state EKF (Solà 2017) with time-of-validity measurement fusion.

    Call `initialise` once, then `predict` with bias-uncorrected IMU averages and the `fuse_*`
    methods with measurements as they arrive (any order, stamps in the recent past). State
    properties return plain tuples. Counters (`gnss_rejected`, …) are cumulative.
    """

    def __init__(self, params: EkfTuning) -> None:
        self.params = params
        self._g = GRAVITY_MPS2
        self.initialised = False
        self._t_s = 0.0
        self._p: Vec3 = (0.0, 0.0, 0.0)
        self._v: Vec3 = (0.0, 0.0, 0.0)
        self._q: Quat = (0.0, 0.0, 0.0, 1.0)
        self._bg: Vec3 = (0.0, 0.0, 0.0)
        self._ba: Vec3 = (0.0, 0.0, 0.0)
        self._bb = 0.0
        # Covariance and work buffers, allocated once; every per-step operation is in place
        # (P is never rebound), so the views below stay valid for the filter's lifetime.
        # Per-call cost is dominated by the ~0.5–1 µs fixed overhead of each numpy call on
        # these tiny arrays, not by arithmetic: the hot paths use preallocated views and `out=`
        # buffers (a slice or `.T` costs as much as a small ufunc) and as few calls as possible.
        n = N_ERROR_STATES
        self._P = np.zeros((n, n))
        P = self._P
        self._P_diag = P.reshape(-1)[:: n + 1]  # writable view
        self._P_T = P.T
        self._P_theta = P[:, IDX_THETA : IDX_THETA + 3]  # columns of δθ; δp_z, δv_z, δb_baro
        self._P_pz = P[:, IDX_P + 2]
        self._P_vz = P[:, IDX_V + 2]
        self._P_bb = P[:, IDX_BBARO]
        self._P_diag_pv = self._P_diag[IDX_P : IDX_V + 3]  # what `std_summary` reads
        self._P_theta_block = P[IDX_THETA : IDX_THETA + 3, IDX_THETA : IDX_THETA + 3]
        self._h = np.empty(3)  # the δθ part of the heading Jacobian, written via its bytes
        self._h_bytes = memoryview(self._h).cast("B")
        self._pack3 = struct.Struct("3d").pack
        self._ph = np.empty(n)  # P·hᵀ of a scalar update, and its column / row views
        self._ph_col = self._ph.reshape(n, 1)
        self._ph_row = self._ph.reshape(1, n)
        self._gnss_work = {m: _GnssWork(P, m) for m in (2, 3)}  # east/north; with height
        self._F = np.eye(n)
        self._F_T = self._F.T
        self._F_flat = self._F.reshape(-1)
        self._F_idx = _flat_indices(
            [
                (IDX_V, IDX_THETA, False),  # −R[a_m − a_b]×Δt
                (IDX_V, IDX_BA, False),  # −R·Δt
                (IDX_THETA, IDX_THETA, False),  # R{(ω_m − ω_b)Δt}ᵀ
                (IDX_P, IDX_V, True),  # I·Δt
                (IDX_THETA, IDX_BG, True),  # −I·Δt
            ]
        )
        # `predict` writes the new entries as raw float64 through `struct` (see there): the
        # 27 of the three full blocks, then the 6 of the ±I·Δt diagonals (two calls: a call
        # with more than 30 arguments is compiled to build a list and a tuple first).
        self._F_values = np.empty(len(self._F_idx))
        F_bytes = memoryview(self._F_values).cast("B")  # same memory, as bytes
        self._F_bytes_blocks, self._F_bytes_dt = F_bytes[: 27 * 8], F_bytes[27 * 8 :]
        self._F_pack_blocks = struct.Struct("27d").pack  # native float64
        self._F_pack_dt = struct.Struct("6d").pack
        self._T = np.empty((n, n))
        self._q_steps: dict[float, np.ndarray] = {}  # Q_i diagonal by Δt, `_cache_q_step`
        sa = params.accel_noise_density_mps2_rthz
        sg = params.gyro_noise_density_radps_rthz
        sbg = params.gyro_bias_random_walk_radps_rts
        sba = params.accel_bias_random_walk_mps2_rts
        sbb = params.baro_bias_random_walk_m_rts
        # Diagonal of Q_i per second (Solà eq. 271 with continuous densities: σ²·Δt).
        self._q_density = np.array(
            [0.0] * 3
            + [sa * sa] * 3
            + [sg * sg] * 3
            + [sbg * sbg] * 3
            + [sba * sba] * 3
            + [sbb * sbb]
        )
        # Ring buffer of (t, p, v, q, sums) at the predict rate; `sums` snapshots `_sums`.
        self._history: deque[tuple[float, Vec3, Vec3, Quat, tuple[float, ...]]] = deque()
        self._history_s = params.history_s
        self._sums: tuple[float, ...] = (0.0,) * 10  # Σδp(3) Σδv(3) Σδv·t(3) Σyaw_world(1)
        ex, ey, _ = params.earth_field_enu_t
        self._field_ref_h = (ex, ey)
        self._field_ref_h_norm = math.hypot(ex, ey)
        if self._field_ref_h_norm <= 0.0:
            raise ValueError("earth_field_enu_t has no horizontal component: heading undefined")
        self._gnss_reject_since: float | None = None
        self._baro_reject_since: float | None = None
        self.gnss_rejected = 0
        self.baro_rejected = 0
        self.mag_rejected = 0
        self.gnss_resets = 0
        self.baro_resets = 0
        self.too_old = 0

    # ----------------------------------------------------------------- state access
    @property
    def t_s(self) -> float:
        """Time of validity of the current state (stamp of the last IMU sample used)."""
        return self._t_s

    @property
    def position_enu_m(self) -> Vec3:
        return self._p

    @property
    def velocity_enu_mps(self) -> Vec3:
        return self._v

    @property
    def orientation(self) -> Quat:
        return self._q

    @property
    def gyro_bias_flu_radps(self) -> Vec3:
        return self._bg

    @property
    def accel_bias_flu_mps2(self) -> Vec3:
        return self._ba

    @property
    def baro_bias_m(self) -> float:
        return self._bb

    @property
    def covariance(self) -> np.ndarray:
        """A copy of the 16×16 error-state covariance (order: δp, δv, δθ, δb_g, δb_a, δb_baro)."""
        return self._P.copy()

    def nominal_state(self) -> tuple[float, Vec3, Vec3, Quat, Vec3, Vec3]:
        """(t_s, position, velocity, orientation, gyro bias, accel bias) in one call, for the
        per-tick output (six property reads cost ~3× more)."""
        return self._t_s, self._p, self._v, self._q, self._bg, self._ba

    def std_summary(self) -> tuple[Vec3, Vec3, float]:
        """(position std [m], velocity std [m/s], yaw std [rad]) from the covariance diagonal.

        The yaw variance is that of the world-z component of the rotation error, r₂·P_θθ·r₂ᵀ
        with r₂ the third row of R(q) (the local error δθ seen in ENU is R·δθ).
        """
        # Two `tolist` calls on views made once: cheaper than slicing, or one `take`.
        pe, pn, pu, ve, vn, vu = self._P_diag_pv.tolist()
        (t00, t01, t02), (t10, t11, t12), (t20, t21, t22) = self._P_theta_block.tolist()
        x, y, z, w = self._q
        r0 = 2.0 * (x * z - y * w)
        r1 = 2.0 * (y * z + x * w)
        r2 = 1.0 - 2.0 * (x * x + y * y)
        var_yaw = (
            r0 * (r0 * t00 + r1 * t01 + r2 * t02)
            + r1 * (r0 * t10 + r1 * t11 + r2 * t12)
            + r2 * (r0 * t20 + r1 * t21 + r2 * t22)
        )
        # A negative rounding residue reads as 0. `0.0 if v < 0.0 else v` is `max(v, 0.0)`,
        # NaN included, at an eighth of the cost of the builtin call (this runs every tick).
        sqrt = math.sqrt
        return (
            (
                sqrt(0.0 if pe < 0.0 else pe),
                sqrt(0.0 if pn < 0.0 else pn),
                sqrt(0.0 if pu < 0.0 else pu),
            ),
            (
                sqrt(0.0 if ve < 0.0 else ve),
                sqrt(0.0 if vn < 0.0 else vn),
                sqrt(0.0 if vu < 0.0 else vu),
            ),
            sqrt(0.0 if var_yaw < 0.0 else var_yaw),
        )

    def is_finite(self) -> bool:
        """False if the nominal state has become non-finite (never expected; a guard)."""
        # One sum of every component (NaN or ±inf anywhere makes it non-finite), unrolled: it
        # runs on every published Odometry, and five `sum()` calls cost twice as much.
        p0, p1, p2 = self._p
        v0, v1, v2 = self._v
        q0, q1, q2, q3 = self._q
        g0, g1, g2 = self._bg
        a0, a1, a2 = self._ba
        return math.isfinite(
            p0 + p1 + p2 + v0 + v1 + v2 + q0 + q1 + q2 + q3 + g0 + g1 + g2 + a0 + a1 + a2 + self._bb
        )

    # ----------------------------------------------------------------- initialisation
    def initialise(
        self,
        *,
        t_s: float,
        position_enu_m: Vec3,
        position_std_m: Vec3,
        orientation: Quat,
        gyro_bias_flu_radps: Vec3 = (0.0, 0.0, 0.0),
        accel_bias_flu_mps2: Vec3 = (0.0, 0.0, 0.0),
        baro_bias_m: float = 0.0,
        baro_bias_std_m: float = 10.0,
        velocity_enu_mps: Vec3 = (0.0, 0.0, 0.0),
        rest_specific_force_flu_mps2: Vec3 | None = None,
    ) -> None:
        """Set the nominal state and the initial covariance.

        The attitude uncertainty is given in ENU (tilt about east/north, yaw about up) and
        rotated into the local error frame: P_θθ = Rᵀ·diag(σ_tilt², σ_tilt², σ_yaw²)·R.

        When the attitude was levelled on the accelerometer at rest
        (`rest_specific_force_flu_mps2` = the mean specific force f used), the horizontal
        accelerometer bias went into the tilt: the alignment makes R·(f − b_a) vertical with
        b_a = 0, so the tilt error and the bias error are tied by δθ × f = δb_a, i.e.
        δθ = M·δb_a with M = [f]×/|f|² (the part of δθ along f is heading, left free). The
        prior then carries that correlation, P_θθ += M·P_ba·Mᵀ, P_θ,ba = M·P_ba, and
        `init_tilt_std_deg` is only the tilt error beyond the bias. Without it the filter
        would "learn" the unobservable split between tilt and bias from noisy GNSS in the
        first seconds (≈ 1° tilt errors with 2 cm fixes), which also corrupts the
        tilt-compensated magnetic heading.
        """
        p = self.params
        self._t_s = t_s
        self._p = tuple(float(c) for c in position_enu_m)  # type: ignore[assignment]
        self._v = tuple(float(c) for c in velocity_enu_mps)  # type: ignore[assignment]
        n = math.sqrt(sum(c * c for c in orientation))
        self._q = tuple(c / n for c in orientation)  # type: ignore[assignment]
        self._bg = tuple(float(c) for c in gyro_bias_flu_radps)  # type: ignore[assignment]
        self._ba = tuple(float(c) for c in accel_bias_flu_mps2)  # type: ignore[assignment]
        self._bb = float(baro_bias_m)
        P = self._P
        P[:] = 0.0
        for i in range(3):
            P[IDX_P + i, IDX_P + i] = position_std_m[i] ** 2
            P[IDX_V + i, IDX_V + i] = p.init_velocity_std_mps**2
            P[IDX_BG + i, IDX_BG + i] = p.init_gyro_bias_std_radps**2
            P[IDX_BA + i, IDX_BA + i] = p.init_accel_bias_std_mps2**2
        tilt = math.radians(p.init_tilt_std_deg)
        yaw = math.radians(p.init_yaw_std_deg)
        R = self._rotation_matrix()
        P[IDX_THETA : IDX_THETA + 3, IDX_THETA : IDX_THETA + 3] = (
            R.T @ np.diag([tilt * tilt, tilt * tilt, yaw * yaw]) @ R
        )
        if rest_specific_force_flu_mps2 is not None:
            fx, fy, fz = rest_specific_force_flu_mps2
            n2 = fx * fx + fy * fy + fz * fz
            M = np.array([[0.0, -fz, fy], [fz, 0.0, -fx], [-fy, fx, 0.0]]) / n2
            P_ba = P[IDX_BA : IDX_BA + 3, IDX_BA : IDX_BA + 3]
            th, ba = slice(IDX_THETA, IDX_THETA + 3), slice(IDX_BA, IDX_BA + 3)
            P[th, th] += M @ P_ba @ M.T
            P[th, ba] = M @ P_ba
            P[ba, th] = P[th, ba].T
        P[IDX_BBARO, IDX_BBARO] = baro_bias_std_m**2
        self._sums = (0.0,) * 10
        self._history.clear()
        self._history.append((t_s, self._p, self._v, self._q, self._sums))
        self._gnss_reject_since = None
        self._baro_reject_since = None
        self.initialised = True

    def _rotation_matrix(self) -> np.ndarray:
        x, y, z, w = self._q
        return np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ]
        )

    # ----------------------------------------------------------------- prediction
    def predict(
        self,
        t_s: float,
        gyro_flu_radps: Vec3,
        accel_flu_mps2: Vec3,
        dt_s: float,
        velocity_variance_add_m2ps2: float = 0.0,
    ) -> None:
        """Propagate nominal state and covariance over `dt_s` with mean IMU readings.

        `gyro_flu_radps` and `accel_flu_mps2` are the raw (bias-uncorrected) gyro and specific
        force averaged over the interval; `t_s` is the stamp of its last sample.
        `velocity_variance_add_m2ps2` is added to each velocity variance, for specific force the
        IMU could not measure (clipped samples: PX4 ekf2 inflates its accelerometer noise then).

        Nominal state, Solà eq. (260) (biases constant):
            p ← p + v·Δt + ½(R(a_m − a_b) + g)Δt²,  v ← v + (R(a_m − a_b) + g)Δt,
            q ← q ⊗ q{(ω_m − ω_b)Δt}.
        Error covariance, eqs. (262)–(264), (269), (271): P ← F_x P F_xᵀ + Q with
            F_x = [[I, IΔt, 0, 0, 0, 0],
                   [0, I, −R[a_m − a_b]×Δt, 0, −RΔt, 0],
                   [0, 0, Rᵀ{(ω_m − ω_b)Δt}, −IΔt, 0, 0],
                   [0, 0, 0, I, 0, 0], [0, 0, 0, 0, I, 0], [0, 0, 0, 0, 0, 1]]
        and Q diagonal (σ_a²Δt on δv, σ_ω²Δt on δθ, random walks on the biases), σ being noise
        *densities*, so that Q scales with Δt. R[a]× is formed as [R·a]×·R (one rotation, no
        extra matrix product). F is preallocated; only its 33 time-varying entries are written.
        """
        if not dt_s > 0.0:
            return
        x, y, z, w = self._q
        bgx, bgy, bgz = self._bg
        wx = gyro_flu_radps[0] - bgx
        wy = gyro_flu_radps[1] - bgy
        wz = gyro_flu_radps[2] - bgz
        bax, bay, baz = self._ba
        ax = accel_flu_mps2[0] - bax
        ay = accel_flu_mps2[1] - bay
        az = accel_flu_mps2[2] - baz
        # R(q), Solà eq. (115).
        xx, yy, zz = x * x, y * y, z * z
        xy, xz, yz = x * y, x * z, y * z
        xw, yw, zw = x * w, y * w, z * w
        r00 = 1.0 - 2.0 * (yy + zz)
        r01 = 2.0 * (xy - zw)
        r02 = 2.0 * (xz + yw)
        r10 = 2.0 * (xy + zw)
        r11 = 1.0 - 2.0 * (xx + zz)
        r12 = 2.0 * (yz - xw)
        r20 = 2.0 * (xz - yw)
        r21 = 2.0 * (yz + xw)
        r22 = 1.0 - 2.0 * (xx + yy)
        fx = r00 * ax + r01 * ay + r02 * az
        fy = r10 * ax + r11 * ay + r12 * az
        fz = r20 * ax + r21 * ay + r22 * az
        accz = fz - self._g
        px, py, pz = self._p
        vx, vy, vz = self._v
        h = 0.5 * dt_s * dt_s
        self._p = (px + vx * dt_s + fx * h, py + vy * dt_s + fy * h, pz + vz * dt_s + accz * h)
        self._v = (vx + fx * dt_s, vy + fy * dt_s, vz + accz * dt_s)
        # q ⊗ exp((ω_m − ω_b)Δt), exact exponential map.
        tx, ty, tz = wx * dt_s, wy * dt_s, wz * dt_s
        angle = math.sqrt(tx * tx + ty * ty + tz * tz)
        if angle > 1e-12:
            s = math.sin(0.5 * angle) / angle
            dw = math.cos(0.5 * angle)
        else:
            s, dw = 0.5, 1.0
        dx, dy, dz = tx * s, ty * s, tz * s
        qx = w * dx + x * dw + y * dz - z * dy
        qy = w * dy - x * dz + y * dw + z * dx
        qz = w * dz + x * dy - y * dx + z * dw
        qw = w * dw - x * dx - y * dy - z * dz
        n = 1.0 / math.sqrt(qx * qx + qy * qy + qz * qz + qw * qw)
        self._q = (qx * n, qy * n, qz * n, qw * n)
        # Time-varying blocks of F_x. M = [f]×·R = R·[a]× with f = R·a.
        nfy, nfz = -fy, -fz
        m00 = nfz * r10 + fy * r20
        m01 = nfz * r11 + fy * r21
        m02 = nfz * r12 + fy * r22
        m10 = fz * r00 - fx * r20
        m11 = fz * r01 - fx * r21
        m12 = fz * r02 - fx * r22
        m20 = nfy * r00 + fx * r10
        m21 = nfy * r01 + fx * r11
        m22 = nfy * r02 + fx * r12
        # Rᵀ{θ}: transpose of the rotation matrix of dq.
        ddx, ddy, ddz = dx * dx, dy * dy, dz * dz
        dxy, dxz, dyz = dx * dy, dx * dz, dy * dz
        dxw, dyw, dzw = dx * dw, dy * dw, dz * dw
        e01 = 2.0 * (dxy - dzw)
        e10 = 2.0 * (dxy + dzw)
        e02 = 2.0 * (dxz + dyw)
        e20 = 2.0 * (dxz - dyw)
        e12 = 2.0 * (dyz - dxw)
        e21 = 2.0 * (dyz + dxw)
        e00 = 1.0 - 2.0 * (ddy + ddz)
        e11 = 1.0 - 2.0 * (ddx + ddz)
        e22 = 1.0 - 2.0 * (ddx + ddy)
        t = -dt_s
        # The 33 floats go through `struct` into a float64 buffer, then one fancy-index copy
        # into F: numpy's own conversion of a tuple (dtype discovery per element) costs ~75 %
        # more.
        self._F_bytes_blocks[:] = self._F_pack_blocks(
            m00 * t, m01 * t, m02 * t, m10 * t, m11 * t, m12 * t, m20 * t, m21 * t, m22 * t,
            r00 * t, r01 * t, r02 * t, r10 * t, r11 * t, r12 * t, r20 * t, r21 * t, r22 * t,
            e00, e10, e20, e01, e11, e21, e02, e12, e22,
        )  # fmt: skip
        self._F_bytes_dt[:] = self._F_pack_dt(dt_s, dt_s, dt_s, t, t, t)
        self._F_flat[self._F_idx] = self._F_values
        # Dense F·P·Fᵀ: two BLAS products on 16×16 cost less than block-sparse updates, which
        # need ~10 slice/ufunc calls. The `ndarray.dot` method (same routine as `np.dot` and,
        # here, `np.matmul`) skips the array-function dispatch; `out` is positional.
        P, T = self._P, self._T
        self._F.dot(P, T)
        T.dot(self._F_T, P)
        q_step = self._q_steps.get(dt_s)
        if q_step is None:
            q_step = self._cache_q_step(dt_s)
        if velocity_variance_add_m2ps2:
            q_step = q_step.copy()
            q_step[IDX_V : IDX_V + 3] += velocity_variance_add_m2ps2
        np.add(self._P_diag, q_step, self._P_diag)
        self._t_s = t_s
        history = self._history
        history.append((t_s, self._p, self._v, self._q, self._sums))
        if t_s - history[0][0] > self._history_s:
            history.popleft()

    def _cache_q_step(self, dt_s: float) -> np.ndarray:
        """Diagonal of Q_i for one step of `dt_s`, cached by `predict` (read-only after this).

        Δt comes from IMU stamps, so it takes only a handful of values differing in the last
        bits (13 in a 40 s flight at 250 Hz): the cache saves a numpy call per predict. It is
        cleared if irregular stamps ever make it grow large.
        """
        if len(self._q_steps) >= _MAX_CACHED_DT:
            self._q_steps.clear()
        q_step = self._q_steps[dt_s] = self._q_density * dt_s
        return q_step

    # ----------------------------------------------------------------- delayed states
    def _past_entries(self, t_m: float) -> tuple[tuple, tuple, float] | None:
        """The two buffered entries bracketing `t_m` and the interpolation fraction, or None
        when `t_m` is older than the buffer. A stamp newer than the current state maps to the
        current entry (fraction 1), extrapolated by the caller through τ < 0."""
        history = self._history
        newest = history[-1]
        if t_m >= newest[0]:
            return newest, newest, 1.0
        if t_m < history[0][0]:
            return None
        # Stamps strictly increase (predict skips Δt ≤ 0): bisect for the last entry at or
        # before t_m (~7 probes instead of walking back the 12–25 entries of a GNSS delay).
        i = bisect_right(history, t_m, key=_stamp)
        older, newer = history[i - 1], history[i]
        span = newer[0] - older[0]
        return older, newer, (t_m - older[0]) / span if span > 0.0 else 1.0

    def _position_at(self, t_m: float) -> Vec3 | None:
        """Position at `t_m` as currently believed: the two buffered positions bracketing it,
        each corrected by everything fused since it was recorded (module docstring),
        p + ΔΣδp − (ΔΣδv·t − t_m·ΔΣδv), then interpolated. Written out in one function
        (no per-entry helper or intermediate tuples): it runs for every GNSS and baro update.
        """
        found = self._past_entries(t_m)
        if found is None:
            return None
        older, newer, alpha = found
        if older is newer:  # at or after the current state: extrapolate with v
            lead = t_m - self._t_s
            p, v = self._p, self._v
            return (p[0] + v[0] * lead, p[1] + v[1] * lead, p[2] + v[2] * lead)
        s0, s1, s2, s3, s4, s5, s6, s7, s8, _ = self._sums
        p, o = older[1], older[4]
        ax = p[0] + (s0 - o[0]) - (s6 - o[6]) + t_m * (s3 - o[3])
        ay = p[1] + (s1 - o[1]) - (s7 - o[7]) + t_m * (s4 - o[4])
        az = p[2] + (s2 - o[2]) - (s8 - o[8]) + t_m * (s5 - o[5])
        p, o = newer[1], newer[4]
        bx = p[0] + (s0 - o[0]) - (s6 - o[6]) + t_m * (s3 - o[3])
        by = p[1] + (s1 - o[1]) - (s7 - o[7]) + t_m * (s4 - o[4])
        bz = p[2] + (s2 - o[2]) - (s8 - o[8]) + t_m * (s5 - o[5])
        return (ax + alpha * (bx - ax), ay + alpha * (by - ay), az + alpha * (bz - az))

    def _height_at(self, t_m: float) -> float | None:
        """The up component of `_position_at(t_m)` alone (the barometer's, at 50 Hz)."""
        found = self._past_entries(t_m)
        if found is None:
            return None
        older, newer, alpha = found
        if older is newer:
            return self._p[2] + self._v[2] * (t_m - self._t_s)
        s = self._sums
        s2, s5, s8 = s[2], s[5], s[8]
        o = older[4]
        a = older[1][2] + (s2 - o[2]) - (s8 - o[8]) + t_m * (s5 - o[5])
        o = newer[4]
        b = newer[1][2] + (s2 - o[2]) - (s8 - o[8]) + t_m * (s5 - o[5])
        return a + alpha * (b - a)

    # ----------------------------------------------------------------- measurement updates
    def fuse_position(
        self,
        t_valid_s: float,
        position_enu_m: Vec3,
        std_enu_m: Vec3,
        *,
        fuse_height: bool = True,
    ) -> Fusion:
        """GNSS position (antenna at the centre of mass) valid at `t_valid_s`.

        Innovation y = z − p̂(t_m) against the buffered state at the stamp; Jacobian on the
        current error H = [I, −τI, 0…] with τ = t − t_m (see module docstring). Gain, update and
        covariance as Solà eqs. (273)–(275), with the symmetric form P ← P − K·S·Kᵀ
        (= P − K·(PHᵀ)ᵀ) followed by symmetrisation. Gate: yᵀS⁻¹y ≤ `gnss_gate_chi2`.
        If every fix is rejected for `gnss_reset_timeout_s`, the position is reset to the
        GNSS (as PX4 ekf2 does after persistent innovation-check failures): the filter
        trusts GNSS over its own dead reckoning in the long run.

        `fuse_height=False` fuses east and north only (the barometer is then the height
        reference; the component decides from the fix's reported vertical std).
        """
        past = self._position_at(t_valid_s)
        if past is None:
            self.too_old += 1
            return Fusion.TOO_OLD
        m = 3 if fuse_height else 2
        g = self._gnss_work[m]
        y = [position_enu_m[i] - past[i] for i in g.axes]
        tau = self._t_s - t_valid_s
        # P·Hᵀ = P[:, δp] − τ·P[:, δv]; S = H·P·Hᵀ + R = (P·Hᵀ)[δp] − τ·(P·Hᵀ)[δv] + R.
        PHt = g.PHt
        np.multiply(g.P_vel, tau, PHt)
        np.subtract(g.P_pos, PHt, PHt)
        np.multiply(g.PHt_v, tau, g.S)
        np.subtract(g.PHt_p, g.S, g.S)
        S = g.S.tolist()
        for i in g.axes:
            S[i][i] += std_enu_m[i] ** 2
        S_inv = _inverse_small(S)  # row-major, flat
        d2 = 0.0
        for i in g.axes:
            for j in g.axes:
                d2 += y[i] * S_inv[i * m + j] * y[j]
        if not d2 <= self.params.gnss_gate_chi2:
            self.gnss_rejected += 1
            if self._gnss_reject_since is None:
                self._gnss_reject_since = t_valid_s
            elif t_valid_s - self._gnss_reject_since >= self.params.gnss_reset_timeout_s:
                self._reset_position(y, std_enu_m)
                return Fusion.RESET
            return Fusion.REJECTED
        self._gnss_reject_since = None
        # K = P·Hᵀ·S⁻¹; P ← P − K·(P·Hᵀ)ᵀ; δx = K·y.
        P, T, K = self._P, self._T, g.K
        g.S_inv_bytes[:] = g.pack_S_inv(*S_inv)
        g.y_bytes[:] = g.pack_y(*y)
        PHt.dot(g.S_inv, K)
        K.dot(g.PHt_T, T)
        np.subtract(P, T, P)
        self._symmetrise()  # also removes the rounding asymmetry of F·P·Fᵀ, at 10 Hz
        self._inject(K.dot(g.y).tolist())
        return Fusion.ACCEPTED

    def fuse_baro_height(self, t_valid_s: float, height_m: float, std_m: float) -> Fusion:
        """Barometric height above the origin, modelled as z + b_baro + noise.

        Scalar update with h = e_z − τ·e_vz + e_baro (time of validity as in `fuse_position`).
        Persistent rejection (a pressure step) resets the bias so the baro matches the state.
        """
        past_height = self._height_at(t_valid_s)
        if past_height is None:
            self.too_old += 1
            return Fusion.TOO_OLD
        y = height_m - (past_height + self._bb)
        tau = self._t_s - t_valid_s
        ph = self._ph  # P·hᵀ = P[:, δp_z] − τ·P[:, δv_z] + P[:, δb_baro], in place
        np.multiply(self._P_vz, tau, ph)
        np.subtract(self._P_pz, ph, ph)
        np.add(ph, self._P_bb, ph)
        ph_list = ph.tolist()
        s = ph_list[IDX_P + 2] - tau * ph_list[IDX_V + 2] + ph_list[IDX_BBARO] + std_m * std_m
        if not y * y <= self.params.baro_gate_chi2 * s:
            self.baro_rejected += 1
            if self._baro_reject_since is None:
                self._baro_reject_since = t_valid_s
            elif t_valid_s - self._baro_reject_since >= self.params.baro_reset_timeout_s:
                self._reset_baro_bias(y, std_m)
                return Fusion.RESET
            return Fusion.REJECTED
        self._baro_reject_since = None
        self._scalar_update(ph_list, s, y)
        return Fusion.ACCEPTED

    def reset_baro_bias(self, height_m: float, std_m: float) -> None:
        """Set b_baro so that `height_m` matches the current height (first baro sample)."""
        self._set_baro_bias(height_m - (self._p[2] + self._bb), std_m)

    def fuse_mag_heading(self, t_valid_s: float, field_flu_t: Vec3, std_rad: float) -> Fusion:
        """Magnetometer as a heading measurement (tilt-compensated with the estimated attitude).

        The body field m is rotated into ENU with the attitude believed at the stamp,
        u = R·m; its heading ψ(u) = atan2(u_n, u_e) is compared with the reference field's
        (`earth_field_enu_t`, whose horizontal direction encodes the declination), so only the
        direction of the horizontal field is used, as in PX4 ekf2's heading fusion. Innovation
        y = ψ_ref − ψ(u). The Jacobian is the exact one of that tilt-compensated heading
        (Solà eq. 278, H = ∂h/∂δθ): with u = R·exp(δθ)·m ≈ u + (R·δθ) × u,
        δψ = ∇ψ·((R·δθ) × u) = (u × ∇ψ)ᵀ·R·δθ, whose world-z part is 1 (yaw) and whose
        horizontal part, −u_u·u_h/|u_h|², is the tilt sensitivity (tan of the inclination,
        ≈ 2.2 at 66°). Taking only the yaw part, as PX4's heading fusion does, lets every tilt
        error leak into the yaw ×2.2 and made the gyro-z bias estimate ~10× worse in tests.
        """
        found = self._past_entries(t_valid_s)
        if found is None:
            self.too_old += 1
            return Fusion.TOO_OLD
        older = found[0]
        # Yaw corrections applied since the stamp (world z), so the past attitude is "as now
        # believed"; the heading changes little within one buffer step, so no interpolation.
        yaw_since = self._sums[9] - older[4][9]
        x, y, z, w = older[3]
        mx, my, mz = field_flu_t
        # Horizontal part of R(q_m)·m.
        me = (
            (1.0 - 2.0 * (y * y + z * z)) * mx
            + 2.0 * (x * y - z * w) * my
            + 2.0 * (x * z + y * w) * mz
        )
        mn = (
            2.0 * (x * y + z * w) * mx
            + (1.0 - 2.0 * (x * x + z * z)) * my
            + 2.0 * (y * z - x * w) * mz
        )
        mu = (
            2.0 * (x * z - y * w) * mx
            + 2.0 * (y * z + x * w) * my
            + (1.0 - 2.0 * (x * x + y * y)) * mz
        )
        h_sq = me * me + mn * mn
        if h_sq < (_MIN_HORIZONTAL_FIELD_FRACTION * self._field_ref_h_norm) ** 2:
            return Fusion.SKIPPED
        re, rn = self._field_ref_h
        eps = math.atan2(re * mn - rn * me, re * me + rn * mn) + yaw_since
        innovation = -wrap_pi(eps)
        # h_θ = (u × ∇ψ(u))ᵀ·R with u = R·m, ∇ψ(u) = (−u_n, u_e, 0)/|u_h|²:
        # u × ∇ψ = (−u_u·u_e/|u_h|², −u_u·u_n/|u_h|², 1), evaluated with the current R.
        we = -mu * me / h_sq
        wn = -mu * mn / h_sq
        x, y, z, w = self._q
        h0 = we * (1.0 - 2.0 * (y * y + z * z)) + wn * 2.0 * (x * y + z * w) + 2.0 * (x * z - y * w)
        h1 = we * 2.0 * (x * y - z * w) + wn * (1.0 - 2.0 * (x * x + z * z)) + 2.0 * (y * z + x * w)
        h2 = we * 2.0 * (x * z + y * w) + wn * 2.0 * (y * z - x * w) + (1.0 - 2.0 * (x * x + y * y))
        self._h_bytes[:] = self._pack3(h0, h1, h2)
        self._P_theta.dot(self._h, self._ph)  # P·hᵀ
        ph_list = self._ph.tolist()
        p0, p1, p2 = ph_list[IDX_THETA : IDX_THETA + 3]
        s = p0 * h0 + p1 * h1 + p2 * h2 + std_rad * std_rad
        if not innovation * innovation <= self.params.mag_gate_chi2 * s:
            self.mag_rejected += 1
            return Fusion.REJECTED
        self._scalar_update(ph_list, s, innovation)
        return Fusion.ACCEPTED

    def _scalar_update(self, ph_list: list[float], s: float, y: float) -> None:
        """K = P·hᵀ/s; δx = K·y; P ← P − K·s·Kᵀ = P − (P·hᵀ)(P·hᵀ)ᵀ/s (Solà eqs. 273–275,
        symmetric form; the outer product is exactly symmetric, so P stays symmetric).

        P·hᵀ is in `self._ph` (and, as floats, in `ph_list`). The outer product is a BLAS
        product of its column and row views (inner dimension 1: each entry is the one
        rounded product, as in `np.outer`, which costs 3× more); δx = K·y in floats costs
        less than a numpy round trip.
        """
        T = self._T
        self._ph_col.dot(self._ph_row, T)  # the outer product, exactly as np.outer
        np.multiply(T, 1.0 / s, T)
        np.subtract(self._P, T, self._P)
        c = y / s
        self._inject([v * c for v in ph_list])

    def _symmetrise(self) -> None:
        """P ← (P + Pᵀ)/2. Pᵀ is first copied contiguous: a ufunc reading the transposed
        view directly goes through numpy's buffered iterator, which costs more than the copy."""
        T = self._T
        T[...] = self._P_T
        np.add(self._P, T, T)
        np.multiply(T, 0.5, self._P)

    def _inject(self, dx: list[float]) -> None:
        """Inject the observed error into the nominal state and reset it (Solà §6.2–6.3).

        Injection, eqs. (282)–(283): p += δp, v += δv, q ← q ⊗ q{δθ}, biases += δb.
        Reset, eqs. (284)–(287): δx ← 0 and P ← G·P·Gᵀ with G = I except the attitude block
        I − [½δθ]× (the new local error is expressed about the corrected attitude). G is
        applied only above `_RESET_JACOBIAN_MIN_ANGLE_RAD`: Solà notes it is usually
        negligible, and below 1 mrad it changes P_θθ by < 0.05 % for ~14 µs per update.
        Also accumulates the corrections for the time-of-validity bookkeeping.
        """
        dpx, dpy, dpz, dvx, dvy, dvz, tx, ty, tz, dgx, dgy, dgz, dax, day, daz, dbb = dx
        px, py, pz = self._p
        vx, vy, vz = self._v
        self._p = (px + dpx, py + dpy, pz + dpz)
        self._v = (vx + dvx, vy + dvy, vz + dvz)
        x, y, z, w = self._q
        world_yaw = (
            2.0 * (x * z - y * w) * tx
            + 2.0 * (y * z + x * w) * ty
            + (1.0 - 2.0 * (x * x + y * y)) * tz
        )
        angle = math.sqrt(tx * tx + ty * ty + tz * tz)
        if angle > 1e-12:
            s = math.sin(0.5 * angle) / angle
            ew = math.cos(0.5 * angle)
        else:
            s, ew = 0.5, 1.0
        ex, ey, ez = tx * s, ty * s, tz * s
        qx = w * ex + x * ew + y * ez - z * ey
        qy = w * ey - x * ez + y * ew + z * ex
        qz = w * ez + x * ey - y * ex + z * ew
        qw = w * ew - x * ex - y * ey - z * ez
        n = 1.0 / math.sqrt(qx * qx + qy * qy + qz * qz + qw * qw)
        self._q = (qx * n, qy * n, qz * n, qw * n)
        bg, ba = self._bg, self._ba
        self._bg = (bg[0] + dgx, bg[1] + dgy, bg[2] + dgz)
        self._ba = (ba[0] + dax, ba[1] + day, ba[2] + daz)
        self._bb += dbb
        t = self._t_s
        s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 = self._sums
        self._sums = (
            s0 + dpx, s1 + dpy, s2 + dpz,
            s3 + dvx, s4 + dvy, s5 + dvz,
            s6 + dvx * t, s7 + dvy * t, s8 + dvz * t,
            s9 + world_yaw,
        )  # fmt: skip
        if angle > _RESET_JACOBIAN_MIN_ANGLE_RAD:
            G = np.array(
                [[1.0, 0.5 * tz, -0.5 * ty], [-0.5 * tz, 1.0, 0.5 * tx], [0.5 * ty, -0.5 * tx, 1.0]]
            )
            P = self._P
            th = slice(IDX_THETA, IDX_THETA + 3)
            P[th, :] = G @ P[th, :]
            P[:, th] = P[:, th] @ G.T

    def _reset_position(self, innovation: list[float], std_enu_m: Vec3) -> None:
        """Move the position onto the GNSS fix (the axes fused); their covariance becomes the
        fix's, uncorrelated with the rest. The drift that built up while fixes were rejected
        says the velocity was wrong by about innovation / timeout: its variance is raised to
        at least that, so the next fixes can correct it (ekf2 resets velocity as well)."""
        self.gnss_resets += 1
        log.warning(
            "GNSS rejected for %.1f s: position reset by %s m",
            self.params.gnss_reset_timeout_s,
            ", ".join(f"{c:.2f}" for c in innovation),
        )
        m = len(innovation)
        self._inject([*innovation, *([0.0] * (N_ERROR_STATES - m))])
        P = self._P
        P[IDX_P : IDX_P + m, :] = 0.0
        P[:, IDX_P : IDX_P + m] = 0.0
        timeout = self.params.gnss_reset_timeout_s
        for i in range(m):
            P[IDX_P + i, IDX_P + i] = std_enu_m[i] ** 2
            v = IDX_V + i
            drift_var = (innovation[i] / timeout) ** 2
            if P[v, v] < drift_var:
                P[v, :] = 0.0
                P[:, v] = 0.0
                P[v, v] = drift_var
        self._gnss_reject_since = None

    def _reset_baro_bias(self, innovation_m: float, std_m: float) -> None:
        self.baro_resets += 1
        log.warning(
            "barometer rejected for %.1f s: bias reset by %.2f m",
            self.params.baro_reset_timeout_s,
            innovation_m,
        )
        self._set_baro_bias(innovation_m, std_m)

    def _set_baro_bias(self, innovation_m: float, std_m: float) -> None:
        """Shift b_baro by the innovation; its variance becomes the measurement's plus the
        height's, uncorrelated with the rest."""
        self._bb += innovation_m
        P = self._P
        var = std_m * std_m + float(P[IDX_P + 2, IDX_P + 2])
        P[IDX_BBARO, :] = 0.0
        P[:, IDX_BBARO] = 0.0
        P[IDX_BBARO, IDX_BBARO] = var
        self._baro_reject_since = None
