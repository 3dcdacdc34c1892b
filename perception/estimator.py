"""The state estimator component: IMU + GNSS + barometer + magnetometer → `state/odometry`.

Wraps the error-state EKF of ekf.py (PX4's ekf2 stage in the chain sensors → estimator →
control). Messages are validated here, at the component boundary: a NaN/inf sample or fix is
counted and skipped, never fused.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from kestrel.airframe import GRAVITY_MPS2
from kestrel.atmosphere import altitude_at_pressure_m
from kestrel.component import Component, Port
from kestrel.geodesy import GeoOrigin
from kestrel.messages import FluidPressure, Imu, MagneticField, NavSatFix, Odometry, Vec3
from kestrel.params import ValidatedParams, param
from kestrel.perception.ekf import ErrorStateEkf, align_at_rest

log = logging.getLogger(__name__)

_ICM42688P_GYRO_NOISE_DPS_RTHZ = 2.8e-3
"""TDK InvenSense ICM-42688-P datasheet DS-000347: gyroscope rate noise spectral density."""
_ICM42688P_ACCEL_NOISE_G_RTHZ = 70e-6
"""ICM-42688-P datasheet DS-000347: accelerometer noise spectral density (70 µg/√Hz)."""


@dataclass(frozen=True)
class EstimatorParams(ValidatedParams):
    """Parameters of the estimator (filter tuning, gates, initialisation). SI units.

    PX4's ekf2 parameters are per-sample standard deviations at the filter rate; Kestrel's
    process noises are continuous densities (the covariance step scales with Δt), so the
    datasheet figures apply directly.
    """

    rate_hz: float = param(
        250.0,
        unit="Hz",
        low=10.0,
        high=1000.0,
        description="prediction and publication rate; the IMU samples between two ticks are "
        "averaged into one prediction",
        px4="EKF2_PREDICT_US",
    )
    gyro_noise_density_radps_rthz: float = param(
        math.radians(_ICM42688P_GYRO_NOISE_DPS_RTHZ),
        unit="rad/s/√Hz",
        low=1e-7,
        high=0.1,
        description="gyro white-noise density (angle random walk), ICM-42688-P: 2.8 mdps/√Hz",
        px4="EKF2_GYR_NOISE",
    )
    accel_noise_density_mps2_rthz: float = param(
        _ICM42688P_ACCEL_NOISE_G_RTHZ * GRAVITY_MPS2,
        unit="m/s²/√Hz",
        low=1e-6,
        high=1.0,
        description="accelerometer white-noise density (velocity random walk), "
        "ICM-42688-P: 70 µg/√Hz",
        px4="EKF2_ACC_NOISE",
    )
    gyro_bias_random_walk_radps_rts: float = param(
        4e-5,
        unit="rad/s/√s",
        low=0.0,
        high=0.01,
        description="gyro bias random walk; lets the bias follow the ICM-42688-P offset "
        "tempco (±0.005 dps/°C) over a 10 °C warm-up in 10 min",
        px4="EKF2_GYR_B_NOISE",
    )
    accel_bias_random_walk_mps2_rts: float = param(
        6e-4,
        unit="m/s²/√s",
        low=0.0,
        high=0.1,
        description="accelerometer bias random walk; the ICM-42688-P offset tempco "
        "(±0.15 mg/°C) over a 10 °C warm-up in 10 min",
        px4="EKF2_ACC_B_NOISE",
    )
    baro_bias_random_walk_m_rts: float = param(
        0.02,
        unit="m/√s",
        low=0.0,
        high=1.0,
        description="barometer bias random walk (weather and thermal drift, ~1 m per hour)",
    )
    accel_clip_mps2: float = param(
        0.99 * 16.0 * GRAVITY_MPS2,
        unit="m/s²",
        low=1.0,
        high=1000.0,
        description="a specific-force sample at or beyond this on any axis is clipped "
        "(ICM-42688-P full scale ±16 g): the IMU missed part of the velocity change, e.g. at "
        "touchdown",
    )
    clip_velocity_std_mps: float = param(
        0.5,
        unit="m/s",
        low=0.0,
        high=10.0,
        description="velocity uncertainty added per clipped IMU sample (a touchdown at ~1 m/s "
        "loses most of its Δv in one or two 1-ms samples), so that GNSS and baro can correct "
        "the velocity instead of being gated out",
    )
    init_window_s: float = param(
        0.5,
        unit="s",
        low=0.05,
        high=10.0,
        description="IMU averaging at rest before initialisation (roll, pitch, gyro bias)",
    )
    init_rest_max_rate_radps: float = param(
        0.05,
        unit="rad/s",
        low=1e-3,
        high=1.0,
        description="a gyro sample faster than this restarts the rest window",
    )
    init_rest_max_accel_error_mps2: float = param(
        1.0,
        unit="m/s²",
        low=0.01,
        high=5.0,
        description="a specific force whose norm differs from g by more than this restarts "
        "the rest window",
    )
    init_velocity_std_mps: float = param(
        0.2, unit="m/s", low=1e-3, high=10.0, description="initial velocity std (at rest)"
    )
    init_tilt_std_deg: float = param(
        0.3,
        unit="deg",
        low=0.01,
        high=45.0,
        description="initial roll/pitch std beyond the part explained by the accelerometer "
        "bias (correlated with it in the prior; residual motion during the rest window)",
    )
    init_yaw_std_deg: float = param(
        5.0,
        unit="deg",
        low=0.1,
        high=180.0,
        description="initial yaw std (magnetometer averaged at rest; residual hard/soft iron)",
    )
    init_gyro_bias_std_radps: float = param(
        5e-4,
        unit="rad/s",
        low=1e-6,
        high=1.0,
        description="initial gyro bias std after averaging at rest (≈ 0.03 °/s: 0.5 s of "
        "ICM-42688-P noise averages to 7e-5 rad/s; the rest allows for slight motion on the "
        "ground). Wider lets noise move a well-measured bias in the first seconds",
    )
    init_accel_bias_std_mps2: float = param(
        0.1,
        unit="m/s²",
        low=1e-4,
        high=5.0,
        description="initial accelerometer bias std (≈ 10 mg; the ICM-42688-P offset "
        "tolerance is ±20 mg before calibration). A wider prior lengthens the first seconds "
        "in which tilt and horizontal bias are told apart",
        px4="EKF2_ABIAS_INIT",
    )
    gnss_min_std_m: float = param(
        0.01,
        unit="m",
        low=1e-3,
        high=100.0,
        description="floor on the std reported by the receiver",
        px4="EKF2_GPS_P_NOISE",
    )
    gnss_height_max_std_m: float = param(
        0.5,
        unit="m",
        low=0.0,
        high=100.0,
        description="GNSS height is fused only from fixes reporting a vertical std at or "
        "below this (RTK); otherwise the barometer is the height reference (PX4 EKF2_HGT_REF = "
        "baro). A standalone fix's vertical error is correlated over minutes (SCENARIOS.md "
        "standard: Gauss–Markov 2 m, τ 100 s), which white-noise updates would average into "
        "a confident, wrong height",
        px4="EKF2_GPS_CTRL",
    )
    gnss_gate_chi2: float = param(
        30.0,
        unit="1",
        low=1.0,
        high=1e6,
        description="chi-square gate on the 3-D position innovation; 30 ≈ the 1 − 1e-6 "
        "quantile for 3 degrees of freedom (30.7)",
        px4="EKF2_GPS_P_GATE",
    )
    gnss_reset_timeout_s: float = param(
        2.0,
        unit="s",
        low=0.1,
        high=60.0,
        description="after every fix has been rejected for this long, reset the position to "
        "GNSS (ekf2 does the same after persistent innovation-check failures)",
    )
    init_baro_bias_std_m: float = param(
        0.5,
        unit="m",
        low=0.01,
        high=1000.0,
        description="prior std of the barometric height (ISA pressure altitude − origin "
        "alt_m) minus the true height, used when the first fix cannot set it (vertical std "
        "above gnss_height_max_std_m); BMP388 relative accuracy ±8 Pa ≈ ±0.7 m. Weather "
        "(QNH) offsets are not modelled by the simulator: in the field, raise it",
    )
    baro_min_std_m: float = param(
        0.05,
        unit="m",
        low=1e-3,
        high=100.0,
        description="floor on the barometric height std (converted from the reported "
        "pressure variance)",
        px4="EKF2_BARO_NOISE",
    )
    baro_gate_chi2: float = param(
        25.0,
        unit="1",
        low=1.0,
        high=1e6,
        description="chi-square gate on the baro innovation (25 = 5 sigma)",
        px4="EKF2_BARO_GATE",
    )
    baro_reset_timeout_s: float = param(
        2.0,
        unit="s",
        low=0.1,
        high=60.0,
        description="after every baro sample has been rejected for this long, reset the baro bias",
    )
    mag_heading_std_deg: float = param(
        3.0,
        unit="deg",
        low=0.01,
        high=90.0,
        description="heading noise of one magnetometer sample beyond the reported field noise "
        "(residual hard/soft iron, motor currents)",
        px4="EKF2_HEAD_NOISE",
    )
    mag_gate_chi2: float = param(
        25.0,
        unit="1",
        low=1.0,
        high=1e6,
        description="chi-square gate on the heading innovation (25 = 5 sigma)",
        px4="EKF2_HDG_GATE",
    )
    earth_field_east_t: float = param(
        0.0,
        unit="T",
        low=-1e-4,
        high=1e-4,
        description="expected Earth field, east component (non-zero = magnetic declination)",
    )
    earth_field_north_t: float = param(
        2.5e-5,
        unit="T",
        low=-1e-4,
        high=1e-4,
        description="expected Earth field, north component (typical northern mid-latitude "
        "field F = 50 µT, inclination 60°, declination 0 — the simulator's default: "
        "F·cos 60° = 25 µT)",
    )
    earth_field_up_t: float = param(
        -50e-6 * math.sin(math.radians(60.0)),
        unit="T",
        low=-1e-4,
        high=1e-4,
        description="expected Earth field, up component (−F·sin 60° ≈ −43.3 µT)",
    )
    history_s: float = param(
        0.5,
        unit="s",
        low=0.05,
        high=5.0,
        description="length of the past-state buffer; measurements older than this cannot "
        "be fused at their time of validity and are dropped",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if math.hypot(self.earth_field_east_t, self.earth_field_north_t) < 1e-6:
            raise ValueError(
                "EstimatorParams.earth_field_east_t/earth_field_north_t: the horizontal "
                "Earth field must be at least 1 µT for a magnetic heading"
            )

    @property
    def earth_field_enu_t(self) -> Vec3:
        return (self.earth_field_east_t, self.earth_field_north_t, self.earth_field_up_t)


@dataclass(frozen=True)
class EstimatorHealth:
    """Counters of what the estimator refused or corrected (cumulative since construction)."""

    initialised: bool
    imu_invalid: int
    """IMU samples with a NaN/inf value, or not newer than the previous sample."""
    imu_clipped: int
    """IMU samples with a specific force at the accelerometer's full scale (`accel_clip_mps2`)."""
    gnss_invalid: int
    """Fixes with a NaN/inf value or a negative std, or without a fix (status < 0)."""
    baro_invalid: int
    mag_invalid: int
    gnss_rejected: int
    """Fixes outside the innovation gate."""
    gnss_resets: int
    baro_rejected: int
    baro_resets: int
    mag_rejected: int
    too_old: int
    """Measurements stamped before the history buffer (`history_s`), including any stamped
    before initialisation that arrive after it."""


