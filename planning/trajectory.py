"""Smooth, time-indexed reference trajectories through ENU waypoints.

Why piecewise polynomials: a multirotor is differentially flat in position and yaw, so a
trajectory whose position is smooth up to snap (4th derivative) can be followed with smooth
thrust and body rates (Mellinger & Kumar, "Minimum snap trajectory generation and control for
quadrotors", ICRA 2011). Between waypoints we use 7th-order polynomials and minimise the integral
of squared snap; the unconstrained problem is solved in closed form over the free derivatives at
the interior knots (Richter, Bry & Roy, "Polynomial trajectory planning for aggressive quadrotor
flight in dense indoor environments", ISRR 2013 / Springer STAR 114, 2016, section 3): the
waypoint positions are fixed, so the reference passes through every waypoint exactly, and the
optimal spline is continuous in velocity, acceleration and jerk at the knots by construction.
Rest-to-rest straight moves (the take-off climb) use the minimum-jerk quintic of Flash & Hogan
("The coordination of arm movements", J. Neuroscience 5(7), 1985).

Time allocation: a trapezoidal speed profile along the path (zero speed at both ends, slower at
sharp turns, `ALLOCATION_ACCEL_FRACTION` of the acceleration limit) is sampled every
`knot_spacing_s`, giving collinear "corridor" knots along each leg (Mellinger & Kumar, section
IV-C) and their durations. Segments whose sampled peak speed or acceleration still exceed the
limits are stretched and the spline re-solved; a final uniform time dilation (exact for
polynomials: derivative r scales by k^-r) guarantees the limits, with `LIMIT_MARGIN` to spare
for the sampling (the iterative re-timing of Richter et al., section 5, without their gradient
step).

All numpy work happens at planning time. `Trajectory.evaluate` is plain float Horner evaluation
on precomputed coefficient lists, cheap enough for a 50 Hz mission loop.

Yaw: either fixed, or facing the horizontal direction of travel. The travel heading is sampled
at planning time, rate limited (PX4's MPC_YAWRAUTO_MAX, 45 °/s by default) and smoothed with a
centred moving average, then interpolated linearly at run time.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.linalg

from kestrel.messages import TrajectorySetpoint, Vec3
from kestrel.rotation import wrap_pi

POLY_ORDER = 7
"""Degree of every segment polynomial (minimum snap needs 7; minimum jerk quintics are padded)."""

_N_COEFFS = POLY_ORDER + 1
_N_DERIVS = 4
"""Derivatives fixed or optimised at each knot: position, velocity, acceleration, jerk."""

MIN_LEG_M = 1e-3
"""Consecutive waypoints closer than this are one waypoint (a zero-length leg has no direction)."""

ALLOCATION_ACCEL_FRACTION = 0.7
"""Share of the acceleration limit the trapezoidal time guess uses: the smooth spline through
the profile's samples overshoots the trapezoid's acceleration steps. 0.7 gave the shortest
limit-respecting references over a set of test paths (straight, zig-zag, random 3-D)."""

LIMIT_MARGIN = 0.01
"""Share of the speed and acceleration limits kept free: peaks are checked on samples."""

ALLOCATION_MIN_GAIN = 0.005
"""A re-timing pass that shortens the best reference by less than this share does not count."""

ALLOCATION_PATIENCE = 5
"""Re-timing stops after this many passes without a gain."""

MIN_JERK_PEAK_SPEED_RATIO = 1.875
"""Peak speed of the rest-to-rest minimum-jerk quintic, in units of distance / duration."""

MIN_JERK_PEAK_ACCEL_RATIO = 10.0 / math.sqrt(3.0)
"""Peak acceleration of the rest-to-rest minimum-jerk quintic, in distance / duration²."""

_ZERO: Vec3 = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class TrajectoryParams:
    """Limits and yaw behaviour of planned references.

    speed_limit_factor: peak speed allowed as a multiple of the cruise speed [-], (1, 3].
    max_acceleration_mps2: peak acceleration magnitude [m/s²], (0, 20]; mirrors PX4 MPC_ACC_HOR
        (default 3 m/s²).
    yaw_mode: "travel" faces the horizontal direction of travel; "fixed" keeps the start yaw.
    max_yaw_rate_dps: yaw rate limit of the travel heading [°/s], (0, 360]; mirrors PX4
        MPC_YAWRAUTO_MAX (default 45 °/s).
    yaw_smoothing_s: width of the centred moving average applied to the heading [s], [0, 10].
    travel_yaw_min_speed_mps: below this horizontal speed the heading of the current leg is
        used instead of the velocity direction [m/s], (0, 5].
    yaw_sample_s: resolution of the precomputed yaw table [s], (0, 0.5].
    knot_spacing_s: target duration of one polynomial segment along a leg [s], [0.2, 10].
    max_allocation_iterations: segment re-timing passes before the final uniform dilation
        [-], [0, 200].
    samples_per_segment: samples per segment when checking the limits [-], [8, 1000].
    """

    speed_limit_factor: float = 1.1
    max_acceleration_mps2: float = 3.0
    yaw_mode: Literal["travel", "fixed"] = "travel"
    max_yaw_rate_dps: float = 45.0
    yaw_smoothing_s: float = 1.0
    travel_yaw_min_speed_mps: float = 0.5
    yaw_sample_s: float = 0.02
    knot_spacing_s: float = 1.0
    max_allocation_iterations: int = 40
    samples_per_segment: int = 32

    def __post_init__(self) -> None:
        _check_range("speed_limit_factor", self.speed_limit_factor, 1.0, 3.0, low_open=True)
        _check_range("max_acceleration_mps2", self.max_acceleration_mps2, 0.0, 20.0, low_open=True)
        if self.yaw_mode not in ("travel", "fixed"):
            raise ValueError(f"yaw_mode must be 'travel' or 'fixed', got {self.yaw_mode!r}")
        _check_range("max_yaw_rate_dps", self.max_yaw_rate_dps, 0.0, 360.0, low_open=True)
        _check_range("yaw_smoothing_s", self.yaw_smoothing_s, 0.0, 10.0)
        _check_range(
            "travel_yaw_min_speed_mps", self.travel_yaw_min_speed_mps, 0.0, 5.0, low_open=True
        )
        _check_range("yaw_sample_s", self.yaw_sample_s, 0.0, 0.5, low_open=True)
        _check_range("knot_spacing_s", self.knot_spacing_s, 0.2, 10.0)
        _check_range("max_allocation_iterations", self.max_allocation_iterations, 0, 200)
        _check_range("samples_per_segment", self.samples_per_segment, 8, 1000)


def _check_range(
    name: str, value: float, low: float, high: float, *, low_open: bool = False
) -> None:
    ok = math.isfinite(value) and (value > low if low_open else value >= low) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bracket}{low}, {high}], got {value!r}")


@dataclass(frozen=True)
class PolynomialSegment:
    """One segment: per ENU axis, coefficients of p(s) in ascending powers of s = τ / duration.

    Working in the normalised time s ∈ [0, 1] keeps the coefficients well scaled whatever the
    duration (a 30 s leg would otherwise need coefficients of order 30⁻⁷).
    """

    duration_s: float
    coefficients: tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]

    def __post_init__(self) -> None:
        if not (math.isfinite(self.duration_s) and self.duration_s > 0.0):
            raise ValueError(f"duration_s must be positive, got {self.duration_s!r}")
        if len(self.coefficients) != 3 or any(len(c) != _N_COEFFS for c in self.coefficients):
            raise ValueError(f"coefficients must be 3 axes × {_N_COEFFS} values")


# --------------------------------------------------------------------------- minimum snap


def _endpoint_map() -> np.ndarray:
    """A: coefficients (ascending) → [p, p', p'', p'''] at s = 0 then at s = 1."""
    a = np.zeros((2 * _N_DERIVS, _N_COEFFS))
    for r in range(_N_DERIVS):
        a[r, r] = math.factorial(r)
        for k in range(r, _N_COEFFS):
            a[_N_DERIVS + r, k] = math.factorial(k) / math.factorial(k - r)
    return a


def _snap_cost() -> np.ndarray:
    """Q: ∫₀¹ (d⁴p/ds⁴)² ds = cᵀ Q c."""
    q = np.zeros((_N_COEFFS, _N_COEFFS))
    for j in range(4, _N_COEFFS):
        for k in range(4, _N_COEFFS):
            fj = math.factorial(j) / math.factorial(j - 4)
            fk = math.factorial(k) / math.factorial(k - 4)
            q[j, k] = fj * fk / (j + k - 7)
    return q


@dataclass(frozen=True)
class _Knots:
    """Knots of the spline: the distinct waypoints plus points along each leg, and timing."""

    points: np.ndarray
    durations_s: np.ndarray
    waypoint_knots: tuple[int, ...]


def _corner_speeds(
    points: np.ndarray, cruise_mps: float, accel_mps2: float, knot_spacing_s: float
) -> np.ndarray:
    """Speed of the trapezoidal profile at each waypoint: zero at both ends, slower at turns.

    The reference passes through each waypoint, so a turn by θ happens within about one knot
    interval Δt: the velocity vector changes by 2·v·sin(θ/2) in Δt, which `accel_mps2` bounds.
    A forward-backward pass then keeps every speed change reachable at `accel_mps2` along the
    legs, as a velocity planner along a path does.
    """
    legs = np.diff(points, axis=0)
    lengths = np.linalg.norm(legs, axis=1)
    directions = legs / lengths[:, None]
    speeds = np.zeros(points.shape[0])
    for j in range(1, points.shape[0] - 1):
        cos_turn = float(np.clip(directions[j - 1] @ directions[j], -1.0, 1.0))
        sin_half_turn = math.sqrt(max(0.0, (1.0 - cos_turn) / 2.0))
        turn_limit = accel_mps2 * knot_spacing_s / (2.0 * sin_half_turn + 1e-12)
        speeds[j] = min(cruise_mps, turn_limit)
    for j in range(1, speeds.size):
        reachable = math.sqrt(speeds[j - 1] ** 2 + 2.0 * accel_mps2 * lengths[j - 1])
        speeds[j] = min(speeds[j], reachable)
    for j in range(speeds.size - 2, -1, -1):
        reachable = math.sqrt(speeds[j + 1] ** 2 + 2.0 * accel_mps2 * lengths[j])
        speeds[j] = min(speeds[j], reachable)
    return speeds


@dataclass(frozen=True)
class _Trapezoid:
    """Trapezoidal (or triangular) speed profile along one leg."""

    entry_mps: float
    peak_mps: float
    accel_mps2: float
    accel_end_s: float
    brake_start_s: float
    duration_s: float

    @classmethod
    def plan(
        cls,
        length_m: float,
        entry_mps: float,
        exit_mps: float,
        cruise_mps: float,
        accel_mps2: float,
    ) -> _Trapezoid:
        u, w, a = entry_mps, exit_mps, accel_mps2
        peak = math.sqrt(max(0.0, (2.0 * a * length_m + u * u + w * w) / 2.0))
        peak = max(min(peak, cruise_mps), u, w, 1e-9)
        t_acc = (peak - u) / a
        t_dec = (peak - w) / a
        d_acc = (peak + u) * 0.5 * t_acc
        d_dec = (peak + w) * 0.5 * t_dec
        t_cruise = max(0.0, length_m - d_acc - d_dec) / peak
        return cls(u, peak, a, t_acc, t_acc + t_cruise, t_acc + t_cruise + t_dec)

    def distance_m(self, t_s: float) -> float:
        u, v, a = self.entry_mps, self.peak_mps, self.accel_mps2
        t1, t2 = self.accel_end_s, self.brake_start_s
        if t_s <= t1:
            return u * t_s + 0.5 * a * t_s * t_s
        d1 = (u + v) * 0.5 * t1
        if t_s <= t2:
            return d1 + v * (t_s - t1)
        dt = t_s - t2
        return d1 + v * (t2 - t1) + v * dt - 0.5 * a * dt * dt


def _allocate(
    points: np.ndarray, cruise_mps: float, accel_mps2: float, knot_spacing_s: float
) -> _Knots:
    """Knots and durations sampled from a trapezoidal speed profile along the path.

    Every leg is cut into pieces of about `knot_spacing_s`, with knots on the straight line
    where the trapezoidal profile is at those times. Without these corridor points a long
    segment is cheap in snap (the cost scales with duration⁻⁷), so the optimum lets it bulge
    far off the line at many times the cruise speed to ease its short neighbours; with them
    the spline stays on the legs and its speed follows the profile.
    """
    speeds = _corner_speeds(points, cruise_mps, accel_mps2, knot_spacing_s)
    knots = [points[0]]
    durations: list[float] = []
    waypoint_knots = [0]
    for i in range(points.shape[0] - 1):
        start, end = points[i], points[i + 1]
        length = float(np.linalg.norm(end - start))
        u, w = float(speeds[i]), float(speeds[i + 1])
        profile = _Trapezoid.plan(length, u, w, cruise_mps, accel_mps2)
        n_pieces = max(1, math.ceil(profile.duration_s / knot_spacing_s - 1e-9))
        piece_s = profile.duration_s / n_pieces
        for m in range(1, n_pieces):
            travelled = profile.distance_m(m * piece_s)
            knots.append(start + (end - start) * min(1.0, travelled / length))
        durations.extend([piece_s] * n_pieces)
        knots.append(end)
        waypoint_knots.append(len(knots) - 1)
    return _Knots(np.asarray(knots), np.asarray(durations), tuple(waypoint_knots))


class _MinimumSnapSolver:
    """Closed-form unconstrained minimum-snap spline (Richter, Bry & Roy 2013, section 3).

    Unknowns are the derivatives [p, v, a, j] at every knot. The knot positions and the rest
    conditions at both ends are fixed; velocity, acceleration and jerk at the interior knots
    minimise the total snap cost. That is one symmetric positive-definite system shared by the
    three axes; it is block-tridiagonal (a segment couples two knots), so it is solved as a
    banded Cholesky factorisation in time linear in the number of knots.
    """

    _BANDWIDTH = 2 * (_N_DERIVS - 1) - 1
    """Largest index distance between coupled free unknowns (knot k and k + 1)."""

    def __init__(self, points: np.ndarray) -> None:
        self.points = points
        self.n_seg = points.shape[0] - 1
        self.m_inv = np.linalg.inv(_endpoint_map())
        self.g = self.m_inv.T @ _snap_cost() @ self.m_inv
        n_interior = self.n_seg - 1
        self.n_free = n_interior * (_N_DERIVS - 1)
        # Free unknowns seen by each segment: (segment, local endpoint entry, global index);
        # endpoint entries are ordered [p0 v0 a0 j0 p1 v1 a1 j1].
        seg, local, glob = [], [], []
        pairs = []
        for i in range(self.n_seg):
            entries = [
                (end * _N_DERIVS + r, (knot - 1) * (_N_DERIVS - 1) + (r - 1))
                for end, knot in ((0, i), (1, i + 1))
                if 1 <= knot <= n_interior
                for r in range(1, _N_DERIVS)
            ]
            for a, ga in entries:
                seg.append(i)
                local.append(a)
                glob.append(ga)
                # Lower triangle of the coupling inside this segment, as (band row, column).
                pairs.extend((i, a, b, ga - gb, gb) for b, gb in entries if ga >= gb)
        self._seg = np.asarray(seg, dtype=int)
        self._local = np.asarray(local, dtype=int)
        self._glob = np.asarray(glob, dtype=int)
        self._pairs = np.asarray(pairs, dtype=int).reshape(-1, 5)

    def solve(self, durations: np.ndarray) -> np.ndarray:
        """Coefficients (n_seg, 3 axes, 8) in normalised time for the given segment durations."""
        powers = durations[:, None] ** np.arange(_N_DERIVS)[None, :]
        scale = np.concatenate([powers, powers], axis=1)  # (n_seg, 8): t-units → s-units
        ends = np.zeros((self.n_seg, 2 * _N_DERIVS, 3))
        ends[:, 0] = self.points[:-1]
        ends[:, _N_DERIVS] = self.points[1:]
        if self.n_free:
            blocks = (
                self.g[None, :, :]
                * scale[:, :, None]
                * scale[:, None, :]
                * (durations**-7)[:, None, None]
            )
            seg, a, b, row, col = self._pairs.T
            band = np.zeros((self._BANDWIDTH + 1, self.n_free))
            np.add.at(band, (row, col), blocks[seg, a, b])
            rhs = np.zeros((self.n_free, 3))
            fixed = (
                blocks[self._seg, self._local, 0][:, None] * self.points[self._seg]
                + blocks[self._seg, self._local, _N_DERIVS][:, None] * self.points[self._seg + 1]
            )
            np.add.at(rhs, self._glob, -fixed)
            # Jacobi scaling: durations spread the diagonal over many orders of magnitude.
            jacobi = 1.0 / np.sqrt(band[0])
            for off in range(1, min(self._BANDWIDTH, self.n_free - 1) + 1):
                band[off, : self.n_free - off] *= jacobi[off:] * jacobi[: self.n_free - off]
            band[0] = 1.0
            solution = scipy.linalg.solveh_banded(band, rhs * jacobi[:, None], lower=True)
            ends[self._seg, self._local] = solution[self._glob] * jacobi[self._glob, None]
        return np.einsum("kl,nlx->nxk", self.m_inv, ends * scale[:, :, None])


def _sample_matrices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows: s samples; columns: d/ds and d²/ds² of each monomial s^k."""
    s = np.linspace(0.0, 1.0, n)
    k = np.arange(_N_COEFFS)
    with np.errstate(divide="ignore", invalid="ignore"):
        v1 = np.where(k >= 1, k * s[:, None] ** np.maximum(k - 1, 0), 0.0)
        v2 = np.where(k >= 2, k * (k - 1) * s[:, None] ** np.maximum(k - 2, 0), 0.0)
    return v1, v2


