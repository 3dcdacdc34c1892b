"""Randomised geofence attacks: scenarios in which a pilot flies a vehicle at a zone boundary.

The geofence issue's acceptance campaign: 1000 seeded attacks, each a complete scenario that a
pilot (the scenario's `operator`) uses to push the vehicle at the nearest boundary point of one
zone, in wind; the safety filter must keep the vehicle's body out (`geofence_breaches` 0 on
ground truth, `min_zone_margin_m` ≥ 0). Everything here is a pure function of
(campaign_seed, index): the same attack is the same scenario dict on every machine.

What attack `index` draws (numpy Generator seeded with [campaign_seed, index]):

- kind, uniformly among `KINDS`:
  `circle_wall`, `polygon_wall` — the side wall of an exclusion circle (radius 20–150 m) or
  polygon (convex or concave, 40–300 m across, a quarter of them with a hole), with a floor
  (none, the surface or up to 10 m below the vehicle) and a ceiling (none or 15–200 m above it);
  `floor` — an exclusion volume above the vehicle, commanded straight up into its floor;
  `ceiling` — a low exclusion volume (surface to 10–40 m) below the vehicle, commanded straight
  down onto its ceiling (the zone becomes active only once the vehicle hovers above it, since
  the vehicle took off inside its footprint);
  `inclusion_wall` — an inclusion area (circle or polygon, ceiling 120 m AGL) the vehicle flies
  in, commanded outward at its wall;
  `inclusion_ceiling` — a large inclusion area with its 120 m AGL ceiling, commanded straight up.
  Exclusion limits are written AGL, AMSL or WGS84 at random (the origin has a 48 m geoid
  undulation, so the three differ); inclusion ceilings are 120 m AGL, as the issue states.
- start distance: side walls 30–200 m horizontally from the nearest point of the wall
  (measured exactly after placing the vehicle; a draw that lands nearer than 30 m is redrawn),
  hovering at 15–25 m AGL; floors and ceilings 30–100 m vertically (floor attacks hover at
  10–20 m AGL), with the hover altitude kept ≤ 120 m AGL, the issue's ceiling (the pilot's
  3 m/s climb to it already costs up to 40 s of simulated time per attack). Inclusion areas are
  2·distance + 40–400 m across, so for a wall attack from more than ~95 m the 120 m ceiling is
  nearer than the wall: the attacked boundary, and the distance, are the wall's.
- command: speed 0–15 m/s. Side walls: horizontal, aimed at the nearest boundary point and
  rotated 0–80° (either side) off the boundary normal. Floors and ceilings: straight up/down.
  The position controller limits what the vehicle is asked for (PositionControlParams:
  xy_vel_max_mps 12, z_vel_max_up_mps 3, z_vel_max_down_mps 1.5), so a 15 m/s pilot command
  flies at 12 m/s horizontally and a vertical command at 3 m/s up or 1.5 m/s down; the drawn
  command is what the pilot asked for.
- wind: mean 0–8 m/s horizontal, toward the zone along the boundary normal for side walls
  (random direction for floors and ceilings), gusts σ 0–3 m/s per axis.
- GNSS: `rtk` or `standard`, with equal probability.

Timeline: the mission takes off to `TAKEOFF_ALT_M` (5 m, reached by about 8 s: the mission's
minimum-jerk take-off lasts 1.875·h / 1.5 m/s, which would be 2.5 min to 120 m); from
`CLIMB_COMMAND_S` the pilot climbs at the controller's 3 m/s to the attack altitude, holds
(zero velocity command) for `SETTLE_S`, then gives the attack command, which lasts to the end.
The run ends when the commanded (controller-limited) speed would have carried the vehicle to
the boundary plus 10 s, at most 60 s (side walls) or 80 s (vertical attacks, whose descent is
limited to 1.5 m/s) after the attack command starts. A command near 0 m/s just hovers, in the
wind, for the cap; so does one aimed past a small circle.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import shapely
import shapely.affinity

from kestrel.control.position_control import PositionControlParams
from kestrel.geodesy import GeoOrigin

KINDS = (
    "circle_wall",
    "polygon_wall",
    "floor",
    "ceiling",
    "inclusion_wall",
    "inclusion_ceiling",
)
"""Attack kinds, drawn with equal probability."""

HORIZONTAL_KINDS = ("circle_wall", "polygon_wall", "inclusion_wall")
GNSS_MODELS = ("rtk", "standard")

ORIGIN = {"lat_deg": 47.0, "lon_deg": 8.0, "alt_m": 400.0, "geoid_undulation_m": 48.0}
"""world.origin of every attack (alt_m AMSL; a geoid undulation as in central Europe)."""

VEHICLE_ID = "uav1"

START_DISTANCE_M = (30.0, 200.0)
"""Side-wall attacks: horizontal distance from the vehicle to the nearest boundary point."""
VERTICAL_DISTANCE_M = (30.0, 100.0)
"""Floor/ceiling attacks: vertical distance from the hover altitude to the floor/ceiling."""
MAX_HOVER_ALT_M = 120.0
"""Highest attack altitude above the ground."""
INCLUSION_CEILING_M = 120.0
"""The inclusion areas' ceiling, AGL (the issue's altitude limit)."""
SPEED_MAX_MPS = 15.0
ANGLE_MAX_DEG = 80.0
WIND_MAX_MPS = 8.0
GUST_MAX_MPS = 3.0
TAKEOFF_ALT_M = 5.0
"""The mission's take-off altitude; the pilot climbs from there."""
CLIMB_COMMAND_S = 10.0
"""When the pilot starts climbing (the mission's take-off to 5 m ends at about 8 s)."""
SETTLE_S = 5.0
"""Hover at the attack altitude before the attack command."""
REACH_EXTRA_S = 10.0
"""Simulated time after the body would have reached the boundary."""
ATTACK_CAP_S = {"horizontal": 60.0, "vertical": 80.0}
"""Longest pilot command per attack family."""

