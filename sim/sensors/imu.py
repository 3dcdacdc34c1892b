"""Simulated 6-axis IMU (gyroscope + accelerometer) after the TDK InvenSense ICM-42688-P.

Source: TDK InvenSense ICM-42688-P datasheet (DS-000347), low-noise mode, board-level values:
- gyroscope rate noise spectral density 2.8 mdps/√Hz; accelerometer noise spectral density
  70 µg/√Hz;
- gyroscope initial zero-rate output (ZRO) tolerance ±0.5 dps; ZRO variation over temperature
  ±0.005 dps/°C;
- accelerometer initial zero-g offset tolerance ±20 mg; zero-g variation over temperature
  ±0.15 mg/°C;
- full-scale ranges up to ±2000 dps and ±16 g (the widest, as flight controllers configure it).

Error model, per axis, sample k at rate f_s (Δt = 1/f_s), output = truth + b_k + σ·n_k:
- White noise σ = N·√f_s from the noise density N. This reads N as the angle (velocity) random
  walk coefficient of IEEE Std 952-1997 (Allan deviation N/√τ), the convention of Kalibr's IMU
  noise model (σ_d = σ_c/√Δt) and of Gazebo/PX4 SITL: integrating the simulated rate reproduces
  the datasheet's random walk. Reading N instead as a one-sided density integrated over an
  anti-alias bandwidth B (the datasheet quotes RMS noise = N·√B at B = 100 Hz) gives
  σ = N·√(f_s/2) for a filter at Nyquist — √2 smaller; the larger, ARW-consistent value is kept
  (it is the conservative one for an estimator).
- Bias b_k = b_turn_on + random walk: b_k = b_{k−1} + K·√Δt·w_k (w_k ~ N(0, 1)).
  The turn-on bias is drawn once per run, N(0, (tolerance/3)²) clipped to ±tolerance, so that it
  stays within the datasheet's initial tolerance. The datasheet gives no bias random walk; K is
  derived from its temperature coefficients for a board warming by 4 K over a 300-s flight
  (a modelling assumption: motor/ESC heat and airflow): K = coefficient·4 K/√(300 s), i.e.
  gyro 0.005 dps/K·4 K = 3.49e-4 rad/s → 2.0e-5 rad/s/√s; accelerometer 0.15 mg/K·4 K = 0.6 mg
  = 5.9e-3 m/s² → 3.4e-4 m/s²/√s.
- Saturation at ±full scale (optional). Not modelled: scale-factor and cross-axis errors,
  g-sensitivity, vibration rectification, the on-chip anti-alias filter's delay.

Unit suffixes: `_per_rthz` is per √Hz, `_per_rts` per √s (rad/s/√s = rad/s²/√Hz).

Speed: the model runs every physics tick (1 kHz), so it draws 2000 samples' worth of noise at a
time and forms bias + white noise for the whole block with numpy (the random walk as a cumulative
sum); a sample then costs a row lookup, six additions and six range checks (about 1.2–1.3 µs a
call in CPython 3.11 on a 2-core AMD EPYC, message included; the block costs ~0.27 µs of it).
Drawing per sample through NormalBlock and updating the walk in Python measured ~1.7 µs. This is
the project's batched-draw rule (NormalBlock) extended to the random walk.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import cast

import numpy as np

from kestrel.airframe import GRAVITY_MPS2
from kestrel.messages import Imu, Vec3
from kestrel.sim.sensors.faults import TIME_TOLERANCE_S, FaultChannel

_floor = math.floor
_NO_LIMIT = sys.float_info.max
"""Saturation limit standing for "none": still catches ±inf inputs in the slow path."""


_IMU_PARAM_RANGES: tuple[tuple[str, float, float, bool], ...] = (
    # field, low, high, low bound excluded
    ("rate_hz", 0.0, 32_000.0, True),
    ("gyro_noise_density_dps_per_rthz", 0.0, 1.0, False),
    ("accel_noise_density_ug_per_rthz", 0.0, 10_000.0, False),
    ("gyro_turn_on_bias_max_dps", 0.0, 20.0, False),
    ("accel_turn_on_bias_max_mg", 0.0, 500.0, False),
    ("gyro_bias_random_walk_radps_per_rts", 0.0, 0.01, False),
    ("accel_bias_random_walk_mps2_per_rts", 0.0, 0.1, False),
    ("gyro_full_scale_dps", 0.0, 4000.0, True),
    ("accel_full_scale_g", 0.0, 32.0, True),
)
_IMU_OPTIONAL_PARAMS = frozenset({"gyro_full_scale_dps", "accel_full_scale_g"})


@dataclass(frozen=True)
class ImuParams:
    """Parameters of the simulated IMU (defaults: ICM-42688-P, module docstring).

    rate_hz: output data rate [Hz], in (0, 32000] (the part's maximum ODR).
    gyro_noise_density_dps_per_rthz: gyroscope rate noise density [dps/√Hz], in [0, 1].
    accel_noise_density_ug_per_rthz: accelerometer noise density [µg/√Hz], in [0, 10000].
    gyro_turn_on_bias_max_dps: bound of the per-run gyroscope bias per axis [dps], in [0, 20].
    accel_turn_on_bias_max_mg: bound of the per-run accelerometer bias per axis [mg], in [0, 500].
    gyro_bias_random_walk_radps_per_rts: gyroscope bias random walk K [rad/s/√s], in [0, 0.01].
    accel_bias_random_walk_mps2_per_rts: accelerometer bias random walk K [m/s²/√s], in [0, 0.1].
    gyro_full_scale_dps: saturation of the gyroscope output [dps], in (0, 4000]; None: none.
    accel_full_scale_g: saturation of the accelerometer output [g], in (0, 32]; None: none.
    """

    rate_hz: float = 1000.0
    gyro_noise_density_dps_per_rthz: float = 2.8e-3
    accel_noise_density_ug_per_rthz: float = 70.0
    gyro_turn_on_bias_max_dps: float = 0.5
    accel_turn_on_bias_max_mg: float = 20.0
    gyro_bias_random_walk_radps_per_rts: float = 2.0e-5
    accel_bias_random_walk_mps2_per_rts: float = 3.4e-4
    gyro_full_scale_dps: float | None = 2000.0
    accel_full_scale_g: float | None = 16.0

    def __post_init__(self) -> None:
        for name, low, high, low_open in _IMU_PARAM_RANGES:
            value = getattr(self, name)
            if value is None and name in _IMU_OPTIONAL_PARAMS:
                continue
            in_range = isinstance(value, int | float) and (
                (low < value if low_open else low <= value) and value <= high
            )
            if not in_range:
                bracket = "(" if low_open else "["
                raise ValueError(
                    f"ImuParams.{name} must be in {bracket}{low}, {high}], got {value!r}"
                )

    @property
    def gyro_noise_std_radps(self) -> float:
        """Standard deviation of the gyroscope white noise per sample [rad/s]: N·√f_s."""
        return math.radians(self.gyro_noise_density_dps_per_rthz) * math.sqrt(self.rate_hz)

    @property
    def accel_noise_std_mps2(self) -> float:
        """Standard deviation of the accelerometer white noise per sample [m/s²]: N·√f_s."""
        density_mps2 = self.accel_noise_density_ug_per_rthz * 1e-6 * GRAVITY_MPS2
        return density_mps2 * math.sqrt(self.rate_hz)

    @property
    def gyro_turn_on_bias_max_radps(self) -> float:
        return math.radians(self.gyro_turn_on_bias_max_dps)

    @property
    def accel_turn_on_bias_max_mps2(self) -> float:
        return self.accel_turn_on_bias_max_mg * 1e-3 * GRAVITY_MPS2


def _saturate(value: float, limit: float, t_s: float, quantity: str) -> float:
    """Slow path of the range check: clip to ±limit, refuse NaN/inf inputs."""
    if not math.isfinite(value):
        raise ValueError(f"IMU {quantity} at t={t_s} s is not finite ({value!r}): refusing input")
    return limit if value > 0.0 else -limit


class ImuModel:
    """Gyroscope and accelerometer samples with noise, bias and saturation (module docstring).

    `sample(t_s, angular_velocity_flu_radps, specific_force_flu_mps2)` is called every physics
    tick with the true body rates and specific force (FLU); it returns an `Imu` message when a
    sample is due (every 1/rate_hz s on the grid k/rate_hz; every tick when the rate exceeds the
    physics rate) and None otherwise or during a dropout fault.
    """

    def __init__(
        self,
        params: ImuParams,
        rng: np.random.Generator,
        *,
        gyro_faults: FaultChannel | None = None,
        accel_faults: FaultChannel | None = None,
        block_rows: int = 2000,
    ) -> None:
        if block_rows < 1:
            raise ValueError(f"block_rows must be ≥ 1, got {block_rows}")
        self.params = params
        self._rng = rng
        self._rate_hz = params.rate_hz
        self._gyro_faults = gyro_faults
        self._accel_faults = accel_faults
        self._block_rows = block_rows
        # Time [s] from which the next sample is due; `sample` returns None before it, so a
        # caller may skip the call until then (the simulator does).
        self.next_due_s = -math.inf
        self._gyro_limit = (
            math.radians(params.gyro_full_scale_dps) if params.gyro_full_scale_dps else _NO_LIMIT
        )
        self._accel_limit = (
            params.accel_full_scale_g * GRAVITY_MPS2 if params.accel_full_scale_g else _NO_LIMIT
        )
        self._gyro_limit_neg = -self._gyro_limit
        self._accel_limit_neg = -self._accel_limit
        self._has_faults = gyro_faults is not None or accel_faults is not None
        dt_s = 1.0 / params.rate_hz
        g_walk = params.gyro_bias_random_walk_radps_per_rts * math.sqrt(dt_s)
        a_walk = params.accel_bias_random_walk_mps2_per_rts * math.sqrt(dt_s)
        g_std, a_std = params.gyro_noise_std_radps, params.accel_noise_std_mps2
        self._walk_step = np.array([g_walk] * 3 + [a_walk] * 3)
        self._white_std = np.array([g_std] * 3 + [a_std] * 3)
        bound = np.array(
            [params.gyro_turn_on_bias_max_radps] * 3 + [params.accel_turn_on_bias_max_mps2] * 3
        )
        self._bias_before_block = np.clip(rng.standard_normal(6) * bound / 3.0, -bound, bound)
        # (gyro x, y, z [rad/s], accel x, y, z [m/s²]) drawn for this run.
        self.turn_on_bias: tuple[float, ...] = tuple(self._bias_before_block.tolist())
        self._bias_block = np.empty((0, 6))
        self._rows: list[list[float]] = []
        self._index = 0

    def _refill(self) -> None:
        normals = self._rng.standard_normal((self._block_rows, 12))
        if self._bias_block.shape[0]:
            self._bias_before_block = self._bias_block[-1]
        bias = self._bias_before_block + np.cumsum(normals[:, 6:] * self._walk_step, axis=0)
        self._bias_block = bias
        self._rows = (bias + normals[:, :6] * self._white_std).tolist()
        self._index = 0

    @property
    def gyro_bias_flu_radps(self) -> Vec3:
        """True gyroscope bias of the latest sample [rad/s] (diagnostics, ground-truth logs)."""
        b = self._current_bias()
        return (b[0], b[1], b[2])

    @property
    def accel_bias_flu_mps2(self) -> Vec3:
        """True accelerometer bias of the latest sample [m/s²] (diagnostics, ground-truth logs)."""
        b = self._current_bias()
        return (b[3], b[4], b[5])

    def _current_bias(self) -> list[float]:
        if self._index == 0:
            return self._bias_before_block.tolist()
        return self._bias_block[self._index - 1].tolist()

    def sample(
        self, t_s: float, angular_velocity_flu_radps: Vec3, specific_force_flu_mps2: Vec3
    ) -> Imu | None:
        # Hot path (every physics tick): locals instead of repeated attribute loads, the
        # saturation bounds negated once in __init__, one test for "any faults".
        if t_s < self.next_due_s:
            return None
        rate = self._rate_hz
        # next_sample_time_s(t_s, rate), inlined: a call costs ~5 % of this method.
        self.next_due_s = (_floor((t_s + TIME_TOLERANCE_S) * rate) + 1.0) / rate - TIME_TOLERANCE_S
        index = self._index
        if index >= len(self._rows):
            self._refill()
            index = 0
        ex, ey, ez, fx, fy, fz = self._rows[index]
        self._index = index + 1
        wx, wy, wz = angular_velocity_flu_radps
        sx, sy, sz = specific_force_flu_mps2
        gx = wx + ex
        gy = wy + ey
        gz = wz + ez
        ax = sx + fx
        ay = sy + fy
        az = sz + fz
        gl = self._gyro_limit
        gn = self._gyro_limit_neg
        al = self._accel_limit
        an = self._accel_limit_neg
        # Chained comparisons are False for NaN, so non-finite inputs reach the slow path too.
        if not gn <= gx <= gl:
            gx = _saturate(gx, gl, t_s, "angular velocity")
        if not gn <= gy <= gl:
            gy = _saturate(gy, gl, t_s, "angular velocity")
        if not gn <= gz <= gl:
            gz = _saturate(gz, gl, t_s, "angular velocity")
        if not an <= ax <= al:
            ax = _saturate(ax, al, t_s, "specific force")
        if not an <= ay <= al:
            ay = _saturate(ay, al, t_s, "specific force")
        if not an <= az <= al:
            az = _saturate(az, al, t_s, "specific force")
        if self._has_faults:
            return self._apply_faults(t_s, (gx, gy, gz), (ax, ay, az))
        return Imu(t_s, (gx, gy, gz), (ax, ay, az))

    def _apply_faults(self, t_s: float, gyro: Vec3, accel: Vec3) -> Imu | None:
        if self._gyro_faults is not None:
            faulted = self._gyro_faults.apply(t_s, gyro)
            if faulted is None:
                return None
            gyro = cast(Vec3, faulted)
        if self._accel_faults is not None:
            faulted = self._accel_faults.apply(t_s, accel)
            if faulted is None:
                return None
            accel = cast(Vec3, faulted)
        return Imu(t_s, gyro, accel)
