"""The sensors of one simulated vehicle: IMU, GNSS, barometer and magnetometer, seeded.

A vehicle's `sensors` and `faults` keys (SCENARIOS.md) become a `SensorSuiteConfig`; the
simulator builds one `SensorSuite` per vehicle and calls the models with ground truth; each
model decides itself whether a sample is due (None otherwise) and exposes `next_due_s`, the time
from which its next sample is due, so that the simulator skips the calls in between:

    suite.imu.sample(t_s, angular_velocity_flu_radps, specific_force_flu_mps2) -> Imu | None
    suite.gnss.sample(t_s, position_enu_m) -> NavSatFix | None  # deliver after latency_s
    suite.baro.sample(t_s, altitude_amsl_m) -> FluidPressure | None
    suite.mag.sample(t_s, orientation_enu_flu) -> MagneticField | None

Randomness: each model draws from its own stream, `rng_for(seed, "<vehicle_id>/imu")` (`/gnss`,
`/baro`, `/mag`), and each faulty channel's noise from `"<vehicle_id>/faults/<sensor>"`, so
that one source's draws never shift another's and vehicles differ by their id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from kestrel.geodesy import GeoOrigin
from kestrel.random_streams import rng_for
from kestrel.sim.sensors.baro import BaroModel, BaroParams
from kestrel.sim.sensors.faults import FaultChannel, FaultSpec
from kestrel.sim.sensors.gnss import GNSS_PRESETS, GnssModel
from kestrel.sim.sensors.imu import ImuModel, ImuParams
from kestrel.sim.sensors.mag import MagModel, MagParams

GnssPreset = Literal["rtk", "standard"]


@dataclass(frozen=True)
class SensorSuiteConfig:
    """Sensors of one vehicle.

    gnss: the receiver preset of SCENARIOS.md `sensors.gnss` ("rtk" or "standard",
        `kestrel.sim.sensors.gnss.GNSS_PRESETS`).
    faults: injected faults (SCENARIOS.md `faults`), any order; a list is stored as a tuple.
    imu, baro, mag: model parameters (defaults: the reference sensors of each module; e.g. a
        scenario's World Magnetic Model values go into `mag`). The simulator caps `imu.rate_hz`
        (and any other rate) at its physics rate, SCENARIOS.md.
    """

    gnss: GnssPreset = "rtk"
    faults: tuple[FaultSpec, ...] = ()
    imu: ImuParams = field(default_factory=ImuParams)
    baro: BaroParams = field(default_factory=BaroParams)
    mag: MagParams = field(default_factory=MagParams)

    def __post_init__(self) -> None:
        if self.gnss not in GNSS_PRESETS:
            raise ValueError(
                f"SensorSuiteConfig.gnss must be one of {', '.join(get_args(GnssPreset))}, "
                f"got {self.gnss!r}"
            )
        faults = tuple(self.faults)
        for fault in faults:
            if not isinstance(fault, FaultSpec):
                raise ValueError(f"SensorSuiteConfig.faults must hold FaultSpec, got {fault!r}")
        object.__setattr__(self, "faults", faults)
        for name, expected in (("imu", ImuParams), ("baro", BaroParams), ("mag", MagParams)):
            if not isinstance(getattr(self, name), expected):
                raise ValueError(f"SensorSuiteConfig.{name} must be a {expected.__name__}")


class SensorSuite:
    """The four sensor models of one vehicle, built from a config, an origin and a seed."""

    imu: ImuModel
    gnss: GnssModel
    baro: BaroModel
    mag: MagModel

    def __init__(
        self, config: SensorSuiteConfig, *, origin: GeoOrigin, seed: int, vehicle_id: str
    ) -> None:
        self.config = config
        self.vehicle_id = vehicle_id

        def channel(sensor: Literal["gyro", "accel", "gnss", "baro", "mag"]) -> FaultChannel | None:
            return FaultChannel.for_sensor(sensor, config.faults, seed=seed, vehicle_id=vehicle_id)

        self.imu = ImuModel(
            config.imu,
            rng_for(seed, f"{vehicle_id}/imu"),
            gyro_faults=channel("gyro"),
            accel_faults=channel("accel"),
        )
        self.gnss = GnssModel(
            GNSS_PRESETS[config.gnss],
            origin=origin,
            rng=rng_for(seed, f"{vehicle_id}/gnss"),
            faults=channel("gnss"),
        )
        self.baro = BaroModel(
            config.baro, rng_for(seed, f"{vehicle_id}/baro"), faults=channel("baro")
        )
        self.mag = MagModel(config.mag, rng_for(seed, f"{vehicle_id}/mag"), faults=channel("mag"))
