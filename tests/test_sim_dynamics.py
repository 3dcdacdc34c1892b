"""Quadrotor simulator physics: hover, free fall and ground contact, torque directions from the
rotor layout, motor lag, drag in wind, determinism, ports and runner wiring."""

from __future__ import annotations

import logging
import math

import pytest

pytest.importorskip("pybullet")

from kestrel.airframe import GRAVITY_MPS2, REFERENCE_QUADROTOR
from kestrel.component import Component, Port
from kestrel.geodesy import GeoOrigin
from kestrel.messages import GroundTruth, MotorCommand, MotorSpeed, NavSatFix
from kestrel.rotation import yaw_from_quat
from kestrel.runner import LockstepRunner
from kestrel.sim.motors import MotorModel
from kestrel.sim.obstacles import BoxObstacle, ForestSpec
from kestrel.sim.quadrotor_sim import (
    GROUND_TRUTH_RATE_HZ,
    HARD_LANDING_SPEED_MPS,
    AeroDragParams,
    QuadrotorSim,
    SimVehicle,
    ground_truth_period_ticks,
)
from kestrel.sim.sensors.gnss import GNSS_PRESETS
from kestrel.sim.sensors.suite import SensorSuiteConfig
from kestrel.sim.wind import WindConfig

AF = REFERENCE_QUADROTOR
HOVER = AF.hover_thrust_normalized
PHYSICS_HZ = 1000.0
NO_DRAG = AeroDragParams(rotor_drag_coefficient=0.0, drag_area_flu_m2=(0.0, 0.0, 0.0))
GEAR_M = AF.landing_gear_height_m
DEFAULT_DRAG = AeroDragParams()
CALM = WindConfig()


def make_sim(
    *,
    start_z_m: float = 10.0,
    spun_up: bool = True,
    sensors: SensorSuiteConfig | None = None,
    drag: AeroDragParams = DEFAULT_DRAG,
    wind: WindConfig = CALM,
    obstacles=(),
    seed: int = 1,
    start_yaw_rad: float = 0.0,
    ground_truth_hz: float = PHYSICS_HZ,
) -> QuadrotorSim:
    """The physics tests read ground truth at every tick, so it is published at every tick
    unless a test asks for another rate."""
    vehicle = SimVehicle(
        "uav1",
        (0.0, 0.0, start_z_m),
        start_yaw_rad,
        sensors=sensors,
        drag=drag,
        start_thrust_normalized=HOVER if spun_up else 0.0,
    )
    return QuadrotorSim(
        physics_hz=PHYSICS_HZ,
        seed=seed,
        vehicles=[vehicle],
        wind=wind,
        obstacles=list(obstacles),
        origin=GeoOrigin(lat_deg=47.4, lon_deg=8.5, alt_m=400.0),
        ground_truth_hz=ground_truth_hz,
    )


def fly(sim: QuadrotorSim, thrusts, duration_s: float, *, start_s: float = 0.0) -> list[dict]:
    """Step the simulator with a fixed command (None: motors off); return every output dict."""
    command = None if thrusts is None else MotorCommand(start_s, tuple(thrusts))
    first = round(start_s * PHYSICS_HZ)
    last = round((start_s + duration_s) * PHYSICS_HZ)
    return [sim.step(k / PHYSICS_HZ, **{"uav1/motors": command}) for k in range(first, last + 1)]


def truth(outputs: list[dict]) -> list[GroundTruth]:
    return [o["uav1/ground_truth"] for o in outputs]


# ---------------------------------------------------------------- hover
def test_hover_thrust_holds_altitude_once_the_rotors_are_spun_up():
    # Given rotors already turning at hover speed (an air start) and no wind.
    sim = make_sim(spun_up=True)
    # When all four rotors are commanded the hover thrust for 1.1 s.
    states = truth(fly(sim, (HOVER,) * 4, 1.1))
    sim.close()
    # Then, after the first 0.1 s, the altitude holds to a millimetre and nothing drifts.
    settled = states[100:]
    heights = [s.position_enu_m[2] for s in settled]
    assert max(heights) - min(heights) < 1e-3
    assert abs(states[-1].position_enu_m[0]) < 1e-6
    assert abs(states[-1].position_enu_m[1]) < 1e-6
    assert max(abs(w) for w in states[-1].angular_velocity_flu_radps) < 1e-9


