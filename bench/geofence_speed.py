"""Geofence speed: the safety filter's QP and step, airspace queries at scale, and routing.

    python bench/geofence_speed.py [--seed S] [--solves N] [--zones Z] [--vertices-per-zone V]
                                   [--queries Q] [--routing-instances R]

Prints one JSON object on its last line (T = a timing block: "p50_ms", "p99_ms", "max_ms"
of wall time, "cpu_p50_ms", "cpu_p99_ms" of CPU time):
    {"qp": {"instances", "rows_p50", "rows_max", "slack_used", "max_difference_mps2",
            "direct": T, "cvxpy": T},
     "filter_step": {"steps", "solved_steps", **T},
     "filter_step_many_zones": {"volumes", "steps", "solved_steps", **T},
     "airspace": {"zones", "vertices", "segments", "local_volumes_s", "index_s", "load_s"},
     "nearest_boundary": {"queries", **T},
     "pieces_near": {"queries", "radius_m", "volumes", "pieces_p50_random_point",
                     "pieces_p50_near_boundary", "random_point": T, "near_boundary": T},
     "routing": {"instances", "polygons", "vertices_total", "clearance_m", **T},
     "targets": {"solve_p99_ms", "query_p99_ms", "routing_ms"},
     "met": {"wall" | "cpu": {"solve_direct", "solve_cvxpy", "nearest_boundary", "pieces_near",
                               "routing"}},
     "seed", "cpus", "load_average"}
"met" compares the p99 of wall time and of CPU time with the targets (routing: p99 over the
instances of each one's best-of-3 time); on a busy machine only the CPU figures are meaningful.

What is timed (all on one core, as the targets are stated; wall time by `time.perf_counter`,
CPU time by `time.thread_time`, see `Timings`):
- qp: ≥ `--solves` QP instances recorded from `SafetyFilterCore` itself (its `qp.solve` wrapped
  to record its arguments) for a vehicle 2–40 m from the reflex corner of an L-shaped exclusion
  zone, at random speeds 0–15 m/s mostly toward the corner, with a velocity-loop command
  toward it. Each instance is solved by `DirectBarrierQP` (what the filter runs) and by the
  cvxpy `BarrierQP` (the specification), same instances, one call each.
- filter_step: the whole `SafetyFilterCore.step` at 50 Hz in closed loop (a point mass with a
  0.1 s acceleration lag) on 40 seeded 8-s approaches at 5–15 m/s toward that corner; every
  step is near the zone, solves or not. filter_step_many_zones: the first 5 approaches with the
  1000-zone airspace below added around (the filter visits every enforced volume each step).
- airspace: `--zones` random star polygons of `--vertices-per-zone` vertices (radius 50–300 m,
  centres uniform within 1–10 km of the origin, surface to 120 m AGL, permanent) as `Zone`s;
  load = `local_volumes` (geodesic → ENU) + `LocalAirspace` (STRtree over every wall).
- nearest_boundary and pieces_near: `--queries` uniform random points within 10 km, and for
  pieces_near also points within 30 m of a random vertex ("near_boundary"), with all volumes
  enforced and the radius the filter uses at 15 m/s (2 × its stopping reach, ~91 m).
- routing: `kestrel.planning.routing.route_around` on seeded instances of 10 star polygons of
  20 vertices (200 in total) in a 1 km square, start and goal on its west and east sides,
  best of 3 calls per instance (one-off interpreter noise excluded), clearance 20 m.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import shapely
from pyproj import Geod

from kestrel.geodesy import GeoOrigin
from kestrel.planning.airspace.local import LocalAirspace, local_volumes
from kestrel.planning.airspace.model import (
    Limit,
    PolygonShape,
    Reference,
    Restriction,
    Volume,
    Zone,
)
from kestrel.planning.routing import route_around
from kestrel.planning.safety_filter import (
    BarrierQP,
    DirectBarrierQP,
    SafetyFilterCore,
    SafetyFilterParams,
)

TARGET_SOLVE_P99_MS = 2.0
TARGET_QUERY_P99_MS = 1.0
TARGET_ROUTING_MS = 100.0
ORIGIN = GeoOrigin(lat_deg=47.3977, lon_deg=8.5456, alt_m=408.0, geoid_undulation_m=48.0)
START_UTC = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
BODY_RADIUS_M = 0.36
RATE_HZ = 50.0
LAG_S = 0.1
CEILING = Limit(120.0, Reference.AGL)
NOTCH_M = [
    (0.0, 0.0),
    (0.0, 300.0),
    (-300.0, 300.0),
    (-300.0, -300.0),
    (300.0, -300.0),
    (300.0, 0.0),
]
"""L-shaped exclusion whose reflex vertex (0, 0) opens a 90° notch x ≥ 0, y ≥ 0 (two walls
converging: the case with the most barrier rows)."""
GEOD = Geod(ellps="WGS84")


class Timings:
    """Wall-clock and CPU time of each timed call.

    Both are kept because a shared machine preempts the process: the wall time of a call then
    includes time spent descheduled (p99 ≈ a scheduler quantum), which its CPU time
    (`time.thread_time`, CLOCK_THREAD_CPUTIME_ID) does not. On an idle core the two agree.
    """

    def __init__(self) -> None:
        self.wall_s: list[float] = []
        self.cpu_s: list[float] = []

    def call(self, fn, *args):
        c0, w0 = time.thread_time(), time.perf_counter()
        result = fn(*args)
        w1, c1 = time.perf_counter(), time.thread_time()
        self.wall_s.append(w1 - w0)
        self.cpu_s.append(c1 - c0)
        return result

    def summary(self) -> dict:
        wall = 1e3 * np.asarray(self.wall_s)
        cpu = 1e3 * np.asarray(self.cpu_s)
        return {
            "p50_ms": round(float(np.percentile(wall, 50)), 4),
            "p99_ms": round(float(np.percentile(wall, 99)), 4),
            "max_ms": round(float(wall.max()), 4),
            "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 4),
            "cpu_p99_ms": round(float(np.percentile(cpu, 99)), 4),
        }


def latlon(east_m: float, north_m: float) -> tuple[float, float]:
    lat, lon, _ = ORIGIN.enu_to_geodetic((east_m, north_m, 0.0))
    return lat, lon


def notch_zone() -> Zone:
    shape = PolygonShape(tuple(latlon(*p) for p in NOTCH_M))
    return Zone(0, "NOTCH", "notch", Restriction.PROHIBITED, (Volume(shape, None, CEILING),))


def velocity_loop(v_demand, v, limit_mps2: float = 6.0) -> tuple[float, float, float]:
    a = [2.0 * (v_demand[i] - v[i]) for i in range(3)]
    norm = math.sqrt(a[0] ** 2 + a[1] ** 2 + a[2] ** 2)
    if norm > limit_mps2:
        a = [x * limit_mps2 / norm for x in a]
    return (a[0], a[1], a[2])


# -- QP -----------------------------------------------------------------------------------------


class _Recorder:
    """Stands in for the core's QP: solves with the real one and keeps the arguments."""

    def __init__(self, qp: DirectBarrierQP) -> None:
        self.qp = qp
        self.calls: list[tuple] = []

    def solve(self, a_cmd, normals, bounds, a_h, a_up, a_dn):
        self.calls.append((tuple(a_cmd), normals.copy(), bounds.copy(), a_h, a_up, a_dn))
        return self.qp.solve(a_cmd, normals, bounds, a_h, a_up, a_dn)


