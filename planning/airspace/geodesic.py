"""Geodesic point queries against zone volumes on the WGS84 ellipsoid (no local frame).

`kestrel zones FILE --at LAT,LON,ALT` and anyone else who asks "is this geographic point inside
that zone, and how far is it from the edge?" use this module. Polygon edges are geodesics
(SCENARIOS.md: Kestrel uses geodesic edges everywhere); over a 24 km edge at 52° N the geodesic
runs up to ~15 m away from the straight line in longitude/latitude, so neither a lon/lat polygon
nor a flat-earth frame answers to the metre. All geodesic lengths and positions come from
GeographicLib through `pyproj.Geod(ellps="WGS84")` (C. F. F. Karney, "Algorithms for geodesics",
J. Geodesy 87, 43–55, 2013); this module only decides *which* few geodesics to evaluate.

Boundary distance (unsigned geodesic metres from the point to the nearest point of any ring of a
volume — exterior, holes, every part of a multipolygon):

1. Every ring edge is split along its geodesic into sub-segments of at most `max_segment_m`
   (default 1 km; the points come from `Geod.fwd`, so they lie on the geodesic). Each
   sub-segment's 3-D chord between its ECEF end points lies within L²/(8·b²/a) ≈ 0.02 m of the
   arc (b²/a: the smallest radius of curvature of the ellipsoid).
2. Per query, the 3-D distance from the point (on the ellipsoid) to every chord is computed in
   one numpy pass. The geodesic distance s and the chord c between two surface points satisfy
   s = c + c³/(24 R²) + O(c⁵/R⁴), with R between the extreme radii of curvature (b²/a and a²/b,
   2.1 % apart in R²), so a sub-segment whose chord distance exceeds a volume's smallest by more
   than `_order_margin_m(c)` cannot hold the nearest point. Volumes farther than
   `FAR_CHORD_M` keep every sub-segment as a candidate.
3. For each candidate, the foot of the perpendicular on the chord is lifted radially onto the
   ellipsoid (within ~1 mm of the geodesic for 1 km sub-segments) and its geodesic distance from
   the query point is taken; the smallest per volume is the answer. The foot's small along-edge
   error enters only to second order. Near feet (chord < `ARC_FORMULA_MIN_M`) and very far ones
   (> `ARC_FORMULA_MAX_M`) are measured with `Geod.inv`; in between — the many far volumes of a
   national file, where one `Geod.inv` per volume would dominate the query time — the length of
   the normal section through the two points is computed from the chord and the osculating
   circle at its midpoint (`arc_length_from_chord_m`), which agrees with GeographicLib to 1 mm up
   to 500 km (tests/test_zone_geodesic.py). Results agree with a dense brute-force `Geod.inv`
   sampling of the edges to millimetres.

This is the azimuthal-equidistant idea (distances from the query point are exact geodesic
distances) without building a projection per query: `Geod.inv` from the query point *is* the
ellipsoidal aeqd centred there (x = s·sin α, y = s·cos α), which the exact inside test below uses.

Inside (horizontal): the densified rings, read as straight lines in (lon, lat), form a shapely
polygon per volume; per sub-segment the largest gap between that straight line and the geodesic
is measured at build time (`Geod.inv` between the two midpoints). A point farther than that gap
from the boundary lies on the same side of both, so the fast lon/lat test is exact there; closer
points are decided in the azimuthal-equidistant projection centred at the query point, where the
nearby edges are straight to sub-millimetre. Circles: inside when the geodesic distance to the
centre is below the radius; boundary distance |s − r|.

Limitations: rings must not enclose a pole or span more than 180° of longitude; multipolygon
parts are assumed not to overlap (the boundary distance is to the nearest ring of any part).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyproj
import shapely

from .model import (
    CircleShape,
    MultiPolygonShape,
    PolygonShape,
    Reference,
    Restriction,
    Shape,
    Volume,
    Zone,
    ZoneFile,
)

EDGE_MODEL = "geodesic"
"""How polygon edges between vertices are interpreted (reported by the CLI)."""

DENSIFY_SEGMENT_M = 1000.0
"""Longest sub-segment [m] a geodesic edge is cut into (valid range 10 m … 10 km). Its chord is
within ~0.02 m of the arc; radial lifting of a chord point lands within ~1 mm of the geodesic."""

ARC_FORMULA_MIN_M = 10_000.0
"""Chord lengths [m] from which `arc_length_from_chord_m` replaces `Geod.inv` for candidates."""
ARC_FORMULA_MAX_M = 500_000.0
"""Chord lengths [m] up to which `arc_length_from_chord_m` is used (error < 1 mm there; it
grows as c⁵ beyond: ~3 cm at 1000 km)."""

FAR_CHORD_M = 1_000_000.0
"""Beyond this 3-D distance [m] from a volume, every sub-segment of that volume is evaluated with
`Geod.inv` (the chord-order margin of step 2 is derived for distances well below the earth's
radius)."""

_GEOD = pyproj.Geod(ellps="WGS84")
_A_M = _GEOD.a
_B_M = _GEOD.b
_E2 = _GEOD.es
_R_MIN_M = _B_M * _B_M / _A_M
"""Smallest radius of curvature of the ellipsoid (meridian at the equator) [m]."""
_R_MAX_M = _A_M * _A_M / _B_M
"""Largest radius of curvature of the ellipsoid (at the poles) [m]."""
_MARGIN_FLOOR_M = 0.01
"""Added to every candidate margin [m]: covers the ~1 mm between a radially lifted chord point
and the geodesic (float round-off is bounded separately, in squared metres)."""
_SIDE_TEST_SLACK_M = 0.005
"""Extra distance [m] below which the inside test is re-done in the point's own aeqd frame."""

