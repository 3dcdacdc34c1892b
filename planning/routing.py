"""Routing around restricted airspace: shortest paths that keep a clearance from keep-out areas.

Pure plane geometry in ENU metres (x east, y north); altitudes only decide which volumes matter
for a leg (`route_waypoints`).

Why a visibility graph: among polygonal obstacles the shortest path between two points is a
polyline whose bends are obstacle vertices (Lozano-Pérez & Wesley, "An algorithm for planning
collision-free paths among polyhedral obstacles", CACM 22(10), 1979; de Berg et al.,
"Computational Geometry", 3rd ed., ch. 15). Keeping a clearance c from a shape is the same problem
among the shapes grown by c (their Minkowski sum with a disc of radius c, shapely's round
`buffer`). Only convex vertices can be bends, and a bend at a vertex only shortens the path if
the line through it is tangent there (both ring neighbours on one side): the *tangent* or
reduced visibility graph (Liu & Arimoto, "Path planning using a tangent graph for mobile robots
among polygonal and curved obstacles", IJRR 11(4), 1992). That test is a few numpy
cross products per candidate pair and discards most pairs before any geometry is tested.

Two grown shapes, so that floating point never decides whether a path is legal:
- the *collision* shape: every polygon buffered by r_check = c / cos(3π / (8·quad_segs)). A
  round buffer approximates each arc by chords; GEOS spreads an arc over a rounded number of
  chords, so one chord spans at most 1.5 quanta of π / (2·quad_segs) and sags at most
  r(1 − cos(3π / (8·quad_segs))). With this radius the chords lie at distance ≥ c from the
  original: a segment that does not touch the collision shape is at least c away from every
  keep-out polygon. (The collision shape is larger than the exact offset by up to
  c·(1/cos(3π / (8·quad_segs)) − 1), 0.27 % of c with the default 16 chords per quadrant.)
- the *vertex* shape: the union of the polygons buffered by r_vertex, chosen so its chords stay
  `gap` = r_check·vertex_margin_fraction + vertex_margin_m outside the collision shape, then
  Douglas–Peucker simplified with a tolerance below `gap` (so it still covers the collision
  shape and graph vertices stay few). Graph vertices are its convex vertices. An edge between
  two of them that grazes one of them passes `gap` away from the collision shape rather than on
  its boundary, so the edge test is robust; routes are longer than the exact optimum by about
  that margin.

Edges are tested in one vectorised shapely call (`shapely.intersects` against the prepared
union of the collision shapes), the shortest path is scipy's Dijkstra on the sparse graph.

Ends in the margin band: a start or goal between the collision and the vertex shape may see
none of the vertices; around it the vertex shape is cut back to hug the collision shape (see
`_Obstacles._carve_around`). If the goal is still unreachable and not enclosed, the search is
repeated with the margin scaled by 0.1 and 0.01 before giving up.

Known limits: passages between keep-out areas narrower than about twice the margin beyond the
clearance are closed in the vertex shape, so a route that would have to bend inside such a
passage is found only by the retries with a smaller margin; the route is the shortest in the
tangent graph of the vertex shape, which is up to about the margin per turn longer than the
exact optimum. `route_waypoints` avoids a volume over the whole leg when the leg's altitude
band (widened by the clearance) overlaps it, even if the leg only reaches that altitude
elsewhere.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse
import shapely
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import MultiPolygon, Polygon

from kestrel.params import ValidatedParams, param

log = logging.getLogger(__name__)

XY = tuple[float, float]
XYZ = tuple[float, float, float]

_SIN_EPS = 1e-9
"""Sines of turning/tangency angles below this count as collinear (neither side)."""

_PAIRS_PER_BLOCK = 500_000
"""Candidate pairs examined per numpy block at most (bounds memory for very large inputs)."""

_ROWS_PER_BLOCK = 64
"""Rows per block: small blocks skip most of the lower triangle, which is never a candidate."""

_TOUCH_M = 1e-6
"""A start, goal or waypoint closer than this to a grown polygon counts as inside it: an end on
its boundary could leave it along no segment that does not touch it."""

_MARGIN_SCALES = (1.0, 0.1, 0.01)
"""Vertex margins tried in turn: a start or goal inside the margin band, or a passage narrower
than twice the margin, may have no route in the first graph but one with a smaller margin."""


class RoutingError(ValueError):
    """No route keeps the clearance: a point inside a (grown) keep-out area, or no way through."""


@dataclass(frozen=True)
class RoutingParams(ValidatedParams):
    """How keep-out polygons are grown and the visibility graph is built (units and ranges).

    quad_segs: chords per quarter circle of every round buffer [-], [2, 64]; more is closer to
        the true offset curve and gives more graph vertices.
    vertex_margin_fraction: extra clearance of graph vertices, as a share of the clearance
        [-], [0, 1].
    vertex_margin_m: extra clearance of graph vertices on top of that [m], [0.01, 100]; also the
        only margin when the clearance is 0.
    simplify_fraction: Douglas–Peucker tolerance of the vertex shape as a share of its margin
        over the collision shape [-], [0, 0.9]; below 1 the simplified shape still covers the
        collision shape.
    """

    quad_segs: int = param(
        16, unit="-", low=2, high=64, description="chords per quarter circle of round buffers"
    )
    vertex_margin_fraction: float = param(
        0.02, unit="-", low=0.0, high=1.0, description="graph vertex margin per clearance"
    )
    vertex_margin_m: float = param(
        0.5, unit="m", low=0.01, high=100.0, description="graph vertex margin, absolute"
    )
    simplify_fraction: float = param(
        0.5, unit="-", low=0.0, high=0.9, description="simplify tolerance per vertex margin"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.quad_segs, bool) or not isinstance(self.quad_segs, int):
            raise ValueError(f"RoutingParams.quad_segs must be an int, got {self.quad_segs!r}")


@dataclass(frozen=True)
class KeepOutVolume:
    """A horizontal keep-out area between two heights (one restricted zone volume, ENU).

    polygon: the horizontal shape [m, ENU x/y]; a valid, non-empty shapely Polygon or
        MultiPolygon (holes allowed; a circle is a buffered point).
    floor_z_m: lower limit [m, ENU z]; -inf for "from the ground/unlimited".
    ceiling_z_m: upper limit [m, ENU z], ≥ floor_z_m; inf for unlimited.
    name: human-readable zone name (used in error messages).
    identifier: zone identifier, e.g. an ED-269 `identifier` (used in error messages).
    """

    polygon: Polygon
    floor_z_m: float
    ceiling_z_m: float
    name: str
    identifier: str

    def __post_init__(self) -> None:
        _check_polygon("polygon", self.polygon)
        if math.isnan(self.floor_z_m) or math.isnan(self.ceiling_z_m):
            raise ValueError("floor_z_m and ceiling_z_m must not be NaN")
        if self.floor_z_m > self.ceiling_z_m:
            raise ValueError(
                f"floor_z_m ({self.floor_z_m}) must not be above ceiling_z_m ({self.ceiling_z_m})"
            )


@dataclass(frozen=True)
class RouteResult:
    """A route and what it took to find it.

    path_xy: start, via-points, goal [m, ENU x/y].
    length_m: length of the path [m].
    graph_nodes: visibility graph nodes (start, goal, convex vertices); 0 for a straight leg.
    pairs_tested: candidate edges that passed the tangent test and were tested geometrically.
    graph_edges: edges kept (clear of every grown polygon).
    """

    path_xy: list[XY]
    length_m: float
    graph_nodes: int
    pairs_tested: int
    graph_edges: int


def route_around(
    start_xy: XY,
    goal_xy: XY,
    keep_out: Sequence[Polygon],
    clearance_m: float,
    *,
    params: RoutingParams | None = None,
) -> list[XY]:
    """Shortest path from start to goal staying at least `clearance_m` from every polygon.

    Returns the path as a list of points, the first `start_xy`, the last `goal_xy`; a straight
    leg clear of everything is `[start_xy, goal_xy]`. Raises RoutingError when the start or the
    goal is within the clearance of a polygon, or when no path exists (one of them enclosed).
    """
    return find_route(start_xy, goal_xy, keep_out, clearance_m, params=params).path_xy


def find_route(
    start_xy: XY,
    goal_xy: XY,
    keep_out: Sequence[Polygon],
    clearance_m: float,
    *,
    params: RoutingParams | None = None,
) -> RouteResult:
    """`route_around` with the path's length and the size of the graph searched."""
    _check_clearance(clearance_m)
    start = _xy("start_xy", start_xy)
    goal = _xy("goal_xy", goal_xy)
    for i, polygon in enumerate(keep_out):
        _check_polygon(f"keep_out[{i}]", polygon)
    obstacles = _Obstacles(list(keep_out), clearance_m, params or RoutingParams())
    for label, point in (("start", start), ("goal", goal)):
        hits = obstacles.containing(point)
        if hits:
            raise RoutingError(
                f"{label} ({point[0]:.2f}, {point[1]:.2f}) is within {clearance_m} m of "
                f"keep_out[{hits[0]}]"
            )
    return obstacles.route(start, goal)


