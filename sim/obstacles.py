"""Scenario obstacles: shapes, their motion, seeded forests and exact distance queries.

The obstacle kinds of SCENARIOS.md `world.obstacles`, as frozen dataclasses with units in their
field names:

- `BoxObstacle`: centre, full extents `size_m`, yaw about up [deg] (REP-103: CCW from east);
- `CylinderObstacle`: vertical, standing on z = 0, centre `center_xy_m`, `radius_m`, `height_m`;
  moves only horizontally;
- `SphereObstacle`: centre and radius;
- `ForestSpec`: an area filled with tree trunks (vertical cylinders), expanded with a seeded
  generator by `expand_obstacles`.

Each shape is either static (`center…`), moves at a constant velocity from its centre
(`velocity_mps`, position = centre + v·t), or follows a `path` of (t_s, x, y, z) points,
linearly interpolated and held at the first point before it and at the last point after it
(no `center` then). For a cylinder the path and centre points are its base centre (z = 0).

Distances are exact analytic signed distances (negative inside), so that the `min_clearance_m`
metric is a true ground-truth value: a yawed box is handled in its own frame, a finite cylinder
as the intersection of an infinite cylinder and a slab. `ObstacleField` answers "how far is the
nearest obstacle" for all shapes at once; trunks of equal height are kept in numpy arrays and
queried in one vectorised pass, so a forest of hundreds of trunks costs a few microseconds.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from kestrel.messages import Vec3
from kestrel.random_streams import rng_for

PathPoint = tuple[float, float, float, float]
"""(t_s, x_m, y_m, z_m): a waypoint of an obstacle path, ENU."""
Vec2 = tuple[float, float]

VECTORISE_MIN_TRUNKS = 16
"""Static cylinders of one height are queried with numpy from this many on; below it a scalar
loop is cheaper than numpy's per-call overhead (~1 µs per array operation)."""


def _finite_tuple(values: Iterable[float], name: str, length: int) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be {length} numbers, got {values!r}") from exc
    if len(out) != length or not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name} must be {length} finite numbers, got {values!r}")
    return out


def _positive(value: float, name: str) -> float:
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _cylinder_signed_distance(radial_m: float, axial_m: float) -> float:
    """Signed distance of a finite cylinder from the point's signed distance to the infinite
    cylinder (`radial_m`) and to the slab between its end caps (`axial_m`).

    Exact: the cylinder is the intersection of the two, so inside it is max(radial, axial) and
    outside the Euclidean norm of the positive parts (standard SDF of an intersection of
    orthogonal sets; I. Quílez, "Distance functions", iquilezles.org, capped cylinder).
    """
    inside = min(max(radial_m, axial_m), 0.0)
    outside = math.hypot(max(radial_m, 0.0), max(axial_m, 0.0))
    return inside + outside