def test_spin_up_from_rest_costs_one_and_a_half_up_time_constants_of_gravity_then_holds():
    # Given stopped rotors in the air, commanded to hover, without drag.
    sim = make_sim(spun_up=False, drag=NO_DRAG)
    # When the motor lag has settled (20 time constants) and for one second more.
    states = truth(fly(sim, (HOVER,) * 4, 1.3))
    sim.close()
    v_settled = states[300].velocity_enu_mps[2]
    v_end = states[-1].velocity_enu_mps[2]
    # Then the net vertical force is zero: the vertical speed no longer changes.
    assert v_end == pytest.approx(v_settled, abs=1e-4)
    # And the speed lost while thrust rose as (1 − e^(−t/τ))² is g·∫(1 − (1 − e^(−t/τ))²)dt
    # = g·1.5·τ_up (a 1 ms step leaves a few per cent of discretisation error).
    expected = -GRAVITY_MPS2 * 1.5 * AF.motor_time_constant_up_s
    assert v_settled == pytest.approx(expected, rel=0.06)


# ---------------------------------------------------------------- free fall and ground
def test_free_fall_follows_half_g_t_squared_then_rests_on_the_skids():
    # Given a quadrotor 5 m up with its motors off and no drag.
    z0 = 5.0
    sim = make_sim(start_z_m=z0, spun_up=False, drag=NO_DRAG, sensors=SensorSuiteConfig())
    # When it falls for 3 s.
    outputs = fly(sim, None, 3.0)
    sim.close()
    states = truth(outputs)
    # Then until the ground it follows z0 − g·t²/2 (semi-implicit Euler adds ≤ g·dt·t/2).
    for k in (200, 500, 800):
        t = k / PHYSICS_HZ
        expected = z0 - 0.5 * GRAVITY_MPS2 * t * t
        assert states[k].position_enu_m[2] == pytest.approx(expected, abs=GRAVITY_MPS2 * t / 1e3)
    # And at the end it stands on its skids with the CoM at the landing-gear height.
    assert states[-1].position_enu_m[2] == pytest.approx(GEAR_M, abs=1e-3)
    assert max(abs(v) for v in states[-1].velocity_enu_mps) < 1e-3
    # The IMU felt weightlessness in the air and +g (up, FLU z) standing.
    imu_air = [o["uav1/imu"] for o in outputs[100:700] if "uav1/imu" in o]
    imu_ground = [o["uav1/imu"] for o in outputs[-500:] if "uav1/imu" in o]
    mean_air = [
        sum(m.linear_acceleration_flu_mps2[i] for m in imu_air) / len(imu_air) for i in range(3)
    ]
    mean_ground = [
        sum(m.linear_acceleration_flu_mps2[i] for m in imu_ground) / len(imu_ground)
        for i in range(3)
    ]
    assert mean_air == pytest.approx([0.0, 0.0, 0.0], abs=0.5)
    assert mean_ground == pytest.approx([0.0, 0.0, GRAVITY_MPS2], abs=0.5)
    # And hitting the ground at ~10 m/s is a collision.
    assert sim.vehicle_metrics()["uav1"]["collisions"] == 1


@pytest.mark.parametrize(
    ("impact_speed_mps", "collisions"),
    [(0.8 * HARD_LANDING_SPEED_MPS, 0), (1.2 * HARD_LANDING_SPEED_MPS, 1)],
)
def test_ground_contact_counts_as_collision_only_above_the_hard_landing_speed(
    impact_speed_mps, collisions
):
    # Given a drop height that gives this impact speed: h = v²/(2g).
    drop_m = impact_speed_mps**2 / (2.0 * GRAVITY_MPS2)
    sim = make_sim(start_z_m=GEAR_M + drop_m, spun_up=False, drag=NO_DRAG)
    # When it falls and settles.
    fly(sim, None, 1.0)
    sim.close()
    # Then
    assert sim.vehicle_metrics()["uav1"]["collisions"] == collisions


