"""`kestrel.run(scenario, seed=None, out=None) -> RunResult`: one simulated run as a value.

Like Drake's `run(scenario)`, a run is a function of its scenario and seed. It builds the
component graph (kestrel.stack), steps it in the lockstep runner for `duration_s`, and returns
the metrics of SCENARIOS.md plus the traces; with `out` it also writes metrics.json, the PNG plot
and the MCAP run log there.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kestrel import __version__
from kestrel.metrics import VehicleTrace
from kestrel.scenario import Scenario, ScenarioError, load_scenario

WALL_CLOCK_KEYS = ("wall_time_s", "real_time_factor", "nodes")
"""metrics.json keys that depend on the wall clock and so differ between identical runs."""


@dataclass
class RunResult:
    """What a run produced: metrics.json's content, per-vehicle traces, and where files went."""

    metrics: dict[str, Any]
    traces: dict[str, VehicleTrace]
    out_dir: Path | None
    graph_dot: str


def run(
    scenario: Scenario | str | Path,
    seed: int | None = None,
    out: str | Path | None = None,
    *,
    progress: Callable[[float], None] | None = None,
    write_log: bool = True,
    file: str | None = None,
) -> RunResult:
    """Run `scenario` (a Scenario or a path to a YAML file) to its `duration_s`.

    `seed` overrides the scenario's seed; `file` names the scenario in error messages. With
    `out`, writes `metrics.json`, `run.png` and the
    rosbag2 MCAP log `log/` into that directory (created if needed).
    """
    from kestrel.bag import RunBag, zone_drawings
    from kestrel.plot import plot_run
    from kestrel.stack import build_stack

    source = file or (str(scenario) if not isinstance(scenario, Scenario) else scenario.name)
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if seed is not None:
        scenario = scenario.model_copy(update={"seed": int(seed)})
    out_dir = Path(out) if out is not None else None
    bag = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        if write_log:
            log_dir = out_dir / "log"
            if log_dir.exists():
                raise FileExistsError(f"{log_dir} already exists; choose another --out")
            bag = RunBag(log_dir)
    try:
        stack = build_stack(scenario, bag=bag)
    except ValueError as exc:
        # A value the components refuse (e.g. a mission waypoint inside a zone) is a scenario
        # problem: one line, like a schema error.
        if bag is not None:
            bag.close()
        raise ScenarioError(source, "", str(exc)) from None
    zones = zone_drawings([p.airspace.volumes for p in stack.zone_probes.values()])
    wall_start = time.perf_counter()
    try:
        if bag is not None and zones:
            bag.write_zone_markers(0.0, zones)
        stack.runner.run_until(scenario.duration_s, progress=progress)
        stack.runner.finish()
    finally:
        if bag is not None:
            bag.close()
    wall_s = time.perf_counter() - wall_start
    metrics = _assemble_metrics(scenario, stack, wall_s)
    traces = {vid: probe.trace for vid, probe in stack.probes.items()}
    if out_dir is not None:
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        plot_run(
            out_dir / "run.png",
            title=scenario.name,
            traces=traces,
            obstacles=stack.obstacle_shapes(scenario.duration_s),
            zones=zones,
        )
    return RunResult(metrics, traces, out_dir, stack.runner.to_dot())


def _assemble_metrics(scenario: Scenario, stack: Any, wall_s: float) -> dict[str, Any]:
    sim_s = stack.runner.time_s - stack.runner.dt_s
    vehicles: dict[str, dict[str, Any]] = {}
    total_collisions = 0
    clearances = []
    sim_metrics = stack.sim.vehicle_metrics()
    for vid, probe in stack.probes.items():
        entry = dict(probe.metrics())
        world = sim_metrics.get(vid, {})
        collisions = int(world.get("collisions", 0))
        entry["collisions"] = collisions
        total_collisions += collisions
        clearance = world.get("min_clearance_m")
        if clearance is not None:
            entry["min_clearance_m"] = float(clearance)
            clearances.append(float(clearance))
        zone_probe = stack.zone_probes.get(vid)
        if zone_probe is not None:
            entry.update(zone_probe.metrics())
        entry["failsafe_events"] = stack.safety_filters[vid].failsafe_events()
        vehicles[vid] = entry
    metrics: dict[str, Any] = {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "kestrel_version": __version__,
        "sim_time_s": round(sim_s, 9),
        "wall_time_s": round(wall_s, 3),
        "real_time_factor": round(sim_s / wall_s, 2) if wall_s > 0 else math.inf,
        "collisions": total_collisions,
    }
    if clearances:
        metrics["min_clearance_m"] = min(clearances)
    if stack.zone_probes:
        metrics["geofence_breaches"] = sum(v["geofence_breaches"] for v in vehicles.values())
        margins = [v["min_zone_margin_m"] for v in vehicles.values() if "min_zone_margin_m" in v]
        if margins:
            metrics["min_zone_margin_m"] = min(margins)
    metrics["vehicles"] = vehicles
    metrics["nodes"] = {
        name: {
            "rate_hz": timing.rate_hz,
            "tick_p50_ms": round(timing.tick_p50_ms, 4),
            "tick_p99_ms": round(timing.tick_p99_ms, 4),
            "deadline_misses": timing.deadline_misses,
        }
        for name, timing in stack.runner.node_timings().items()
    }
    return metrics
