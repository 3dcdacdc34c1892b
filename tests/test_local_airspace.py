"""Zones in the local ENU frame (kestrel.planning.airspace.local) against independent references.

Geodesy is checked against pyproj only: its own topocentric conversion (a `cart` → `topocentric`
pipeline at the origin) for positions, `Geod.inv`/`Geod.fwd` for distances and `Geod.npts` for
points along geodesic edges. Everything else (vertical limits, prism signed distances, boundary
pieces, activity and authorisations) is checked against values worked out by hand from the
named inputs of each test.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime, time

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer

from kestrel.geodesy import GeoOrigin
from kestrel.planning.airspace.local import (
    LocalAirspace,
    LocalVolume,
    limit_to_z_m,
    local_volumes,
)
from kestrel.planning.airspace.model import (
    Applicability,
    CircleShape,
    DailySlot,
    Limit,
    Period,
    PolygonShape,
    Reference,
    Restriction,
    Volume,
    Zone,
    ZoneAction,
    ZoneKind,
)

GEOD = Geod(ellps="WGS84")
CM = 0.01
ORIGIN = GeoOrigin(lat_deg=47.3977, lon_deg=8.5456, alt_m=408.0, geoid_undulation_m=48.0)
START_UTC = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)  # a Monday, before Europe's DST switch
ORIGINS = [
    ORIGIN,
    GeoOrigin(52.59, 7.178, 30.0, 46.0),
    GeoOrigin(-33.86, 151.21, 5.0, 22.0),
    GeoOrigin(0.01, 179.99, 0.0, 15.0),  # the antimeridian within 2 km
    GeoOrigin(69.65, 18.96, 100.0, 30.0),
]


@functools.cache
def topocentric(origin: GeoOrigin) -> Transformer:
    """pyproj's own geodetic → ENU conversion at `origin` (the independent reference)."""
    return Transformer.from_pipeline(
        "+proj=pipeline +step +proj=cart +ellps=WGS84 "
        f"+step +proj=topocentric +ellps=WGS84 +lat_0={origin.lat_deg} "
        f"+lon_0={origin.lon_deg} +h_0={origin.ellipsoid_height_m}"
    )


def reference_enu(origin: GeoOrigin, lat: float, lon: float) -> tuple[float, float]:
    """Reference ENU of a zone vertex: zone outlines are converted at the origin's height."""
    e, n, _ = topocentric(origin).transform(lon, lat, origin.ellipsoid_height_m)
    return float(e), float(n)


def latlon(east_m: float, north_m: float, origin: GeoOrigin = ORIGIN) -> tuple[float, float]:
    lat, lon, _ = origin.enu_to_geodetic((east_m, north_m, 0.0))
    return lat, lon


CEILING_120_M = Limit(120.0, Reference.AGL)


def zone(
    shape: PolygonShape | CircleShape,
    *,
    lower: Limit | None = None,
    upper: Limit | None = CEILING_120_M,
    kind: ZoneKind = ZoneKind.EXCLUSION,
    identifier: str = "Z",
    restriction: Restriction = Restriction.PROHIBITED,
    action: ZoneAction | None = None,
    applicability: Applicability | None = None,
) -> Zone:
    return Zone(
        index=0,
        identifier=identifier,
        name=identifier,
        restriction=restriction,
        volumes=(Volume(shape, lower, upper),),
        kind=kind,
        action=action,
        applicability=applicability or Applicability(),
    )


def enu_polygon(
    xy: list[tuple[float, float]], holes: tuple[list[tuple[float, float]], ...] = ()
) -> PolygonShape:
    """A polygon given in local metres (tiny shapes: the round trip is exact to ~1e-8 m)."""
    return PolygonShape(
        tuple(latlon(*p) for p in xy), tuple(tuple(latlon(*p) for p in h) for h in holes)
    )


def one_volume(z: Zone, origin: GeoOrigin = ORIGIN) -> LocalVolume:
    (volume,) = local_volumes([z], origin)
    return volume


def airspace(*zones: Zone, authorisations: frozenset[str] = frozenset()) -> LocalAirspace:
    return LocalAirspace(local_volumes(zones, ORIGIN, authorisations), START_UTC)


