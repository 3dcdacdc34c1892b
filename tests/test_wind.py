"""Wind: the mean is what the scenario says, gusts have the configured spread and correlation
time, and the same seed gives the same gusts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kestrel.random_streams import NormalBlock, rng_for
from kestrel.sim.wind import (
    GUST_CHUNK_STEPS,
    WindConfig,
    WindModel,
    dryden_low_altitude_length_scales_m,
)

FEET = 0.3048
MEAN_ENU_MPS = (2.0, -1.0, 0.0)
GUST_STD_MPS = 1.0
SAMPLES_PER_TAU = 10
"""Steps per (shortest) correlation time; the exact discretisation makes statistics independent
of the step, so a coarse step keeps the long run cheap."""
RUN_TAUS = 4_000
"""Run length in (longest) correlation times."""


def _run(config: WindConfig, *, seed: int, dt_s: float, steps: int) -> np.ndarray:
    wind = WindModel(config, seed=seed, dt_s=dt_s)
    samples = [wind.velocity_enu_mps]
    samples += [wind.advance() for _ in range(steps)]
    return np.asarray(samples)


def test_length_scales_follow_mil_f_8785c_low_altitude_law():
    # Given 1000 ft, where 0.177 + 0.000823·h = 1 exactly, so L_u = L_v = h.
    # When / Then
    l_u, l_v, l_w = dryden_low_altitude_length_scales_m(1000.0 * FEET)
    assert l_u == pytest.approx(1000.0 * FEET)
    assert l_v == pytest.approx(1000.0 * FEET)
    assert l_w == pytest.approx(1000.0 * FEET)
    # And at 10 m (32.8 ft) the horizontal scale is h / 0.204^1.2.
    h_ft = 10.0 / FEET
    expected_ft = h_ft / (0.177 + 0.000823 * h_ft) ** 1.2
    assert dryden_low_altitude_length_scales_m(10.0)[0] == pytest.approx(expected_ft * FEET)


def test_default_time_constants_are_length_scale_over_reference_airspeed():
    config = WindConfig(gust_std_mps=1.0)
    l_u, _, l_w = dryden_low_altitude_length_scales_m(config.reference_altitude_m)
    tau = config.time_constants_s
    assert tau[0] == pytest.approx(l_u / config.reference_airspeed_mps)
    assert tau[2] == pytest.approx(l_w / config.reference_airspeed_mps)


def test_gust_mean_and_spread_match_the_configuration_over_a_long_run():
    # Given gusts with the default correlation times, sampled 10 times per vertical τ.
    config = WindConfig(mean_enu_mps=MEAN_ENU_MPS, gust_std_mps=GUST_STD_MPS)
    tau = np.asarray(config.time_constants_s)
    dt_s = tau.min() / SAMPLES_PER_TAU
    steps = int(RUN_TAUS * tau.max() / dt_s)
    # When
    samples = _run(config, seed=3, dt_s=dt_s, steps=steps)
    # Then: for a Gauss–Markov process observed over T, the sample mean has standard deviation
    # σ·√(2τ/T) and the sample standard deviation a relative one of √(τ/(2T)); allow 5 of each.
    duration_s = steps * dt_s
    mean_tolerance = 5.0 * GUST_STD_MPS * np.sqrt(2.0 * tau / duration_s)
    std_tolerance = 5.0 * GUST_STD_MPS * np.sqrt(tau / (2.0 * duration_s))
    assert np.all(np.abs(samples.mean(axis=0) - MEAN_ENU_MPS) < mean_tolerance)
    assert np.all(np.abs(samples.std(axis=0) - GUST_STD_MPS) < std_tolerance)


def test_gust_autocorrelation_decays_to_one_over_e_after_one_time_constant():
    # Given a single time constant on every axis (reference airspeed chosen so τ_u = 1 s).
    l_u = dryden_low_altitude_length_scales_m(10.0)[0]
    config = WindConfig(gust_std_mps=GUST_STD_MPS, reference_airspeed_mps=l_u / 1.0)
    tau_s = config.time_constants_s[0]
    dt_s = tau_s / SAMPLES_PER_TAU
    steps = SAMPLES_PER_TAU * 20_000  # 20 000 τ
    # When
    east = _run(config, seed=11, dt_s=dt_s, steps=steps)[:, 0]
    # Then: ρ(τ) = e^-1; the estimate's standard deviation is ≈ √(2τ/T) (Bartlett), allow 5.
    lag = SAMPLES_PER_TAU
    rho = np.corrcoef(east[:-lag], east[lag:])[0, 1]
    assert rho == pytest.approx(math.exp(-1.0), abs=5.0 * math.sqrt(2.0 / 20_000))


def test_without_gusts_the_wind_is_the_constant_mean():
    wind = WindModel(WindConfig(mean_enu_mps=MEAN_ENU_MPS), seed=1, dt_s=0.001)
    assert all(wind.advance() == MEAN_ENU_MPS for _ in range(100))


def test_same_seed_gives_the_same_gusts_and_another_seed_different_ones():
    config = WindConfig(mean_enu_mps=MEAN_ENU_MPS, gust_std_mps=GUST_STD_MPS)
    a = _run(config, seed=5, dt_s=0.001, steps=500)
    b = _run(config, seed=5, dt_s=0.001, steps=500)
    c = _run(config, seed=6, dt_s=0.001, steps=500)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_gusts_computed_ahead_equal_stepping_one_normal_row_at_a_time():
    # Given the gust recursion stepped one NormalBlock row at a time, as the model is defined
    # (first row: the stationary start), with the model's own φ and drive.
    config = WindConfig(mean_enu_mps=MEAN_ENU_MPS, gust_std_mps=GUST_STD_MPS)
    dt_s = 0.001
    steps = 3 * GUST_CHUNK_STEPS + 17  # several precomputed chunks and a partial one
    normals = NormalBlock(rng_for(9, "wind"), 3)
    phi = [math.exp(-dt_s / tau) for tau in config.time_constants_s]
    drive = [GUST_STD_MPS * math.sqrt(1.0 - p * p) for p in phi]
    gust = [GUST_STD_MPS * n for n in normals.next_row()]
    expected = []
    for _ in range(steps):
        n = normals.next_row()
        gust = [phi[i] * gust[i] + drive[i] * n[i] for i in range(3)]
        expected.append(tuple(MEAN_ENU_MPS[i] + gust[i] for i in range(3)))
    # When the model advances as many steps.
    wind = WindModel(config, seed=9, dt_s=dt_s)
    got = []
    for _ in range(steps):
        velocity = wind.advance()
        assert wind.velocity_enu_mps == velocity
        got.append(velocity)
    # Then every velocity is bit-identical.
    assert got == expected


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"gust_std_mps": -0.1}, "gust_std_mps"),
        ({"gust_std_mps": math.nan}, "gust_std_mps"),
        ({"mean_enu_mps": (1.0, math.inf, 0.0)}, "mean_enu_mps"),
        ({"mean_enu_mps": (1.0, 0.0)}, "mean_enu_mps"),
        ({"reference_altitude_m": 1.0}, "reference_altitude_m"),
        ({"reference_airspeed_mps": 0.0}, "reference_airspeed_mps"),
    ],
)
def test_invalid_wind_configuration_is_refused_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        WindConfig(**kwargs)