@dataclass(frozen=True, kw_only=True)
class _Placed:
    """Placement shared by all shapes: static centre, constant velocity, or a timed path."""

    center_m: Vec3 | None = None
    velocity_mps: Vec3 | None = None
    path: tuple[PathPoint, ...] | None = None
    _path_times: tuple[float, ...] = field(init=False, repr=False, compare=False, default=())

    def _init_placement(self, kind: str) -> None:
        if self.path is not None:
            if self.center_m is not None or self.velocity_mps is not None:
                raise ValueError(f"{kind}: give either `path` or `center` (+ `velocity_mps`)")
            points = tuple(_finite_tuple(p, f"{kind} path point", 4) for p in self.path)
            if not points:
                raise ValueError(f"{kind}: `path` needs at least one [t, x, y, z] point")
            times = tuple(p[0] for p in points)
            if any(b <= a for a, b in itertools.pairwise(times)):
                raise ValueError(f"{kind}: `path` times must increase strictly, got {times}")
            object.__setattr__(self, "path", points)
            object.__setattr__(self, "_path_times", times)
            return
        if self.center_m is None:
            raise ValueError(f"{kind}: `center` (or `path`) is required")
        object.__setattr__(self, "center_m", _finite_tuple(self.center_m, f"{kind} center", 3))
        if self.velocity_mps is not None:
            velocity = _finite_tuple(self.velocity_mps, f"{kind} velocity_mps", 3)
            object.__setattr__(self, "velocity_mps", velocity)

    @property
    def is_moving(self) -> bool:
        if self.path is not None:
            return len(self.path) > 1
        return self.velocity_mps is not None and any(v != 0.0 for v in self.velocity_mps)

    @property
    def max_speed_mps(self) -> float:
        """Largest speed of the obstacle over all time [m/s] (bounds how fast distances change)."""
        if self.path is not None:
            speeds = [
                math.dist(a[1:], b[1:]) / (b[0] - a[0]) for a, b in itertools.pairwise(self.path)
            ]
            return max(speeds, default=0.0)
        if self.velocity_mps is None:
            return 0.0
        return math.hypot(*self.velocity_mps)

    def position_at(self, t_s: float) -> Vec3:
        """Reference point at time `t_s` (centre; for a cylinder the centre of its base)."""
        if self.path is not None:
            times = self._path_times
            points = self.path
            if t_s <= times[0]:
                return points[0][1:]  # type: ignore[return-value]
            if t_s >= times[-1]:
                return points[-1][1:]  # type: ignore[return-value]
            i = bisect.bisect_right(times, t_s)
            a, b = points[i - 1], points[i]
            s = (t_s - a[0]) / (b[0] - a[0])
            return (a[1] + s * (b[1] - a[1]), a[2] + s * (b[2] - a[2]), a[3] + s * (b[3] - a[3]))
        c = self.center_m
        v = self.velocity_mps
        if v is None:
            return c  # type: ignore[return-value]
        return (c[0] + v[0] * t_s, c[1] + v[1] * t_s, c[2] + v[2] * t_s)  # type: ignore[index]

    def at(self, t_s: float) -> Any:
        """A static copy placed where this obstacle is at `t_s` (for drawing, snapshots)."""
        return replace(self, center_m=self.position_at(t_s), velocity_mps=None, path=None)


@dataclass(frozen=True, kw_only=True)
class BoxObstacle(_Placed):
    """A box. size_m: full extents along its own x, y, z [m] (> 0); yaw_deg: rotation about
    up, CCW from east [deg]."""

    size_m: Vec3
    yaw_deg: float = 0.0

    def __post_init__(self) -> None:
        self._init_placement("box")
        size = _finite_tuple(self.size_m, "box size", 3)
        for v in size:
            _positive(v, "box size")
        object.__setattr__(self, "size_m", size)
        if not math.isfinite(self.yaw_deg):
            raise ValueError(f"box yaw_deg must be finite, got {self.yaw_deg!r}")

    def signed_distance_m(self, point: Vec3, t_s: float) -> float:
        """Exact signed distance [m] from `point` (ENU) to the box at `t_s`."""
        c = self.position_at(t_s)
        yaw = math.radians(self.yaw_deg)
        cos_y, sin_y = math.cos(yaw), math.sin(yaw)
        dx, dy, dz = point[0] - c[0], point[1] - c[1], point[2] - c[2]
        # The point in the box frame (rotate the offset by −yaw).
        qx = abs(cos_y * dx + sin_y * dy) - 0.5 * self.size_m[0]
        qy = abs(-sin_y * dx + cos_y * dy) - 0.5 * self.size_m[1]
        qz = abs(dz) - 0.5 * self.size_m[2]
        outside = math.sqrt(max(qx, 0.0) ** 2 + max(qy, 0.0) ** 2 + max(qz, 0.0) ** 2)
        inside = min(max(qx, qy, qz), 0.0)
        return outside + inside


@dataclass(frozen=True, kw_only=True)
class SphereObstacle(_Placed):
    """A sphere. radius_m > 0 [m]."""

    radius_m: float

    def __post_init__(self) -> None:
        self._init_placement("sphere")
        object.__setattr__(self, "radius_m", _positive(self.radius_m, "sphere radius"))

    def signed_distance_m(self, point: Vec3, t_s: float) -> float:
        """Exact signed distance [m] from `point` (ENU) to the sphere at `t_s`."""
        c = self.position_at(t_s)
        return math.dist(point, c) - self.radius_m


