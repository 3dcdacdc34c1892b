"""A scenario's timed airspace updates (world.zone_updates), published like a live UTM feed.

In simulation this stands for the U-space / UTM service that pushes restrictions to vehicles in
flight; on a real vehicle the same `/airspace/zone_updates` topic is fed by the ground link.
The topic is global (all vehicles hear it), reliable and transient-local in ROS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kestrel.component import Component, Port
from kestrel.messages import ZoneUpdate

ZONE_UPDATES_TOPIC = "/airspace/zone_updates"


@dataclass(frozen=True)
class TimedZoneUpdate:
    t_s: float
    source: str
    document_json: str


class ScenarioZoneFeed(Component):
    """Ports: none in; zone_update (/airspace/zone_updates) out, each update once at its t."""

    inputs = {}
    outputs = {"zone_update": Port(ZoneUpdate, ZONE_UPDATES_TOPIC)}
    rate_hz = 10.0

    def __init__(
        self, name: str, namespace: str = "", *, updates: Sequence[TimedZoneUpdate] = ()
    ) -> None:
        super().__init__(name, namespace)
        self._pending = sorted(updates, key=lambda u: u.t_s)

    def step(self, t_s: float) -> ZoneUpdate | None:
        # One per tick: updates closer than 0.1 s apart go out on consecutive ticks, in order.
        if self._pending and self._pending[0].t_s <= t_s + 1e-9:
            update = self._pending.pop(0)
            return ZoneUpdate(t_s, update.source, update.document_json)
        return None
