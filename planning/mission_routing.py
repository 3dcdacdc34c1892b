"""Mission legs re-planned around restricted airspace when the mission is loaded.

The mission planner flies straight legs (through a smooth minimum-snap reference); a leg that
crosses an enforced exclusion volume is replaced by the shortest route around it
(`kestrel.planning.routing`, a visibility graph on the inflated shapes), and a waypoint inside a
volume — or outside the inclusion area — is refused with the zone's name and identifier. The
safety filter still guards every command: routing only spares it from having to stop the
vehicle at a boundary the mission could have gone around.

Which volumes: those restricting the vehicle (its authorisations) and active when the mission
is loaded (t = 0). A zone that activates later is the safety filter's business.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

import shapely

from .airspace.local import LocalAirspace, LocalVolume
from .airspace.model import ZoneKind
from .mission import MissionPlan
from .routing import KeepOutVolume, RoutingError, route_waypoints

ROUTE_CLEARANCE_M = 20.0
"""Horizontal distance routes keep from a restricted volume: beyond the safety filter's own
stand-off (body 0.36 m + 0.5 m margin + 3σ of a standard receiver's ~1 m) plus the room its
braking barrier wants when the smoothed reference approaches a via-point at an angle (with
10 m, a 10 m/s return leg was braked once; with 20 m, not), so that a routed mission is not
braked by the filter."""

FALLBACK_CLEARANCES_M = (10.0, 5.0, 2.0)
"""Smaller clearances tried when a waypoint lies within the preferred one."""

WAYPOINT_MARGIN_M = 1.0
"""A waypoint must keep the body (0.36 m) and this much more from a zone."""

CIRCLE_SEGMENTS_PER_QUADRANT = 32


def _footprint(volume: LocalVolume) -> shapely.Geometry:
    if volume.polygon is not None:
        return volume.polygon
    # Circumscribe the circle so that the polygon covers it entirely.
    n = 4 * CIRCLE_SEGMENTS_PER_QUADRANT
    radius = volume.radius_m / math.cos(math.pi / n)
    return shapely.Point(volume.circle_xy_m).buffer(radius, quad_segs=CIRCLE_SEGMENTS_PER_QUADRANT)


def keep_out_volumes(airspace: LocalAirspace, t_s: float = 0.0) -> list[KeepOutVolume]:
    """The enforced exclusion volumes at t_s, as the router takes them."""
    out = []
    for i in airspace.enforced(t_s):
        v = airspace.volumes[i]
        if v.kind is not ZoneKind.EXCLUSION:
            continue
        out.append(
            KeepOutVolume(
                polygon=_footprint(v),
                floor_z_m=v.floor_z_m,
                ceiling_z_m=v.ceiling_z_m,
                name=v.zone.name or v.zone.identifier,
                identifier=v.zone.identifier,
            )
        )
    return out


def check_inclusion(plan: MissionPlan, airspace: LocalAirspace, t_s: float = 0.0) -> None:
    """Refuse waypoints outside the inclusion area (when the airspace has one)."""
    inclusion = [
        i for i in airspace.enforced(t_s) if airspace.volumes[i].kind is ZoneKind.INCLUSION
    ]
    if not inclusion:
        return
    for k, wp in enumerate(plan.waypoints_enu_m):
        if not any(airspace.volumes[i].legal_margin_m(wp) > 0.0 for i in inclusion):
            v = airspace.volumes[inclusion[0]]
            raise RoutingError(
                f"waypoint {k} is outside the inclusion area {v.zone.name!r} ({v.zone.identifier})"
            )


def route_mission(
    plan: MissionPlan, airspace: LocalAirspace, clearance_m: float = ROUTE_CLEARANCE_M
) -> MissionPlan:
    """The plan with via-points inserted where a leg (take-off point included) crosses an
    enforced exclusion volume. Raises RoutingError naming the waypoint and the zone."""
    check_inclusion(plan, airspace)
    keep_out = keep_out_volumes(airspace)
    if not keep_out or not plan.waypoints_enu_m:
        return plan
    check_waypoints_outside(plan, airspace)
    # A legal waypoint may lie closer to a zone than the preferred clearance: route with the
    # largest clearance that the waypoints allow.
    last: RoutingError | None = None
    for clearance in (clearance_m, *(c for c in FALLBACK_CLEARANCES_M if c < clearance_m)):
        try:
            return _route(plan, keep_out, clearance)
        except RoutingError as exc:
            last = exc
    assert last is not None
    raise last


def check_waypoints_outside(plan: MissionPlan, airspace: LocalAirspace, t_s: float = 0.0) -> None:
    """Refuse a waypoint (or the take-off point) whose body would overlap an enforced
    exclusion volume, naming the zone."""
    sx, sy, sz = plan.start_position_enu_m
    named = [("the take-off point", (sx, sy, sz + plan.takeoff_alt_m))]
    named += [(f"waypoint {k}", wp) for k, wp in enumerate(plan.waypoints_enu_m)]
    for i in airspace.enforced(t_s):
        v = airspace.volumes[i]
        if v.kind is not ZoneKind.EXCLUSION:
            continue
        for name, point in named:
            if v.legal_margin_m(point) < WAYPOINT_MARGIN_M:
                label = v.zone.name or v.zone.identifier
                raise RoutingError(
                    f"{name} {tuple(round(c, 2) for c in point)} is inside zone {label!r} "
                    f"({v.zone.identifier}) or within {WAYPOINT_MARGIN_M} m of it"
                )


def _route(plan: MissionPlan, keep_out: list[KeepOutVolume], clearance_m: float) -> MissionPlan:
    sx, sy, sz = plan.start_position_enu_m
    climb_top = (sx, sy, sz + plan.takeoff_alt_m)
    points = [climb_top, *plan.waypoints_enu_m]
    if plan.then == "return":
        # The way home is a leg too: its via-points become the last waypoints, and the
        # mission's own return leg then starts from the last of them, clear of the zones.
        points.append((sx, sy, plan.waypoints_enu_m[-1][2]))
    try:
        routed = route_waypoints(points, keep_out, clearance_m)
    except RoutingError as exc:
        # The router counts the take-off point as waypoint 0; the scenario does not.
        raise RoutingError(_renumber(str(exc))) from None
    if plan.then == "return":
        routed = routed[:-1]
    return replace(plan, waypoints_enu_m=tuple(tuple(p) for p in routed[1:]))


def _renumber(message: str) -> str:
    def shift(m: re.Match[str]) -> str:
        k = int(m.group(2)) - 1
        return f"{m.group(1)}{k}" if k >= 0 else "the take-off point"

    message = re.sub(r"\b(waypoint )(\d+)", shift, message)
    return re.sub(
        r"\bleg (\d+)→(\d+)",
        lambda m: (
            f"leg {int(m.group(1)) - 1}→{int(m.group(2)) - 1}"
            if int(m.group(1)) > 0
            else f"leg take-off→{int(m.group(2)) - 1}"
        ),
        message,
    )


def zone_conflicts(plan: MissionPlan, airspace: LocalAirspace, t_s: float = 0.0) -> list[str]:
    """Human-readable lines for each waypoint inside, and each straight leg entering, a volume
    enforced at t_s (what `kestrel validate` lists). Legs count from the take-off point."""
    sx, sy, sz = plan.start_position_enu_m
    points = [(sx, sy, sz + plan.takeoff_alt_m), *plan.waypoints_enu_m]
    names = ["take-off", *(str(k) for k in range(len(plan.waypoints_enu_m)))]
    lines = []
    for i in airspace.enforced(t_s):
        v = airspace.volumes[i]
        label = v.zone.name or v.zone.identifier
        zone = f"zone {label!r} ({v.zone.identifier}) volume {v.volume_index}"
        footprint = _footprint(v)
        for k, wp in enumerate(plan.waypoints_enu_m):
            if v.legal_margin_m(wp) < 0.0:
                where = "outside the inclusion area" if v.kind is ZoneKind.INCLUSION else "inside"
                lines.append(f"waypoint {k} {_fmt(wp)} is {where} of {zone}")
        if v.kind is not ZoneKind.EXCLUSION:
            continue
        for k in range(len(points) - 1):
            a, b = points[k], points[k + 1]
            low, high = min(a[2], b[2]), max(a[2], b[2])
            if high < v.floor_z_m or low > v.ceiling_z_m:
                continue
            if shapely.intersects(shapely.LineString([a[:2], b[:2]]), footprint):
                lines.append(f"leg {names[k]}→{names[k + 1]} enters {zone}")
    return lines


def _fmt(p: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{x:.1f}" for x in p) + ")"
