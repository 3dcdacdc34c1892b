"""Behaviour of the simulated sensor models: noise statistics, rates, geodesy, ISA, heading.

Statistical checks compare a sample standard deviation s of n zero-mean values with the model σ
through the chi-square law: n·s²/σ² ~ χ²(n), so s/σ lies within
[√(χ²_{p/2}(n)/n), √(χ²_{1−p/2}(n)/n)] with probability 1 − p; p = 1e-6 keeps a correct model
from failing by chance while a σ wrong by a few per cent (for n ≥ 10⁴) still fails. The
quantiles use the Wilson–Hilferty approximation χ²_q(n)/n ≈ (1 − a + z_q·√a)³, a = 2/(9n),
accurate to well under 1 % of s/σ here (and it spares the tests scipy's import time).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from statistics import NormalDist

import numpy as np
import pytest

from kestrel.airframe import GRAVITY_MPS2
from kestrel.atmosphere import altitude_at_pressure_m, pressure_at_altitude_pa
from kestrel.geodesy import GeoOrigin
from kestrel.messages import Vec3
from kestrel.random_streams import rng_for
from kestrel.rotation import quat_from_euler, wrap_pi
from kestrel.sim.sensors.baro import BaroModel, BaroParams
from kestrel.sim.sensors.gnss import (
    GNSS_PRESETS,
    RTK_GNSS,
    STANDARD_GNSS,
    GnssModel,
    GnssParams,
)
from kestrel.sim.sensors.imu import ImuModel, ImuParams
from kestrel.sim.sensors.mag import MagModel, MagParams
from kestrel.sim.sensors.suite import SensorSuite, SensorSuiteConfig

P_FALSE_FAIL = 1e-6

# Datasheet values the defaults must reproduce (cited in the model modules).
ICM42688P_GYRO_NOISE_DENSITY_DPS_PER_RTHZ = 2.8e-3
ICM42688P_ACCEL_NOISE_DENSITY_UG_PER_RTHZ = 70.0
ICM42688P_GYRO_ZRO_TOLERANCE_DPS = 0.5
ICM42688P_ACCEL_ZERO_G_TOLERANCE_MG = 20.0
BMP388_DRONE_RMS_NOISE_M = 0.11
ISA_SEA_LEVEL_DENSITY_KGPM3 = 1.225
BMP388_RELATIVE_ACCURACY_PA = 8.0

ORIGIN = GeoOrigin(lat_deg=31.2304, lon_deg=121.4737, alt_m=4.0, geoid_undulation_m=10.0)
TRUE_RATES_FLU_RADPS: Vec3 = (0.3, -0.2, 0.1)
TRUE_FORCE_FLU_MPS2: Vec3 = (0.5, -0.4, 9.7)


def std_ratio_bounds(n: int, p: float = P_FALSE_FAIL) -> tuple[float, float]:
    """Bounds of s/σ for n zero-mean normal values (module docstring)."""
    z = NormalDist().inv_cdf(1 - p / 2)
    a = 2 / (9 * n)
    return (1 - a - z * math.sqrt(a)) ** 1.5, (1 - a + z * math.sqrt(a)) ** 1.5


def assert_std(values: np.ndarray, sigma: float) -> None:
    """The RMS of zero-mean `values` is σ within the chi-square bounds of their count."""
    n = values.size
    ratio = math.sqrt(float(np.mean(np.square(values)))) / sigma
    low, high = std_ratio_bounds(n)
    assert low <= ratio <= high, f"s/σ = {ratio:.4f} outside [{low:.4f}, {high:.4f}] (n = {n})"


def imu_errors(params: ImuParams, samples: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Gyro and accelerometer output minus truth, (samples, 3) each, at the IMU rate."""
    model = ImuModel(params, rng_for(seed, "uav1/imu"))
    gyro, accel = [], []
    for k in range(samples):
        msg = model.sample(k / params.rate_hz, TRUE_RATES_FLU_RADPS, TRUE_FORCE_FLU_MPS2)
        assert msg is not None
        gyro.append(msg.angular_velocity_flu_radps)
        accel.append(msg.linear_acceleration_flu_mps2)
    return (
        np.array(gyro) - np.array(TRUE_RATES_FLU_RADPS),
        np.array(accel) - np.array(TRUE_FORCE_FLU_MPS2),
    )


# --- IMU -------------------------------------------------------------------------------------


