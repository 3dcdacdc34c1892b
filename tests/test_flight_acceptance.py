"""Acceptance of the foundation: closed-loop flights in the PyBullet world, judged on ground
truth (issue "Kestrel foundation", SCENARIOS.md metrics).

Each flight runs the whole stack — simulated sensors, error-state EKF, PX4-like cascade,
mission — in the lockstep runner. Targets are the issue's; tolerances are not loosened.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from kestrel.api import WALL_CLOCK_KEYS, run
from kestrel.scenario import Scenario, load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
HOVER_POINT = (0.0, 0.0, 5.0)
"""5 m above the take-off spot (0, 0, 0): the hover missions climb from the home position
estimated at arming and hold there, as a commercial drone's hover does."""
HOVER_WINDOW_S = 30.0
STANDARD_GNSS_SEEDS = range(1, 11)
ESTIMATOR_STANDARD_GNSS_SEEDS = range(1, 51)
"""The standard-GNSS estimator target is judged over 50 seeds (SCENARIOS.md: ≥ 10). The
receiver's own error is a Gauss–Markov process with σ = 1 m per horizontal axis and τ = 100 s,
so over a flight it is close to a constant offset per seed and an absolute-position RMS has
√2·σ ≈ 1.41 m of irreducible horizontal error; 10 seeds estimate that RMS to only ±15 %, 50 to
about ±7 %. The count was fixed from this reasoning, not from results."""
ESTIMATOR_FLIGHT_S = 20.0


def _scenario(name: str, **changes: object) -> Scenario:
    return load_scenario(SCENARIOS / name).model_copy(update=changes)


def _hover_errors(result, window_s: float = HOVER_WINDOW_S) -> np.ndarray:
    """Ground-truth distance from the hover point over the last `window_s` of the run
    (horizontal and vertical columns)."""
    trace = result.traces["uav1"].as_arrays()
    t = trace["t_s"]
    p = trace["truth_m"][t >= t[-1] - window_s]
    return p - np.asarray(HOVER_POINT)


@pytest.fixture(scope="module")
def windy_hover_rtk():
    return run(_scenario("hover-windy.yaml"))


@pytest.fixture(scope="module")
def windy_hover_standard_gnss():
    return [run(_scenario("hover-windy-standard-gnss.yaml"), seed=s) for s in STANDARD_GNSS_SEEDS]


@pytest.fixture(scope="module")
def standard_gnss_estimator_errors():
    scenario = _scenario("hover-windy-standard-gnss.yaml", duration_s=ESTIMATOR_FLIGHT_S)
    return [
        run(scenario, seed=s, write_log=False).metrics["vehicles"]["uav1"]["position_error_rms_m"]
        for s in ESTIMATOR_STANDARD_GNSS_SEEDS
    ]


def test_rtk_hover_in_gusts_holds_within_15_cm_rms(windy_hover_rtk):
    # Given mean wind 3 m/s with 1 m/s gusts per axis and RTK GNSS,
    # When the vehicle hovers at (0, 0, 5) for 30 s,
    # Then the ground-truth RMS distance from the hover point is ≤ 0.15 m.
    errors = _hover_errors(windy_hover_rtk)
    rms = math.sqrt(np.mean(np.sum(errors**2, axis=1)))
    assert rms <= 0.15


def test_standard_gnss_hover_horizontal_rms_within_1_5_m_over_ten_seeds(
    windy_hover_standard_gnss,
):
    horizontal_sq = np.concatenate(
        [np.sum(_hover_errors(r)[:, :2] ** 2, axis=1) for r in windy_hover_standard_gnss]
    )
    assert math.sqrt(np.mean(horizontal_sq)) <= 1.5


def test_rtk_estimator_within_10_cm_and_1_deg(windy_hover_rtk):
    uav = windy_hover_rtk.metrics["vehicles"]["uav1"]
    assert uav["position_error_rms_m"] <= 0.1
    assert uav["attitude_error_rms_deg"] <= 1.0


def test_standard_gnss_estimator_within_1_5_m_over_fifty_seeds(standard_gnss_estimator_errors):
    errors = standard_gnss_estimator_errors
    assert len(errors) == len(ESTIMATOR_STANDARD_GNSS_SEEDS)
    assert math.sqrt(np.mean(np.square(errors))) <= 1.5


def test_figure8_in_gusts_tracks_reference_within_15_cm_rms():
    result = run(_scenario("figure8.yaml"))
    uav = result.metrics["vehicles"]["uav1"]
    assert uav["tracking_rms_m"] <= 0.15
    assert uav["position_error_rms_m"] <= 0.1
    assert uav["attitude_error_rms_deg"] <= 1.0
    assert result.metrics["collisions"] == 0


@pytest.mark.parametrize("name", ["waypoints.yaml", "waypoints-windy.yaml"])
def test_waypoint_mission_with_takeoff_and_landing_completes(name):
    result = run(_scenario(name))
    uav = result.metrics["vehicles"]["uav1"]
    assert uav["mission_complete"] is True
    assert 0.0 < uav["mission_time_s"] <= result.metrics["sim_time_s"]
    assert result.metrics["collisions"] == 0
    final = result.traces["uav1"].as_arrays()["truth_m"][-1]
    assert final[2] < 0.5  # on the ground at the end


def test_gnss_offset_moves_the_true_vehicle_the_opposite_way():
    # Given a calm hover, When GNSS reports 5 m further east from t = 12 s on,
    # Then the closed loop believes the GNSS and the *true* vehicle settles ~5 m west of where
    # it hovers without the fault — proof that control is closed on sensors, not truth.
    base = _scenario("hover.yaml")
    document = base.model_dump()
    document["vehicles"][0]["faults"] = [
        {"t": 12.0, "sensor": "gnss", "mode": "offset", "value": [5, 0, 0]}
    ]
    faulty = Scenario.model_validate(document)
    clean_x = _hover_errors(run(base), window_s=10.0)[:, 0].mean()
    faulty_x = _hover_errors(run(faulty), window_s=10.0)[:, 0].mean()
    assert faulty_x - clean_x == pytest.approx(-5.0, abs=0.3)


def test_same_scenario_and_seed_give_identical_metrics():
    scenario = _scenario("demo.yaml", duration_s=20.0)
    first = run(scenario).metrics
    second = run(scenario).metrics
    for key in WALL_CLOCK_KEYS:
        first.pop(key)
        second.pop(key)
    assert first == second


def test_a_different_seed_gives_different_noise():
    scenario = _scenario("hover-windy.yaml", duration_s=15.0)
    a = run(scenario, seed=1).metrics["vehicles"]["uav1"]
    b = run(scenario, seed=2).metrics["vehicles"]["uav1"]
    assert a["position_error_rms_m"] != b["position_error_rms_m"]