_REFS = ("AGL", "AMSL", "WGS84")
_ROUND_M = 3
_ROUND_DEG = 9


@dataclass(frozen=True)
class Attack:
    """One drawn attack: its parameters and the scenario dict (SCENARIOS.md) that flies it.

    distance_m: start distance of the vehicle's centre from the nearest boundary point [m]
        (horizontal for walls, vertical for floors/ceilings).
    speed_mps: the pilot's commanded speed [m/s]; angle_deg: signed angle between the command
        and the direction to the nearest boundary point [deg] (0 for vertical attacks).
    wind_mps: mean wind speed [m/s]; gust_mps: gust σ per axis [m/s].
    altitude_m: hover altitude the attack starts from (AGL) [m].
    attack_start_s: when the attack command starts [s]; duration_s: scenario length [s].
    expected_reach: whether, flown straight at the controller-limited speed, the body reaches
        the boundary before the end (a command aimed 80° off a circle's normal may miss it).
    """

    index: int
    campaign_seed: int
    kind: str
    shape: str
    gnss: str
    distance_m: float
    speed_mps: float
    angle_deg: float
    wind_mps: float
    gust_mps: float
    altitude_m: float
    attack_start_s: float
    duration_s: float
    expected_reach: bool
    scenario: dict[str, Any]

    def parameters(self) -> dict[str, Any]:
        """Everything but the scenario: what a campaign report lists per attack."""
        out = asdict(self)
        del out["scenario"]
        return out


# -- geometry (ENU metres, shapes centred at 0) -----------------------------------------------


def _scaled_to_across(points: np.ndarray, across_m: float) -> np.ndarray:
    d = points[:, None, :] - points[None, :, :]
    diameter = float(np.sqrt((d**2).sum(axis=2)).max())
    return points * (across_m / diameter)


