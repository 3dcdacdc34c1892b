"""Sensor fault injection (SCENARIOS.md `faults`): every mode on every sensor, and refusals.

Each case runs a vehicle's sensor twice in lockstep with the same seed, once without and once
with the fault. The model's own noise does not depend on faults, so outside the fault window the
two runs must be identical, and inside it their difference is exactly what the fault does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

import numpy as np
import pytest

from kestrel.geodesy import GeoOrigin
from kestrel.messages import Vec3
from kestrel.random_streams import rng_for
from kestrel.rotation import quat_from_euler
from kestrel.sim.sensors.faults import FAULT_VALUE_WIDTH, FaultChannel, FaultSpec
from kestrel.sim.sensors.suite import SensorSuite, SensorSuiteConfig

ORIGIN = GeoOrigin(lat_deg=47.3769, lon_deg=8.5417, alt_m=408.0)
TRUE_RATES_FLU_RADPS: Vec3 = (0.2, -0.1, 0.05)
TRUE_FORCE_FLU_MPS2: Vec3 = (0.3, -0.2, 9.7)
TRUE_POSITION_ENU_M: Vec3 = (10.0, -5.0, 20.0)
TRUE_ATTITUDE = quat_from_euler(0.1, -0.05, 1.0)
START_S = 0.5
UNTIL_S = 2.5
RUN_S = 3.0
P_FALSE_FAIL = 1e-6

Reading = tuple[float, ...]
Rows = list[tuple[float, Reading, Reading | None]]


def sample(suite: SensorSuite, sensor: str, t_s: float) -> Reading | None:
    """The channel's value at `t_s` if its sensor produced a message, else None."""
    if sensor in ("gyro", "accel"):
        imu = suite.imu.sample(t_s, TRUE_RATES_FLU_RADPS, TRUE_FORCE_FLU_MPS2)
        if imu is None:
            return None
        return (
            imu.angular_velocity_flu_radps if sensor == "gyro" else imu.linear_acceleration_flu_mps2
        )
    if sensor == "gnss":
        fix = suite.gnss.sample(t_s, TRUE_POSITION_ENU_M)
        if fix is None:
            return None
        return ORIGIN.geodetic_to_enu(fix.latitude_deg, fix.longitude_deg, fix.altitude_m)
    if sensor == "baro":
        baro = suite.baro.sample(t_s, ORIGIN.alt_m + TRUE_POSITION_ENU_M[2])
        return None if baro is None else (baro.pressure_pa,)
    mag = suite.mag.sample(t_s, TRUE_ATTITUDE)
    return None if mag is None else mag.field_flu_t


def run_with_and_without(sensor: str, faults: tuple[FaultSpec, ...], seed: int = 3) -> Rows:
    """(t, fault-free value, faulted value or None) for every sample time of the sensor."""

    def build(with_faults: tuple[FaultSpec, ...]) -> SensorSuite:
        config = SensorSuiteConfig(faults=with_faults)
        return SensorSuite(config, origin=ORIGIN, seed=seed, vehicle_id="uav1")

    clean, faulty = build(()), build(faults)
    rows = []
    for k in range(round(RUN_S * 1000)):
        t_s = k / 1000
        reference = sample(clean, sensor, t_s)
        observed = sample(faulty, sensor, t_s)
        if reference is None:
            assert observed is None, f"{sensor} produced a sample off its schedule at {t_s}"
            continue
        rows.append((t_s, reference, observed))
    return rows


def in_window(t_s: float) -> bool:
    return START_S <= t_s < UNTIL_S


def assert_noise_std(differences: np.ndarray, std: np.ndarray) -> None:
    """Normalised differences have unit RMS within the chi-square bounds of their count
    (Wilson–Hilferty quantiles, as in test_sensors.py)."""
    normalised = (differences / std).ravel()
    n = normalised.size
    z = NormalDist().inv_cdf(1 - P_FALSE_FAIL / 2)
    a = 2 / (9 * n)
    low, high = (1 - a - z * math.sqrt(a)) ** 1.5, (1 - a + z * math.sqrt(a)) ** 1.5
    ratio = math.sqrt(float(np.mean(normalised**2)))
    assert low <= ratio <= high, f"s/σ = {ratio:.3f} outside [{low:.3f}, {high:.3f}], n = {n}"


# Fault values in each sensor's output units (faults.py): rad/s, m/s², m ENU, Pa, T.
VALUES: dict[str, Reading] = {
    "gyro": (0.1, -0.05, 0.02),
    "accel": (0.5, 0.0, -0.3),
    "gnss": (5.0, -2.0, 1.0),
    "baro": (30.0,),
    "mag": (2e-6, 0.0, -1e-6),
}
NOISE_STD: dict[str, Reading] = {
    "gyro": (0.01, 0.02, 0.03),
    "accel": (0.2, 0.1, 0.3),
    "gnss": (3.0, 1.0, 2.0),
    "baro": (10.0,),
    "mag": (1e-6, 2e-6, 3e-6),
}
# GNSS values pass through the exact geodetic conversion and back (nm-level round-off).
TOLERANCE: dict[str, float] = {"gyro": 1e-12, "accel": 1e-12, "gnss": 1e-6, "baro": 1e-9}
TOLERANCE["mag"] = 1e-18