def _segment_peaks(
    coeffs: np.ndarray, durations: np.ndarray, v1: np.ndarray, v2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Peak speed and acceleration magnitude of every segment, from samples."""
    vel = np.einsum("sk,nak->nsa", v1, coeffs) / durations[:, None, None]
    acc = np.einsum("sk,nak->nsa", v2, coeffs) / (durations[:, None, None] ** 2)
    return np.linalg.norm(vel, axis=2).max(axis=1), np.linalg.norm(acc, axis=2).max(axis=1)


def minimum_snap_segments(
    waypoints: Sequence[Vec3],
    *,
    cruise_speed_mps: float,
    params: TrajectoryParams,
) -> tuple[list[PolynomialSegment], tuple[int, ...]]:
    """Rest-to-rest minimum-snap segments through `waypoints` (ENU m), timed for the limits.

    Returns the segments and, for each waypoint, the index of the knot (segment boundary) where
    the trajectory passes it. Consecutive waypoints closer than MIN_LEG_M share one knot. Fewer
    than two distinct waypoints give no segment (the caller holds the single point).

    Timing: a trapezoidal guess (`_allocate`), then up to `max_allocation_iterations` passes
    stretching each segment by how far its sampled peak speed or acceleration exceeds the
    limit, keeping the candidate that is shortest once uniformly dilated to meet both limits.
    """
    if not (math.isfinite(cruise_speed_mps) and cruise_speed_mps > 0.0):
        raise ValueError(f"cruise_speed_mps must be positive, got {cruise_speed_mps!r}")
    points, distinct_index = _distinct_points(waypoints)
    if points.shape[0] < 2:
        return [], tuple(0 for _ in distinct_index)
    speed_limit = params.speed_limit_factor * cruise_speed_mps * (1.0 - LIMIT_MARGIN)
    accel_limit = params.max_acceleration_mps2 * (1.0 - LIMIT_MARGIN)
    knots = _allocate(
        points,
        cruise_speed_mps,
        ALLOCATION_ACCEL_FRACTION * accel_limit,
        params.knot_spacing_s,
    )
    solver = _MinimumSnapSolver(knots.points)
    v1, v2 = _sample_matrices(params.samples_per_segment)
    durations = knots.durations_s
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    stalled = 0
    for iteration in range(params.max_allocation_iterations + 1):
        coeffs = solver.solve(durations)
        peak_v, peak_a = _segment_peaks(coeffs, durations, v1, v2)
        stretch = np.maximum(peak_v / speed_limit, np.sqrt(peak_a / accel_limit))
        # Exact: stretching every duration by k keeps the normalised polynomials and scales
        # velocity by 1/k and acceleration by 1/k².
        dilation = max(1.0, float(np.max(stretch)))
        total_s = float(np.sum(durations)) * dilation
        if best is None or total_s < best[0] * (1.0 - ALLOCATION_MIN_GAIN):
            stalled = 0
        else:
            stalled += 1
        if best is None or total_s < best[0]:
            best = (total_s, durations * dilation, coeffs)
        if dilation == 1.0 or stalled >= ALLOCATION_PATIENCE:
            break
        if iteration < params.max_allocation_iterations:
            durations = durations * np.maximum(stretch, 1.0)
    assert best is not None
    _, durations, coeffs = best
    segments = [
        PolynomialSegment(
            float(durations[i]), tuple(tuple(float(c) for c in coeffs[i, a]) for a in range(3))
        )
        for i in range(durations.size)
    ]
    return segments, tuple(knots.waypoint_knots[j] for j in distinct_index)


def _distinct_points(waypoints: Sequence[Vec3]) -> tuple[np.ndarray, list[int]]:
    """Waypoints without consecutive duplicates, and each input's index among them."""
    pts = np.asarray(waypoints, dtype=float).reshape(-1, 3)
    if not np.all(np.isfinite(pts)):
        raise ValueError("waypoints must be finite")
    if pts.shape[0] == 0:
        return pts, []
    keep = [0]
    index = [0]
    for i in range(1, pts.shape[0]):
        if np.linalg.norm(pts[i] - pts[keep[-1]]) >= MIN_LEG_M:
            keep.append(i)
        index.append(len(keep) - 1)
    return pts[keep], index


def minimum_jerk_segment(
    start: Vec3, end: Vec3, *, peak_speed_mps: float, max_acceleration_mps2: float
) -> PolynomialSegment:
    """Rest-to-rest straight move along the minimum-jerk quintic 10s³ − 15s⁴ + 6s⁵.

    The duration is the shortest that keeps the peak speed (1.875 · L / T) and the peak
    acceleration (5.77 · L / T²) within the given limits.
    """
    if not (math.isfinite(peak_speed_mps) and peak_speed_mps > 0.0):
        raise ValueError(f"peak_speed_mps must be positive, got {peak_speed_mps!r}")
    if not (math.isfinite(max_acceleration_mps2) and max_acceleration_mps2 > 0.0):
        raise ValueError(f"max_acceleration_mps2 must be positive, got {max_acceleration_mps2!r}")
    delta = (end[0] - start[0], end[1] - start[1], end[2] - start[2])
    length = math.sqrt(delta[0] ** 2 + delta[1] ** 2 + delta[2] ** 2)
    if not (math.isfinite(length) and length >= MIN_LEG_M):
        raise ValueError(f"a straight move needs two distinct finite points, got {start}, {end}")
    duration = max(
        MIN_JERK_PEAK_SPEED_RATIO * length / peak_speed_mps,
        math.sqrt(MIN_JERK_PEAK_ACCEL_RATIO * length / max_acceleration_mps2),
    )
    coeffs = tuple(
        (float(p0), 0.0, 0.0, 10.0 * d, -15.0 * d, 6.0 * d, 0.0, 0.0)
        for p0, d in zip(start, delta, strict=True)
    )
    return PolynomialSegment(duration, coeffs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- trajectory


@dataclass(frozen=True, slots=True)
class _Compiled:
    """Run-time form of one segment, per ENU axis.

    An axis is either `_AxisPolynomials` or, when it does not move during the segment (every
    coefficient but the constant one is zero: a climb's x and y, a level leg's z), its fixed
    (position, 0.0, 0.0), which is what the Horner evaluation would give for it.
    """

    inv_duration: float
    inv_duration_sq: float
    x: _AxisPolynomials | tuple[float, float, float]
    y: _AxisPolynomials | tuple[float, float, float]
    z: _AxisPolynomials | tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class _AxisPolynomials:
    """Descending coefficients of p(s), dp/ds and d²p/ds² on one axis (see `_descending`)."""

    pos: tuple[float, ...]
    vel: tuple[float, ...]
    acc: tuple[float, ...]


def _descending(coeffs: list[float]) -> tuple[float, ...]:
    """Coefficients highest power first, for the unrolled Horner evaluation (`_axis_state`).

    `+ 0.0` on the leading one turns a −0.0 into +0.0: Horner started from 0.0 (0.0·s + c) did
    that, so the unrolled form gives the same values to the sign of zero.
    """
    highest_first = coeffs[::-1]
    highest_first[0] = highest_first[0] + 0.0
    return tuple(highest_first)


def _compile(segment: PolynomialSegment) -> _Compiled:
    axes: list[_AxisPolynomials | tuple[float, float, float]] = []
    for c in segment.coefficients:
        if all(v == 0.0 for v in c[1:]):
            # Horner on s ≥ 0 gives c₀ + 0.0 (−0.0 → +0.0) and +0.0 for both derivatives.
            axes.append((c[0] + 0.0, 0.0, 0.0))
            continue
        d1 = [k * c[k] for k in range(1, _N_COEFFS)]
        d2 = [k * (k - 1) * c[k] for k in range(2, _N_COEFFS)]
        axes.append(_AxisPolynomials(_descending(list(c)), _descending(d1), _descending(d2)))
    inv = 1.0 / segment.duration_s
    return _Compiled(inv, inv * inv, *axes)


def _axis_state(
    axis: _AxisPolynomials | tuple[float, float, float], s: float, iv: float, ia: float
) -> tuple[float, float, float]:
    """(position, velocity, acceleration) on one axis at normalised time s ∈ [0, 1].

    Horner's rule unrolled for the fixed degree (POLY_ORDER = 7 and its two derivatives) and
    one call per axis: the mission evaluates this at 50 Hz and a loop (or a call per
    polynomial) costs about three times as much. Velocity and acceleration are scaled to
    seconds by iv = 1/T and ia = 1/T².
    """
    if type(axis) is tuple:
        return axis
    p0, p1, p2, p3, p4, p5, p6, p7 = axis.pos
    v0, v1, v2, v3, v4, v5, v6 = axis.vel
    a0, a1, a2, a3, a4, a5 = axis.acc
    return (
        ((((((p0 * s + p1) * s + p2) * s + p3) * s + p4) * s + p5) * s + p6) * s + p7,
        ((((((v0 * s + v1) * s + v2) * s + v3) * s + v4) * s + v5) * s + v6) * iv,
        (((((a0 * s + a1) * s + a2) * s + a3) * s + a4) * s + a5) * ia,
    )


class Trajectory:
    """A time-indexed reference: position, velocity, acceleration and yaw at any time.

    Segments follow each other from `start_time_s`. Before the start the first point is held,
    after the end the last one, both at rest (every trajectory here starts and ends at rest).
    Build one with `plan_trajectory` or `Trajectory.from_segments`; `with_start_time` gives the
    same shape on another clock origin without recomputing anything.
    """

    __slots__ = (
        "_compiled",
        "_duration_s",
        "_end_state",
        "_knots",
        "_start_state",
        "_waypoint_knots",
        "_yaw_dt_s",
        "_yaw_table",
        "segments",
        "start_time_s",
    )

    def __init__(self) -> None:
        raise TypeError("use plan_trajectory() or Trajectory.from_segments()")

    @classmethod
    def from_segments(
        cls,
        segments: Sequence[PolynomialSegment],
        *,
        hold_position: Vec3 | None = None,
        waypoint_knots: Sequence[int] | None = None,
        start_time_s: float = 0.0,
        start_yaw_rad: float = 0.0,
        params: TrajectoryParams | None = None,
    ) -> Trajectory:
        """Chain `segments`; each must start where the previous one ends (within 1 mm).

        The first must start and the last end at rest (the holds before and after assume it);
        smoothness across joints is the caller's (minimum-snap segments are C³, sections
        joined at rest are C² at least).

        With no segment, `hold_position` is held forever. `waypoint_knots` names the knots that
        are waypoints (`waypoint_times_s`); by default every knot is.
        """
        params = params or TrajectoryParams()
        if not math.isfinite(start_time_s):
            raise ValueError(f"start_time_s must be finite, got {start_time_s!r}")
        if not math.isfinite(start_yaw_rad):
            raise ValueError(f"start_yaw_rad must be finite, got {start_yaw_rad!r}")
        self = object.__new__(cls)
        self.segments = tuple(segments)
        self.start_time_s = float(start_time_s)
        for i, (before, after) in enumerate(itertools.pairwise(self.segments)):
            end = [sum(c) for c in before.coefficients]
            start = [c[0] for c in after.coefficients]
            if math.dist(end, start) > MIN_LEG_M:
                raise ValueError(f"segment {i + 1} does not start where segment {i} ends")
        self._compiled = tuple(_compile(s) for s in self.segments)
        knots = [0.0]
        for s in self.segments:
            knots.append(knots[-1] + s.duration_s)
        self._knots = tuple(knots)
        self._duration_s = knots[-1]
        if waypoint_knots is None:
            waypoint_knots = range(len(knots))
        if any(not 0 <= k < len(knots) for k in waypoint_knots):
            raise ValueError(f"waypoint_knots must index the {len(knots)} knots")
        self._waypoint_knots = tuple(int(k) for k in waypoint_knots)
        if self.segments:
            first = self.segments[0].coefficients
            start: Vec3 = (first[0][0], first[1][0], first[2][0])
            last = self.segments[-1].coefficients
            end: Vec3 = (sum(last[0]), sum(last[1]), sum(last[2]))
        else:
            if hold_position is None:
                raise ValueError("a trajectory without segments needs hold_position")
            start = end = (
                float(hold_position[0]),
                float(hold_position[1]),
                float(hold_position[2]),
            )
        self._start_state = (start, _ZERO, _ZERO)
        self._end_state = (end, _ZERO, _ZERO)
        self._yaw_dt_s = params.yaw_sample_s
        self._yaw_table = _yaw_table(self, start_yaw_rad, params)
        return self

    def with_start_time(self, start_time_s: float) -> Trajectory:
        """The same reference starting at `start_time_s` (shares all precomputed data)."""
        if not math.isfinite(start_time_s):
            raise ValueError(f"start_time_s must be finite, got {start_time_s!r}")
        other = object.__new__(Trajectory)
        for name in Trajectory.__slots__:
            object.__setattr__(other, name, getattr(self, name))
        other.start_time_s = float(start_time_s)
        return other

    @property
    def duration_s(self) -> float:
        return self._duration_s

    @property
    def end_time_s(self) -> float:
        return self.start_time_s + self._duration_s

    @property
    def knot_times_s(self) -> tuple[float, ...]:
        """Absolute times of the segment boundaries (first = start, last = end)."""
        return tuple(self.start_time_s + k for k in self._knots)

    @property
    def waypoint_times_s(self) -> tuple[float, ...]:
        """Absolute time at which the reference passes each waypoint it was planned through."""
        return tuple(self.start_time_s + self._knots[k] for k in self._waypoint_knots)

    @property
    def start_position(self) -> Vec3:
        return self._start_state[0]

    @property
    def end_position(self) -> Vec3:
        return self._end_state[0]

    def evaluate(self, t_s: float) -> tuple[Vec3, Vec3, Vec3]:
        """(position [m], velocity [m/s], acceleration [m/s²]) in ENU at time `t_s`."""
        tau = t_s - self.start_time_s
        if tau <= 0.0:
            return self._start_state
        if tau >= self._duration_s:
            return self._end_state
        i = bisect_right(self._knots, tau) - 1
        seg = self._compiled[i]
        s = (tau - self._knots[i]) * seg.inv_duration
        iv = seg.inv_duration
        ia = seg.inv_duration_sq
        px, vx, ax = _axis_state(seg.x, s, iv, ia)
        py, vy, ay = _axis_state(seg.y, s, iv, ia)
        pz, vz, az = _axis_state(seg.z, s, iv, ia)
        return (px, py, pz), (vx, vy, vz), (ax, ay, az)

    def yaw(self, t_s: float) -> tuple[float, float]:
        """(yaw [rad] in [-π, π), yaw rate [rad/s]) at time `t_s` (REP-103: 0 = east, CCW)."""
        table = self._yaw_table
        x = (t_s - self.start_time_s) / self._yaw_dt_s
        if x <= 0.0:
            return wrap_pi(table[0]), 0.0
        i = int(x)
        if i >= len(table) - 1:
            return wrap_pi(table[-1]), 0.0
        y0 = table[i]
        dy = table[i + 1] - y0
        return wrap_pi(y0 + (x - i) * dy), dy / self._yaw_dt_s

    def setpoint(self, t_s: float) -> TrajectorySetpoint:
        """The reference at `t_s` as a `control/setpoint` message."""
        pos, vel, acc = self.evaluate(t_s)
        yaw, yaw_rate = self.yaw(t_s)
        return TrajectorySetpoint(t_s, pos, vel, acc, yaw, yaw_rate)

    def sample(self, times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised positions and velocities (N, 3) at `times_s` (planning and analysis)."""
        tau = np.asarray(times_s, dtype=float) - self.start_time_s
        pos = np.empty((tau.size, 3))
        vel = np.zeros((tau.size, 3))
        pos[:] = self._start_state[0]
        after = tau >= self._duration_s
        pos[after] = self._end_state[0]
        inside = np.nonzero((tau > 0.0) & ~after)[0]
        if inside.size:
            knots = np.asarray(self._knots)
            idx = np.clip(np.searchsorted(knots, tau[inside], side="right") - 1, 0, None)
            coeffs = np.asarray([seg.coefficients for seg in self.segments])  # (n, 3, 8)
            durations = np.diff(knots)
            s = (tau[inside] - knots[idx]) / durations[idx]
            powers = s[:, None] ** np.arange(_N_COEFFS)
            pos[inside] = np.einsum("mk,mak->ma", powers, coeffs[idx])
            d1 = coeffs[:, :, 1:] * np.arange(1, _N_COEFFS)
            vel[inside] = np.einsum("mk,mak->ma", powers[:, :-1], d1[idx]) / durations[idx, None]
        return pos, vel


def _yaw_table(traj: Trajectory, start_yaw_rad: float, params: TrajectoryParams) -> list[float]:
    """Unwrapped yaw samples every `yaw_sample_s` from the start to the end of `traj`."""
    if params.yaw_mode == "fixed" or not traj.segments:
        return [start_yaw_rad, start_yaw_rad]
    dt = params.yaw_sample_s
    n = math.ceil(traj.duration_s / dt) + 1
    taus = np.arange(n) * dt
    _, vel = traj.sample(traj.start_time_s + taus)
    knots = np.asarray(traj._knots)
    seg_idx = np.clip(np.searchsorted(knots, taus, side="right") - 1, 0, len(traj.segments) - 1)
    leg_heading: list[float | None] = []
    for seg in traj.segments:
        dx = sum(seg.coefficients[0][1:])
        dy = sum(seg.coefficients[1][1:])
        leg_heading.append(math.atan2(dy, dx) if math.hypot(dx, dy) >= 0.1 else None)
    speed_h = np.hypot(vel[:, 0], vel[:, 1])
    vel_heading = np.arctan2(vel[:, 1], vel[:, 0])
    max_step = math.radians(params.max_yaw_rate_dps) * dt
    target = start_yaw_rad
    yaw = start_yaw_rad
    out = np.empty(n)
    for k in range(n):
        if speed_h[k] >= params.travel_yaw_min_speed_mps:
            target = float(vel_heading[k])
        else:
            heading = leg_heading[seg_idx[k]]
            if heading is not None and speed_h[k] > 0.0:
                target = heading
        step = wrap_pi(target - yaw)
        yaw += min(max_step, max(-max_step, step))
        out[k] = yaw
    half = round(params.yaw_smoothing_s / dt) // 2
    if half >= 1 and n > 2:
        # Centred moving average whose half-width shrinks to 0 at both ends, so the table starts
        # at the start yaw and ends at the final one (a ramp is left unchanged).
        k = np.arange(n)
        width = np.minimum(half, np.minimum(k, n - 1 - k))
        csum = np.concatenate([[0.0], np.cumsum(out)])
        out = (csum[k + width + 1] - csum[k - width]) / (2 * width + 1)
    return [float(y) for y in out]


def plan_trajectory(
    waypoints: Sequence[Vec3],
    *,
    cruise_speed_mps: float,
    start_time_s: float = 0.0,
    start_yaw_rad: float = 0.0,
    params: TrajectoryParams | None = None,
) -> Trajectory:
    """Minimum-snap reference through `waypoints` (ENU m), at rest at both ends.

    The first waypoint is where the trajectory starts. With a single distinct waypoint the
    result holds it.
    """
    params = params or TrajectoryParams()
    segments, waypoint_knots = minimum_snap_segments(
        waypoints, cruise_speed_mps=cruise_speed_mps, params=params
    )
    hold = tuple(float(v) for v in waypoints[0]) if waypoints else None
    return Trajectory.from_segments(
        segments,
        hold_position=hold,  # type: ignore[arg-type]
        waypoint_knots=waypoint_knots,
        start_time_s=start_time_s,
        start_yaw_rad=start_yaw_rad,
        params=params,
    )
