"""Zone-file import: the twelve third-party files (shared/zones/third-party/README.md) load with
every zone and volume, in metres with their reference, or are refused with one line; Kestrel's
own good files and inline scenario zones import as SCENARIOS.md describes.

Expected numbers are derived from the raw file values and the unit definitions (1 ft = 0.3048 m
exact; FL = 100 ft of ISA pressure altitude), never from the importer."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kestrel.planning.airspace.importers import (
    inline_zone,
    load_zone_file,
    parse_zone_document,
)
from kestrel.planning.airspace.model import (
    CircleShape,
    Limit,
    MultiPolygonShape,
    PolygonShape,
    Reference,
    Restriction,
    ZoneAction,
    ZoneFileError,
    ZoneKind,
)

THIRD_PARTY = Path(__file__).resolve().parents[2] / "shared" / "zones" / "third-party"
GOOD = Path(__file__).resolve().parent / "data" / "zones" / "good"

FT_M = 0.3048  # international foot, exact
FL_M = 100 * FT_M


def third_party(relative: str) -> Path:
    if not THIRD_PARTY.is_dir():
        pytest.skip(
            f"third-party zone files not present at {THIRD_PARTY} (shared/ not checked out)"
        )
    return THIRD_PARTY / relative


def raw(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8-sig"))


def distinct_ring_length(positions: list[list[float]]) -> int:
    """Vertices of a raw GeoJSON ring once consecutive repeats and the closing vertex go."""
    kept: list[list[float]] = []
    for p in positions:
        if not kept or p != kept[-1]:
            kept.append(p)
    if len(kept) > 1 and kept[-1] == kept[0]:
        kept.pop()
    return len(kept)


def signed_area_lonlat(ring: list[tuple[float, float]]) -> float:
    """Shoelace in (lon, lat): positive = counter-clockwise seen from above."""
    n = len(ring)
    return sum(
        ring[i][0] * ring[(i + 1) % n][1] - ring[(i + 1) % n][0] * ring[i][1] for i in range(n)
    )


def assert_limit(limit: Limit | None, value_m: float, reference: Reference) -> None:
    assert limit is not None
    assert limit.reference is reference
    assert limit.value_m == pytest.approx(value_m, abs=1e-9)


# --------------------------------------------------------------------------------------------
# Every third-party file: format, wrapper, zone and volume counts (README table) or refusal

VALID_FILES = [
    ("ed269/interuss-che1-geo-awareness.json", "ED-269", "features", 6, 10),
    ("ed269/interuss-che-cis-sample-uaszonelist.json", "ED-269", "UASZoneList", 1, 1),
    ("ed318/foca-che-cis-sample-ed318.json", "ED-318", "FeatureCollection", 3, 3),
    ("ed318/eurocontrol-example-collection.json", "ED-318", "FeatureCollection", 2, 3),
    ("national-shape/callmarcus-ed269-fi.json", "ED-269", "features", 2, 2),
    ("national-shape/callmarcus-ed269-ch.json", "ED-269", "features", 4, 5),
    ("national-shape/callmarcus-ed318-ie.json", "ED-318", "FeatureCollection", 4, 4),
    ("national-shape/callmarcus-faa-uasfm.json", "FAA-UASFM", "FeatureCollection", 2, 2),
    ("openaip/openaip-circular-result.geojson", "OpenAIP-GeoJSON", "FeatureCollection", 1, 1),
    ("openaip/openaip-arc-ccw-result.geojson", "OpenAIP-GeoJSON", "FeatureCollection", 1, 1),
]


@pytest.mark.parametrize(("relative", "fmt", "wrapper", "n_zones", "n_volumes"), VALID_FILES)
def test_third_party_file_loads_every_zone_and_volume(
    relative: str, fmt: str, wrapper: str, n_zones: int, n_volumes: int
) -> None:
    # Given a published zone file
    path = third_party(relative)
    # When it is imported
    zone_file = load_zone_file(path)
    # Then the format and container are recognised and nothing is dropped, in file order
    assert (zone_file.format, zone_file.wrapper) == (fmt, wrapper)
    assert zone_file.path == str(path)
    assert len(zone_file.zones) == n_zones
    assert sum(len(z.volumes) for z in zone_file.zones) == n_volumes
    assert [z.index for z in zone_file.zones] == list(range(n_zones))
    assert all(z.source == str(path) for z in zone_file.zones)


INVALID_FILES = [
    ("ed318/eurocontrol-invalid-2-layers.json", "features[0] (identifier 'NFZ6547')", "type"),
    (
        "openaip/openaip-activation-times-no-geometry.geojson",
        "features[0] (name 'TMA Todendorf-Putlos')",
        "geometry",
    ),
]


@pytest.mark.parametrize(("relative", "feature", "field"), INVALID_FILES)
def test_invalid_third_party_file_is_refused_with_one_line(
    relative: str, feature: str, field: str
) -> None:
    # Given a file its publisher marks invalid
    path = third_party(relative)
    # When it is imported, Then it is refused naming the file, the feature and the field
    with pytest.raises(ZoneFileError) as refused:
        load_zone_file(path)
    message = str(refused.value)
    assert "\n" not in message
    assert path.name in message
    assert feature in message
    assert field in refused.value.field
    assert refused.value.field in message


def test_eurocontrol_invalid_file_is_refused_for_the_ed269_restriction_spelling() -> None:
    path = third_party("ed318/eurocontrol-invalid-2-layers.json")
    with pytest.raises(ZoneFileError) as refused:
        load_zone_file(path)
    assert refused.value.field == "properties.type"
    assert "REQ_AUTHORISATION" in refused.value.problem


# --------------------------------------------------------------------------------------------
# ED-269: InterUSS CHE-1


def test_che1_montreux_circle_mixes_agl_floor_and_amsl_ceiling() -> None:
    path = third_party("ed269/interuss-che1-geo-awareness.json")
    src = raw(path)["features"][0]["geometry"][0]
    montreux = load_zone_file(path).zones[0]
    assert montreux.identifier == "Montreux Concert Area"
    assert montreux.restriction is Restriction.PROHIBITED
    (volume,) = montreux.volumes
    assert isinstance(volume.shape, CircleShape)
    lon, lat = src["horizontalProjection"]["center"]
    assert volume.shape.center == (lat, lon)  # file [lon, lat] → model (lat, lon)
    assert volume.shape.radius_m == src["horizontalProjection"]["radius"] == 3000
    assert volume.lower == Limit(0.0, Reference.AGL)
    assert volume.upper == Limit(6259.0, Reference.AMSL)


def test_che1_montreux_schedule_applies_on_weekend_evenings_within_its_dates() -> None:
    # Given the SAT/SUN 17:00–23:59:59Z schedule valid 2022-06-15T09Z → 2023-06-15T09Z
    montreux = load_zone_file(third_party("ed269/interuss-che1-geo-awareness.json")).zones[0]
    saturday = datetime(2022, 7, 2, 18, 0, tzinfo=UTC)
    wednesday = datetime(2022, 7, 6, 18, 0, tzinfo=UTC)
    assert (saturday.weekday(), wednesday.weekday()) == (5, 2)
    # Then it is active on a Saturday evening, not on a Wednesday evening
    assert montreux.applicability.is_active(saturday)
    assert not montreux.applicability.is_active(wednesday)
    # And the slot bounds are inclusive, the afternoon and the following year are outside
    assert montreux.applicability.is_active(datetime(2022, 7, 3, 23, 59, 59, tzinfo=UTC))
    assert not montreux.applicability.is_active(datetime(2022, 7, 2, 16, 59, tzinfo=UTC))
    assert not montreux.applicability.is_active(datetime(2023, 7, 1, 18, 0, tzinfo=UTC))


def test_che1_reichenbach_wedding_cake_keeps_three_circles() -> None:
    path = third_party("ed269/interuss-che1-geo-awareness.json")
    src = raw(path)["features"][1]["geometry"]
    zone = load_zone_file(path).zones[1]
    assert [v.shape.radius_m for v in zone.volumes] == [1000, 2500, 3500]
    assert [v.lower for v in zone.volumes] == [Limit(f, Reference.AGL) for f in (0, 50, 100)]
    assert all(v.upper == Limit(120.0, Reference.AGL) for v in zone.volumes)
    assert [v.lower.value_m for v in zone.volumes] == [g["lowerLimit"] for g in src]
    # Dated validity without a schedule
    assert zone.applicability.is_active(datetime(2022, 12, 1, tzinfo=UTC))
    assert not zone.applicability.is_active(datetime(2023, 12, 1, tzinfo=UTC))


def test_che1_lausanne_duplicated_first_vertex_is_dropped() -> None:
    path = third_party("ed269/interuss-che1-geo-awareness.json")
    src = raw(path)["features"][2]["geometry"]
    zone = load_zone_file(path).zones[2]
    rings = [g["horizontalProjection"]["coordinates"][0] for g in src]
    assert rings[1][0] == rings[1][1]  # the quirk is in the file
    assert [len(v.shape.exterior) for v in zone.volumes] == [distinct_ring_length(r) for r in rings]
    assert [len(v.shape.exterior) for v in zone.volumes] == [4, 3, 3]
    assert zone.applicability.permanent


def test_che1_gantrisch_duplicate_identifiers_stay_two_zones_in_feet() -> None:
    path = third_party("ed269/interuss-che1-geo-awareness.json")
    src = raw(path)["features"][4]["geometry"][0]
    assert (src["uomDimensions"], src["upperLimit"], src["upperVerticalReference"]) == (
        "FT",
        250,
        "AGL",
    )
    zones = load_zone_file(path).zones
    gantrisch = [z for z in zones if z.identifier == "Gantrisch Nature Park"]
    assert [z.index for z in gantrisch] == [4, 5]
    assert [z.restriction for z in gantrisch] == [
        Restriction.NO_RESTRICTION,
        Restriction.REQ_AUTHORISATION,
    ]
    for zone in gantrisch:
        (volume,) = zone.volumes
        assert_limit(volume.upper, src["upperLimit"] * FT_M, Reference.AGL)  # 76.2 m
        assert volume.lower == Limit(0.0, Reference.AGL)
        assert len(volume.shape.exterior) == 5


def test_che_cis_sample_reads_string_zero_floor_and_null_ceiling() -> None:
    zone_file = load_zone_file(third_party("ed269/interuss-che-cis-sample-uaszonelist.json"))
    (zone,) = zone_file.zones
    (volume,) = zone.volumes
    assert volume.lower == Limit(0.0, Reference.AGL)
    assert volume.upper is None
    assert zone.restriction is Restriction.REQ_AUTHORISATION
    assert zone.message == "MSG01"
    # permanent YES with an empty dailyPeriod ([] days, null times) narrows nothing
    assert zone.applicability.permanent
    assert len(volume.shape.exterior) == 4


# --------------------------------------------------------------------------------------------
# ED-318


def test_foca_ed318_keeps_clockwise_rings_and_the_99999_sentinel() -> None:
    path = third_party("ed318/foca-che-cis-sample-ed318.json")
    assert b"\r\n" in path.read_bytes()  # the CRLF quirk is in the file
    src = raw(path)["features"]
    zones = load_zone_file(path).zones
    assert [z.identifier for z in zones] == ["LSZB003", "BLns058", "LSTB002"]
    for zone, feature in zip(zones, src, strict=True):
        ring = feature["geometry"]["coordinates"][0]
        layer = feature["geometry"]["layer"]
        (volume,) = zone.volumes
        assert len(volume.shape.exterior) == distinct_ring_length(ring)
        assert signed_area_lonlat([(p[0], p[1]) for p in ring]) < 0  # clockwise in the file
        loaded = [(lon, lat) for lat, lon in volume.shape.exterior]
        assert signed_area_lonlat(loaded) < 0  # and kept so
        assert volume.upper == Limit(float(layer["upper"]), Reference.AGL)
        assert volume.lower == Limit(float(layer["lower"]), Reference.AGL)
        assert zone.restriction is Restriction.REQ_AUTHORISATION
        assert zone.applicability.permanent
    assert len(zones[0].volumes[0].shape.exterior) == 27  # 28 positions, closing one dropped
    assert zones[0].volumes[0].upper == Limit(99999.0, Reference.AGL)
    assert zones[0].volumes[0].lower == Limit(60.0, Reference.AGL)
    assert zones[0].name == "LSZB Bern-Belp 2"


def test_eurocontrol_geometry_collection_gives_one_volume_per_layer() -> None:
    zones = load_zone_file(third_party("ed318/eurocontrol-example-collection.json")).zones
    nfz = zones[0]
    assert nfz.identifier == "NFZ6547"
    assert nfz.restriction is Restriction.REQ_AUTHORISATION  # ED-318 REQ_AUTHORIZATION
    assert [(v.lower, v.upper) for v in nfz.volumes] == [
        (Limit(50.0, Reference.AGL), Limit(150.0, Reference.AGL)),
        (Limit(0.0, Reference.AGL), Limit(50.0, Reference.AGL)),
    ]
    assert [len(v.shape.exterior) for v in nfz.volumes] == [4, 3]
    assert nfz.name == "LFPG-2"


def test_eurocontrol_point_extent_is_a_circle() -> None:
    circle_zone = load_zone_file(third_party("ed318/eurocontrol-example-collection.json")).zones[1]
    (volume,) = circle_zone.volumes
    assert volume.shape == CircleShape(center=(50.122901, 2.636866), radius_m=3500.0)
    assert (volume.lower, volume.upper) == (Limit(50.0, Reference.AGL), Limit(150.0, Reference.AGL))
    assert circle_zone.restriction is Restriction.PROHIBITED


def test_eurocontrol_schedule_any_day_and_sunday_slots() -> None:
    # Given ANY 16–17Z and SUN 10–12Z between 2018-12-31T15:59:59Z and 2019-12-31T15:59:59Z
    nfz = load_zone_file(third_party("ed318/eurocontrol-example-collection.json")).zones[0]
    wednesday = datetime(2019, 3, 13, 16, 30, tzinfo=UTC)
    sunday = datetime(2019, 3, 17, 11, 0, tzinfo=UTC)
    assert (wednesday.weekday(), sunday.weekday()) == (2, 6)
    assert nfz.applicability.is_active(wednesday)
    assert not nfz.applicability.is_active(wednesday.replace(hour=13))
    assert nfz.applicability.is_active(sunday)
    assert not nfz.applicability.is_active(datetime(2019, 3, 18, 11, 0, tzinfo=UTC))  # Monday
    assert not nfz.applicability.is_active(datetime(2020, 3, 18, 16, 30, tzinfo=UTC))


def test_ireland_multipolygon_with_hole_in_feet() -> None:
    path = third_party("national-shape/callmarcus-ed318-ie.json")
    layer = raw(path)["features"][0]["geometry"]["layer"]
    assert (layer["upper"], layer["upperReference"], layer["uom"]) == (2500.0, "AMSL", "ft")
    zones = load_zone_file(path).zones
    red = zones[0]
    (volume,) = red.volumes
    assert isinstance(volume.shape, MultiPolygonShape)
    (part,) = volume.shape.parts
    assert len(part.holes) == 1
    assert len(part.exterior) == 4
    assert len(part.holes[0]) == 4
    assert_limit(volume.upper, layer["upper"] * FT_M, Reference.AMSL)  # 762 m AMSL
    assert volume.lower == Limit(0.0, Reference.AGL)
    assert_limit(zones[2].volumes[0].upper, 400 * FT_M, Reference.AGL)
    assert zones[2].restriction is Restriction.CONDITIONAL
    assert red.name == "Example Control Zone - Red Zone"  # a bare-string name


def test_ireland_geometry_without_layer_is_surface_to_unbounded() -> None:
    zones = load_zone_file(third_party("national-shape/callmarcus-ed318-ie.json")).zones
    (volume,) = zones[3].volumes
    assert (volume.lower, volume.upper) == (None, None)
    assert zones[3].restriction is Restriction.NO_RESTRICTION


def test_ireland_dated_windows_with_offsets_are_inclusive() -> None:
    event = load_zone_file(third_party("national-shape/callmarcus-ed318-ie.json")).zones[1]
    assert event.identifier == "T901"
    assert event.applicability.is_active(datetime(2026, 8, 5, 12, 0, tzinfo=UTC))
    assert not event.applicability.is_active(datetime(2026, 8, 6, 12, 0, tzinfo=UTC))
    assert event.applicability.is_active(datetime(2026, 8, 29, 22, 59, tzinfo=UTC))
    assert not event.applicability.is_active(datetime(2026, 8, 29, 23, 0, tzinfo=UTC))


# --------------------------------------------------------------------------------------------
# National shapes (ED-269), FAA, OpenAIP


def test_finland_bom_file_loads_volume_without_limits() -> None:
    path = third_party("national-shape/callmarcus-ed269-fi.json")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    zones = load_zone_file(path).zones
    assert zones[0].volumes[0].upper == Limit(50.0, Reference.AGL)
    assert (zones[1].volumes[0].lower, zones[1].volumes[0].upper) == (None, None)
    assert zones[1].restriction is Restriction.NO_RESTRICTION


def test_switzerland_99999_sentinel_is_literal_in_both_references() -> None:
    zones = load_zone_file(third_party("national-shape/callmarcus-ed269-ch.json")).zones
    assert zones[0].volumes[0].upper == Limit(99999.0, Reference.AMSL)
    assert zones[1].volumes[0].upper == Limit(99999.0, Reference.AGL)
    assert len(zones[3].volumes) == 2
    assert all(v.upper == Limit(1500.0, Reference.AMSL) for v in zones[3].volumes)


def test_faa_uasfm_cell_restricts_from_its_ceiling_upward() -> None:
    path = third_party("national-shape/callmarcus-faa-uasfm.json")
    src = raw(path)["features"]
    zones = load_zone_file(path).zones
    for zone, feature in zip(zones, src, strict=True):
        (volume,) = zone.volumes
        ceiling_ft = feature["properties"]["CEILING"]
        assert_limit(volume.lower, ceiling_ft * FT_M, Reference.AGL)
        assert volume.upper is None
        assert zone.restriction is Restriction.REQ_AUTHORISATION
    assert_limit(zones[1].volumes[0].lower, 60.96, Reference.AGL)  # 200 ft
    assert [z.identifier for z in zones] == ["KLGA-1", "KLGA-2"]


def test_openaip_circle_polygon_feet_msl_and_gnd() -> None:
    path = third_party("openaip/openaip-circular-result.geojson")
    feature = raw(path)["features"][0]
    ring = feature["geometry"]["coordinates"][0]
    assert feature["properties"]["upperCeiling"] == {
        "value": 2200,
        "unit": "FT",
        "referenceDatum": "MSL",
    }
    assert feature["properties"]["lowerCeiling"]["referenceDatum"] == "GND"
    (zone,) = load_zone_file(path).zones
    (volume,) = zone.volumes
    assert_limit(volume.upper, 2200 * FT_M, Reference.AMSL)  # 670.56 m
    assert volume.lower == Limit(0.0, Reference.AGL)
    assert len(volume.shape.exterior) == distinct_ring_length(ring) == 50
    assert volume.shape.exterior[0] == (ring[0][1], ring[0][0])
    assert zone.restriction is Restriction.PROHIBITED  # class R


def test_openaip_flight_level_ceiling_is_isa_pressure_altitude_amsl() -> None:
    path = third_party("openaip/openaip-arc-ccw-result.geojson")
    feature = raw(path)["features"][0]
    ring = feature["geometry"]["coordinates"][0]
    assert feature["properties"]["upperCeiling"] == {
        "value": 100,
        "unit": "FL",
        "referenceDatum": "STD",
    }
    assert feature["properties"]["lowerCeiling"] == {
        "value": 4000,
        "unit": "FT",
        "referenceDatum": "MSL",
    }
    (zone,) = load_zone_file(path).zones
    (volume,) = zone.volumes
    assert_limit(volume.upper, 100 * FL_M, Reference.AMSL)  # FL100 = 3048 m
    assert_limit(volume.lower, 4000 * FT_M, Reference.AMSL)  # 1219.2 m
    assert len(volume.shape.exterior) == distinct_ring_length(ring) == 105


# --------------------------------------------------------------------------------------------
# Kestrel's own good files


def test_airport_test_file_has_one_prohibited_circle() -> None:
    zone_file = load_zone_file(GOOD / "airport-ed269.json")
    (zone,) = zone_file.zones
    assert zone.identifier == "LSGG-CTR-TEST"
    assert zone.restriction is Restriction.PROHIBITED
    assert zone.effective_action is ZoneAction.PREVENT_ENTRY
    (volume,) = zone.volumes
    assert volume.shape == CircleShape(center=(47.0, 8.0), radius_m=1000.0)
    assert (volume.lower, volume.upper) == (Limit(0.0, Reference.AGL), Limit(300.0, Reference.AGL))
    assert zone.applicability.permanent


def test_schedule_spellings_daily_period_day_names_and_24h_end() -> None:
    zone = load_zone_file(GOOD / "schedules-ed269.json").zones[0]
    monday = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert monday.weekday() == 0
    assert zone.applicability.is_active(monday)
    assert zone.applicability.is_active(datetime(2026, 3, 3, 23, 59, 59, 999999, tzinfo=UTC))
    assert not zone.applicability.is_active(datetime(2026, 3, 2, 7, 59, tzinfo=UTC))
    assert not zone.applicability.is_active(datetime(2026, 3, 4, 9, 0, tzinfo=UTC))  # Wednesday
    # startDateTime without an offset is UTC
    assert not zone.applicability.is_active(datetime(2025, 12, 29, 9, 0, tzinfo=UTC))


def test_schedule_overnight_slot_with_utc_offset() -> None:
    # Given FRI 22:00–02:00 at UTC+02:00, i.e. Friday 20:00Z to Saturday 00:00Z
    zone = load_zone_file(GOOD / "schedules-ed269.json").zones[1]
    friday = datetime(2026, 3, 6, 20, 30, tzinfo=UTC)
    assert friday.weekday() == 4
    assert zone.applicability.is_active(friday)
    assert not zone.applicability.is_active(friday.replace(hour=19))
    assert zone.applicability.is_active(datetime(2026, 3, 6, 23, 30, tzinfo=UTC))
    assert not zone.applicability.is_active(datetime(2026, 3, 7, 0, 30, tzinfo=UTC))


def test_schedule_two_periods_either_applies() -> None:
    zone = load_zone_file(GOOD / "schedules-ed269.json").zones[2]
    assert zone.applicability.is_active(datetime(2026, 3, 1, 11, 0, tzinfo=UTC))
    assert zone.applicability.is_active(datetime(2026, 3, 8, 9, 30, tzinfo=UTC))  # 10:30+01
    assert not zone.applicability.is_active(datetime(2026, 3, 8, 11, 30, tzinfo=UTC))
    assert not zone.applicability.is_active(datetime(2026, 3, 5, 11, 0, tzinfo=UTC))


def test_units_feet_circle_radius_string_limits_and_hole() -> None:
    zones = load_zone_file(GOOD / "units-ed269.json").zones
    (circle,) = zones[0].volumes
    assert circle.shape.radius_m == pytest.approx(500 * FT_M)
    assert_limit(circle.lower, 100 * FT_M, Reference.AGL)
    assert_limit(circle.upper, 1000.5 * FT_M, Reference.WGS84)
    (holed,) = zones[1].volumes
    assert isinstance(holed.shape, PolygonShape)
    assert len(holed.shape.holes) == 1
    assert (holed.lower, holed.upper) == (None, Limit(150.0, Reference.AMSL))


def test_plain_geojson_uses_kestrel_property_names() -> None:
    zone_file = load_zone_file(str(GOOD / "kestrel-geojson.json"))
    assert (zone_file.format, zone_file.wrapper) == ("GeoJSON", "FeatureCollection")
    ops, mast, bare = zone_file.zones
    assert (ops.identifier, ops.kind) == ("ops-area", ZoneKind.INCLUSION)
    assert ops.volumes[0].upper == Limit(120.0, Reference.AGL)
    assert len(ops.volumes[0].shape.exterior) == 4  # an unclosed ring is accepted
    assert mast.volumes[0].shape == CircleShape(center=(31.23, 121.475), radius_m=50.0)
    assert (mast.volumes[0].lower, mast.volumes[0].upper) == (None, Limit(80.0, Reference.AMSL))
    assert mast.effective_action is ZoneAction.WARN
    assert (bare.identifier, bare.restriction, bare.kind) == (
        "feature-2",
        Restriction.PROHIBITED,
        ZoneKind.EXCLUSION,
    )


def test_parse_zone_document_accepts_a_parsed_object() -> None:
    doc = raw(GOOD / "airport-ed269.json")
    zone_file = parse_zone_document(doc, "in-memory")
    assert zone_file.path == "in-memory"
    assert zone_file.zones[0].source == "in-memory"
    assert zone_file.zones[0].volumes[0].shape.radius_m == 1000.0


# --------------------------------------------------------------------------------------------
# Inline scenario zones (SCENARIOS.md world.zones)


def test_inline_circle_with_sim_time_window() -> None:
    spec = {
        "id": "tfr-1",
        "kind": "exclusion",
        "circle": {"center_deg": [31.231, 121.476], "radius_m": 150},
        "lower_m": 0,
        "upper_m": 500,
        "ref": "AGL",
        "active_from_s": 20,
    }
    zone = inline_zone(spec, 3, "scenario.yaml", "world.zones[3]")
    assert zone.index == 3
    (volume,) = zone.volumes
    assert volume.shape == CircleShape(center=(31.231, 121.476), radius_m=150.0)
    assert (volume.lower, volume.upper) == (Limit(0.0, Reference.AGL), Limit(500.0, Reference.AGL))
    noon = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert not zone.applicability.is_active(noon, sim_time_s=10.0)
    assert zone.applicability.is_active(noon, sim_time_s=25.0)


def test_inline_polygon_with_hole_and_options() -> None:
    spec = {
        "id": "ops-area",
        "kind": "inclusion",
        "polygon_deg": [[31.22, 121.46], [31.24, 121.46], [31.24, 121.49], [31.22, 121.49]],
        "holes_deg": [[[31.225, 121.47], [31.235, 121.47], [31.235, 121.48]]],
        "lower_m": 0,
        "upper_m": 120,
        "ref": "AMSL",
        "restriction": "REQ_AUTHORISATION",
        "action": "warn",
        "name": "Operating area",
    }
    zone = inline_zone(spec, 0, "s.yaml", "world.zones[0]")
    (volume,) = zone.volumes
    assert volume.shape.exterior[0] == (31.22, 121.46)  # scenario pairs are [lat, lon]
    assert len(volume.shape.holes) == 1
    assert zone.kind is ZoneKind.INCLUSION
    assert zone.restriction is Restriction.REQ_AUTHORISATION
    assert zone.effective_action is ZoneAction.WARN
    assert zone.name == "Operating area"
    assert volume.upper == Limit(120.0, Reference.AMSL)


def test_inline_defaults_surface_unbounded_prohibited_permanent() -> None:
    spec = {"id": "keep-out", "kind": "exclusion", "circle": {"center_deg": [0, 0], "radius_m": 5}}
    zone = inline_zone(spec, 1, "s.yaml", "world.zones[1]")
    (volume,) = zone.volumes
    assert (volume.lower, volume.upper) == (None, None)
    assert zone.restriction is Restriction.PROHIBITED
    assert zone.action is None
    assert zone.effective_action is ZoneAction.PREVENT_ENTRY
    assert zone.applicability.permanent
    assert (zone.name, zone.source) == ("keep-out", "scenario")


_CIRCLE = {"center_deg": [47.0, 8.0], "radius_m": 100}
INLINE_ERRORS = [
    ({"circle": {"center_deg": [47.0, 8.0], "radius_m": -5}}, "circle.radius_m: must be > 0"),
    ({"circle": {"center_deg": [47.0, 8.0], "radius_m": 0}}, "circle.radius_m: must be > 0"),
    ({"circle": {"center_deg": [95.0, 8.0], "radius_m": 1}}, "circle.center_deg[0]"),
    ({"circle": {"center_deg": [47.0], "radius_m": 1}}, "circle.center_deg"),
    ({"circle": {"centre_deg": [47.0, 8.0], "radius_m": 1}}, "circle.centre_deg: unknown key"),
    ({"circle": None, "polygon_deg": [[47, 8], [47.1, 8], [47, 8]]}, "polygon_deg: a ring needs"),
    ({"circle": _CIRCLE, "polygon_deg": [[47, 8], [47.1, 8], [47, 8.1]]}, "circle: give either"),
    ({"circle": None}, "circle: missing"),
    ({"kind": None}, "kind: missing"),
    ({"kind": "keep-out"}, "kind: unknown value 'keep-out'"),
    ({"id": None}, "id: missing"),
    ({"upper_m": 120}, "ref: missing"),
    ({"upper_m": 120, "ref": "MSL"}, "ref: unknown vertical reference 'MSL'"),
    ({"lower_m": 200, "upper_m": 100, "ref": "AGL"}, "lower_m: lower limit 200 m AGL"),
    ({"upper_m": "120", "ref": "AGL"}, "upper_m: expected a number"),
    ({"active_from_s": 30, "active_until_s": 10}, "active_until_s:"),
    ({"restriction": "FORBIDDEN"}, "restriction: unknown value 'FORBIDDEN'"),
    ({"action": "shoot"}, "action: unknown value 'shoot'"),
    ({"radius": 5}, "radius: unknown key"),
]


@pytest.mark.parametrize(("change", "message"), INLINE_ERRORS)
def test_inline_zone_error_names_the_sub_key(change: dict[str, Any], message: str) -> None:
    spec: dict[str, Any] = {"id": "z", "kind": "exclusion", "circle": _CIRCLE, **change}
    spec = {k: v for k, v in spec.items() if v is not None}
    with pytest.raises(ValueError, match=r"^[^\n]*$") as refused:
        inline_zone(spec, 0, "s.yaml", "world.zones[0]")
    assert message in str(refused.value)
