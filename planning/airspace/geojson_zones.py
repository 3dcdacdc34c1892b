"""GeoJSON-shaped building blocks shared by every zone importer.

ED-269 horizontal projections, ED-318 features, OpenAIP exports and FAA UAS Facility Map cells
are all GeoJSON-shaped (RFC 7946: positions are `[lon, lat]`, rings closed), so the checks that
turn their coordinates, numbers, units and vertical references into `model` objects live here
once. Every check raises `FieldError(field, problem)` with a dotted field path
(`geometry[0].horizontalProjection.coordinates[0][3]`); the importer adds the file and the
feature to make the one-line `ZoneFileError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from kestrel.planning.airspace.model import (
    FOOT_M,
    CircleShape,
    LatLon,
    Limit,
    MultiPolygonShape,
    PolygonShape,
    Reference,
    Restriction,
    Shape,
)

_NUMERIC_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_MAX_SHOWN_CHARS = 60


class FieldError(ValueError):
    """A problem at one field (a dotted path such as `geometry[0].lowerLimit`) of one feature."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field
        self.problem = problem


# ---------------------------------------------------------------------------------------------
# Generic JSON checks


def sub(path: str, key: str) -> str:
    """`path.key` (or `key` at the top)."""
    return f"{path}.{key}" if path else key


def at(path: str, index: int) -> str:
    """`path[index]`."""
    return f"{path}[{index}]"


def json_type(value: Any) -> str:
    """The JSON name of a Python value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def show(value: Any) -> str:
    """A short one-line rendering of a file value for an error message."""
    if isinstance(value, str):
        text = value if len(value) <= _MAX_SHOWN_CHARS else value[:_MAX_SHOWN_CHARS] + "…"
        return repr(text)
    if value is None or isinstance(value, bool | int | float):
        return "null" if value is None else repr(value)
    return f"an {json_type(value)}" if json_type(value)[0] in "aeiou" else f"a {json_type(value)}"


def expect_mapping(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        raise FieldError(path, "missing")
    if not isinstance(value, Mapping):
        raise FieldError(path, f"expected an object, got {show(value)}")
    return value


def expect_list(value: Any, path: str, *, non_empty: bool = False) -> list[Any]:
    if value is None:
        raise FieldError(path, "missing")
    if not isinstance(value, list):
        raise FieldError(path, f"expected a list, got {show(value)}")
    if non_empty and not value:
        raise FieldError(path, "empty list; at least one entry is needed")
    return value


def optional_text(value: Any, path: str) -> str | None:
    """A plain string, or None when absent/null."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldError(path, f"expected a string, got {show(value)}")
    return value


def required_identifier(value: Any, path: str) -> str:
    """Identifiers are kept verbatim (duplicates and over-long ones included); they must be
    non-empty strings because authorisations and reports name zones by them."""
    if value is None:
        raise FieldError(path, "missing")
    if not isinstance(value, str):
        raise FieldError(path, f"expected a string, got {show(value)}")
    if not value.strip():
        raise FieldError(path, "empty identifier")
    return value


