"""The safety filter: the last word on the acceleration a vehicle is asked to produce.

It sits between the position loop and the attitude loop (ARCHITECTURE.md), so every command —
mission, avoidance, a pilot's sticks, a remote command — passes through it, and it changes the
commanded acceleration as little as possible so that the vehicle can always brake to a stop
outside every active restricted volume and inside its inclusion volume.

Barrier (a braking control-barrier function, after Ames et al., "Control Barrier Functions:
Theory and Applications", ECC 2019, and the braking-distance barriers of Singletary et al.,
"Safety-critical manipulation…/ onboard safety guarantees for racing drones", 2022): for every
boundary piece within reach (one wall per polygon edge, cylinder walls, floors and ceilings —
local.py), with n the unit vector from the vehicle toward the piece's nearest point at distance d,
v_n = v·n the approach speed and a_b(n) the braking acceleration available along −n,

    h = d − m − v_n⁺·τ − v_n⁺² / (2 a_b),        m = body radius + margin + k·σ_n,

is the room left after a reaction time τ (attitude and motor response, one control period) and a
full brake. Keeping ḣ ≥ −α h keeps h ≥ 0, and ḣ is affine in the acceleration a:

    ḣ = −v_n − (τ + v_n⁺ / a_b) · n·a        ⇒        n·a ≤ (α h − v_n) / (τ + v_n⁺ / a_b).

The acceleration the vehicle really gets is the commanded one plus what the environment adds
(wind and gust drag, model error). A disturbance observer estimates that from the estimated
velocity's derivative minus the filter's own previous output, so the constraint is written on
the command: n·a_cmd ≤ … − n·â_dist. Wind also lowers the braking acceleration available, so a_b
is what remains of the tilt-limited acceleration after the disturbance and a gust allowance.
Uncertainty: σ_n is the estimator's position standard deviation along n (k·σ_n widens the
margin), and the velocity uncertainty is added to the approach speed.

The quadratic program — min ‖a − a_cmd‖² + w·s subject to the barrier rows (softened by one
slack s ≥ 0 so it is always feasible; w makes the penalty exact), the horizontal acceleration
octagon and the vertical limits — is a cvxpy problem with Parameters, compiled once (DPP,
checked at construction) kept as the specification, and solved at run time by Clarabel on the
same matrices (DirectBarrierQP: no per-solve cvxpy overhead) with explicit tolerances, an
iteration cap and a time limit. When the command already satisfies every row it is the
optimum and no solve is needed (most ticks). A failed or overrunning solve falls back to braking.

Other actions: inside a restricted volume (a zone that became active around the vehicle) the
filter flies out to the nearest boundary by the shortest way and holds there (`exit`); with the
position estimate invalid or too uncertain near a boundary it brakes and holds (`hold`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import clarabel
import cvxpy as cp
import numpy as np
import scipy.sparse as sparse
import shapely

from kestrel.airframe import QuadrotorAirframe
from kestrel.component import Component, Port
from kestrel.geodesy import GeoOrigin
from kestrel.messages import (
    AccelerationSetpoint,
    NavSatFix,
    Odometry,
    SafetyEvent,
    Vec3,
    ZoneUpdate,
)
from kestrel.params import ValidatedParams, param

from .airspace.local import BoundaryPiece, LocalAirspace, LocalVolume
from .airspace.model import ZoneKind
from .airspace.updates import AirspaceUpdater
from .zone_feed import ZONE_UPDATES_TOPIC

log = logging.getLogger(__name__)

_OCTAGON = np.array(
    [(math.cos(k * math.pi / 4), math.sin(k * math.pi / 4)) for k in range(8)], dtype=float
)
"""Unit normals of an octagon inscribed-limit on the horizontal acceleration (a linear stand-in
for the disc ‖a_xy‖ ≤ a_max that keeps the program a QP; it allows at most 8 % more)."""


@dataclass(frozen=True)
class SafetyFilterParams(ValidatedParams):
    """Safety-filter tuning. Defaults suit REFERENCE_QUADROTOR (tilt limit 35°, T/W 2.3)."""

    rate_hz: float = param(
        50.0, unit="Hz", low=10.0, high=500.0, description="Filter rate (the position loop's)"
    )
    margin_m: float = param(
        0.5,
        unit="m",
        low=0.0,
        high=50.0,
        description="Distance kept beyond the body radius and the position uncertainty",
    )
    sigma_k: float = param(
        3.0,
        unit="1",
        low=0.0,
        high=10.0,
        description="Standard deviations of estimated position/velocity added to margin/speed",
    )
    min_position_std_m: float = param(
        0.5,
        unit="m",
        low=0.0,
        high=20.0,
        description="Floor on the position standard deviation used (estimators are optimistic)",
    )
    reaction_time_s: float = param(
        0.3,
        unit="s",
        low=0.0,
        high=2.0,
        description="Delay before a braking demand is felt (attitude and motor response)",
    )
    barrier_gain_per_s: float = param(
        1.0,
        unit="1/s",
        low=0.05,
        high=20.0,
        description="Class-K gain α: how fast the room left may shrink (ḣ ≥ −α h)",
    )
    horizontal_accel_max_mps2: float = param(
        6.5,
        unit="m/s²",
        low=0.5,
        high=20.0,
        description="Largest horizontal acceleration the filter may command",
    )
    brake_fraction: float = param(
        0.6,
        unit="1",
        low=0.1,
        high=1.0,
        description="Share of the horizontal limit the barrier counts on for braking",
    )
    accel_up_max_mps2: float = param(
        8.0, unit="m/s²", low=0.5, high=30.0, description="Largest upward acceleration command"
    )
    accel_down_max_mps2: float = param(
        6.0, unit="m/s²", low=0.5, high=9.81, description="Largest downward acceleration command"
    )
    brake_descent_mps2: float = param(
        4.0,
        unit="m/s²",
        low=0.1,
        high=20.0,
        description="Upward acceleration the barrier counts on to stop a descent",
    )
    brake_climb_mps2: float = param(
        3.0,
        unit="m/s²",
        low=0.1,
        high=9.81,
        description="Downward acceleration the barrier counts on to stop a climb",
    )
    gust_allowance_mps2: float = param(
        1.0,
        unit="m/s²",
        low=0.0,
        high=10.0,
        description="Braking acceleration held back for gusts beyond the estimated disturbance",
    )
    disturbance_tau_s: float = param(
        0.5,
        unit="s",
        low=0.02,
        high=10.0,
        description="Time constant of the disturbance-acceleration observer",
    )
    disturbance_max_mps2: float = param(
        5.0,
        unit="m/s²",
        low=0.0,
        high=20.0,
        description="Bound on the estimated disturbance acceleration",
    )
    lookahead_min_m: float = param(
        10.0,
        unit="m",
        low=1.0,
        high=1000.0,
        description="Smallest radius within which boundary pieces are considered",
    )
    max_pieces: int = param(
        12, unit="1", low=1, high=64, description="Barrier rows in the QP (nearest pieces)"
    )
    max_position_std_m: float = param(
        4.0,
        unit="m",
        low=0.1,
        high=100.0,
        description="Horizontal position σ beyond which the estimate is too poor near a zone",
    )
    gnss_timeout_s: float = param(
        1.5,
        unit="s",
        low=0.1,
        high=60.0,
        description="Time without a GNSS fix after which the position counts as lost",
    )
    degraded_reach_m: float = param(
        100.0,
        unit="m",
        low=0.0,
        high=10000.0,
        description="How near a boundary a degraded position estimate must be to hold/land",
    )
    hold_before_land_s: float = param(
        2.0,
        unit="s",
        low=0.0,
        high=600.0,
        description="Hold this long on a degraded estimate near a zone, then land (without a "
        "position fix the estimate drifts: measured ~200 m in 45 s of IMU-only flight)",
    )
    land_speed_mps: float = param(
        1.0, unit="m/s", low=0.2, high=3.0, description="Descent speed of the degraded landing"
    )
    exit_speed_mps: float = param(
        3.0, unit="m/s", low=0.5, high=15.0, description="Speed when leaving a restricted volume"
    )
    exit_clearance_m: float = param(
        2.0,
        unit="m",
        low=0.0,
        high=100.0,
        description="How far beyond the margin the vehicle holds after leaving a volume",
    )
    exit_hold_s: float = param(
        5.0, unit="s", low=0.0, high=600.0, description="Hover outside after leaving a volume"
    )
    solver_time_limit_s: float = param(
        0.015,
        unit="s",
        low=0.0005,
        high=1.0,
        description="Wall-clock limit of one QP solve; beyond it the filter brakes",
    )
    solver_max_iter: int = param(
        50, unit="1", low=5, high=1000, description="Iteration cap of one QP solve"
    )
    intervention_threshold_mps2: float = param(
        0.05,
        unit="m/s²",
        low=0.0,
        high=5.0,
        description="Change of the command that counts as an intervention",
    )
    episode_gap_s: float = param(
        0.5,
        unit="s",
        low=0.0,
        high=60.0,
        description="Quiet time that ends an intervention episode",
    )


@dataclass
class FilterDecision:
    """What the filter did this tick."""

    acceleration_enu_mps2: Vec3
    action: str  # pass | limit | brake | exit | hold | land
    cause: str = ""  # geofence | zone_active_inside | position_uncertain | estimate_invalid …
    zone: str = ""
    rows: int = 0
    solved: bool = False
    solve_s: float = 0.0


@dataclass
class _ExitState:
    target_m: Vec3
    zone: str
    cause: str
    outside_since_s: float | None = None


@dataclass
class SafetyFilterStats:
    solves: int = 0
    failed_solves: int = 0
    solve_times_s: list[float] = field(default_factory=list)


class BarrierQP:
    """min ‖a − a_cmd‖² + w·s  s.t.  N a ≤ b + s,  octagon(a_xy) ≤ a_h,  −a_dn ≤ a_z ≤ a_up.

    Built once with cvxpy Parameters; `solve` only writes parameter values.
    """

    SLACK_WEIGHT = 1.0e4

    def __init__(self, rows: int, params: SafetyFilterParams) -> None:
        self.rows = rows
        self._a = cp.Variable(3)
        self._slack = cp.Variable(nonneg=True)
        self.a_cmd = cp.Parameter(3)
        self.normals = cp.Parameter((rows, 3))
        self.bounds = cp.Parameter(rows)
        self.a_h = cp.Parameter(nonneg=True)
        self.a_up = cp.Parameter(nonneg=True)
        self.a_dn = cp.Parameter(nonneg=True)
        constraints = [
            self.normals @ self._a <= self.bounds + self._slack,
            _OCTAGON @ self._a[:2] <= self.a_h,
            self._a[2] <= self.a_up,
            -self._a[2] <= self.a_dn,
        ]
        objective = cp.Minimize(
            cp.sum_squares(self._a - self.a_cmd) + self.SLACK_WEIGHT * self._slack
        )
        self.problem = cp.Problem(objective, constraints)
        if not self.problem.is_dpp():
            raise RuntimeError("the barrier QP must be DPP so that it compiles once")
        self._options = {
            "solver": cp.CLARABEL,
            "max_iter": int(params.solver_max_iter),
            "time_limit": float(params.solver_time_limit_s),
            "tol_gap_abs": 1e-9,
            "tol_gap_rel": 1e-9,
            "tol_feas": 1e-9,
        }

    def solve(
        self,
        a_cmd: Vec3,
        normals: np.ndarray,
        bounds: np.ndarray,
        a_h: float,
        a_up: float,
        a_dn: float,
    ) -> tuple[Vec3 | None, float]:
        """The filtered acceleration (None on failure) and the slack used."""
        k = len(bounds)
        n = np.zeros((self.rows, 3))
        b = np.full(self.rows, 1.0e3)
        n[:k] = normals[: self.rows]
        b[:k] = bounds[: self.rows]
        self.a_cmd.value = np.asarray(a_cmd, dtype=float)
        self.normals.value = n
        self.bounds.value = b
        self.a_h.value = a_h
        self.a_up.value = a_up
        self.a_dn.value = a_dn
        try:
            self.problem.solve(**self._options)
        except cp.SolverError:
            return None, math.nan
        value = self._a.value
        if self.problem.status != cp.OPTIMAL or value is None or not np.all(np.isfinite(value)):
            return None, math.nan
        return (float(value[0]), float(value[1]), float(value[2])), float(self._slack.value)


class DirectBarrierQP:
    """The same program as `BarrierQP`, handed to Clarabel directly.

    Why: cvxpy spends ~0.8 ms per solve mapping parameter values to solver data (measured with
    `ParamConeProg.apply_parameters`), for a 4-variable problem with a 2 ms budget. Here the
    constant rows are built once and each solve passes Clarabel's own matrices (interior point:
    no warm start to lose, and it converged on every random instance where OSQP, warm-started,
    hit its iteration cap on conflicting rows). `BarrierQP` remains the specification:
    tests/test_safety_filter.py checks both agree on random instances.
    Variables x = (a_x, a_y, a_z, s); constraints written A x ≤ b (Clarabel: A x + z = b, z ≥ 0).
    """

    SLACK_WEIGHT = BarrierQP.SLACK_WEIGHT

    def __init__(self, rows: int, params: SafetyFilterParams) -> None:
        self.rows = rows
        self._fixed_rows = np.vstack(
            [
                np.hstack([_OCTAGON, np.zeros((8, 2))]),
                [[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, -1.0, 0.0], [0.0, 0.0, 0.0, -1.0]],
            ]
        )
        self._p = sparse.csc_matrix(np.diag([2.0, 2.0, 2.0, 0.0]))
        settings = clarabel.DefaultSettings()
        settings.verbose = False
        settings.max_iter = int(params.solver_max_iter)
        settings.time_limit = float(params.solver_time_limit_s)
        # 1e-7 left ~2e-3 m/s² error where the slack is used (1e4 weight); 1e-9 costs nothing
        # measurable on a 4-variable problem.
        settings.tol_gap_abs = 1e-9
        settings.tol_gap_rel = 1e-9
        settings.tol_feas = 1e-9
        self._settings = settings

    def solve(
        self,
        a_cmd: Vec3,
        normals: np.ndarray,
        bounds: np.ndarray,
        a_h: float,
        a_up: float,
        a_dn: float,
    ) -> tuple[Vec3 | None, float]:
        used = min(len(bounds), self.rows)
        barrier = np.hstack([normals[:used], -np.ones((used, 1))])
        a_matrix = sparse.csc_matrix(np.vstack([barrier, self._fixed_rows]))
        b = np.concatenate([bounds[:used], np.full(8, a_h), (a_up, a_dn, 0.0)])
        q = np.array([-2.0 * a_cmd[0], -2.0 * a_cmd[1], -2.0 * a_cmd[2], self.SLACK_WEIGHT])
        solver = clarabel.DefaultSolver(
            self._p, q, a_matrix, b, [clarabel.NonnegativeConeT(len(b))], self._settings
        )
        result = solver.solve()
        x = np.asarray(result.x)
        # AlmostSolved: within Clarabel's reduced tolerances (1e-5 scale), still a fine command.
        accepted = (clarabel.SolverStatus.Solved, clarabel.SolverStatus.AlmostSolved)
        if result.status not in accepted or not np.all(np.isfinite(x)):
            return None, math.nan
        return (float(x[0]), float(x[1]), float(x[2])), float(x[3])


class SafetyFilterCore:
    """The pure filter: state estimate + commanded acceleration → filtered acceleration."""

    def __init__(
        self,
        airspace: LocalAirspace,
        params: SafetyFilterParams | None = None,
        *,
        body_radius_m: float,
    ) -> None:
        self.airspace = airspace
        self.params = params or SafetyFilterParams()
        self.body_radius_m = body_radius_m
        self.qp = DirectBarrierQP(int(self.params.max_pieces), self.params)
        self.stats = SafetyFilterStats()
        self._disturbance: Vec3 = (0.0, 0.0, 0.0)
        self._last_v: Vec3 | None = None
        self._last_out: Vec3 | None = None
        self._last_t: float | None = None
        self._exit: _ExitState | None = None
        self._degraded_since_s: float | None = None

    # -- helpers --------------------------------------------------------------------------

    def _observe_disturbance(self, t_s: float, v: Vec3) -> None:
        p = self.params
        if self._last_v is not None and self._last_out is not None and self._last_t is not None:
            dt = t_s - self._last_t
            if 0.0 < dt < 0.5:
                alpha = dt / (dt + p.disturbance_tau_s)
                d = list(self._disturbance)
                for i in range(3):
                    sample = (v[i] - self._last_v[i]) / dt - self._last_out[i]
                    d[i] += alpha * (sample - d[i])
                norm = math.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2)
                if norm > p.disturbance_max_mps2:
                    d = [x * p.disturbance_max_mps2 / norm for x in d]
                self._disturbance = (d[0], d[1], d[2])
        self._last_v = v
        self._last_t = t_s

    def braking_mps2(self, n: Sequence[float]) -> float:
        """Acceleration available to stop motion along n, after disturbance and gust allowance."""
        p = self.params
        dist = self._disturbance
        a_bh = max(
            0.5,
            p.brake_fraction * p.horizontal_accel_max_mps2
            - math.hypot(dist[0], dist[1])
            - p.gust_allowance_mps2,
        )
        a_bz = p.brake_descent_mps2 if n[2] < 0.0 else p.brake_climb_mps2
        a_bz = max(0.3, a_bz - abs(dist[2]))
        nh = math.hypot(n[0], n[1])
        return 1.0 / math.sqrt((nh / a_bh) ** 2 + (n[2] / a_bz) ** 2)

    def _stopping_distance_m(self, speed_mps: float) -> float:
        p = self.params
        a_min = min(self.braking_mps2((1.0, 0.0, 0.0)), self.braking_mps2((0.0, 0.0, 1.0)))
        return speed_mps * p.reaction_time_s + speed_mps**2 / (2.0 * a_min)

    def _margin_m(self, n: Sequence[float], std: Vec3) -> float:
        p = self.params
        s = max(p.min_position_std_m, 0.0)
        sx, sy, sz = (max(s, std[0]), max(s, std[1]), max(s, std[2]))
        sigma_n = math.sqrt((n[0] * sx) ** 2 + (n[1] * sy) ** 2 + (n[2] * sz) ** 2)
        return self.body_radius_m + p.margin_m + p.sigma_k * sigma_n

    def _bounds(self) -> tuple[float, float, float]:
        p = self.params
        return p.horizontal_accel_max_mps2, p.accel_up_max_mps2, p.accel_down_max_mps2

    def _clip(self, a: Sequence[float]) -> Vec3:
        a_h, a_up, a_dn = self._bounds()
        ax, ay, az = a[0], a[1], a[2]
        h = math.hypot(ax, ay)
        if h > a_h:
            ax, ay = ax * a_h / h, ay * a_h / h
        return (ax, ay, min(max(az, -a_dn), a_up))

    # -- the filter -----------------------------------------------------------------------

    def step(
        self,
        t_s: float,
        position_m: Vec3,
        velocity_mps: Vec3,
        position_std_m: Vec3,
        velocity_std_mps: Vec3,
        a_cmd: Vec3,
        *,
        estimate_valid: bool = True,
        receiver_horizontal_std_m: float = 0.0,
        position_fix_ok: bool = True,
    ) -> FilterDecision:
        """One filter tick. `receiver_horizontal_std_m` is the GNSS receiver's own reported
        accuracy: a GNSS-aided estimate is never better than the receiver's slowly varying
        error, whatever its covariance says (an EKF that treats that error as white grows
        confident by averaging it — measured: σ 0.35 m reported against 2–3 m real errors
        with `standard` GNSS), so it floors the horizontal σ."""
        floor = receiver_horizontal_std_m if math.isfinite(receiver_horizontal_std_m) else 0.0
        std = (
            max(position_std_m[0], floor),
            max(position_std_m[1], floor),
            position_std_m[2],
        )
        decision = self._decide(
            t_s,
            position_m,
            velocity_mps,
            std,
            velocity_std_mps,
            a_cmd,
            estimate_valid,
            position_fix_ok,
        )
        self._last_out = decision.acceleration_enu_mps2
        return decision

    def _decide(
        self,
        t_s: float,
        p_m: Vec3,
        v: Vec3,
        std: Vec3,
        vstd: Vec3,
        a_cmd: Vec3,
        valid: bool,
        fix_ok: bool = True,
    ) -> FilterDecision:
        prm = self.params
        enforced = self.airspace.enforced(t_s)
        if not enforced:
            self._exit = None
            self._observe_disturbance(t_s, v)
            return FilterDecision(a_cmd, "pass")
        speed = math.sqrt(v[0] ** 2 + v[1] ** 2 + v[2] ** 2)
        reach = (
            self._stopping_distance_m(speed + prm.sigma_k * max(vstd))
            + self.body_radius_m
            + prm.margin_m
            + prm.sigma_k * max(prm.min_position_std_m, *std)
        )
        radius = max(prm.lookahead_min_m, 2.0 * reach)
        sigma_h = math.hypot(std[0], std[1])
        cause = ""
        if not valid:
            cause = "estimate_invalid"
        elif not fix_ok:
            cause = "gnss_lost"
        elif sigma_h > prm.max_position_std_m:
            cause = "position_uncertain"
        if cause:
            # A poor estimate near a boundary: stop and hold rather than trust the position,
            # then land if it does not recover.
            near = self.airspace.pieces_near(p_m, radius + prm.degraded_reach_m, enforced)
            if near or not valid:
                if self._degraded_since_s is None:
                    self._degraded_since_s = t_s
                zone = self.airspace.volumes[near[0].volume].label if near else ""
                if t_s - self._degraded_since_s >= prm.hold_before_land_s:
                    return FilterDecision(self._land(v), "land", cause, zone)
                return FilterDecision(self._brake(v, a_cmd), "hold", cause, zone)
        self._degraded_since_s = None
        self._observe_disturbance(t_s, v)

        inside = self._violated_volume(p_m, enforced)
        if inside is not None or self._exit is not None:
            out = self._exit_step(t_s, p_m, v, std, inside)
            if out is not None:
                return out

        pieces = self._union_pieces(
            p_m, radius, self.airspace.pieces_near(p_m, radius, enforced), enforced
        )
        if not pieces:
            return FilterDecision(a_cmd, "pass")
        pieces = _distinct_nearest(pieces, int(prm.max_pieces))
        normals = np.empty((len(pieces), 3))
        bounds = np.empty(len(pieces))
        dist = self._disturbance
        violated = False
        for k, piece in enumerate(pieces):
            n = piece.normal
            v_n = v[0] * n[0] + v[1] * n[1] + v[2] * n[2]
            v_std_n = math.sqrt(
                (n[0] * vstd[0]) ** 2 + (n[1] * vstd[1]) ** 2 + (n[2] * vstd[2]) ** 2
            )
            v_n += prm.sigma_k * v_std_n
            approach = v_n if v_n > 0.0 else 0.0
            a_b = self.braking_mps2(n)
            h = (
                piece.distance_m
                - self._margin_m(n, std)
                - approach * prm.reaction_time_s
                - approach * approach / (2.0 * a_b)
            )
            c = prm.reaction_time_s + approach / a_b
            if c < 1e-3:
                c = 1e-3
            b = (prm.barrier_gain_per_s * h - v_n) / c - (
                n[0] * dist[0] + n[1] * dist[1] + n[2] * dist[2]
            )
            normals[k] = n
            bounds[k] = b
            if n[0] * a_cmd[0] + n[1] * a_cmd[1] + n[2] * a_cmd[2] > b:
                violated = True
        clipped = self._clip(a_cmd)
        if not violated and clipped == tuple(a_cmd):
            return FilterDecision(a_cmd, "pass", rows=len(pieces))
        a_h, a_up, a_dn = self._bounds()
        started = time.perf_counter()
        solution, _slack = self.qp.solve(a_cmd, normals, bounds, a_h, a_up, a_dn)
        elapsed = time.perf_counter() - started
        self.stats.solves += 1
        self.stats.solve_times_s.append(elapsed)
        zone = self.airspace.volumes[pieces[0].volume].label
        if solution is None:
            self.stats.failed_solves += 1
            log.warning("safety filter: QP solve failed at t=%.2f s; braking", t_s)
            return FilterDecision(
                self._brake(v, a_cmd), "brake", "solver_failure", zone, len(pieces), True, elapsed
            )
        changed = math.dist(solution, a_cmd) > prm.intervention_threshold_mps2
        action = "limit" if violated and changed else "pass"
        return FilterDecision(
            solution,
            action,
            "geofence" if action != "pass" else "",
            zone,
            len(pieces),
            True,
            elapsed,
        )

    def _land(self, v: Vec3) -> Vec3:
        """Descend at `land_speed_mps` with the thrust level. No horizontal demand: without a
        position fix the horizontal velocity estimate drifts (chasing it skidded the landed
        vehicle 100 m in a test flight), while the vertical one stays baro-aided."""
        if not math.isfinite(v[2]):
            return (0.0, 0.0, 0.0)
        return self._clip((0.0, 0.0, 2.0 * (-self.params.land_speed_mps - v[2])))

    def _brake(self, v: Vec3, a_cmd: Vec3) -> Vec3:
        """Stop: cancel the velocity at the braking limit, hold height."""
        gain = 2.0
        if not all(math.isfinite(x) for x in v):
            # No trustworthy velocity (the estimator flags its state invalid when it went
            # non-finite): level thrust, no horizontal demand.
            return (0.0, 0.0, 0.0)
        return self._clip((-gain * v[0], -gain * v[1], -gain * v[2]))

    # -- leaving a volume ---------------------------------------------------------------------

    def _violated_volume(self, p_m: Vec3, enforced: list[int]) -> int | None:
        """The enforced volume whose illegal side holds the vehicle's centre, if any.
        Inclusion volumes count as their union: outside one but inside another is legal (the
        nearest inclusion volume is returned when the vehicle is outside all of them)."""
        worst, worst_margin = None, 0.0
        inclusion_best, inclusion_margin = None, -math.inf
        near = set(self.airspace.near_bounds(p_m[0], p_m[1], 0.0, enforced))
        for i in enforced:
            v = self.airspace.volumes[i]
            if v.kind is not ZoneKind.INCLUSION and i not in near:
                continue
            if v.kind is ZoneKind.INCLUSION:
                margin = v.legal_margin_m(p_m)
                if margin > inclusion_margin:
                    inclusion_best, inclusion_margin = i, margin
                continue
            # Cheap rejection before the exact distance.
            if p_m[2] < v.floor_z_m or p_m[2] > v.ceiling_z_m:
                continue
            if not self.airspace.inside_horizontal(i, p_m[0], p_m[1]):
                continue
            margin = v.legal_margin_m(p_m)
            if margin < worst_margin:
                worst, worst_margin = i, margin
        if inclusion_best is not None and inclusion_margin < worst_margin:
            worst = inclusion_best
        return worst

    def _union_pieces(
        self, p_m: Vec3, radius: float, pieces: list[BoundaryPiece], enforced: list[int]
    ) -> list[BoundaryPiece]:
        """Inclusion volumes bound their union: drop pieces that lie inside another enforced
        inclusion volume, and add the points where two of their boundaries cross (the union's
        corners, which no single volume's nearest point stands for)."""
        volumes = self.airspace.volumes
        inclusion = [i for i in enforced if volumes[i].kind is ZoneKind.INCLUSION]
        if len(inclusion) < 2:
            return pieces
        kept = []
        for piece in pieces:
            if volumes[piece.volume].kind is ZoneKind.INCLUSION and any(
                j != piece.volume and volumes[j].legal_margin_m(piece.nearest_m) > 0.01
                for j in inclusion
            ):
                continue
            kept.append(piece)
        x, y, z = p_m
        for cx, cy, lo, hi in self.airspace.inclusion_corners(inclusion):
            q = (cx, cy, min(max(z, lo), hi))
            d = math.dist(q, p_m)
            if 1e-9 < d <= radius:
                n = ((q[0] - x) / d, (q[1] - y) / d, (q[2] - z) / d)
                kept.append(BoundaryPiece(inclusion[0], q, d, n))
        return kept

    def _exit_step(
        self, t_s: float, p_m: Vec3, v: Vec3, std: Vec3, inside: int | None
    ) -> FilterDecision | None:
        prm = self.params
        if inside is not None and (self._exit is None or self._exit.outside_since_s is not None):
            volume = self.airspace.volumes[inside]
            clearance = self._margin_m((1.0, 0.0, 0.0), std) + prm.exit_clearance_m
            target = _exit_target(volume, p_m, clearance)
            self._exit = _ExitState(target, volume.label, "zone_active_inside")
            log.warning("t=%.2f s: inside active restricted volume %s; leaving", t_s, volume.label)
        state = self._exit
        if state is None:
            return None
        if inside is None and state.outside_since_s is None:
            state.outside_since_s = t_s
        if state.outside_since_s is not None and t_s - state.outside_since_s > prm.exit_hold_s:
            self._exit = None
            return None
        a = self._go_to(state.target_m, p_m, v)
        action = "exit" if state.outside_since_s is None else "hold"
        return FilterDecision(a, action, state.cause, state.zone)

    def _go_to(self, target: Vec3, p_m: Vec3, v: Vec3) -> Vec3:
        prm = self.params
        e = (target[0] - p_m[0], target[1] - p_m[1], target[2] - p_m[2])
        v_des = [1.0 * e[0], 1.0 * e[1], 1.0 * e[2]]
        norm = math.sqrt(sum(x * x for x in v_des))
        if norm > prm.exit_speed_mps:
            v_des = [x * prm.exit_speed_mps / norm for x in v_des]
        d = self._disturbance
        a = [2.0 * (v_des[i] - v[i]) - d[i] for i in range(3)]
        return self._clip(a)


def _exit_target(volume: LocalVolume, p: Vec3, clearance_m: float) -> Vec3:
    """Nearest point on the legal side of the volume's boundary, `clearance_m` beyond it."""
    x, y, z = p
    candidates: list[tuple[float, Vec3, Vec3]] = []  # (distance, boundary point, outward unit)
    if volume.polygon is None:
        cx, cy = volume.circle_xy_m  # type: ignore[misc]
        dx, dy = x - cx, y - cy
        rho = math.hypot(dx, dy) or 1e-9
        ux, uy = dx / rho, dy / rho
        qx, qy = cx + volume.radius_m * ux, cy + volume.radius_m * uy
    else:
        q = shapely.shortest_line(shapely.Point(x, y), volume.polygon.boundary)
        (_, _), (qx, qy) = shapely.get_coordinates(q)
        rho = math.hypot(qx - x, qy - y) or 1e-9
        ux, uy = (qx - x) / rho, (qy - y) / rho
    if volume.kind is ZoneKind.EXCLUSION:
        # From inside, the direction to the nearest wall point is outward (radially for a circle).
        sign = 1.0
        zc = min(max(z, volume.floor_z_m), volume.ceiling_z_m)
        candidates.append((math.hypot(qx - x, qy - y), (qx, qy, zc), (sign * ux, sign * uy, 0.0)))
        if math.isfinite(volume.floor_z_m) and volume.floor_z_m > clearance_m:
            candidates.append((z - volume.floor_z_m, (x, y, volume.floor_z_m), (0.0, 0.0, -1.0)))
        if math.isfinite(volume.ceiling_z_m):
            candidates.append((volume.ceiling_z_m - z, (x, y, volume.ceiling_z_m), (0.0, 0.0, 1.0)))
    else:
        inside_h = volume.horizontal_signed_distance_m(x, y) < 0.0
        if inside_h:
            tx, ty = x, y
        else:
            tx, ty = qx, qy
            if volume.polygon is None:
                ux, uy = -ux, -uy  # radial inward
        tz = min(max(z, volume.floor_z_m), volume.ceiling_z_m)
        d = math.dist((x, y, z), (tx, ty, tz))
        direction = ((tx - x) / d, (ty - y) / d, (tz - z) / d) if d > 1e-9 else (0.0, 0.0, 0.0)
        candidates.append((d, (tx, ty, tz), direction))
    _, point, out = min(candidates, key=lambda c: c[0])
    return (
        point[0] + out[0] * clearance_m,
        point[1] + out[1] * clearance_m,
        max(point[2] + out[2] * clearance_m, 1.0),
    )


def _distinct_nearest(pieces: list[BoundaryPiece], limit: int) -> list[BoundaryPiece]:
    """The nearest `limit` pieces, merging those that share a nearest point (a polygon vertex
    is the nearest point of both its edges)."""
    pieces = sorted(pieces, key=lambda q: q.distance_m)
    out: list[BoundaryPiece] = []
    for piece in pieces:
        if any(
            abs(piece.nearest_m[0] - o.nearest_m[0]) < 1e-3
            and abs(piece.nearest_m[1] - o.nearest_m[1]) < 1e-3
            and abs(piece.nearest_m[2] - o.nearest_m[2]) < 1e-3
            for o in out
        ):
            continue
        out.append(piece)
        if len(out) == limit:
            break
    return out


class SafetyFilter(Component):
    """The filter as a component of the control chain (hosted by the control node).

    Ports: odometry (state/odometry), demand (control/acceleration_demand, from the position
    loop), gnss (sensors/gnss: only the receiver's reported accuracy is used) → acceleration
    (control/acceleration_setpoint, to the attitude loop), events
    (safety/events: one "start" and one "end" per intervention episode).
    """

    inputs = {
        "odometry": Port(Odometry, "state/odometry"),
        "demand": Port(AccelerationSetpoint, "control/acceleration_demand"),
        "gnss": Port(NavSatFix, "sensors/gnss"),
        "zone_updates": Port(ZoneUpdate, ZONE_UPDATES_TOPIC, queued=True),
    }
    outputs = {
        "acceleration": Port(AccelerationSetpoint, "control/acceleration_setpoint"),
        "events": Port(SafetyEvent, "safety/events"),
    }

    def __init__(
        self,
        name: str,
        namespace: str = "",
        *,
        airspace: LocalAirspace,
        airframe: QuadrotorAirframe,
        params: SafetyFilterParams | None = None,
        origin: GeoOrigin | None = None,
        authorisations: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(name, namespace)
        self.params = params or SafetyFilterParams()
        self.updater = AirspaceUpdater(airspace, origin or GeoOrigin(), authorisations)
        self.rate_hz = self.params.rate_hz
        self.core = SafetyFilterCore(airspace, self.params, body_radius_m=airframe.body_radius_m)
        self.episodes: list[dict] = []
        self._episode: dict | None = None
        self._last_intervention_s = -math.inf

    def step(
        self,
        t_s: float,
        odometry: Odometry | None,
        demand: AccelerationSetpoint | None,
        gnss: NavSatFix | None = None,
        zone_updates: list[ZoneUpdate] | None = None,
    ) -> dict | None:
        for update in zone_updates or ():
            if self.updater.apply(update.source, update.document_json):
                self.core.airspace = self.updater.airspace
        if demand is None:
            return None
        a_cmd = demand.acceleration_enu_mps2
        if not all(math.isfinite(x) for x in a_cmd):
            a_cmd = (0.0, 0.0, 0.0)
        if odometry is None:
            # Nothing to filter against yet (on the ground before the first estimate).
            return {"acceleration": replace(demand, t_s=t_s, acceleration_enu_mps2=a_cmd)}
        decision = self.core.step(
            t_s,
            odometry.position_enu_m,
            odometry.velocity_enu_mps,
            odometry.position_std_m,
            odometry.velocity_std_mps,
            a_cmd,
            estimate_valid=odometry.valid,
            receiver_horizontal_std_m=gnss.horizontal_std_m if gnss is not None else 0.0,
            position_fix_ok=self._fix_ok(t_s, gnss),
        )
        out: dict = {
            "acceleration": AccelerationSetpoint(
                t_s,
                decision.acceleration_enu_mps2,
                demand.velocity_demand_enu_mps,
                demand.yaw_rad,
                demand.yaw_rate_radps,
            )
        }
        event = self._account(t_s, decision)
        if event is not None:
            out["events"] = event
        return out

    def _fix_ok(self, t_s: float, gnss: NavSatFix | None) -> bool:
        """False once a receiver that had a fix has been silent (or fix-less) for longer than
        gnss_timeout_s; True before the first fix (nothing to lose yet)."""
        if gnss is None:
            return True
        return gnss.status >= 0 and t_s - gnss.t_s <= self.params.gnss_timeout_s

    def _account(self, t_s: float, decision: FilterDecision) -> SafetyEvent | None:
        intervening = decision.action != "pass"
        if intervening:
            self._last_intervention_s = t_s
            if self._episode is None:
                self._episode = {
                    "t": round(t_s, 6),
                    "cause": decision.cause,
                    "action": decision.action,
                    "zone": decision.zone,
                }
                log.info(
                    "%s: safety intervention at %.2f s: %s", self.qualified_name, t_s, decision
                )
                return SafetyEvent(t_s, "start", decision.cause, decision.action, decision.zone)
            return None
        if (
            self._episode is not None
            and t_s - self._last_intervention_s >= self.params.episode_gap_s
        ):
            return self._close(self._last_intervention_s)
        return None

    def _close(self, end_s: float) -> SafetyEvent:
        episode = self._episode
        assert episode is not None
        episode["duration_s"] = round(max(end_s - episode["t"], 0.0), 6)
        self.episodes.append(episode)
        self._episode = None
        return SafetyEvent(
            end_s,
            "end",
            episode["cause"],
            episode["action"],
            episode["zone"],
            episode["duration_s"],
        )

    def finish(self, t_s: float) -> None:
        if self._episode is not None:
            self._close(self._last_intervention_s)

    def failsafe_events(self) -> list[dict]:
        return [
            {
                "t": e["t"],
                "cause": e["cause"],
                "action": e["action"],
                "duration_s": e["duration_s"],
                "zone": e["zone"],
            }
            for e in self.episodes
        ]


__all__ = [
    "BarrierQP",
    "FilterDecision",
    "SafetyFilter",
    "SafetyFilterCore",
    "SafetyFilterParams",
]