def test_imu_white_noise_matches_the_datasheet_density_at_the_sample_rate() -> None:
    # Given the default (ICM-42688-P) IMU without turn-on bias or bias drift
    params = dataclasses.replace(
        ImuParams(),
        gyro_turn_on_bias_max_dps=0.0,
        accel_turn_on_bias_max_mg=0.0,
        gyro_bias_random_walk_radps_per_rts=0.0,
        accel_bias_random_walk_mps2_per_rts=0.0,
    )
    # When 20 s of samples are taken at 1 kHz
    gyro_error, accel_error = imu_errors(params, 20_000)
    # Then the noise per sample is density·√rate (ARW convention, imu.py docstring)
    gyro_sigma = math.radians(ICM42688P_GYRO_NOISE_DENSITY_DPS_PER_RTHZ) * math.sqrt(1000.0)
    accel_sigma = ICM42688P_ACCEL_NOISE_DENSITY_UG_PER_RTHZ * 1e-6 * GRAVITY_MPS2 * math.sqrt(1e3)
    for axis in range(3):
        assert_std(gyro_error[:, axis], gyro_sigma)
        assert_std(accel_error[:, axis], accel_sigma)
    # and it is zero-mean (5 standard errors)
    assert np.all(np.abs(gyro_error.mean(axis=0)) < 5 * gyro_sigma / math.sqrt(20_000))
    assert np.all(np.abs(accel_error.mean(axis=0)) < 5 * accel_sigma / math.sqrt(20_000))


def test_imu_bias_random_walk_steps_by_k_times_root_dt() -> None:
    # Given an IMU whose only error is the bias random walk
    params = dataclasses.replace(
        ImuParams(),
        gyro_noise_density_dps_per_rthz=0.0,
        accel_noise_density_ug_per_rthz=0.0,
        gyro_turn_on_bias_max_dps=0.0,
        accel_turn_on_bias_max_mg=0.0,
    )
    # When 20 s of samples are taken (several noise blocks)
    gyro_error, accel_error = imu_errors(params, 20_000)
    # Then each sample-to-sample bias step has σ = K·√(1/rate)
    dt_s = 1.0 / params.rate_hz
    assert_std(np.diff(gyro_error, axis=0), params.gyro_bias_random_walk_radps_per_rts * dt_s**0.5)
    assert_std(np.diff(accel_error, axis=0), params.accel_bias_random_walk_mps2_per_rts * dt_s**0.5)
    # and the walk starts at zero (no turn-on bias), drifting by ~K·√20 s at most a few σ
    assert np.all(np.abs(gyro_error[-1]) < 6 * params.gyro_bias_random_walk_radps_per_rts * 20**0.5)


def test_imu_reports_the_bias_it_applied() -> None:
    # Given a default IMU without white noise
    params = dataclasses.replace(
        ImuParams(), gyro_noise_density_dps_per_rthz=0.0, accel_noise_density_ug_per_rthz=0.0
    )
    model = ImuModel(params, rng_for(3, "uav1/imu"))
    # When it samples, then output − truth is exactly the bias it reports
    for k in range(2500):
        msg = model.sample(k / 1000, TRUE_RATES_FLU_RADPS, TRUE_FORCE_FLU_MPS2)
        assert msg is not None
        for measured, truth, bias in zip(
            msg.angular_velocity_flu_radps,
            TRUE_RATES_FLU_RADPS,
            model.gyro_bias_flu_radps,
            strict=True,
        ):
            assert measured - truth == pytest.approx(bias, abs=1e-15)
        for measured, truth, bias in zip(
            msg.linear_acceleration_flu_mps2,
            TRUE_FORCE_FLU_MPS2,
            model.accel_bias_flu_mps2,
            strict=True,
        ):
            assert measured - truth == pytest.approx(bias, abs=1e-14)


def test_imu_turn_on_bias_stays_within_the_datasheet_tolerance_and_varies_by_vehicle() -> None:
    # Given 300 vehicles with the default IMU
    biases = np.array(
        [ImuModel(ImuParams(), rng_for(11, f"uav{i}/imu")).turn_on_bias for i in range(300)]
    )
    gyro_bound = math.radians(ICM42688P_GYRO_ZRO_TOLERANCE_DPS)
    accel_bound = ICM42688P_ACCEL_ZERO_G_TOLERANCE_MG * 1e-3 * GRAVITY_MPS2
    # Then every axis lies within ±tolerance
    assert np.all(np.abs(biases[:, :3]) <= gyro_bound)
    assert np.all(np.abs(biases[:, 3:]) <= accel_bound)
    # and the spread is tolerance/3 (a normal law clipped at 3σ keeps 98.7 % of its σ)
    low, high = std_ratio_bounds(900)
    clipped = 0.987
    gyro_ratio = math.sqrt(float(np.mean(biases[:, :3] ** 2))) / (gyro_bound / 3)
    accel_ratio = math.sqrt(float(np.mean(biases[:, 3:] ** 2))) / (accel_bound / 3)
    assert low * clipped <= gyro_ratio <= high
    assert low * clipped <= accel_ratio <= high