# -- WGS84 → ENU --------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", ORIGINS, ids=lambda o: f"{o.lat_deg},{o.lon_deg}")
def test_geodetic_to_enu_agrees_with_pyproj_topocentric_within_1_cm_to_10_km(origin):
    # Given random points up to 10 km from the origin (uniform over the disc), −200…+1500 m
    # around its height.
    rng = np.random.default_rng(7)
    reference = topocentric(origin)
    worst = 0.0
    for _ in range(300):
        lon, lat, _ = GEOD.fwd(
            origin.lon_deg,
            origin.lat_deg,
            rng.uniform(0.0, 360.0),
            10_000.0 * math.sqrt(rng.uniform()),
        )
        h = origin.ellipsoid_height_m + rng.uniform(-200.0, 1500.0)
        # When converted by Kestrel and by pyproj.
        ours = origin.geodetic_to_enu(lat, lon, h)
        theirs = reference.transform(lon, lat, h)
        worst = max(worst, math.dist(ours, theirs))
    # Then they agree within a centimetre everywhere.
    assert worst < CM


def euler_radius_m(lat_deg: float, azimuth_deg: float) -> float:
    """Radius of curvature of the WGS84 normal section at `lat_deg` in direction `azimuth_deg`
    (Euler: 1/R_α = cos²α/M + sin²α/N; M meridional, N prime-vertical radius)."""
    a = 6378137.0
    f = 1.0 / 298.257223563
    e2 = f * (2.0 - f)
    w = math.sqrt(1.0 - e2 * math.sin(math.radians(lat_deg)) ** 2)
    m, n = a * (1.0 - e2) / w**3, a / w
    alpha = math.radians(azimuth_deg)
    return 1.0 / (math.cos(alpha) ** 2 / m + math.sin(alpha) ** 2 / n)


@pytest.mark.parametrize("origin", ORIGINS[:3], ids=lambda o: f"{o.lat_deg},{o.lon_deg}")
def test_enu_horizontal_distance_is_the_geodesic_distance_bent_by_curvature_and_height(origin):
    """The ENU plane is tangent at the origin, `h` above the ellipsoid. A point at geodesic
    distance d on the ellipsoid, raised to the same height h, is (locally, on the osculating
    sphere of radius R_α in that direction) at angle θ = d/R_α from the origin's vertical and
    radius R_α + h, so its horizontal distance in the ENU plane is (R_α + h)·sin(d/R_α)
    ≈ d·(1 + h/R_α) − d³/(6 R_α²). The sphere stands in for the ellipsoid to well under 1 mm
    within 10 km; the height term alone is ~1 m at 10 km for h ≈ 500 m."""
    rng = np.random.default_rng(11)
    h = origin.ellipsoid_height_m
    residuals, corrections = [], []
    for _ in range(300):
        azimuth = rng.uniform(-180.0, 180.0)
        distance = 10_000.0 * math.sqrt(rng.uniform())
        lon, lat, _ = GEOD.fwd(origin.lon_deg, origin.lat_deg, azimuth, distance)
        # Given the geodesic distance as pyproj measures it between the two points.
        _, _, d = GEOD.inv(origin.lon_deg, origin.lat_deg, lon, lat)
        # When the point (at the origin's height) is converted to ENU.
        e, n, _ = origin.geodetic_to_enu(lat, lon, h)
        r_alpha = euler_radius_m(origin.lat_deg, azimuth)
        expected = (r_alpha + h) * math.sin(d / r_alpha)
        residuals.append(abs(math.hypot(e, n) - expected))
        corrections.append(abs(expected - d))
    # Then the ENU horizontal norm is that, within a millimetre …
    assert max(residuals) < 1e-3
    # … and the correction is not negligible (a flat-earth norm == d would fail).
    assert max(corrections) > CM