def record_qp_instances(rng: np.random.Generator, count: int, params: SafetyFilterParams):
    """QP instances as the filter builds them near the notch's corner."""
    space = LocalAirspace(local_volumes([notch_zone()], ORIGIN), START_UTC)
    core = SafetyFilterCore(space, params, body_radius_m=BODY_RADIUS_M)
    recorder = _Recorder(core.qp)
    core.qp = recorder  # type: ignore[assignment]
    t = 0.0
    while len(recorder.calls) < count:
        # A point in the notch 2–40 m from the corner, at 0–15 m/s, heading within ±60° of
        # the corner, commanded on toward the corner at up to 15 m/s; 1 s apart so that the
        # disturbance observer stays out of it.
        bearing = rng.uniform(0.05, 0.5 * math.pi - 0.05)
        distance = rng.uniform(2.0, 40.0)
        p = (distance * math.cos(bearing), distance * math.sin(bearing), rng.uniform(5.0, 110.0))
        heading = bearing + math.pi + rng.uniform(-math.pi / 3, math.pi / 3)
        speed = rng.uniform(0.0, 15.0)
        v = (speed * math.cos(heading), speed * math.sin(heading), rng.uniform(-1.0, 1.0))
        demand = rng.uniform(5.0, 15.0)
        v_demand = (demand * math.cos(heading), demand * math.sin(heading), 0.0)
        core.step(t, p, v, (0.3, 0.3, 0.5), (0.1, 0.1, 0.1), velocity_loop(v_demand, v))
        t += 1.0
    return recorder.calls[:count]