@pytest.mark.parametrize(
    ("rate_hz", "physics_hz", "expected_samples_per_s"),
    [
        (1000.0, 1000.0, 1000),  # one sample per tick
        (250.0, 1000.0, 250),  # every 4th tick
        (1000.0, 500.0, 500),  # rate above the physics rate: every tick
        (300.0, 1000.0, 300),  # period not a multiple of the tick: next tick after k/300 s
    ],
)
def test_imu_samples_at_its_rate_or_every_tick_when_faster_than_physics(
    rate_hz: float, physics_hz: float, expected_samples_per_s: int
) -> None:
    # Given an IMU and a simulator clock accumulated tick by tick (with rounding errors)
    model = ImuModel(dataclasses.replace(ImuParams(), rate_hz=rate_hz), rng_for(1, "uav1/imu"))
    dt_s = 1.0 / physics_hz
    t_s = 0.0
    stamps = []
    # When it is called every tick for 10 s
    for _ in range(round(10 * physics_hz)):
        msg = model.sample(t_s, TRUE_RATES_FLU_RADPS, TRUE_FORCE_FLU_MPS2)
        if msg is not None:
            stamps.append(msg.t_s)
        t_s += dt_s
    # Then it samples at min(rate, physics rate), stamped with the tick time
    assert len(stamps) == 10 * expected_samples_per_s
    gaps = np.diff(stamps)
    assert np.all(gaps >= dt_s * (1 - 1e-6))
    assert np.all(gaps < max(1.0 / rate_hz, dt_s) + dt_s)


def test_imu_saturates_at_full_scale_and_refuses_non_finite_input() -> None:
    # Given the default IMU (±2000 dps, ±16 g)
    model = ImuModel(ImuParams(), rng_for(1, "uav1/imu"))
    gyro_limit = math.radians(2000.0)
    accel_limit = 16.0 * GRAVITY_MPS2
    # When the truth exceeds the ranges in both directions
    msg = model.sample(0.0, (50.0, -50.0, 0.0), (200.0, -200.0, 9.8))
    # Then the outputs are clipped to the full scale
    assert msg is not None
    assert msg.angular_velocity_flu_radps[:2] == (gyro_limit, -gyro_limit)
    assert msg.linear_acceleration_flu_mps2[:2] == (accel_limit, -accel_limit)
    # and without a full scale they are not
    unclipped = ImuModel(
        dataclasses.replace(ImuParams(), gyro_full_scale_dps=None, accel_full_scale_g=None),
        rng_for(1, "uav1/imu"),
    ).sample(0.0, (50.0, -50.0, 0.0), (200.0, -200.0, 9.8))
    assert unclipped is not None
    assert unclipped.angular_velocity_flu_radps[0] == pytest.approx(50.0, abs=0.1)
    assert unclipped.linear_acceleration_flu_mps2[0] == pytest.approx(200.0, abs=1.0)
    # and NaN or infinite truth is refused, with or without a full scale
    with pytest.raises(ValueError, match="not finite"):
        model.sample(0.001, (math.nan, 0.0, 0.0), TRUE_FORCE_FLU_MPS2)
    with pytest.raises(ValueError, match="not finite"):
        ImuModel(
            dataclasses.replace(ImuParams(), accel_full_scale_g=None), rng_for(1, "uav1/imu")
        ).sample(0.0, TRUE_RATES_FLU_RADPS, (0.0, math.inf, 0.0))


# --- GNSS ------------------------------------------------------------------------------------


class _EnuAsGeodetic:
    """Stands in for GeoOrigin: the "latitude, longitude, height" of a fix are the ENU
    coordinates themselves, so a long statistical run skips the exact (slow) conversion,
    which test_noiseless_gnss_fix_round_trips_to_the_true_position checks on its own."""

    def enu_to_geodetic(self, position_enu_m: Vec3) -> tuple[float, float, float]:
        return position_enu_m


