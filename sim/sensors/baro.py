"""Simulated barometer after the Bosch BMP388: ISA static pressure, slow bias, white noise.

Source: Bosch Sensortec BMP388 datasheet (BST-BMP388-DS001), configured as its "drone" use case
(§3.5, filter selection table): normal mode, pressure oversampling ×8 ("standard resolution"),
temperature ×1, IIR coefficient 2, 50 Hz output data rate, RMS noise 11 cm. At sea level
dp/dh = −ρ₀·g₀ = −1.225 kg/m³ · 9.80665 m/s² = −12.0 Pa/m, so 11 cm is σ = 1.32 Pa.
The datasheet's relative accuracy, ±8 Pa (≈ ±0.66 m) over 900–1100 hPa at 25–40 °C, bounds the
slowly varying error of pressure differences during a flight; it is modelled as a first-order
Gauss–Markov bias (the GNSS model's `GaussMarkovProcess`) whose ±3σ band is that ±8 Pa
(σ = 8/3 Pa), with a 300-s correlation time (the time scale of the board's temperature changes
in flight — a modelling assumption; the datasheet's offset temperature coefficient is about
±0.75 Pa/K), started from its stationary distribution.

Not modelled: the absolute accuracy (±50 Pa; the estimator references the barometer to the
start altitude, which absorbs a constant offset), weather, propeller downwash and ground effect
on the static port.

Pressure: `kestrel.atmosphere.pressure_at_altitude_pa(altitude_amsl_m)` (ISA, the same law the
estimator inverts); the simulator passes the altitude above mean sea level
(origin.alt_m + z, SCENARIOS.md local-level rule). The message's `variance_pa2` is that of the
white noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kestrel.airframe import GRAVITY_MPS2
from kestrel.atmosphere import pressure_at_altitude_pa
from kestrel.messages import FluidPressure
from kestrel.params import check_param_ranges
from kestrel.random_streams import NormalBlock
from kestrel.sim.sensors.faults import FaultChannel, next_sample_time_s
from kestrel.sim.sensors.gnss import GaussMarkovProcess

BMP388_DRONE_RMS_NOISE_M = 0.11
"""RMS altitude noise of the BMP388 "drone" configuration (datasheet §3.5) [m]."""
ISA_SEA_LEVEL_DENSITY_KGPM3 = 1.225
"""ISA air density at sea level (ISO 2533) [kg/m³]."""
SEA_LEVEL_PRESSURE_GRADIENT_PA_PER_M = ISA_SEA_LEVEL_DENSITY_KGPM3 * GRAVITY_MPS2
"""ISA sea-level density × standard gravity: pressure change per metre at sea level [Pa/m]."""
BMP388_RELATIVE_ACCURACY_PA = 8.0
"""BMP388 relative pressure accuracy, ±8 Pa (900–1100 hPa, 25–40 °C) [Pa]."""


_BARO_PARAM_RANGES: tuple[tuple[str, float, float, bool], ...] = (
    # field, low, high, low bound excluded
    ("rate_hz", 0.0, 200.0, True),
    ("noise_std_pa", 0.0, 100.0, False),
    ("bias_std_pa", 0.0, 1000.0, False),
    ("bias_time_constant_s", 0.0, 1e5, True),
)


@dataclass(frozen=True)
class BaroParams:
    """Parameters of the simulated barometer (defaults: BMP388 drone setting, module docstring).

    rate_hz: output data rate [Hz], in (0, 200] (the BMP388's maximum ODR).
    noise_std_pa: white pressure noise per sample [Pa], in [0, 100].
    bias_std_pa: stationary σ of the Gauss–Markov pressure bias [Pa], in [0, 1000].
    bias_time_constant_s: correlation time of the bias [s], in (0, 1e5].
    """

    rate_hz: float = 50.0
    noise_std_pa: float = BMP388_DRONE_RMS_NOISE_M * SEA_LEVEL_PRESSURE_GRADIENT_PA_PER_M
    bias_std_pa: float = BMP388_RELATIVE_ACCURACY_PA / 3.0
    bias_time_constant_s: float = 300.0

    def __post_init__(self) -> None:
        check_param_ranges(self, _BARO_PARAM_RANGES)


class BaroModel:
    """Static pressure samples (module docstring).

    `sample(t_s, altitude_amsl_m)` is called every physics tick with the true altitude above
    mean sea level; it returns a `FluidPressure` when a sample is due (every 1/rate_hz s on the
    grid k/rate_hz) and None otherwise or during a dropout fault. Faults act in Pa.
    """

    def __init__(
        self,
        params: BaroParams,
        rng: np.random.Generator,
        *,
        faults: FaultChannel | None = None,
    ) -> None:
        self.params = params
        self._faults = faults
        self._rate_hz = params.rate_hz
        # Time [s] from which the next sample is due; `sample` returns None before it, so a
        # caller may skip the call until then (the simulator does).
        self.next_due_s = -math.inf
        self._last_sample_s: float | None = None
        self._bias = GaussMarkovProcess(
            (params.bias_std_pa,), params.bias_time_constant_s, rng.standard_normal(1).tolist()
        )
        self._noise = NormalBlock(rng, 2)
        self._noise_std_pa = params.noise_std_pa
        self._variance_pa2 = params.noise_std_pa**2
        # Bias of the latest sample [Pa], for diagnostics.
        self.bias_pa: float = self._bias.values[0]

    def sample(self, t_s: float, altitude_amsl_m: float) -> FluidPressure | None:
        if t_s < self.next_due_s:
            return None
        self.next_due_s = next_sample_time_s(t_s, self._rate_hz)
        if not math.isfinite(altitude_amsl_m):
            raise ValueError(f"barometer input altitude at t={t_s} s is not finite")
        n = self._noise.next_row()
        if self._last_sample_s is None:
            bias_pa = self._bias.values[0]
        else:
            bias_pa = self._bias.advance(t_s - self._last_sample_s, n[1:])[0]
        self._last_sample_s = t_s
        self.bias_pa = bias_pa
        pressure_pa = pressure_at_altitude_pa(altitude_amsl_m) + bias_pa + self._noise_std_pa * n[0]
        if self._faults is not None:
            faulted = self._faults.apply(t_s, (pressure_pa,))
            if faulted is None:
                return None
            pressure_pa = faulted[0]
        return FluidPressure(t_s=t_s, pressure_pa=pressure_pa, variance_pa2=self._variance_pa2)
