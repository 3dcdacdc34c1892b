"""Simulated GNSS receiver: WGS84 fixes with white and time-correlated position errors.

The two configurations are fixed by SCENARIOS.md (`vehicles[].sensors.gnss`), per ENU axis:

    preset      error                                          rate   latency  NavSatStatus
    rtk         white σ 0.02 m horizontal, 0.03 m vertical     10 Hz  50 ms    2 (GBAS fix)
    standard    Gauss–Markov σ 1 m / τ 100 s + white 0.3 m     5 Hz   100 ms   0 (fix)
                horizontal; vertical GM 2 m + white 0.5 m

Why these numbers:
- `rtk`: u-blox ZED-F9P datasheet (UBX-17051259): RTK fixed horizontal accuracy 0.01 m + 1 ppm
  CEP, vertical 0.01 m + 1 ppm, navigation rate up to 20 Hz in RTK. CEP 1 cm is σ ≈ 0.85 cm per
  axis (CEP ≈ 1.1774σ for a circular Gaussian); 2 cm / 3 cm allow for baselines of a few km and
  multipath on a small airframe.
- `standard`: u-blox NEO-M8N (UBX-15031086) quotes 2.5 m CEP, NEO-M9N (UBX-19014285) 1.5 m CEP,
  autonomous, open sky. The total σ here, √(1² + 0.3²) = 1.04 m per axis, is 1.23 m CEP. Most of
  it is slowly varying (residual ionosphere, troposphere, orbit/clock and multipath errors are
  correlated over minutes: Groves, "Principles of GNSS, Inertial, and Multisensor Integrated
  Navigation Systems", 2nd ed., 2013, ch. 9), hence the first-order Gauss–Markov part.

The Gauss–Markov error is discretised exactly, x ← φ·x + σ·√(1 − φ²)·w with φ = e^(−Δt/τ)
(Brown & Hwang, "Introduction to Random Signals and Applied Kalman Filtering", 4th ed., 2012,
first-order Gauss–Markov process), using the actual time since the previous fix, and starts
from its stationary distribution N(0, σ²), so a run has no warm-up transient.

Output: `NavSatFix` with the latitude, longitude and WGS84 ellipsoidal height of the corrupted
ENU position through `GeoOrigin.enu_to_geodetic` (exact, ~1–2 µs), the stamp is
the time of validity, and `horizontal_std_m`/`vertical_std_m` are the model's total σ per axis
(what the receiver reports). `latency_s` tells the simulator by how much to delay delivery.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import cast

import numpy as np

from kestrel.geodesy import GeoOrigin
from kestrel.messages import NavSatFix, Vec3
from kestrel.params import check_param_ranges
from kestrel.random_streams import NormalBlock
from kestrel.sim.sensors.faults import FaultChannel, next_sample_time_s

_FIX_STATUSES = (0, 1, 2)
"""NavSatStatus values a fix can carry: 0 FIX, 1 SBAS_FIX, 2 GBAS_FIX (RTK)."""


_GNSS_PARAM_RANGES: tuple[tuple[str, float, float, bool], ...] = (
    # field, low, high, low bound excluded
    ("rate_hz", 0.0, 100.0, True),
    ("latency_s", 0.0, 1.0, False),
    ("horizontal_white_std_m", 0.0, 100.0, False),
    ("vertical_white_std_m", 0.0, 100.0, False),
    ("horizontal_markov_std_m", 0.0, 100.0, False),
    ("vertical_markov_std_m", 0.0, 100.0, False),
    ("markov_time_constant_s", 0.0, 1e5, True),
)


@dataclass(frozen=True)
class GnssParams:
    """Error model, timing and reported status of a GNSS receiver (module docstring).

    rate_hz: fix rate [Hz], in (0, 100].
    latency_s: delay from the time of validity to delivery [s], in [0, 1].
    horizontal_white_std_m: white position noise per horizontal axis [m], in [0, 100].
    vertical_white_std_m: white position noise, vertical [m], in [0, 100].
    horizontal_markov_std_m: stationary σ of the Gauss–Markov error per horizontal axis [m],
        in [0, 100].
    vertical_markov_std_m: stationary σ of the vertical Gauss–Markov error [m], in [0, 100].
    markov_time_constant_s: correlation time τ of the Gauss–Markov errors [s], in (0, 1e5].
    status: NavSatStatus of the fixes: 0 fix, 1 SBAS fix, 2 GBAS (RTK) fix.
    """

    rate_hz: float
    latency_s: float
    horizontal_white_std_m: float
    vertical_white_std_m: float
    horizontal_markov_std_m: float = 0.0
    vertical_markov_std_m: float = 0.0
    markov_time_constant_s: float = 100.0
    status: int = 0

    def __post_init__(self) -> None:
        check_param_ranges(self, _GNSS_PARAM_RANGES)
        if self.status not in _FIX_STATUSES:
            raise ValueError(
                f"GnssParams.status must be one of {_FIX_STATUSES} (NavSatStatus), "
                f"got {self.status!r}"
            )

    @property
    def horizontal_std_m(self) -> float:
        """Total σ per horizontal axis [m] (reported in NavSatFix)."""
        return math.hypot(self.horizontal_markov_std_m, self.horizontal_white_std_m)

    @property
    def vertical_std_m(self) -> float:
        """Total vertical σ [m] (reported in NavSatFix)."""
        return math.hypot(self.vertical_markov_std_m, self.vertical_white_std_m)


RTK_GNSS = GnssParams(
    rate_hz=10.0,
    latency_s=0.05,
    horizontal_white_std_m=0.02,
    vertical_white_std_m=0.03,
    status=2,
)
"""SCENARIOS.md `gnss: rtk`: RTK fixed (u-blox ZED-F9P class)."""

STANDARD_GNSS = GnssParams(
    rate_hz=5.0,
    latency_s=0.1,
    horizontal_white_std_m=0.3,
    vertical_white_std_m=0.5,
    horizontal_markov_std_m=1.0,
    vertical_markov_std_m=2.0,
    markov_time_constant_s=100.0,
    status=0,
)
"""SCENARIOS.md `gnss: standard`: single-point fix (u-blox M8/M9 class)."""

GNSS_PRESETS: Mapping[str, GnssParams] = MappingProxyType(
    {"rtk": RTK_GNSS, "standard": STANDARD_GNSS}
)
"""The `sensors.gnss` values of a scenario and the receivers they stand for."""


class GaussMarkovProcess:
    """Independent stationary first-order Gauss–Markov processes, one per component.

    x ← φ·x + σ·√(1 − φ²)·w, φ = e^(−Δt/τ): the exact discretisation of dx/dt = −x/τ + noise,
    whose autocorrelation is σ²·e^(−|Δt|/τ) whatever the step. Starts at σ·`initial_normals`,
    a draw from the stationary distribution. The caller supplies the standard normals, so the
    process adds no random stream of its own (used by the GNSS errors and the barometer bias).
    """

    def __init__(
        self, std: Sequence[float], time_constant_s: float, initial_normals: Sequence[float]
    ) -> None:
        if not time_constant_s > 0.0:
            raise ValueError(f"time_constant_s must be > 0, got {time_constant_s!r}")
        if len(initial_normals) != len(std):
            raise ValueError("initial_normals must have one value per component of std")
        self.std: tuple[float, ...] = tuple(float(s) for s in std)
        self.time_constant_s = float(time_constant_s)
        self.values: tuple[float, ...] = tuple(
            s * n for s, n in zip(self.std, initial_normals, strict=True)
        )
        self._dt_s = math.nan
        self._phi = 1.0
        self._drive: tuple[float, ...] = tuple(0.0 for _ in self.std)

    def advance(self, dt_s: float, normals: Sequence[float]) -> tuple[float, ...]:
        """Step by `dt_s` ≥ 0 seconds with one standard normal per component; the new values."""
        if dt_s != self._dt_s:
            if not dt_s >= 0.0:
                raise ValueError(f"dt_s must be ≥ 0, got {dt_s!r}")
            self._dt_s = dt_s
            self._phi = math.exp(-dt_s / self.time_constant_s)
            gain = math.sqrt(1.0 - self._phi * self._phi)
            self._drive = tuple([s * gain for s in self.std])
        phi = self._phi
        # A list comprehension, not a generator: no generator frame resumed per component.
        self.values = tuple(
            [phi * x + d * n for x, d, n in zip(self.values, self._drive, normals, strict=True)]
        )
        return self.values


class GnssModel:
    """GNSS fixes of the antenna position (module docstring).

    `sample(t_s, position_enu_m)` is called every physics tick with the true ENU position of
    the antenna; it returns a `NavSatFix` stamped `t_s` when a fix is due (every 1/rate_hz s on
    the grid k/rate_hz) and None otherwise or during a dropout fault. Faults act on the ENU
    position in metres, before the geodetic conversion.
    """

    def __init__(
        self,
        params: GnssParams,
        *,
        origin: GeoOrigin,
        rng: np.random.Generator,
        faults: FaultChannel | None = None,
    ) -> None:
        self.params = params
        self.latency_s: float = params.latency_s
        self._origin = origin
        self._faults = faults
        self._rate_hz = params.rate_hz
        # Time [s] from which the next fix is due; `sample` returns None before it, so a
        # caller may skip the call until then (the simulator does).
        self.next_due_s = -math.inf
        self._last_fix_s: float | None = None
        h_gm, v_gm = params.horizontal_markov_std_m, params.vertical_markov_std_m
        self._markov = GaussMarkovProcess(
            (h_gm, h_gm, v_gm), params.markov_time_constant_s, rng.standard_normal(3).tolist()
        )
        h_w, v_w = params.horizontal_white_std_m, params.vertical_white_std_m
        self._white_std = (h_w, h_w, v_w)
        self._noise = NormalBlock(rng, 6)
        self._horizontal_std_m = params.horizontal_std_m
        self._vertical_std_m = params.vertical_std_m
        # Error (measured − true, before faults) of the latest fix [m], for diagnostics.
        self.error_enu_m: Vec3 = (0.0, 0.0, 0.0)

    def sample(self, t_s: float, position_enu_m: Vec3) -> NavSatFix | None:
        if t_s < self.next_due_s:
            return None
        self.next_due_s = next_sample_time_s(t_s, self._rate_hz)
        if not all(map(math.isfinite, position_enu_m)):
            raise ValueError(f"GNSS input position at t={t_s} s is not finite: {position_enu_m!r}")
        n = self._noise.next_row()
        if self._last_fix_s is None:
            gm = self._markov.values
        else:
            gm = self._markov.advance(t_s - self._last_fix_s, n[3:])
        self._last_fix_s = t_s
        sw = self._white_std
        error = (gm[0] + sw[0] * n[0], gm[1] + sw[1] * n[1], gm[2] + sw[2] * n[2])
        self.error_enu_m = error
        measured: tuple[float, ...] = (
            position_enu_m[0] + error[0],
            position_enu_m[1] + error[1],
            position_enu_m[2] + error[2],
        )
        if self._faults is not None:
            faulted = self._faults.apply(t_s, measured)
            if faulted is None:
                return None
            measured = faulted
        lat_deg, lon_deg, height_m = self._origin.enu_to_geodetic(cast(Vec3, measured))
        return NavSatFix(
            t_s=t_s,
            latitude_deg=lat_deg,
            longitude_deg=lon_deg,
            altitude_m=height_m,
            horizontal_std_m=self._horizontal_std_m,
            vertical_std_m=self._vertical_std_m,
            status=self.params.status,
        )