@pytest.mark.parametrize(
    ("preset", "rate_hz", "latency_s", "status", "horizontal_std_m", "vertical_std_m"),
    [
        ("rtk", 10.0, 0.05, 2, 0.02, 0.03),
        ("standard", 5.0, 0.1, 0, math.hypot(1.0, 0.3), math.hypot(2.0, 0.5)),
    ],
)
def test_gnss_presets_follow_the_scenario_contract(
    preset: str,
    rate_hz: float,
    latency_s: float,
    status: int,
    horizontal_std_m: float,
    vertical_std_m: float,
) -> None:
    # Given a vehicle with the preset (SCENARIOS.md `sensors.gnss`)
    suite = SensorSuite(
        SensorSuiteConfig(gnss=preset),  # type: ignore[arg-type]
        origin=ORIGIN,
        seed=5,
        vehicle_id="uav1",
    )
    # When the simulator calls the receiver every 1 ms for 3 s
    fixes = [suite.gnss.sample(k / 1000, (1.0, 2.0, 3.0)) for k in range(3000)]
    stamps = [f.t_s for f in fixes if f is not None]
    # Then fixes come at the preset's rate, stamped k/rate (the time of validity)
    assert len(stamps) == round(3 * rate_hz)
    assert stamps == pytest.approx([k / rate_hz for k in range(len(stamps))], abs=1e-12)
    # and the latency, status and reported σ are those of the contract
    assert suite.gnss.latency_s == latency_s
    fix = next(f for f in fixes if f is not None)
    assert fix.status == status
    assert fix.horizontal_std_m == pytest.approx(horizontal_std_m)
    assert fix.vertical_std_m == pytest.approx(vertical_std_m)


def test_noiseless_gnss_fix_round_trips_to_the_true_position() -> None:
    # Given a receiver without errors at an origin with a geoid undulation
    params = dataclasses.replace(RTK_GNSS, horizontal_white_std_m=0.0, vertical_white_std_m=0.0)
    model = GnssModel(params, origin=ORIGIN, rng=rng_for(1, "uav1/gnss"))
    positions: list[Vec3] = [(0.0, 0.0, 0.0), (40.0, 0.0, 5.0), (-250.0, 130.0, 12.0)]
    positions.append((1500.0, -800.0, 60.0))
    for k, position in enumerate(positions):
        # When it reports a fix
        fix = model.sample(k / params.rate_hz, position)
        assert fix is not None
        # Then converting it back gives the true position within 1 mm
        back = ORIGIN.geodetic_to_enu(fix.latitude_deg, fix.longitude_deg, fix.altitude_m)
        assert back == pytest.approx(position, abs=1e-3)
    # and the height at the origin is ellipsoidal: AMSL + undulation
    first = GnssModel(params, origin=ORIGIN, rng=rng_for(1, "uav1/gnss")).sample(0.0, (0, 0, 0))
    assert first is not None
    assert first.altitude_m == pytest.approx(ORIGIN.alt_m + ORIGIN.geoid_undulation_m, abs=1e-6)
    assert (first.latitude_deg, first.longitude_deg) == pytest.approx((31.2304, 121.4737))


def test_rtk_gnss_error_is_white_with_2_cm_horizontal_and_3_cm_vertical_sigma() -> None:
    # Given the RTK receiver at a fixed true position
    model = GnssModel(RTK_GNSS, origin=ORIGIN, rng=rng_for(2, "uav1/gnss"))
    truth: Vec3 = (12.0, -7.0, 30.0)
    errors = []
    # When 2000 fixes are taken (200 s at 10 Hz)
    for k in range(2000):
        fix = model.sample(k / 10, truth)
        assert fix is not None
        back = ORIGIN.geodetic_to_enu(fix.latitude_deg, fix.longitude_deg, fix.altitude_m)
        errors.append(np.subtract(back, truth))
    error = np.array(errors)
    # Then the errors have the contract's σ per axis
    assert_std(error[:, :2], 0.02)
    assert_std(error[:, 2], 0.03)
    # and are uncorrelated from one fix to the next and between axes (|ρ| < 5/√n)
    lag1 = np.sum(error[1:, :2] * error[:-1, :2]) / np.sum(error[:, :2] ** 2)
    assert abs(lag1) < 5 / math.sqrt(error[:, :2].size)
    normalised = error / np.array([0.02, 0.02, 0.03])
    cross = normalised.T @ normalised / len(normalised)
    assert np.all(np.abs(cross[np.triu_indices(3, 1)]) < 5 / math.sqrt(len(normalised)))