def test_ground_start_stands_still_and_is_no_collision():
    sim = make_sim(start_z_m=0.0, spun_up=False)
    states = truth(fly(sim, None, 0.5))
    sim.close()
    assert states[0].position_enu_m[2] == pytest.approx(GEAR_M, abs=1e-3)
    assert states[-1].position_enu_m[2] == pytest.approx(GEAR_M, abs=1e-3)
    assert sim.vehicle_metrics()["uav1"] == {"collisions": 0, "min_clearance_m": None}


# ---------------------------------------------------------------- torque directions
def _expected_torque_direction(delta_thrust: list[float]) -> tuple[float, float, float]:
    """Σ r_i × (0, 0, ΔT_i) + (0, 0, −spin_i·κ·ΔT_i) from the airframe's rotor layout."""
    tx = sum(r.position_flu_m[1] * d for r, d in zip(AF.rotors, delta_thrust, strict=True))
    ty = sum(-r.position_flu_m[0] * d for r, d in zip(AF.rotors, delta_thrust, strict=True))
    tz = sum(
        -r.spin * AF.torque_to_thrust_m * d for r, d in zip(AF.rotors, delta_thrust, strict=True)
    )
    return tx, ty, tz


DELTA = 0.05


@pytest.mark.parametrize(
    ("name", "select", "axis"),
    [
        ("left up, right down → roll", lambda r: r.position_flu_m[1] > 0, 0),
        ("front up, rear down → pitch", lambda r: r.position_flu_m[0] > 0, 1),
        ("clockwise up, counter-clockwise down → yaw", lambda r: r.spin < 0, 2),
    ],
)
def test_differential_thrust_turns_the_body_as_the_rotor_layout_predicts(name, select, axis):
    # Given a hovering quadrotor and a differential command of ±DELTA.
    signs = [1.0 if select(r) else -1.0 for r in AF.rotors]
    command = [HOVER + DELTA * s for s in signs]
    torque = _expected_torque_direction([s * DELTA * AF.max_thrust_per_rotor_n for s in signs])
    inertia = AF.inertia_diag_kgm2[axis]
    sim = make_sim(spun_up=True)
    # When it is held for 0.1 s.
    duration_s = 0.1
    omega = truth(fly(sim, command, duration_s))[-1].angular_velocity_flu_radps
    sim.close()
    # Then the body turns about that axis only, in the direction of the torque, at a rate close
    # to τ/I·t: the motor lag (12.5 ms up, 25 ms down) delays the torque by about one time
    # constant, i.e. ~20 % of 0.1 s.
    ideal = torque[axis] / inertia * duration_s
    assert omega[axis] * ideal > 0.0
    assert 0.6 < omega[axis] / ideal < 1.0
    for other in {0, 1, 2} - {axis}:
        assert abs(omega[other]) < 1e-6 * abs(omega[axis]) + 1e-9


# ---------------------------------------------------------------- motors
def test_motor_reaches_63_percent_of_a_step_in_one_time_constant():
    # Given a step of the command from 0 to full thrust, integrated 125 steps per τ_up.
    dt_s = AF.motor_time_constant_up_s / 125
    motors = MotorModel(AF, dt_s=dt_s)
    motors.set_command((1.0,) * 4)
    # When one time constant has passed.
    for _ in range(125):
        motors.advance()
    # Then every rotor is at 1 − e^-1 of its maximum speed.
    for w in motors.speeds_radps:
        assert w == pytest.approx((1.0 - math.exp(-1.0)) * AF.max_rotor_speed_radps, rel=1e-9)
    # And slowing down uses the (longer) down time constant.
    motors.set_command((0.0,) * 4)
    start = motors.speeds_radps[0]
    for _ in range(round(AF.motor_time_constant_down_s / dt_s)):
        motors.advance()
    assert motors.speeds_radps[0] == pytest.approx(start * math.exp(-1.0), rel=1e-9)


def test_thrust_is_linear_in_the_command_and_saturates():
    motors = MotorModel(AF, dt_s=0.001)
    motors.set_command((0.25, 1.7, -0.3, 1.0))
    for _ in range(2000):  # 80 up time constants: settled
        motors.advance()
    t_max = AF.max_thrust_per_rotor_n
    assert motors.thrusts_n() == pytest.approx((0.25 * t_max, t_max, 0.0, t_max), rel=1e-9)