def _convex_polygon(rng: np.random.Generator, across_m: float) -> shapely.Polygon:
    """Hull of 3–8 points on a random ellipse, scaled to `across_m` diameter."""
    n = int(rng.integers(3, 9))
    theta = np.sort(rng.uniform(0.0, 2.0 * math.pi, n))
    aspect = rng.uniform(0.4, 1.0)
    rot = rng.uniform(0.0, 2.0 * math.pi)
    x, y = np.cos(theta), aspect * np.sin(theta)
    pts = np.column_stack(
        [x * math.cos(rot) - y * math.sin(rot), x * math.sin(rot) + y * math.cos(rot)]
    )
    hull = shapely.convex_hull(shapely.multipoints(pts))
    if not isinstance(hull, shapely.Polygon) or hull.area < 1e-3:
        return _convex_polygon(rng, across_m)
    ring = np.asarray(hull.exterior.coords)[:-1]
    ring = _scaled_to_across(ring - ring.mean(axis=0), across_m)
    return shapely.orient_polygons(shapely.Polygon(ring))


def _concave_polygon(rng: np.random.Generator, across_m: float) -> shapely.Polygon:
    """A star-shaped polygon (6–12 vertices, radii 35–100 %) around 0, hence simple; redrawn
    until it is really concave."""
    while True:
        n = int(rng.integers(6, 13))
        theta = np.sort(rng.uniform(0.0, 2.0 * math.pi, n))
        radius = rng.uniform(0.35, 1.0, n)
        pts = np.column_stack([radius * np.cos(theta), radius * np.sin(theta)])
        poly = shapely.Polygon(_scaled_to_across(pts, across_m))
        if (
            poly.is_valid
            and poly.convex_hull.area > 1.02 * poly.area
            and poly.contains(shapely.Point(0.0, 0.0))
        ):
            return shapely.orient_polygons(poly)


def _with_hole(rng: np.random.Generator, poly: shapely.Polygon) -> shapely.Polygon:
    """The polygon with a hole: itself shrunk to 20–40 % about 0 (inside, since both shapes
    are star-shaped about 0), kept 5 m clear of the outer ring."""
    scale = rng.uniform(0.2, 0.4)
    hole = shapely.affinity.scale(poly, scale, scale, origin=(0.0, 0.0))
    if not poly.buffer(-5.0).contains(hole):
        return poly
    return shapely.orient_polygons(shapely.Polygon(poly.exterior.coords, [hole.exterior.coords]))


def _polygon(
    rng: np.random.Generator, across_m: float, *, allow_hole: bool
) -> tuple[shapely.Polygon, str]:
    concave = rng.uniform() < 0.5
    poly = _concave_polygon(rng, across_m) if concave else _convex_polygon(rng, across_m)
    label = "concave" if concave else "convex"
    if allow_hole and rng.uniform() < 0.25:
        holed = _with_hole(rng, poly)
        if holed is not poly:
            return holed, label + "+hole"
    return poly, label