def test_standard_gnss_error_is_gauss_markov_with_configured_sigma_and_correlation_time() -> None:
    # Given 20 vehicles with the standard receiver, read through ENU (no geodetic conversion)
    params = STANDARD_GNSS
    fixes_per_run = 10_000  # 2000 s at 5 Hz = 20 correlation times
    runs = []
    for i in range(20):
        model = GnssModel(params, origin=_EnuAsGeodetic(), rng=rng_for(9, f"uav{i}/gnss"))  # type: ignore[arg-type]
        sample = model.sample
        run = []
        # When fixes are taken at the receiver's rate only
        for k in range(fixes_per_run):
            fix = sample(k / params.rate_hz, (0.0, 0.0, 0.0))
            assert fix is not None
            run.append((fix.latitude_deg, fix.longitude_deg, fix.altitude_m))
        runs.append(run)
    error = np.array(runs)  # (vehicle, fix, axis)
    horizontal = error[:, :, :2].transpose(0, 2, 1).reshape(-1, fixes_per_run)
    vertical = error[:, :, 2]
    sigma_h = math.hypot(params.horizontal_markov_std_m, params.horizontal_white_std_m)
    sigma_v = math.hypot(params.vertical_markov_std_m, params.vertical_white_std_m)
    # Then the total σ is √(σ_GM² + σ_white²); the samples are correlated over τ = 100 s, so
    # the effective count is ~20 series·(1 + 2000 s/(2τ)) ≈ 220 per axis: 12 % (h) / 16 % (v)
    # is > 3.5 standard errors of s/σ
    assert math.sqrt(np.mean(horizontal**2)) == pytest.approx(sigma_h, rel=0.12)
    assert math.sqrt(np.mean(vertical**2)) == pytest.approx(sigma_v, rel=0.16)

    # and the horizontal autocorrelation at lag Δt is (σ_GM²/σ²)·exp(−Δt/τ); tolerances are
    # ~4 standard errors of the pooled estimate (Bartlett's formula for an AR(1) sequence)
    def autocorrelation(series: np.ndarray, lag: int) -> float:
        return float(np.sum(series[:, lag:] * series[:, :-lag]) / np.sum(series**2))

    gm_fraction = params.horizontal_markov_std_m**2 / sigma_h**2
    tau_s = params.markov_time_constant_s
    for lag_s, tolerance in ((0.2, 0.01), (10.0, 0.03), (100.0, 0.1)):
        lag = round(lag_s * params.rate_hz)
        expected = gm_fraction * math.exp(-lag_s / tau_s)
        assert autocorrelation(horizontal, lag) == pytest.approx(expected, abs=tolerance)


def test_gnss_refuses_non_finite_position() -> None:
    model = GnssModel(RTK_GNSS, origin=ORIGIN, rng=rng_for(1, "uav1/gnss"))
    with pytest.raises(ValueError, match="not finite"):
        model.sample(0.0, (math.nan, 0.0, 0.0))


# --- Barometer -------------------------------------------------------------------------------


def test_noiseless_barometer_reads_isa_pressure_that_inverts_to_the_altitude() -> None:
    # Given a barometer without noise or bias
    params = BaroParams(noise_std_pa=0.0, bias_std_pa=0.0)
    model = BaroModel(params, rng_for(1, "uav1/baro"))
    for k, altitude_m in enumerate((0.0, 4.0, 120.0, 1000.0)):
        # When it samples at an altitude AMSL
        msg = model.sample(k / params.rate_hz, altitude_m)
        assert msg is not None
        # Then the pressure is ISA's and inverts to the altitude
        assert msg.pressure_pa == pressure_at_altitude_pa(altitude_m)
        assert altitude_at_pressure_m(msg.pressure_pa) == pytest.approx(altitude_m, abs=1e-6)
        # and matches the ISA table (ISO 2533): 101 325 Pa at 0 m, 89 874.6 Pa at 1000 m
        table_pa = {0.0: 101_325.0, 1000.0: 89_874.6}.get(altitude_m)
        if table_pa is not None:
            assert msg.pressure_pa == pytest.approx(table_pa, abs=1.0)