def expect_dropout(inside: Rows, outside: Rows, sensor: str) -> None:
    assert all(faulted is None for _t, _clean, faulted in inside)


def expect_offset(inside: Rows, outside: Rows, sensor: str) -> None:
    for _t, clean, faulted in inside:
        expected = tuple(c + v for c, v in zip(clean, VALUES[sensor], strict=True))
        assert faulted == pytest.approx(expected, abs=TOLERANCE[sensor])


def expect_bias(inside: Rows, outside: Rows, sensor: str) -> None:
    for t_s, clean, faulted in inside:
        grown = tuple(v * (t_s - START_S) for v in VALUES[sensor])
        expected = tuple(c + g for c, g in zip(clean, grown, strict=True))
        assert faulted == pytest.approx(expected, abs=TOLERANCE[sensor])


def expect_stuck(inside: Rows, outside: Rows, sensor: str) -> None:
    last_before = [clean for t_s, clean, _faulted in outside if t_s < START_S][-1]
    assert all(faulted == last_before for _t, _clean, faulted in inside)


def expect_noise(inside: Rows, outside: Rows, sensor: str) -> None:
    differences = np.array([np.subtract(faulted, clean) for _t, clean, faulted in inside])
    assert_noise_std(differences, np.array(NOISE_STD[sensor]))


MODE_CHECKS: dict[str, Callable[[Rows, Rows, str], None]] = {
    "dropout": expect_dropout,
    "offset": expect_offset,
    "bias": expect_bias,
    "stuck": expect_stuck,
    "noise": expect_noise,
}


@pytest.mark.parametrize("sensor", ["gyro", "accel", "gnss", "baro", "mag"])
@pytest.mark.parametrize("mode", ["dropout", "offset", "bias", "stuck", "noise"])
def test_fault_changes_only_its_window_and_does_what_its_mode_says(sensor: str, mode: str) -> None:
    # Given a fault on the sensor from 0.5 s to 2.5 s
    value = {"offset": VALUES, "bias": VALUES, "noise": NOISE_STD}.get(mode, {}).get(sensor)
    fault = FaultSpec(sensor, mode, START_S, UNTIL_S, value)  # type: ignore[arg-type]
    # When the vehicle runs 3 s with and without it
    rows = run_with_and_without(sensor, (fault,))
    inside = [row for row in rows if in_window(row[0])]
    outside = [row for row in rows if not in_window(row[0])]
    assert inside
    assert outside
    # Then outside the window nothing changed
    for _t, clean, faulted in outside:
        assert faulted == clean
    # and inside it the output is what the mode says
    MODE_CHECKS[mode](inside, outside, sensor)


@pytest.mark.parametrize("sensor", ["gyro", "accel"])
def test_gyro_or_accel_dropout_drops_the_whole_imu_message(sensor: str) -> None:
    suite = SensorSuite(
        SensorSuiteConfig(faults=(FaultSpec(sensor, "dropout", 0.0, 1.0),)),  # type: ignore[arg-type]
        origin=ORIGIN,
        seed=1,
        vehicle_id="uav1",
    )
    messages = [
        suite.imu.sample(k / 1000, TRUE_RATES_FLU_RADPS, TRUE_FORCE_FLU_MPS2) for k in range(1500)
    ]
    assert all(m is None for m in messages[:1000])
    assert all(m is not None for m in messages[1000:])


def test_fault_without_until_lasts_to_the_end_of_the_run() -> None:
    rows = run_with_and_without("baro", (FaultSpec("baro", "dropout", START_S),))
    assert all(faulted is None for t_s, _c, faulted in rows if t_s >= START_S)
    assert all(faulted is not None for t_s, _c, faulted in rows if t_s < START_S)


def test_stuck_from_the_first_sample_holds_the_first_value() -> None:
    # Given a barometer stuck from t = 0, before it has output anything
    rows = run_with_and_without("baro", (FaultSpec("baro", "stuck", 0.0, 1.0),))
    first = rows[0][1]
    # Then it repeats its first value with fresh stamps until the fault ends
    assert all(faulted == first for t_s, _c, faulted in rows if t_s < 1.0)
    assert all(faulted == clean for t_s, clean, faulted in rows if t_s >= 1.0)


