"""Routing speed: time to route one leg around keep-out polygons (kestrel.planning.routing).

    python bench/routing_speed.py [--instances N] [--seed S] [--clearance-m C]

Prints one JSON object on its last line:
    {"many_polygons": {"instances", "polygons", "vertices_total", "p50_ms", "p99_ms", "max_ms",
                       "graph_nodes_p50", "graph_nodes_max", "pairs_tested_p50", "edges_p50",
                       "direct_legs"},
     "big_nonconvex": {...same keys...}, "clearance_m", "seed", "target_ms"}

Two families of seeded random instances, 200 polygon vertices in total each (the size the
routing speed target is stated for, ≤ 100 ms on one core):
- many_polygons: 10 star-shaped (non-convex) polygons of 20 vertices, radius 40–100 m, centres
  uniform in a 1 km square (they may overlap), start and goal on its west and east edges;
- big_nonconvex: one star-shaped polygon of 200 vertices, radii 35–100 % of 400 m (deep
  pockets), start and goal on either side of it.
Each instance is timed end to end (`find_route`: growing, graph, Dijkstra) as the best of 3
calls, so that one-off interpreter noise does not count; percentiles are over instances.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np
import shapely

from kestrel.planning.routing import RouteResult, find_route

TARGET_MS = 100.0


def star_polygon(
    rng: np.random.Generator,
    center: tuple[float, float],
    radius_m: float,
    vertices: int,
    *,
    min_share: float,
) -> shapely.Polygon:
    """A random star-shaped polygon: sorted random angles, radii in [min_share, 1]·radius_m."""
    angles = np.sort(rng.uniform(0.0, 2.0 * math.pi, vertices))
    radii = radius_m * rng.uniform(min_share, 1.0, vertices)
    x = center[0] + radii * np.cos(angles)
    y = center[1] + radii * np.sin(angles)
    return shapely.make_valid(shapely.Polygon(np.column_stack([x, y])))


def many_polygons(rng: np.random.Generator) -> tuple[tuple, tuple, list[shapely.Polygon]]:
    polygons = [
        star_polygon(
            rng,
            (rng.uniform(-500.0, 500.0), rng.uniform(-500.0, 500.0)),
            rng.uniform(40.0, 100.0),
            20,
            min_share=0.4,
        )
        for _ in range(10)
    ]
    start = (-600.0, rng.uniform(-300.0, 300.0))
    goal = (600.0, rng.uniform(-300.0, 300.0))
    return start, goal, polygons


def big_nonconvex(rng: np.random.Generator) -> tuple[tuple, tuple, list[shapely.Polygon]]:
    polygon = star_polygon(rng, (0.0, 0.0), 400.0, 200, min_share=0.35)
    start = (-600.0, rng.uniform(-200.0, 200.0))
    goal = (600.0, rng.uniform(-200.0, 200.0))
    return start, goal, [polygon]


def run_family(make, instances: int, seed: int, clearance_m: float) -> dict:
    times_ms, results = [], []
    vertices = polygons = 0
    for k in range(instances):
        rng = np.random.default_rng([seed, k])
        start, goal, keep_out = make(rng)
        # make_valid may split a self-touching star into parts; keep only areas.
        keep_out = [g for p in keep_out for g in shapely.get_parts(p) if g.area > 0.0]
        polygons = len(keep_out)
        vertices = int(sum(len(p.exterior.coords) - 1 for p in keep_out))
        best = math.inf
        result: RouteResult | None = None
        for _ in range(3):
            t0 = time.perf_counter()
            result = find_route(start, goal, keep_out, clearance_m)
            best = min(best, time.perf_counter() - t0)
        times_ms.append(1e3 * best)
        results.append(result)
    nodes = [r.graph_nodes for r in results]
    return {
        "instances": instances,
        "polygons": polygons,
        "vertices_total": vertices,
        "p50_ms": round(float(np.percentile(times_ms, 50)), 2),
        "p99_ms": round(float(np.percentile(times_ms, 99)), 2),
        "max_ms": round(max(times_ms), 2),
        "graph_nodes_p50": int(np.median(nodes)),
        "graph_nodes_max": max(nodes),
        "pairs_tested_p50": int(np.median([r.pairs_tested for r in results])),
        "edges_p50": int(np.median([r.graph_edges for r in results])),
        "direct_legs": sum(r.graph_nodes == 0 for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clearance-m", type=float, default=20.0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    report = {
        "many_polygons": run_family(many_polygons, args.instances, args.seed, args.clearance_m),
        "big_nonconvex": run_family(big_nonconvex, args.instances, args.seed, args.clearance_m),
        "clearance_m": args.clearance_m,
        "seed": args.seed,
        "target_ms": TARGET_MS,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