def test_barometer_noise_is_the_bmp388_drone_setting_rms() -> None:
    # Given the default barometer without its slow bias
    params = dataclasses.replace(BaroParams(), bias_std_pa=0.0)
    model = BaroModel(params, rng_for(4, "uav1/baro"))
    # When 5000 samples are taken at 50 Hz at 20 m AMSL
    errors = []
    for k in range(5000):
        msg = model.sample(k / 50, 20.0)
        assert msg is not None
        errors.append(msg.pressure_pa - pressure_at_altitude_pa(20.0))
    # Then σ is the datasheet's 11 cm RMS times the sea-level pressure gradient ρ₀·g₀
    sigma_pa = BMP388_DRONE_RMS_NOISE_M * ISA_SEA_LEVEL_DENSITY_KGPM3 * GRAVITY_MPS2
    assert_std(np.array(errors), sigma_pa)
    assert msg.variance_pa2 == pytest.approx(sigma_pa**2)


def test_barometer_bias_spans_the_relative_accuracy_and_drifts_slowly() -> None:
    # Given 400 vehicles with a noiseless barometer (bias only)
    params = dataclasses.replace(BaroParams(), noise_std_pa=0.0)
    first, after_1_s = [], []
    for i in range(400):
        model = BaroModel(params, rng_for(6, f"uav{i}/baro"))
        # When it samples at t = 0 and t = 1 s
        msgs = [model.sample(k / 50, 0.0) for k in range(51)]
        first.append(msgs[0].pressure_pa - 101_325.0)  # type: ignore[union-attr]
        after_1_s.append(msgs[50].pressure_pa - 101_325.0)  # type: ignore[union-attr]
    bias = np.array(first)
    change = np.array(after_1_s) - bias
    # Then the bias σ is a third of the ±8 Pa relative accuracy (started stationary)
    assert_std(bias, BMP388_RELATIVE_ACCURACY_PA / 3)
    # and over 1 s it changes by σ·√(2(1 − e^(−1 s/τ))) only
    tau_s = params.bias_time_constant_s
    assert_std(change, params.bias_std_pa * math.sqrt(2 * (1 - math.exp(-1.0 / tau_s))))


def test_barometer_samples_at_50_hz() -> None:
    model = BaroModel(BaroParams(), rng_for(1, "uav1/baro"))
    stamps = [m.t_s for k in range(2000) if (m := model.sample(k / 1000, 10.0)) is not None]
    assert stamps == pytest.approx([k / 50 for k in range(100)], abs=1e-12)


# --- Magnetometer ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yaw_deg", "expected_direction_flu"),
    [
        (0.0, (0.0, 1.0)),  # facing east: north is to the left (+y)
        (90.0, (1.0, 0.0)),  # facing north: north is ahead (+x)
    ],
)
def test_magnetometer_measures_earth_field_rotated_into_the_body(
    yaw_deg: float, expected_direction_flu: tuple[float, float]
) -> None:
    # Given a perfect magnetometer and a 50 µT field inclined 60° down, declination 0
    params = MagParams(noise_std_ut=0.0, hard_iron_residual_ut=0.0)
    model = MagModel(params, rng_for(1, "uav1/mag"))
    # When the vehicle is level at the yaw
    msg = model.sample(0.0, quat_from_euler(0.0, 0.0, math.radians(yaw_deg)))
    assert msg is not None
    # Then the horizontal part H = F·cos I points north and the vertical part F·sin I down
    horizontal_t = 50e-6 * math.cos(math.radians(60.0))
    vertical_t = 50e-6 * math.sin(math.radians(60.0))
    expected = (
        horizontal_t * expected_direction_flu[0],
        horizontal_t * expected_direction_flu[1],
        -vertical_t,
    )
    assert msg.field_flu_t == pytest.approx(expected, abs=1e-12)


def test_magnetometer_declination_turns_the_horizontal_field_east() -> None:
    params = MagParams(declination_deg=10.0, noise_std_ut=0.0, hard_iron_residual_ut=0.0)
    east, north, _ = params.earth_field_enu_t
    assert math.degrees(math.atan2(east, north)) == pytest.approx(10.0)


def test_magnetometer_noise_matches_its_sigma() -> None:
    params = dataclasses.replace(MagParams(), hard_iron_residual_ut=0.0)
    model = MagModel(params, rng_for(3, "uav1/mag"))
    level = (0.0, 0.0, 0.0, 1.0)
    truth = np.array(params.earth_field_enu_t)
    errors = []
    for k in range(3000):
        msg = model.sample(k / params.rate_hz, level)
        assert msg is not None
        errors.append(np.array(msg.field_flu_t) - truth)
    assert_std(np.array(errors), params.noise_std_ut * 1e-6)
    assert msg.variance_t2 == pytest.approx((params.noise_std_ut * 1e-6) ** 2)


