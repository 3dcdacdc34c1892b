"""Routing around keep-out areas (kestrel.planning.routing): legality, optimality, errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import shapely
from shapely.geometry import Point, Polygon, box

from kestrel.planning.routing import (
    KeepOutVolume,
    RoutingError,
    RoutingParams,
    find_route,
    route_around,
    route_waypoints,
)


def path_length(path: list[tuple[float, ...]]) -> float:
    return sum(math.dist(a, b) for a, b in itertools.pairwise(path))


def segment_clearances(path_xy: list[tuple[float, float]], shape: Polygon) -> list[float]:
    """Distance from each straight segment of the path to the shape."""
    return [shape.distance(shapely.LineString([a, b])) for a, b in itertools.pairwise(path_xy)]


def around_circle_length(start, goal, radius_m: float) -> float:
    """Shortest path between two points on opposite sides of a disc at the origin (by hand):
    tangent, arc, tangent. Valid when the straight line crosses the disc."""
    d_start, d_goal = math.hypot(*start), math.hypot(*goal)
    tangents = math.sqrt(d_start**2 - radius_m**2) + math.sqrt(d_goal**2 - radius_m**2)
    between = math.acos(np.dot(start, goal) / (d_start * d_goal))
    arc = between - math.acos(radius_m / d_start) - math.acos(radius_m / d_goal)
    return tangents + radius_m * arc


# ----------------------------------------------------------------------------- route_around


def test_straight_leg_clear_of_everything_is_unchanged():
    # Given a square well north of the leg
    keep_out = [box(-10.0, 50.0, 10.0, 70.0)]
    start, goal = (-100.0, 0.0), (100.0, 0.0)
    # When routed with a clearance smaller than the distance (50 m) to the square
    path = route_around(start, goal, keep_out, clearance_m=10.0)
    # Then the leg is flown straight
    assert path == [start, goal]


def test_leg_through_a_circle_goes_around_at_the_clearance_and_near_the_shortest_length():
    # Given a circular zone of radius R on the straight line from start to goal
    radius_m, clearance_m = 20.0, 5.0
    circle = Point(0.0, 0.0).buffer(radius_m)
    start, goal = (-100.0, 0.0), (100.0, 10.0)
    # When routed
    path = route_around(start, goal, [circle], clearance_m)
    # Then it starts and ends at the given points and bends around the circle
    assert path[0] == start
    assert path[-1] == goal
    assert len(path) > 2
    # And every segment stays at least the clearance from the original circle
    assert min(segment_clearances(path, circle)) >= clearance_m
    # And it is at most a few % longer than tangent–arc–tangent around radius R + clearance,
    # never shorter (that is the exact optimum)
    optimum_m = around_circle_length(start, goal, radius_m + clearance_m)
    assert optimum_m * (1.0 - 1e-3) <= path_length(path) <= optimum_m * 1.02


def test_goal_in_the_far_side_of_a_u_shaped_pocket_is_reached_over_an_arm():
    # Given a U open to the north: walls 30 m thick around a pocket x ∈ [30, 70], y ≥ 30
    u_shape = box(0.0, 0.0, 100.0, 100.0).difference(box(30.0, 30.0, 70.0, 110.0))
    clearance_m = 5.0
    start, goal = (50.0, -50.0), (50.0, 40.0)  # south of the U; deep in the pocket
    # When routed
    path = route_around(start, goal, [u_shape], clearance_m)
    # Then the path clears the U everywhere and climbs above the arms' tops to get in
    assert min(segment_clearances(path, u_shape)) >= clearance_m
    assert max(y for _, y in path) >= 100.0 + clearance_m
    # And it is no longer than the square-cornered detour around an arm (both are alike by
    # symmetry) start → (−5, −5) → (−5, 105) → (35, 105) → goal, a legal path at exactly the
    # clearance, and not much shorter: rounding its three corners saves about 3·(2 − π/2)·c
    square_cornered = [start, (-5.0, -5.0), (-5.0, 105.0), (35.0, 105.0), goal]
    assert path_length(square_cornered) - 8.0 <= path_length(path) <= path_length(square_cornered)


def test_overlapping_polygons_are_avoided_as_one_wall_around_its_nearer_end():
    # Given two overlapping rectangles forming one north–south wall from y = −50 to y = 80
    south, north = box(-10.0, -50.0, 10.0, 10.0), box(-10.0, 0.0, 10.0, 80.0)
    clearance_m = 5.0
    start, goal = (-60.0, 0.0), (60.0, 0.0)
    # When routed
    path = route_around(start, goal, [south, north], clearance_m)
    # Then it keeps the clearance from both and goes around the nearer (southern) end
    assert min(segment_clearances(path, south)) >= clearance_m
    assert min(segment_clearances(path, north)) >= clearance_m
    assert min(y for _, y in path) <= -50.0 - clearance_m
    assert max(y for _, y in path) == 0.0


def test_polygon_with_a_hole_is_passed_outside_when_start_and_goal_are_outside():
    # Given a square annulus (the hole is free space but enclosed)
    annulus = Polygon(
        [(-50, -50), (50, -50), (50, 50), (-50, 50)], [[(-30, -30), (30, -30), (30, 30), (-30, 30)]]
    )
    clearance_m = 5.0
    start, goal = (-100.0, 0.0), (100.0, 0.0)
    # When routed
    path = route_around(start, goal, [annulus], clearance_m)
    # Then it goes around the outside, never through the hole, clear of the annulus
    assert min(segment_clearances(path, annulus)) >= clearance_m
    assert max(abs(y) for _, y in path) >= 50.0 + clearance_m
    hole = box(-30.0, -30.0, 30.0, 30.0)
    assert not shapely.LineString(path).intersects(hole)


def test_start_and_goal_inside_a_hole_are_routed_within_it_around_an_island():
    # Given a square annulus whose hole holds an island between start and goal
    annulus = Polygon(
        [(-50, -50), (50, -50), (50, 50), (-50, 50)], [[(-30, -30), (30, -30), (30, 30), (-30, 30)]]
    )
    island = box(-5.0, -5.0, 5.0, 5.0)
    clearance_m = 2.0
    start, goal = (-20.0, 0.0), (20.0, 0.0)
    # When routed
    path = route_around(start, goal, [annulus, island], clearance_m)
    # Then the path stays in the hole, clear of the annulus and the island
    assert min(segment_clearances(path, annulus)) >= clearance_m
    assert min(segment_clearances(path, island)) >= clearance_m
    assert len(path) > 2


def test_start_just_beyond_the_clearance_is_routed_from_where_it_stands():
    # Given a start only 5 cm farther than the clearance from a circle (inside the routing
    # margin, where no vertex of the inflated circle is in its sight) and a goal behind it
    radius_m, clearance_m = 20.0, 5.0
    circle = Point(0.0, 0.0).buffer(radius_m)
    start, goal = (-(radius_m + clearance_m + 0.05), 0.0), (100.0, 0.0)
    # When routed
    path = route_around(start, goal, [circle], clearance_m)
    # Then the route leaves from the start itself, keeps the clearance and is near the optimum
    assert path[0] == start
    assert path[-1] == goal
    assert min(segment_clearances(path, circle)) >= clearance_m
    optimum_m = around_circle_length(start, goal, radius_m + clearance_m)
    assert optimum_m * (1.0 - 1e-3) <= path_length(path) <= optimum_m * 1.02


def test_route_is_the_shorter_of_the_two_ways_around_two_squares():
    # Given two 20 m squares side by side whose 10 m gap is closed by the clearance (2·6 m)
    left, right = box(-25.0, -10.0, -5.0, 10.0), box(5.0, -10.0, 25.0, 10.0)
    clearance_m = 6.0
    start, goal = (-8.0, -50.0), (-8.0, 50.0)

    def around_the_end(corner_x: float, r: float) -> float:
        """By hand: tangent to the grown corner at (corner_x, −10), arc to heading north, 20 m
        north along the side, then the mirror image up to the goal (start/goal symmetric)."""
        dx, dy = corner_x - start[0], -10.0 - start[1]
        d = math.hypot(dx, dy)
        heading = math.atan2(dy, dx)
        turn = abs(heading + math.copysign(math.asin(r / d), -corner_x) - math.pi / 2)
        return 2.0 * (math.sqrt(d * d - r * r) + r * turn) + 20.0

    west_m = around_the_end(-25.0, clearance_m)
    east_m = around_the_end(25.0, clearance_m)
    # When routed
    path = route_around(start, goal, [left, right], clearance_m)
    length_m = path_length(path)
    # Then it takes the western way, between the exact optimum at the clearance and the same
    # way with 1 m more clearance (the routing margin is below 1 m), shorter than the east way
    assert west_m < east_m
    assert all(x < -5.0 for x, _ in path[1:-1])
    assert west_m * (1.0 - 1e-6) <= length_m <= around_the_end(-25.0, clearance_m + 1.0)
    assert length_m < east_m


def test_start_within_the_clearance_of_a_polygon_is_refused():
    # Given a start 3 m from a square and a 5 m clearance
    square = box(0.0, 0.0, 10.0, 10.0)
    # When routed, Then RoutingError says which end and which polygon
    with pytest.raises(RoutingError, match=r"start .* within 5\.0 m of keep_out\[0\]"):
        route_around((-3.0, 5.0), (50.0, 5.0), [square], 5.0)


def test_goal_enclosed_by_overlapping_polygons_is_refused():
    # Given four overlapping bars forming a closed frame around the goal
    frame = [
        box(-40.0, -40.0, 40.0, -30.0),
        box(-40.0, 30.0, 40.0, 40.0),
        box(-40.0, -40.0, -30.0, 40.0),
        box(30.0, -40.0, 40.0, 40.0),
    ]
    # When routed from outside to the frame's middle, Then no path exists
    with pytest.raises(RoutingError, match="goal is enclosed"):
        route_around((-100.0, 0.0), (0.0, 0.0), frame, 5.0)


def test_routing_is_deterministic():
    # Given a random field of circles and squares
    rng = np.random.default_rng(3)
    keep_out = [
        Point(*rng.uniform(-200.0, 200.0, 2)).buffer(rng.uniform(10.0, 40.0)) for _ in range(6)
    ] + [box(x, y, x + 30.0, y + 30.0) for x, y in rng.uniform(-200.0, 170.0, (4, 2))]
    # When the same leg is routed twice
    first = find_route((-300.0, -20.0), (300.0, 30.0), keep_out, 8.0)
    second = find_route((-300.0, -20.0), (300.0, 30.0), keep_out, 8.0)
    # Then the answers are identical
    assert first == second
    assert first.graph_nodes > 0


# ----------------------------------------------------------------------------- route_waypoints


CIRCLE_ZONE = Point(0.0, 0.0).buffer(30.0)


def volume(floor_z_m: float, ceiling_z_m: float, name="TFR", identifier="TFR-1") -> KeepOutVolume:
    return KeepOutVolume(CIRCLE_ZONE, floor_z_m, ceiling_z_m, name, identifier)


def test_volumes_above_and_below_the_leg_band_are_ignored():
    # Given a level leg at 50 m through the footprint of two volumes, one with its floor the
    # clearance above the leg, one with its ceiling the clearance below (touching is legal)
    clearance_m = 5.0
    points = [(-100.0, 0.0, 50.0), (100.0, 0.0, 50.0)]
    above, below = volume(55.0, 200.0), volume(0.0, 45.0)
    # When routed
    routed = route_waypoints(points, [above, below], clearance_m)
    # Then the leg is unchanged
    assert routed == points
    # But a volume reaching into the band by 0.1 m is avoided
    assert len(route_waypoints(points, [volume(54.9, 200.0)], clearance_m)) > 2


def test_via_points_take_altitudes_interpolated_by_path_length_between_the_leg_ends():
    # Given a climbing leg (10 m → 30 m) through a volume spanning all of its altitudes
    a, b = (-100.0, 0.0, 10.0), (100.0, 5.0, 30.0)
    points = [a, b, (150.0, 5.0, 30.0)]
    # When routed
    routed = route_waypoints(points, [volume(0.0, 100.0)], 5.0)
    # Then the original waypoints are kept in order and via-points are inserted on leg 0 only
    assert routed[0] == a
    assert routed[-2:] == points[1:]
    vias = routed[1:-2]
    assert vias
    # And each via-point's altitude is the leg's altitude at its distance along the routed leg
    xy = [p[:2] for p in routed[:-1]]
    run = np.concatenate([[0.0], np.cumsum([math.dist(p, q) for p, q in itertools.pairwise(xy)])])
    expected_z = a[2] + (b[2] - a[2]) * run / run[-1]
    assert [p[2] for p in routed[:-1]] == pytest.approx(expected_z.tolist(), abs=1e-9)
    assert all(a[2] < z < b[2] for _, _, z in vias)
    # And the routed leg clears the zone's footprint horizontally
    assert min(segment_clearances(xy, CIRCLE_ZONE)) >= 5.0


def test_waypoint_inside_a_zone_names_its_index_the_zone_and_its_identifier():
    # Given waypoint 2 inside the footprint and altitude band of a zone
    zone = KeepOutVolume(CIRCLE_ZONE, 0.0, 150.0, "Airport CTR", "LSGG-CTR")
    points = [(-100.0, 0.0, 20.0), (-100.0, 80.0, 20.0), (10.0, 0.0, 20.0)]
    # When routed, Then RoutingError names the waypoint and the zone
    with pytest.raises(RoutingError, match=r"waypoint 2 is inside zone 'Airport CTR' \(LSGG-CTR\)"):
        route_waypoints(points, [zone], 5.0)


def test_waypoint_under_a_zone_with_a_leg_climbing_into_it_is_refused():
    # Given a start under a zone's floor and a leg climbing above the floor elsewhere
    zone = KeepOutVolume(CIRCLE_ZONE, 60.0, 150.0, "Stadium", "TFR-7")
    points = [(0.0, 0.0, 10.0), (100.0, 0.0, 80.0)]
    # When routed, Then RoutingError says which waypoint is below which zone
    with pytest.raises(RoutingError, match=r"waypoint 0 is below zone 'Stadium' \(TFR-7\)"):
        route_waypoints(points, [zone], 5.0)


def test_leg_with_no_route_names_the_leg():
    # Given a goal waypoint enclosed by a zone with a hole (at the zone's altitudes)
    ring = Point(0.0, 0.0).buffer(60.0).difference(Point(0.0, 0.0).buffer(30.0))
    zone = KeepOutVolume(ring, 0.0, 100.0, "Ring", "R-1")
    points = [(-100.0, 0.0, 20.0), (0.0, 0.0, 20.0)]
    # When routed, Then the error names the leg
    with pytest.raises(RoutingError, match=r"leg 0→1: .*goal is enclosed"):
        route_waypoints(points, [zone], 5.0)


def test_bad_inputs_are_refused_naming_the_field():
    with pytest.raises(ValueError, match="quad_segs"):
        RoutingParams(quad_segs=1)
    with pytest.raises(ValueError, match="clearance_m"):
        route_around((0.0, 0.0), (1.0, 0.0), [], float("nan"))
    with pytest.raises(ValueError, match="goal_xy"):
        route_around((0.0, 0.0), (float("inf"), 0.0), [], 1.0)


def test_keep_out_volume_refuses_floor_above_ceiling_and_invalid_polygons():
    with pytest.raises(ValueError, match="floor_z_m"):
        KeepOutVolume(CIRCLE_ZONE, 100.0, 50.0, "Z", "Z-1")
    bowtie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    with pytest.raises(ValueError, match="not a valid polygon"):
        KeepOutVolume(bowtie, 0.0, 50.0, "Z", "Z-1")
