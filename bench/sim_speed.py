"""Simulation speed: real-time factor of the whole stack, and of bare PyBullet stepping.

    python bench/sim_speed.py [--physics-hz HZ] [--vehicles 1 3 10] [--sim-s S] [--repeats N]

Prints one JSON object on its last line:
    {"physics_hz", "sim_s", "rtf": {"1": …, "3": …, "10": …}, "tick_p99_ms": {"<node>": …},
     "bare_physics_rtf": {"1": …}, …}

"Whole stack" = PyBullet physics, sensor models, error-state EKF, the control cascade, the
mission and the metrics probe, in the lockstep runner, N quadrotors in one world each flying a
short waypoint hover mission in gusting wind. "Bare physics" = the same simulator component
with the same motor model and PyBullet force calls, fed a constant hover command, without
sensors or any flight component. RTF = simulated seconds / wall seconds (median of repeats).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from kestrel.airframe import REFERENCE_QUADROTOR
from kestrel.component import Component, Port
from kestrel.geodesy import GeoOrigin
from kestrel.messages import MotorCommand
from kestrel.runner import LockstepRunner
from kestrel.scenario import Scenario
from kestrel.sim.quadrotor_sim import QuadrotorSim, SimVehicle
from kestrel.sim.wind import WindConfig
from kestrel.stack import build_stack

VEHICLE_SPACING_M = 4.0
HOVER_ALT_M = 5.0


def fleet_scenario(vehicles: int, *, physics_hz: float, sim_s: float) -> Scenario:
    """N quadrotors in a row, each taking off and flying 10 m east, then hovering."""
    return Scenario.model_validate(
        {
            "name": f"bench-{vehicles}",
            "seed": 1,
            "duration_s": sim_s,
            "physics_hz": physics_hz,
            "world": {"wind": {"mean_mps": [3.0, 0.0, 0.0], "gust_std_mps": 1.0}},
            "vehicles": [
                {
                    "id": f"uav{i + 1}",
                    "type": "quadrotor",
                    "start": {"position": [0.0, VEHICLE_SPACING_M * i, 0.0]},
                    "mission": {
                        "takeoff_alt_m": HOVER_ALT_M,
                        "waypoints": [[10.0, VEHICLE_SPACING_M * i, HOVER_ALT_M]],
                        "cruise_speed_mps": 3.0,
                        "then": "hover",
                    },
                }
                for i in range(vehicles)
            ],
        }
    )


def full_stack_rtf(vehicles: int, *, physics_hz: float, sim_s: float) -> tuple[float, dict]:
    stack = build_stack(fleet_scenario(vehicles, physics_hz=physics_hz, sim_s=sim_s))
    start = time.perf_counter()
    stack.runner.run_until(sim_s)
    wall_s = time.perf_counter() - start
    stack.sim.close()
    timings = stack.runner.node_timings()
    return sim_s / wall_s, timings


class _HoverCommand(Component):
    """Constant hover thrust on every rotor of every vehicle (no controller)."""

    direct_feedthrough = False

    def __init__(self, vehicle_ids: list[str], rate_hz: float) -> None:
        super().__init__("hover_command")
        self.rate_hz = rate_hz
        self.outputs = {vid: Port(MotorCommand, f"{vid}/actuators/motors") for vid in vehicle_ids}
        self._thrust = (REFERENCE_QUADROTOR.hover_thrust_normalized,) * 4

    def step(self, t_s: float) -> dict[str, MotorCommand]:
        return {vid: MotorCommand(t_s, self._thrust) for vid in self.outputs}


def bare_physics_rtf(vehicles: int, *, physics_hz: float, sim_s: float) -> float:
    ids = [f"uav{i + 1}" for i in range(vehicles)]
    sim = QuadrotorSim(
        "sim",
        physics_hz=physics_hz,
        seed=1,
        vehicles=[
            SimVehicle(
                vehicle_id=vid,
                start_position_enu_m=(0.0, VEHICLE_SPACING_M * i, HOVER_ALT_M),
                start_yaw_rad=0.0,
                sensors=None,
                start_thrust_normalized=REFERENCE_QUADROTOR.hover_thrust_normalized,
            )
            for i, vid in enumerate(ids)
        ],
        wind=WindConfig(mean_enu_mps=(3.0, 0.0, 0.0), gust_std_mps=1.0),
        obstacles=[],
        origin=GeoOrigin(),
    )
    # The command is produced once per control period (500 Hz), as the allocator would.
    runner = LockstepRunner(
        [sim, _HoverCommand(ids, min(500.0, physics_hz))], physics_hz=physics_hz
    )
    start = time.perf_counter()
    runner.run_until(sim_s)
    wall_s = time.perf_counter() - start
    sim.close()
    return sim_s / wall_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--physics-hz", type=float, default=1000.0)
    parser.add_argument("--vehicles", type=int, nargs="+", default=[1, 3, 10])
    parser.add_argument("--sim-s", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rtf: dict[str, float] = {}
    tick_p99: dict[str, float] = {}
    for n in args.vehicles:
        # Many vehicles take long: keep the wall time per run similar.
        sim_s = args.sim_s if n == 1 else max(5.0, args.sim_s * 3 / n)
        runs = [
            full_stack_rtf(n, physics_hz=args.physics_hz, sim_s=sim_s) for _ in range(args.repeats)
        ]
        rtf[str(n)] = round(statistics.median(r for r, _ in runs), 2)
        if n == args.vehicles[0]:
            for name, timing in runs[-1][1].items():
                tick_p99[name] = round(timing.tick_p99_ms, 4)
    bare = {
        str(n): round(
            statistics.median(
                bare_physics_rtf(n, physics_hz=args.physics_hz, sim_s=args.sim_s)
                for _ in range(args.repeats)
            ),
            2,
        )
        for n in args.vehicles[:1]
    }
    result: dict[str, Any] = {
        "physics_hz": args.physics_hz,
        "sim_s": args.sim_s,
        "rtf": rtf,
        "tick_p99_ms": tick_p99,
        "bare_physics_rtf": bare,
        "stack_share_of_bare": round(rtf[str(args.vehicles[0])] / bare[str(args.vehicles[0])], 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
