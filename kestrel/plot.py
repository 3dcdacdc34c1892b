"""The run's PNG: top view with obstacles, altitude over time, tracking error over time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: CI and onboard computers have no display
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import patches, transforms

from kestrel.bag import MarkerShape
from kestrel.metrics import VehicleTrace


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


def plot_run(
    path: Path,
    *,
    title: str,
    traces: Mapping[str, VehicleTrace],
    obstacles: Sequence[MarkerShape],
) -> None:
    fig = plt.figure(figsize=(12, 8), constrained_layout=True)
    grid = fig.add_gridspec(2, 2, width_ratios=[1.2, 1])
    top = fig.add_subplot(grid[:, 0])
    alt = fig.add_subplot(grid[0, 1])
    err = fig.add_subplot(grid[1, 1])
    for shape in obstacles:
        _draw_obstacle(top, shape)
    for vid, trace in traces.items():
        a = trace.as_arrays()
        if a["t_s"].size == 0:
            continue
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
    top.set(title=f"{title} — top view (ENU)", xlabel="east [m]", ylabel="north [m]")
    top.set_aspect("equal", adjustable="datalim")
    top.grid(True, alpha=0.3)
    top.legend(loc="best", fontsize=8)
    alt.set(title="altitude", xlabel="t [s]", ylabel="z [m]")
    alt.grid(True, alpha=0.3)
    alt.legend(loc="best", fontsize=8)
    err.set(title="tracking error (mission phases)", xlabel="t [s]", ylabel="|p − p_ref| [m]")
    err.grid(True, alpha=0.3)
    if np.any([np.isfinite(t.as_arrays()["tracking_error_m"]).any() for t in traces.values()]):
        err.legend(loc="best", fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