def time_qp(instances, params: SafetyFilterParams) -> dict:
    direct = DirectBarrierQP(params.max_pieces, params)
    spec = BarrierQP(params.max_pieces, params)
    for call in instances[:20]:  # warm-up (first cvxpy solve compiles the problem)
        direct.solve(*call)
        spec.solve(*call)
    t_direct, t_spec, differences, slack_used = Timings(), Timings(), [], 0
    for call in instances:
        a_direct, slack = t_direct.call(direct.solve, *call)
        a_spec, _ = t_spec.call(spec.solve, *call)
        if a_direct is not None and a_spec is not None:
            differences.append(max(abs(x - y) for x, y in zip(a_direct, a_spec, strict=True)))
            slack_used += slack > 1e-6
    rows = [len(call[2]) for call in instances]
    return {
        "instances": len(instances),
        "rows_p50": int(np.median(rows)),
        "rows_max": int(max(rows)),
        "slack_used": int(slack_used),
        "max_difference_mps2": float(f"{max(differences):.3g}"),
        "direct": t_direct.summary(),
        "cvxpy": t_spec.summary(),
    }


# -- filter step --------------------------------------------------------------------------------


def time_filter_steps(
    space: LocalAirspace, params: SafetyFilterParams, seed: int, approaches: int
) -> dict:
    """Closed-loop approaches to the notch's corner, every SafetyFilterCore.step timed."""
    dt = 1.0 / RATE_HZ
    times, solved = Timings(), 0
    for k in range(approaches):
        rng = np.random.default_rng([seed, 7, k])
        core = SafetyFilterCore(space, params, body_radius_m=BODY_RADIUS_M)
        bearing = rng.uniform(0.2, 0.5 * math.pi - 0.2)
        start = rng.uniform(40.0, 80.0)
        p = [start * math.cos(bearing), start * math.sin(bearing), 50.0]
        speed = rng.uniform(5.0, 15.0)
        v_demand = (-speed * math.cos(bearing), -speed * math.sin(bearing), 0.0)
        v, a = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
        for i in range(round(8.0 * RATE_HZ)):
            cmd = velocity_loop(v_demand, v)
            decision = times.call(
                core.step, i * dt, tuple(p), tuple(v), (0.3, 0.3, 0.5), (0.1, 0.1, 0.1), cmd
            )
            solved += decision.solved
            out = decision.acceleration_enu_mps2
            for j in range(3):
                a[j] += (out[j] - a[j]) * dt / LAG_S
                p[j] += v[j] * dt + 0.5 * a[j] * dt * dt
                v[j] += a[j] * dt
    return {"steps": len(times.wall_s), "solved_steps": solved, **times.summary()}


# -- airspace at scale --------------------------------------------------------------------------


def random_zones(rng: np.random.Generator, zones: int, vertices: int) -> list[Zone]:
    """Star polygons, centres uniform within 10 km of the origin but ≥ 1 km from it (clear of
    the notch zone the filter is timed at), radius 50–300 m."""
    out = []
    for k in range(zones):
        centre_distance = 10_000.0 * math.sqrt(rng.uniform(0.01, 1.0))
        lon0, lat0, _ = GEOD.fwd(
            ORIGIN.lon_deg, ORIGIN.lat_deg, rng.uniform(0.0, 360.0), centre_distance
        )
        azimuths = np.sort(rng.uniform(0.0, 360.0, vertices))
        radii = rng.uniform(50.0, 300.0) * rng.uniform(0.4, 1.0, vertices)
        lons, lats, _ = GEOD.fwd(np.full(vertices, lon0), np.full(vertices, lat0), azimuths, radii)
        shape = PolygonShape(tuple(zip(lats.tolist(), lons.tolist(), strict=True)))
        out.append(
            Zone(
                k, f"Z{k:04d}", f"zone {k}", Restriction.PROHIBITED, (Volume(shape, None, CEILING),)
            )
        )
    return out


