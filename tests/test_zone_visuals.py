"""Zones are visible: `kestrel run --out` draws them in run.png's top view and logs them once, at
t = 0, on `/airspace/zones` as a latched visualization_msgs/MarkerArray in `map`, styled by what
they mean for the vehicles (restricted red, inclusion green, not restricting grey)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.path import Path as MplPath
from rosbags.highlevel import AnyReader
from rosbags.interfaces import QosDurability

from kestrel.api import run
from kestrel.bag import ZONE_DISPLAY_HEIGHT_M, ZONE_RGB, ZONES_TOPIC, ZoneStyle, zone_drawings
from kestrel.geodesy import GeoOrigin
from kestrel.plot import altitude_limits, figure_run, view_limits, zone_patches
from kestrel.scenario import load_scenario
from kestrel.stack import vehicle_airspace

ORIGIN = GeoOrigin(47.0, 8.0, 400.0)
CIRCLE_CENTRE_DEG = (47.0006, 8.0)  # about 67 m north of the origin
CIRCLE_RADIUS_M = 20.0
CIRCLE_FLOOR_M = 20.0
CEILING_M = 120.0
OPS_CORNERS_DEG = [(46.999, 7.9985), (47.001, 7.9985), (47.001, 8.0015), (46.999, 8.0015)]
PARK_CORNERS_DEG = [(46.9993, 8.0006), (46.9996, 8.0006), (46.9996, 8.0010), (46.9993, 8.0010)]
PARK_HOLE_DEG = [(46.9994, 8.0007), (46.9995, 8.0007), (46.9995, 8.0009), (46.9994, 8.0009)]
PARK_FLOOR_M, PARK_CEILING_M = 100.0, 150.0
FIR_HALF_DEG = 0.05  # a zone-file-sized volume: about 11 km × 7.6 km around the origin
MARKER_CYLINDER, MARKER_LINE_LIST = 3, 5


def _latlon(corners: list[tuple[float, float]]) -> str:
    return "[" + ", ".join(f"[{lat}, {lon}]" for lat, lon in corners) + "]"


def _scenario_text(vehicles: str) -> str:
    lat, lon = CIRCLE_CENTRE_DEG
    fir = [
        (47.0 - FIR_HALF_DEG, 8.0 - FIR_HALF_DEG),
        (47.0 + FIR_HALF_DEG, 8.0 - FIR_HALF_DEG),
        (47.0 + FIR_HALF_DEG, 8.0 + FIR_HALF_DEG),
        (47.0 - FIR_HALF_DEG, 8.0 + FIR_HALF_DEG),
    ]
    return f"""
name: zone-visuals
seed: 7
duration_s: 3
world:
  origin: {{lat_deg: {ORIGIN.lat_deg}, lon_deg: {ORIGIN.lon_deg}, alt_m: {ORIGIN.alt_m}}}
  zones:
    - {{id: tfr-1, kind: exclusion, action: require_authorisation,
       circle: {{center_deg: [{lat}, {lon}], radius_m: {CIRCLE_RADIUS_M}}},
       lower_m: {CIRCLE_FLOOR_M}, upper_m: {CEILING_M}, ref: AGL}}
    - {{id: ops-area, kind: inclusion, polygon_deg: {_latlon(OPS_CORNERS_DEG)},
       lower_m: 0, upper_m: {CEILING_M}, ref: AGL}}
    - {{id: park, kind: exclusion, action: warn, polygon_deg: {_latlon(PARK_CORNERS_DEG)},
       holes_deg: [{_latlon(PARK_HOLE_DEG)}],
       lower_m: {PARK_FLOOR_M}, upper_m: {PARK_CEILING_M}, ref: AGL}}
    - {{id: fir-1, kind: exclusion, action: warn, polygon_deg: {_latlon(fir)}}}
vehicles:
{vehicles}
"""


ONE_HOVERING_VEHICLE = """
  - id: uav1
    type: quadrotor
    mission: {takeoff_alt_m: 5, then: hover}
"""

TWO_VEHICLES_ONE_AUTHORISED = """
  - id: uav1
    type: quadrotor
    authorisations: [tfr-1]
    mission: {takeoff_alt_m: 5, then: hover}
  - id: uav2
    type: quadrotor
    start: {position: [5, 0, 0]}
    mission: {takeoff_alt_m: 5, then: hover}
