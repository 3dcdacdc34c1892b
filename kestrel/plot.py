"""The run's PNG: top view with obstacles and zones, altitude over time, tracking error over time.

Zones are drawn by what they mean for the vehicles (kestrel.bag.ZoneStyle, the same colours as the
run log's `/airspace/zones` markers): restricted exclusion volumes filled red, inclusion
boundaries outlined green, volumes restricting only some vehicles dashed orange, and volumes that
restrict nobody (warn-only, authorised) dashed grey. A zone file can span 10 km around a 100 m
flight, so with zones the top view is framed on the trajectory (padded) plus the zones near it,
not on every zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: CI and onboard computers have no display
import matplotlib.pyplot as plt
import numpy as np
import shapely
import shapely.ops
from matplotlib import patches, transforms
from matplotlib.figure import Figure
from matplotlib.path import Path as MplPath
from shapely.geometry.polygon import orient

from kestrel.bag import ZONE_FILL_ALPHA, ZONE_RGB, MarkerShape, ZoneDrawing, ZoneStyle
from kestrel.metrics import VehicleTrace

Bounds = tuple[float, float, float, float]
"""(x_min, y_min, x_max, y_max) in ENU metres."""

VIEW_PAD_MIN_M = 50.0
"""Least margin around the trajectory in the top view [m]."""
VIEW_PAD_FRACTION = 0.2
"""Margin around the trajectory as a fraction of its extent along each axis (used if larger)."""
NEARBY_REACH_MIN_M = 250.0
"""A zone or obstacle is framed in the top view when it lies wholly within this distance of the
trajectory's bounding box [m], or within the trajectory's own extent if that is larger."""
ALTITUDE_NEAR_M = 50.0
"""A zone's floor and ceiling are drawn in the altitude view when the trajectory passes within
this horizontal distance of (or through) the zone [m]…"""
ALTITUDE_MARGIN_MIN_M = 30.0
"""…and the limit lies within this height of the flown altitudes [m] (or half their range)."""

_LINESTYLE = {
    ZoneStyle.RESTRICTED: "-",
    ZoneStyle.INCLUSION: "-",
    ZoneStyle.MIXED: "--",
    ZoneStyle.ADVISORY: "--",
}
_LEGEND = {
    ZoneStyle.RESTRICTED: "zone: restricted (keep out)",
    ZoneStyle.INCLUSION: "zone: inclusion (stay within)",
    ZoneStyle.MIXED: "zone: restricts some vehicles",
    ZoneStyle.ADVISORY: "zone: not restricting (warn / authorised)",
}


def _draw_obstacle(ax: plt.Axes, shape: MarkerShape) -> None:
    x, y, _ = shape.position_enu_m
    sx, sy, _ = shape.size_m
    style = {"facecolor": "#8c7355", "edgecolor": "#4d3f2e", "alpha": 0.6}
    if shape.kind == "cube":
        rect = patches.Rectangle((x - sx / 2, y - sy / 2), sx, sy, **style)
        rect.set_transform(transforms.Affine2D().rotate_around(x, y, shape.yaw_rad) + ax.transData)
        ax.add_patch(rect)
    else:
        ax.add_patch(patches.Circle((x, y), sx / 2, **style))


# ---------------------------------------------------------------- zones, top view
def _style_kwargs(style: ZoneStyle) -> dict[str, object]:
    rgb = ZONE_RGB[style]
    alpha = ZONE_FILL_ALPHA[style]
    return {
        "facecolor": (*rgb, alpha) if alpha > 0.0 else "none",
        "edgecolor": rgb,
        "linestyle": _LINESTYLE[style],
        "linewidth": 1.5,
    }


def _polygon_path(polygon: shapely.Polygon) -> MplPath:
    """One path for a polygon with holes: exterior counter-clockwise, holes clockwise, so that
    matplotlib's non-zero fill rule leaves the holes empty."""
    oriented = orient(polygon, 1.0)
    vertices, codes = [], []
    for ring in (oriented.exterior, *oriented.interiors):
        xy = np.asarray(ring.coords)[:, :2]
        vertices.append(xy)
        codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY]
    return MplPath(np.concatenate(vertices), codes)


def _part_geometries(zone: ZoneDrawing) -> list[shapely.Polygon]:
    """The zone's parts as shapely polygons (a circle approximated, for framing and labels)."""
    volume = zone.volume
    if volume.polygon is None:
        return [shapely.Point(volume.circle_xy_m).buffer(volume.radius_m, quad_segs=16)]
    return zone.polygons()


def zone_patches(zones: Sequence[ZoneDrawing]) -> list[patches.Patch]:
    """One matplotlib patch per volume part (each polygon of a multipolygon, holes kept, or the
    circle), styled by its ZoneStyle and labelled with its zone identifier."""
    out: list[patches.Patch] = []
    for zone in zones:
        style = _style_kwargs(zone.style)
        volume = zone.volume
        if volume.polygon is None:
            out.append(
                patches.Circle(volume.circle_xy_m, volume.radius_m, label=zone.identifier, **style)
            )
            continue
        for part in zone.polygons():
            out.append(patches.PathPatch(_polygon_path(part), label=zone.identifier, **style))
    return out