def test_non_finite_commands_stop_the_rotor_and_are_logged_once(caplog):
    motors = MotorModel(AF, dt_s=0.001, label="uav1")
    with caplog.at_level(logging.WARNING, logger="kestrel.sim.motors"):
        motors.set_command((math.nan, 0.5, math.inf, 0.5))
        motors.set_command((0.5, -math.inf, 0.5, 0.5))
    motors.set_command((math.nan, 0.5, math.inf, 0.5))
    for _ in range(2000):
        motors.advance()
    thrusts = motors.thrusts_n()
    assert thrusts[0] == 0.0
    assert thrusts[2] == 0.0
    assert thrusts[1] == pytest.approx(0.5 * AF.max_thrust_per_rotor_n)
    assert len(caplog.records) == 1


def test_per_tick_step_equals_set_command_then_the_generic_rotor_loop():
    # Given two motor models, one driven by `step` (the simulator's per-tick call, unrolled
    # for four rotors) and one by `set_command` plus the generic per-rotor loop of `advance`.
    fast = MotorModel(AF, dt_s=0.001)
    reference = MotorModel(AF, dt_s=0.001)
    fast.reset(0.3 * AF.max_rotor_speed_radps)
    reference.reset(0.3 * AF.max_rotor_speed_radps)
    commands = [(0.9, 0.1, 0.5, 0.45), (0.0, 1.0, 0.2, 0.7), None, (0.3, 0.3, 0.6, 0.6)]
    for k in range(400):
        # A new command object every 25 ticks, the same object in between (None: motors off).
        command = commands[(k // 25) % len(commands)]
        # When both advance one tick.
        wrench = fast.step(command)
        reference.set_command(command)
        expected = MotorModel.advance(reference)
        # Then the wrench and the rotor speeds are bit-identical.
        assert wrench == expected
        assert fast.speeds_radps == reference.speeds_radps


def test_command_of_the_wrong_length_is_refused():
    motors = MotorModel(AF, dt_s=0.001, label="uav1")
    with pytest.raises(ValueError, match="3 entries"):
        motors.set_command((0.5, 0.5, 0.5))


# ---------------------------------------------------------------- drag
WIND_EAST_MPS = 3.0


def test_a_hovering_quadrotor_is_carried_at_the_wind_speed():
    # Given a level hover in a steady east wind.
    sim = make_sim(spun_up=True, wind=WindConfig(mean_enu_mps=(WIND_EAST_MPS, 0.0, 0.0)))
    # When 30 s pass (the rotor-drag time constant m/(c_rd·Σω) is ~7 s).
    states = truth(fly(sim, (HOVER,) * 4, 30.0))
    sim.close()
    # Then it drifts with the air: terminal ground speed = wind speed, no air-relative speed.
    vx, vy, vz = states[-1].velocity_enu_mps
    assert vx == pytest.approx(WIND_EAST_MPS, abs=0.05)
    assert abs(vy) < 1e-6
    assert abs(vz) < 1e-3


def test_initial_drag_force_matches_rotor_plus_body_drag():
    # Given a level hover at rest, suddenly in a 3 m/s east wind.
    drag = AeroDragParams()
    sim = make_sim(spun_up=True, wind=WindConfig(mean_enu_mps=(WIND_EAST_MPS, 0.0, 0.0)))
    # When 20 ms pass (the vehicle's own speed stays ≪ the wind speed).
    duration_s = 0.02
    states = truth(fly(sim, (HOVER,) * 4, duration_s))
    sim.close()
    # Then it accelerated at (c_rd·Σω_hover·W + ½ρ(C_D·A)_x·W²)/m.
    speed_sum = 4 * AF.max_rotor_speed_radps * math.sqrt(HOVER)
    force = (
        drag.rotor_drag_coefficient * speed_sum * WIND_EAST_MPS
        + drag.quadratic_coefficients[0] * WIND_EAST_MPS**2
    )
    expected = force / AF.mass_kg * duration_s
    assert states[-1].velocity_enu_mps[0] == pytest.approx(expected, rel=0.02)


# ---------------------------------------------------------------- determinism and ports
def _gusty_run(seed: int) -> list[tuple]:
    sim = make_sim(
        spun_up=True,
        seed=seed,
        sensors=SensorSuiteConfig(gnss="standard"),
        wind=WindConfig(mean_enu_mps=(2.0, 0.0, 0.0), gust_std_mps=1.0),
        obstacles=[
            ForestSpec(
                area_m=((2.0, -5.0), (30.0, 5.0)),
                density_per_m2=0.1,
                radius_m=(0.1, 0.3),
                height_m=12.0,
            )
        ],
    )
    trace = []
    for k in range(1500):
        # A varying command so that attitude and rotor speeds change too.
        u = HOVER + 0.02 * math.sin(k / 50.0)
        outputs = sim.step(
            k / PHYSICS_HZ, **{"uav1/motors": MotorCommand(0.0, (u, HOVER, HOVER, u))}
        )
        trace.append(tuple(sorted((name, repr(msg)) for name, msg in outputs.items())))
    trace.append(repr(sim.vehicle_metrics()))
    sim.close()
    return trace


def test_same_seed_gives_identical_trajectories_and_another_seed_differs():
    assert _gusty_run(4) == _gusty_run(4)
    assert _gusty_run(4) != _gusty_run(5)


def test_two_worlds_in_one_process_do_not_see_each_other():
    # Given two identical simulators stepped alternately, and a third stepped alone.
    a, b, alone = make_sim(spun_up=False), make_sim(spun_up=False), make_sim(spun_up=False)
    command = {"uav1/motors": MotorCommand(0.0, (0.6, 0.5, 0.5, 0.6))}
    for k in range(300):
        ta = a.step(k / PHYSICS_HZ, **command)["uav1/ground_truth"]
        tb = b.step(k / PHYSICS_HZ, **command)["uav1/ground_truth"]
        tc = alone.step(k / PHYSICS_HZ, **command)["uav1/ground_truth"]
    for sim in (a, b, alone):
        sim.close()
    # Then all three agree exactly.
    assert ta == tb == tc


# ---------------------------------------------------------------- ground-truth rate
@pytest.mark.parametrize(
    ("physics_hz", "ground_truth_hz", "period_ticks"),
    [
        (1000.0, 250.0, 4),  # the default at the default physics rate
        (2000.0, 250.0, 8),
        (500.0, 250.0, 2),
        (1000.0, 1000.0, 1),
        (1000.0, 4000.0, 1),  # capped at the physics rate
        (400.0, 250.0, 1),  # 1.6 ticks: off the grid, so every tick
        (1000.0, 300.0, 1),
    ],
)
def test_ground_truth_period_is_a_whole_number_of_ticks_or_every_tick(
    physics_hz, ground_truth_hz, period_ticks
):
    assert ground_truth_period_ticks(physics_hz, ground_truth_hz) == period_ticks


def test_ground_truth_is_published_at_250_hz_by_default_on_the_physics_grid():
    # Given the simulator with its default ground-truth rate at 1 kHz physics.
    sim = QuadrotorSim(
        physics_hz=PHYSICS_HZ,
        seed=1,
        vehicles=[SimVehicle("uav1", (0.0, 0.0, 5.0), 0.0, sensors=None)],
        wind=CALM,
        obstacles=[],
        origin=GeoOrigin(),
    )
    # When it runs for 0.1 s.
    outputs = fly(sim, (HOVER,) * 4, 0.1)
    sim.close()
    # Then ground truth comes every 4 ms from t = 0, so every 50-Hz reader's tick has one.
    stamps = [o["uav1/ground_truth"].t_s for o in outputs if "uav1/ground_truth" in o]
    assert sim.ground_truth_hz == GROUND_TRUTH_RATE_HZ == 250.0
    assert stamps == pytest.approx([k / 250.0 for k in range(26)])
    assert all(round(t * 1000) % 4 == 0 for t in stamps)


@pytest.mark.parametrize("rate_hz", [0.0, -250.0, math.nan, math.inf])
def test_invalid_ground_truth_rate_is_refused(rate_hz):
    with pytest.raises(ValueError, match="ground_truth_hz"):
        make_sim(ground_truth_hz=rate_hz)


def _drift_into_wall(ground_truth_hz: float) -> tuple[list[dict], dict]:
    """A sensor-equipped quadrotor carried by the wind into a wall for 2.5 s."""
    sim = make_sim(
        start_z_m=2.0,
        sensors=SensorSuiteConfig(gnss="standard"),
        wind=WindConfig(mean_enu_mps=(4.0, 0.0, 0.0), gust_std_mps=0.5),
        obstacles=[BoxObstacle(center_m=(1.5, 0.0, 2.0), size_m=(0.4, 4.0, 4.0))],
        ground_truth_hz=ground_truth_hz,
    )
    outputs = fly(sim, (HOVER,) * 4, 2.5)
    sim.close()
    return outputs, sim.vehicle_metrics()


def test_decimated_ground_truth_changes_nothing_else():
    # Given the same gusty flight into a wall with ground truth at 1 kHz and at 250 Hz.
    every_tick, metrics_every_tick = _drift_into_wall(PHYSICS_HZ)
    decimated, metrics_decimated = _drift_into_wall(250.0)
    # Then the contact happened (the metrics are computed inside the simulator every tick)
    # and both runs count it identically, to the last bit of the clearance.
    assert metrics_every_tick["uav1"]["collisions"] == 1
    assert metrics_every_tick["uav1"]["min_clearance_m"] < 0.0
    assert metrics_decimated == metrics_every_tick
    # And every other output is identical, and ground truth where both have it.
    for k, (a, b) in enumerate(zip(every_tick, decimated, strict=True)):
        assert {n: m for n, m in a.items() if not n.endswith("ground_truth")} == {
            n: m for n, m in b.items() if not n.endswith("ground_truth")
        }
        if k % 4 == 0:
            assert b["uav1/ground_truth"] == a["uav1/ground_truth"]
        else:
            assert "uav1/ground_truth" not in b


def test_slow_sensors_are_sampled_at_their_rates_on_the_physics_grid():
    # Given the default sensors (IMU 1 kHz, RTK GNSS 10 Hz, barometer and magnetometer 50 Hz).
    sim = make_sim(sensors=SensorSuiteConfig())
    # When the simulator runs for 0.3 s.
    outputs = fly(sim, (HOVER,) * 4, 0.3)
    sim.close()

    def stamps(name: str) -> list[float]:
        return [o[f"uav1/{name}"].t_s for o in outputs if f"uav1/{name}" in o]

    # Then each sensor published exactly on its own grid from t = 0.
    assert stamps("imu") == pytest.approx([k / 1000.0 for k in range(301)])
    assert stamps("gnss") == pytest.approx([k / 10.0 for k in range(4)])
    assert stamps("baro") == pytest.approx([k / 50.0 for k in range(16)])
    assert stamps("mag") == pytest.approx([k / 50.0 for k in range(16)])


def test_start_yaw_sets_the_initial_heading():
    sim = make_sim(start_yaw_rad=math.radians(90.0))
    state = truth(fly(sim, (HOVER,) * 4, 0.0))[0]
    sim.close()
    assert yaw_from_quat(state.orientation) == pytest.approx(math.radians(90.0))


def test_motor_speeds_are_published_at_100_hz():
    sim = make_sim()
    outputs = fly(sim, (HOVER,) * 4, 0.1)
    sim.close()
    stamps = [o["uav1/motor_speed"].t_s for o in outputs if "uav1/motor_speed" in o]
    assert stamps == pytest.approx([k / 100.0 for k in range(11)])


def test_ports_are_declared_per_vehicle_with_the_gnss_latency():
    sensors = SensorSuiteConfig(gnss="standard")
    sim = QuadrotorSim(
        physics_hz=PHYSICS_HZ,
        seed=1,
        vehicles=[
            SimVehicle("uav1", (0.0, 0.0, 0.0), 0.0, sensors=sensors),
            SimVehicle("uav2", (5.0, 0.0, 0.0), 0.0, sensors=None),
        ],
        wind=WindConfig(),
        obstacles=[],
        origin=GeoOrigin(),
    )
    sim.close()
    assert sim.inputs == {
        "uav1/motors": Port(MotorCommand, "uav1/actuators/motors"),
        "uav2/motors": Port(MotorCommand, "uav2/actuators/motors"),
    }
    assert sim.outputs["uav1/gnss"] == Port(
        NavSatFix, "uav1/sensors/gnss", latency_s=GNSS_PRESETS["standard"].latency_s
    )
    assert set(sim.outputs) == {
        "uav1/imu",
        "uav1/gnss",
        "uav1/baro",
        "uav1/mag",
        "uav1/motor_speed",
        "uav1/ground_truth",
        "uav2/motor_speed",
        "uav2/ground_truth",
    }
    assert sim.rate_hz == PHYSICS_HZ
    assert not sim.direct_feedthrough
    assert sim.reads_ground_truth


@pytest.mark.parametrize(
    ("separation_m", "collisions"),
    [(0.6, 1), (2.0 * AF.body_radius_m + 0.05, 0)],
)
def test_overlapping_body_spheres_of_two_vehicles_are_a_collision_for_each(
    separation_m, collisions
):
    # Given two hovering quadrotors side by side; their body spheres (2 × 0.36 m) overlap at
    # 0.6 m while their propellers (0.29 m along x) do not touch.
    sim = QuadrotorSim(
        physics_hz=PHYSICS_HZ,
        seed=1,
        vehicles=[
            SimVehicle("uav1", (0.0, 0.0, 5.0), 0.0, sensors=None, start_thrust_normalized=HOVER),
            SimVehicle(
                "uav2", (separation_m, 0.0, 5.0), 0.0, sensors=None, start_thrust_normalized=HOVER
            ),
        ],
        wind=CALM,
        obstacles=[],
        origin=GeoOrigin(),
    )
    command = MotorCommand(0.0, (HOVER,) * 4)
    # When they hover for 0.5 s.
    for k in range(500):
        sim.step(k / PHYSICS_HZ, **{"uav1/motors": command, "uav2/motors": command})
    sim.close()
    # Then each counts one episode (not one per tick), or none when apart.
    metrics = sim.vehicle_metrics()
    assert metrics["uav1"]["collisions"] == collisions
    assert metrics["uav2"]["collisions"] == collisions


def test_duplicate_vehicle_ids_are_refused():
    with pytest.raises(ValueError, match="duplicate vehicle_id uav1"):
        QuadrotorSim(
            physics_hz=PHYSICS_HZ,
            seed=1,
            vehicles=[SimVehicle("uav1", (0, 0, 0), 0.0), SimVehicle("uav1", (5, 0, 0), 0.0)],
            wind=WindConfig(),
            obstacles=[],
            origin=GeoOrigin(),
        )


class _HoverCommander(Component):
    """Publishes the hover command for uav1 at 250 Hz."""

    outputs = {"motors": Port(MotorCommand, "uav1/actuators/motors")}
    rate_hz = 250.0

    def step(self, t_s):
        return MotorCommand(t_s, (HOVER,) * 4)


def test_runs_in_the_lockstep_runner_with_sensors_delivered():
    # Given the simulator wired to a hover commander.
    sim = make_sim(spun_up=True, sensors=SensorSuiteConfig())
    runner = LockstepRunner([sim, _HoverCommander("commander")], physics_hz=PHYSICS_HZ)
    # When it runs for half a second.
    runner.run_until(0.5)
    sim.close()
    # Then ground truth is current, the altitude held and the GNSS fix arrived after latency.
    state = runner.latest("/uav1/sim/ground_truth")
    assert state.t_s == pytest.approx(0.5)
    assert state.position_enu_m[2] == pytest.approx(10.0, abs=0.01)
    fix = runner.latest("/uav1/sensors/gnss")
    assert fix is not None
    assert fix.t_s <= 0.5 - GNSS_PRESETS["rtk"].latency_s + 1e-9
    assert isinstance(runner.latest("/uav1/actuators/motor_speed"), MotorSpeed)