@dataclass(frozen=True, kw_only=True)
class CylinderObstacle(_Placed):
    """A vertical cylinder standing on z = 0 (a post, a trunk). radius_m, height_m > 0 [m].

    `center_m`, `velocity_mps` and path points may be given with two (x, y) or three
    components; the third must be 0 (a cylinder stands on the ground and moves horizontally,
    SCENARIOS.md). They are stored with three, z = 0.
    """

    radius_m: float
    height_m: float

    def __post_init__(self) -> None:
        def grounded(values: Sequence[float], name: str) -> Vec3:
            xyz = tuple(float(v) for v in values)
            if len(xyz) == 2:
                xyz = (*xyz, 0.0)
            if len(xyz) == 3 and xyz[2] != 0.0:
                raise ValueError(
                    f"cylinder {name} z must be 0 (it stands on the ground and moves only "
                    f"horizontally), got {values!r}"
                )
            return xyz  # type: ignore[return-value]

        if self.center_m is not None:
            object.__setattr__(self, "center_m", grounded(self.center_m, "center"))
        if self.velocity_mps is not None:
            object.__setattr__(self, "velocity_mps", grounded(self.velocity_mps, "velocity_mps"))
        if self.path is not None:
            path = []
            for p in self.path:
                if len(p) != 4:
                    raise ValueError(f"cylinder path point must be [t, x, y, z], got {p!r}")
                path.append((p[0], *grounded(p[1:], "path point")))
            object.__setattr__(self, "path", tuple(path))
        self._init_placement("cylinder")
        object.__setattr__(self, "radius_m", _positive(self.radius_m, "cylinder radius"))
        object.__setattr__(self, "height_m", _positive(self.height_m, "cylinder height"))

    def signed_distance_m(self, point: Vec3, t_s: float) -> float:
        """Exact signed distance [m] from `point` (ENU) to the cylinder at `t_s`."""
        c = self.position_at(t_s)
        radial = math.hypot(point[0] - c[0], point[1] - c[1]) - self.radius_m
        half_h = 0.5 * self.height_m
        axial = abs(point[2] - half_h) - half_h
        return _cylinder_signed_distance(radial, axial)


Obstacle = BoxObstacle | CylinderObstacle | SphereObstacle


@dataclass(frozen=True)
class ForestSpec:
    """Tree trunks filling an area (SCENARIOS.md `type: forest`).

    area_m: ((xmin, ymin), (xmax, ymax)) ENU [m], max > min.
    density_per_m2: expected trunks per square metre, in (0, 2].
    radius_m: (min, max) trunk radius [m], 0 < min ≤ max.
    height_m: trunk height [m] (> 0).
    """

    area_m: tuple[Vec2, Vec2]
    density_per_m2: float
    radius_m: Vec2
    height_m: float

    def __post_init__(self) -> None:
        (x0, y0), (x1, y1) = (_finite_tuple(p, "forest area corner", 2) for p in self.area_m)
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f"forest area must be [[xmin, ymin], [xmax, ymax]], got {self.area_m}")
        object.__setattr__(self, "area_m", ((x0, y0), (x1, y1)))
        if not (0.0 < self.density_per_m2 <= 2.0):
            raise ValueError(f"forest density_per_m2 must be in (0, 2], got {self.density_per_m2}")
        r_min, r_max = _finite_tuple(self.radius_m, "forest radius", 2)
        if not (0.0 < r_min <= r_max):
            raise ValueError(
                f"forest radius must be [min, max], 0 < min <= max, got {r_min, r_max}"
            )
        object.__setattr__(self, "radius_m", (r_min, r_max))
        object.__setattr__(self, "height_m", _positive(self.height_m, "forest height"))

    @property
    def trunk_count(self) -> int:
        """Number of trunks drawn: density × area, rounded (before keep-clear removal)."""
        (x0, y0), (x1, y1) = self.area_m
        return round(self.density_per_m2 * (x1 - x0) * (y1 - y0))