@dataclass(frozen=True)
class _Footprint:
    """A zone's horizontal shape in ENU metres: a circle or a polygon."""

    circle_center: tuple[float, float] | None = None
    radius_m: float = 0.0
    polygon: shapely.Polygon | None = None

    @property
    def geometry(self) -> shapely.Geometry:
        if self.polygon is not None:
            return self.polygon
        return shapely.Point(self.circle_center).buffer(self.radius_m, quad_segs=256)

    def contains(self, x: float, y: float) -> bool:
        if self.polygon is not None:
            return bool(shapely.contains_xy(self.polygon, x, y))
        cx, cy = self.circle_center  # type: ignore[misc]
        return math.hypot(x - cx, y - cy) < self.radius_m

    def nearest(self, x: float, y: float) -> tuple[float, float, float]:
        """(qx, qy, distance) of the nearest boundary point."""
        if self.polygon is not None:
            line = shapely.shortest_line(shapely.Point(x, y), self.polygon.boundary)
            (_, _), (qx, qy) = shapely.get_coordinates(line)
            return float(qx), float(qy), math.hypot(qx - x, qy - y)
        cx, cy = self.circle_center  # type: ignore[misc]
        rho = math.hypot(x - cx, y - cy)
        qx, qy = cx + (x - cx) * self.radius_m / rho, cy + (y - cy) * self.radius_m / rho
        return qx, qy, abs(rho - self.radius_m)

    def ray_length_m(self, x: float, y: float, ux: float, uy: float) -> float | None:
        """Distance along (ux, uy) from (x, y) to the first boundary crossing (None: misses)."""
        far = 1.0e5
        ray = shapely.LineString([(x, y), (x + far * ux, y + far * uy)])
        hits = shapely.intersection(ray, self.geometry.boundary)
        if hits.is_empty:
            return None
        pts = shapely.get_coordinates(hits)
        return float(np.min(np.hypot(pts[:, 0] - x, pts[:, 1] - y)))

    def shifted(self, dx: float, dy: float) -> _Footprint:
        if self.polygon is not None:
            return _Footprint(polygon=shapely.affinity.translate(self.polygon, dx, dy))
        cx, cy = self.circle_center  # type: ignore[misc]
        return _Footprint(circle_center=(cx + dx, cy + dy), radius_m=self.radius_m)

    def boundary_point(self, rng: np.random.Generator) -> tuple[float, float, float, float]:
        """A random point of the outer boundary and the outward unit normal there."""
        if self.polygon is None:
            beta = rng.uniform(0.0, 2.0 * math.pi)
            cx, cy = self.circle_center  # type: ignore[misc]
            ux, uy = math.cos(beta), math.sin(beta)
            return cx + self.radius_m * ux, cy + self.radius_m * uy, ux, uy
        ring = np.asarray(self.polygon.exterior.coords)  # counter-clockwise (oriented)
        seg = ring[1:] - ring[:-1]
        lengths = np.hypot(seg[:, 0], seg[:, 1])
        k = int(rng.choice(len(seg), p=lengths / lengths.sum()))
        s = rng.uniform(0.1, 0.9)
        px, py = ring[k] + s * seg[k]
        nx, ny = seg[k, 1] / lengths[k], -seg[k, 0] / lengths[k]  # right of a CCW edge: out
        return float(px), float(py), float(nx), float(ny)

    def random_inside(self, rng: np.random.Generator, inset_m: float) -> tuple[float, float] | None:
        """A uniform point at least `inset_m` inside the boundary (None if there is none)."""
        core = self.geometry.buffer(-inset_m)
        if core.is_empty:
            return None
        x0, y0, x1, y1 = core.bounds
        for _ in range(200):
            x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if shapely.contains_xy(core, x, y):
                return float(x), float(y)
        return None


def _draw_footprint(
    rng: np.random.Generator,
    circle: bool,
    across_m: float,
    *,
    allow_hole: bool = False,
) -> tuple[_Footprint, str]:
    if circle:
        return _Footprint(circle_center=(0.0, 0.0), radius_m=across_m / 2.0), "circle"
    poly, label = _polygon(rng, across_m, allow_hole=allow_hole)
    return _Footprint(polygon=poly), label


# -- the scenario --------------------------------------------------------------------------


def _geo_origin() -> GeoOrigin:
    return GeoOrigin(**ORIGIN)


def _limit_value(height_agl_m: float, ref: str) -> float:
    """A height above the (flat) ground written in `ref` (SCENARIOS.md local-level rule)."""
    if ref == "AGL":
        return height_agl_m
    if ref == "AMSL":
        return height_agl_m + ORIGIN["alt_m"]
    return height_agl_m + ORIGIN["alt_m"] + ORIGIN["geoid_undulation_m"]


def _latlon(origin: GeoOrigin, x: float, y: float) -> list[float]:
    lat, lon, _ = origin.enu_to_geodetic((x, y, 0.0))
    return [round(lat, _ROUND_DEG), round(lon, _ROUND_DEG)]


