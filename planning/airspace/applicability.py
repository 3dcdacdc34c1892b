"""When a zone applies: ED-269 `applicability`, ED-318 `limitedApplicability`, OpenAIP
`activationTimes` → `model.Applicability`.

Spellings read (EUROCAE ED-269 §3 `ApplicableTimePeriod`/`DailyPeriod`; ED-318 `TimePeriod`/
`dailyPeriod` as published in the EUROCONTROL schema, github.com/UASGeoZones/ED-318):

- A period entry: `permanent` (YES/NO), `startDateTime`, `endDateTime` (ISO 8601; a time
  without an offset is UTC; null = open), and daily slots under `schedule` (ED-269, ED-318) or
  `dailyPeriod` (FOCA's ED-269 flavour); both lists are read if both are present.
- A slot: `day` (a list of MON…SUN or ANY, or full English day names, case-insensitive; an empty
  list or a missing `day` means every day), `startTime`/`endTime` (`HH:MM[:SS[.fff]]` with an
  optional `Z` or `±HH:MM` offset; null start = 00:00, null end = the end of the day; `24:00` as
  an end is the end of the day). Start and end are inclusive; an end before the start runs past
  midnight. A whole-hour offset becomes the fixed time zone `Etc/GMT∓h`.
- `startEvent`/`endEvent` (sunrise/sunset/twilight) cannot be evaluated without an ephemeris:
  a slot bounded by an event without a clock time is widened to the start/end of the day (the
  zone applies longer, never shorter) and a warning is logged.
- Any entry that narrows nothing (no dates, no slots, or a slot covering every day all day)
  makes the zone permanent.

Unknown keys in a period or slot are errors: a misspelt key would silently change when the zone
applies.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time
from typing import Any

from kestrel.planning.airspace.geojson_zones import (
    FieldError,
    at,
    expect_list,
    expect_mapping,
    reject_unknown_keys,
    show,
    sub,
)
from kestrel.planning.airspace.model import Applicability, DailySlot, Period

log = logging.getLogger(__name__)

_ALL_DAYS = frozenset(range(7))
_DAY_NUMBERS: Mapping[str, frozenset[int]] = {
    **{d: frozenset({i}) for i, d in enumerate(("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"))},
    **{
        d: frozenset({i})
        for i, d in enumerate(
            ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
        )
    },
    "ANY": _ALL_DAYS,
}
_DAYLIGHT_EVENTS = ("BMCT", "SR", "SS", "EECT")  # ED-318 daylightEventType
_END_OF_DAY = time(23, 59, 59, 999999)
_TIME_OF_DAY = re.compile(
    r"^(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
    r"\s*(?P<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)
_SLOT_KEYS = ("day", "startTime", "endTime", "startEvent", "endEvent")


def parse_datetime(value: Any, path: str) -> datetime | None:
    """An ISO 8601 date-time (or date) → an aware UTC datetime; null → None (open end)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldError(path, f"expected an ISO 8601 date-time string, got {show(value)}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise FieldError(
            path, f"{show(value)} is not an ISO 8601 date-time (e.g. 2026-03-14T09:30:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _offset_minutes(tz: str | None) -> int | None:
    if tz is None:
        return None
    if tz in ("Z", "z"):
        return 0
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    return sign * (int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) > 2 else 0))


def parse_time_of_day(value: Any, path: str, *, is_end: bool) -> tuple[time, int | None]:
    """`HH:MM[:SS[.fff]][Z|±HH:MM]` → (naive time, UTC offset in minutes or None)."""
    if not isinstance(value, str):
        raise FieldError(path, f"expected a time of day such as 17:00:00Z, got {show(value)}")
    match = _TIME_OF_DAY.match(value.strip())
    if match is None:
        raise FieldError(path, f"{show(value)} is not a time of day (HH:MM[:SS][Z|±HH:MM])")
    hour, minute = int(match["h"]), int(match["m"])
    second = int(match["s"] or 0)
    micro = int((match["f"] or "0")[:6].ljust(6, "0"))
    offset = _offset_minutes(match["tz"])
    if hour == 24 and minute == 0 and second == 0 and micro == 0:
        if not is_end:
            raise FieldError(path, "24:00 is only valid as an end time")
        return _END_OF_DAY, offset
    if hour > 23 or minute > 59 or second > 59:
        raise FieldError(path, f"{show(value)} is not a valid time of day")
    if offset is not None and abs(offset) > 14 * 60:
        raise FieldError(path, f"UTC offset {match['tz']} out of range")
    return time(hour, minute, second, micro), offset


def _time_zone(offset_min: int | None, path: str) -> str:
    """A fixed UTC offset → an IANA zone name the model's `DailySlot` can use. `Etc/GMT-1` is
    UTC+1 (POSIX sign convention)."""
    if offset_min is None or offset_min == 0:
        return "UTC"
    if offset_min % 60:
        raise FieldError(path, "only whole-hour UTC offsets are supported in daily schedules")
    hours = offset_min // 60
    return f"Etc/GMT{'-' if hours > 0 else '+'}{abs(hours)}"


