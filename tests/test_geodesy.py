"""WGS84 ↔ ENU conversions of GeoOrigin: the scalar implementation agrees with pymap3d (the
reference it replaces for speed) at random points within 100 km and ±5 km of random origins,
including origins at the poles and on the antimeridian."""

from __future__ import annotations

import math

import numpy as np
import pymap3d
import pytest

from kestrel.geodesy import GeoOrigin, ecef_to_geodetic, geodetic_to_ecef

RADIUS_M = 100_000.0
HEIGHT_SPAN_M = 5_000.0
ANGLE_TOLERANCE_DEG = 1e-9
LENGTH_TOLERANCE_M = 1e-3
ORIGINS_PER_CASE = 40
POINTS_PER_ORIGIN = 25


def _random_origins(seed: int) -> list[GeoOrigin]:
    rng = np.random.default_rng(seed)
    special = [
        GeoOrigin(90.0, 0.0, 0.0),
        GeoOrigin(-90.0, 45.0, 100.0),
        GeoOrigin(0.0, 180.0, 0.0, 10.0),
        GeoOrigin(-0.001, -179.999, 2000.0, -30.0),
        GeoOrigin(47.3977, 8.5456, 488.0, 48.0),
    ]
    drawn = [
        GeoOrigin(
            float(rng.uniform(-90.0, 90.0)),
            float(rng.uniform(-180.0, 180.0)),
            float(rng.uniform(-400.0, 5000.0)),
            float(rng.uniform(-100.0, 100.0)),
        )
        for _ in range(ORIGINS_PER_CASE)
    ]
    return special + drawn


def _random_enu_points(rng: np.random.Generator) -> list[tuple[float, float, float]]:
    """Uniform over a 100-km disc, heights within ±5 km of the origin."""
    points = [(0.0, 0.0, 0.0)]
    for _ in range(POINTS_PER_ORIGIN):
        radius = RADIUS_M * math.sqrt(rng.uniform())
        bearing = rng.uniform(0.0, 2.0 * math.pi)
        up = rng.uniform(-HEIGHT_SPAN_M, HEIGHT_SPAN_M)
        points.append((radius * math.cos(bearing), radius * math.sin(bearing), float(up)))
    return points


def _angle_difference_deg(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def test_enu_to_geodetic_agrees_with_pymap3d_within_100_km():
    # Given random origins (poles and antimeridian included) and points around each.
    rng = np.random.default_rng(11)
    worst = [0.0, 0.0, 0.0]
    for origin in _random_origins(1):
        for enu in _random_enu_points(rng):
            # When a point is converted by GeoOrigin and by pymap3d.
            lat, lon, height = origin.enu_to_geodetic(enu)
            ref = pymap3d.enu2geodetic(
                *enu, origin.lat_deg, origin.lon_deg, origin.ellipsoid_height_m
            )
            worst[0] = max(worst[0], abs(lat - float(ref[0])))
            # Longitude is undefined at a pole itself.
            if abs(float(ref[0])) < 90.0 - 1e-6:
                worst[1] = max(worst[1], _angle_difference_deg(lon, float(ref[1])))
            worst[2] = max(worst[2], abs(height - float(ref[2])))
    # Then they agree to 1e-9° and 1 mm.
    assert worst[0] < ANGLE_TOLERANCE_DEG
    assert worst[1] < ANGLE_TOLERANCE_DEG
    assert worst[2] < LENGTH_TOLERANCE_M


def test_geodetic_to_enu_agrees_with_pymap3d_within_100_km():
    rng = np.random.default_rng(12)
    worst = 0.0
    for origin in _random_origins(2):
        for enu in _random_enu_points(rng):
            # Given a geodetic point around the origin (from pymap3d, independently of ours).
            lat, lon, height = (
                float(v)
                for v in pymap3d.enu2geodetic(
                    *enu, origin.lat_deg, origin.lon_deg, origin.ellipsoid_height_m
                )
            )
            # When it is converted to ENU by GeoOrigin and by pymap3d.
            ours = origin.geodetic_to_enu(lat, lon, height)
            ref = pymap3d.geodetic2enu(
                lat, lon, height, origin.lat_deg, origin.lon_deg, origin.ellipsoid_height_m
            )
            worst = max(worst, max(abs(a - float(b)) for a, b in zip(ours, ref, strict=True)))
    # Then the ENU positions agree to 1 mm.
    assert worst < LENGTH_TOLERANCE_M


def test_enu_round_trip_returns_the_point():
    # Given a mid-latitude origin and points up to 100 km away.
    origin = GeoOrigin(lat_deg=-33.8688, lon_deg=151.2093, alt_m=58.0, geoid_undulation_m=22.0)
    rng = np.random.default_rng(13)
    for enu in _random_enu_points(rng):
        # When a point goes to geodetic and back.
        back = origin.geodetic_to_enu(*origin.enu_to_geodetic(enu))
        # Then it is where it was, to far better than a millimetre.
        assert math.dist(back, enu) < 1e-6


def test_the_origin_is_at_its_own_coordinates_and_ellipsoid_height():
    origin = GeoOrigin(lat_deg=47.4, lon_deg=8.5, alt_m=400.0, geoid_undulation_m=48.0)
    lat, lon, height = origin.enu_to_geodetic((0.0, 0.0, 0.0))
    assert lat == pytest.approx(47.4, abs=ANGLE_TOLERANCE_DEG)
    assert lon == pytest.approx(8.5, abs=ANGLE_TOLERANCE_DEG)
    assert height == pytest.approx(400.0 + 48.0, abs=LENGTH_TOLERANCE_M)


def test_ecef_of_the_equator_and_pole_are_the_semi_axes():
    # Given WGS84: a = 6378137 m, b = 6356752.31424518 m.
    a, b = 6378137.0, 6356752.31424518
    x, y, z = geodetic_to_ecef(0.0, 0.0, 0.0)
    assert (x, y, z) == pytest.approx((a, 0.0, 0.0), abs=1e-6)
    x, y, z = geodetic_to_ecef(90.0, 0.0, 100.0)
    assert z == pytest.approx(b + 100.0, abs=1e-6)
    assert math.hypot(x, y) < 1e-6
    # And the inverse puts a point 100 m below the pole at height −100 m.
    lat, _, height = ecef_to_geodetic(0.0, 0.0, b - 100.0)
    assert lat == pytest.approx(90.0)
    assert height == pytest.approx(-100.0, abs=1e-6)


def test_cached_frame_does_not_change_equality_hash_or_repr():
    # Given two equal origins, one of which has converted a point (filling its cache).
    used = GeoOrigin(10.0, 20.0, 30.0)
    fresh = GeoOrigin(10.0, 20.0, 30.0)
    used.enu_to_geodetic((1.0, 2.0, 3.0))
    # Then they are still equal, hash alike and print alike.
    assert used == fresh
    assert hash(used) == hash(fresh)
    assert repr(used) == repr(fresh)