def _zone_entry(
    footprint: _Footprint,
    *,
    kind: str,
    lower_agl_m: float | None,
    upper_agl_m: float | None,
    ref: str,
    active_from_s: float | None = None,
) -> dict[str, Any]:
    """An inline zone (importers.inline_zone keys) for a footprint in ENU metres."""
    origin = _geo_origin()
    zone: dict[str, Any] = {"id": "attack-zone", "kind": kind}
    if footprint.polygon is None:
        cx, cy = footprint.circle_center  # type: ignore[misc]
        zone["circle"] = {
            "center_deg": _latlon(origin, cx, cy),
            "radius_m": round(footprint.radius_m, _ROUND_M),
        }
    else:
        ring = np.asarray(footprint.polygon.exterior.coords)[:-1]
        zone["polygon_deg"] = [_latlon(origin, x, y) for x, y in ring]
        holes = [np.asarray(h.coords)[:-1] for h in footprint.polygon.interiors]
        if holes:
            zone["holes_deg"] = [[_latlon(origin, x, y) for x, y in h] for h in holes]
    if lower_agl_m is not None:
        zone["lower_m"] = round(_limit_value(lower_agl_m, ref), _ROUND_M)
    if upper_agl_m is not None:
        zone["upper_m"] = round(_limit_value(upper_agl_m, ref), _ROUND_M)
    if lower_agl_m is not None or upper_agl_m is not None:
        zone["ref"] = ref
    if active_from_s is not None:
        zone["active_from_s"] = active_from_s
    return zone


def _rotate(ux: float, uy: float, angle_rad: float) -> tuple[float, float]:
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return c * ux - s * uy, s * ux + c * uy


@dataclass(frozen=True)
class _Geometry:
    """A placed attack: the zone (already shifted so the vehicle starts at the origin)."""

    footprint: _Footprint
    shape: str
    distance_m: float
    normal: tuple[float, float]  # horizontal unit vector toward the nearest boundary point
    ray_m: float | None  # horizontal attacks: distance to the boundary along the command


def _place_wall(
    rng: np.random.Generator, *, inclusion: bool, circle: bool
) -> tuple[_Footprint, str, float, tuple[float, float]]:
    """A footprint and a start point 30–200 m from its wall (outside an exclusion zone, inside
    an inclusion area), shifted so that the start is (0, 0)."""
    lo, hi = START_DISTANCE_M
    while True:
        d = rng.uniform(lo, hi)
        if inclusion:
            across = 2.0 * d + rng.uniform(40.0, 400.0)
            footprint, shape = _draw_footprint(rng, circle, across)
        else:
            across = rng.uniform(40.0, 300.0)
            footprint, shape = _draw_footprint(rng, circle, across, allow_hole=True)
        qx, qy, nx, ny = footprint.boundary_point(rng)
        sign = -1.0 if inclusion else 1.0
        sx, sy = qx + sign * d * nx, qy + sign * d * ny
        if footprint.contains(sx, sy) != inclusion:
            continue
        nqx, nqy, distance = footprint.nearest(sx, sy)
        if not lo <= distance <= hi:
            continue
        normal = ((nqx - sx) / distance, (nqy - sy) / distance)
        return footprint.shifted(-sx, -sy), shape, distance, normal


def _draw_horizontal(
    rng: np.random.Generator, kind: str
) -> tuple[_Footprint, str, float, tuple[float, float]]:
    if kind == "inclusion_wall":
        return _place_wall(rng, inclusion=True, circle=bool(rng.uniform() < 0.5))
    return _place_wall(rng, inclusion=False, circle=kind == "circle_wall")


def _place_inside(
    rng: np.random.Generator, across_range: tuple[float, float], inset_m: float
) -> tuple[_Footprint, str]:
    """A footprint with the vehicle (0, 0) at least `inset_m` inside it."""
    while True:
        circle = rng.uniform() < 0.5
        footprint, shape = _draw_footprint(rng, circle, rng.uniform(*across_range))
        point = footprint.random_inside(rng, inset_m)
        if point is not None:
            return footprint.shifted(-point[0], -point[1]), shape