def _finite(*values: float) -> bool:
    # A sum is non-finite when any term is NaN or ±inf (inf − inf is NaN): one check.
    return math.isfinite(sum(values))


class Estimator(Component):
    """Error-state EKF estimator (PX4 ekf2's place in the chain).

    Inputs: `imu` (Imu, `sensors/imu`, queued: every sample since the last tick), `gnss`
    (NavSatFix, `sensors/gnss`), `baro` (FluidPressure, `sensors/baro`), `mag`
    (MagneticField, `sensors/mag`). Output: `odometry` (Odometry, `state/odometry`).

    Each tick the queued IMU samples are averaged (gyro and specific force; Δt from their
    stamps) into one prediction, then every GNSS/baro/mag message newer than the last one
    seen is fused at its own stamp (time of validity). Nothing is published until the filter
    is initialised, which needs no ground truth: the vehicle stands still for
    `init_window_s` (mean specific force → roll and pitch, mean gyro → gyro bias, mean
    magnetometer → yaw), and the latest GNSS fix gives the position. Height: a fix whose
    reported vertical std is at most `gnss_height_max_std_m` (RTK) sets the height and the baro
    bias and keeps being fused in 3-D; otherwise the barometer (ISA pressure altitude above
    `origin.alt_m`, bias prior `init_baro_bias_std_m`) is the height reference and fixes are
    fused east/north only.

    `Odometry.t_s` is the stamp of the last IMU sample used; `valid` is False only if the state
    ever became non-finite (a guard: inputs are validated, so it is not expected). `health()`
    returns the counters of refused and rejected messages.
    """

    inputs = {
        "imu": Port(Imu, "sensors/imu", queued=True),
        "gnss": Port(NavSatFix, "sensors/gnss"),
        "baro": Port(FluidPressure, "sensors/baro"),
        "mag": Port(MagneticField, "sensors/mag"),
    }
    outputs = {"odometry": Port(Odometry, "state/odometry")}
    rate_hz = 250.0

    def __init__(
        self,
        name: str = "estimator",
        namespace: str = "",
        *,
        params: EstimatorParams,
        origin: GeoOrigin,
    ) -> None:
        super().__init__(name, namespace)
        self.params = params
        self.origin = origin
        self.rate_hz = params.rate_hz
        self._ekf = ErrorStateEkf(params)
        self._field_h_t = math.hypot(params.earth_field_east_t, params.earth_field_north_t)
        self._mag_std_rad = math.radians(params.mag_heading_std_deg)
        self._last_imu_t: float | None = None
        self._last_gyro: Vec3 = (0.0, 0.0, 0.0)
        self._gnss_t = -math.inf
        self._baro_t = -math.inf
        self._mag_t = -math.inf
        # Alignment at rest (before initialisation).
        self._rest_n = 0
        self._rest_t0 = 0.0
        self._rest_sum = [0.0] * 6
        self._fix: tuple[float, Vec3, Vec3] | None = None
        self._field_sum = [0.0, 0.0, 0.0]
        self._field_n = 0
        self._baro_height: tuple[float, float, float] | None = None
        self._baro_aligned = False
        self._imu_invalid = 0
        self._imu_clipped = 0
        self._clip_var_m2ps2 = params.clip_velocity_std_mps**2
        self._gnss_invalid = 0
        self._baro_invalid = 0
        self._mag_invalid = 0

    @property
    def filter(self) -> ErrorStateEkf:
        """The underlying filter (read its state; do not drive it behind the component)."""
        return self._ekf

    def health(self) -> EstimatorHealth:
        ekf = self._ekf
        return EstimatorHealth(
            initialised=ekf.initialised,
            imu_invalid=self._imu_invalid,
            imu_clipped=self._imu_clipped,
            gnss_invalid=self._gnss_invalid,
            baro_invalid=self._baro_invalid,
            mag_invalid=self._mag_invalid,
            gnss_rejected=ekf.gnss_rejected,
            gnss_resets=ekf.gnss_resets,
            baro_rejected=ekf.baro_rejected,
            baro_resets=ekf.baro_resets,
            mag_rejected=ekf.mag_rejected,
            too_old=ekf.too_old,
        )

    # ------------------------------------------------------------------ tick
    def step(
        self,
        t_s: float,
        imu: list[Imu],
        gnss: NavSatFix | None,
        baro: FluidPressure | None,
        mag: MagneticField | None,
    ) -> Odometry | None:
        ekf = self._ekf
        if imu:
            if ekf.initialised:
                if not self._average_and_predict(imu):  # some sample invalid (rare)
                    self._average_and_predict(self._valid_imu(imu))
            else:
                self._accumulate_rest(imu)
        if gnss is not None and gnss.t_s > self._gnss_t:
            self._gnss_t = gnss.t_s
            self._on_gnss(gnss)
        if baro is not None and baro.t_s > self._baro_t:
            self._baro_t = baro.t_s
            self._on_baro(baro)
        if mag is not None and mag.t_s > self._mag_t:
            self._mag_t = mag.t_s
            self._on_mag(mag)
        if not ekf.initialised and not self._try_initialise():
            return None
        return self._odometry()

    # ------------------------------------------------------------------ IMU
    def _invalid_imu(self, sample: Imu) -> bool:
        """True (and counted) for a sample with a NaN/inf value or not newer than the last
        one (`_average_and_predict` checks the same, folded into its sums)."""
        w = sample.angular_velocity_flu_radps
        a = sample.linear_acceleration_flu_mps2
        t = sample.t_s
        if math.isfinite(t + w[0] + w[1] + w[2] + a[0] + a[1] + a[2]) and (
            self._last_imu_t is None or t > self._last_imu_t
        ):
            return False
        self._count_invalid_imu(t)
        return True

    def _count_invalid_imu(self, t_s: float) -> None:
        self._imu_invalid += 1
        if self._imu_invalid == 1 or self._imu_invalid % 100 == 0:
            log.warning("%s: skipped IMU sample at %.3f s (%d so far)", self.qualified_name,
                        t_s, self._imu_invalid)  # fmt: skip

    def _valid_imu(self, samples: list[Imu]) -> list[Imu]:
        """The samples that pass `_invalid_imu` (which counts the others)."""
        t_prev = self._last_imu_t
        valid = []
        for sample in samples:
            if not self._invalid_imu(sample):
                valid.append(sample)
                self._last_imu_t = sample.t_s
        self._last_imu_t = t_prev
        return valid

    def _average_and_predict(self, samples: list[Imu]) -> bool:
        """One prediction from the mean of `samples`; False, with nothing changed, if any
        sample is invalid (non-finite, or not newer than the one before).

        Hot path (250 Hz, ~4 samples a tick), so validation is folded into the averaging:
        stamps are compared as they come, and one finiteness check of the sums replaces one
        per sample (a NaN or ±inf anywhere makes a sum non-finite). The caller then filters
        the samples one by one, which is rare.
        """
        gx = gy = gz = ax = ay = az = 0.0
        clipped = 0
        t_prev = self._last_imu_t
        t_last = -math.inf if t_prev is None else t_prev
        gyro = self._last_gyro
        hi = self.params.accel_clip_mps2
        lo = -hi
        for sample in samples:
            t = sample.t_s
            if not t > t_last:
                return False
            w0, w1, w2 = gyro = sample.angular_velocity_flu_radps
            a0, a1, a2 = sample.linear_acceleration_flu_mps2
            if not (lo < a0 < hi and lo < a1 < hi and lo < a2 < hi):
                clipped += 1
            gx += w0
            gy += w1
            gz += w2
            ax += a0
            ay += a1
            az += a2
            t_last = t
        if not samples:
            return True
        if not math.isfinite(gx + gy + gz + ax + ay + az + t_last):
            return False
        self._last_imu_t = t_last
        self._last_gyro = gyro
        k = 1.0 / len(samples)
        dt = t_last - t_prev if t_prev is not None else 0.0
        extra_var = 0.0
        if clipped:
            self._imu_clipped += clipped
            extra_var = clipped * self._clip_var_m2ps2
            log.info("%s: %d clipped IMU samples at %.3f s", self.qualified_name, clipped, t_last)
        self._ekf.predict(t_last, (gx * k, gy * k, gz * k), (ax * k, ay * k, az * k), dt, extra_var)
        return True

    def _accumulate_rest(self, samples: list[Imu]) -> None:
        p = self.params
        for sample in samples:
            if self._invalid_imu(sample):
                continue
            w = sample.angular_velocity_flu_radps
            a = sample.linear_acceleration_flu_mps2
            self._last_imu_t = sample.t_s
            self._last_gyro = w
            at_rest = (
                math.sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]) <= p.init_rest_max_rate_radps
                and abs(math.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]) - GRAVITY_MPS2)
                <= p.init_rest_max_accel_error_mps2
            )
            if not at_rest:
                if self._rest_n:
                    log.info("%s: vehicle moving, alignment restarted", self.qualified_name)
                self._rest_n = 0
                self._rest_sum = [0.0] * 6
                self._field_sum = [0.0, 0.0, 0.0]
                self._field_n = 0
                continue
            if self._rest_n == 0:
                self._rest_t0 = sample.t_s
            self._rest_n += 1
            s = self._rest_sum
            s[0] += w[0]
            s[1] += w[1]
            s[2] += w[2]
            s[3] += a[0]
            s[4] += a[1]
            s[5] += a[2]

    def _try_initialise(self) -> bool:
        p = self.params
        if (
            self._rest_n == 0
            or self._last_imu_t is None
            or self._last_imu_t - self._rest_t0 < p.init_window_s
            or self._fix is None
            or self._field_n == 0
        ):
            return False
        _, position, std = self._fix
        gnss_height = std[2] <= p.gnss_height_max_std_m
        if not gnss_height and self._baro_height is None:
            return False  # the barometer is the height reference: wait for it
        k = 1.0 / self._rest_n
        s = self._rest_sum
        gyro_bias = (s[0] * k, s[1] * k, s[2] * k)
        mean_accel = (s[3] * k, s[4] * k, s[5] * k)
        f = self._field_sum
        mean_field = (f[0] / self._field_n, f[1] / self._field_n, f[2] / self._field_n)
        orientation = align_at_rest(mean_accel, mean_field, p.earth_field_enu_t)
        baro_bias, baro_std = 0.0, p.init_baro_bias_std_m
        if self._baro_height is not None:
            _, height, height_std = self._baro_height
            self._baro_aligned = True
            if gnss_height:  # the fix sets the height and the baro bias
                baro_bias = height - position[2]
                baro_std = math.hypot(height_std, std[2])
            else:  # the baro sets the height, its bias stays at its prior
                position = (position[0], position[1], height)
                std = (std[0], std[1], math.hypot(height_std, baro_std))
        self._ekf.initialise(
            t_s=self._last_imu_t,
            position_enu_m=position,
            position_std_m=std,
            orientation=orientation,
            gyro_bias_flu_radps=gyro_bias,
            baro_bias_m=baro_bias,
            baro_bias_std_m=baro_std,
            rest_specific_force_flu_mps2=mean_accel,
        )
        log.info(
            "%s: initialised at %.3f s from %d IMU samples at rest",
            self.qualified_name,
            self._last_imu_t,
            self._rest_n,
        )
        return True

    # ------------------------------------------------------------------ aiding sensors
    def _on_gnss(self, fix: NavSatFix) -> None:
        p = self.params
        h_std, v_std = fix.horizontal_std_m, fix.vertical_std_m
        if not (
            _finite(fix.latitude_deg, fix.longitude_deg, fix.altitude_m, h_std, v_std)
            and h_std >= 0.0
            and v_std >= 0.0
            and fix.status >= 0
        ):
            self._gnss_invalid += 1
            log.warning("%s: skipped GNSS fix at %.3f s", self.qualified_name, fix.t_s)
            return
        position = self.origin.geodetic_to_enu(fix.latitude_deg, fix.longitude_deg, fix.altitude_m)
        h = max(h_std, p.gnss_min_std_m)
        std = (h, h, max(v_std, p.gnss_min_std_m))
        if not self._ekf.initialised:
            self._fix = (fix.t_s, position, std)
            return
        self._ekf.fuse_position(
            fix.t_s, position, std, fuse_height=v_std <= p.gnss_height_max_std_m
        )

    def _on_baro(self, msg: FluidPressure) -> None:
        pressure, variance = msg.pressure_pa, msg.variance_pa2
        if not (_finite(pressure, variance) and pressure > 0.0 and variance >= 0.0):
            self._baro_invalid += 1
            log.warning("%s: skipped baro sample at %.3f s", self.qualified_name, msg.t_s)
            return
        altitude = altitude_at_pressure_m(pressure)
        # Height std from the pressure std through the local slope of the ISA law.
        slope_m_per_pa = altitude - altitude_at_pressure_m(pressure + 1.0)
        std = max(math.sqrt(variance) * slope_m_per_pa, self.params.baro_min_std_m)
        height = altitude - self.origin.alt_m
        ekf = self._ekf
        if not ekf.initialised:
            self._baro_height = (msg.t_s, height, std)
        elif not self._baro_aligned:
            ekf.reset_baro_bias(height, std)
            self._baro_aligned = True
        else:
            ekf.fuse_baro_height(msg.t_s, height, std)

    def _on_mag(self, msg: MagneticField) -> None:
        b = msg.field_flu_t
        if not (_finite(b[0], b[1], b[2], msg.variance_t2) and msg.variance_t2 >= 0.0):
            self._mag_invalid += 1
            log.warning("%s: skipped magnetometer sample at %.3f s", self.qualified_name, msg.t_s)
            return
        if not self._ekf.initialised:
            f = self._field_sum
            f[0] += b[0]
            f[1] += b[1]
            f[2] += b[2]
            self._field_n += 1
            return
        std = math.sqrt(self._mag_std_rad**2 + msg.variance_t2 / self._field_h_t**2)
        self._ekf.fuse_mag_heading(msg.t_s, b, std)

    # ------------------------------------------------------------------ output
    def _odometry(self) -> Odometry:
        ekf = self._ekf
        t_s, position, velocity, orientation, bg, ba = ekf.nominal_state()
        position_std, velocity_std, yaw_std = ekf.std_summary()
        g = self._last_gyro
        # Positional, in Odometry's field order (a test checks each field by name): keyword
        # arguments make CPython build a dict for the dataclass __init__, ~10 % of this method.
        return Odometry(
            t_s,  # t_s
            position,  # position_enu_m
            velocity,  # velocity_enu_mps
            orientation,  # orientation
            (g[0] - bg[0], g[1] - bg[1], g[2] - bg[2]),  # angular_velocity_flu_radps
            bg,  # gyro_bias_flu_radps
            ba,  # accel_bias_flu_mps2
            position_std,  # position_std_m
            velocity_std,  # velocity_std_mps
            yaw_std,  # yaw_std_rad
            ekf.is_finite(),  # valid
        )
