"""Control allocation: torque/thrust → rotor thrusts, saturation priorities and refusals."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from kestrel.airframe import GRAVITY_MPS2, REFERENCE_QUADROTOR, Rotor
from kestrel.control.allocation import YAW_HEADROOM, ControlAllocation, ControlAllocator
from kestrel.messages import MotorCommand, TorqueThrust, VehicleMode

AIRFRAME = REFERENCE_QUADROTOR
WEIGHT_N = AIRFRAME.mass_kg * GRAVITY_MPS2
MAX_COLLECTIVE_N = AIRFRAME.max_thrust_per_rotor_n * len(AIRFRAME.rotors)
ARM_XY_M = AIRFRAME.arm_length_m / math.sqrt(2.0)
"""Quad-x: every hub sits ±arm/√2 from both body axes."""
HOVER_ROTOR_N = WEIGHT_N / len(AIRFRAME.rotors)
MAX_ROLL_TORQUE_AT_HOVER_NM = (
    4 * ARM_XY_M * min(HOVER_ROTOR_N, AIRFRAME.max_thrust_per_rotor_n - HOVER_ROTOR_N)
)
"""Each rotor may move by the smaller of its hover thrust and its margin to full thrust."""
MAX_YAW_TORQUE_AT_HOVER_NM = 4 * AIRFRAME.torque_to_thrust_m * HOVER_ROTOR_N


@pytest.fixture
def allocation() -> ControlAllocation:
    return ControlAllocation(AIRFRAME)


def test_effectiveness_times_allocation_is_identity(allocation: ControlAllocation) -> None:
    # Given B from the rotor layout and A = B⁺; When multiplied; Then B A = I (full row rank).
    product = np.array(allocation.effectiveness) @ np.array(allocation.allocation)
    np.testing.assert_allclose(product, np.eye(4), atol=1e-12)


def test_effectiveness_columns_follow_rotor_geometry(allocation: ControlAllocation) -> None:
    # Given rotor 1 front-right CCW at (a, −a): r × (0, 0, T) = (−a·T, −a·T, 0), reaction −k_Q·T.
    column = [row[0] for row in allocation.effectiveness]
    t_max = AIRFRAME.max_thrust_per_rotor_n
    expected = [
        -ARM_XY_M * t_max,
        -ARM_XY_M * t_max,
        -AIRFRAME.torque_to_thrust_m * t_max,
        t_max,
    ]
    assert column == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("torque_nm", "thrust_n"),
    [
        ((0.0, 0.0, 0.0), WEIGHT_N),
        ((0.3, 0.0, 0.0), WEIGHT_N),
        ((0.0, -0.4, 0.0), WEIGHT_N),
        ((0.0, 0.0, 0.1), WEIGHT_N),
        ((-0.5, 0.6, -0.15), 1.2 * WEIGHT_N),
        ((0.1, 0.1, 0.05), 0.5 * WEIGHT_N),
    ],
)
def test_unsaturated_demand_is_reproduced_exactly(
    allocation: ControlAllocation, torque_nm: tuple[float, float, float], thrust_n: float
) -> None:
    thrusts, saturated = allocation.allocate(torque_nm, thrust_n)
    achieved_torque, achieved_thrust = allocation.wrench(thrusts)
    assert not saturated
    assert all(0.0 <= u <= 1.0 for u in thrusts)
    assert achieved_torque == pytest.approx(torque_nm, abs=1e-12)
    assert achieved_thrust == pytest.approx(thrust_n, rel=1e-12)


def test_hover_demand_gives_every_rotor_a_quarter_of_the_weight(
    allocation: ControlAllocation,
) -> None:
    thrusts, _ = allocation.allocate((0.0, 0.0, 0.0), WEIGHT_N)
    assert thrusts == pytest.approx([AIRFRAME.hover_thrust_normalized] * 4, rel=1e-12)
    assert allocation.hover_thrust_normalized == pytest.approx(thrusts, rel=1e-12)


def test_positive_roll_torque_speeds_up_the_left_rotors(allocation: ControlAllocation) -> None:
    # Given FLU, +roll lifts the left (+y) side: rotors 2 (rear-left) and 3 (front-left).
    thrusts, _ = allocation.allocate((0.2, 0.0, 0.0), WEIGHT_N)
    hover = AIRFRAME.hover_thrust_normalized
    assert [u > hover for u in thrusts] == [False, True, True, False]


def test_positive_yaw_torque_speeds_up_the_clockwise_rotors(allocation: ControlAllocation) -> None:
    # Given a CW rotor (spin −1) pushes the body CCW (+z), rotors 3 and 4 must speed up.
    thrusts, _ = allocation.allocate((0.0, 0.0, 0.05), WEIGHT_N)
    hover = AIRFRAME.hover_thrust_normalized
    assert [u > hover for u in thrusts] == [False, False, True, True]


def test_yaw_is_sacrificed_to_keep_roll_and_pitch_under_saturation(
    allocation: ControlAllocation,
) -> None:
    # Given a roll/pitch demand within authority and a yaw demand twice what is available
    roll_pitch = (0.4 * MAX_ROLL_TORQUE_AT_HOVER_NM, -0.3 * MAX_ROLL_TORQUE_AT_HOVER_NM)
    yaw_demand = 2.0 * MAX_YAW_TORQUE_AT_HOVER_NM
    # When allocated at hover thrust
    thrusts, saturated = allocation.allocate((*roll_pitch, yaw_demand), WEIGHT_N)
    torque, thrust = allocation.wrench(thrusts)
    # Then roll and pitch are delivered exactly; yaw is reduced but keeps its sign, and the
    # collective gave at most the yaw headroom (a fraction of every rotor's range)
    assert saturated
    assert torque[:2] == pytest.approx(roll_pitch, abs=1e-9)
    assert 0.0 < torque[2] < yaw_demand
    assert WEIGHT_N - YAW_HEADROOM * MAX_COLLECTIVE_N - 1e-9 <= thrust <= WEIGHT_N + 1e-9


def test_collective_is_lowered_to_keep_roll_near_full_thrust(
    allocation: ControlAllocation,
) -> None:
    # Given a collective at 95 % of the maximum and a roll torque that needs rotor headroom
    roll_nm = 0.5
    thrusts, saturated = allocation.allocate((roll_nm, 0.0, 0.0), 0.95 * MAX_COLLECTIVE_N)
    torque, thrust = allocation.wrench(thrusts)
    # Then roll is kept and the collective gives way (never above the request)
    assert saturated
    assert torque[0] == pytest.approx(roll_nm, abs=1e-9)
    assert thrust < 0.95 * MAX_COLLECTIVE_N
    assert max(thrusts) == pytest.approx(1.0)


def test_collective_is_never_raised_to_unsaturate_low_rotors(
    allocation: ControlAllocation,
) -> None:
    # Given airmode disabled: at 5 % collective a large roll demand cannot be met by raising
    # the collective; roll is reduced instead
    low_thrust_n = 0.05 * MAX_COLLECTIVE_N
    roll_nm = 1.0
    thrusts, saturated = allocation.allocate((roll_nm, 0.0, 0.0), low_thrust_n)
    torque, thrust = allocation.wrench(thrusts)
    assert saturated
    assert thrust == pytest.approx(low_thrust_n, rel=1e-9)
    assert 0.0 < torque[0] < roll_nm


@pytest.mark.parametrize("thrust_n", [-5.0, 0.0, 0.5 * WEIGHT_N, WEIGHT_N, 2.0 * MAX_COLLECTIVE_N])
@pytest.mark.parametrize("torque_nm", [(5.0, -5.0, 2.0), (-3.0, 0.0, -1.0), (0.0, 4.0, 0.5)])
def test_rotor_thrusts_stay_within_unit_range(
    allocation: ControlAllocation, torque_nm: tuple[float, float, float], thrust_n: float
) -> None:
    thrusts, saturated = allocation.allocate(torque_nm, thrust_n)
    assert saturated
    assert all(0.0 <= u <= 1.0 for u in thrusts)


def test_saturated_allocations_keep_priorities_over_many_demands(
    allocation: ControlAllocation,
) -> None:
    # Given 500 seeded demands up to ±3 N·m roll/pitch, ±0.6 N·m yaw, 0–1.2× full collective
    rng = np.random.default_rng(20)
    for _ in range(500):
        torque = (
            float(rng.uniform(-3.0, 3.0)),
            float(rng.uniform(-3.0, 3.0)),
            float(rng.uniform(-0.6, 0.6)),
        )
        thrust_n = float(rng.uniform(0.0, 1.2 * MAX_COLLECTIVE_N))
        thrusts, _ = allocation.allocate(torque, thrust_n)
        achieved, collective = allocation.wrench(thrusts)
        # Then every rotor is in range, the collective is never raised, roll/pitch keep their
        # direction (scaled together, never beyond the demand), and yaw keeps its sign
        assert all(0.0 <= u <= 1.0 for u in thrusts)
        assert collective <= thrust_n + 1e-9
        tilt_demand = math.hypot(torque[0], torque[1])
        tilt_achieved = math.hypot(achieved[0], achieved[1])
        assert tilt_achieved <= tilt_demand + 1e-9
        cross = torque[0] * achieved[1] - torque[1] * achieved[0]
        assert abs(cross) <= 1e-9 * (1.0 + tilt_demand * tilt_achieved)
        assert torque[0] * achieved[0] + torque[1] * achieved[1] >= -1e-12
        assert achieved[2] * torque[2] >= -1e-12


def test_unallocated_torque_is_what_the_allocation_leaves_out(
    allocation: ControlAllocation,
) -> None:
    # Given 2000 seeded demands clustered around the edge of the rotor range (torques up to
    # ±1 N·m roll/pitch, ±0.3 N·m yaw, collective from −5 % to 105 % of full): some fit with
    # room to spare (where `unallocated_torque` answers from a bound), some barely, some not
    rng = np.random.default_rng(21)
    fitting = 0
    for _ in range(2000):
        scale = float(rng.choice([1e-3, 0.05, 0.3, 1.0]))
        torque = (
            scale * float(rng.uniform(-1.0, 1.0)),
            scale * float(rng.uniform(-1.0, 1.0)),
            scale * float(rng.uniform(-0.3, 0.3)),
        )
        thrust_n = float(rng.uniform(-0.05, 1.05)) * MAX_COLLECTIVE_N
        # When asked for the unallocated torque, and computing it from the allocation itself
        unallocated = allocation.unallocated_torque(torque, thrust_n)
        thrusts, saturated = allocation.allocate(torque, thrust_n)
        achieved, _ = allocation.wrench(thrusts)
        expected = (
            (torque[0] - achieved[0], torque[1] - achieved[1], torque[2] - achieved[2])
            if saturated
            else (0.0, 0.0, 0.0)
        )
        # Then both agree to the bit
        assert unallocated == expected
        fitting += not saturated
    assert 200 < fitting < 1800


def test_layout_without_yaw_authority_is_refused() -> None:
    # Given all four rotors spinning the same way, yaw torque is tied to thrust
    same_spin = tuple(Rotor(r.position_flu_m, +1) for r in AIRFRAME.rotors)
    with pytest.raises(ValueError, match="independent roll, pitch, yaw and thrust"):
        ControlAllocation(dataclasses.replace(AIRFRAME, rotors=same_spin))


# ----------------------------------------------------------------------------- component

ARMED_IN_FLIGHT = VehicleMode(0.0, armed=True, phase="mission")
HOVER_DEMAND = TorqueThrust(0.0, (0.0, 0.0, 0.0), WEIGHT_N)


@pytest.fixture
def allocator() -> ControlAllocator:
    return ControlAllocator("allocator", "uav1", airframe=AIRFRAME)


@pytest.mark.parametrize(
    "mode", [None, VehicleMode(0.0, armed=False, phase="mission")], ids=["no mode", "disarmed"]
)
def test_motors_stop_when_disarmed(allocator: ControlAllocator, mode: VehicleMode | None) -> None:
    command = allocator.step(1.0, torque_thrust=HOVER_DEMAND, mode=mode)
    assert command == MotorCommand(1.0, (0.0, 0.0, 0.0, 0.0))


def test_motors_stop_while_armed_before_the_first_demand(allocator: ControlAllocator) -> None:
    command = allocator.step(1.0, torque_thrust=None, mode=ARMED_IN_FLIGHT)
    assert command.thrust_normalized == (0.0, 0.0, 0.0, 0.0)


def test_armed_allocator_publishes_the_allocation(allocator: ControlAllocator) -> None:
    command = allocator.step(1.0, torque_thrust=HOVER_DEMAND, mode=ARMED_IN_FLIGHT)
    assert command.thrust_normalized == pytest.approx(
        [AIRFRAME.hover_thrust_normalized] * 4, rel=1e-12
    )


def test_armed_allocator_publishes_the_allocation_of_every_demand(
    allocator: ControlAllocator,
) -> None:
    # Given 500 seeded demands, saturating and not (±1 N·m roll/pitch, ±0.3 N·m yaw, 0–105 %)
    rng = np.random.default_rng(22)
    saturated_count = 0
    for k in range(500):
        torque = (
            float(rng.uniform(-1.0, 1.0)),
            float(rng.uniform(-1.0, 1.0)),
            float(rng.uniform(-0.3, 0.3)),
        )
        thrust_n = float(rng.uniform(0.0, 1.05)) * MAX_COLLECTIVE_N
        # When the component steps on it
        t_s = k / ControlAllocator.rate_hz
        command = allocator.step(
            t_s, torque_thrust=TorqueThrust(t_s, torque, thrust_n), mode=ARMED_IN_FLIGHT
        )
        # Then it publishes exactly the pure allocation
        expected, saturated = allocator.allocation.allocate(torque, thrust_n)
        assert command == MotorCommand(t_s, tuple(expected))
        saturated_count += saturated
    assert 0 < saturated_count < 500


@pytest.mark.parametrize(
    "demand",
    [
        TorqueThrust(0.0, (math.nan, 0.0, 0.0), WEIGHT_N),
        TorqueThrust(0.0, (0.0, 0.0, math.inf), WEIGHT_N),
        TorqueThrust(0.0, (0.3, 0.0, 0.0), math.nan),
    ],
)
def test_non_finite_demand_in_flight_holds_zero_torque_hover_thrust(
    allocator: ControlAllocator, demand: TorqueThrust
) -> None:
    command = allocator.step(1.0, torque_thrust=demand, mode=ARMED_IN_FLIGHT)
    assert command.thrust_normalized == pytest.approx(
        [AIRFRAME.hover_thrust_normalized] * 4, rel=1e-12
    )


@pytest.mark.parametrize("phase", ["landed", "idle"])
def test_non_finite_demand_on_the_ground_stops_the_motors(
    allocator: ControlAllocator, phase: str
) -> None:
    demand = TorqueThrust(0.0, (math.nan, 0.0, 0.0), WEIGHT_N)
    command = allocator.step(1.0, torque_thrust=demand, mode=VehicleMode(0.0, True, phase))
    assert command.thrust_normalized == (0.0, 0.0, 0.0, 0.0)


def test_finite_demand_after_a_refusal_is_allocated_again(allocator: ControlAllocator) -> None:
    roll_demand = TorqueThrust(0.0, (0.2, 0.0, 0.0), WEIGHT_N)
    allocator.step(1.0, torque_thrust=TorqueThrust(0.0, (math.nan,) * 3, 1.0), mode=ARMED_IN_FLIGHT)
    command = allocator.step(1.002, torque_thrust=roll_demand, mode=ARMED_IN_FLIGHT)
    expected, _ = allocator.allocation.allocate((0.2, 0.0, 0.0), WEIGHT_N)
    assert command.thrust_normalized == pytest.approx(expected, rel=1e-12)