def route_waypoints(
    points_xyz: Sequence[XYZ],
    keep_out: Sequence[KeepOutVolume],
    clearance_m: float,
    *,
    params: RoutingParams | None = None,
) -> list[XYZ]:
    """The waypoints with via-points inserted so that every leg avoids the keep-out volumes.

    A leg from a to b avoids, horizontally, the volumes whose [floor, ceiling] overlaps the
    leg's altitude band [min(z_a, z_b) − c, max(z_a, z_b) + c] (c = clearance_m); touching at
    exactly c is allowed. Inserted via-points take the altitude interpolated along the routed
    leg by path length, so they lie between the leg's end altitudes. The original waypoints are
    returned unchanged (same order, as float tuples).

    Raises RoutingError naming the waypoint index and the zone's name and identifier when a
    waypoint is within the clearance of a volume (inside it, inflated in 3-D as a prism), when
    a leg changes altitude into a volume's band above or below one of its ends, or when a leg
    has no route.
    """
    _check_clearance(clearance_m)
    params = params or RoutingParams()
    points = [_xyz(f"points_xyz[{i}]", p) for i, p in enumerate(points_xyz)]
    volumes = list(keep_out)
    for i, volume in enumerate(volumes):
        if not isinstance(volume, KeepOutVolume):
            raise ValueError(f"keep_out[{i}] must be a KeepOutVolume, got {type(volume).__name__}")
    c = clearance_m
    per_volume = [_Obstacles([v.polygon], c, params) for v in volumes]

    for i, (x, y, z) in enumerate(points):
        for volume, grown in zip(volumes, per_volume, strict=True):
            vertically_near = volume.floor_z_m - c < z < volume.ceiling_z_m + c
            if vertically_near and grown.containing((x, y)):
                raise RoutingError(
                    f"waypoint {i} is inside zone {volume.name!r} ({volume.identifier}): "
                    f"({x:.2f}, {y:.2f}, {z:.2f}) is within {c} m of its footprint and its "
                    f"altitude band [{volume.floor_z_m}, {volume.ceiling_z_m}] m"
                )

    routed: list[XYZ] = points[:1]
    cache: dict[tuple[int, ...], _Obstacles] = {}
    for leg, (a, b) in enumerate(itertools.pairwise(points)):
        low, high = min(a[2], b[2]) - c, max(a[2], b[2]) + c
        relevant = tuple(
            k for k, v in enumerate(volumes) if v.floor_z_m < high and v.ceiling_z_m > low
        )
        for k in relevant:
            for index, end in ((leg, a), (leg + 1, b)):
                if per_volume[k].containing((end[0], end[1])):
                    side = "below" if end[2] <= volumes[k].floor_z_m else "above"
                    raise RoutingError(
                        f"waypoint {index} is {side} zone {volumes[k].name!r} "
                        f"({volumes[k].identifier}) and leg {leg}→{leg + 1} changes altitude "
                        f"into the zone's band: add a waypoint that leaves its footprint first"
                    )
        if not relevant:
            routed.append(b)
            continue
        obstacles = cache.get(relevant)
        if obstacles is None:
            obstacles = _Obstacles([volumes[k].polygon for k in relevant], c, params)
            cache[relevant] = obstacles
        try:
            result = obstacles.route((a[0], a[1]), (b[0], b[1]))
        except RoutingError as exc:
            raise RoutingError(f"leg {leg}→{leg + 1}: {exc}") from exc
        routed.extend(_with_altitudes(result.path_xy, a[2], b[2])[1:-1])
        routed.append(b)
    return routed