ObstacleSpec = Obstacle | ForestSpec


def expand_forest(
    spec: ForestSpec,
    rng: np.random.Generator,
    keep_clear: Sequence[tuple[float, float, float]] = (),
) -> tuple[CylinderObstacle, ...]:
    """Trunks of a forest: `trunk_count` uniform positions and radii drawn from `rng`.

    Why a fixed count (density × area) rather than a Poisson count: the scenario's density is
    then what the run gets, which keeps difficulty comparable between seeds. `keep_clear` is a
    list of (x, y, clearance_radius) discs — vehicle start points — that no trunk may reach
    into; such trunks are dropped after drawing, so the remaining trunks do not depend on it.
    """
    (x0, y0), (x1, y1) = spec.area_m
    n = spec.trunk_count
    xs = rng.uniform(x0, x1, n)
    ys = rng.uniform(y0, y1, n)
    radii = rng.uniform(spec.radius_m[0], spec.radius_m[1], n)
    trunks = []
    for x, y, r in zip(xs.tolist(), ys.tolist(), radii.tolist(), strict=True):
        if any(math.hypot(x - kx, y - ky) < r + kr for kx, ky, kr in keep_clear):
            continue
        trunks.append(CylinderObstacle(center_m=(x, y, 0.0), radius_m=r, height_m=spec.height_m))
    return tuple(trunks)


def expand_obstacles(
    specs: Sequence[ObstacleSpec],
    seed: int,
    keep_clear: Sequence[tuple[float, float, float]] = (),
) -> tuple[Obstacle, ...]:
    """All primitive obstacles of a world: forests expanded in order from one stream,
    `rng_for(seed, "forest")`, so the same seed gives the same trunks."""
    rng = rng_for(seed, "forest")
    out: list[Obstacle] = []
    for spec in specs:
        if isinstance(spec, ForestSpec):
            out.extend(expand_forest(spec, rng, keep_clear))
        elif isinstance(spec, BoxObstacle | CylinderObstacle | SphereObstacle):
            out.append(spec)
        else:
            raise TypeError(f"not an obstacle spec: {spec!r}")
    return tuple(out)


_MAPPING_KEYS = {
    "box": {"type", "center", "size", "yaw_deg", "velocity_mps", "path"},
    "cylinder": {"type", "center", "radius", "height", "velocity_mps", "path"},
    "sphere": {"type", "center", "radius", "velocity_mps", "path"},
    "forest": {"type", "area", "density_per_m2", "radius", "height"},
}


def obstacle_from_mapping(item: Mapping[str, Any]) -> ObstacleSpec:
    """The spec of one SCENARIOS.md obstacle written as a mapping (YAML keys, SI units).

    Keys whose value is None are treated as absent (a pydantic `model_dump()` writes them).
    An unknown type or key raises ValueError naming it.
    """
    present = {k: v for k, v in item.items() if v is not None}
    kind = present.get("type")
    if kind not in _MAPPING_KEYS:
        raise ValueError(f"obstacle type must be one of {sorted(_MAPPING_KEYS)}, got {kind!r}")
    unknown = sorted(set(present) - _MAPPING_KEYS[kind])
    if unknown:
        raise ValueError(f"{kind} obstacle: unsupported key(s) {', '.join(unknown)}")
    path = present.get("path")
    motion: dict[str, Any] = {
        "center_m": present.get("center"),
        "velocity_mps": present.get("velocity_mps"),
        "path": tuple(tuple(p) for p in path) if path is not None else None,
    }
    if kind == "box":
        return BoxObstacle(size_m=present["size"], yaw_deg=present.get("yaw_deg", 0.0), **motion)
    if kind == "sphere":
        return SphereObstacle(radius_m=present["radius"], **motion)
    if kind == "cylinder":
        return CylinderObstacle(radius_m=present["radius"], height_m=present["height"], **motion)
    return ForestSpec(
        area_m=present["area"],
        density_per_m2=present["density_per_m2"],
        radius_m=present["radius"],
        height_m=present["height"],
    )