def view_limits(points_xy: np.ndarray, nearby: Sequence[Bounds] = ()) -> Bounds | None:
    """Top-view frame: the trajectory points' bounds padded by max(VIEW_PAD_MIN_M,
    VIEW_PAD_FRACTION × extent) per axis, grown to hold every `nearby` box that lies wholly
    within max(NEARBY_REACH_MIN_M, trajectory extent) of the trajectory. None without points."""
    xy = np.asarray(points_xy, dtype=float).reshape(-1, 2)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if xy.size == 0:
        return None
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    pad_x = max(VIEW_PAD_MIN_M, VIEW_PAD_FRACTION * (x1 - x0))
    pad_y = max(VIEW_PAD_MIN_M, VIEW_PAD_FRACTION * (y1 - y0))
    frame = [x0 - pad_x, y0 - pad_y, x1 + pad_x, y1 + pad_y]
    reach = max(NEARBY_REACH_MIN_M, x1 - x0, y1 - y0)
    for bx0, by0, bx1, by1 in nearby:
        if bx0 >= x0 - reach and by0 >= y0 - reach and bx1 <= x1 + reach and by1 <= y1 + reach:
            frame = [min(frame[0], bx0), min(frame[1], by0), max(frame[2], bx1), max(frame[3], by1)]
    return (float(frame[0]), float(frame[1]), float(frame[2]), float(frame[3]))


def _draw_zones(ax: plt.Axes, zones: Sequence[ZoneDrawing], frame: Bounds | None) -> None:
    """Zone patches and labels. Added as plain artists so that they do not stretch the data
    limits (the caller frames the view); each part is labelled on its top-most edge in view, and
    zones around the whole view (edges all outside it) are named in its corner."""
    for patch in zone_patches(zones):
        patch.set_zorder(1)
        ax.add_artist(patch)
    view = shapely.box(*frame) if frame is not None else None
    around: list[str] = []
    for zone in zones:
        for part in _part_geometries(zone):
            edge = part.boundary if view is None else shapely.intersection(part.boundary, view)
            if edge.is_empty:
                if view is not None and part.contains(view) and zone.identifier not in around:
                    around.append(zone.identifier)
                continue
            x0, _, x1, y1 = edge.bounds
            anchor, _ = shapely.ops.nearest_points(edge, shapely.Point(0.5 * (x0 + x1), y1))
            ax.text(
                anchor.x,
                anchor.y,
                zone.identifier,
                color=ZONE_RGB[zone.style],
                fontsize=7,
                ha="center",
                va="bottom",
                clip_on=True,
                zorder=3,
            )
    if around:
        ax.text(
            0.01,
            0.99,
            "within: " + ", ".join(around),
            transform=ax.transAxes,
            color=ZONE_RGB[ZoneStyle.ADVISORY],
            fontsize=7,
            ha="left",
            va="top",
            zorder=3,
        )