def path_clearance_m(path_xy: Sequence[XY], keep_out: Sequence[Polygon]) -> float:
    """Smallest distance between the polyline `path_xy` and any polygon [m] (inf if none)."""
    if not keep_out:
        return math.inf
    line = shapely.LineString(path_xy) if len(path_xy) > 1 else shapely.Point(path_xy[0])
    return float(np.min(shapely.distance(np.asarray(keep_out, dtype=object), line)))


# --------------------------------------------------------------------------- internals


def _check_clearance(clearance_m: float) -> None:
    if not (isinstance(clearance_m, int | float) and math.isfinite(clearance_m)):
        raise ValueError(f"clearance_m must be a finite number, got {clearance_m!r}")
    if clearance_m < 0.0:
        raise ValueError(f"clearance_m must be ≥ 0, got {clearance_m!r}")


def _check_polygon(name: str, polygon: object) -> None:
    if not isinstance(polygon, Polygon | MultiPolygon):
        raise ValueError(f"{name} must be a shapely Polygon, got {type(polygon).__name__}")
    if polygon.is_empty:
        raise ValueError(f"{name} is empty")
    if not polygon.is_valid:
        raise ValueError(f"{name} is not a valid polygon: {shapely.is_valid_reason(polygon)}")


def _xy(name: str, value: Sequence[float]) -> XY:
    if len(value) != 2:
        raise ValueError(f"{name} must have 2 components, got {value!r}")
    x, y = float(value[0]), float(value[1])
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return (x, y)


