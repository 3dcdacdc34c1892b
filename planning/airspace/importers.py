"""Zone-file importers: ED-269, ED-318, OpenAIP GeoJSON, FAA UAS Facility Map cells, plain
GeoJSON, and inline scenario zones → `model.ZoneFile` / `model.Zone`.

`load_zone_file(path)` reads a file (UTF-8, with or without a byte-order mark, any line endings),
detects its format from its shape, and returns every zone in file order with `index` = position
in the file. Either the whole file loads or `ZoneFileError` is raised with one line naming the
file, the feature (`features[2] (identifier 'LSZB003')`) and the field
(`geometry[0].lowerLimit`); nothing is half-loaded, no zone or volume is dropped, and zones are
never keyed by identifier (real files repeat them).

Format detection (top-level object):

- `UASZoneList` → ED-269 in FOCA's flavour (wrapper "UASZoneList").
- `type: FeatureCollection` (or a bare `features` list of GeoJSON features, or one `Feature`) →
  the GeoJSON family, by the features' properties: ED-318 (`identifier` with `type`/`variant`/
  `zoneAuthority`, a `layer`/`extent` on a geometry, or collection `metadata`), OpenAIP
  (`upperCeiling`/`lowerCeiling`), FAA UASFM (`CEILING`), else plain GeoJSON.
- `features` without a GeoJSON `type` → ED-269 (`{title?, description?, features}`).

GeoJSON-family readers kept here (ED-269 and ED-318 have their own modules):

- OpenAIP (openaip-openair-parser output): `upperCeiling`/`lowerCeiling` = `{value, unit: FT|FL|M,
  referenceDatum: GND|MSL|STD}`: GND is AGL, MSL is AMSL, STD (flight levels, ISA 1013.25 hPa) is
  AMSL. `class` gives the restriction (`OPENAIP_CLASS_RESTRICTION`). `activationTimes`
  (`[{start?, end?}]`) are periods. The identifier is `id`/`_id` when present, else the name.
- FAA UASFM: `CEILING` (ft AGL) is the highest altitude the FAA pre-approves in the grid cell, so
  the cell is a REQ_AUTHORISATION volume from CEILING upward, unbounded above. Identifier
  `<APT1_ICAO>-<OBJECTID>`.
- Plain GeoJSON: Kestrel's property names, as for inline zones (`identifier`/`id`, `name`, `kind`,
  `restriction`, `action`, `lower_m`, `upper_m`, `ref`, and `radius_m` on a Point for a circle).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kestrel.planning.airspace.applicability import parse_applicability
from kestrel.planning.airspace.ed269 import read_ed269_zone
from kestrel.planning.airspace.ed318 import check_metadata, read_ed318_zone
from kestrel.planning.airspace.geojson_zones import (
    ED269_RESTRICTIONS,
    FieldError,
    at,
    check_limit_order,
    clean_ring,
    collection_members,
    expect_list,
    expect_mapping,
    feature_geometry,
    in_metres,
    optional_label,
    optional_number,
    optional_text,
    parse_area,
    parse_choice,
    parse_number,
    parse_position,
    parse_reference,
    parse_unit,
    reject_unknown_keys,
    required_identifier,
    show,
    sub,
)
from kestrel.planning.airspace.model import (
    FLIGHT_LEVEL_M,
    FOOT_M,
    Applicability,
    CircleShape,
    LatLon,
    Limit,
    PolygonShape,
    Reference,
    Restriction,
    Shape,
    Volume,
    Zone,
    ZoneAction,
    ZoneFile,
    ZoneFileError,
    ZoneKind,
)

__all__ = [
    "OPENAIP_CLASS_RESTRICTION",
    "ZoneFileError",
    "detect_format",
    "inline_zone",
    "load_zone_file",
    "parse_zone_document",
]

log = logging.getLogger(__name__)

Reader = Callable[[Any, int, str], Zone]

# Exceptions a reader may raise on a shape no check anticipated; they still become one line.
_UNEXPECTED = (
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    OverflowError,
    RecursionError,
)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _error(file: str, feature: str, field: str, problem: str) -> ZoneFileError:
    return ZoneFileError(_one_line(file), _one_line(feature), _one_line(field), _one_line(problem))


# ---------------------------------------------------------------------------------------------
# Public entry points


def load_zone_file(path: str | os.PathLike[str]) -> ZoneFile:
    """Read and import one zone file (format auto-detected); raises `ZoneFileError`."""
    file = os.fspath(path)
    try:
        raw = Path(file).read_bytes()
    except OSError as e:
        raise _error(file, "", "", f"cannot read the file: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")  # a UTF-8 byte-order mark is common in national feeds
    except UnicodeDecodeError as e:
        raise _error(file, "", "", f"not UTF-8 text (byte {e.start}: {e.reason})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise _error(
            file, "", "", f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}"
        ) from None
    except RecursionError:
        raise _error(file, "", "", "invalid JSON: nested too deeply") from None
    return parse_zone_document(doc, file)


def parse_zone_document(doc: Any, file: str) -> ZoneFile:
    """Import an already-parsed JSON document (`file` names it in errors and `Zone.source`)."""
    try:
        fmt, wrapper, container, items = detect_format(doc, file)
    except ZoneFileError:
        raise
    except _UNEXPECTED as e:
        raise _error(file, "", "", f"unreadable ({type(e).__name__}: {e})") from e
    reader = _READERS[fmt]
    zones = []
    for i, item in enumerate(items):
        label = _feature_label(container, i, item)
        try:
            zones.append(reader(item, i, file))
        except FieldError as e:
            raise _error(file, label, e.field, e.problem) from None
        except _UNEXPECTED as e:
            raise _error(file, label, "", f"unreadable ({type(e).__name__}: {e})") from e
    if fmt == "ED-318":
        try:
            check_metadata(doc)
        except FieldError as e:
            raise _error(file, "", e.field, e.problem) from None
    if not zones:
        log.warning("%s: the zone file holds no zones", file)
    return ZoneFile(path=str(file), format=fmt, wrapper=wrapper, zones=tuple(zones))


def detect_format(doc: Any, file: str) -> tuple[str, str, str, list[Any]]:
    """(format, wrapper, container path for messages, zone items) of a parsed document."""
    if not isinstance(doc, Mapping):
        raise _error(file, "", "", f"expected a JSON object at the top level, got {show(doc)}")
    if "UASZoneList" in doc:
        return "ED-269", "UASZoneList", "UASZoneList", _zone_list(doc, "UASZoneList", file)
    kind = doc.get("type")
    if kind == "Feature":
        return _geojson_family([doc], doc), "Feature", "", [doc]
    if kind == "FeatureCollection":
        items = _zone_list(doc, "features", file)
        return _geojson_family(items, doc), "FeatureCollection", "features", items
    if kind is not None:
        raise _error(
            file, "", "type", f"unknown top-level type: {show(kind)}; expected FeatureCollection"
        )
    if "features" in doc:
        items = _zone_list(doc, "features", file)
        if items and all(_looks_like_geojson_feature(f) for f in items):
            return _geojson_family(items, doc), "features", "features", items
        return "ED-269", "features", "features", items
    raise _error(
        file,
        "",
        "",
        "no zone list found: expected 'features' (ED-269 or GeoJSON) or 'UASZoneList' (ED-269)",
    )


def _zone_list(doc: Mapping[str, Any], key: str, file: str) -> list[Any]:
    items = doc.get(key)
    if not isinstance(items, list):
        raise _error(file, "", key, f"expected a list of zones, got {show(items)}")
    return items


def _looks_like_geojson_feature(item: Any) -> bool:
    return isinstance(item, Mapping) and (
        item.get("type") == "Feature" or isinstance(item.get("properties"), Mapping)
    )


def _geojson_family(items: Sequence[Any], doc: Mapping[str, Any]) -> str:
    features = [f for f in items if isinstance(f, Mapping)]
    props = [f.get("properties") for f in features]
    props = [p for p in props if isinstance(p, Mapping)]
    geometries = [f.get("geometry") for f in features]
    geometries = [g for g in geometries if isinstance(g, Mapping)]
    members = geometries + [
        m
        for g in geometries
        if isinstance(g.get("geometries"), list)
        for m in g["geometries"]
        if isinstance(m, Mapping)
    ]
    if (
        any("identifier" in p and ({"type", "variant", "zoneAuthority"} & p.keys()) for p in props)
        or any("layer" in g or "extent" in g for g in members)
        or "metadata" in doc
        or "datasetMetadata" in doc
    ):
        return "ED-318"
    if any("upperCeiling" in p or "lowerCeiling" in p for p in props):
        return "OpenAIP-GeoJSON"
    if any("CEILING" in p for p in props):
        return "FAA-UASFM"
    return "GeoJSON"


def _feature_label(container: str, index: int, item: Any) -> str:
    """`features[2] (identifier 'LSZB003')`: the position always, plus whatever names it."""
    label = at(container, index) if container else "feature"
    if not isinstance(item, Mapping):
        return label
    props = item.get("properties")
    for source in (item, props if isinstance(props, Mapping) else {}):
        for key in ("identifier", "id", "name", "OBJECTID"):
            value = source.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
                return f"{label} ({key} {show(value)})"
    return label


# ---------------------------------------------------------------------------------------------
# OpenAIP GeoJSON

_OPENAIP_UNITS: Mapping[str, float] = {"FT": FOOT_M, "M": 1.0, "FL": FLIGHT_LEVEL_M}
_OPENAIP_DATUMS: Mapping[str, Reference] = {
    "GND": Reference.AGL,
    "MSL": Reference.AMSL,
    "STD": Reference.AMSL,  # pressure altitude, ISA 1013.25 hPa: AMSL in Kestrel's ISA world
}

OPENAIP_CLASS_RESTRICTION: Mapping[str, Restriction] = {
    "P": Restriction.PROHIBITED,
    "R": Restriction.PROHIBITED,
    "PROHIBITED": Restriction.PROHIBITED,
    "RESTRICTED": Restriction.PROHIBITED,
    "Q": Restriction.CONDITIONAL,
    "DANGER": Restriction.CONDITIONAL,
    "E": Restriction.NO_RESTRICTION,
    "F": Restriction.NO_RESTRICTION,
    "G": Restriction.NO_RESTRICTION,
}
"""OpenAIR/OpenAIP airspace class → restriction: prohibited (P) and restricted (R) areas keep
drones out; danger areas (Q) are conditional; uncontrolled classes E–G do not restrict; every other
class (A–D, CTR, TMZ, RMZ, …) needs an authorisation (an ATC clearance)."""


def _openaip_limit(value: Any, path: str) -> Limit | None:
    if value is None:
        return None
    ceiling = expect_mapping(value, path)
    number = parse_number(ceiling.get("value"), sub(path, "value"))
    unit_m = parse_unit(ceiling.get("unit"), sub(path, "unit"), _OPENAIP_UNITS)
    datum = parse_choice(
        ceiling.get("referenceDatum"), sub(path, "referenceDatum"), _OPENAIP_DATUMS
    )
    if unit_m == FLIGHT_LEVEL_M and ceiling.get("referenceDatum") == "GND":
        raise FieldError(sub(path, "referenceDatum"), "a flight level cannot be above ground")
    return Limit(in_metres(number, unit_m, sub(path, "value")), datum)


def read_openaip_feature(value: Any, index: int, file: str) -> Zone:
    feature = expect_mapping(value, "")
    props = expect_mapping(feature.get("properties"), "properties")
    name = optional_text(props.get("name"), "properties.name")
    identifier = (
        optional_label(props.get("id"), "properties.id")
        or optional_label(props.get("_id"), "properties._id")
        or optional_label(feature.get("id"), "id")
        or name
        or f"feature-{index}"
    )
    restriction = Restriction.REQ_AUTHORISATION
    klass = props.get("class", props.get("type"))
    if klass is not None:
        if not isinstance(klass, str):
            raise FieldError("properties.class", f"expected a string, got {show(klass)}")
        restriction = OPENAIP_CLASS_RESTRICTION.get(klass.strip().upper(), restriction)
    lower = _openaip_limit(props.get("lowerCeiling"), "properties.lowerCeiling")
    upper = _openaip_limit(props.get("upperCeiling"), "properties.upperCeiling")
    check_limit_order(lower, upper, "properties.lowerCeiling")
    applicability = parse_applicability(
        props.get("activationTimes"),
        "properties.activationTimes",
        start_key="start",
        end_key="end",
        schedule_keys=(),
        allow_permanent=False,
    )
    geometry = feature_geometry(feature)
    volumes = tuple(
        Volume(parse_area(g, p, None), lower, upper)
        for g, p in collection_members(geometry, "geometry")
    )
    return Zone(
        index=index,
        identifier=identifier,
        name=name or identifier,
        restriction=restriction,
        volumes=volumes,
        applicability=applicability,
        source=file,
    )


# ---------------------------------------------------------------------------------------------
# FAA UAS Facility Map cells


def read_faa_uasfm_feature(value: Any, index: int, file: str) -> Zone:
    feature = expect_mapping(value, "")
    props = expect_mapping(feature.get("properties"), "properties")
    ceiling_ft = parse_number(props.get("CEILING"), "properties.CEILING")
    if ceiling_ft < 0.0:
        raise FieldError("properties.CEILING", f"must be ≥ 0 ft, got {ceiling_ft:g}")
    airport = optional_label(props.get("APT1_ICAO"), "properties.APT1_ICAO")
    object_id = optional_label(props.get("OBJECTID"), "properties.OBJECTID") or optional_label(
        feature.get("id"), "id"
    )
    parts = [x for x in (airport, object_id) if x is not None]
    identifier = "-".join(parts) if parts else f"feature-{index}"
    airport_name = (
        optional_text(props.get("APT1_NAME"), "properties.APT1_NAME")
        or airport
        or "UAS facility map"
    )
    lower = Limit(in_metres(ceiling_ft, FOOT_M, "properties.CEILING"), Reference.AGL)
    geometry = feature_geometry(feature)
    volumes = tuple(
        Volume(parse_area(g, p, None), lower, None)
        for g, p in collection_members(geometry, "geometry")
    )
    return Zone(
        index=index,
        identifier=identifier,
        name=f"{airport_name} UASFM cell, ceiling {ceiling_ft:g} ft AGL",
        restriction=Restriction.REQ_AUTHORISATION,
        volumes=volumes,
        source=file,
    )


# ---------------------------------------------------------------------------------------------
# Kestrel's own property names: plain GeoJSON features and inline scenario zones

_KINDS: Mapping[str, ZoneKind] = {k.value: k for k in ZoneKind}
_ACTIONS: Mapping[str, ZoneAction] = {a.value: a for a in ZoneAction}


def _kestrel_limits(spec: Mapping[str, Any], prefix: str) -> tuple[Limit | None, Limit | None]:
    """`lower_m`/`upper_m` in metres above `ref`. `ref` is required with a limit: an AGL/AMSL
    mix-up is the classic zone error, so it is never guessed."""
    lo = optional_number(spec.get("lower_m"), prefix + "lower_m", allow_text=False)
    hi = optional_number(spec.get("upper_m"), prefix + "upper_m", allow_text=False)
    ref = spec.get("ref")
    if lo is None and hi is None:
        if ref is not None:
            parse_reference(ref, prefix + "ref")
        return None, None
    if ref is None:
        raise FieldError(prefix + "ref", "missing; needed with lower_m/upper_m (AGL, AMSL, WGS84)")
    reference = parse_reference(ref, prefix + "ref")
    lower = None if lo is None else Limit(lo, reference)
    upper = None if hi is None else Limit(hi, reference)
    check_limit_order(lower, upper, prefix + "lower_m")
    return lower, upper


def _kestrel_semantics(
    spec: Mapping[str, Any], prefix: str, *, kind_required: bool
) -> tuple[Restriction, ZoneKind, ZoneAction | None, str | None]:
    restriction = Restriction.PROHIBITED
    if spec.get("restriction") is not None:
        restriction = parse_choice(spec["restriction"], prefix + "restriction", ED269_RESTRICTIONS)
    kind = ZoneKind.EXCLUSION
    if spec.get("kind") is not None or kind_required:
        kind = parse_choice(spec.get("kind"), prefix + "kind", _KINDS)
    action = None
    if spec.get("action") is not None:
        action = parse_choice(spec["action"], prefix + "action", _ACTIONS)
    return restriction, kind, action, optional_text(spec.get("name"), prefix + "name")


def read_plain_geojson_feature(value: Any, index: int, file: str) -> Zone:
    feature = expect_mapping(value, "")
    raw_props = feature.get("properties")
    props = {} if raw_props is None else expect_mapping(raw_props, "properties")
    identifier = (
        optional_label(props.get("identifier"), "properties.identifier")
        or optional_label(props.get("id"), "properties.id")
        or optional_label(feature.get("id"), "id")
        or f"feature-{index}"
    )
    restriction, kind, action, name = _kestrel_semantics(props, "properties.", kind_required=False)
    lower, upper = _kestrel_limits(props, "properties.")
    geometry = feature_geometry(feature)
    volumes = []
    for g, p in collection_members(geometry, "geometry"):
        if g.get("type") == "Point" and g.get("extent") is None and "radius_m" in props:
            centre = parse_position(g.get("coordinates"), sub(p, "coordinates"))
            radius = parse_number(props["radius_m"], "properties.radius_m", allow_text=False)
            if radius <= 0.0:
                raise FieldError("properties.radius_m", f"must be > 0, got {radius:g}")
            shape: Shape = CircleShape(center=centre, radius_m=radius)
        else:
            shape = parse_area(g, p, 1.0)
        volumes.append(Volume(shape, lower, upper))
    return Zone(
        index=index,
        identifier=identifier,
        name=name or identifier,
        restriction=restriction,
        volumes=tuple(volumes),
        kind=kind,
        action=action,
        source=file,
    )


_INLINE_KEYS = (
    "id",
    "kind",
    "circle",
    "polygon_deg",
    "holes_deg",
    "lower_m",
    "upper_m",
    "ref",
    "active_from_s",
    "active_until_s",
    "restriction",
    "action",
    "name",
)


def _latlon(value: Any, path: str) -> LatLon:
    """A scenario `[lat_deg, lon_deg]` pair (scenario order, not GeoJSON's)."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise FieldError(path, f"expected [lat_deg, lon_deg], got {show(value)}")
    lat = parse_number(value[0], at(path, 0), allow_text=False)
    lon = parse_number(value[1], at(path, 1), allow_text=False)
    if not -90.0 <= lat <= 90.0:
        raise FieldError(at(path, 0), f"latitude {lat:g}° outside [-90, 90] (pairs are [lat, lon])")
    if not -180.0 <= lon <= 180.0:
        raise FieldError(at(path, 1), f"longitude {lon:g}° outside [-180, 180]")
    return (lat, lon)


def _inline_ring(value: Any, path: str) -> tuple[LatLon, ...]:
    points = expect_list(value, path)
    return clean_ring([_latlon(p, at(path, i)) for i, p in enumerate(points)], path)


def _inline_shape(spec: Mapping[str, Any]) -> Shape:
    circle, polygon, holes = spec.get("circle"), spec.get("polygon_deg"), spec.get("holes_deg")
    if circle is not None and polygon is not None:
        raise FieldError("circle", "give either circle or polygon_deg, not both")
    if circle is not None:
        if holes is not None:
            raise FieldError("holes_deg", "holes need polygon_deg, not circle")
        circle = expect_mapping(circle, "circle")
        reject_unknown_keys(circle, ("center_deg", "radius_m"), "circle")
        if circle.get("center_deg") is None:
            raise FieldError("circle.center_deg", "missing; expected [lat_deg, lon_deg]")
        centre = _latlon(circle["center_deg"], "circle.center_deg")
        if circle.get("radius_m") is None:
            raise FieldError("circle.radius_m", "missing")
        radius = parse_number(circle["radius_m"], "circle.radius_m", allow_text=False)
        if radius <= 0.0:
            raise FieldError("circle.radius_m", f"must be > 0, got {radius:g}")
        return CircleShape(center=centre, radius_m=radius)
    if polygon is not None:
        exterior = _inline_ring(polygon, "polygon_deg")
        hole_rings = () if holes is None else expect_list(holes, "holes_deg")
        return PolygonShape(
            exterior=exterior,
            holes=tuple(_inline_ring(h, at("holes_deg", i)) for i, h in enumerate(hole_rings)),
        )
    raise FieldError("circle", "missing; an inline zone needs circle or polygon_deg")


def inline_zone(spec: Mapping[str, Any], index: int, file: str, key: str) -> Zone:
    """One inline scenario zone (SCENARIOS.md, `world.zones[i]`) → a zone.

    Raises ValueError naming the sub-key (`circle.radius_m: must be > 0, got -5`); the scenario
    loader prefixes `file` and `key`. `Zone.source` is "scenario" (the model's convention for
    inline zones)."""
    if not isinstance(spec, Mapping):
        raise FieldError("", f"expected a mapping, got {show(spec)}")
    reject_unknown_keys(spec, _INLINE_KEYS, "")
    identifier = required_identifier(spec.get("id"), "id")
    restriction, kind, action, name = _kestrel_semantics(spec, "", kind_required=True)
    shape = _inline_shape(spec)
    lower, upper = _kestrel_limits(spec, "")
    start = optional_number(spec.get("active_from_s"), "active_from_s", allow_text=False)
    end = optional_number(spec.get("active_until_s"), "active_until_s", allow_text=False)
    for field_name, t in (("active_from_s", start), ("active_until_s", end)):
        if t is not None and t < 0.0:
            raise FieldError(field_name, f"must be ≥ 0 s, got {t:g}")
    if start is not None and end is not None and end < start:
        raise FieldError("active_until_s", f"{end:g} s is before active_from_s {start:g} s")
    log.debug("inline zone %s from %s %s", identifier, file, key)
    return Zone(
        index=index,
        identifier=identifier,
        name=name or identifier,
        restriction=restriction,
        volumes=(Volume(shape, lower, upper),),
        kind=kind,
        action=action,
        applicability=Applicability(active_from_s=start, active_until_s=end),
        source="scenario",
    )


_READERS: Mapping[str, Reader] = {
    "ED-269": read_ed269_zone,
    "ED-318": read_ed318_zone,
    "OpenAIP-GeoJSON": read_openaip_feature,
    "FAA-UASFM": read_faa_uasfm_feature,
    "GeoJSON": read_plain_geojson_feature,
}
