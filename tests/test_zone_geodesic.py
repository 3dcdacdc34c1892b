"""Geodesic point queries (kestrel.planning.airspace.geodesic) against independent references.

Every expected distance comes from a brute-force reference built only from pyproj: each geodesic
edge is sampled every few metres with `Geod.inv_intermediate`, the samples nearest the point are
re-sampled every 2 cm, and the smallest `Geod.inv` distance wins. The module under test must
agree within 0.5 m (the contract in SCENARIOS.md / the CLI schema) — near short and 24 km edges,
inside and outside, near holes, for multipolygons, circles and far points — and must not agree
with a naive straight-line-in-lon/lat polygon where the two differ. Vertical limits (feet, flight
levels, AGL with ground elevation, WGS84 with geoid undulation, unbounded) and schedules are
checked through `query_point`.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, time
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer

from kestrel.planning.airspace.geodesic import (
    ARC_FORMULA_MAX_M,
    GeodesicZoneIndex,
    arc_length_from_chord_m,
    query_point,
    shape_boundary_distance_m,
    shape_contains,
)
from kestrel.planning.airspace.model import (
    Applicability,
    CircleShape,
    DailySlot,
    LatLon,
    Limit,
    MultiPolygonShape,
    Period,
    PolygonShape,
    Reference,
    Restriction,
    Volume,
    Zone,
    length_to_m,
)

GEOD = Geod(ellps="WGS84")
TOLERANCE_M = 0.5
"""The accuracy the geodesic module promises for boundary distances."""
THIRD_PARTY = Path(__file__).resolve().parents[2] / "shared" / "zones" / "third-party"
WHEN = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)

# A 24 km east-west edge at 52.5° N (the length of OpenAIP's Nordhorn edges): the geodesic between
# its end points bulges north of the constant-latitude line by L²·tan φ / (8 R) ≈ 15 m.
SOUTH_LAT = 52.5
WEST_LON = 7.0
EAST_LON = 7.3555
NORTH_LAT = 52.6
LONG_EDGE_BOX = PolygonShape(
    ((SOUTH_LAT, WEST_LON), (SOUTH_LAT, EAST_LON), (NORTH_LAT, EAST_LON), (NORTH_LAT, WEST_LON))
)


# -- references (pyproj only) ------------------------------------------------------------------


def _edge_samples(lat1: float, lon1: float, lat2: float, lon2: float, step_m: float):
    line = GEOD.inv_intermediate(
        lon1, lat1, lon2, lat2, del_s=step_m, initial_idx=0, terminus_idx=0,
        return_back_azimuth=True,
    )  # fmt: skip
    return np.array(line.lats), np.array(line.lons)


def _distances(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    n = lats.size
    _, _, d = GEOD.inv(np.full(n, lon), np.full(n, lat), lons, lats, return_back_azimuth=True)
    return np.asarray(d)


def reference_distance_m(rings: list[tuple[LatLon, ...]], lat: float, lon: float) -> float:
    """Brute force: sample every geodesic edge every 5 m, then re-sample every 2 cm between the
    neighbours of the nearest sample of each edge that comes within 10 m of the best."""
    per_edge = []
    for ring in rings:
        for (lat1, lon1), (lat2, lon2) in zip(ring, ring[1:] + ring[:1], strict=True):
            lats, lons = _edge_samples(lat1, lon1, lat2, lon2, 5.0)
            d = _distances(lat, lon, lats, lons)
            k = int(np.argmin(d))
            per_edge.append((float(d[k]), lats, lons, k))
    best = min(e[0] for e in per_edge)
    for d_min, lats, lons, k in per_edge:
        if d_min > best + 10.0:
            continue
        i, j = max(k - 1, 0), min(k + 1, lats.size - 1)
        fine_lats, fine_lons = _edge_samples(lats[i], lons[i], lats[j], lons[j], 0.02)
        best = min(best, float(_distances(lat, lon, fine_lats, fine_lons).min()))
    return best


def offset_point(lat: float, lon: float, azimuth_deg: float, distance_m: float) -> LatLon:
    lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth_deg, distance_m, return_back_azimuth=True)
    return float(lat2), float(lon2)


def geodesic_midpoint(a: LatLon, b: LatLon) -> LatLon:
    az, _, length = GEOD.inv(a[1], a[0], b[1], b[0], return_back_azimuth=True)
    return offset_point(a[0], a[1], az, length / 2.0)


def naive_lonlat_polygon(shape: PolygonShape) -> shapely.Polygon:
    """What a flat reading of the file would do: straight edges in (lon, lat)."""
    return shapely.Polygon(
        [(lon, lat) for lat, lon in shape.exterior],
        [[(lon, lat) for lat, lon in hole] for hole in shape.holes],
    )


def zone(volumes: tuple[Volume, ...], applicability: Applicability | None = None) -> Zone:
    return Zone(
        index=0,
        identifier="TEST-1",
        name="test zone",
        restriction=Restriction.PROHIBITED,
        volumes=volumes,
        applicability=applicability or Applicability(),
    )


def _read_geojson_polygons(relative: str) -> list[PolygonShape]:
    path = THIRD_PARTY / relative
    if not path.exists():
        pytest.skip(f"third-party zone file {relative} is absent")
    doc = json.loads(path.read_text(encoding="utf-8-sig"))
    shapes = []
    for feature in doc["features"]:
        rings = [
            tuple((lat, lon) for lon, lat in ring[:-1])
            for ring in feature["geometry"]["coordinates"]
        ]
        shapes.append(PolygonShape(rings[0], tuple(rings[1:])))
    return shapes


# -- long edges: geodesic, not straight in lon/lat ---------------------------------------------


def test_point_between_lonlat_line_and_geodesic_is_outside_and_measured_to_the_geodesic() -> None:
    # Given the box whose south edge is 24 km long, and a point 2 m north of the straight
    # lon/lat line at the edge's middle (so a naive lon/lat polygon says "inside")
    mid_lat, mid_lon = geodesic_midpoint(
        (SOUTH_LAT, WEST_LON), (SOUTH_LAT, EAST_LON)
    )  # the geodesic's own midpoint, north of 52.5°
    lat, lon = offset_point(SOUTH_LAT, mid_lon, 0.0, 2.0)
    assert mid_lat > lat  # the geodesic passes north of the point
    naive_inside = shapely.contains_xy(naive_lonlat_polygon(LONG_EDGE_BOX), lon, lat)
    # When asked with geodesic edges
    inside = shape_contains(LONG_EDGE_BOX, lat, lon)
    distance = shape_boundary_distance_m(LONG_EDGE_BOX, lat, lon)
    # Then the point is outside, at its distance from the geodesic (≈ 15 m − 2 m), not ≈ 2 m
    expected = reference_distance_m([LONG_EDGE_BOX.exterior], lat, lon)
    assert naive_inside
    assert not inside
    assert distance == pytest.approx(expected, abs=TOLERANCE_M)
    naive_distance = GEOD.inv(lon, lat, lon, SOUTH_LAT, return_back_azimuth=True)[2]
    assert abs(naive_distance - expected) > 10.0


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.77])
@pytest.mark.parametrize("offset_m", [-40.0, -3.0, -0.02, 0.02, 0.7, 12.0, 250.0])
def test_distance_to_a_24_km_edge_matches_dense_geodesic_sampling(
    fraction: float, offset_m: float
) -> None:
    # Given a point offset north (+, into the box) or south (−) of a point on the long geodesic
    # edge, at `fraction` of its length
    az, _, length = GEOD.inv(WEST_LON, SOUTH_LAT, EAST_LON, SOUTH_LAT, return_back_azimuth=True)
    on_lat, on_lon = offset_point(SOUTH_LAT, WEST_LON, az, fraction * length)
    lat, lon = offset_point(on_lat, on_lon, 0.0 if offset_m > 0 else 180.0, abs(offset_m))
    # When measured
    distance = shape_boundary_distance_m(LONG_EDGE_BOX, lat, lon)
    # Then it matches the brute-force geodesic distance, and the side follows the offset
    assert distance == pytest.approx(
        reference_distance_m([LONG_EDGE_BOX.exterior], lat, lon), abs=TOLERANCE_M
    )
    assert shape_contains(LONG_EDGE_BOX, lat, lon) == (offset_m > 0)


def test_openaip_nordhorn_long_edges_match_dense_sampling_where_lonlat_lines_do_not() -> None:
    # Given the real OpenAIP polygon (a densified arc plus 13–24 km straight edges)
    (nordhorn,) = _read_geojson_polygons("openaip/openaip-arc-ccw-result.geojson")
    a, b = (52.68333, 7.25278), (52.7175, 7.06361)  # its 13 km, nearly east-west edge
    mid_lat, mid_lon = geodesic_midpoint(a, b)
    naive_lat = (a[0] + b[0]) / 2.0  # the straight lon/lat line at the same longitude
    gap_m = GEOD.inv(mid_lon, mid_lat, mid_lon, naive_lat, return_back_azimuth=True)[2]
    assert gap_m > 1.0  # the geodesic and the lon/lat line differ by metres here
    # When asking at points around that edge and along the 24 km one
    points = [
        offset_point(mid_lat, mid_lon, 180.0 * k, d) for k in (0, 1) for d in (0.5 * gap_m, 30.0)
    ] + [offset_point(52.55, 7.0596, 90.0, d) for d in (-60.0, -4.0, 4.0, 60.0)]
    for lat, lon in points:
        # Then every distance matches the brute-force reference
        expected = reference_distance_m([nordhorn.exterior], lat, lon)
        assert shape_boundary_distance_m(nordhorn, lat, lon) == pytest.approx(
            expected, abs=TOLERANCE_M
        )


# -- airport-size polygons, holes, multipolygons, circles, far points --------------------------


def test_foca_airport_polygon_distances_match_dense_sampling_inside_and_outside() -> None:
    # Given FOCA's Bern-Belp polygon (28 vertices, real airport size)
    belp = _read_geojson_polygons("ed318/foca-che-cis-sample-ed318.json")[0]
    rng = np.random.default_rng(20260314)
    lats = [p[0] for p in belp.exterior]
    lons = [p[1] for p in belp.exterior]
    # When asked at random points in and around its bounding box, and next to its vertices
    random_points = [
        (
            float(rng.uniform(min(lats) - 0.005, max(lats) + 0.005)),
            float(rng.uniform(min(lons) - 0.005, max(lons) + 0.005)),
        )
        for _ in range(12)
    ]
    near_vertices = [
        offset_point(lat, lon, 37.0 * k, 3.0) for k, (lat, lon) in enumerate(belp.exterior[:6])
    ]
    points = random_points + near_vertices
    naive = naive_lonlat_polygon(belp)
    for lat, lon in points:
        expected = reference_distance_m([belp.exterior], lat, lon)
        # Then distances match, and (edges being short) the side agrees with lon/lat wherever the
        # point is not within centimetres of an edge
        assert shape_boundary_distance_m(belp, lat, lon) == pytest.approx(expected, abs=TOLERANCE_M)
        if expected > 0.1:
            assert shape_contains(belp, lat, lon) == shapely.contains_xy(naive, lon, lat)


def test_hole_excludes_its_area_and_its_edges_count_for_the_distance() -> None:
    # Given a 10 km square with a 2 km square hole in its middle
    outer = ((47.0, 8.0), (47.0, 8.13), (47.09, 8.13), (47.09, 8.0))
    hole = ((47.036, 8.052), (47.036, 8.078), (47.054, 8.078), (47.054, 8.052))
    shape = PolygonShape(outer, (hole,))
    hole_edge_mid = geodesic_midpoint(hole[0], hole[1])
    cases = {
        "in the hole, 3 m from its south edge": (offset_point(*hole_edge_mid, 0.0, 3.0), False),
        "in the polygon, 3 m south of the hole": (offset_point(*hole_edge_mid, 180.0, 3.0), True),
        "in the hole's middle": ((47.045, 8.065), False),
    }
    for label, ((lat, lon), inside) in cases.items():
        # When asked
        distance = shape_boundary_distance_m(shape, lat, lon)
        # Then the hole is outside, and its ring is the nearest boundary
        assert shape_contains(shape, lat, lon) is inside, label
        expected = reference_distance_m([outer, hole], lat, lon)
        assert distance == pytest.approx(expected, abs=TOLERANCE_M), label
    assert shape_boundary_distance_m(shape, *cases["in the hole, 3 m from its south edge"][0]) < 4


def test_multipolygon_point_in_second_part_is_inside_and_nearest_ring_of_any_part_counts() -> None:
    # Given two separate squares as one volume
    west = PolygonShape(((51.60, -8.50), (51.60, -8.46), (51.62, -8.46), (51.62, -8.50)))
    east = PolygonShape(((51.60, -8.44), (51.60, -8.40), (51.62, -8.40), (51.62, -8.44)))
    shape = MultiPolygonShape((west, east))
    # When asked inside the east part, and in the gap between the parts
    in_east = (51.61, -8.43)
    in_gap = (51.61, -8.452)
    # Then
    assert shape_contains(shape, *in_east)
    assert not shape_contains(shape, *in_gap)
    for lat, lon in (in_east, in_gap):
        expected = reference_distance_m([west.exterior, east.exterior], lat, lon)
        assert shape_boundary_distance_m(shape, lat, lon) == pytest.approx(
            expected, abs=TOLERANCE_M
        )


@pytest.mark.parametrize(("distance_from_centre_m", "inside"), [(2995.0, True), (3005.0, False)])
def test_circle_is_geodesic_radius_around_its_centre(
    distance_from_centre_m: float, inside: bool
) -> None:
    # Given the Montreux circle (r 3000 m) and a point at a geodesic distance from its centre
    centre = (46.430758, 6.913146)
    circle = CircleShape(centre, 3000.0)
    lat, lon = offset_point(*centre, 123.0, distance_from_centre_m)
    # Then it is inside below the radius, 5 m from the boundary either way
    assert shape_contains(circle, lat, lon) is inside
    assert shape_boundary_distance_m(circle, lat, lon) == pytest.approx(5.0, abs=1e-6)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(52.0, 7.2), (51.0, 9.0), (47.37, 8.54), (45.5, 12.0), (40.4, -3.7), (-33.9, 151.2)],
)
def test_far_points_get_their_geodesic_distance_to_the_nearest_edge(lat: float, lon: float) -> None:
    # Given the long-edge box and points from 55 km to the far side of the earth
    # When measured; then the distance is the brute-force one (a vertex or an edge's inner point)
    expected = reference_distance_m([LONG_EDGE_BOX.exterior], lat, lon)
    assert shape_boundary_distance_m(LONG_EDGE_BOX, lat, lon) == pytest.approx(
        expected, abs=TOLERANCE_M
    )


def test_random_points_around_mixed_polygons_match_the_reference() -> None:
    # Given an index over three polygons (long edges, a hole, a small triangle) and a circle
    triangle = PolygonShape(((52.61, 7.40), (52.615, 7.43), (52.63, 7.41)))
    holed = PolygonShape(
        ((52.45, 7.40), (52.45, 7.60), (52.55, 7.60), (52.55, 7.40)),
        (((52.48, 7.45), (52.48, 7.50), (52.52, 7.50), (52.52, 7.45)),),
    )
    circle = CircleShape((52.58, 7.5), 1500.0)
    index = GeodesicZoneIndex(
        [zone((Volume(LONG_EDGE_BOX), Volume(triangle), Volume(holed), Volume(circle)))]
    )
    rings = [
        [LONG_EDGE_BOX.exterior],
        [triangle.exterior],
        [holed.exterior, *holed.holes],
    ]
    naive = [naive_lonlat_polygon(s) for s in (LONG_EDGE_BOX, triangle, holed)]
    rng = np.random.default_rng(7)
    for _ in range(12):
        lat = float(rng.uniform(52.44, 52.64))
        lon = float(rng.uniform(6.95, 7.65))
        # When querying all volumes at once
        result = index.horizontal(lat, lon)
        # Then each polygon's distance matches its reference; short-edge sides match lon/lat
        for v, volume_rings in enumerate(rings):
            expected = reference_distance_m(volume_rings, lat, lon)
            assert result.boundary_distance_m[v] == pytest.approx(expected, abs=TOLERANCE_M)
            if v > 0 and expected > 0.1:
                assert bool(result.inside[v]) == shapely.contains_xy(naive[v], lon, lat)
        s = GEOD.inv(lon, lat, 7.5, 52.58, return_back_azimuth=True)[2]
        assert result.boundary_distance_m[3] == pytest.approx(abs(s - 1500.0), abs=1e-6)
        assert bool(result.inside[3]) == (s < 1500.0)


def test_azimuthal_equidistant_view_from_the_point_is_the_pyproj_aeqd_projection() -> None:
    # Given the identity the module relies on: Geod.inv from the query point gives the ellipsoidal
    # azimuthal-equidistant coordinates centred there (x = s·sin α, y = s·cos α)
    lat0, lon0 = 52.55, 7.1
    to_aeqd = Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +ellps=WGS84", always_xy=True
    )
    lats = np.array([52.5, 52.7175, 52.43333, 47.0])
    lons = np.array([7.3555, 7.06361, 7.06083, 8.0])
    # When projected both ways
    x, y = to_aeqd.transform(lons, lats)
    az, _, s = GEOD.inv(np.full(4, lon0), np.full(4, lat0), lons, lats, return_back_azimuth=True)
    # Then they agree to the millimetre
    np.testing.assert_allclose(s * np.sin(np.radians(az)), x, atol=1e-3)
    np.testing.assert_allclose(s * np.cos(np.radians(az)), y, atol=1e-3)


def test_arc_length_from_chord_matches_geographiclib_to_a_millimetre_up_to_500_km() -> None:
    # Given random geodesics of 1 m … 500 km anywhere, poles included, traced with Geod.fwd
    rng = np.random.default_rng(11)
    n = 4000
    lat1 = rng.uniform(-90.0, 90.0, n)
    lat1[:50] = 90.0
    lat1[50:100] = -90.0
    lon1 = rng.uniform(-180.0, 180.0, n)
    length_m = 10.0 ** rng.uniform(0.0, math.log10(ARC_FORMULA_MAX_M), n)
    lon2, lat2, _ = GEOD.fwd(
        lon1, lat1, rng.uniform(0.0, 360.0, n), length_m, return_back_azimuth=True
    )
    # When measured from their end points' ECEF chord (ECEF from PROJ, independently)
    to_ecef = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
    a = np.array(to_ecef.transform(lon1, lat1, np.zeros(n)))
    b = np.array(to_ecef.transform(np.asarray(lon2), np.asarray(lat2), np.zeros(n)))
    s = arc_length_from_chord_m(a, b)
    # Then the lengths are the geodesic ones to 1 mm
    np.testing.assert_allclose(s, length_m, rtol=0.0, atol=1e-3)


# -- vertical limits and schedules (query_point) -------------------------------------------------


SQUARE = PolygonShape(((46.90, 7.40), (46.90, 7.50), (46.96, 7.50), (46.96, 7.40)))
INSIDE_SQUARE = (46.93, 7.45)


def _one(volume: Volume, alt_m: float, **kwargs) -> object:
    (result,) = query_point([zone((volume,))], *INSIDE_SQUARE, alt_m, when=WHEN, **kwargs)
    return result


@pytest.mark.parametrize(("alt_m", "inside"), [(76.0 + 520.0, True), (77.0 + 520.0, False)])
def test_feet_agl_limit_is_resolved_with_the_ground_elevation(alt_m: float, inside: bool) -> None:
    # Given Gantrisch's 0–250 ft AGL volume and ground at 520 m AMSL
    volume = Volume(SQUARE, Limit(0.0, Reference.AGL), Limit(length_to_m(250, "FT"), Reference.AGL))
    # When asked just below / above 250 ft (76.2 m) over that ground
    result = _one(volume, alt_m, ground_m_amsl=520.0)
    # Then the limits are ground-based metres AMSL
    assert result.lower_m_amsl == pytest.approx(520.0)
    assert result.upper_m_amsl == pytest.approx(520.0 + 250 * 0.3048)
    assert result.inside_vertical is inside
    assert result.inside is inside


@pytest.mark.parametrize(("alt_m", "inside"), [(3047.0, True), (3049.0, False)])
def test_flight_level_ceiling_is_its_isa_altitude_amsl(alt_m: float, inside: bool) -> None:
    # Given Nordhorn's 4000 ft AMSL – FL100 volume
    volume = Volume(
        SQUARE,
        Limit(length_to_m(4000, "FT"), Reference.AMSL),
        Limit(length_to_m(100, "FL"), Reference.AMSL),
    )
    # When asked around FL100 = 10 000 ft = 3048 m, with some ground elevation (ignored for AMSL)
    result = _one(volume, alt_m, ground_m_amsl=300.0)
    # Then
    assert result.lower_m_amsl == pytest.approx(1219.2)
    assert result.upper_m_amsl == pytest.approx(3048.0)
    assert result.inside_vertical is inside


def test_agl_floor_under_amsl_ceiling_and_wgs84_limits_use_ground_and_geoid() -> None:
    # Given a 50 m AGL floor under a 1500 m AMSL ceiling, and an ellipsoidal 700 m ceiling
    agl_amsl = Volume(SQUARE, Limit(50.0, Reference.AGL), Limit(1500.0, Reference.AMSL))
    wgs84 = Volume(SQUARE, None, Limit(700.0, Reference.WGS84))
    # When asked at 480 m AMSL over ground at 440 m, with a 48 m geoid undulation (Swiss-like)
    a = _one(agl_amsl, 480.0, ground_m_amsl=440.0, geoid_m=48.0)
    b = _one(wgs84, 480.0, ground_m_amsl=440.0, geoid_m=48.0)
    # Then the floor is 490 m AMSL (the point is below it), the ellipsoidal ceiling 652 m AMSL
    assert (a.lower_m_amsl, a.upper_m_amsl) == pytest.approx((490.0, 1500.0))
    assert not a.inside_vertical
    assert b.upper_m_amsl == pytest.approx(700.0 - 48.0)
    assert b.inside_vertical


def test_missing_limits_are_surface_below_and_unbounded_above() -> None:
    # Given a volume with no limits (the Finnish Keskuspuisto fixture)
    volume = Volume(SQUARE)
    # When asked very high over ground at 25 m AMSL
    result = _one(volume, 30_000.0, ground_m_amsl=25.0)
    # Then the floor is the surface (the ground elevation) and there is no ceiling
    assert result.lower_m_amsl == 25.0
    assert result.upper_m_amsl is None
    assert result.inside_vertical
    assert result.inside
    # And below the surface the point is not inside vertically
    assert not _one(volume, 20.0, ground_m_amsl=25.0).inside_vertical


WEEKEND_EVENINGS = Applicability(
    periods=(
        Period(
            start_utc=datetime(2022, 6, 15, 9, tzinfo=UTC),
            end_utc=datetime(2023, 6, 15, 9, tzinfo=UTC),
            slots=(DailySlot(frozenset({5, 6}), time(17, 0), time(23, 59, 59)),),
        ),
    )
)


@pytest.mark.parametrize(
    ("when", "active"),
    [
        (datetime(2022, 7, 2, 18, 0, tzinfo=UTC), True),  # a Saturday evening
        (datetime(2022, 7, 4, 18, 0, tzinfo=UTC), False),  # a Monday evening
        (datetime(2022, 7, 2, 16, 59), False),  # naive = UTC: Saturday, before the slot
    ],
)
def test_weekend_schedule_decides_zone_active_and_inside(when: datetime, active: bool) -> None:
    # Given Montreux's SAT/SUN 17:00–23:59:59Z concert zone and a point inside it, within limits
    montreux = zone(
        (Volume(CircleShape((46.430758, 6.913146), 3000.0), Limit(0.0, Reference.AGL)),),
        WEEKEND_EVENINGS,
    )
    # When asked at `when`
    (result,) = query_point([montreux], 46.43, 6.913, 500.0, 380.0, when)
    # Then the zone applies only in the slot, and `inside` needs it to
    assert result.inside_horizontal
    assert result.inside_vertical
    assert result.zone_active is active
    assert result.inside is active


def test_results_are_numbered_by_zone_and_volume_in_file_order() -> None:
    # Given two zones with the same identifier, the second with two volumes
    first = zone((Volume(SQUARE),))
    second = Zone(
        1, "TEST-1", "again", Restriction.NO_RESTRICTION, (Volume(SQUARE), Volume(SQUARE))
    )
    # When queried
    results = query_point([first, second], *INSIDE_SQUARE, 10.0, when=WHEN)
    # Then one result per volume, numbered in file order
    assert [(r.zone, r.volume) for r in results] == [(0, 0), (1, 0), (1, 1)]
    assert {r.identifier for r in results} == {"TEST-1"}


def test_non_finite_or_out_of_range_inputs_are_refused() -> None:
    index = GeodesicZoneIndex([zone((Volume(SQUARE),))])
    for bad in ((91.0, 7.0, 0.0), (46.9, 181.0, 0.0), (math.nan, 7.0, 0.0), (46.9, 7.0, math.inf)):
        with pytest.raises(ValueError, match="must be"):
            index.query(*bad)