def level_heading_errors_deg(model: MagModel) -> np.ndarray:
    """Heading from the magnetometer minus true yaw, level flight, yaw swept over 360°."""
    errors = []
    for k, yaw_deg in enumerate(range(0, 360, 2)):
        yaw = math.radians(yaw_deg)
        msg = model.sample(k / model.params.rate_hz, quat_from_euler(0.0, 0.0, yaw))
        assert msg is not None
        mx, my, _ = msg.field_flu_t
        # level, declination 0: the field is (H·sin ψ, H·cos ψ) in the body (see the test above)
        errors.append(math.degrees(wrap_pi(math.atan2(mx, my) - yaw)))
    return np.array(errors)


def test_magnetometer_heading_error_is_of_order_one_degree_from_the_hard_iron_residual() -> None:
    # Given the default magnetometer with its noise removed, so only the hard iron remains
    params = dataclasses.replace(MagParams(), noise_std_ut=0.0)
    model = MagModel(params, rng_for(7, "uav1/mag"))
    bx, by, bz = model.hard_iron_flu_t
    # Then the residual has the configured magnitude
    assert math.sqrt(bx * bx + by * by + bz * bz) == pytest.approx(0.6e-6)
    # When the vehicle turns through 360° level
    worst_deg = float(np.max(np.abs(level_heading_errors_deg(model))))
    # Then the worst heading error is asin(b_h/H), from the horizontal residual b_h
    horizontal_field_t = 50e-6 * math.cos(math.radians(60.0))
    expected_deg = math.degrees(math.asin(math.hypot(bx, by) / horizontal_field_t))
    assert worst_deg == pytest.approx(expected_deg, abs=0.02)
    # and it is of order 1° (SCENARIOS.md)
    assert 0.2 <= worst_deg <= 3.0


def test_magnetometer_heading_error_is_about_one_degree_across_vehicles() -> None:
    # Given 200 vehicles: the residual's direction is random, its magnitude fixed at 0.6 µT
    horizontal_field_t = 50e-6 * math.cos(math.radians(60.0))
    worst_deg = []
    for i in range(200):
        bx, by, _ = MagModel(MagParams(), rng_for(8, f"uav{i}/mag")).hard_iron_flu_t
        worst_deg.append(math.degrees(math.asin(math.hypot(bx, by) / horizontal_field_t)))
    # Then no vehicle exceeds asin(0.6/25) = 1.38°, and the mean is (π/4)·1.38° ≈ 1.08°
    assert max(worst_deg) <= math.degrees(math.asin(0.6 / 25.0)) + 1e-9
    assert float(np.mean(worst_deg)) == pytest.approx(1.08, abs=0.15)


# --- Suite: seeding, configuration, parameter validation --------------------------------------


def record_suite(seed: int, vehicle_id: str, gnss: str = "standard") -> list[object]:
    """Every message of every sensor over 1 s at 1 kHz."""
    suite = SensorSuite(
        SensorSuiteConfig(gnss=gnss),  # type: ignore[arg-type]
        origin=ORIGIN,
        seed=seed,
        vehicle_id=vehicle_id,
    )
    attitude = quat_from_euler(0.05, -0.02, 1.2)
    messages: list[object] = []
    for k in range(1000):
        t_s = k / 1000
        messages.append(suite.imu.sample(t_s, TRUE_RATES_FLU_RADPS, TRUE_FORCE_FLU_MPS2))
        messages.append(suite.gnss.sample(t_s, (5.0, 6.0, 7.0)))
        messages.append(suite.baro.sample(t_s, ORIGIN.alt_m + 7.0))
        messages.append(suite.mag.sample(t_s, attitude))
    return messages


def test_same_seed_and_vehicle_give_identical_samples() -> None:
    assert record_suite(3, "uav1") == record_suite(3, "uav1")


@pytest.mark.parametrize(("seed", "vehicle_id"), [(3, "uav2"), (4, "uav1")])
def test_another_vehicle_or_seed_gives_different_samples_on_every_sensor(
    seed: int, vehicle_id: str
) -> None:
    reference = record_suite(3, "uav1")
    other = record_suite(seed, vehicle_id)
    for sensor in range(4):
        ours = [m for m in reference[sensor::4] if m is not None]
        theirs = [m for m in other[sensor::4] if m is not None]
        assert len(ours) == len(theirs)
        assert all(a != b for a, b in zip(ours, theirs, strict=True))