def test_polygon_vertices_and_edges_land_where_the_reference_puts_them():
    # Given a 16-vertex star polygon with a hole, vertices 1–10 km from the origin (edges up
    # to several km: some are densified).
    rng = np.random.default_rng(3)
    angles = np.sort(rng.uniform(0.0, 2.0 * math.pi, 16))
    radii = rng.uniform(3_000.0, 10_000.0, 16)
    exterior = []
    for angle, radius in zip(angles, radii, strict=True):
        lon, lat, _ = GEOD.fwd(ORIGIN.lon_deg, ORIGIN.lat_deg, 90.0 - math.degrees(angle), radius)
        exterior.append((lat, lon))
    hole = tuple(latlon(400.0 * math.cos(a), 400.0 * math.sin(a)) for a in (0.0, 2.0, 4.0))
    shape = PolygonShape(tuple(exterior), (hole,))
    # When it is converted to a local volume.
    volume = one_volume(zone(shape))
    coords = shapely.get_coordinates(volume.polygon.boundary)
    # Then every file vertex is a vertex of the ENU polygon within 1 cm of the reference …
    for lat, lon in (*exterior, *hole):
        e, n = reference_enu(ORIGIN, lat, lon)
        assert np.min(np.hypot(coords[:, 0] - e, coords[:, 1] - n)) < CM
    # … and every edge lies within 1 cm of the reference image of its geodesic (30 points).
    boundary = volume.polygon.boundary
    for ring in (exterior, list(hole)):
        for (lat1, lon1), (lat2, lon2) in zip(ring, ring[1:] + ring[:1], strict=True):
            for lon, lat in GEOD.npts(lon1, lat1, lon2, lat2, 30):
                e, n = reference_enu(ORIGIN, lat, lon)
                assert shapely.distance(boundary, shapely.Point(e, n)) < CM


def test_circle_centre_lands_where_the_reference_puts_it_and_keeps_its_radius():
    # Given a 300 m circle centred 7 km north-east of the origin.
    lon, lat, _ = GEOD.fwd(ORIGIN.lon_deg, ORIGIN.lat_deg, 45.0, 7_000.0)
    volume = one_volume(zone(CircleShape((lat, lon), 300.0)))
    # Then its ENU centre is the reference's and the radius is unchanged.
    assert math.dist(volume.circle_xy_m, reference_enu(ORIGIN, lat, lon)) < CM
    assert volume.radius_m == 300.0
    assert volume.polygon is None


def test_24_km_edge_is_densified_along_the_geodesic():
    """OpenAIP-style 24 km east-west edge at 52.5° N, 10 km south of the origin. Between its end
    points the geodesic bulges ~15 m north of the parallel; in ENU it is almost, but not quite,
    a straight line: its chord misses the geodesic midpoint by L²·D/(8R²) ≈ 1.8 cm."""
    origin = ORIGINS[1]  # 52.59° N: the south edge is ~10 km away
    south, north, west, east = 52.5, 52.6, 7.0, 7.3555
    shape = PolygonShape(((south, west), (south, east), (north, east), (north, west)))
    _, _, length_m = GEOD.inv(west, south, east, south)
    assert length_m == pytest.approx(24_000.0, abs=200.0)
    # Given the geodesic midpoint of the south edge, converted with the reference.
    [(mid_lon, mid_lat)] = GEOD.npts(west, south, east, south, 1)
    assert (mid_lat - south) * 111_000.0 > 10.0  # the geodesic is not the parallel
    mid = shapely.Point(reference_enu(origin, mid_lat, mid_lon))
    chord = shapely.LineString(
        [reference_enu(origin, south, west), reference_enu(origin, south, east)]
    )
    assert shapely.distance(chord, mid) > CM  # an undensified edge would fail the check below
    # When the zone is converted.
    boundary = one_volume(zone(shape), origin).polygon.boundary
    # Then the ENU boundary passes within 1 cm of the geodesic midpoint, and of every point at
    # 1/7 steps (which fall between densification vertices).
    assert shapely.distance(boundary, mid) < CM
    for lon, lat in GEOD.npts(west, south, east, south, 6):
        assert shapely.distance(boundary, shapely.Point(reference_enu(origin, lat, lon))) < CM


# -- vertical limits ----------------------------------------------------------------------------


