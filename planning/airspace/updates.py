"""Live airspace updates: zone documents arriving in flight, merged into a vehicle's airspace.

Each update names its source and carries a whole zone document; it replaces what that source
sent before. The zones loaded before flight are the source "preflight" and are never replaced.
A document that does not parse is refused with one logged line and the airspace stays as it
was — a bad message must not cost the vehicle the zones it already has.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from kestrel.geodesy import GeoOrigin

from .importers import parse_zone_document
from .local import LocalAirspace, LocalVolume, local_volumes
from .model import ZoneFileError

log = logging.getLogger(__name__)

PREFLIGHT_SOURCE = "preflight"


class AirspaceUpdater:
    """Holds one vehicle's volumes per source and rebuilds its LocalAirspace on an update."""

    def __init__(
        self,
        airspace: LocalAirspace,
        origin: GeoOrigin,
        authorisations: frozenset[str] = frozenset(),
    ) -> None:
        self.airspace = airspace
        self.origin = origin
        self.authorisations = authorisations
        self.start_time_utc: datetime = airspace.start_time_utc
        self._by_source: dict[str, list[LocalVolume]] = {PREFLIGHT_SOURCE: list(airspace.volumes)}
        self.rejected = 0

    def apply(self, source: str, document_json: str) -> bool:
        """Merge one update; False (and the airspace unchanged) when it is refused."""
        label = f"zone update from {source!r}"
        if source == PREFLIGHT_SOURCE:
            log.error("%s: the preflight zones cannot be replaced in flight", label)
            self.rejected += 1
            return False
        try:
            document = json.loads(document_json)
            zone_file = parse_zone_document(document, label)
        except json.JSONDecodeError as exc:
            log.error("%s: invalid JSON at line %d column %d", label, exc.lineno, exc.colno)
            self.rejected += 1
            return False
        except ZoneFileError as exc:
            log.error("%s", exc)
            self.rejected += 1
            return False
        self._by_source[source] = local_volumes(zone_file.zones, self.origin, self.authorisations)
        volumes = [v for vs in self._by_source.values() for v in vs]
        self.airspace = LocalAirspace(volumes, self.start_time_utc)
        log.info("%s: %d zones, %d volumes now", label, len(zone_file.zones), len(volumes))
        return True