def test_next_due_time_tells_when_each_model_samples_again() -> None:
    # Given a suite sampled once at t = 0 by every model.
    suite = SensorSuite(SensorSuiteConfig(), origin=ORIGIN, seed=1, vehicle_id="uav1")
    level = (0.0, 0.0, 0.0, 1.0)
    calls: dict[str, Callable[[float], object]] = {
        "imu": lambda t: suite.imu.sample(t, TRUE_RATES_FLU_RADPS, TRUE_FORCE_FLU_MPS2),
        "gnss": lambda t: suite.gnss.sample(t, (1.0, 2.0, 3.0)),
        "baro": lambda t: suite.baro.sample(t, 10.0),
        "mag": lambda t: suite.mag.sample(t, level),
    }
    for name, sample in calls.items():
        model = getattr(suite, name)
        assert model.next_due_s == -math.inf  # nothing sampled yet: due at once
        assert sample(0.0) is not None
        # Then `next_due_s` is the next point of the model's grid (less the clock tolerance):
        period_s = 1.0 / model.params.rate_hz
        assert model.next_due_s == pytest.approx(period_s, abs=2e-6)
        assert model.next_due_s < period_s
        # and a call before it yields nothing and leaves it alone, a call at it samples.
        due_s = model.next_due_s
        assert sample(due_s - 1e-5) is None
        assert model.next_due_s == due_s
        assert sample(period_s) is not None
        assert model.next_due_s == pytest.approx(2.0 * period_s, abs=2e-6)


def test_suite_uses_the_named_gnss_preset() -> None:
    for name, params in GNSS_PRESETS.items():
        suite = SensorSuite(
            SensorSuiteConfig(gnss=name),  # type: ignore[arg-type]
            origin=ORIGIN,
            seed=1,
            vehicle_id="uav1",
        )
        assert suite.gnss.params == params


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: ImuParams(rate_hz=0.0), "rate_hz"),
        (lambda: ImuParams(gyro_noise_density_dps_per_rthz=-1e-3), "gyro_noise_density"),
        (lambda: ImuParams(accel_noise_density_ug_per_rthz=math.nan), "accel_noise_density"),
        (lambda: ImuParams(gyro_turn_on_bias_max_dps=-0.1), "gyro_turn_on_bias_max_dps"),
        (lambda: ImuParams(accel_bias_random_walk_mps2_per_rts=1.0), "accel_bias_random_walk"),
        (lambda: ImuParams(accel_full_scale_g=0.0), "accel_full_scale_g"),
        (lambda: ImuParams(gyro_full_scale_dps=1e5), "gyro_full_scale_dps"),
        (lambda: dataclasses.replace(RTK_GNSS, rate_hz=0.0), "rate_hz"),
        (lambda: dataclasses.replace(RTK_GNSS, latency_s=-0.01), "latency_s"),
        (lambda: dataclasses.replace(RTK_GNSS, vertical_white_std_m=-1.0), "vertical_white_std"),
        (lambda: dataclasses.replace(STANDARD_GNSS, markov_time_constant_s=0.0), "markov_time"),
        (lambda: dataclasses.replace(RTK_GNSS, status=-1), "status"),
        (lambda: GnssParams(rate_hz=5.0, latency_s=0.1, horizontal_white_std_m=math.inf,
                            vertical_white_std_m=0.5), "horizontal_white_std_m"),
        (lambda: BaroParams(rate_hz=500.0), "rate_hz"),
        (lambda: BaroParams(noise_std_pa=math.nan), "noise_std_pa"),
        (lambda: BaroParams(bias_time_constant_s=0.0), "bias_time_constant_s"),
        (lambda: MagParams(earth_field_total_ut=5.0), "earth_field_total_ut"),
        (lambda: MagParams(inclination_deg=95.0), "inclination_deg"),
        (lambda: MagParams(declination_deg=-190.0), "declination_deg"),
        (lambda: MagParams(hard_iron_residual_ut=-0.1), "hard_iron_residual_ut"),
        (lambda: SensorSuiteConfig(gnss="dgps"), "gnss"),  # type: ignore[arg-type]
    ],
)  # fmt: skip
def test_out_of_range_parameter_is_refused_naming_the_field(
    build: Callable[[], object], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        build()
