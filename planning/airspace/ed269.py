"""EUROCAE ED-269 `UASZoneVersion` → `model.Zone`.

Layout (ED-269 §3 and the JSON schema its annex defines; FOCA/InterUSS sample files):
`identifier`, `country`, `name`, `type`, `restriction` (PROHIBITED, REQ_AUTHORISATION,
CONDITIONAL, NO_RESTRICTION — British spelling), `message`, `applicability[]`, and `geometry[]`
whose items are `{uomDimensions: M|FT, lowerLimit, lowerVerticalReference, upperLimit,
upperVerticalReference, horizontalProjection}`. One `geometry[]` item is one `Volume`.

- Limits are numbers, numeric strings ("0") or null/missing (surface / unbounded); a present limit
  needs its vertical reference (AGL, AMSL, WGS84) and the volume's `uomDimensions`. Sentinels such
  as 99999 are kept literally. 1 ft = 0.3048 m.
- `horizontalProjection` is a GeoJSON Polygon (`[lon, lat]` positions, holes allowed; a
  MultiPolygon is also read) or `{type: Circle, center: [lon, lat], radius}` with the radius in
  `uomDimensions`.
- Unknown keys inside a geometry item are errors (they decide where the zone is); other zone
  properties (`reason`, `zoneAuthority`, `uSpaceClass`, `extendedProperties`, …) are not used by
  the model and are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kestrel.planning.airspace.applicability import parse_applicability
from kestrel.planning.airspace.geojson_zones import (
    ED269_RESTRICTIONS,
    FieldError,
    at,
    check_limit_order,
    expect_list,
    expect_mapping,
    in_metres,
    make_circle,
    optional_number,
    optional_text,
    parse_choice,
    parse_multipolygon,
    parse_polygon,
    parse_reference,
    parse_unit,
    reject_unknown_keys,
    required_identifier,
    show,
    sub,
)
from kestrel.planning.airspace.model import Limit, Shape, Volume, Zone

_VOLUME_KEYS = (
    "uomDimensions",
    "lowerLimit",
    "lowerVerticalReference",
    "upperLimit",
    "upperVerticalReference",
    "horizontalProjection",
)


def _limit(
    volume: Mapping[str, Any], key: str, ref_key: str, unit_m: float | None, path: str
) -> Limit | None:
    value = optional_number(volume.get(key), sub(path, key))
    if value is None:
        # missing/null: surface (lower) or unbounded (upper); a reference given anyway must
        # still be a valid one (garbage there means the item is not what it claims to be)
        if volume.get(ref_key) is not None:
            parse_reference(volume[ref_key], sub(path, ref_key))
        return None
    if unit_m is None:
        raise FieldError(sub(path, "uomDimensions"), f"missing; needed to read {key}")
    reference = parse_reference(volume.get(ref_key), sub(path, ref_key))
    return Limit(in_metres(value, unit_m, sub(path, key)), reference)


def _projection(value: Any, path: str, unit_m: float | None) -> Shape:
    projection = expect_mapping(value, path)
    kind = projection.get("type")
    if kind == "Polygon":
        return parse_polygon(projection.get("coordinates"), sub(path, "coordinates"))
    if kind == "MultiPolygon":
        return parse_multipolygon(projection.get("coordinates"), sub(path, "coordinates"))
    if kind == "Circle":
        return make_circle(projection.get("center"), projection.get("radius"), unit_m, path)
    expected = "Polygon, Circle or MultiPolygon"
    if kind is None:
        raise FieldError(sub(path, "type"), f"missing; expected {expected}")
    raise FieldError(sub(path, "type"), f"unknown projection {show(kind)}; expected {expected}")


def read_volume(value: Any, path: str) -> Volume:
    volume = expect_mapping(value, path)
    reject_unknown_keys(volume, _VOLUME_KEYS, path)
    uom = volume.get("uomDimensions")
    unit_m = None if uom is None else parse_unit(uom, sub(path, "uomDimensions"))
    lower = _limit(volume, "lowerLimit", "lowerVerticalReference", unit_m, path)
    upper = _limit(volume, "upperLimit", "upperVerticalReference", unit_m, path)
    check_limit_order(lower, upper, sub(path, "lowerLimit"))
    shape = _projection(
        volume.get("horizontalProjection"), sub(path, "horizontalProjection"), unit_m
    )
    return Volume(shape=shape, lower=lower, upper=upper)


def _text(value: Any, path: str) -> str | None:
    """ED-269 texts are strings; a list of ED-318-style `{text, lang}` objects is also read."""
    if isinstance(value, list):
        texts = [t.get("text") for t in value if isinstance(t, Mapping)]
        texts = [t for t in texts if isinstance(t, str)]
        if len(texts) != len(value):
            raise FieldError(path, "expected a string or a list of {text, lang} objects")
        return texts[0] if texts else None
    return optional_text(value, path)


def read_ed269_zone(value: Any, index: int, file: str) -> Zone:
    """One `UASZoneVersion` (position `index` in its file) → a zone with one volume per
    `geometry[]` item."""
    feature = expect_mapping(value, "")
    identifier = required_identifier(feature.get("identifier"), "identifier")
    restriction = parse_choice(
        feature.get("restriction"),
        "restriction",
        ED269_RESTRICTIONS,
        hint="ED-269 spells it REQ_AUTHORISATION"
        if feature.get("restriction") == "REQ_AUTHORIZATION"
        else "",
    )
    name = _text(feature.get("name"), "name")
    country = optional_text(feature.get("country"), "country")
    message = _text(feature.get("message"), "message")
    applicability = parse_applicability(feature.get("applicability"), "applicability")
    geometry = expect_list(feature.get("geometry"), "geometry", non_empty=True)
    volumes = tuple(read_volume(item, at("geometry", i)) for i, item in enumerate(geometry))
    return Zone(
        index=index,
        identifier=identifier,
        name=name or identifier,
        restriction=restriction,
        volumes=volumes,
        applicability=applicability,
        country=country,
        message=message,
        source=file,
    )
