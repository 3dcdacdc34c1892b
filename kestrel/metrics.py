"""Per-vehicle metrics of SCENARIOS.md, computed from ground truth beside the flight stack.

`FlightProbe` is the only reader of `sim/ground_truth` besides the logger: it compares the true
state with the estimate, the reference trajectory and the mission's own account, and keeps the
traces the plot needs. It publishes nothing, so it cannot influence the flight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kestrel.component import Component, Port
from kestrel.messages import GroundTruth, Odometry, TrajectorySetpoint, VehicleMode
from kestrel.rotation import quat_angle_rad

PROBE_RATE_HZ = 50.0
"""Sampling rate of the metrics; the mission and position loop run at this rate, so every
sample compares ground truth with the reference published in the same tick."""


@dataclass
class VehicleTrace:
    """Time series of one vehicle sampled by the probe (ENU metres)."""

    t_s: list[float] = field(default_factory=list)
    truth_m: list[tuple[float, float, float]] = field(default_factory=list)
    estimate_m: list[tuple[float, float, float] | None] = field(default_factory=list)
    reference_m: list[tuple[float, float, float] | None] = field(default_factory=list)
    tracking_error_m: list[float | None] = field(default_factory=list)
    phase: list[str] = field(default_factory=list)

    def as_arrays(self) -> dict[str, np.ndarray]:
        nan3 = (math.nan, math.nan, math.nan)
        return {
            "t_s": np.asarray(self.t_s),
            "truth_m": np.asarray(self.truth_m).reshape(-1, 3),
            "estimate_m": np.asarray([e or nan3 for e in self.estimate_m]).reshape(-1, 3),
            "reference_m": np.asarray([r or nan3 for r in self.reference_m]).reshape(-1, 3),
            "tracking_error_m": np.asarray(
                [math.nan if e is None else e for e in self.tracking_error_m]
            ),
        }


class FlightProbe(Component):
    """Ports: truth (sim/ground_truth), odometry (state/odometry), setpoint (control/setpoint),
    mode (planning/mode). Outputs: none."""

    reads_ground_truth = True
    rate_hz = PROBE_RATE_HZ
    inputs = {
        "truth": Port(GroundTruth, "sim/ground_truth"),
        "odometry": Port(Odometry, "state/odometry"),
        "setpoint": Port(TrajectorySetpoint, "control/setpoint"),
        "mode": Port(VehicleMode, "planning/mode"),
    }
    outputs = {}

    def __init__(self, name: str, namespace: str) -> None:
        super().__init__(name, namespace)
        self.trace = VehicleTrace()
        self._tracking_errors_m: list[float] = []
        self._position_sq: list[float] = []
        self._attitude_sq: list[float] = []
        self.mission_complete = False
        self.mission_time_s: float | None = None
        self.has_mission = False

    def step(
        self,
        t_s: float,
        truth: GroundTruth | None,
        odometry: Odometry | None,
        setpoint: TrajectorySetpoint | None,
        mode: VehicleMode | None,
    ) -> None:
        if truth is None:
            return
        p = truth.position_enu_m
        estimate = odometry.position_enu_m if odometry is not None and odometry.valid else None
        reference = None
        error = None
        if mode is not None:
            self.has_mission = True
            if mode.mission_complete and not self.mission_complete:
                self.mission_complete = True
                self.mission_time_s = mode.t_s
            tracking = (
                mode.tracking
                and setpoint is not None
                and setpoint.position_enu_m is not None
                and abs(setpoint.t_s - t_s) < 0.5 / PROBE_RATE_HZ
            )
            if tracking:
                reference = setpoint.position_enu_m  # type: ignore[union-attr]
                error = math.dist(p, reference)  # type: ignore[arg-type]
                self._tracking_errors_m.append(error)
            if mode.armed and estimate is not None:
                self._position_sq.append(math.dist(p, estimate) ** 2)
                angle = quat_angle_rad(odometry.orientation, truth.orientation)  # type: ignore[union-attr]
                self._attitude_sq.append(math.degrees(angle) ** 2)
        self.trace.t_s.append(t_s)
        self.trace.truth_m.append(p)
        self.trace.estimate_m.append(estimate)
        self.trace.reference_m.append(reference)
        self.trace.tracking_error_m.append(error)
        self.trace.phase.append(mode.phase if mode is not None else "none")

    def metrics(self) -> dict[str, Any]:
        """The per-vehicle keys of metrics.json this probe is responsible for."""
        out: dict[str, Any] = {}
        if self.has_mission:
            out["mission_complete"] = self.mission_complete
            if self.mission_time_s is not None:
                out["mission_time_s"] = round(self.mission_time_s, 6)
        if self._tracking_errors_m:
            errors = np.asarray(self._tracking_errors_m)
            out["tracking_rms_m"] = float(np.sqrt(np.mean(errors**2)))
            out["tracking_max_m"] = float(np.max(errors))
        if self._position_sq:
            out["position_error_rms_m"] = float(np.sqrt(np.mean(self._position_sq)))
            out["attitude_error_rms_deg"] = float(np.sqrt(np.mean(self._attitude_sq)))
        return out
