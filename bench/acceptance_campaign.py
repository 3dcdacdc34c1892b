"""The foundation's precision targets as one campaign: the figures behind the acceptance tests.

    python bench/acceptance_campaign.py [--standard-seeds 50]

Prints one JSON object on its last line with, for each target, the measured value and the
target. Hover errors are ground truth against the point 5 m above the take-off spot, over the
last 30 s; estimator errors are `position_error_rms_m` / `attitude_error_rms_deg`.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from kestrel.api import run
from kestrel.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
HOVER_POINT = np.array([0.0, 0.0, 5.0])
HOVER_WINDOW_S = 30.0


def hover_errors(result) -> np.ndarray:
    trace = result.traces["uav1"].as_arrays()
    t = trace["t_s"]
    return trace["truth_m"][t >= t[-1] - HOVER_WINDOW_S] - HOVER_POINT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--standard-seeds", type=int, default=50)
    args = parser.parse_args()

    rtk = run(load_scenario(SCENARIOS / "hover-windy.yaml"), write_log=False)
    rtk_err = hover_errors(rtk)
    standard = load_scenario(SCENARIOS / "hover-windy-standard-gnss.yaml")
    hover_h_sq, est_errors, per_seed = [], [], []
    for seed in range(1, args.standard_seeds + 1):
        result = run(standard, seed=seed, write_log=False)
        uav = result.metrics["vehicles"]["uav1"]
        est_errors.append(uav["position_error_rms_m"])
        if seed <= 10:
            h_sq = np.sum(hover_errors(result)[:, :2] ** 2, axis=1)
            hover_h_sq.append(h_sq)
            per_seed.append(round(math.sqrt(float(np.mean(h_sq))), 3))
    figure8 = run(load_scenario(SCENARIOS / "figure8.yaml"), write_log=False)
    f8 = figure8.metrics["vehicles"]["uav1"]
    rtk_uav = rtk.metrics["vehicles"]["uav1"]
    result = {
        "rtk_hover_rms_m": {
            "value": round(math.sqrt(float(np.mean(np.sum(rtk_err**2, axis=1)))), 4),
            "target": 0.15,
        },
        "standard_hover_horizontal_rms_m_10_seeds": {
            "value": round(math.sqrt(float(np.mean(np.concatenate(hover_h_sq)))), 3),
            "per_seed": per_seed,
            "target": 1.5,
        },
        "rtk_position_error_rms_m": {
            "value": round(rtk_uav["position_error_rms_m"], 4),
            "target": 0.1,
        },
        "rtk_attitude_error_rms_deg": {
            "value": round(rtk_uav["attitude_error_rms_deg"], 3),
            "target": 1.0,
        },
        "standard_position_error_rms_m": {
            "value": round(math.sqrt(float(np.mean(np.square(est_errors)))), 3),
            "seeds": args.standard_seeds,
            "first_10_seeds": round(math.sqrt(float(np.mean(np.square(est_errors[:10])))), 3),
            "target": 1.5,
        },
        "figure8_tracking_rms_m": {"value": round(f8["tracking_rms_m"], 4), "target": 0.15},
        "figure8_position_error_rms_m": round(f8["position_error_rms_m"], 4),
        "figure8_attitude_error_rms_deg": round(f8["attitude_error_rms_deg"], 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