def test_limit_to_z_follows_each_reference():
    # Given an origin 408 m AMSL where the geoid is 48 m above the ellipsoid.
    alt, undulation = ORIGIN.alt_m, ORIGIN.geoid_undulation_m
    # Then AGL is z on flat ground, AMSL subtracts the origin altitude, WGS84 (ellipsoidal)
    # subtracts the undulation as well (h = AMSL + N), and a missing limit is unbounded.
    assert limit_to_z_m(Limit(120.0, Reference.AGL), ORIGIN, upper=True) == 120.0
    assert limit_to_z_m(Limit(600.0, Reference.AMSL), ORIGIN, upper=True) == 600.0 - alt
    assert limit_to_z_m(Limit(600.0, Reference.WGS84), ORIGIN, upper=True) == pytest.approx(
        600.0 - undulation - alt
    )
    assert limit_to_z_m(None, ORIGIN, upper=False) == -math.inf
    assert limit_to_z_m(None, ORIGIN, upper=True) == math.inf


def test_volume_limits_become_floor_and_ceiling_z():
    # Given a volume from 500 m AMSL to 700 m above the ellipsoid.
    z = zone(
        enu_polygon([(0, 0), (10, 0), (10, 10)]),
        lower=Limit(500.0, Reference.AMSL),
        upper=Limit(700.0, Reference.WGS84),
    )
    volume = one_volume(z)
    assert volume.floor_z_m == pytest.approx(500.0 - 408.0)
    assert volume.ceiling_z_m == pytest.approx(700.0 - 48.0 - 408.0)
    # And a volume without limits spans everything.
    unbounded = one_volume(zone(enu_polygon([(0, 0), (10, 0), (10, 10)]), upper=None))
    assert (unbounded.floor_z_m, unbounded.ceiling_z_m) == (-math.inf, math.inf)


# -- signed distance of a prism ----------------------------------------------------------------

FLOOR_M, CEILING_M = 20.0, 80.0
SQUARE = [(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0)]
SQUARE_LIMITS = {"lower": Limit(FLOOR_M, Reference.AGL), "upper": Limit(CEILING_M, Reference.AGL)}


def test_prism_signed_distance_outside_above_diagonal_and_inside():
    volume = one_volume(zone(enu_polygon(SQUARE), **SQUARE_LIMITS))
    # Outside horizontally at a height within the limits: the horizontal gap.
    assert volume.signed_distance_m((-7.0, 50.0, 50.0)) == pytest.approx(7.0, abs=1e-6)
    # Above the ceiling, horizontally inside: the height above the ceiling.
    assert volume.signed_distance_m((50.0, 50.0, CEILING_M + 4.0)) == pytest.approx(4.0, abs=1e-6)
    # Below the floor: the depth below the floor.
    assert volume.signed_distance_m((50.0, 50.0, FLOOR_M - 2.5)) == pytest.approx(2.5, abs=1e-6)
    # Beyond a corner edge (outside horizontally and vertically): Euclidean, hypot(3, 4) = 5.
    assert volume.signed_distance_m((103.0, 50.0, CEILING_M + 4.0)) == pytest.approx(5.0, abs=1e-6)
    # Inside: minus the shallowest depth (10 m to the west wall vs 15 m to the ceiling).
    assert volume.signed_distance_m((10.0, 50.0, CEILING_M - 15.0)) == pytest.approx(
        -10.0, abs=1e-6
    )
    # Inside, nearer the ceiling (3 m) than any wall (≥ 30 m).
    assert volume.signed_distance_m((30.0, 40.0, CEILING_M - 3.0)) == pytest.approx(-3.0, abs=1e-6)


def test_circle_prism_signed_distance():
    volume = one_volume(zone(CircleShape(latlon(0.0, 0.0), 50.0), **SQUARE_LIMITS))
    assert volume.signed_distance_m((0.0, 60.0, 50.0)) == pytest.approx(10.0, abs=1e-6)
    assert volume.signed_distance_m((0.0, -60.0, CEILING_M + 10.0)) == pytest.approx(
        math.hypot(10.0, 10.0), abs=1e-6
    )
    assert volume.signed_distance_m((0.0, 45.0, 50.0)) == pytest.approx(-5.0, abs=1e-6)
    assert volume.signed_distance_m((0.0, 0.0, FLOOR_M + 1.0)) == pytest.approx(-1.0, abs=1e-6)