def _attack_start_s(altitude_m: float, climb_mps: float) -> float:
    climb_end = round(CLIMB_COMMAND_S + (altitude_m - TAKEOFF_ALT_M) / climb_mps, 1)
    return round(climb_end + SETTLE_S, 1)


def draw_attack(index: int, campaign_seed: int = 0) -> Attack:
    """Attack `index` of campaign `campaign_seed` (see the module docstring for the draws)."""
    if index < 0 or campaign_seed < 0:
        raise ValueError(f"index and campaign_seed must be ≥ 0, got {index}, {campaign_seed}")
    rng = np.random.default_rng([campaign_seed, index])
    kind = KINDS[int(rng.integers(len(KINDS)))]
    gnss = GNSS_MODELS[int(rng.integers(len(GNSS_MODELS)))]
    speed = float(rng.uniform(0.0, SPEED_MAX_MPS))
    wind = float(rng.uniform(0.0, WIND_MAX_MPS))
    gust = float(rng.uniform(0.0, GUST_MAX_MPS))
    ref = _REFS[int(rng.integers(len(_REFS)))]
    yaw_deg = float(rng.uniform(-180.0, 180.0))
    seed = int(rng.integers(0, 2**31))
    control = PositionControlParams()
    climb_mps = control.z_vel_max_up_mps
    active_from_s = None

    if kind in HORIZONTAL_KINDS:
        family = "horizontal"
        altitude = float(rng.uniform(15.0, 25.0))
        footprint, shape, distance, normal = _draw_horizontal(rng, kind)
        angle = float(rng.uniform(-ANGLE_MAX_DEG, ANGLE_MAX_DEG))
        ux, uy = _rotate(normal[0], normal[1], math.radians(angle))
        command = (speed * ux, speed * uy, 0.0)
        wind_dir = normal
        v_eff = min(speed, control.xy_vel_max_mps)
        ray = footprint.ray_length_m(0.0, 0.0, ux, uy)
        if kind == "inclusion_wall":
            zone = _zone_entry(
                footprint, kind="inclusion", lower_agl_m=None, upper_agl_m=120.0, ref="AGL"
            )
        else:
            lower = [None, 0.0, float(rng.uniform(2.0, altitude - 10.0))][int(rng.integers(3))]
            upper = [None, altitude + float(rng.uniform(15.0, 200.0))][int(rng.integers(2))]
            zone = _zone_entry(
                footprint, kind="exclusion", lower_agl_m=lower, upper_agl_m=upper, ref=ref
            )
    else:
        family = "vertical"
        angle = 0.0
        distance = float(rng.uniform(*VERTICAL_DISTANCE_M))
        bearing = rng.uniform(0.0, 2.0 * math.pi)
        wind_dir = (math.cos(bearing), math.sin(bearing))
        ray = distance
        if kind == "floor":
            altitude = float(rng.uniform(10.0, 20.0))
            footprint, shape = _place_inside(rng, (120.0, 300.0), 25.0)
            floor = altitude + distance
            upper = [None, floor + float(rng.uniform(20.0, 300.0))][int(rng.integers(2))]
            zone = _zone_entry(
                footprint, kind="exclusion", lower_agl_m=floor, upper_agl_m=upper, ref=ref
            )
            command = (0.0, 0.0, speed)
            v_eff = min(speed, control.z_vel_max_up_mps)
        elif kind == "ceiling":
            top = float(rng.uniform(10.0, 40.0))
            distance = min(distance, MAX_HOVER_ALT_M - top)
            altitude = top + distance
            footprint, shape = _place_inside(rng, (120.0, 300.0), 25.0)
            lower = [None, 0.0][int(rng.integers(2))]
            active_from_s = round(_attack_start_s(altitude, climb_mps) - 2.0, 1)
            zone = _zone_entry(
                footprint,
                kind="exclusion",
                lower_agl_m=lower,
                upper_agl_m=top,
                ref=ref,
                active_from_s=active_from_s,
            )
            command = (0.0, 0.0, -speed)
            v_eff = min(speed, control.z_vel_max_down_mps)
        else:  # inclusion_ceiling
            altitude = INCLUSION_CEILING_M - distance
            footprint, shape = _place_inside(rng, (600.0, 3000.0), 150.0)
            zone = _zone_entry(
                footprint,
                kind="inclusion",
                lower_agl_m=None,
                upper_agl_m=INCLUSION_CEILING_M,
                ref="AGL",
            )
            command = (0.0, 0.0, speed)
            v_eff = min(speed, control.z_vel_max_up_mps)

    climb_end = round(CLIMB_COMMAND_S + (altitude - TAKEOFF_ALT_M) / climb_mps, 1)
    attack_start = _attack_start_s(altitude, climb_mps)
    cap = ATTACK_CAP_S[family]
    reach_s = math.inf if ray is None or v_eff <= 0.0 else ray / v_eff
    attack_s = min(cap, reach_s + REACH_EXTRA_S)
    duration = round(attack_start + attack_s, 1)
    scenario = {
        "name": f"geofence-attack-{campaign_seed}-{index:04d}-{kind}",
        "seed": seed,
        "duration_s": duration,
        "world": {
            "origin": dict(ORIGIN),
            "wind": {
                "mean_mps": [round(wind * wind_dir[0], 4), round(wind * wind_dir[1], 4), 0.0],
                "gust_std_mps": round(gust, 4),
            },
            "zones": [zone],
        },
        "vehicles": [
            {
                "id": VEHICLE_ID,
                "type": "quadrotor",
                "start": {"position": [0.0, 0.0, 0.0], "yaw_deg": round(yaw_deg, 3)},
                "sensors": {"gnss": gnss},
                "mission": {"takeoff_alt_m": TAKEOFF_ALT_M, "waypoints": [], "then": "hover"},
                "operator": [
                    {"t": CLIMB_COMMAND_S, "velocity_mps": [0.0, 0.0, climb_mps]},
                    {"t": climb_end, "velocity_mps": [0.0, 0.0, 0.0]},
                    {"t": attack_start, "velocity_mps": [round(c, 4) for c in command]},
                ],
            }
        ],
    }
    return Attack(
        index=index,
        campaign_seed=campaign_seed,
        kind=kind,
        shape=shape,
        gnss=gnss,
        distance_m=round(distance, _ROUND_M),
        speed_mps=round(speed, 4),
        angle_deg=round(angle, 3),
        wind_mps=round(wind, 4),
        gust_mps=round(gust, 4),
        altitude_m=round(altitude, _ROUND_M),
        attack_start_s=attack_start,
        duration_s=duration,
        expected_reach=reach_s + REACH_EXTRA_S <= cap,
        scenario=scenario,
    )