def test_overlapping_faults_apply_in_list_order() -> None:
    # Given an offset from 0.5 s to 2.5 s and, inside it, the sensor stuck from 1 s to 2 s
    offset = FaultSpec("baro", "offset", START_S, UNTIL_S, (30.0,))
    stuck = FaultSpec("baro", "stuck", 1.0, 2.0)
    rows = run_with_and_without("baro", (offset, stuck))
    # Then while stuck it repeats the last (offset) output before 1 s
    last_before = [clean for t_s, clean, _ in rows if t_s < 1.0][-1]
    for t_s, _clean, faulted in rows:
        if 1.0 <= t_s < 2.0:
            assert faulted == pytest.approx((last_before[0] + 30.0,), abs=1e-9)
    # and the offset applies alone on either side of the stuck window
    for t_s, clean, faulted in rows:
        if START_S <= t_s < 1.0 or 2.0 <= t_s < UNTIL_S:
            assert faulted == pytest.approx((clean[0] + 30.0,), abs=1e-9)


def test_fault_noise_is_reproducible_from_the_seed() -> None:
    faults = (FaultSpec("mag", "noise", 0.0, None, (1e-6, 1e-6, 1e-6)),)
    first = [faulted for _t, _c, faulted in run_with_and_without("mag", faults, seed=5)]
    again = [faulted for _t, _c, faulted in run_with_and_without("mag", faults, seed=5)]
    other = [faulted for _t, _c, faulted in run_with_and_without("mag", faults, seed=6)]
    assert first == again
    assert first != other


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sensor": "gnss", "mode": "offset", "t_s": 10.0, "value": (5.0, 0.0)},
         r"fault gnss offset at t=10.0 s: `value` needs 3 component"),
        ({"sensor": "baro", "mode": "offset", "t_s": 10.0, "value": (1.0, 2.0)},
         r"fault baro offset at t=10.0 s: `value` needs 1 component"),
        ({"sensor": "gyro", "mode": "bias", "t_s": 1.0, "value": None},
         r"fault gyro bias at t=1.0 s: mode bias needs a `value`"),
        ({"sensor": "mag", "mode": "noise", "t_s": 1.0},
         r"fault mag noise at t=1.0 s: mode noise needs a `value`"),
        ({"sensor": "gnss", "mode": "dropout", "t_s": 1.0, "value": (1.0, 2.0, 3.0)},
         r"fault gnss dropout at t=1.0 s: mode dropout takes no `value`"),
        ({"sensor": "accel", "mode": "stuck", "t_s": 1.0, "value": (0.0, 0.0, 0.0)},
         r"fault accel stuck at t=1.0 s: mode stuck takes no `value`"),
        ({"sensor": "gnss", "mode": "dropout", "t_s": 10.0, "until_s": 5.0},
         r"fault gnss dropout at t=10.0 s: `until_s`"),
        ({"sensor": "gnss", "mode": "dropout", "t_s": 10.0, "until_s": 10.0},
         r"fault gnss dropout at t=10.0 s: `until_s`"),
        ({"sensor": "gnss", "mode": "dropout", "t_s": -1.0}, r"fault gnss dropout .*`t_s`"),
        ({"sensor": "gnss", "mode": "dropout", "t_s": math.nan}, r"fault gnss dropout .*`t_s`"),
        ({"sensor": "gnss", "mode": "noise", "t_s": 0.0, "value": (-1.0, 0.0, 0.0)},
         r"fault gnss noise at t=0.0 s: `value` .*standard deviation"),
        ({"sensor": "gnss", "mode": "offset", "t_s": 0.0, "value": (math.nan, 0.0, 0.0)},
         r"fault gnss offset at t=0.0 s: `value` components must be finite"),
        ({"sensor": "baro", "mode": "offset", "t_s": 0.0, "value": ("high",)},
         r"fault baro offset at t=0.0 s: `value` must be a sequence"),
        ({"sensor": "lidar", "mode": "dropout", "t_s": 0.0}, r"fault 'lidar' .*`sensor`"),
        ({"sensor": "gnss", "mode": "freeze", "t_s": 0.0}, r"fault gnss 'freeze': `mode`"),
    ],
)  # fmt: skip
def test_bad_fault_is_refused_naming_the_fault_and_the_field(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultSpec(**kwargs)


def test_fault_value_is_stored_as_a_tuple_of_floats_of_the_sensor_width() -> None:
    fault = FaultSpec("gnss", "offset", 1, None, [5, 0, 0])  # type: ignore[arg-type]
    assert fault.value == (5.0, 0.0, 0.0)
    assert all(isinstance(v, float) for v in fault.value)
    assert len(fault.value) == FAULT_VALUE_WIDTH["gnss"]


def test_fault_channel_refuses_another_sensors_fault() -> None:
    with pytest.raises(
        ValueError, match=r"fault gnss dropout at t=1\.0 s given to the baro channel"
    ):
        FaultChannel("baro", [FaultSpec("gnss", "dropout", 1.0)], rng_for(1, "uav1/faults/baro"))


def test_suite_config_refuses_a_fault_that_is_not_a_fault_spec() -> None:
    with pytest.raises(ValueError, match=r"SensorSuiteConfig\.faults"):
        SensorSuiteConfig(faults=({"sensor": "gnss", "mode": "dropout", "t": 1.0},))  # type: ignore[arg-type]
