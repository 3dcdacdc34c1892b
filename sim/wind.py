"""Wind: a mean ENU vector plus seeded Dryden-like turbulence, advanced once per physics step.

Model. Each gust axis (east, north, up) is an independent first-order Gauss–Markov process

    dg/dt = −g/τ + σ·√(2/τ)·w(t)        (w: unit white noise)

with stationary standard deviation σ = `gust_std_mps` (per axis, SCENARIOS.md) and correlation
time τ. This is the first-order shaping filter σ·√(2L/(πV))/(1 + (L/V)s) of the Dryden
longitudinal gust spectrum Φ(Ω) = σ²·(2L/π)/(1 + (LΩ)²) (MIL-F-8785C, "Flying qualities of
piloted airplanes", 1980, §3.7 atmospheric disturbances), used here for all three axes
("Dryden-like": the true lateral and vertical Dryden filters are second order, with the same
variance and length scale) with τ = L/V: the vehicle (or, when hovering,
the mean wind under Taylor's frozen-turbulence hypothesis) sweeps through a frozen gust field
of length scale L at speed V. It is discretised exactly, g ← φ·g + σ·√(1 − φ²)·n with
φ = e^(−dt/τ) and n ~ N(0, 1), so its statistics do not depend on the step size, and it starts
from the stationary distribution so that a run has no warm-up transient.

Length scales: MIL-F-8785C low-altitude model (10 ft < h < 1000 ft, h in feet):
L_u = L_v = h / (0.177 + 0.000823·h)^1.2 and L_w = h. The world shares one wind (vehicles a few
metres apart see the same gusts), so the scales are evaluated once at `reference_altitude_m`
(default 10 m, the height the example scenarios fly at; L_u ≈ 67 m, L_w = 10 m) with
`reference_airspeed_mps` (default 5 m/s: a 4 m/s cruise in a 2 m/s wind, SCENARIOS.md
example), giving τ_horizontal ≈ 13.5 s and τ_vertical = 2 s. Both are configurable.

Random draws come from `rng_for(seed, "wind")` in blocks (see `WindModel`): no per-sample rng
call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kestrel.messages import Vec3
from kestrel.random_streams import rng_for

FEET_PER_M = 1.0 / 0.3048
"""International foot (exact definition, 0.3048 m)."""
DRYDEN_MIN_ALTITUDE_M = 10.0 / FEET_PER_M
"""Lower validity bound of the MIL-F-8785C low-altitude turbulence scales (10 ft)."""
DRYDEN_MAX_ALTITUDE_M = 1000.0 / FEET_PER_M
"""Upper validity bound of the MIL-F-8785C low-altitude turbulence scales (1000 ft)."""
GUST_CHUNK_STEPS = 250
"""Gust steps computed ahead at a time, from one draw of as many (east, north, up) normals."""


def dryden_low_altitude_length_scales_m(altitude_m: float) -> tuple[float, float, float]:
    """(L_u, L_v, L_w) [m] of the MIL-F-8785C low-altitude Dryden model at `altitude_m` AGL.

    L_u = L_v = h/(0.177 + 0.000823·h)^1.2, L_w = h, with h in feet (MIL-F-8785C §3.7,
    low-altitude Dryden scales; MIL-HDBK-1797 writes the same law with L_v, L_w halved for
    its form of the spectra); valid for 10 ft < h < 1000 ft.
    """
    if not (DRYDEN_MIN_ALTITUDE_M <= altitude_m <= DRYDEN_MAX_ALTITUDE_M):
        raise ValueError(
            f"altitude_m must be within [{DRYDEN_MIN_ALTITUDE_M:.2f}, "
            f"{DRYDEN_MAX_ALTITUDE_M:.1f}] m (MIL-F-8785C low-altitude model), got {altitude_m!r}"
        )
    h_ft = altitude_m * FEET_PER_M
    horizontal_ft = h_ft / (0.177 + 0.000823 * h_ft) ** 1.2
    horizontal_m = horizontal_ft / FEET_PER_M
    return horizontal_m, horizontal_m, altitude_m


@dataclass(frozen=True)
class WindConfig:
    """Wind of a world (SCENARIOS.md `world.wind`).

    mean_enu_mps: mean wind velocity, ENU [m/s] (the air moves *towards* this direction).
    gust_std_mps: standard deviation of the gusts per axis [m/s], in [0, 20].
    reference_altitude_m: altitude AGL at which the Dryden length scales are evaluated [m],
        within the low-altitude model's validity [3.05, 304.8] m.
    reference_airspeed_mps: speed V at which the gust field is swept, τ = L/V [m/s], in
        (0, 100].
    """

    mean_enu_mps: Vec3 = (0.0, 0.0, 0.0)
    gust_std_mps: float = 0.0
    reference_altitude_m: float = 10.0
    reference_airspeed_mps: float = 5.0

    def __post_init__(self) -> None:
        if len(self.mean_enu_mps) != 3 or not all(math.isfinite(v) for v in self.mean_enu_mps):
            raise ValueError(f"mean_enu_mps must be 3 finite numbers, got {self.mean_enu_mps!r}")
        object.__setattr__(self, "mean_enu_mps", tuple(float(v) for v in self.mean_enu_mps))
        if not (0.0 <= self.gust_std_mps <= 20.0):
            raise ValueError(f"gust_std_mps must be within [0, 20] m/s, got {self.gust_std_mps!r}")
        if not (DRYDEN_MIN_ALTITUDE_M <= self.reference_altitude_m <= DRYDEN_MAX_ALTITUDE_M):
            raise ValueError(
                f"reference_altitude_m must be within [{DRYDEN_MIN_ALTITUDE_M:.2f}, "
                f"{DRYDEN_MAX_ALTITUDE_M:.1f}] m, got {self.reference_altitude_m!r}"
            )
        if not (0.0 < self.reference_airspeed_mps <= 100.0):
            raise ValueError(
                f"reference_airspeed_mps must be within (0, 100] m/s, "
                f"got {self.reference_airspeed_mps!r}"
            )

    @property
    def time_constants_s(self) -> Vec3:
        """Gust correlation times τ = L/V per ENU axis [s] (east, north: L_u; up: L_w)."""
        l_u, l_v, l_w = dryden_low_altitude_length_scales_m(self.reference_altitude_m)
        v = self.reference_airspeed_mps
        return (l_u / v, l_v / v, l_w / v)


class WindModel:
    """The wind of one world, advanced once per physics step of `dt_s`.

    `velocity_enu_mps` is the wind at the current step (mean + gusts); `advance()` moves it
    one step forward and returns it. Without gusts no random numbers are drawn.

    Speed: `advance` runs every physics tick, so the gusts are computed `GUST_CHUNK_STEPS`
    steps ahead: one draw of that many rows of standard normals (numpy fills an array in
    order, so these are the values NormalBlock would hand out one row at a time) goes through
    the recursion in one tight loop, and `advance` hands out the precomputed velocities. Same
    draws, same arithmetic in the same order: bit-identical to stepping one at a time, at
    about half the per-tick cost, in bursts of ~40 µs every chunk.
    """

    def __init__(self, config: WindConfig, *, seed: int, dt_s: float) -> None:
        if not (dt_s > 0.0 and math.isfinite(dt_s)):
            raise ValueError(f"dt_s must be a positive finite number [s], got {dt_s!r}")
        self.config = config
        self.dt_s = float(dt_s)
        self._mean = config.mean_enu_mps
        sigma = config.gust_std_mps
        self._gusty = sigma > 0.0
        self._phi = tuple(math.exp(-self.dt_s / tau) for tau in config.time_constants_s)
        self._drive = tuple(sigma * math.sqrt(1.0 - phi * phi) for phi in self._phi)
        # Gust state after the last precomputed step, and the winds precomputed so far.
        self._gust: list[float] = [0.0, 0.0, 0.0]
        self._ahead: list[Vec3] = []
        self._ahead_index = 0
        self._rng = rng_for(seed, "wind") if self._gusty else None
        if self._rng is not None:
            # Start in the stationary distribution: no warm-up transient.
            n = self._rng.standard_normal(3).tolist()
            self._gust = [sigma * n[0], sigma * n[1], sigma * n[2]]
        self.velocity_enu_mps: Vec3 = self._compose()

    def _compose(self) -> Vec3:
        m = self._mean
        g = self._gust
        return (m[0] + g[0], m[1] + g[1], m[2] + g[2])

    def _compute_ahead(self) -> list[Vec3]:
        """Run g ← φ·g + σ·√(1 − φ²)·n over the next `GUST_CHUNK_STEPS` steps."""
        assert self._rng is not None
        normals = self._rng.standard_normal((GUST_CHUNK_STEPS, 3)).tolist()
        g0, g1, g2 = self._gust
        p0, p1, p2 = self._phi
        d0, d1, d2 = self._drive
        m0, m1, m2 = self._mean
        ahead: list[Vec3] = []
        append = ahead.append
        for n0, n1, n2 in normals:
            g0 = p0 * g0 + d0 * n0
            g1 = p1 * g1 + d1 * n1
            g2 = p2 * g2 + d2 * n2
            append((m0 + g0, m1 + g1, m2 + g2))
        self._gust = [g0, g1, g2]
        self._ahead = ahead
        return ahead

    def advance(self) -> Vec3:
        """Move the gusts one step forward; return the new wind velocity, ENU [m/s]."""
        ahead = self._ahead
        index = self._ahead_index
        if index >= len(ahead):
            if not self._gusty:
                return self.velocity_enu_mps
            ahead = self._compute_ahead()
            index = 0
        self._ahead_index = index + 1
        velocity = ahead[index]
        self.velocity_enu_mps = velocity
        return velocity