_REF_NONE, _REF_AGL, _REF_AMSL, _REF_WGS84 = 0, 1, 2, 3
_REF_CODE = {Reference.AGL: _REF_AGL, Reference.AMSL: _REF_AMSL, Reference.WGS84: _REF_WGS84}


@dataclass(slots=True)
class VolumeQuery:
    """One volume, seen from one query point (`query_point`).

    Not frozen on purpose: a frozen dataclass's __init__ costs ~2 µs against ~0.4 µs, and a
    query against a 1000-volume file builds 1000 of these (bench/zones_query_speed.py). Treat it
    as a value; bulk callers can skip the objects with `GeodesicZoneIndex.query`.
    """

    zone: int  # the zone's index in its file
    identifier: str
    volume: int  # the volume's index within its zone
    inside_horizontal: bool
    inside_vertical: bool
    zone_active: bool
    inside: bool  # inside_horizontal and inside_vertical and zone_active
    lower_m_amsl: float  # the surface (ground elevation) when the volume has no lower limit
    upper_m_amsl: float | None  # None: unbounded
    boundary_distance_m: float  # unsigned geodesic distance to the horizontal boundary


@dataclass(frozen=True)
class HorizontalQuery:
    """Horizontal answers for every volume of an index, in index order (numpy arrays)."""

    inside: np.ndarray  # bool
    boundary_distance_m: np.ndarray  # float64, ≥ 0


@dataclass(frozen=True)
class PointQuery:
    """Everything `query_point` reports, as arrays over the index's volumes (bulk callers)."""

    inside_horizontal: np.ndarray
    inside_vertical: np.ndarray
    zone_active: np.ndarray
    inside: np.ndarray
    lower_m_amsl: np.ndarray
    upper_m_amsl: np.ndarray  # NaN: unbounded
    boundary_distance_m: np.ndarray


