"""Geofence metrics from ground truth: `geofence_breaches` and `min_zone_margin_m` (SCENARIOS.md).

`ZoneProbe` samples the true position at the ground-truth rate and, for every volume that
restricts its vehicle, the signed distance from the *body* (a sphere of `body_radius_m`) to the
volume's boundary, positive on the legal side. A breach is an *entry*: the body going from the
legal side to overlap while the volume is active in both samples. A volume that becomes active
with the body already overlapping is not a breach (that is a failsafe event for the filter);
once the body is clear of it, a later entry counts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely

from kestrel.component import Component, Port
from kestrel.geodesy import GeoOrigin
from kestrel.messages import GroundTruth, ZoneUpdate
from kestrel.planning.airspace.local import LocalAirspace
from kestrel.planning.airspace.model import ZoneKind
from kestrel.planning.airspace.updates import AirspaceUpdater
from kestrel.planning.zone_feed import ZONE_UPDATES_TOPIC

ZONE_PROBE_RATE_HZ = 250.0
"""Ground truth's own rate: at 15 m/s the body moves 6 cm between samples."""

INCLUSION_KEY = -1
"""Breach-tracking key of the union of inclusion volumes (volumes use id(LocalVolume))."""

NEAR_FIELD_M = 50.0
"""Volumes whose horizontal bounding box is farther than this are not evaluated exactly; their
margin is bounded below by the box distance (enough for a minimum over the whole flight)."""


class ZoneProbe(Component):
    """Ports: truth (sim/ground_truth), zone_updates (/airspace/zone_updates). Outputs: none.

    Live updates are merged exactly as the vehicle merges them (AirspaceUpdater), so the
    metric judges the airspace in force at each instant."""

    reads_ground_truth = True
    rate_hz = ZONE_PROBE_RATE_HZ
    inputs = {
        "truth": Port(GroundTruth, "sim/ground_truth"),
        "zone_updates": Port(ZoneUpdate, ZONE_UPDATES_TOPIC, queued=True),
    }
    outputs = {}

    def __init__(
        self,
        name: str,
        namespace: str,
        *,
        airspace: LocalAirspace,
        body_radius_m: float,
        origin: GeoOrigin | None = None,
        authorisations: frozenset[str] = frozenset(),
    ):
        super().__init__(name, namespace)
        self.updater = AirspaceUpdater(airspace, origin or GeoOrigin(), authorisations)
        self.body_radius_m = body_radius_m
        self.breaches: list[dict[str, Any]] = []
        self.min_margin_m = math.inf
        self._legal: dict[int, bool] = {}  # id(LocalVolume) → on the legal side
        self._use(airspace)

    def _use(self, airspace: LocalAirspace) -> None:
        self.airspace = airspace
        self._exclusion = np.array(
            [v.kind is ZoneKind.EXCLUSION for v in airspace.volumes], dtype=bool
        )

    def step(
        self, t_s: float, truth: GroundTruth | None, zone_updates: list[ZoneUpdate] | None = None
    ) -> None:
        for update in zone_updates or ():
            if self.updater.apply(update.source, update.document_json):
                self._use(self.updater.airspace)
        if truth is None:
            return
        p = truth.position_enu_m
        enforced = set(self.airspace.enforced(t_s))
        if not enforced and not self._legal:
            return
        box_distance = self.airspace.box_distances_m(p[0], p[1])
        volumes = self.airspace.volumes
        enforced_ids = {id(volumes[i]) for i in enforced}
        for key in [k for k in self._legal if k != INCLUSION_KEY and k not in enforced_ids]:
            del self._legal[key]  # inactive: any later activation starts afresh
        inclusion_margin = -math.inf  # the union of inclusion volumes counts as one
        inclusion_label = ""
        inclusion = [i for i in enforced if volumes[i].kind is ZoneKind.INCLUSION]
        enforced_mask = np.zeros(len(volumes), dtype=bool)
        enforced_mask[list(enforced)] = True
        far = enforced_mask & self._exclusion & (box_distance > NEAR_FIELD_M)
        if far.any():
            # Far exclusion volumes: legal, and their box distance bounds the margin below.
            self._judge_far(float(box_distance[far].min()) - self.body_radius_m)
        for i in np.nonzero(enforced_mask & ~far)[0]:
            volume = volumes[i]
            if volume.kind is ZoneKind.INCLUSION:
                m = volume.legal_margin_m(p) - self.body_radius_m
                if m > inclusion_margin:
                    inclusion_margin, inclusion_label = m, volume.label
                continue
            margin = volume.legal_margin_m(p) - self.body_radius_m
            self._judge(id(volume), margin, t_s, volume.label)
        if len(inclusion) > 1:
            union_margin = self._union_margin_m(p, inclusion)
            if union_margin is not None:
                inclusion_margin = union_margin - self.body_radius_m
        if math.isfinite(inclusion_margin):
            self._judge(INCLUSION_KEY, inclusion_margin, t_s, inclusion_label)
        else:
            self._legal.pop(INCLUSION_KEY, None)

    def _union_margin_m(self, p: tuple[float, float, float], inclusion: list[int]) -> float | None:
        """Exact legal margin inside the union of inclusion volumes that share one vertical
        band; None when their bands differ (then the largest single-volume margin, a lower
        bound, is used)."""
        volumes = self.airspace.volumes
        bands = {(volumes[i].floor_z_m, volumes[i].ceiling_z_m) for i in inclusion}
        if len(bands) != 1:
            return None
        ((floor, ceiling),) = bands
        union = self.airspace.inclusion_union(inclusion)
        d = float(shapely.distance(union.boundary, shapely.Point(p[0], p[1])))
        s_h = -d if shapely.contains_xy(union, p[0], p[1]) else d
        s_v = max(floor - p[2], p[2] - ceiling)
        signed = math.hypot(s_h, s_v) if s_h > 0.0 and s_v > 0.0 else max(s_h, s_v)
        return -signed

    def _judge_far(self, margin: float) -> None:
        if margin < self.min_margin_m:
            self.min_margin_m = margin

    def _judge(self, key: int, margin: float, t_s: float, label: str) -> None:
        if margin < self.min_margin_m:
            self.min_margin_m = margin
        legal = margin >= 0.0
        if self._legal.get(key) and not legal:
            self.breaches.append({"t": round(t_s, 6), "zone": label})
        # The first sample while active only records the side (inside at activation is not a
        # breach).
        self._legal[key] = legal

    def metrics(self) -> dict[str, Any]:
        out: dict[str, Any] = {"geofence_breaches": len(self.breaches)}
        if math.isfinite(self.min_margin_m):
            out["min_zone_margin_m"] = round(self.min_margin_m, 6)
        return out
