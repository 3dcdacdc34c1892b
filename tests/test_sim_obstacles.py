"""Obstacles: exact distances to every primitive (yawed, moving, on a path), seeded forests, the
field query, and the collision/clearance metrics of the simulator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kestrel.sim.obstacles import (
    BoxObstacle,
    CylinderObstacle,
    ForestSpec,
    ObstacleField,
    SphereObstacle,
    expand_obstacles,
    obstacle_from_mapping,
)

# The SCENARIOS.md example obstacles.
BOX = BoxObstacle(center_m=(10.0, 0.0, 2.0), size_m=(1.0, 4.0, 4.0))
CYLINDER = CylinderObstacle(center_m=(20.0, 3.0), radius_m=0.4, height_m=12.0)
MOVING_SPHERE = SphereObstacle(center_m=(5.0, 5.0, 3.0), radius_m=0.5, velocity_mps=(0, -1.5, 0))
PATH_BOX = BoxObstacle(
    size_m=(4.5, 1.8, 1.6), path=((0, 30, 0, 0.8), (5, 80, 0, 0.8), (7, 84, 0, 0.8))
)
FOREST = ForestSpec(
    area_m=((0.0, -15.0), (80.0, 15.0)), density_per_m2=0.08, radius_m=(0.15, 0.5), height_m=15.0
)


@pytest.mark.parametrize(
    ("point", "expected_m"),
    [
        ((0.0, 0.0, 2.0), 10.0 - 0.5),  # in front of the −x face
        ((12.0, 3.0, 2.0), math.hypot(1.5, 1.0)),  # beside a vertical edge
        ((11.5, 5.0, 7.0), math.sqrt(1.0**2 + 3.0**2 + 3.0**2)),  # beyond a corner
        ((10.2, 0.0, 2.0), -(0.5 - 0.2)),  # inside, nearest the +x face
    ],
)
def test_box_distance_matches_hand_computed_values(point, expected_m):
    assert BOX.signed_distance_m(point, 0.0) == pytest.approx(expected_m)


def test_yawed_box_distance_is_taken_in_the_box_frame():
    # Given a 2 × 1 × 1 box turned 90°: its long side now runs north.
    box = BoxObstacle(center_m=(0.0, 0.0, 0.0), size_m=(2.0, 1.0, 1.0), yaw_deg=90.0)
    # Then north reaches the end face at 1 m, east the long side at 0.5 m.
    assert box.signed_distance_m((0.0, 3.0, 0.0), 0.0) == pytest.approx(3.0 - 1.0)
    assert box.signed_distance_m((1.0, 0.0, 0.0), 0.0) == pytest.approx(1.0 - 0.5)
    # And a cube turned 45° points a vertical edge east, √2 from its centre.
    cube = BoxObstacle(center_m=(0.0, 0.0, 0.0), size_m=(2.0, 2.0, 2.0), yaw_deg=45.0)
    assert cube.signed_distance_m((3.0, 0.0, 0.5), 0.0) == pytest.approx(3.0 - math.sqrt(2.0))


@pytest.mark.parametrize(
    ("point", "expected_m"),
    [
        ((22.0, 3.0, 6.0), 2.0 - 0.4),  # beside the mantle
        ((20.0, 3.0, 15.0), 15.0 - 12.0),  # above the top, on the axis
        ((20.0 + 0.4 + 3.0, 3.0, 12.0 + 4.0), 5.0),  # beyond the top rim (3-4-5)
        ((20.0, 3.0, 6.0), -0.4),  # on the axis at mid-height: the mantle is nearest
        ((20.0, 3.0, -1.0), 1.0),  # below the base
    ],
)
def test_cylinder_distance_matches_hand_computed_values(point, expected_m):
    assert CYLINDER.signed_distance_m(point, 0.0) == pytest.approx(expected_m)


def test_sphere_moving_at_constant_velocity_is_measured_where_it_is_at_t():
    # At t = 0 it is at its centre; at t = 2 s it has moved 3 m south.
    assert MOVING_SPHERE.signed_distance_m((5.0, 8.0, 7.0), 0.0) == pytest.approx(5.0 - 0.5)
    assert MOVING_SPHERE.signed_distance_m((5.0, 2.0, 6.0), 2.0) == pytest.approx(3.0 - 0.5)
    assert MOVING_SPHERE.max_speed_mps == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("t_s", "center_x_m"),
    [
        (-1.0, 30.0),  # before the first point: held there
        (2.5, 55.0),  # half-way along the first segment
        (6.0, 82.0),  # half-way along the second
        (100.0, 84.0),  # after the last point: held there
    ],
)
def test_box_on_a_path_is_interpolated_and_held_at_its_ends(t_s, center_x_m):
    # A point 5 m north of the centre is 5 − 0.9 m from the box's north face.
    assert PATH_BOX.signed_distance_m((center_x_m, 5.0, 0.8), t_s) == pytest.approx(5.0 - 0.9)


def test_path_speed_bound_is_the_fastest_segment():
    assert PATH_BOX.max_speed_mps == pytest.approx(max(50.0 / 5.0, 4.0 / 2.0))


def test_cylinder_moves_horizontally_with_its_velocity():
    cylinder = CylinderObstacle(
        center_m=(20.0, 3.0), radius_m=0.4, height_m=12.0, velocity_mps=(1.0, 0.0)
    )
    assert cylinder.signed_distance_m((25.0, 3.0, 6.0), 3.0) == pytest.approx(2.0 - 0.4)


def test_snapshot_places_moving_obstacles_statically():
    placed = MOVING_SPHERE.at(2.0)
    assert placed.center_m == (5.0, 2.0, 3.0)
    assert not placed.is_moving


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: CylinderObstacle(center_m=(0, 0, 1), radius_m=1, height_m=1), "z must be 0"),
        (
            lambda: CylinderObstacle(
                center_m=(0, 0), radius_m=1, height_m=1, velocity_mps=(0, 0, 1)
            ),
            "z must be 0",
        ),
        (lambda: BoxObstacle(size_m=(1, 1, 1)), "center"),
        (
            lambda: BoxObstacle(center_m=(0, 0, 0), size_m=(1, 1, 1), path=((0, 0, 0, 0),)),
            "either",
        ),
        (lambda: SphereObstacle(radius_m=1, path=((1, 0, 0, 0), (1, 1, 0, 0))), "increase"),
        (lambda: SphereObstacle(center_m=(0, 0, 0), radius_m=0.0), "radius"),
        (lambda: BoxObstacle(center_m=(0, 0, math.nan), size_m=(1, 1, 1)), "center"),
    ],
)
def test_invalid_obstacles_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_forest_is_seeded_same_seed_same_trunks():
    a = expand_obstacles([FOREST], seed=7)
    b = expand_obstacles([FOREST], seed=7)
    c = expand_obstacles([FOREST], seed=8)
    assert a == b
    assert a != c


def test_forest_has_density_times_area_trunks_inside_its_area():
    # Given 0.08 trunks/m² over 80 m × 30 m.
    expected = round(0.08 * 80.0 * 30.0)
    trunks = expand_obstacles([FOREST], seed=7)
    assert len(trunks) == expected
    for trunk in trunks:
        x, y, z = trunk.center_m
        assert 0.0 <= x <= 80.0
        assert -15.0 <= y <= 15.0
        assert z == 0.0
        assert 0.15 <= trunk.radius_m <= 0.5
        assert trunk.height_m == 15.0


def test_forest_keeps_clear_of_start_points_without_moving_other_trunks():
    clear = [(40.0, 0.0, 3.0)]
    all_trunks = expand_obstacles([FOREST], seed=7)
    kept = expand_obstacles([FOREST], seed=7, keep_clear=clear)
    assert all(math.hypot(t.center_m[0] - 40, t.center_m[1]) >= t.radius_m + 3.0 for t in kept)
    assert set(kept) <= set(all_trunks)
    assert len(kept) < len(all_trunks)


def test_field_query_equals_the_nearest_primitive_everywhere():
    # Given the example world (a forest of ~190 trunks queried with numpy, and primitives).
    obstacles = expand_obstacles([BOX, CYLINDER, MOVING_SPHERE, PATH_BOX, FOREST], seed=7)
    field = ObstacleField(obstacles)
    rng = np.random.default_rng(0)
    for x, y, z, t in rng.uniform((-10, -20, -1, 0), (100, 20, 20, 10), size=(200, 4)):
        point = (float(x), float(y), float(z))
        brute = min(o.signed_distance_m(point, float(t)) for o in obstacles)
        assert field.signed_distance_m(point, float(t)) == pytest.approx(brute, abs=1e-12)
        assert field.clearance_m(point, float(t), 0.36) == pytest.approx(brute - 0.36, abs=1e-12)


def test_empty_field_is_infinitely_far():
    assert ObstacleField([]).clearance_m((0.0, 0.0, 0.0), 0.0, 0.36) == math.inf


def test_scenario_mappings_become_specs():
    items = [
        {"type": "box", "center": [10, 0, 2], "size": [1, 4, 4], "yaw_deg": 0},
        {"type": "cylinder", "center": [20, 3], "radius": 0.4, "height": 12},
        {"type": "sphere", "center": [5, 5, 3], "radius": 0.5, "velocity_mps": [0, -1.5, 0]},
        {"type": "box", "size": [4.5, 1.8, 1.6], "path": [[0, 30, 0, 0.8], [5, 80, 0, 0.8]]},
        {
            "type": "forest",
            "area": [[0, -15], [80, 15]],
            "density_per_m2": 0.08,
            "radius": [0.15, 0.5],
            "height": 15,
        },
    ]
    specs = [obstacle_from_mapping(item) for item in items]
    assert specs[0] == BOX
    assert specs[1] == CYLINDER
    assert specs[2] == MOVING_SPHERE
    assert specs[3].position_at(2.5) == (55.0, 0.0, 0.8)
    assert specs[4] == FOREST


def test_unknown_obstacle_key_is_refused_naming_it():
    with pytest.raises(ValueError, match="colour"):
        obstacle_from_mapping({"type": "sphere", "center": [0, 0, 1], "radius": 1, "colour": 3})


# ---------------------------------------------------------------- simulator metrics
START_Z_M = 5.0
WIND_EAST_MPS = 4.0


def _drifting_sim(obstacles, wind_east_mps=WIND_EAST_MPS):
    """A quadrotor hovering open-loop (rotors spun up) that the wind pushes east."""
    pytest.importorskip("pybullet")
    from kestrel.airframe import REFERENCE_QUADROTOR
    from kestrel.geodesy import GeoOrigin
    from kestrel.messages import MotorCommand
    from kestrel.sim.quadrotor_sim import QuadrotorSim, SimVehicle
    from kestrel.sim.wind import WindConfig

    hover = REFERENCE_QUADROTOR.hover_thrust_normalized
    sim = QuadrotorSim(
        physics_hz=1000.0,
        seed=1,
        vehicles=[
            SimVehicle(
                "uav1", (0.0, 0.0, START_Z_M), 0.0, sensors=None, start_thrust_normalized=hover
            )
        ],
        wind=WindConfig(mean_enu_mps=(wind_east_mps, 0.0, 0.0)),
        obstacles=obstacles,
        origin=GeoOrigin(),
        ground_truth_hz=1000.0,  # _fly reads ground truth at every tick
    )
    command = MotorCommand(0.0, (hover,) * 4)
    return sim, command


def _fly(sim, command, duration_s):
    steps = round(duration_s * sim.physics_hz)
    truth = []
    for k in range(steps + 1):
        truth.append(sim.step(k / sim.physics_hz, **{"uav1/motors": command})["uav1/ground_truth"])
    return truth


def test_drifting_into_a_box_is_one_collision_episode_with_negative_clearance():
    # Given a wall 3.5 m downwind of a hovering quadrotor.
    wall = BoxObstacle(center_m=(4.0, 0.0, START_Z_M), size_m=(1.0, 4.0, 4.0))
    sim, command = _drifting_sim([wall])
    # When the wind pushes it into the wall and holds it there.
    truth = _fly(sim, command, 6.0)
    sim.close()
    # Then it stopped at the wall, and that is exactly one contact episode.
    assert truth[-1].position_enu_m[0] < 3.5
    assert max(s.position_enu_m[0] for s in truth) > 3.5 - 0.36 - 0.05
    metrics = sim.vehicle_metrics()["uav1"]
    assert metrics["collisions"] == 1
    assert metrics["min_clearance_m"] <= 0.0


def test_drifting_past_a_sphere_reports_the_closest_approach():
    # Given a sphere 2 m north of the drift line: closest approach 2 − 0.5 − body radius.
    from kestrel.airframe import REFERENCE_QUADROTOR

    sphere = SphereObstacle(center_m=(3.0, 2.0, START_Z_M), radius_m=0.5)
    sim, command = _drifting_sim([sphere])
    # When it drifts past (well beyond x = 3 m).
    truth = _fly(sim, command, 5.0)
    sim.close()
    assert truth[-1].position_enu_m[0] > 4.0
    # Then the metric is the exact closest approach, within the documented resolution.
    expected = 2.0 - 0.5 - REFERENCE_QUADROTOR.body_radius_m
    metrics = sim.vehicle_metrics()["uav1"]
    assert metrics["min_clearance_m"] == pytest.approx(expected, abs=max(0.01, 0.01 * expected))
    assert metrics["collisions"] == 0


def test_without_obstacles_min_clearance_is_absent():
    sim, command = _drifting_sim([])
    _fly(sim, command, 0.01)
    sim.close()
    assert sim.vehicle_metrics()["uav1"]["min_clearance_m"] is None
    assert sim.obstacle_snapshot(0.0) == []


def test_a_sphere_flying_past_is_tracked_where_it_is():
    # Given a hovering quadrotor (no wind) and a sphere flying east along y = 1.5 m.
    pb = pytest.importorskip("pybullet")
    from kestrel.airframe import REFERENCE_QUADROTOR

    passing = SphereObstacle(center_m=(-5.0, 1.5, START_Z_M), radius_m=0.5, velocity_mps=(5, 0, 0))
    sim, command = _drifting_sim([passing], wind_east_mps=0.0)
    # When it passes (closest at t = 1 s).
    _fly(sim, command, 2.0)
    # Then the PyBullet body and the snapshot are where the sphere is at 2 s, and the closest
    # approach is 1.5 − 0.5 − body radius.
    (moving_body,) = sim.world.moving_obstacle_ids
    position, _ = pb.getBasePositionAndOrientation(moving_body, physicsClientId=sim.world.client_id)
    sim.close()
    assert position == pytest.approx((5.0, 1.5, START_Z_M))
    assert sim.obstacle_snapshot(2.0)[0].center_m == pytest.approx((5.0, 1.5, START_Z_M))
    expected = 1.5 - 0.5 - REFERENCE_QUADROTOR.body_radius_m
    metrics = sim.vehicle_metrics()["uav1"]
    assert metrics["min_clearance_m"] == pytest.approx(expected, abs=max(0.01, 0.01 * expected))
    assert metrics["collisions"] == 0