def parse_days(value: Any, path: str) -> frozenset[int]:
    """A list of day names → weekday numbers (0 = Monday); empty or missing = every day."""
    if value is None:
        return _ALL_DAYS
    names = [value] if isinstance(value, str) else expect_list(value, path)
    if not names:
        return _ALL_DAYS
    days: set[int] = set()
    for i, name in enumerate(names):
        key = name.strip().upper() if isinstance(name, str) else None
        if key not in _DAY_NUMBERS:
            raise FieldError(
                at(path, i), f"{show(name)} is not a day; expected MON, TUE, …, SUN or ANY"
            )
        days |= _DAY_NUMBERS[key]
    return frozenset(days)


def _event_bound(
    slot: Mapping[str, Any], time_key: str, event_key: str, path: str, *, is_end: bool
) -> tuple[time, int | None]:
    clock = slot.get(time_key)
    event = slot.get(event_key)
    if event is not None and (not isinstance(event, str) or event not in _DAYLIGHT_EVENTS):
        raise FieldError(
            sub(path, event_key),
            f"unknown daylight event {show(event)}; expected one of {', '.join(_DAYLIGHT_EVENTS)}",
        )
    if clock is not None:
        return parse_time_of_day(clock, sub(path, time_key), is_end=is_end)
    if event is not None:
        log.warning(
            "%s.%s %s cannot be evaluated; the slot is widened to the %s of the day",
            path,
            event_key,
            event,
            "end" if is_end else "start",
        )
    return (_END_OF_DAY if is_end else time(0, 0)), None


def parse_daily_slot(value: Any, path: str) -> DailySlot | None:
    """One `schedule`/`dailyPeriod` entry → a slot, or None when it narrows nothing."""
    slot = expect_mapping(value, path)
    reject_unknown_keys(slot, _SLOT_KEYS, path)
    days = parse_days(slot.get("day"), sub(path, "day"))
    start, start_off = _event_bound(slot, "startTime", "startEvent", path, is_end=False)
    end, end_off = _event_bound(slot, "endTime", "endEvent", path, is_end=True)
    if start_off is not None and end_off is not None and start_off != end_off:
        raise FieldError(sub(path, "endTime"), "startTime and endTime use different UTC offsets")
    offset = start_off if start_off is not None else end_off
    zone = _time_zone(offset, sub(path, "startTime" if start_off is not None else "endTime"))
    if days == _ALL_DAYS and start == time(0, 0) and end == _END_OF_DAY:
        return None
    return DailySlot(days=days, start=start, end=end, time_zone=zone)


def parse_period(
    value: Any,
    path: str,
    *,
    start_key: str,
    end_key: str,
    schedule_keys: Sequence[str],
    allow_permanent: bool,
) -> Period:
    entry = expect_mapping(value, path)
    allowed = [start_key, end_key, *schedule_keys] + (["permanent"] if allow_permanent else [])
    reject_unknown_keys(entry, allowed, path)
    permanent = entry.get("permanent")
    if permanent is not None and (
        not isinstance(permanent, str) or permanent.strip().upper() not in ("YES", "NO")
    ):
        raise FieldError(sub(path, "permanent"), f"expected YES or NO, got {show(permanent)}")
    start = parse_datetime(entry.get(start_key), sub(path, start_key))
    end = parse_datetime(entry.get(end_key), sub(path, end_key))
    if start is not None and end is not None and end < start:
        raise FieldError(
            sub(path, end_key), f"ends ({end.isoformat()}) before it starts ({start.isoformat()})"
        )
    slots: list[DailySlot] = []
    narrowed = True
    saw_slot = False
    for key in schedule_keys:
        raw = entry.get(key)
        if raw is None:
            continue
        for i, item in enumerate(expect_list(raw, sub(path, key))):
            saw_slot = True
            slot = parse_daily_slot(item, at(sub(path, key), i))
            if slot is None:
                narrowed = False  # one slot covering everything: the schedule narrows nothing
            else:
                slots.append(slot)
    keep = tuple(slots) if saw_slot and narrowed else ()
    return Period(start_utc=start, end_utc=end, slots=keep)


def parse_applicability(
    value: Any,
    path: str,
    *,
    start_key: str = "startDateTime",
    end_key: str = "endDateTime",
    schedule_keys: Sequence[str] = ("schedule", "dailyPeriod"),
    allow_permanent: bool = True,
) -> Applicability:
    """A list of period entries (any one applying is enough); null or [] = permanent."""
    if value is None:
        return Applicability()
    periods = [
        parse_period(
            item,
            at(path, i),
            start_key=start_key,
            end_key=end_key,
            schedule_keys=schedule_keys,
            allow_permanent=allow_permanent,
        )
        for i, item in enumerate(expect_list(value, path))
    ]
    if any(p.start_utc is None and p.end_utc is None and not p.slots for p in periods):
        return Applicability()
    return Applicability(periods=tuple(periods))
