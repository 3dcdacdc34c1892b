"""Sensor fault injection: what a scenario's `faults` list does to a sensor's output.

A fault (SCENARIOS.md, `vehicles[].faults`) acts on one sensor channel from `t_s` to `until_s`
(half-open window [t_s, until_s); `until_s = None` lasts to the end of the run). Values are in
the sensor's output units:

    sensor  value                              width
    gyro    rad/s, FLU body [x, y, z]          3
    accel   m/s² (specific force), FLU [x, y, z] 3
    gnss    m, ENU [e, n, u]                   3
    baro    Pa                                 1
    mag     T, FLU body [x, y, z]              3

Modes:
- `dropout`: no messages. For `gyro` or `accel` the whole IMU message is dropped (both share one
  sensor_msgs/Imu). Takes no value.
- `offset`: the constant `value` is added.
- `bias`: `value`·(t − t_s) is added — a bias growing at `value` per second.
- `stuck`: the last value the channel produced before the fault began repeats, with fresh stamps
  (if the channel produced nothing before, the first value inside the fault is held). Takes no
  value.
- `noise`: extra zero-mean white noise with standard deviation `value` per component.

Faults act on the sensor's error-corrupted output and leave its error processes untouched: the
model draws its own noise whether or not a fault is active, so outside a fault window a run's
samples are identical to those of the same run without faults. Fault noise comes from its own
stream, `rng_for(seed, "<vehicle>/faults/<sensor>")`. Overlapping faults on one channel apply in
the order they are listed (a `stuck` replaces what the earlier ones produced; a `dropout`
anywhere drops the sample). Times are compared with a tolerance of `TIME_TOLERANCE_S`, so a fault
that starts on a sample's tick covers that sample even when the simulator accumulates its clock
with rounding errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from kestrel.random_streams import NormalBlock, rng_for

SensorName = Literal["gyro", "accel", "gnss", "baro", "mag"]
FaultMode = Literal["dropout", "offset", "bias", "stuck", "noise"]

FAULT_VALUE_WIDTH: dict[str, int] = {"gyro": 3, "accel": 3, "gnss": 3, "baro": 1, "mag": 3}
"""Number of components of `FaultSpec.value` for each sensor."""
FAULT_VALUE_UNITS: dict[str, str] = {
    "gyro": "rad/s, FLU [x, y, z]",
    "accel": "m/s², FLU [x, y, z]",
    "gnss": "m, ENU [e, n, u]",
    "baro": "Pa",
    "mag": "T, FLU [x, y, z]",
}
"""Units and order of `FaultSpec.value` for each sensor (error messages, docs)."""
MODES_WITHOUT_VALUE: frozenset[str] = frozenset({"dropout", "stuck"})

TIME_TOLERANCE_S = 1e-6
"""Tolerance of sensor time comparisons (fault windows and sample schedules) [s].