def _xyz(name: str, value: Sequence[float]) -> XYZ:
    if len(value) != 3:
        raise ValueError(f"{name} must have 3 components, got {value!r}")
    x, y, z = float(value[0]), float(value[1]), float(value[2])
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return (x, y, z)


def _with_altitudes(path_xy: list[XY], z_start: float, z_end: float) -> list[XYZ]:
    """z interpolated along the path by the distance travelled."""
    xy = np.asarray(path_xy, dtype=float)
    run = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    share = run / run[-1] if run[-1] > 0.0 else np.zeros_like(run)
    z = z_start + (z_end - z_start) * share
    return [(float(p[0]), float(p[1]), float(h)) for p, h in zip(xy, z, strict=True)]


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """z of the cross product of 2-D vectors along the last axis (broadcasting)."""
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _norm(a: np.ndarray) -> np.ndarray:
    return np.hypot(a[..., 0], a[..., 1])


def _signed_area(ring: np.ndarray) -> float:
    """Shoelace area of an open ring (N, 2): positive when counter-clockwise."""
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


@dataclass(frozen=True)
class _Nodes:
    """Graph nodes: 0 = start, 1 = goal, then convex vertices.

    to_prev, to_next: vectors from each vertex to its ring neighbours (zero for start and goal,
    which any direction leaves "tangentially").
    """

    xy: np.ndarray  # (N, 2)
    to_prev: np.ndarray  # (N, 2)
    to_next: np.ndarray  # (N, 2)