# ---------------------------------------------------------------- zones, altitude view
def altitude_limits(
    zones: Sequence[ZoneDrawing], points_xy: np.ndarray, z_range_m: tuple[float, float]
) -> list[tuple[ZoneDrawing, str, float]]:
    """(zone, "floor" | "ceiling", z) for each finite limit worth drawing over the altitude plot:
    the trajectory passes within ALTITUDE_NEAR_M horizontally of the zone, and the limit lies
    within max(ALTITUDE_MARGIN_MIN_M, half the flown range) of the flown altitudes `z_range_m`.
    Floors at or below the ground (z ≤ 0) are left out: nothing flies under them."""
    xy = np.asarray(points_xy, dtype=float).reshape(-1, 2)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if xy.size == 0:
        return []
    xy = xy[:: max(1, len(xy) // 400)]
    z_lo, z_hi = z_range_m
    margin = max(ALTITUDE_MARGIN_MIN_M, 0.5 * (z_hi - z_lo))
    points = shapely.points(xy)
    out = []
    for zone in zones:
        volume = zone.volume
        if volume.polygon is None:
            cx, cy = volume.circle_xy_m  # type: ignore[misc]
            gap = float(np.min(np.hypot(xy[:, 0] - cx, xy[:, 1] - cy))) - volume.radius_m
        else:
            gap = float(np.min(shapely.distance(volume.polygon, points)))
        if gap > ALTITUDE_NEAR_M:
            continue
        for which, z in (("floor", volume.floor_z_m), ("ceiling", volume.ceiling_z_m)):
            if not np.isfinite(z) or (which == "floor" and z <= 0.0):
                continue
            if z_lo - margin <= z <= z_hi + margin:
                out.append((zone, which, float(z)))
    return out


def _draw_altitude_limits(ax: plt.Axes, limits: Sequence[tuple[ZoneDrawing, str, float]]) -> None:
    for zone, which, z in limits:
        rgb = ZONE_RGB[zone.style]
        ax.axhline(z, color=rgb, linestyle=_LINESTYLE[zone.style], linewidth=1, zorder=1)
        ax.text(
            0.99,
            z,
            f"{zone.identifier} {which}",
            transform=ax.get_yaxis_transform(),
            color=rgb,
            fontsize=7,
            ha="right",
            va="bottom",
        )


def _obstacle_bounds(shape: MarkerShape) -> Bounds:
    x, y, _ = shape.position_enu_m
    half = 0.5 * max(shape.size_m[0], shape.size_m[1]) * (2.0**0.5 if shape.kind == "cube" else 1)
    return (x - half, y - half, x + half, y + half)


# ---------------------------------------------------------------- the figure
def figure_run(
    *,
    title: str,
    traces: Mapping[str, VehicleTrace],
    obstacles: Sequence[MarkerShape],
    zones: Sequence[ZoneDrawing] = (),
) -> Figure:
    """The run's figure (top view, altitude, tracking error); the caller saves and closes it."""
    fig = plt.figure(figsize=(12, 8), constrained_layout=True)
    grid = fig.add_gridspec(2, 2, width_ratios=[1.2, 1])
    top = fig.add_subplot(grid[:, 0])
    alt = fig.add_subplot(grid[0, 1])
    err = fig.add_subplot(grid[1, 1])
    for shape in obstacles:
        _draw_obstacle(top, shape)
    flown_xy, flown_z = [], []
    for vid, trace in traces.items():
        a = trace.as_arrays()
        if a["t_s"].size == 0:
            continue
        flown_xy += [a["truth_m"][:, :2], a["reference_m"][:, :2]]
        flown_z.append(a["truth_m"][:, 2])
        (line,) = top.plot(a["truth_m"][:, 0], a["truth_m"][:, 1], lw=1.5, label=f"{vid} truth")
        top.plot(
            a["reference_m"][:, 0],
            a["reference_m"][:, 1],
            "--",
            lw=1,
            color=line.get_color(),
            alpha=0.7,
            label=f"{vid} reference",
        )
        alt.plot(a["t_s"], a["truth_m"][:, 2], color=line.get_color(), label=f"{vid} truth")
        alt.plot(
            a["t_s"], a["estimate_m"][:, 2], ":", color=line.get_color(), label=f"{vid} estimate"
        )
        err.plot(a["t_s"], a["tracking_error_m"], color=line.get_color(), label=vid)
    handles: list[object] = [ln for ln in top.get_lines() if not ln.get_label().startswith("_")]
    if zones:
        xy = np.concatenate(flown_xy) if flown_xy else np.zeros((0, 2))
        nearby = [p.bounds for z in zones for p in _part_geometries(z)]
        nearby += [_obstacle_bounds(s) for s in obstacles]
        frame = view_limits(xy, nearby)
        _draw_zones(top, zones, frame)
        corners = [(frame[0], frame[1]), (frame[2], frame[3])] if frame is not None else []
        if frame is None:  # nothing flown: show every zone
            corners = [(b[0], b[1]) for b in nearby] + [(b[2], b[3]) for b in nearby]
        top.update_datalim(corners)
        top.autoscale_view()
        z = np.concatenate(flown_z) if flown_z else np.zeros(0)
        z = z[np.isfinite(z)]
        if z.size:
            limits = altitude_limits(zones, xy, (float(z.min()), float(z.max())))
            _draw_altitude_limits(alt, limits)
        for style in ZoneStyle:
            if any(zone.style is style for zone in zones):
                handles.append(patches.Patch(**_style_kwargs(style), label=_LEGEND[style]))
    top.set(title=f"{title} — top view (ENU)", xlabel="east [m]", ylabel="north [m]")
    top.set_aspect("equal", adjustable="datalim")
    top.grid(True, alpha=0.3)
    top.legend(handles=handles, loc="best", fontsize=8)
    alt.set(title="altitude", xlabel="t [s]", ylabel="z [m]")
    alt.grid(True, alpha=0.3)
    alt.legend(loc="best", fontsize=8)
    err.set(title="tracking error (mission phases)", xlabel="t [s]", ylabel="|p − p_ref| [m]")
    err.grid(True, alpha=0.3)
    if np.any([np.isfinite(t.as_arrays()["tracking_error_m"]).any() for t in traces.values()]):
        err.legend(loc="best", fontsize=8)
    return fig


def plot_run(
    path: Path,
    *,
    title: str,
    traces: Mapping[str, VehicleTrace],
    obstacles: Sequence[MarkerShape],
    zones: Sequence[ZoneDrawing] = (),
) -> None:
    """Write the run's figure (figure_run) as a PNG at `path`."""
    fig = figure_run(title=title, traces=traces, obstacles=obstacles, zones=zones)
    try:
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