def time_airspace(zones: list[Zone]) -> tuple[dict, LocalAirspace]:
    t0 = time.perf_counter()
    volumes = local_volumes(zones, ORIGIN)
    t1 = time.perf_counter()
    space = LocalAirspace(volumes, START_UTC)
    t2 = time.perf_counter()
    load = {
        "zones": len(zones),
        "vertices": int(sum(len(z.volumes[0].shape.exterior) for z in zones)),
        "segments": space.segment_count,
        "local_volumes_s": round(t1 - t0, 3),
        "index_s": round(t2 - t1, 3),
        "load_s": round(t2 - t0, 3),
    }
    return load, space


def random_points(rng: np.random.Generator, count: int) -> np.ndarray:
    r = 10_000.0 * np.sqrt(rng.uniform(size=count))
    theta = rng.uniform(0.0, 2.0 * math.pi, count)
    return np.column_stack([r * np.cos(theta), r * np.sin(theta)])


def points_near_boundaries(
    rng: np.random.Generator, space: LocalAirspace, count: int
) -> np.ndarray:
    coords = np.concatenate(
        [
            shapely.get_coordinates(v.polygon.exterior)
            for v in space.volumes
            if v.polygon is not None
        ]
    )
    picks = coords[rng.integers(0, len(coords), count)]
    return picks + rng.uniform(-30.0, 30.0, (count, 2))


def time_nearest_boundary(space: LocalAirspace, points: np.ndarray) -> dict:
    times = Timings()
    for x, y in points.tolist():
        times.call(space.nearest_boundary, x, y)
    return {"queries": len(times.wall_s), **times.summary()}


def time_pieces_near(
    space: LocalAirspace, points: np.ndarray, radius_m: float
) -> tuple[dict, list[int]]:
    enforced = space.enforced(0.0)
    times, counts = Timings(), []
    for x, y in points.tolist():
        pieces = times.call(space.pieces_near, (x, y, 50.0), radius_m, enforced)
        counts.append(len(pieces))
    return times.summary(), counts


def lookahead_m(params: SafetyFilterParams, speed_mps: float) -> float:
    """The radius within which the filter gathers boundary pieces at `speed_mps` (calm air,
    σ at its floor): twice the stopping reach v·τ + v²/(2 a_b) + body + margin + k·σ, a_b the
    smaller of the horizontal braking (brake_fraction·a_h − gust allowance) and the climb
    braking (safety_filter.py, SafetyFilterCore._decide)."""
    a_b = min(
        params.brake_fraction * params.horizontal_accel_max_mps2 - params.gust_allowance_mps2,
        params.brake_climb_mps2,
    )
    reach = (
        speed_mps * params.reaction_time_s
        + speed_mps**2 / (2.0 * a_b)
        + BODY_RADIUS_M
        + params.margin_m
        + params.sigma_k * params.min_position_std_m
    )
    return max(params.lookahead_min_m, 2.0 * reach)


# -- routing -----------------------------------------------------------------------------------


def star(rng: np.random.Generator, centre: tuple[float, float], radius_m: float, vertices: int):
    angles = np.sort(rng.uniform(0.0, 2.0 * math.pi, vertices))
    radii = radius_m * rng.uniform(0.4, 1.0, vertices)
    ring = np.column_stack([centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)])
    return shapely.make_valid(shapely.Polygon(ring))


