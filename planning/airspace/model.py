"""The zone model every importer produces and every consumer reads (geographic, file-neutral).

A *zone* is one entry of a zone file (an ED-269 `UASZoneVersion`, an ED-318 feature, a GeoJSON
feature or an inline scenario zone). It has one or more *volumes* — a horizontal shape (polygon
with holes, multipolygon, or circle) between a lower and an upper limit — and applies while its
*applicability* says so. Zones are kept in file order and numbered by `index`; identifiers are not
unique in real files, so nothing is keyed by them.

Coordinates stay geographic here (WGS84 degrees, `(lat_deg, lon_deg)` pairs, whatever order the
file used); `kestrel.planning.airspace.local` converts them to the ENU `map` frame. Limits are
stored in metres with their reference: feet are 0.3048 m exactly, flight levels are pressure
altitudes in the ISA with 1013.25 hPa (FL100 = 10 000 ft = 3048 m), which in Kestrel's ISA
world is the AMSL height.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

FOOT_M = 0.3048
"""International foot [m] (exact by definition, 1959)."""
FLIGHT_LEVEL_M = 100.0 * FOOT_M
"""One flight level: 100 ft of ISA pressure altitude [m]."""

LatLon = tuple[float, float]
"""(lat_deg, lon_deg), WGS84."""


class Reference(StrEnum):
    """What a vertical limit is measured from."""

    AGL = "AGL"  # above ground level (flat ground in simulation: AGL = ENU z)
    AMSL = "AMSL"  # above mean sea level (also flight levels, under ISA 1013.25 hPa)
    WGS84 = "WGS84"  # above the WGS84 ellipsoid


class Restriction(StrEnum):
    """ED-269 restriction types."""

    PROHIBITED = "PROHIBITED"
    REQ_AUTHORISATION = "REQ_AUTHORISATION"
    CONDITIONAL = "CONDITIONAL"
    NO_RESTRICTION = "NO_RESTRICTION"


class ZoneKind(StrEnum):
    EXCLUSION = "exclusion"  # keep out while active
    INCLUSION = "inclusion"  # the union of inclusion volumes is where a vehicle must stay


class ZoneAction(StrEnum):
    """What the safety layer does about a zone (SCENARIOS.md, Semantics: Zones)."""

    PREVENT_ENTRY = "prevent_entry"
    REQUIRE_AUTHORISATION = "require_authorisation"  # prevent entry unless authorised
    WARN = "warn"  # report only; never a breach


def default_action(restriction: Restriction) -> ZoneAction:
    """ED-269 restriction → action: REQ_AUTHORISATION and CONDITIONAL zones are restricted
    unless the vehicle holds an authorisation; NO_RESTRICTION only warns."""
    if restriction is Restriction.PROHIBITED:
        return ZoneAction.PREVENT_ENTRY
    if restriction is Restriction.NO_RESTRICTION:
        return ZoneAction.WARN
    return ZoneAction.REQUIRE_AUTHORISATION


def length_to_m(value: float, unit: str) -> float:
    """A vertical or horizontal length in `unit` (M, FT, FL; case-insensitive) to metres."""
    u = unit.strip().upper()
    if u in ("M", "METRE", "METER", "METRES", "METERS"):
        return float(value)
    if u in ("FT", "FEET", "FOOT"):
        return float(value) * FOOT_M
    if u == "FL":
        return float(value) * FLIGHT_LEVEL_M
    raise ValueError(f"unknown unit {unit!r}; expected M, FT or FL")


@dataclass(frozen=True, slots=True)
class Limit:
    """A vertical limit in metres above its reference."""

    value_m: float
    reference: Reference

    def __post_init__(self) -> None:
        if not math.isfinite(self.value_m):
            raise ValueError(f"limit must be finite, got {self.value_m}")


@dataclass(frozen=True, slots=True)
class CircleShape:
    """All points within `radius_m` geodesic metres of the centre."""

    center: LatLon
    radius_m: float

    def __post_init__(self) -> None:
        if not (self.radius_m > 0.0 and math.isfinite(self.radius_m)):
            raise ValueError(f"circle radius must be > 0 and finite, got {self.radius_m}")


@dataclass(frozen=True, slots=True)
class PolygonShape:
    """A polygon with holes; edges are geodesics. Rings are stored open (no repeated closing
    vertex) and without consecutive duplicates, in the file's winding order."""

    exterior: tuple[LatLon, ...]
    holes: tuple[tuple[LatLon, ...], ...] = ()

    def __post_init__(self) -> None:
        for ring in (self.exterior, *self.holes):
            if len(ring) < 3:
                raise ValueError(f"a polygon ring needs ≥ 3 distinct vertices, got {len(ring)}")


@dataclass(frozen=True, slots=True)
class MultiPolygonShape:
    """Several polygons forming one volume's horizontal projection (ED-318 MultiPolygon)."""

    parts: tuple[PolygonShape, ...]

    def __post_init__(self) -> None:
        if not self.parts:
            raise ValueError("a multipolygon needs at least one polygon")


Shape = CircleShape | PolygonShape | MultiPolygonShape


@dataclass(frozen=True, slots=True)
class Volume:
    """A horizontal shape between two limits. `lower=None` is the surface, `upper=None`
    unbounded."""

    shape: Shape
    lower: Limit | None = None
    upper: Limit | None = None


_DAY_NAMES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


