"""Simulated 3-axis magnetometer: Earth's field in the body frame, hard-iron residual, noise.

Earth's field: constant over the flight area, given by its total intensity F, inclination I
(positive downwards) and declination D (east of true north), as the World Magnetic Model
(NOAA/BGS) reports them; a scenario can supply WMM values for its origin. In ENU:
    H = F·cos I,  field_enu = (H·sin D, H·cos D, −F·sin I).
Default: F = 50 µT, I = 60°, D = 0° — a typical northern mid-latitude field (F spans ~25–65 µT
over the globe; I is ~60–70° at 40–50° N).

Sensor: the true field is rotated into FLU with the true attitude (q*·b·q), then a constant
residual hard-iron bias and white noise are added:
- Noise: ST LIS3MDL datasheet (DocID024204), RMS noise 3.2 mgauss (X, Y) and 4.1 mgauss (Z) in
  ultra-high-performance mode at ±4 gauss; 0.4 µT (4 mgauss) on every axis.
- Hard iron: what calibration leaves of the vehicle's own field (motor magnets, battery and ESC
  currents). A vector of fixed magnitude `hard_iron_residual_ut` in a direction drawn uniformly
  on the sphere per run (seeded). In level flight its horizontal part b_h turns the measured
  horizontal field by up to asin(b_h/H): with 0.6 µT and H = 25 µT that is at most 1.4° (1.1° on
  average over directions), the "heading error of order 1°" of SCENARIOS.md.
- Not modelled: soft iron (scale/cross-axis), motor-current interference, local anomalies.

Rate 50 Hz (PX4 and ArduPilot poll external compasses at 50–100 Hz). Output in tesla; the
message's `variance_t2` is that of the white noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np

from kestrel.messages import MagneticField, Quat, Vec3
from kestrel.params import check_param_ranges
from kestrel.random_streams import NormalBlock
from kestrel.rotation import rotate_inverse
from kestrel.sim.sensors.faults import FaultChannel, next_sample_time_s

TESLA_PER_MICROTESLA = 1e-6


_MAG_PARAM_RANGES: tuple[tuple[str, float, float, bool], ...] = (
    # field, low, high, low bound excluded
    ("rate_hz", 0.0, 1000.0, True),
    ("earth_field_total_ut", 20.0, 70.0, False),
    ("inclination_deg", -90.0, 90.0, False),
    ("declination_deg", -180.0, 180.0, False),
    ("noise_std_ut", 0.0, 10.0, False),
    ("hard_iron_residual_ut", 0.0, 10.0, False),
)


@dataclass(frozen=True)
class MagParams:
    """Parameters of the simulated magnetometer (defaults in the module docstring).

    rate_hz: output data rate [Hz], in (0, 1000].
    earth_field_total_ut: total intensity F of Earth's field [µT], in [20, 70].
    inclination_deg: inclination I, positive when the field points down [deg], in [−90, 90].
    declination_deg: declination D, positive east of true north [deg], in [−180, 180].
    noise_std_ut: white noise per axis [µT], in [0, 10].
    hard_iron_residual_ut: magnitude of the residual hard-iron bias [µT], in [0, 10].
    """

    rate_hz: float = 50.0
    earth_field_total_ut: float = 50.0
    inclination_deg: float = 60.0
    declination_deg: float = 0.0
    noise_std_ut: float = 0.4
    hard_iron_residual_ut: float = 0.6

    def __post_init__(self) -> None:
        check_param_ranges(self, _MAG_PARAM_RANGES)

    @property
    def earth_field_enu_t(self) -> Vec3:
        """Earth's field in ENU [T]: (H·sin D, H·cos D, −F·sin I), H = F·cos I."""
        total_t = self.earth_field_total_ut * TESLA_PER_MICROTESLA
        inclination = math.radians(self.inclination_deg)
        declination = math.radians(self.declination_deg)
        horizontal_t = total_t * math.cos(inclination)
        return (
            horizontal_t * math.sin(declination),
            horizontal_t * math.cos(declination),
            -total_t * math.sin(inclination),
        )


class MagModel:
    """Magnetic field samples in the FLU body frame (module docstring).

    `sample(t_s, orientation_enu_flu)` is called every physics tick with the true attitude
    (quaternion x, y, z, w rotating FLU into ENU); it returns a `MagneticField` when a sample is
    due (every 1/rate_hz s on the grid k/rate_hz) and None otherwise or during a dropout fault.
    Faults act in tesla, FLU.
    """

    def __init__(
        self,
        params: MagParams,
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
        self._field_enu_t = params.earth_field_enu_t
        direction = rng.standard_normal(3)
        direction_norm = float(np.linalg.norm(direction))
        magnitude_t = params.hard_iron_residual_ut * TESLA_PER_MICROTESLA
        bias = direction * (magnitude_t / direction_norm) if direction_norm > 0.0 else direction
        # Residual hard-iron bias of this run, FLU [T].
        self.hard_iron_flu_t: Vec3 = (float(bias[0]), float(bias[1]), float(bias[2]))
        self._noise = NormalBlock(rng, 3)
        self._noise_std_t = params.noise_std_ut * TESLA_PER_MICROTESLA
        self._variance_t2 = self._noise_std_t**2

    def sample(self, t_s: float, orientation_enu_flu: Quat) -> MagneticField | None:
        if t_s < self.next_due_s:
            return None
        self.next_due_s = next_sample_time_s(t_s, self._rate_hz)
        if not all(map(math.isfinite, orientation_enu_flu)):
            raise ValueError(f"magnetometer input attitude at t={t_s} s is not finite")
        body = rotate_inverse(orientation_enu_flu, self._field_enu_t)
        b = self.hard_iron_flu_t
        s = self._noise_std_t
        n = self._noise.next_row()
        field: Vec3 = (
            body[0] + b[0] + s * n[0],
            body[1] + b[1] + s * n[1],
            body[2] + b[2] + s * n[2],
        )
        if self._faults is not None:
            faulted = self._faults.apply(t_s, field)
            if faulted is None:
                return None
            field = cast(Vec3, faulted)
        return MagneticField(t_s=t_s, field_flu_t=field, variance_t2=self._variance_t2)