def test_polygon_with_a_hole_is_outside_in_the_hole():
    # Given a 100 m square with a 20 m square hole at its centre (40…60).
    hole = [(40.0, 40.0), (60.0, 40.0), (60.0, 60.0), (40.0, 60.0)]
    volume = one_volume(zone(enu_polygon(SQUARE, (hole,)), **SQUARE_LIMITS))
    # In the hole's centre: 10 m outside (to the hole's edges).
    assert volume.signed_distance_m((50.0, 50.0, 50.0)) == pytest.approx(10.0, abs=1e-6)
    # In the solid part, 5 m from the hole's west edge and 35 m from the outer wall: −5.
    assert volume.signed_distance_m((35.0, 50.0, 50.0)) == pytest.approx(-5.0, abs=1e-6)
    # In the hole above the ceiling: hypot of the two.
    assert volume.signed_distance_m((50.0, 50.0, CEILING_M + 10.0)) == pytest.approx(
        math.hypot(10.0, 10.0), abs=1e-6
    )


def test_legal_margin_is_the_signed_distance_for_exclusion_and_its_opposite_for_inclusion():
    exclusion = one_volume(zone(enu_polygon(SQUARE), **SQUARE_LIMITS))
    inclusion = one_volume(zone(enu_polygon(SQUARE), kind=ZoneKind.INCLUSION, **SQUARE_LIMITS))
    for p in [(-7.0, 50.0, 50.0), (10.0, 50.0, 50.0), (50.0, 50.0, CEILING_M + 4.0)]:
        assert exclusion.legal_margin_m(p) == pytest.approx(exclusion.signed_distance_m(p))
        assert inclusion.legal_margin_m(p) == pytest.approx(-inclusion.signed_distance_m(p))
    assert inclusion.legal_margin_m((10.0, 50.0, 50.0)) == pytest.approx(10.0, abs=1e-6)


# -- boundary pieces ---------------------------------------------------------------------------


def piece_set(pieces):
    return sorted(
        (round(p.distance_m, 6), tuple(round(c, 6) for c in p.nearest_m), p.normal) for p in pieces
    )


def test_pieces_near_a_square_are_its_walls_at_their_distances_with_unit_normals():
    # Given a square x 10…30, y −10…10 (surface to 120 m) and a query at (0, 0, 20).
    space = airspace(zone(enu_polygon([(10, -10), (30, -10), (30, 10), (10, 10)])))
    p = (0.0, 0.0, 20.0)
    # When asking for pieces within 20 m.
    pieces = space.pieces_near(p, 20.0, [0])
    # Then: the west wall at 10 m (normal east), the south and north walls at their nearest
    # points, the corners (10, ∓10), at √200 m; the east wall (30 m) is beyond the radius.
    by_distance = sorted(pieces, key=lambda q: (q.distance_m, q.nearest_m[1]))
    assert len(by_distance) == 3
    west, south, north = by_distance
    assert west.distance_m == pytest.approx(10.0, abs=1e-6)
    assert west.nearest_m == pytest.approx((10.0, 0.0, 20.0), abs=1e-6)
    assert west.normal == pytest.approx((1.0, 0.0, 0.0), abs=1e-6)
    s = math.sqrt(0.5)
    assert south.distance_m == pytest.approx(math.sqrt(200.0), abs=1e-6)
    assert south.normal == pytest.approx((s, -s, 0.0), abs=1e-6)
    assert north.normal == pytest.approx((s, s, 0.0), abs=1e-6)
    for q in pieces:
        assert math.hypot(*q.normal) == pytest.approx(1.0)
        assert q.volume == 0
    # And with a radius beyond 30 m the east wall appears at 30 m.
    far = space.pieces_near(p, 31.0, [0])
    assert len(far) == 4
    assert max(q.distance_m for q in far) == pytest.approx(30.0, abs=1e-6)