@dataclass(frozen=True, slots=True)
class DailySlot:
    """A recurring window on some weekdays, in a time zone; `start` and `end` inclusive. An end
    before the start runs past midnight into the next day."""

    days: frozenset[int]  # 0 = Monday … 6 = Sunday (datetime.weekday())
    start: time = time(0, 0)
    end: time = time(23, 59, 59, 999999)
    time_zone: str = "UTC"

    def contains(self, when: datetime) -> bool:
        local = when.astimezone(ZoneInfo(self.time_zone))
        t = local.time().replace(tzinfo=None)
        day = local.weekday()
        if self.start <= self.end:
            return day in self.days and self.start <= t <= self.end
        # Overnight: the slot starts on one of `days` and ends the next morning.
        if day in self.days and t >= self.start:
            return True
        return (day - 1) % 7 in self.days and t <= self.end

    def describe(self) -> str:
        days = ",".join(_DAY_NAMES[d] for d in sorted(self.days))
        return f"{days} {self.start.isoformat()}–{self.end.isoformat()} {self.time_zone}"


@dataclass(frozen=True, slots=True)
class Period:
    """One applicability entry: an inclusive date-time range (open ends allowed) optionally
    narrowed by daily slots (any slot matching is enough)."""

    start_utc: datetime | None = None
    end_utc: datetime | None = None
    slots: tuple[DailySlot, ...] = ()

    def __post_init__(self) -> None:
        for name in ("start_utc", "end_utc"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must carry a UTC offset")

    def contains(self, when: datetime) -> bool:
        if self.start_utc is not None and when < self.start_utc:
            return False
        if self.end_utc is not None and when > self.end_utc:
            return False
        return not self.slots or any(s.contains(when) for s in self.slots)


@dataclass(frozen=True, slots=True)
class Applicability:
    """When a zone applies. No periods = permanent. `active_from_s`/`active_until_s` are
    simulated seconds (inline scenario zones) and combine with the periods by AND."""

    periods: tuple[Period, ...] = ()
    active_from_s: float | None = None
    active_until_s: float | None = None

    @property
    def permanent(self) -> bool:
        return not self.periods and self.active_from_s is None and self.active_until_s is None

    def is_active(self, when: datetime, sim_time_s: float | None = None) -> bool:
        """Active at wall-clock `when` (aware) and, for sim-time windows, at `sim_time_s`."""
        if sim_time_s is not None:
            if self.active_from_s is not None and sim_time_s < self.active_from_s:
                return False
            if self.active_until_s is not None and sim_time_s > self.active_until_s:
                return False
        return not self.periods or any(p.contains(when) for p in self.periods)

    def describe(self) -> str:
        """A one-line human summary (CLI tables)."""
        parts = []
        for p in self.periods:
            text = ""
            if p.start_utc or p.end_utc:
                a = p.start_utc.isoformat() if p.start_utc else "…"
                b = p.end_utc.isoformat() if p.end_utc else "…"
                text = f"{a} → {b}"
            if p.slots:
                text = (text + " " if text else "") + "; ".join(s.describe() for s in p.slots)
            parts.append(text or "always")
        if self.active_from_s is not None or self.active_until_s is not None:
            parts.append(f"sim t {self.active_from_s or 0:g}–{self.active_until_s or math.inf:g} s")
        return " | ".join(parts) if parts else "permanent"


def sim_time_to_utc(start_time_utc: datetime, t_s: float) -> datetime:
    return start_time_utc + timedelta(seconds=t_s)


@dataclass(frozen=True)
class Zone:
    """One zone, as loaded. `index` is its position in its file (0-based) or in the scenario."""

    index: int
    identifier: str
    name: str
    restriction: Restriction
    volumes: tuple[Volume, ...]
    kind: ZoneKind = ZoneKind.EXCLUSION
    action: ZoneAction | None = None  # None → default_action(restriction)
    applicability: Applicability = field(default_factory=Applicability)
    country: str | None = None
    message: str | None = None
    source: str = ""  # file path, or "scenario"

    def __post_init__(self) -> None:
        if not self.volumes:
            raise ValueError(f"zone {self.identifier!r} has no volume")

    @property
    def effective_action(self) -> ZoneAction:
        return self.action if self.action is not None else default_action(self.restriction)

    def restricts(self, authorisations: frozenset[str] = frozenset()) -> bool:
        """Whether this zone restricts a vehicle holding `authorisations` (zone identifiers)."""
        action = self.effective_action
        if action is ZoneAction.WARN:
            return False
        if action is ZoneAction.REQUIRE_AUTHORISATION:
            return self.identifier not in authorisations
        return True


@dataclass(frozen=True)
class ZoneFile:
    """What an importer returns: the zones plus how the file was read."""

    path: str
    format: str  # "ED-269", "ED-318", "GeoJSON", "OpenAIP-GeoJSON", "FAA-UASFM"
    wrapper: str  # the top-level container found, e.g. "features", "UASZoneList"
    zones: tuple[Zone, ...]


class ZoneFileError(ValueError):
    """A zone file that cannot be loaded; one line naming the file, the feature and the field."""

    def __init__(self, file: str, feature: str, field_name: str, problem: str) -> None:
        self.file = file
        self.feature = feature
        self.field = field_name
        self.problem = problem
        where = ", ".join(x for x in (feature, field_name) if x)
        super().__init__(f"{file}: {where}: {problem}" if where else f"{file}: {problem}")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Shorthand for tests and defaults."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)