Far below any sample period (≥ 100 µs), far above the rounding error of a simulator clock
accumulated in steps of 1 ms over hours (< 1e-8 s)."""


def next_sample_time_s(t_s: float, rate_hz: float) -> float:
    """Due time [s] of the sample after the one taken at `t_s`, for a sensor sampling on the
    grid k/rate_hz: the next grid point, less `TIME_TOLERANCE_S` so that a simulator clock
    accumulated with rounding errors still lands on it (every tick when the rate exceeds the
    physics rate). The sensor models sample when t ≥ this time."""
    return (math.floor((t_s + TIME_TOLERANCE_S) * rate_hz) + 1.0) / rate_hz - TIME_TOLERANCE_S


@dataclass(frozen=True)
class FaultSpec:
    """One injected sensor fault (SCENARIOS.md `faults` entry), validated on construction.

    sensor: the channel, one of gyro, accel, gnss, baro, mag.
    mode: dropout, offset, bias, stuck or noise (module docstring).
    t_s: start [s], finite, ≥ 0.
    until_s: end [s] (exclusive), > t_s; None = to the end of the run.
    value: offset [unit], bias rate [unit/s] or noise standard deviation [unit] (≥ 0), with
        FAULT_VALUE_WIDTH[sensor] finite components in FAULT_VALUE_UNITS[sensor]; required by
        offset, bias and noise, refused by dropout and stuck.
    """

    sensor: SensorName
    mode: FaultMode
    t_s: float
    until_s: float | None = None
    value: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.sensor not in FAULT_VALUE_WIDTH:
            raise ValueError(
                f"fault {self.sensor!r} {self.mode!r}: `sensor` must be one of "
                f"{', '.join(get_args(SensorName))}, got {self.sensor!r}"
            )
        if self.mode not in get_args(FaultMode):
            raise ValueError(
                f"fault {self.sensor} {self.mode!r}: `mode` must be one of "
                f"{', '.join(get_args(FaultMode))}, got {self.mode!r}"
            )
        if not (isinstance(self.t_s, int | float) and math.isfinite(self.t_s) and self.t_s >= 0.0):
            raise ValueError(f"{self.label}: `t_s` must be a finite time ≥ 0 s, got {self.t_s!r}")
        if self.until_s is not None and not (
            isinstance(self.until_s, int | float)
            and math.isfinite(self.until_s)
            and self.until_s > self.t_s
        ):
            raise ValueError(
                f"{self.label}: `until_s` must be a finite time after `t_s` ({self.t_s} s) "
                f"or None, got {self.until_s!r}"
            )
        self._check_value()

    def _check_value(self) -> None:
        if self.mode in MODES_WITHOUT_VALUE:
            if self.value is not None:
                raise ValueError(f"{self.label}: mode {self.mode} takes no `value`")
            return
        width = FAULT_VALUE_WIDTH[self.sensor]
        units = FAULT_VALUE_UNITS[self.sensor]
        if self.value is None:
            raise ValueError(
                f"{self.label}: mode {self.mode} needs a `value` of {width} component(s) in {units}"
            )
        try:
            components = tuple(float(v) for v in self.value)
        except (TypeError, ValueError):
            raise ValueError(
                f"{self.label}: `value` must be a sequence of {width} number(s) in {units}, "
                f"got {self.value!r}"
            ) from None
        if len(components) != width:
            raise ValueError(
                f"{self.label}: `value` needs {width} component(s) in {units}, "
                f"got {len(components)}"
            )
        if not all(math.isfinite(v) for v in components):
            raise ValueError(f"{self.label}: `value` components must be finite, got {self.value!r}")
        if self.mode == "noise" and any(v < 0.0 for v in components):
            raise ValueError(
                f"{self.label}: `value` of a noise fault is a standard deviation and must be "
                f"≥ 0, got {self.value!r}"
            )
        object.__setattr__(self, "value", components)

    @property
    def label(self) -> str:
        """Human-readable name of the fault for messages, e.g. "fault gnss offset at t=40 s"."""
        return f"fault {self.sensor} {self.mode} at t={self.t_s} s"

    @property
    def end_s(self) -> float:
        """End of the window [s]; +inf for a fault lasting to the end of the run."""
        return math.inf if self.until_s is None else float(self.until_s)


class FaultChannel:
    """The faults of one sensor channel, applied to each value that channel outputs.

    `apply(t_s, value)` returns the value the sensor outputs at `t_s` (a tuple in the channel's
    units) or None when a dropout is active. Called once per produced sample, only for channels
    that have faults (a model keeps `None` instead of a channel without faults, so the fault-free
    path costs one comparison).
    """

    def __init__(
        self,
        sensor: SensorName,
        faults: Sequence[FaultSpec],
        rng: np.random.Generator,
    ) -> None:
        if sensor not in FAULT_VALUE_WIDTH:
            raise ValueError(f"unknown sensor {sensor!r}; expected one of {get_args(SensorName)}")
        for fault in faults:
            if not isinstance(fault, FaultSpec):
                raise ValueError(f"faults must be FaultSpec instances, got {fault!r}")
            if fault.sensor != sensor:
                raise ValueError(f"{fault.label} given to the {sensor} channel")
        if not faults:
            raise ValueError(f"a {sensor} fault channel needs at least one fault")
        self.sensor = sensor
        self.faults: tuple[FaultSpec, ...] = tuple(faults)
        self._width = FAULT_VALUE_WIDTH[sensor]
        self._plan = tuple((f.t_s, f.end_s, f.mode, f.value or ()) for f in self.faults)
        self._first_start_s = min(f.t_s for f in self.faults)
        self._last_end_s = max(f.end_s for f in self.faults)
        self._held: list[tuple[float, ...] | None] = [None] * len(self.faults)
        self._noise = NormalBlock(rng, self._width, block_rows=256)
        self._last_output: tuple[float, ...] | None = None

    @classmethod
    def for_sensor(
        cls,
        sensor: SensorName,
        faults: Sequence[FaultSpec],
        *,
        seed: int,
        vehicle_id: str,
    ) -> FaultChannel | None:
        """The channel of `sensor`'s faults among `faults`, or None when it has none.

        Its noise stream is `rng_for(seed, f"{vehicle_id}/faults/{sensor}")`.
        """
        own = [f for f in faults if f.sensor == sensor]
        if not own:
            return None
        return cls(sensor, own, rng_for(seed, f"{vehicle_id}/faults/{sensor}"))

    def apply(self, t_s: float, value: tuple[float, ...]) -> tuple[float, ...] | None:
        """The output at `t_s` given the fault-free `value`, or None during a dropout."""
        t = t_s + TIME_TOLERANCE_S
        if t < self._first_start_s or t >= self._last_end_s:
            self._last_output = value
            return value
        out = value
        for index, (start_s, end_s, mode, fault_value) in enumerate(self._plan):
            if not (start_s <= t < end_s):
                continue
            if mode == "dropout":
                return None
            if mode == "stuck":
                held = self._held[index]
                if held is None:
                    held = self._last_output if self._last_output is not None else out
                    self._held[index] = held
                out = held
                continue
            if mode == "offset":
                out = tuple(a + b for a, b in zip(out, fault_value, strict=True))
            elif mode == "bias":
                elapsed_s = max(0.0, t_s - start_s)
                out = tuple(a + b * elapsed_s for a, b in zip(out, fault_value, strict=True))
            else:  # noise
                normals = self._noise.next_row()
                out = tuple(a + s * n for a, s, n in zip(out, fault_value, normals, strict=True))
        self._last_output = out
        return out