def test_caps_appear_only_when_horizontally_inside():
    # Given a square footprint with a floor at 30 m and a ceiling at 50 m.
    space = airspace(
        zone(
            enu_polygon([(-10, -10), (10, -10), (10, 10), (-10, 10)]),
            lower=Limit(30.0, Reference.AGL),
            upper=Limit(50.0, Reference.AGL),
        )
    )
    # Below it, horizontally inside: the floor at 20 m up and the ceiling at 40 m.
    below = space.pieces_near((0.0, 0.0, 10.0), 45.0, [0])
    caps = sorted((q for q in below if q.nearest_m[:2] == (0.0, 0.0)), key=lambda q: q.distance_m)
    assert [q.distance_m for q in caps] == pytest.approx([20.0, 40.0])
    assert caps[0].normal == (0.0, 0.0, 1.0)
    assert caps[0].nearest_m == (0.0, 0.0, 30.0)
    # The walls' nearest points are clamped to the floor: (±10, 0, 30) at hypot(10, 20).
    walls = [q for q in below if q not in caps]
    assert len(walls) == 4
    assert min(q.distance_m for q in walls) == pytest.approx(math.hypot(10.0, 20.0), abs=1e-6)
    assert all(q.nearest_m[2] == pytest.approx(30.0) for q in walls)
    # Outside horizontally at the same height: walls only, no caps.
    outside = space.pieces_near((15.0, 0.0, 10.0), 45.0, [0])
    assert outside
    assert all(q.nearest_m[:2] != (15.0, 0.0) for q in outside)
    assert min(q.distance_m for q in outside) == pytest.approx(math.hypot(5.0, 20.0), abs=1e-6)


def test_circle_wall_nearest_point_is_radial_from_inside_and_outside():
    space = airspace(zone(CircleShape(latlon(0.0, 0.0), 20.0), upper=None))
    [outside] = space.pieces_near((30.0, 0.0, 10.0), 15.0, [0])
    assert outside.distance_m == pytest.approx(10.0, abs=1e-6)
    assert outside.nearest_m == pytest.approx((20.0, 0.0, 10.0), abs=1e-6)
    assert outside.normal == pytest.approx((-1.0, 0.0, 0.0), abs=1e-6)
    [inside] = space.pieces_near((0.0, 5.0, 10.0), 16.0, [0])
    assert inside.distance_m == pytest.approx(15.0, abs=1e-6)
    assert inside.normal == pytest.approx((0.0, 1.0, 0.0), abs=1e-6)


def test_pieces_beyond_the_radius_are_cut_off():
    space = airspace(zone(enu_polygon([(10, -100), (30, -100), (30, 100), (10, 100)])))
    p = (0.0, 0.0, 20.0)
    assert len(space.pieces_near(p, 10.0 + 1e-6, [0])) == 1
    assert space.pieces_near(p, 10.0 - 1e-6, [0]) == []


def test_pieces_come_only_from_the_requested_volumes():
    # Given a square (volume 0) and a circle (volume 1), both 10 m from the query point.
    west = zone(enu_polygon([(-30, -10), (-10, -10), (-10, 10), (-30, 10)]), identifier="W")
    east = zone(CircleShape(latlon(20.0, 0.0), 10.0), identifier="E")
    space = airspace(west, east)
    p = (0.0, 0.0, 20.0)
    assert {q.volume for q in space.pieces_near(p, 12.0, [0, 1])} == {0, 1}
    assert {q.volume for q in space.pieces_near(p, 12.0, [1])} == {1}
    assert {q.volume for q in space.pieces_near(p, 12.0, [0])} == {0}
    assert space.pieces_near(p, 12.0, []) == []


def test_nearest_boundary_finds_the_closest_wall_of_any_volume():
    west = zone(enu_polygon([(-30, -10), (-10, -10), (-10, 10), (-30, 10)]), identifier="W")
    east = zone(CircleShape(latlon(20.0, 0.0), 12.0), identifier="E")
    space = airspace(west, east)
    distance, point, owner = space.nearest_boundary(0.0, 0.0)
    assert (distance, owner) == (pytest.approx(8.0, abs=1e-6), 1)
    assert point == pytest.approx((8.0, 0.0), abs=1e-6)
    distance, point, owner = space.nearest_boundary(-20.0, 30.0)
    assert (distance, owner) == (pytest.approx(20.0, abs=1e-6), 0)
    assert point == pytest.approx((-20.0, 10.0), abs=1e-6)