def time_routing(seed: int, instances: int, clearance_m: float) -> dict:
    times, vertex_counts, polygon_counts = Timings(), [], []
    for k in range(instances):
        rng = np.random.default_rng([seed, 11, k])
        shapes = [
            star(rng, tuple(rng.uniform(-500.0, 500.0, 2)), rng.uniform(40.0, 100.0), 20)
            for _ in range(10)
        ]
        keep_out = [g for s in shapes for g in shapely.get_parts(s) if g.area > 0.0]
        start = (-650.0, float(rng.uniform(-300.0, 300.0)))
        goal = (650.0, float(rng.uniform(-300.0, 300.0)))
        best = Timings()
        for _ in range(3):
            best.call(route_around, start, goal, keep_out, clearance_m)
        times.wall_s.append(min(best.wall_s))
        times.cpu_s.append(min(best.cpu_s))
        vertex_counts.append(sum(len(p.exterior.coords) - 1 for p in keep_out))
        polygon_counts.append(len(keep_out))
    return {
        "instances": instances,
        "polygons": int(np.median(polygon_counts)),
        "vertices_total": int(np.median(vertex_counts)),
        "clearance_m": clearance_m,
        **times.summary(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--solves", type=int, default=2000)
    parser.add_argument("--zones", type=int, default=1000)
    parser.add_argument("--vertices-per-zone", type=int, default=50)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--routing-instances", type=int, default=50)
    parser.add_argument(
        "--cli-queries",
        type=int,
        default=10_000,
        help="`kestrel zones --at` queries against a 1000-zone file (0 skips them)",
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the targets say
    params = SafetyFilterParams()
    rng = np.random.default_rng(args.seed)

    qp = time_qp(record_qp_instances(rng, args.solves, params), params)
    notch_only = LocalAirspace(local_volumes([notch_zone()], ORIGIN), START_UTC)
    step = time_filter_steps(notch_only, params, args.seed, 40)

    zones = random_zones(rng, args.zones, args.vertices_per_zone)
    load, space = time_airspace(zones)
    nearest = time_nearest_boundary(space, random_points(rng, args.queries))
    radius = lookahead_m(params, 15.0)
    random_timing, random_counts = time_pieces_near(space, random_points(rng, args.queries), radius)
    near_timing, near_counts = time_pieces_near(
        space, points_near_boundaries(rng, space, args.queries), radius
    )
    many = LocalAirspace(local_volumes([notch_zone(), *zones], ORIGIN), START_UTC)
    step_many = time_filter_steps(many, params, args.seed, 5)
    routing = time_routing(args.seed, args.routing_instances, 20.0)
    cli_queries = None
    if args.cli_queries:
        # The `kestrel zones --at` path (geodesic, per-volume answers): its own bench, run as is.
        script = Path(__file__).with_name("zones_query_speed.py")
        done = subprocess.run(
            [sys.executable, str(script), "--queries", str(args.cli_queries)],
            capture_output=True,
            text=True,
            check=True,
        )
        cli_queries = json.loads(done.stdout.strip().splitlines()[-1])

    report = {
        "qp": qp,
        "filter_step": step,
        "filter_step_many_zones": {"volumes": len(many.volumes), **step_many},
        "airspace": load,
        "nearest_boundary": nearest,
        "pieces_near": {
            "queries": args.queries,
            "radius_m": round(radius, 1),
            "volumes": len(space.volumes),
            "pieces_p50_random_point": int(np.median(random_counts)),
            "pieces_p50_near_boundary": int(np.median(near_counts)),
            "random_point": random_timing,
            "near_boundary": near_timing,
        },
        "routing": routing,
        "zones_cli_queries": cli_queries,
        "targets": {
            "solve_p99_ms": TARGET_SOLVE_P99_MS,
            "query_p99_ms": TARGET_QUERY_P99_MS,
            "routing_ms": TARGET_ROUTING_MS,
        },
        "met": {
            clock: {
                "solve_direct": qp["direct"][p99] <= TARGET_SOLVE_P99_MS,
                "solve_cvxpy": qp["cvxpy"][p99] <= TARGET_SOLVE_P99_MS,
                "nearest_boundary": nearest[p99] <= TARGET_QUERY_P99_MS,
                "pieces_near": max(random_timing[p99], near_timing[p99]) <= TARGET_QUERY_P99_MS,
                "routing": routing[p99] <= TARGET_ROUTING_MS,
            }
            for clock, p99 in (("wall", "p99_ms"), ("cpu", "cpu_p99_ms"))
        },
        "seed": args.seed,
        "cpus": 1,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