def _surface_ecef(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    """ECEF [m] of points on the WGS84 ellipsoid (height 0), shape (3, n)."""
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    sin_lat = np.sin(lat)
    cos_lat = np.cos(lat)
    n = _A_M / np.sqrt(1.0 - _E2 * sin_lat * sin_lat)  # prime-vertical radius of curvature
    return np.stack(
        (n * cos_lat * np.cos(lon), n * cos_lat * np.sin(lon), n * (1.0 - _E2) * sin_lat)
    )


def _lift_to_surface(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The ellipsoid point on the ray from the earth's centre through (x, y, z), shape (3, n)."""
    k = 1.0 / np.sqrt((x * x + y * y) / (_A_M * _A_M) + z * z / (_B_M * _B_M))
    return np.stack((x * k, y * k, z * k))


def _surface_lat_lon(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lat_deg, lon_deg) of points on the ellipsoid: there tan φ = z / ((1 − e²)·p) exactly."""
    x, y, z = xyz
    lat = np.degrees(np.arctan2(z, (1.0 - _E2) * np.hypot(x, y)))
    return lat, np.degrees(np.arctan2(y, x))


def arc_length_from_chord_m(a_ecef: np.ndarray, b_ecef: np.ndarray) -> np.ndarray:
    """Geodesic length [m] between surface points from their ECEF chord, shape (3, n) each.

    The normal section through the two points is a plane curve whose curvature barely changes
    along it; its osculating circle at the chord's midpoint has Euler's radius
    R_α = 1 / (cos²α / M + sin²α / N) (M meridional, N prime-vertical radius of curvature at the
    midpoint's latitude, α the chord's azimuth there), and a circular arc over chord c is
    s = 2R·asin(c / 2R). The curvature change enters at second order and the geodesic is shorter
    than the normal section by far less than a millimetre at these lengths: against GeographicLib
    the error is < 1 mm up to 500 km and ~3 cm at 1000 km, anywhere on the ellipsoid.
    """
    d = b_ecef - a_ecef
    c = np.sqrt(np.einsum("ij,ij->j", d, d))
    mx, my, mz = _lift_to_surface(*(0.5 * (a_ecef + b_ecef)))
    p = np.hypot(mx, my)
    q = (1.0 - _E2) * p
    h = np.hypot(mz, q)
    sin_lat = mz / h
    cos_lat = q / h
    on_axis = p == 0.0
    cos_lon = np.where(on_axis, 1.0, mx / np.where(on_axis, 1.0, p))
    sin_lon = np.where(on_axis, 0.0, my / np.where(on_axis, 1.0, p))
    east = -d[0] * sin_lon + d[1] * cos_lon
    north = -d[0] * sin_lat * cos_lon - d[1] * sin_lat * sin_lon + d[2] * cos_lat
    horizontal2 = east * east + north * north
    cos2_az = np.divide(north * north, horizontal2, out=np.ones_like(c), where=horizontal2 > 0.0)
    w2 = 1.0 - _E2 * sin_lat * sin_lat
    n = _A_M / np.sqrt(w2)
    m = n * (1.0 - _E2) / w2
    radius = 1.0 / (cos2_az / m + (1.0 - cos2_az) / n)
    return 2.0 * radius * np.arcsin(np.minimum(c / (2.0 * radius), 1.0))


def _order_margin_m(chord_m: np.ndarray) -> np.ndarray:
    """How much larger [m] a chord distance may be than the smallest one and still belong to the
    geodesically nearest sub-segment: 1.5 × c³/24·(1/R_min² − 1/R_max²), the spread of the
    chord → geodesic correction between the extreme radii of curvature."""
    spread = 1.0 / (_R_MIN_M * _R_MIN_M) - 1.0 / (_R_MAX_M * _R_MAX_M)
    return 1.5 * chord_m**3 * spread / 24.0


def densify_ring(
    ring: Sequence[tuple[float, float]], max_segment_m: float = DENSIFY_SEGMENT_M
) -> tuple[np.ndarray, np.ndarray]:
    """A ring's vertices with points inserted along each geodesic edge so that no piece is
    longer than `max_segment_m`; returns closed (lat_deg, lon_deg) arrays (first = last)."""
    lat1 = np.array([p[0] for p in ring], dtype=float)
    lon1 = np.array([p[1] for p in ring], dtype=float)
    lat2 = np.roll(lat1, -1)
    lon2 = np.roll(lon1, -1)
    az, _, length_m = _GEOD.inv(lon1, lat1, lon2, lat2)
    pieces = np.maximum(1, np.ceil(np.asarray(length_m) / max_segment_m)).astype(np.int64)
    edge = np.repeat(np.arange(len(lat1)), pieces)
    first = np.cumsum(pieces) - pieces
    k = np.arange(int(pieces.sum())) - np.repeat(first, pieces)
    dist = np.asarray(length_m)[edge] * (k / pieces[edge])
    lon, lat, _ = _GEOD.fwd(lon1[edge], lat1[edge], np.asarray(az)[edge], dist)
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    at_vertex = k == 0
    lat[at_vertex] = lat1
    lon[at_vertex] = lon1
    return np.append(lat, lat1[0]), np.append(lon, lon1[0])


def _unwrap_deg(lon: np.ndarray, reference_deg: float) -> np.ndarray:
    """Longitudes made continuous along the ring, the first within ±180° of `reference_deg`."""
    out = np.degrees(np.unwrap(np.radians(lon)))
    shift = 360.0 * np.round((out[0] - reference_deg) / 360.0)
    return out - shift


def _polygon_parts(shape: PolygonShape | MultiPolygonShape) -> tuple[PolygonShape, ...]:
    return shape.parts if isinstance(shape, MultiPolygonShape) else (shape,)


@dataclass(frozen=True)
class _PolygonVolume:
    """Build-time data for one polygon volume."""

    rings: tuple[tuple[np.ndarray, np.ndarray], ...]  # per part: exterior then holes, dense
    ring_counts: tuple[int, ...]  # rings per part
    lonlat: shapely.Geometry  # straight (lon, lat) edges through the dense vertices
    side_gap_m: float  # largest lon/lat-line vs geodesic gap, plus slack


class GeodesicZoneIndex:
    """Precomputed geometry of every volume of a zone file, for repeated point queries.

    Volumes are numbered in file order: zone by zone, then volume by volume within a zone.
    Build once per file (under a second for 50 000 vertices) and query many times; the index is
    read-only after construction except for a one-entry cache of zone activity per `when`.
    """

    def __init__(self, zones: Sequence[Zone], max_segment_m: float = DENSIFY_SEGMENT_M) -> None:
        if not (10.0 <= max_segment_m <= 10_000.0):
            raise ValueError(f"max_segment_m must be in [10, 10000] m, got {max_segment_m}")
        self.zones = tuple(zones)
        self.max_segment_m = max_segment_m
        zone_of: list[int] = []
        volume_of: list[int] = []
        lower: list[tuple[float, int]] = []
        upper: list[tuple[float, int]] = []
        circles: list[tuple[int, float, float, float]] = []
        polygons: list[tuple[int, PolygonShape | MultiPolygonShape]] = []
        for zi, zone in enumerate(self.zones):
            for vi, volume in enumerate(zone.volumes):
                v = len(zone_of)
                zone_of.append(zi)
                volume_of.append(vi)
                for limit, out in ((volume.lower, lower), (volume.upper, upper)):
                    out.append(
                        (0.0, _REF_NONE)
                        if limit is None
                        else (limit.value_m, _REF_CODE[limit.reference])
                    )
                if isinstance(volume.shape, CircleShape):
                    lat, lon = volume.shape.center
                    circles.append((v, lat, lon, volume.shape.radius_m))
                else:
                    polygons.append((v, volume.shape))
        self.volume_count = len(zone_of)
        self.zone_of_volume = np.array(zone_of, dtype=np.int64)
        self.volume_in_zone = np.array(volume_of, dtype=np.int64)
        self.identifiers = tuple(self.zones[z].identifier for z in zone_of)
        self._lower_m = np.array([x[0] for x in lower], dtype=float)
        self._lower_ref = np.array([x[1] for x in lower], dtype=np.int8)
        self._upper_m = np.array([x[0] for x in upper], dtype=float)
        self._upper_ref = np.array([x[1] for x in upper], dtype=np.int8)
        self._active_cache: tuple[datetime, np.ndarray] | None = None

        self._circle_volume = np.array([c[0] for c in circles], dtype=np.int64)
        self._circle_lat = np.array([c[1] for c in circles], dtype=float)
        self._circle_lon = np.array([c[2] for c in circles], dtype=float)
        self._circle_radius_m = np.array([c[3] for c in circles], dtype=float)
        self._build_polygons(polygons)

    @classmethod
    def of(cls, source: ZoneFile | Sequence[Zone] | GeodesicZoneIndex) -> GeodesicZoneIndex:
        """An index for a zone file, a sequence of zones, or the index itself."""
        if isinstance(source, GeodesicZoneIndex):
            return source
        return cls(source.zones if isinstance(source, ZoneFile) else source)

    # -- build ---------------------------------------------------------------------------------

    def _build_polygons(self, polygons: list[tuple[int, PolygonShape | MultiPolygonShape]]) -> None:
        self._poly_volume = np.array([p[0] for p in polygons], dtype=np.int64)
        self._poly: list[_PolygonVolume] = []
        seg_a: list[np.ndarray] = []
        seg_b: list[np.ndarray] = []
        seg_owner: list[np.ndarray] = []
        bbox = np.zeros((len(polygons), 4))
        for slot, (_, shape) in enumerate(polygons):
            rings: list[tuple[np.ndarray, np.ndarray]] = []
            counts: list[int] = []
            lonlat_parts = []
            gap_m = 0.0
            reference_lon: float | None = None
            for part in _polygon_parts(shape):
                lonlat_rings = []
                for ring in (part.exterior, *part.holes):
                    lat, lon = densify_ring(ring, self.max_segment_m)
                    rings.append((lat, lon))
                    if reference_lon is None:
                        reference_lon = float(lon[0])
                    ulon = _unwrap_deg(lon, reference_lon)
                    lonlat_rings.append(np.column_stack((ulon, lat)))
                    gap_m = max(gap_m, _lonlat_gap_m(lat, ulon))
                    xyz = _surface_ecef(lat, lon)
                    seg_a.append(xyz[:, :-1])
                    seg_b.append(xyz[:, 1:])
                    seg_owner.append(np.full(lat.size - 1, slot, dtype=np.int64))
                counts.append(len(lonlat_rings))
                lonlat_parts.append(shapely.Polygon(lonlat_rings[0], lonlat_rings[1:]))
            geom = lonlat_parts[0] if len(lonlat_parts) == 1 else shapely.MultiPolygon(lonlat_parts)
            xmin, ymin, xmax, ymax = shapely.bounds(geom)
            bbox[slot] = (xmin, xmax, ymin, ymax)
            self._poly.append(
                _PolygonVolume(
                    rings=tuple(rings),
                    ring_counts=tuple(counts),
                    lonlat=geom,
                    side_gap_m=1.5 * gap_m + _SIDE_TEST_SLACK_M,
                )
            )
        geoms = np.array([p.lonlat for p in self._poly], dtype=object)
        shapely.prepare(geoms)
        self._poly_geoms = geoms
        self._poly_bbox = bbox
        self._poly_side_gap_m = np.array([p.side_gap_m for p in self._poly], dtype=float)
        if seg_a:
            a = np.concatenate(seg_a, axis=1)
            ab = np.concatenate(seg_b, axis=1) - a
            owner = np.concatenate(seg_owner)
            origin = a.mean(axis=1)
        else:
            a = np.zeros((3, 0))
            ab = np.zeros((3, 0))
            owner = np.zeros(0, dtype=np.int64)
            origin = np.zeros(3)
        # Chord geometry relative to the mean vertex keeps the squared distances' round-off
        # (relative to the coordinates' magnitude) small for regional files.
        a = a - origin[:, None]
        length2 = np.einsum("ij,ij->j", ab, ab)
        self._seg_origin = origin
        self._seg_a = np.ascontiguousarray(a)
        self._seg_ab = np.ascontiguousarray(ab)
        self._seg_a2 = np.einsum("ij,ij->j", a, a)
        self._seg_a_ab = np.einsum("ij,ij->j", a, ab)
        self._seg_length2 = length2
        self._seg_inv_length2 = np.divide(
            1.0, length2, out=np.zeros_like(length2), where=length2 > 0.0
        )
        self._seg_scale2 = float(self._seg_a2.max() + length2.max()) if owner.size else 0.0
        self._seg_owner = owner
        self._seg_start = np.searchsorted(owner, np.arange(len(polygons)))
        sag = length2 / (8.0 * _R_MIN_M)  # L²/(8R): chord-to-arc gap
        self._poly_sag_m = (
            np.maximum.reduceat(sag, self._seg_start) if len(polygons) else np.zeros(0)
        )

    # -- queries -------------------------------------------------------------------------------

    def horizontal(self, lat_deg: float, lon_deg: float) -> HorizontalQuery:
        """Inside flags and boundary distances [m] of every volume for one point."""
        _check_lat_lon(lat_deg, lon_deg)
        inside = np.zeros(self.volume_count, dtype=bool)
        distance = np.zeros(self.volume_count)
        if self._circle_volume.size:
            n = self._circle_volume.size
            _, _, s = _GEOD.inv(
                np.full(n, lon_deg), np.full(n, lat_deg), self._circle_lon, self._circle_lat
            )
            s = np.asarray(s)
            inside[self._circle_volume] = s < self._circle_radius_m
            distance[self._circle_volume] = np.abs(s - self._circle_radius_m)
        if self._poly:
            poly_distance = self._polygon_distances(lat_deg, lon_deg)
            poly_inside = self._polygon_inside(lat_deg, lon_deg, poly_distance)
            inside[self._poly_volume] = poly_inside
            distance[self._poly_volume] = poly_distance
        return HorizontalQuery(inside=inside, boundary_distance_m=distance)

    def _polygon_distances(self, lat_deg: float, lon_deg: float) -> np.ndarray:
        p = _surface_ecef(np.array([lat_deg]), np.array([lon_deg]))[:, 0] - self._seg_origin
        pp = float(p @ p)
        # With w = P − A: |w − t·AB|² = |w|² − t·(2·w·AB − t·|AB|²), t = clip(w·AB / |AB|²).
        w_ab = p @ self._seg_ab
        w_ab -= self._seg_a_ab
        t = w_ab * self._seg_inv_length2
        np.clip(t, 0.0, 1.0, out=t)
        chord2 = p @ self._seg_a
        chord2 *= -2.0
        chord2 += self._seg_a2
        chord2 += pp
        w_ab *= 2.0
        w_ab -= t * self._seg_length2
        w_ab *= t
        chord2 -= w_ab
        # Round-off bound of the squared distances (a few ulps of the largest term).
        slack2 = 64.0 * np.finfo(float).eps * (pp + self._seg_scale2)
        nearest = np.sqrt(np.maximum(np.minimum.reduceat(chord2, self._seg_start), 0.0))
        margin = 2.0 * self._poly_sag_m + _MARGIN_FLOOR_M + _order_margin_m(nearest)
        threshold = np.where(nearest > FAR_CHORD_M, np.inf, nearest + margin)
        candidates = np.flatnonzero(chord2 <= (threshold * threshold + slack2)[self._seg_owner])
        tc = t[candidates]
        # A foot at a sub-segment's end is the next one's start: evaluate it once.
        key = np.where(tc >= 1.0, candidates + 1, candidates)
        key[(tc > 0.0) & (tc < 1.0)] = -1 - candidates[(tc > 0.0) & (tc < 1.0)]
        _, unique = np.unique(key, return_index=True)
        unique.sort()
        candidates = candidates[unique]
        tc = tc[unique]
        a = self._seg_a[:, candidates]
        ab = self._seg_ab[:, candidates]
        o = self._seg_origin[:, None]
        feet = _lift_to_surface(*(o + a + tc * ab))
        p_abs = (p + self._seg_origin)[:, None]
        s = arc_length_from_chord_m(p_abs, feet)
        exact = np.flatnonzero((s < ARC_FORMULA_MIN_M) | (s > ARC_FORMULA_MAX_M))
        if exact.size:
            foot_lat, foot_lon = _surface_lat_lon(feet[:, exact])
            n = exact.size
            _, _, s_exact = _GEOD.inv(np.full(n, lon_deg), np.full(n, lat_deg), foot_lon, foot_lat)
            s[exact] = s_exact
        owners = self._seg_owner[candidates]
        first = np.flatnonzero(np.diff(owners, prepend=-1))
        out = np.empty(len(self._poly))
        out[owners[first]] = np.minimum.reduceat(s, first)
        return out

    def _polygon_inside(self, lat_deg: float, lon_deg: float, distance_m: np.ndarray) -> np.ndarray:
        bbox = self._poly_bbox
        width = bbox[:, 1] - bbox[:, 0]
        dlon = np.mod(lon_deg - bbox[:, 0], 360.0)
        near = np.flatnonzero(
            (lat_deg >= bbox[:, 2]) & (lat_deg <= bbox[:, 3]) & (dlon <= width + 1e-12)
        )
        inside = np.zeros(len(self._poly), dtype=bool)
        if near.size:
            inside[near] = shapely.contains_xy(
                self._poly_geoms[near], bbox[near, 0] + dlon[near], lat_deg
            )
        for slot in np.flatnonzero(distance_m <= self._poly_side_gap_m):
            inside[slot] = self._inside_aeqd(int(slot), lat_deg, lon_deg)
        return inside

    def _inside_aeqd(self, slot: int, lat_deg: float, lon_deg: float) -> bool:
        """Exact side test in the azimuthal-equidistant projection centred at the point."""
        volume = self._poly[slot]
        parts = []
        ring_iter = iter(volume.rings)
        for count in volume.ring_counts:
            xy_rings = []
            for _ in range(count):
                lat, lon = next(ring_iter)
                az, _, s = _GEOD.inv(
                    np.full(lat.size, lon_deg), np.full(lat.size, lat_deg), lon, lat
                )
                az = np.radians(np.asarray(az))
                s = np.asarray(s)
                xy_rings.append(np.column_stack((s * np.sin(az), s * np.cos(az))))
            parts.append(shapely.Polygon(xy_rings[0], xy_rings[1:]))
        return any(bool(shapely.contains_xy(part, 0.0, 0.0)) for part in parts)

    def zone_active(self, when: datetime) -> np.ndarray:
        """Per volume: whether its zone applies at `when` (aware; naive is taken as UTC)."""
        when = _aware(when)
        if self._active_cache is not None and self._active_cache[0] == when:
            return self._active_cache[1]
        per_zone = np.array([z.applicability.is_active(when) for z in self.zones], dtype=bool)
        active = per_zone[self.zone_of_volume] if self.volume_count else np.zeros(0, dtype=bool)
        active.flags.writeable = False  # shared by every answer for the same `when`
        self._active_cache = (when, active)
        return active

    def limits_m_amsl(
        self, ground_m_amsl: float = 0.0, geoid_m: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per volume (lower, upper) in metres AMSL. AGL limits add the ground elevation; WGS84
        (ellipsoidal) limits subtract the geoid undulation N (h_ellipsoid = h_amsl + N, as
        kestrel.geodesy). A missing lower limit is the surface (the ground elevation); a missing
        upper limit is unbounded (NaN)."""
        lower = self._resolve(self._lower_m, self._lower_ref, ground_m_amsl, geoid_m)
        lower[self._lower_ref == _REF_NONE] = ground_m_amsl
        upper = self._resolve(self._upper_m, self._upper_ref, ground_m_amsl, geoid_m)
        upper[self._upper_ref == _REF_NONE] = np.nan
        return lower, upper

    @staticmethod
    def _resolve(
        value_m: np.ndarray, ref: np.ndarray, ground_m_amsl: float, geoid_m: float
    ) -> np.ndarray:
        out = value_m.copy()
        out[ref == _REF_AGL] += ground_m_amsl
        out[ref == _REF_WGS84] -= geoid_m
        return out

    def query(
        self,
        lat_deg: float,
        lon_deg: float,
        alt_m_amsl: float,
        ground_m_amsl: float = 0.0,
        when: datetime | None = None,
        geoid_m: float = 0.0,
    ) -> PointQuery:
        """All of `query_point`'s answers as arrays (no per-volume objects)."""
        for name, value in (
            ("alt_m_amsl", alt_m_amsl),
            ("ground_m_amsl", ground_m_amsl),
            ("geoid_m", geoid_m),
        ):
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")
        horizontal = self.horizontal(lat_deg, lon_deg)
        active = self.zone_active(datetime.now(UTC) if when is None else when)
        lower, upper = self.limits_m_amsl(ground_m_amsl, geoid_m)
        inside_vertical = (alt_m_amsl >= lower) & ~(alt_m_amsl > upper)  # NaN upper: no ceiling
        return PointQuery(
            inside_horizontal=horizontal.inside,
            inside_vertical=inside_vertical,
            zone_active=active,
            inside=horizontal.inside & inside_vertical & active,
            lower_m_amsl=lower,
            upper_m_amsl=upper,
            boundary_distance_m=horizontal.boundary_distance_m,
        )


def _lonlat_gap_m(lat: np.ndarray, ulon: np.ndarray) -> float:
    """Largest distance [m] between a closed dense ring's straight (lon, lat) sub-segments and
    its geodesic ones, measured at the sub-segment midpoints."""
    lat1, lat2 = lat[:-1], lat[1:]
    lon1, lon2 = ulon[:-1], ulon[1:]
    az, _, length_m = _GEOD.inv(lon1, lat1, lon2, lat2)
    mid_lon, mid_lat, _ = _GEOD.fwd(lon1, lat1, az, np.asarray(length_m) / 2.0)
    _, _, gap = _GEOD.inv(mid_lon, mid_lat, (lon1 + lon2) / 2.0, (lat1 + lat2) / 2.0)
    return float(np.max(gap)) if np.size(gap) else 0.0


def _check_lat_lon(lat_deg: float, lon_deg: float) -> None:
    if not (math.isfinite(lat_deg) and -90.0 <= lat_deg <= 90.0):
        raise ValueError(f"lat_deg must be in [-90, 90], got {lat_deg}")
    if not (math.isfinite(lon_deg) and -180.0 <= lon_deg <= 180.0):
        raise ValueError(f"lon_deg must be in [-180, 180], got {lon_deg}")


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def query_point(
    zones: ZoneFile | Sequence[Zone] | GeodesicZoneIndex,
    lat_deg: float,
    lon_deg: float,
    alt_m_amsl: float,
    ground_m_amsl: float = 0.0,
    when: datetime | None = None,
    geoid_m: float = 0.0,
) -> list[VolumeQuery]:
    """Every volume of `zones`, in file order, seen from one geographic point.

    `alt_m_amsl` and `ground_m_amsl` are metres above mean sea level; AGL limits are resolved
    with the ground elevation, WGS84 limits with the geoid undulation `geoid_m` (h_ellipsoid =
    h_amsl + N). `when` (default now; naive = UTC) decides zone activity. Pass a
    `GeodesicZoneIndex` when asking many questions of the same zones: building one is the
    expensive part.
    """
    index = GeodesicZoneIndex.of(zones)
    q = index.query(lat_deg, lon_deg, alt_m_amsl, ground_m_amsl, when, geoid_m)
    upper = [None if math.isnan(u) else u for u in q.upper_m_amsl.tolist()]
    return [
        VolumeQuery(*row)
        for row in zip(
            index.zone_of_volume.tolist(),
            index.identifiers,
            index.volume_in_zone.tolist(),
            q.inside_horizontal.tolist(),
            q.inside_vertical.tolist(),
            q.zone_active.tolist(),
            q.inside.tolist(),
            q.lower_m_amsl.tolist(),
            upper,
            q.boundary_distance_m.tolist(),
            strict=True,
        )
    ]


def shape_boundary_distance_m(shape: Shape, lat_deg: float, lon_deg: float) -> float:
    """Unsigned geodesic distance [m] from a point to one shape's horizontal boundary."""
    return float(_single_shape_index(shape).horizontal(lat_deg, lon_deg).boundary_distance_m[0])


def shape_contains(shape: Shape, lat_deg: float, lon_deg: float) -> bool:
    """Whether a point lies inside one shape (geodesic edges)."""
    return bool(_single_shape_index(shape).horizontal(lat_deg, lon_deg).inside[0])


def _single_shape_index(shape: Shape) -> GeodesicZoneIndex:
    zone = Zone(0, "", "", Restriction.PROHIBITED, (Volume(shape),))
    return GeodesicZoneIndex((zone,))
