"""WGS84 geodetic ↔ local ENU at the world origin (pymap3d, exact; never flat-earth).

`map` is the ENU frame at `world.origin`. Heights: the simulated world's z = 0 is
`origin.alt_m` above mean sea level; WGS84 ellipsoidal heights differ from AMSL by the geoid
undulation N (h_ellipsoid = h_amsl + N), taken from the scenario (default 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import pymap3d

from kestrel.messages import Vec3


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

    def enu_to_geodetic(self, position_enu_m: Vec3) -> tuple[float, float, float]:
        """(lat_deg, lon_deg, WGS84 ellipsoidal height) of a `map` point."""
        lat, lon, h = pymap3d.enu2geodetic(
            position_enu_m[0],
            position_enu_m[1],
            position_enu_m[2],
            self.lat_deg,
            self.lon_deg,
            self.ellipsoid_height_m,
        )
        return float(lat), float(lon), float(h)

    def geodetic_to_enu(self, lat_deg: float, lon_deg: float, ellipsoid_height_m: float) -> Vec3:
        e, n, u = pymap3d.geodetic2enu(
            lat_deg,
            lon_deg,
            ellipsoid_height_m,
            self.lat_deg,
            self.lon_deg,
            self.ellipsoid_height_m,
        )
        return (float(e), float(n), float(u))

    def amsl_to_z_m(self, alt_amsl_m: float) -> float:
        """Local-level rule of SCENARIOS.md: z = alt_amsl − origin.alt_m."""
        return alt_amsl_m - self.alt_m

    def geographic_to_enu(self, lat_deg: float, lon_deg: float, alt_amsl_m: float) -> Vec3:
        """A scenario waypoint {lat_deg, lon_deg, alt_m AMSL} in `map`: exact horizontal
        conversion, height by the local-level rule."""
        e, n, _ = self.geodetic_to_enu(lat_deg, lon_deg, self.ellipsoid_height_m)
        return (e, n, self.amsl_to_z_m(alt_amsl_m))
