"""WGS84 geodetic ↔ local ENU at the world origin (exact; never flat-earth).

`map` is the ENU frame at `world.origin`. Heights: the simulated world's z = 0 is
`origin.alt_m` above mean sea level; WGS84 ellipsoidal heights differ from AMSL by the geoid
undulation N (h_ellipsoid = h_amsl + N), taken from the scenario (default 0).

The conversions are the ones pymap3d implements (geodetic → ECEF with the prime-vertical
radius of curvature; ECEF → geodetic by the closed form of R.-J. You, "Transformation of
Cartesian to geodetic coordinates without iterations", J. Surveying Engineering 126(1), 2000,
eq. 4a–4c with the eq. 13 correction; ECEF ↔ ENU by the rotation at the origin), written out
here in scalar float arithmetic with the same operations in the same order. Why: pymap3d goes
through numpy for each scalar and costs ~50–85 µs per point, paid by the GNSS model at every fix
and by the estimator at every fix it fuses; these take ~2–4 µs. The origin's ECEF position and
trigonometry are computed once per `GeoOrigin` (a cached property). tests/test_geodesy.py
checks the results against pymap3d at random points within 100 km and ±5 km of the origin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from kestrel.messages import Vec3

WGS84_SEMIMAJOR_AXIS_M = 6378137.0
"""WGS84 equatorial radius a [m] (NGA.STND.0036, 2014; the value pymap3d uses)."""
WGS84_SEMIMINOR_AXIS_M = 6356752.31424518
"""WGS84 polar radius b [m] (derived from a and 1/f = 298.257223563; pymap3d's value)."""

_A = WGS84_SEMIMAJOR_AXIS_M
_B = WGS84_SEMIMINOR_AXIS_M
_A2 = _A * _A
_A_OVER_B = _A / _B
_B_OVER_A_SQUARED = (_B / _A) * (_B / _A)
_B2 = _B * _B
_E = math.sqrt(_A2 - _B2)
"""Linear eccentricity E = √(a² − b²) [m]."""
_E2 = _E * _E
"""E² as pymap3d forms it (the square of the rounded E, not a² − b²)."""
_POLE_TOLERANCE = 1e-8
"""|u| or distance from the polar axis [m] below which You's formula is singular and the point
is taken to lie on the axis (numpy.isclose's default absolute tolerance, as in pymap3d)."""
_HALF_PI = 0.5 * math.pi
_LAT_LIMIT_RAD = _HALF_PI - 2.220446049250313e-16
"""Reduced latitudes beyond this are the pole exactly (pymap3d's float64 patch)."""


def geodetic_to_ecef(lat_deg: float, lon_deg: float, ellipsoid_height_m: float) -> Vec3:
    """WGS84 ECEF position [m] of a geodetic point (height above the ellipsoid)."""
    lat = math.radians(lat_deg)
    lon = math.radians(lon_deg)
    cos_lat = math.cos(lat)
    sin_lat = math.sin(lat)
    # Prime-vertical radius of curvature N = a² / √(a²cos²φ + b²sin²φ).
    n = _A2 / math.hypot(_A * cos_lat, _B * sin_lat)
    horizontal = (n + ellipsoid_height_m) * cos_lat
    return (
        horizontal * math.cos(lon),
        horizontal * math.sin(lon),
        (n * _B_OVER_A_SQUARED + ellipsoid_height_m) * sin_lat,
    )


def ecef_to_geodetic(x: float, y: float, z: float) -> tuple[float, float, float]:
    """(lat_deg, lon_deg, WGS84 ellipsoidal height [m]) of an ECEF point (You 2000)."""
    r = math.sqrt(x * x + y * y + z * z)
    q = r * r - _E2
    # Eq. 4a: u, the semi-minor axis of the confocal ellipsoid through the point.
    u = math.sqrt(0.5 * q + 0.5 * math.hypot(q, 2.0 * _E * z))
    hxy = math.hypot(x, y)
    hue = math.hypot(u, _E)
    if abs(u) <= _POLE_TOLERANCE or hxy <= _POLE_TOLERANCE:
        # On the polar axis (or at the centre): the reduced latitude is ±90° (0 at the centre).
        beta = math.copysign(_HALF_PI, z) if abs(z) > _POLE_TOLERANCE else 0.0
    else:
        # Eq. 4b, then one correction step (eq. 13).
        beta = math.atan(hue / u * z / hxy)
        cos_beta = math.cos(beta)
        beta += ((_B * u - _A * hue + _E2) * math.sin(beta)) / (
            _A * hue / cos_beta - _E2 * cos_beta
        )
    # Eq. 4c.
    if beta >= _LAT_LIMIT_RAD:
        lat = _HALF_PI
        cos_beta = 0.0
    elif beta <= -_LAT_LIMIT_RAD:
        lat = -_HALF_PI
        cos_beta = 0.0
    else:
        lat = math.atan(_A_OVER_B * math.tan(beta))
        cos_beta = math.cos(beta)
    lon = math.atan2(y, x)
    height = math.hypot(z - _B * math.sin(beta), hxy - _A * cos_beta)
    if x * x / _A2 + y * y / _A2 + z * z / _B2 < 1.0:
        height = -height  # inside the ellipsoid
    return math.degrees(lat), math.degrees(lon), height


@dataclass(frozen=True)
class GeoOrigin:
    """Geodetic origin of the `map` frame. `alt_m` is above mean sea level."""

    lat_deg: float = 0.0
    lon_deg: float = 0.0
    alt_m: float = 0.0
    geoid_undulation_m: float = 0.0

    @property
    def ellipsoid_height_m(self) -> float:
        return self.alt_m + self.geoid_undulation_m

    @cached_property
    def _frame(self) -> tuple[float, float, float, float, float, float, float]:
        """(sin φ0, cos φ0, sin λ0, cos λ0, x0, y0, z0): the ENU axes and ECEF position of the
        origin, computed once (functools.cached_property stores it in the instance dict,
        which a frozen dataclass allows; it takes no part in eq, hash or repr)."""
        lat0 = math.radians(self.lat_deg)
        lon0 = math.radians(self.lon_deg)
        x0, y0, z0 = geodetic_to_ecef(self.lat_deg, self.lon_deg, self.ellipsoid_height_m)
        return (math.sin(lat0), math.cos(lat0), math.sin(lon0), math.cos(lon0), x0, y0, z0)

    def enu_to_ecef(self, position_enu_m: Vec3) -> Vec3:
        """WGS84 ECEF position [m] of a `map` point."""
        sin_lat, cos_lat, sin_lon, cos_lon, x0, y0, z0 = self._frame
        east, north, up = position_enu_m
        t = cos_lat * up - sin_lat * north
        w = sin_lat * up + cos_lat * north
        return (x0 + (cos_lon * t - sin_lon * east), y0 + (sin_lon * t + cos_lon * east), z0 + w)

    def enu_to_geodetic(self, position_enu_m: Vec3) -> tuple[float, float, float]:
        """(lat_deg, lon_deg, WGS84 ellipsoidal height) of a `map` point."""
        x, y, z = self.enu_to_ecef(position_enu_m)
        return ecef_to_geodetic(x, y, z)

    def geodetic_to_enu(self, lat_deg: float, lon_deg: float, ellipsoid_height_m: float) -> Vec3:
        sin_lat, cos_lat, sin_lon, cos_lon, x0, y0, z0 = self._frame
        x, y, z = geodetic_to_ecef(lat_deg, lon_deg, ellipsoid_height_m)
        u = x - x0
        v = y - y0
        w = z - z0
        t = cos_lon * u + sin_lon * v
        return (-sin_lon * u + cos_lon * v, -sin_lat * t + cos_lat * w, cos_lat * t + sin_lat * w)

    def amsl_to_z_m(self, alt_amsl_m: float) -> float:
        """Local-level rule of SCENARIOS.md: z = alt_amsl − origin.alt_m."""
        return alt_amsl_m - self.alt_m

    def geographic_to_enu(self, lat_deg: float, lon_deg: float, alt_amsl_m: float) -> Vec3:
        """A scenario waypoint {lat_deg, lon_deg, alt_m AMSL} in `map`: exact horizontal
        conversion, height by the local-level rule."""
        e, n, _ = self.geodetic_to_enu(lat_deg, lon_deg, self.ellipsoid_height_m)
        return (e, n, self.amsl_to_z_m(alt_amsl_m))