def optional_label(value: Any, path: str) -> str | None:
    """A GeoJSON-style id (a non-empty string or an integer) → its text; null → None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise FieldError(path, f"expected a non-empty string or an integer, got {show(value)}")
    return str(value)


def reject_unknown_keys(mapping: Mapping[str, Any], allowed: Sequence[str], path: str) -> None:
    """Keys that decide where or when a zone applies are never ignored: a misspelt one would
    silently change the zone."""
    for key in mapping:
        if key not in allowed:
            raise FieldError(
                sub(path, str(key)), f"unknown key; expected one of {', '.join(allowed)}"
            )


def parse_number(value: Any, path: str, *, allow_text: bool = True) -> float:
    """A finite number; numeric strings such as "0" are accepted where files use them."""
    if isinstance(value, bool) or value is None:
        raise FieldError(path, f"expected a number, got {show(value)}")
    try:
        if isinstance(value, int | float):
            number = float(value)
        elif allow_text and isinstance(value, str) and _NUMERIC_TEXT.match(value.strip()):
            number = float(value.strip())
        else:
            raise FieldError(path, f"expected a number, got {show(value)}")
    except OverflowError:
        raise FieldError(path, "number too large") from None
    if not math.isfinite(number):
        raise FieldError(path, f"must be finite, got {value!r}")
    return number


def in_metres(value: float, unit_m: float, path: str) -> float:
    """`value` in a unit `unit_m` metres long → metres, refusing an overflow to infinity."""
    metres = value * unit_m
    if not math.isfinite(metres):
        raise FieldError(path, f"{value:g} is too large")
    return metres


def optional_number(value: Any, path: str, *, allow_text: bool = True) -> float | None:
    return None if value is None else parse_number(value, path, allow_text=allow_text)


# ---------------------------------------------------------------------------------------------
# Units and vertical references

LENGTH_UNITS_M: Mapping[str, float] = {"M": 1.0, "FT": FOOT_M}
"""Unit spellings of ED-269 `uomDimensions` and ED-318 `uom` (case-insensitive) → metres."""


def parse_unit(value: Any, path: str, units: Mapping[str, float] = LENGTH_UNITS_M) -> float:
    """The metres per unit of a unit name in `units` (case-insensitive)."""
    if not isinstance(value, str):
        raise FieldError(path, f"expected a unit name ({', '.join(units)}), got {show(value)}")
    key = value.strip().upper()
    if key not in units:
        raise FieldError(path, f"unknown unit {show(value)}; expected one of {', '.join(units)}")
    return units[key]


def parse_reference(value: Any, path: str) -> Reference:
    """AGL, AMSL or WGS84 (ED-269 `*VerticalReference`, ED-318 `*Reference`)."""
    if isinstance(value, str) and value.strip().upper() in Reference.__members__:
        return Reference(value.strip().upper())
    expected = ", ".join(r.value for r in Reference)
    if value is None:
        raise FieldError(path, f"missing; expected one of {expected}")
    raise FieldError(path, f"unknown vertical reference {show(value)}; expected one of {expected}")


def check_limit_order(lower: Limit | None, upper: Limit | None, lower_path: str) -> None:
    """A lower limit above the upper one (same reference) is a contradiction, not a quirk.
    Limits in different references (AGL floor, AMSL ceiling) cannot be compared without terrain
    and are accepted."""
    if lower is None or upper is None or lower.reference is not upper.reference:
        return
    if lower.value_m > upper.value_m:
        raise FieldError(
            lower_path,
            f"lower limit {lower.value_m:g} m {lower.reference} is above the upper limit "
            f"{upper.value_m:g} m {upper.reference}",
        )


# ---------------------------------------------------------------------------------------------
# Coordinates (GeoJSON positions are [lon, lat]; the model stores (lat, lon))


def parse_position(value: Any, path: str) -> LatLon:
    """A GeoJSON position `[lon, lat]` or `[lon, lat, alt]` → `(lat_deg, lon_deg)`."""
    if not isinstance(value, list) or len(value) < 2:
        raise FieldError(path, f"expected a position [lon, lat], got {show(value)}")
    lon = parse_number(value[0], at(path, 0), allow_text=False)
    lat = parse_number(value[1], at(path, 1), allow_text=False)
    if not -90.0 <= lat <= 90.0:
        raise FieldError(
            at(path, 1), f"latitude {lat:g}° outside [-90, 90] (positions are [lon, lat])"
        )
    if not -180.0 <= lon <= 180.0:
        raise FieldError(at(path, 0), f"longitude {lon:g}° outside [-180, 180]")
    return (lat, lon)


def clean_ring(points: Sequence[LatLon], path: str) -> tuple[LatLon, ...]:
    """Drop consecutive duplicate vertices and the repeated closing vertex; keep the winding.
    A ring needs three distinct vertices and a non-zero area."""
    ring: list[LatLon] = []
    for p in points:
        if not ring or p != ring[-1]:
            ring.append(p)
    while len(ring) > 1 and ring[-1] == ring[0]:
        ring.pop()
    if len(ring) < 3:
        raise FieldError(path, f"a ring needs at least 3 distinct vertices, got {len(ring)}")
    twice_area = sum(
        ring[i][1] * ring[(i + 1) % len(ring)][0] - ring[(i + 1) % len(ring)][1] * ring[i][0]
        for i in range(len(ring))
    )
    if twice_area == 0.0:
        raise FieldError(path, "the ring encloses no area (its vertices are collinear)")
    return tuple(ring)


def parse_ring(value: Any, path: str) -> tuple[LatLon, ...]:
    positions = expect_list(value, path)
    return clean_ring([parse_position(p, at(path, i)) for i, p in enumerate(positions)], path)


def parse_polygon(value: Any, path: str) -> PolygonShape:
    """GeoJSON Polygon `coordinates`: exterior ring then holes."""
    rings = expect_list(value, path, non_empty=True)
    parsed = [parse_ring(r, at(path, i)) for i, r in enumerate(rings)]
    return PolygonShape(exterior=parsed[0], holes=tuple(parsed[1:]))


def parse_multipolygon(value: Any, path: str) -> MultiPolygonShape:
    polygons = expect_list(value, path, non_empty=True)
    return MultiPolygonShape(tuple(parse_polygon(p, at(path, i)) for i, p in enumerate(polygons)))


def make_circle(center: Any, radius: Any, radius_unit_m: float | None, path: str) -> CircleShape:
    """`center` a GeoJSON position, `radius` a number in the unit `radius_unit_m` metres long."""
    centre = parse_position(center, sub(path, "center"))
    r = parse_number(radius, sub(path, "radius"))
    if radius_unit_m is None:
        raise FieldError(sub(path, "radius"), "has no unit (uomDimensions/uom missing)")
    if r <= 0.0:
        raise FieldError(sub(path, "radius"), f"must be > 0, got {r:g}")
    return CircleShape(center=centre, radius_m=in_metres(r, radius_unit_m, sub(path, "radius")))


_AREA_TYPES = "Polygon, MultiPolygon, GeometryCollection or Point with a circle extent"


def parse_area(geometry: Mapping[str, Any], path: str, radius_unit_m: float | None) -> Shape:
    """One GeoJSON area geometry (not a collection) → a shape. A `Point` is a circle when it
    carries an ED-318 `extent {subType: Circle, radius}`; the radius unit comes from the caller
    (the layer's `uom`)."""
    kind = geometry.get("type")
    if kind == "Polygon":
        return parse_polygon(geometry.get("coordinates"), sub(path, "coordinates"))
    if kind == "MultiPolygon":
        return parse_multipolygon(geometry.get("coordinates"), sub(path, "coordinates"))
    if kind == "Point":
        extent = geometry.get("extent")
        if extent is None:
            raise FieldError(sub(path, "extent"), "a Point zone needs a circle extent")
        extent = expect_mapping(extent, sub(path, "extent"))
        subtype = extent.get("subType")
        if not isinstance(subtype, str) or subtype.strip().lower() != "circle":
            raise FieldError(
                sub(path, "extent.subType"), f"unsupported extent {show(subtype)}; expected Circle"
            )
        centre = parse_position(geometry.get("coordinates"), sub(path, "coordinates"))
        r = parse_number(extent.get("radius"), sub(path, "extent.radius"))
        if r <= 0.0:
            raise FieldError(sub(path, "extent.radius"), f"must be > 0, got {r:g}")
        radius_m = in_metres(r, radius_unit_m or 1.0, sub(path, "extent.radius"))
        return CircleShape(center=centre, radius_m=radius_m)
    if kind is None:
        raise FieldError(sub(path, "type"), f"missing; expected {_AREA_TYPES}")
    raise FieldError(sub(path, "type"), f"{show(kind)} is not an area; expected {_AREA_TYPES}")


def collection_members(geometry: Mapping[str, Any], path: str) -> list[tuple[Mapping, str]]:
    """The area geometries of a feature with their paths: the geometry itself, or each member
    of a GeometryCollection (one volume each)."""
    if geometry.get("type") != "GeometryCollection":
        return [(geometry, path)]
    members = expect_list(geometry.get("geometries"), sub(path, "geometries"), non_empty=True)
    out = []
    for i, member in enumerate(members):
        member_path = at(sub(path, "geometries"), i)
        member = expect_mapping(member, member_path)
        if member.get("type") == "GeometryCollection":
            raise FieldError(sub(member_path, "type"), "nested GeometryCollections are not zones")
        out.append((member, member_path))
    return out


def feature_geometry(feature: Mapping[str, Any]) -> Mapping[str, Any]:
    geometry = feature.get("geometry")
    if geometry is None:
        raise FieldError("geometry", "missing; a zone needs a horizontal extent")
    return expect_mapping(geometry, "geometry")


# ---------------------------------------------------------------------------------------------
# Restriction spellings


def parse_choice(value: Any, path: str, choices: Mapping[str, Any], hint: str = "") -> Any:
    if isinstance(value, str) and value in choices:
        return choices[value]
    expected = ", ".join(choices)
    if value is None:
        raise FieldError(path, f"missing; expected one of {expected}")
    extra = f" ({hint})" if hint else ""
    raise FieldError(path, f"unknown value {show(value)}{extra}; expected one of {expected}")


ED269_RESTRICTIONS: Mapping[str, Restriction] = {r.value: r for r in Restriction}
