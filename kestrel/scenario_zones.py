"""world.zones of a scenario → loaded zones (files relative to the scenario, inline entries).

Kept apart from scenario.py so that the zone importers (shapely, pyproj) load only for scenarios
that have zones, and so that a zone-file error reads like any other scenario error: one line
naming the scenario file, the `world.zones[i]` key and the zone file's own file/feature/field.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kestrel.planning.airspace.importers import inline_zone, load_zone_file
from kestrel.planning.airspace.model import Zone, ZoneFileError
from kestrel.planning.zone_feed import TimedZoneUpdate
from kestrel.scenario import ScenarioError


def resolve_zones(entries: Sequence[dict[str, Any]], file: str) -> tuple[Zone, ...]:
    """Every zone of world.zones in order: a `{file: …}` entry contributes all of its file's
    zones, an inline entry one zone."""
    base = Path(file).parent
    zones: list[Zone] = []
    for i, entry in enumerate(entries):
        key = f"world.zones[{i}]"
        if not isinstance(entry, dict):
            raise ScenarioError(file, key, "must be a mapping ({file: …} or an inline zone)")
        if "file" in entry:
            extra = sorted(set(entry) - {"file"})
            if extra:
                raise ScenarioError(file, f"{key}.{extra[0]}", "unknown key beside `file`")
            path = base / str(entry["file"])
            try:
                zones.extend(load_zone_file(path).zones)
            except ZoneFileError as exc:
                raise ScenarioError(file, f"{key}.file", str(exc)) from None
            except OSError as exc:
                raise ScenarioError(file, f"{key}.file", f"cannot read {path}: {exc}") from None
            continue
        try:
            zones.append(inline_zone(entry, i, file, key))
        except ValueError as exc:
            raise ScenarioError(file, key, str(exc)) from None
    return tuple(zones)


def resolve_zone_updates(entries: Sequence[Any], file: str) -> tuple[TimedZoneUpdate, ...]:
    """world.zone_updates → timed documents; each file is checked now (a bad one is a
    scenario error at validation, not a surprise in flight) and sent verbatim later."""
    base = Path(file).parent
    out = []
    for i, entry in enumerate(entries):
        key = f"world.zone_updates[{i}].file"
        path = base / entry.file
        try:
            load_zone_file(path)
            text = path.read_text(encoding="utf-8-sig")
        except ZoneFileError as exc:
            raise ScenarioError(file, key, str(exc)) from None
        except OSError as exc:
            raise ScenarioError(file, key, f"cannot read {path}: {exc}") from None
        out.append(TimedZoneUpdate(float(entry.t), entry.source, text))
    return tuple(out)