# -- activity, schedules, authorisations -------------------------------------------------------

TRIANGLE = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)]


def test_sim_time_window_gates_activity():
    z = zone(
        enu_polygon(TRIANGLE), applicability=Applicability(active_from_s=10.0, active_until_s=20.0)
    )
    space = airspace(z)
    # Queried at times further apart than the activity cache's refresh interval.
    assert [bool(space.active(t)[0]) for t in (0.0, 9.8, 10.0, 15.0, 20.0, 20.2)] == [
        False,
        False,
        True,
        True,
        True,
        False,
    ]
    assert space.enforced(15.0) == [0]
    assert space.enforced(25.0) == []


def test_activation_is_seen_within_one_refresh_interval_at_50_hz():
    z = zone(enu_polygon(TRIANGLE), applicability=Applicability(active_from_s=10.0))
    space = airspace(z)
    first = next(k / 50.0 for k in range(1000) if space.enforced(k / 50.0))
    assert 10.0 <= first <= 10.0 + LocalAirspace.ACTIVITY_REFRESH_S + 1e-9


def test_weekly_schedule_is_evaluated_against_start_time_in_the_slot_time_zone():
    # Given a zone active on Mondays 10:30–11:00 Zurich time (CET, UTC+1 on 16 March 2026),
    # i.e. 09:30–10:00 UTC, and a run starting Monday 09:00 UTC.
    slot = DailySlot(
        days=frozenset({0}), start=time(10, 30), end=time(11, 0), time_zone="Europe/Zurich"
    )
    space = airspace(
        zone(enu_polygon(TRIANGLE), applicability=Applicability(periods=(Period(slots=(slot,)),)))
    )
    # Then it is active from t = 1800 s to 3600 s, not before, not after, and not at 10:30 UTC
    # (t = 5400 s, where a slot wrongly read as UTC would be).
    assert [
        bool(space.active(t)[0]) for t in (0.0, 1790.0, 1800.0, 3000.0, 3600.0, 3700.0, 5400.0)
    ] == [
        False,
        False,
        True,
        True,
        True,
        False,
        False,
    ]
    # The same time of day on Tuesday (+86400 s) is outside the slot's days.
    assert not space.active(86_400.0 + 2_000.0)[0]


def test_period_bounds_and_slots_combine():
    # Active from 09:20 UTC on the start day onward, weekdays 09:00–09:40 UTC.
    period = Period(
        start_utc=datetime(2026, 3, 16, 9, 20, tzinfo=UTC),
        slots=(DailySlot(days=frozenset(range(5)), start=time(9, 0), end=time(9, 40)),),
    )
    space = airspace(zone(enu_polygon(TRIANGLE), applicability=Applicability(periods=(period,))))
    assert [bool(space.active(t)[0]) for t in (600.0, 1_500.0, 2_500.0, 86_400.0 + 600.0)] == [
        False,
        True,
        False,
        True,
    ]


@pytest.mark.parametrize(
    ("restriction", "action", "authorisations", "enforced"),
    [
        (Restriction.PROHIBITED, None, frozenset({"Z"}), True),
        (Restriction.REQ_AUTHORISATION, None, frozenset(), True),
        (Restriction.REQ_AUTHORISATION, None, frozenset({"Z"}), False),
        (Restriction.REQ_AUTHORISATION, None, frozenset({"OTHER"}), True),
        (Restriction.CONDITIONAL, None, frozenset(), True),
        (Restriction.CONDITIONAL, None, frozenset({"Z"}), False),
        (Restriction.NO_RESTRICTION, None, frozenset(), False),
        (Restriction.PROHIBITED, ZoneAction.WARN, frozenset(), False),
    ],
)
def test_enforced_follows_action_and_authorisations(restriction, action, authorisations, enforced):
    z = zone(enu_polygon(TRIANGLE), restriction=restriction, action=action)
    space = airspace(z, authorisations=authorisations)
    # Every zone is active (permanent); only restricting ones are enforced.
    assert bool(space.active(0.0)[0])
    assert (space.enforced(0.0) == [0]) is enforced