def attack_scenario(index: int, campaign_seed: int = 0) -> dict[str, Any]:
    """The scenario dict (for `kestrel.scenario.parse_scenario`) of attack `index`."""
    return draw_attack(index, campaign_seed).scenario


def representative_indices(
    per_group: int, campaign_seed: int = 0, pool: int = 1000, max_duration_s: float = 90.0
) -> list[int]:
    """The first `per_group` attacks of every (kind, GNSS) pair among the first `pool` that are
    expected to reach their boundary within `max_duration_s` of simulated time: a small, fixed
    sample for CI that still covers every kind and both GNSS models with real contact."""
    wanted = {(k, g): per_group for k in KINDS for g in GNSS_MODELS}
    chosen = []
    for index in range(pool):
        attack = draw_attack(index, campaign_seed)
        key = (attack.kind, attack.gnss)
        if wanted[key] and attack.expected_reach and attack.duration_s <= max_duration_s:
            wanted[key] -= 1
            chosen.append(index)
            if not any(wanted.values()):
                break
    return chosen


def run_attack(index: int, campaign_seed: int = 0) -> dict[str, Any]:
    """Fly attack `index` and return its parameters and outcome.

    Builds the stack itself (kestrel.stack.build_stack, as kestrel.api.run does) because the
    run's metrics do not expose the safety filter's solver statistics; breaches, margin and
    failsafe events come from the same probes metrics.json is assembled from.
    Keys: the attack's parameters plus breaches, breach_times_s, min_zone_margin_m,
    interventions (failsafe episodes), solves, failed_solves, collisions, sim_time_s, wall_s.
    """
    from kestrel.scenario import parse_scenario
    from kestrel.stack import build_stack

    attack = draw_attack(index, campaign_seed)
    scenario = parse_scenario(attack.scenario, attack.scenario["name"] + ".yaml")
    stack = build_stack(scenario)
    started = time.perf_counter()
    try:
        stack.runner.run_until(scenario.duration_s)
        stack.runner.finish()
    finally:
        stack.sim.close()
    wall_s = time.perf_counter() - started
    zone_probe = stack.zone_probes[VEHICLE_ID]
    zone_metrics = zone_probe.metrics()
    safety = stack.safety_filters[VEHICLE_ID]
    world = stack.sim.vehicle_metrics().get(VEHICLE_ID, {})
    return {
        **attack.parameters(),
        "breaches": int(zone_metrics["geofence_breaches"]),
        "breach_times_s": [b["t"] for b in zone_probe.breaches],
        "min_zone_margin_m": zone_metrics.get("min_zone_margin_m"),
        "interventions": len(safety.failsafe_events()),
        "solves": safety.core.stats.solves,
        "failed_solves": safety.core.stats.failed_solves,
        "collisions": int(world.get("collisions", 0)),
        "sim_time_s": round(stack.runner.time_s - stack.runner.dt_s, 6),
        "wall_s": round(wall_s, 3),
    }