"""


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _enu_xy(lat: float, lon: float) -> np.ndarray:
    return np.array(ORIGIN.geographic_to_enu(lat, lon, ORIGIN.alt_m)[:2])


@pytest.fixture(scope="module")
def zone_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zones")
    path = folder / "zone-visuals.yaml"
    path.write_text(_scenario_text(ONE_HOVERING_VEHICLE))
    result = run(path, out=folder / "out")
    scenario = load_scenario(path)
    drawings = zone_drawings([vehicle_airspace(scenario, scenario.vehicles[0]).volumes])
    return result, drawings


@pytest.fixture(scope="module")
def zone_markers(zone_run):
    result, _ = zone_run
    with AnyReader([result.out_dir / "log"]) as reader:
        (connection,) = [c for c in reader.connections if c.topic == ZONES_TOPIC]
        messages = [
            (t_ns, reader.deserialize(raw, c.msgtype))
            for c, t_ns, raw in reader.messages(connections=[connection])
        ]
    return connection, messages


def _markers_of(zone_markers, identifier: str) -> list:
    _, messages = zone_markers
    return [m for m in messages[0][1].markers if m.ns == identifier]


def test_zones_are_logged_once_at_start_as_a_latched_marker_array_in_map(zone_markers):
    # Given a run of a scenario with four inline zones
    connection, messages = zone_markers
    # Then /airspace/zones holds one MarkerArray, at t = 0, offered transient-local
    assert connection.msgtype == "visualization_msgs/msg/MarkerArray"
    assert [t_ns for t_ns, _ in messages] == [0]
    durabilities = {q.durability for q in connection.ext.offered_qos_profiles}
    assert durabilities == {QosDurability.TRANSIENT_LOCAL}
    markers = messages[0][1].markers
    # one marker per volume part, namespaced by zone identifier, ids unique, all in `map`
    assert sorted(m.ns for m in markers) == sorted(["tfr-1", "ops-area", "park", "fir-1"])
    assert len({m.id for m in markers}) == len(markers)
    assert {m.header.frame_id for m in markers} == {"map"}


def test_polygon_zone_marker_outlines_its_corners_at_floor_and_ceiling(zone_markers):
    # Given the ops-area polygon, 0–120 m AGL
    (marker,) = _markers_of(zone_markers, "ops-area")
    corners = np.array([_enu_xy(lat, lon) for lat, lon in OPS_CORNERS_DEG])
    # Then it is a line prism whose vertices are exactly the corners in ENU (within 1 cm) …
    assert marker.type == MARKER_LINE_LIST
    points = np.array([(p.x, p.y, p.z) for p in marker.points])
    assert len(points) % 2 == 0
    to_corner = np.linalg.norm(points[:, None, :2] - corners[None, :, :], axis=2)
    assert to_corner.min(axis=1).max() < 0.01
    # … drawn at the floor and at the ceiling
    assert set(np.round(points[:, 2], 9)) == {0.0, CEILING_M}
    for z in (0.0, CEILING_M):
        level = to_corner[points[:, 2] == z]
        assert level.min(axis=0).max() < 0.01  # every corner appears at this height


def test_polygon_hole_is_outlined_too(zone_markers):
    (marker,) = _markers_of(zone_markers, "park")
    hole = np.array([_enu_xy(lat, lon) for lat, lon in PARK_HOLE_DEG])
    points = np.array([(p.x, p.y) for p in marker.points])
    gaps = np.linalg.norm(points[:, None, :] - hole[None, :, :], axis=2).min(axis=0)
    assert gaps.max() < 0.01


def test_circle_zone_marker_is_a_cylinder_of_the_zone_radius_and_limits(zone_markers):
    (marker,) = _markers_of(zone_markers, "tfr-1")
    centre = _enu_xy(*CIRCLE_CENTRE_DEG)
    assert marker.type == MARKER_CYLINDER
    assert (marker.scale.x, marker.scale.y) == pytest.approx((2 * CIRCLE_RADIUS_M,) * 2)
    assert marker.scale.z == pytest.approx(CEILING_M - CIRCLE_FLOOR_M)
    position = marker.pose.position
    assert math.hypot(position.x - centre[0], position.y - centre[1]) < 0.01
    assert position.z == pytest.approx((CIRCLE_FLOOR_M + CEILING_M) / 2)


def test_unbounded_zone_is_drawn_from_the_ground_to_the_display_height(zone_markers):
    # Given fir-1 with no vertical limits (surface to unlimited)
    (marker,) = _markers_of(zone_markers, "fir-1")
    heights = {round(p.z, 9) for p in marker.points}
    assert heights == {0.0, ZONE_DISPLAY_HEIGHT_M}


def test_zones_are_styled_by_what_they_mean_for_the_vehicle(zone_run, zone_markers):
    _, drawings = zone_run
    styles = {d.identifier: d.style for d in drawings}
    # tfr-1 needs an authorisation uav1 lacks; park and fir-1 only warn
    assert styles == {
        "tfr-1": ZoneStyle.RESTRICTED,
        "ops-area": ZoneStyle.INCLUSION,
        "park": ZoneStyle.ADVISORY,
        "fir-1": ZoneStyle.ADVISORY,
    }
    for identifier, style in styles.items():
        (marker,) = _markers_of(zone_markers, identifier)
        rgb = (marker.color.r, marker.color.g, marker.color.b)
        assert rgb == pytest.approx(ZONE_RGB[style], abs=1e-6)


def test_a_zone_restricting_only_some_vehicles_is_drawn_as_mixed(tmp_path):
    # Given two vehicles of which only uav1 is authorised for tfr-1
    path = tmp_path / "two.yaml"
    path.write_text(_scenario_text(TWO_VEHICLES_ONE_AUTHORISED))
    scenario = load_scenario(path)
    views = [vehicle_airspace(scenario, v).volumes for v in scenario.vehicles]
    # When the scenario's zones are styled once for both
    styles = {d.identifier: d.style for d in zone_drawings(views)}
    # Then tfr-1 restricts some vehicles only; the others mean the same for both
    assert styles["tfr-1"] is ZoneStyle.MIXED
    assert styles["ops-area"] is ZoneStyle.INCLUSION
    assert styles["park"] is ZoneStyle.ADVISORY


def test_run_png_is_written(zone_run):
    result, _ = zone_run
    png = (result.out_dir / "run.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_zone_patches_are_one_per_volume_part_labelled_with_the_identifier(zone_run):
    _, drawings = zone_run
    found = zone_patches(drawings)
    assert [p.get_label() for p in found] == ["tfr-1", "ops-area", "park", "fir-1"]
    park = found[2]
    # the park's hole is its own sub-path, wound against the exterior so that matplotlib's
    # non-zero fill rule leaves it empty
    assert list(park.get_path().codes).count(MplPath.MOVETO) == 2
    exterior, hole = park.get_path().to_polygons()
    assert _signed_area(exterior) > 0.0 > _signed_area(hole)
    hole_corners = np.array([_enu_xy(lat, lon) for lat, lon in PARK_HOLE_DEG])
    gaps = np.linalg.norm(hole[:, None, :] - hole_corners[None, :, :], axis=2)
    assert gaps.min(axis=1).max() < 0.01


def test_run_figure_draws_every_zone_framed_on_the_flight_not_the_zone_file(zone_run):
    # Given the run, whose fir-1 zone spans about 11 km around a hover at the origin
    result, drawings = zone_run
    fig = figure_run(title="t", traces=result.traces, obstacles=[], zones=drawings)
    top = fig.axes[0]
    fig.canvas.draw()  # applies the equal aspect
    # Then the top view holds one patch per zone part, each labelled: on its edge where the
    # edge is in view, in the corner for the zone around the whole view
    labels = sorted(p.get_label() for p in top.patches)
    assert labels == sorted(["tfr-1", "ops-area", "park", "fir-1"])
    texts = sorted(t.get_text() for t in top.texts)
    assert texts == sorted(["tfr-1", "ops-area", "park", "within: fir-1"])
    # and is framed on the flight and the zones near it, not on the 11 km zone
    x0, x1 = top.get_xlim()
    y0, y1 = top.get_ylim()
    ops = np.array([_enu_xy(lat, lon) for lat, lon in OPS_CORNERS_DEG])
    assert x0 <= ops[:, 0].min()
    assert x1 >= ops[:, 0].max()
    assert y0 <= ops[:, 1].min()
    assert y1 >= ops[:, 1].max()
    assert max(x1 - x0, y1 - y0) < 1000.0
    # and the altitude view marks tfr-1's 20 m floor, 47 m from the hover spot
    altitude = fig.axes[1]
    assert [t.get_text() for t in altitude.texts] == ["tfr-1 floor"]
    assert CIRCLE_FLOOR_M in [line.get_ydata()[0] for line in altitude.get_lines()]


def test_view_limits_pad_the_trajectory_and_take_in_only_nearby_zones():
    track = np.array([[0.0, 0.0], [100.0, 10.0]])
    near = (-150.0, -50.0, 120.0, 60.0)
    far = (-5000.0, -5000.0, 5000.0, 5000.0)
    # padding: max(50 m, 20 % of the extent) per axis
    assert view_limits(track) == pytest.approx((-50.0, -50.0, 150.0, 60.0))
    assert view_limits(track, [near, far]) == pytest.approx((-150.0, -50.0, 150.0, 60.0))
    assert view_limits(np.zeros((0, 2)), [near]) is None


def test_altitude_view_shows_limits_of_zones_near_the_flight_at_nearby_heights(zone_run):
    _, drawings = zone_run
    at_origin = np.array([[0.0, 0.0]])
    # Flying 90–110 m over the origin: the 120 m ceilings of ops-area (inside) and tfr-1 (47 m
    # away) matter; park's 100–150 m is 64 m away; fir-1 has no finite limit
    drawn = {
        (z.identifier, which, h) for z, which, h in altitude_limits(drawings, at_origin, (90, 110))
    }
    assert drawn == {("ops-area", "ceiling", CEILING_M), ("tfr-1", "ceiling", CEILING_M)}
    # Hovering at 5 m, a 120 m ceiling is not worth stretching the plot for; a 20 m floor is
    drawn = {
        (z.identifier, which, h) for z, which, h in altitude_limits(drawings, at_origin, (0, 5))
    }
    assert drawn == {("tfr-1", "floor", CIRCLE_FLOOR_M)}
