"""Malformed zone files are refused whole, with one line naming the file, the feature and the
field — never a traceback, never a half-loaded file.

Each file in tests/data/zones/bad/ has one defect; the table below says where the importer must
point. A property test then damages valid documents at random places and checks that the
importer either loads them or refuses them with a `ZoneFileError` (no other exception escapes).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kestrel.planning.airspace.importers import load_zone_file, parse_zone_document
from kestrel.planning.airspace.model import ZoneFile, ZoneFileError

DATA = Path(__file__).resolve().parent / "data" / "zones"
BAD = DATA / "bad"
GOOD = DATA / "good"
THIRD_PARTY = Path(__file__).resolve().parents[2] / "shared" / "zones" / "third-party"

# file → (feature label the message must contain or None for whole-file defects, field or the
# location text the message must contain)
MALFORMED: dict[str, tuple[str | None, str]] = {
    "missing-horizontal-projection.json": (
        "features[1] (identifier 'BAD-NOPROJ')",
        "geometry[0].horizontalProjection",
    ),
    "unknown-restriction.json": ("features[0] (identifier 'BAD-RESTR')", "restriction"),
    "limit-not-numeric.json": ("features[0] (identifier 'BAD-ABC')", "geometry[0].lowerLimit"),
    "lower-above-upper.json": ("features[0] (identifier 'BAD-ORDER')", "geometry[1].lowerLimit"),
    "unknown-vertical-reference.json": (
        "features[0] (identifier 'BAD-REF')",
        "geometry[0].upperVerticalReference",
    ),
    "limit-without-reference.json": (
        "features[0] (identifier 'BAD-NOREF')",
        "geometry[0].lowerVerticalReference",
    ),
    "polygon-two-vertices.json": (
        "features[0] (identifier 'BAD-2VERT')",
        "geometry[0].horizontalProjection.coordinates[0]",
    ),
    "circle-radius-zero.json": (
        "features[0] (identifier 'BAD-RADIUS')",
        "geometry[0].horizontalProjection.radius",
    ),
    "latitude-out-of-range.json": (
        "features[0] (identifier 'BAD-LAT')",
        "geometry[0].horizontalProjection.coordinates[0][1][1]",
    ),
    "nan-coordinate.json": (
        "features[0] (identifier 'BAD-NAN')",
        "geometry[0].horizontalProjection.coordinates[0][1][0]",
    ),
    "unknown-uom.json": ("features[0] (identifier 'BAD-UOM')", "geometry[0].uomDimensions"),
    "unknown-projection-type.json": (
        "features[0] (identifier 'BAD-PROJTYPE')",
        "geometry[0].horizontalProjection.type",
    ),
    "misspelt-volume-key.json": ("features[0] (identifier 'BAD-KEY')", "geometry[0].lowerLimt"),
    "geometry-empty-list.json": ("features[0] (identifier 'BAD-EMPTYGEOM')", "geometry"),
    "unknown-time-spelling.json": (
        "features[0] (identifier 'BAD-TIME')",
        "applicability[0].schedule[0].startTime",
    ),
    "schedule-funday.json": (
        "features[0] (identifier 'BAD-DAY')",
        "applicability[0].schedule[0].day[1]",
    ),
    "bad-date-time.json": (
        "features[0] (identifier 'BAD-DATE')",
        "applicability[0].startDateTime",
    ),
    "second-zone-invalid.json": (
        "features[2] (identifier 'BAD-SECOND')",
        "geometry[0].lowerLimit",
    ),
    "ed318-layer-without-uom.json": ("features[0] (identifier 'E318UOM')", "geometry.layer.uom"),
    "openaip-unknown-unit.json": (
        "features[0] (name 'ED-R99 Test')",
        "properties.upperCeiling.unit",
    ),
    "features-not-a-list.json": (None, "features"),
    "top-level-array.json": (None, "top level"),
    "truncated.json": (None, "line 21 column"),
    "not-utf8.json": (None, "not UTF-8"),
}


def test_every_bad_file_is_specified_and_there_are_at_least_twelve() -> None:
    on_disk = {p.name for p in BAD.glob("*.json")}
    assert on_disk == set(MALFORMED)
    assert len(on_disk) >= 12


@pytest.mark.parametrize(("name", "where"), sorted(MALFORMED.items()))
def test_malformed_file_is_refused_with_one_line_naming_file_feature_and_field(
    name: str, where: tuple[str | None, str]
) -> None:
    feature, field = where
    path = BAD / name
    # When the file is imported, Then it raises (nothing is returned, so nothing half-loaded)
    with pytest.raises(ZoneFileError) as refused:
        load_zone_file(path)
    error = refused.value
    message = str(error)
    assert "\n" not in message
    assert "\r" not in message
    assert message.startswith(str(path))
    assert field in message
    if feature is not None:
        assert error.feature == feature
        assert error.field == field
        assert f"{feature}, {field}: " in message
    assert error.problem


def test_truncated_json_reports_line_and_column() -> None:
    with pytest.raises(ZoneFileError, match=r"invalid JSON at line \d+ column \d+"):
        load_zone_file(BAD / "truncated.json")


def test_missing_file_is_a_zone_file_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(ZoneFileError, match="cannot read the file") as refused:
        load_zone_file(missing)
    assert str(missing) in str(refused.value)


def test_directory_instead_of_file_is_a_zone_file_error(tmp_path: Path) -> None:
    with pytest.raises(ZoneFileError, match="cannot read the file"):
        load_zone_file(tmp_path)


def test_empty_object_names_the_missing_zone_list() -> None:
    with pytest.raises(ZoneFileError, match="no zone list found"):
        parse_zone_document({"title": "x"}, "empty.json")


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"features": ["not an object"]}, ""),
        (
            {"features": [{"identifier": "X", "restriction": "PROHIBITED", "geometry": [7]}]},
            "geometry[0]",
        ),
        (
            {"features": [{"identifier": 5, "restriction": "PROHIBITED", "geometry": []}]},
            "identifier",
        ),
        (
            {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None}]},
            "geometry",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "geometry": {"type": "LineString", "coordinates": []}}
                ],
            },
            "geometry.type",
        ),
        ({"type": "Topology"}, "type"),
    ],
)
def test_weird_shapes_become_one_line_errors(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(ZoneFileError) as refused:
        parse_zone_document(doc, "weird.json")
    assert refused.value.field == field
    assert "\n" not in str(refused.value)


# --------------------------------------------------------------------------------------------
# Random damage to valid documents: loads, or one ZoneFileError line — nothing else escapes


def _seed_documents() -> list[Any]:
    paths = sorted(GOOD.glob("*.json"))
    if THIRD_PARTY.is_dir():
        paths += sorted(THIRD_PARTY.glob("*/*.json")) + sorted(THIRD_PARTY.glob("*/*.geojson"))
    return [json.loads(p.read_text(encoding="utf-8-sig")) for p in paths]


SEEDS = _seed_documents()

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["", "0", "abc", "AGL", "FT", "Polygon", "Circle", "MON", "24:00", "Z"])
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_randomly_damaged_documents_load_or_raise_one_zone_file_error(data: st.DataObject) -> None:
    # Given a valid document with one node replaced or one key deleted
    doc = copy.deepcopy(data.draw(st.sampled_from(SEEDS)))
    paths = _paths(doc)[1:]
    target = data.draw(st.sampled_from(paths))
    parent = doc
    for step in target[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        del parent[target[-1]]
    else:
        parent[target[-1]] = data.draw(_json_values)
    # When it is imported, Then it loads or is refused with one line
    outcome: ZoneFile | ZoneFileError
    try:
        outcome = parse_zone_document(doc, "damaged.json")
    except ZoneFileError as error:
        outcome = error
    if isinstance(outcome, ZoneFileError):
        assert "\n" not in str(outcome)
        assert str(outcome).startswith("damaged.json: ")
    else:
        assert isinstance(outcome, ZoneFile)