def summarise(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Campaign totals: counts by kind/GNSS, breaches (with the breaching attacks' parameters),
    the smallest margins overall and per kind, interventions and solver failures."""
    ok = [r for r in results if "error" not in r]
    by_kind: dict[str, int] = {}
    by_gnss: dict[str, int] = {}
    margin_by_kind: dict[str, float] = {}
    for r in ok:
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + 1
        by_gnss[r["gnss"]] = by_gnss.get(r["gnss"], 0) + 1
        m = r["min_zone_margin_m"]
        if m is not None:
            margin_by_kind[r["kind"]] = min(margin_by_kind.get(r["kind"], math.inf), m)
    margins = [r["min_zone_margin_m"] for r in ok if r["min_zone_margin_m"] is not None]
    closest = sorted(
        (r for r in ok if r["min_zone_margin_m"] is not None),
        key=lambda r: r["min_zone_margin_m"],
    )[:5]
    return {
        "attacks": len(results),
        "completed": len(ok),
        "errors": [{"index": r["index"], "error": r["error"]} for r in results if "error" in r],
        "by_kind": dict(sorted(by_kind.items())),
        "by_gnss": dict(sorted(by_gnss.items())),
        "expected_reach": sum(1 for r in ok if r["expected_reach"]),
        "breaches": sum(r["breaches"] for r in ok),
        "breaching_attacks": [r for r in ok if r["breaches"]],
        "min_zone_margin_m": min(margins) if margins else None,
        "min_zone_margin_m_by_kind": dict(sorted(margin_by_kind.items())),
        "closest_attacks": [
            {k: r[k] for k in ("index", "kind", "gnss", "min_zone_margin_m")} for r in closest
        ],
        "interventions": sum(r["interventions"] for r in ok),
        "attacks_with_interventions": sum(1 for r in ok if r["interventions"]),
        "solves": sum(r["solves"] for r in ok),
        "failed_solves": sum(r["failed_solves"] for r in ok),
        "collisions": sum(r["collisions"] for r in ok),
        "sim_time_s": round(sum(r["sim_time_s"] for r in ok), 1),
        "attack_wall_s": round(sum(r["wall_s"] for r in ok), 1),
    }


__all__ = [
    "GNSS_MODELS",
    "KINDS",
    "Attack",
    "attack_scenario",
    "draw_attack",
    "representative_indices",
    "run_attack",
    "summarise",
]