class _TrunkGroup:
    """Static vertical cylinders of one height in numpy arrays (one vectorised query).

    The query writes into preallocated buffers (no per-call allocation, ~2× faster); a group
    therefore serves one caller at a time, as the single-threaded simulator does.
    """

    def __init__(self, height_m: float, cylinders: Sequence[CylinderObstacle]) -> None:
        self.half_height_m = 0.5 * height_m
        self.x = np.array([c.center_m[0] for c in cylinders])  # type: ignore[index]
        self.y = np.array([c.center_m[1] for c in cylinders])  # type: ignore[index]
        self.radius = np.array([c.radius_m for c in cylinders])
        self._dx = np.empty_like(self.x)
        self._dy = np.empty_like(self.y)

    def signed_distance_m(self, point: Vec3) -> float:
        # The cylinder SDF grows monotonically with the radial distance for a fixed axial
        # one, and all trunks of the group share the axial distance: the nearest trunk is
        # the one with the smallest radial distance.
        dx, dy = self._dx, self._dy
        np.subtract(self.x, point[0], out=dx)
        np.subtract(self.y, point[1], out=dy)
        np.hypot(dx, dy, out=dx)
        np.subtract(dx, self.radius, out=dx)
        radial = float(dx.min())
        axial = abs(point[2] - self.half_height_m) - self.half_height_m
        return _cylinder_signed_distance(radial, axial)


class ObstacleField:
    """All obstacles of a world, for exact nearest-distance queries at any time.

    Static cylinders sharing a height (a forest's trunks) are grouped into numpy arrays when
    there are at least `VECTORISE_MIN_TRUNKS` of them; every other obstacle is queried with
    its scalar signed-distance function.
    """

    def __init__(self, obstacles: Sequence[Obstacle]) -> None:
        self.obstacles: tuple[Obstacle, ...] = tuple(obstacles)
        by_height: dict[float, list[CylinderObstacle]] = {}
        for o in self.obstacles:
            if isinstance(o, CylinderObstacle) and not o.is_moving:
                by_height.setdefault(o.height_m, []).append(o)
        grouped: set[int] = set()
        self._groups: list[_TrunkGroup] = []
        for height, cylinders in by_height.items():
            if len(cylinders) >= VECTORISE_MIN_TRUNKS:
                self._groups.append(_TrunkGroup(height, cylinders))
                grouped.update(id(c) for c in cylinders)
        self._scalar: tuple[Obstacle, ...] = tuple(
            o for o in self.obstacles if id(o) not in grouped
        )
        self.max_speed_mps: float = max((o.max_speed_mps for o in self.obstacles), default=0.0)
        """Largest speed of any obstacle [m/s]: distances change at most this fast (+ the
        vehicle's own speed)."""

    def __len__(self) -> int:
        return len(self.obstacles)

    def signed_distance_m(self, point: Vec3, t_s: float) -> float:
        """Exact signed distance [m] from `point` to the nearest obstacle; inf if none."""
        best = math.inf
        for group in self._groups:
            d = group.signed_distance_m(point)
            if d < best:
                best = d
        for o in self._scalar:
            d = o.signed_distance_m(point, t_s)
            if d < best:
                best = d
        return best

    def clearance_m(self, point: Vec3, t_s: float, body_radius_m: float) -> float:
        """Distance [m] from the surface of a sphere of `body_radius_m` around `point` to the
        nearest obstacle at `t_s` (≤ 0: the sphere touches or overlaps one); inf if none."""
        return self.signed_distance_m(point, t_s) - body_radius_m

    def snapshot(self, t_s: float) -> list[Obstacle]:
        """Every obstacle as a static shape placed where it is at `t_s` (for plotting)."""
        return [o.at(t_s) if o.is_moving else o for o in self.obstacles]
