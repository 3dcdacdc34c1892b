"""EUROCAE ED-318 GeoZone features (a GeoJSON FeatureCollection) → `model.Zone`.

Layout (ED-318 JSON schema and examples, github.com/UASGeoZones/ED-318): `properties` holds
`identifier`, `country`, `name` (a list of `{text, lang}`), `type` (USPACE, PROHIBITED,
REQ_AUTHORIZATION, CONDITIONAL, NO_RESTRICTION — American spelling), `variant`, `message`,
`limitedApplicability[]`, `zoneAuthority[]`; the GeoJSON `geometry` carries the vertical extent
in a non-standard `layer {upper, upperReference, lower, lowerReference, uom: m|ft}`.

- One area geometry is one `Volume`: a Polygon, a MultiPolygon (all its parts form one volume), or
  each member of a GeometryCollection (each with its own `layer`; a member without one uses the
  collection's). A geometry with no `layer` anywhere is surface to unbounded.
- A `Point` with `extent {subType: Circle, radius}` is a circle; the radius is read in the layer's
  `uom` (metres when there is no layer), as ED-269 reads radii in `uomDimensions`.
- `type` must use the ED-318 spelling: `REQ_AUTHORISATION` (the ED-269 spelling) is refused, as the
  EUROCONTROL invalid example expects. `USPACE` (U-space airspace, which needs U-space services)
  maps to REQ_AUTHORISATION since the model has no U-space restriction.
- Texts must be `{text, lang}` objects; a bare string is also read (national files use it).
- `metadata`/`datasetMetadata` dates (`validFrom`, `validTo`, `issued`) must be date-time strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kestrel.planning.airspace.applicability import parse_applicability, parse_datetime
from kestrel.planning.airspace.geojson_zones import (
    FieldError,
    at,
    check_limit_order,
    collection_members,
    expect_mapping,
    feature_geometry,
    in_metres,
    optional_number,
    optional_text,
    parse_area,
    parse_choice,
    parse_reference,
    parse_unit,
    reject_unknown_keys,
    required_identifier,
    show,
    sub,
)
from kestrel.planning.airspace.model import Limit, Restriction, Volume, Zone

ED318_TYPES: Mapping[str, Restriction] = {
    "PROHIBITED": Restriction.PROHIBITED,
    "REQ_AUTHORIZATION": Restriction.REQ_AUTHORISATION,
    "CONDITIONAL": Restriction.CONDITIONAL,
    "NO_RESTRICTION": Restriction.NO_RESTRICTION,
    "USPACE": Restriction.REQ_AUTHORISATION,
}
_LAYER_KEYS = ("upper", "upperReference", "lower", "lowerReference", "uom")
_METADATA_DATES = ("validFrom", "validTo", "issued")


def read_text(value: Any, path: str) -> str | None:
    """An ED-318 text list `[{text, lang}, …]` → the English text (else the first); a bare
    string is kept as it is; null/missing → None."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise FieldError(path, f"expected a list of {{text, lang}} objects, got {show(value)}")
    texts: list[tuple[str, str]] = []
    for i, entry in enumerate(value):
        item_path = at(path, i)
        entry = expect_mapping(entry, item_path)
        pair = []
        for key in ("text", "lang"):
            if entry.get(key) is None:
                what = " (a language tag such as en-GB)" if key == "lang" else ""
                raise FieldError(sub(item_path, key), f"missing{what}")
            pair.append(optional_text(entry[key], sub(item_path, key)) or "")
        texts.append((pair[0], pair[1]))
    english = [text for text, lang in texts if lang.lower().startswith("en")]
    return english[0] if english else (texts[0][0] if texts else None)


def read_layer(value: Any, path: str) -> tuple[Limit | None, Limit | None, float | None]:
    """`layer` → (lower, upper, metres per uom)."""
    layer = expect_mapping(value, path)
    reject_unknown_keys(layer, _LAYER_KEYS, path)
    uom = layer.get("uom")
    unit_m = None if uom is None else parse_unit(uom, sub(path, "uom"))
    limits = []
    for key in ("lower", "upper"):
        number = optional_number(layer.get(key), sub(path, key))
        if number is None:
            if layer.get(f"{key}Reference") is not None:
                parse_reference(layer[f"{key}Reference"], sub(path, f"{key}Reference"))
            limits.append(None)
            continue
        if unit_m is None:
            raise FieldError(sub(path, "uom"), f"missing; needed to read {key}")
        reference = parse_reference(layer.get(f"{key}Reference"), sub(path, f"{key}Reference"))
        limits.append(Limit(in_metres(number, unit_m, sub(path, key)), reference))
    check_limit_order(limits[0], limits[1], sub(path, "lower"))
    return limits[0], limits[1], unit_m


def read_ed318_zone(value: Any, index: int, file: str) -> Zone:
    """One ED-318 feature (position `index`) → a zone with one volume per area geometry."""
    feature = expect_mapping(value, "")
    kind = feature.get("type")
    if kind is not None and kind != "Feature":
        raise FieldError("type", f"expected Feature, got {show(kind)}")
    props = expect_mapping(feature.get("properties"), "properties")
    identifier = required_identifier(props.get("identifier"), "properties.identifier")
    raw_type = props.get("type")
    restriction = parse_choice(
        raw_type,
        "properties.type",
        ED318_TYPES,
        hint="that is the ED-269 spelling; ED-318 uses REQ_AUTHORIZATION"
        if raw_type == "REQ_AUTHORISATION"
        else "",
    )
    name = read_text(props.get("name"), "properties.name")
    message = read_text(props.get("message"), "properties.message")
    country = optional_text(props.get("country"), "properties.country")
    applicability = parse_applicability(
        props.get("limitedApplicability"),
        "properties.limitedApplicability",
        schedule_keys=("schedule", "dailyPeriod"),
        allow_permanent=False,
    )
    geometry = feature_geometry(feature)
    outer_layer = geometry.get("layer") if geometry.get("type") == "GeometryCollection" else None
    volumes = []
    for member, path in collection_members(geometry, "geometry"):
        lower = upper = unit_m = None
        if member.get("layer") is not None:
            lower, upper, unit_m = read_layer(member["layer"], sub(path, "layer"))
        elif outer_layer is not None:
            lower, upper, unit_m = read_layer(outer_layer, "geometry.layer")
        volumes.append(Volume(parse_area(member, path, unit_m), lower, upper))
    return Zone(
        index=index,
        identifier=identifier,
        name=name or identifier,
        restriction=restriction,
        volumes=tuple(volumes),
        applicability=applicability,
        country=country,
        message=message,
        source=file,
    )


def check_metadata(doc: Mapping[str, Any]) -> None:
    """Collection metadata is not used by the model, but malformed dates in it mean the file is
    not what it claims to be."""
    for key in ("metadata", "datasetMetadata"):
        meta = doc.get(key)
        if meta is None:
            continue
        meta = expect_mapping(meta, key)
        for date_key in _METADATA_DATES:
            parse_datetime(meta.get(date_key), sub(key, date_key))