class _Obstacles:
    """Keep-out polygons grown for one clearance: point and segment tests, graph, search."""

    def __init__(self, polygons: list[Polygon], clearance_m: float, params: RoutingParams) -> None:
        self.clearance_m = clearance_m
        self.params = params
        q = params.quad_segs
        # GEOS rounds the number of chords of a fillet (OffsetSegmentGenerator::
        # addDirectedFillet), so one chord may span up to 1.5 quanta of π / (2·quad_segs).
        cos_half = math.cos(1.5 * math.pi / (4 * q))
        self.r_check_m = clearance_m / cos_half
        self.cos_half = cos_half
        self.polygons = np.asarray(polygons, dtype=object)
        self.grown = (
            shapely.buffer(self.polygons, self.r_check_m, quad_segs=q)
            if clearance_m > 0.0
            else self.polygons
        )
        self._collision: shapely.Geometry | None = None

    # ---------------------------------------------------------------- tests
    def containing(self, point: XY) -> list[int]:
        """Indices of the grown polygons that the point touches (illegal start or goal)."""
        if not len(self.grown):
            return []
        hits = shapely.distance(self.grown, shapely.Point(point)) <= _TOUCH_M
        return [int(i) for i in np.flatnonzero(hits)]

    @property
    def collision(self) -> shapely.Geometry:
        """Union of the grown polygons, prepared for many segment tests."""
        if self._collision is None:
            union = shapely.union_all(self.grown)
            shapely.prepare(union)
            self._collision = union
        return self._collision

    def blocked(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Per segment a[k]→b[k]: does it touch the grown polygons?"""
        segments = shapely.linestrings(np.stack([a, b], axis=1))
        return shapely.intersects(self.collision, segments)

    # ---------------------------------------------------------------- graph
    def _nodes(self, start: XY, goal: XY, margin_scale: float) -> _Nodes:
        """Start, goal and the convex vertices of the vertex shape (see the module docstring),
        whose margin over the collision shape is scaled by `margin_scale`."""
        p = self.params
        gap_m = margin_scale * (self.r_check_m * p.vertex_margin_fraction + p.vertex_margin_m)
        r_vertex_m = (self.r_check_m + gap_m) / self.cos_half
        shape = shapely.union_all(shapely.buffer(self.polygons, r_vertex_m, quad_segs=p.quad_segs))
        tol_m = p.simplify_fraction * gap_m
        if tol_m > 0.0:
            shape = shapely.simplify(shape, tol_m, preserve_topology=True)
        # No point of the vertex shape is farther than this from the collision shape (which
        # holds the exact clearance offset): its vertices are at most r_vertex from a polygon,
        # and simplification moves its boundary by at most tol.
        band_m = r_vertex_m + tol_m - self.clearance_m
        for end in (start, goal):
            point = shapely.Point(end)
            if shapely.intersects(shape, point):
                shape = self._carve_around(shape, point, band_m)
        xy, to_prev, to_next = [np.array([start, goal])], [np.zeros((2, 2))], [np.zeros((2, 2))]
        for polygon in shapely.get_parts(shape):
            for k, ring in enumerate((polygon.exterior, *polygon.interiors)):
                c = shapely.get_coordinates(ring)[:-1]
                if len(c) < 3:
                    continue
                # Exterior counter-clockwise, holes clockwise: the keep-out side is then on the
                # left of every ring, so a left turn is a convex (keep-out side) corner.
                if (_signed_area(c) > 0.0) != (k == 0):
                    c = c[::-1]
                a, b = np.roll(c, 1, axis=0) - c, np.roll(c, -1, axis=0) - c
                # Left turn prev → c → next ⇔ cross(c − prev, next − c) = cross(b, a) > 0.
                sine = _cross(b, a) / np.maximum(_norm(a) * _norm(b), 1e-300)
                convex = sine > _SIN_EPS
                xy.append(c[convex])
                to_prev.append(a[convex])
                to_next.append(b[convex])
        return _Nodes(np.concatenate(xy), np.concatenate(to_prev), np.concatenate(to_next))

    def _carve_around(
        self, shape: shapely.Geometry, point: shapely.Point, band_m: float
    ) -> shapely.Geometry:
        """Vertex shape for an end inside it (in the margin band beside a grown polygon).

        Such an end may see none of the vertex shape's vertices. Within reach of the band
        (2·band_m around the end), the shape is cut back to the collision shape grown by half
        the end's free distance: it still covers the collision shape, the end is outside it,
        and the new vertices hug the collision shape where the end can see them.
        """
        free_m = float(shapely.distance(self.collision, point))
        reach_m = 2.0 * band_m + free_m
        x, y = point.x, point.y
        near = shapely.clip_by_rect(
            self.collision,
            x - 2.0 * reach_m,
            y - 2.0 * reach_m,
            x + 2.0 * reach_m,
            y + 2.0 * reach_m,
        )
        hug = shapely.buffer(near, 0.5 * free_m, quad_segs=self.params.quad_segs)
        cut = shapely.difference(point.buffer(reach_m, quad_segs=self.params.quad_segs), hug)
        return shapely.difference(shape, cut)

    def _edges(self, nodes: _Nodes) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Visible, tangent edges (i < j, length) and how many pairs were tested geometrically.

        A pair is a candidate when the line through it is tangent at both ends: at a vertex u
        with ring neighbours p and n, the direction d to the other node must not have p and n
        strictly on opposite sides (cross(d, p − u) and cross(d, n − u) of opposite signs).
        Near-collinear neighbours (|sine| below _SIN_EPS) count as on the line, so edges along
        a ring are kept. The test runs on blocks of rows against the later columns by
        broadcasting; the candidates are then tested against the collision shape in one call.
        """
        xy = nodes.xy
        n = len(xy)
        unit_p = nodes.to_prev / np.maximum(_norm(nodes.to_prev), 1e-300)[:, None]
        unit_n = nodes.to_next / np.maximum(_norm(nodes.to_next), 1e-300)[:, None]
        rows_per_block = max(1, min(_ROWS_PER_BLOCK, _PAIRS_PER_BLOCK // max(n, 1)))
        ii, jj = [], []
        for first in range(0, n - 1, rows_per_block):
            last = min(first + rows_per_block, n - 1)
            rows = np.arange(first, last)
            cols = slice(first + 1, n)
            dx = xy[None, cols, 0] - xy[first:last, None, 0]  # row node → column node
            dy = xy[None, cols, 1] - xy[first:last, None, 1]
            tol = _SIN_EPS * np.sqrt(dx * dx + dy * dy)
            candidate = np.arange(first + 1, n)[None, :] > rows[:, None]
            for at in (slice(first, last), cols):  # tangent at the row node, then the column
                shape = (-1, 1) if at is not cols else (1, -1)
                px, py = unit_p[at, 0].reshape(shape), unit_p[at, 1].reshape(shape)
                nx, ny = unit_n[at, 0].reshape(shape), unit_n[at, 1].reshape(shape)
                side_p = dx * py - dy * px
                side_n = dx * ny - dy * nx
                candidate &= ~(
                    (np.minimum(side_p, -side_n) > tol) | (np.minimum(-side_p, side_n) > tol)
                )
            r, c = np.nonzero(candidate)
            ii.append(rows[r])
            jj.append(c + first + 1)
        i, j = np.concatenate(ii), np.concatenate(jj)
        tested = len(i)
        clear = ~self.blocked(xy[i], xy[j])
        i, j = i[clear], j[clear]
        length = _norm(xy[j] - xy[i])
        return i, j, length, tested

    # ---------------------------------------------------------------- search
    def route(self, start: XY, goal: XY) -> RouteResult:
        direct = math.dist(start, goal)
        if not len(self.grown) or direct == 0.0:
            return RouteResult([start, goal], direct, 0, 0, 0)
        segment = shapely.LineString([start, goal])
        if not np.any(shapely.intersects(self.grown, segment)):
            return RouteResult([start, goal], direct, 0, 0, 0)

        for margin_scale in _MARGIN_SCALES:
            result = self._search(start, goal, margin_scale)
            if result is not None:
                return result
            enclosed = self._enclosed_end(start, goal)
            if enclosed is not None:
                raise RoutingError(
                    f"no path from ({start[0]:.2f}, {start[1]:.2f}) to ({goal[0]:.2f}, "
                    f"{goal[1]:.2f}): the {enclosed} is enclosed by keep-out areas (grown by "
                    f"the {self.clearance_m} m clearance)"
                )
            log.debug("no route with margin scale %g, retrying with a smaller one", margin_scale)
        raise RoutingError(
            f"no path from ({start[0]:.2f}, {start[1]:.2f}) to ({goal[0]:.2f}, {goal[1]:.2f}) "
            f"keeps {self.clearance_m} m clear: the only passages are too narrow or too winding "
            f"for the routing margin"
        )

    def _search(self, start: XY, goal: XY, margin_scale: float) -> RouteResult | None:
        """Shortest path in the tangent graph, None when the goal is not reachable in it."""
        nodes = self._nodes(start, goal, margin_scale)
        i, j, length, tested = self._edges(nodes)
        n = len(nodes.xy)
        # Coincident nodes would give zero weights, which a sparse graph reads as "no edge".
        weights = np.maximum(length, 1e-12)
        graph = scipy.sparse.csr_matrix((weights, (i, j)), shape=(n, n))
        distance, predecessor = dijkstra(graph, directed=False, indices=0, return_predecessors=True)
        log.debug(
            "routing graph: %d nodes, %d pairs tested, %d edges, %.1f m",
            n,
            tested,
            len(i),
            distance[1],
        )
        if not math.isfinite(distance[1]):
            return None
        order = [1]
        while order[-1] != 0:
            order.append(int(predecessor[order[-1]]))
        vias = [(float(nodes.xy[k, 0]), float(nodes.xy[k, 1])) for k in reversed(order[1:-1])]
        return RouteResult([start, *vias, goal], float(distance[1]), n, tested, len(i))

    def _enclosed_end(self, start: XY, goal: XY) -> str | None:
        """Which end is cut off ("goal", else "start") when they lie in different parts of the
        free plane (the named one in a hole of the grown keep-out areas); None if in the same."""
        where = {
            label: self._free_component(point)
            for label, point in (("start", start), ("goal", goal))
        }
        if where["start"] == where["goal"]:
            return None
        return "goal" if where["goal"] is not None else "start"

    def _free_component(self, point: XY) -> tuple[int, int] | None:
        """The innermost hole (part, ring index) of the grown union holding the point; None for
        the unbounded free plane."""
        p = shapely.Point(point)
        best: tuple[float, tuple[int, int]] | None = None
        for k, part in enumerate(shapely.get_parts(self.collision)):
            for h, ring in enumerate(part.interiors):
                hole = shapely.Polygon(ring)
                if hole.contains(p) and (best is None or hole.area < best[0]):
                    best = (hole.area, (k, h))
        return None if best is None else best[1]
