"""`kestrel zones FILE [--at LAT,LON,ALT] [--json]`: outputs, schema and exit codes.

Both `--json` forms are validated with `jsonschema` against the hand-written schema shipped as
package data (kestrel/planning/airspace/zones-output.schema.json), on the real third-party zone
files in shared/zones/third-party (skipped when that folder is absent). A refused file and a bad
option value exit 2 with one line on stderr; a loaded file exits 0.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pyproj import Geod
from typer.testing import CliRunner

from kestrel.cli import app

THIRD_PARTY = Path(__file__).resolve().parents[2] / "shared" / "zones" / "third-party"
GEOD = Geod(ellps="WGS84")
LOADABLE = [
    "ed269/interuss-che1-geo-awareness.json",
    "ed269/interuss-che-cis-sample-uaszonelist.json",
    "ed318/foca-che-cis-sample-ed318.json",
    "ed318/eurocontrol-example-collection.json",
    "national-shape/callmarcus-ed269-fi.json",
    "national-shape/callmarcus-ed318-ie.json",
    "national-shape/callmarcus-faa-uasfm.json",
    "openaip/openaip-arc-ccw-result.geojson",
]
REFUSED = [
    "ed318/eurocontrol-invalid-2-layers.json",
    "openaip/openaip-activation-times-no-geometry.geojson",
]
# One point per file near its first zone, so that the answers are not all "outside, far away".
POINTS = {
    "ed269/interuss-che1-geo-awareness.json": "46.43,6.913,600",
    "ed269/interuss-che-cis-sample-uaszonelist.json": "46.2155,6.1685,400",
    "ed318/foca-che-cis-sample-ed318.json": "46.9125,7.4990,560",
    "ed318/eurocontrol-example-collection.json": "49.0,2.65,100",
    "national-shape/callmarcus-ed269-fi.json": "60.22,24.92,40",
    "national-shape/callmarcus-ed318-ie.json": "51.645,-8.45,100",
    "national-shape/callmarcus-faa-uasfm.json": "40.77,-73.89,50",
    "openaip/openaip-arc-ccw-result.geojson": "52.55,7.1,2000",
}

runner = CliRunner()


def third_party(relative: str) -> Path:
    path = THIRD_PARTY / relative
    if not path.exists():
        pytest.skip(f"third-party zone file {relative} is absent")
    return path


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    text = (resources.files("kestrel.planning.airspace") / "zones-output.schema.json").read_text()
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def zones_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["zones", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("relative", LOADABLE)
def test_listing_json_validates_and_numbers_zones_and_volumes_in_file_order(
    relative: str, validator: jsonschema.protocols.Validator
) -> None:
    # Given a real third-party zone file
    path = third_party(relative)
    # When listed as JSON
    doc = zones_json(str(path))
    # Then the document matches the schema, and zones/volumes are numbered 0.. in order
    validator.validate(doc)
    assert doc["edge_model"] == "geodesic"
    assert [z["index"] for z in doc["zones"]] == list(range(len(doc["zones"])))
    for z in doc["zones"]:
        assert [v["volume"] for v in z["volumes"]] == list(range(len(z["volumes"])))


@pytest.mark.parametrize("relative", LOADABLE)
def test_point_json_validates_and_reports_every_volume(
    relative: str, validator: jsonschema.protocols.Validator
) -> None:
    # Given a real file and a point near its first zone
    path = third_party(relative)
    listing = zones_json(str(path))
    # When queried as JSON
    doc = zones_json(str(path), "--at", POINTS[relative], "--time", "2026-08-05T12:00:00Z")
    # Then it matches the schema and has one entry per volume, zone by zone
    validator.validate(doc)
    expected = [(z["index"], v["volume"]) for z in listing["zones"] for v in z["volumes"]]
    assert [(v["zone"], v["volume"]) for v in doc["volumes"]] == expected
    for v in doc["volumes"]:
        assert v["inside"] == (v["inside_horizontal"] and v["inside_vertical"] and v["zone_active"])


def test_schema_rejects_a_point_result_without_its_boundary_distance(
    validator: jsonschema.protocols.Validator,
) -> None:
    # Given a valid point document with one required key removed
    path = third_party("ed269/interuss-che1-geo-awareness.json")
    doc = zones_json(str(path), "--at", "46.43,6.913,600")
    del doc["volumes"][0]["boundary_distance_m"]
    # Then the schema refuses it, pointing at that volume and key
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    assert error is not None
    assert error.message == "'boundary_distance_m' is a required property"
    assert list(error.absolute_path) == ["volumes", 0]


def test_unbounded_upper_limits_are_null_in_both_outputs() -> None:
    # Given the Geneva CIS sample: lower "0" AGL, upper null
    path = third_party("ed269/interuss-che-cis-sample-uaszonelist.json")
    # When listed and queried over ground at 375 m
    listing = zones_json(str(path))
    point = zones_json(str(path), "--at", "46.2155,6.1685,400", "--ground-m", "375")
    # Then the missing ceiling is null, and the AGL floor is the ground elevation
    assert listing["zones"][0]["volumes"][0]["upper"] is None
    assert listing["zones"][0]["volumes"][0]["lower"] == {"m": 0.0, "reference": "AGL"}
    (volume,) = point["volumes"]
    assert volume["upper_m_amsl"] is None
    assert volume["lower_m_amsl"] == 375.0
    assert volume["inside"] is True


def test_feet_and_ground_elevation_resolve_agl_limits_in_the_point_output() -> None:
    # Given the CHE-1 file, whose Gantrisch zones are 0–250 ft AGL
    path = third_party("ed269/interuss-che1-geo-awareness.json")
    # When asked with ground at 1000 m
    doc = zones_json(str(path), "--at", "46.43,6.913,600", "--ground-m", "1000")
    gantrisch = [v for v in doc["volumes"] if v["identifier"] == "Gantrisch Nature Park"]
    # Then both duplicate-identifier zones report 1000 m + 250 ft as their ceiling
    assert len(gantrisch) == 2
    for v in gantrisch:
        assert v["lower_m_amsl"] == pytest.approx(1000.0)
        assert v["upper_m_amsl"] == pytest.approx(1000.0 + 250 * 0.3048)


@pytest.mark.parametrize(
    ("when", "active"),
    [("2022-07-02T18:00:00Z", True), ("2022-07-04T18:00:00Z", False), ("2022-07-02T18:00", True)],
)
def test_weekend_evening_zone_is_active_on_saturday_evening_only(when: str, active: bool) -> None:
    # Given Montreux's concert circle (SAT/SUN 17:00–23:59:59Z) and a point inside it
    path = third_party("ed269/interuss-che1-geo-awareness.json")
    # When queried on a Saturday and a Monday evening (no offset = UTC)
    doc = zones_json(str(path), "--at", "46.43,6.913,600", "--ground-m", "380", "--time", when)
    (montreux,) = [v for v in doc["volumes"] if v["zone"] == 0]
    # Then activity, and with it `inside`, follow the schedule
    saturday_or_monday = datetime(2022, 7, 2 if active else 4, 18, 0, tzinfo=UTC)
    assert datetime.fromisoformat(doc["point"]["time_utc"]) == saturday_or_monday
    assert montreux["inside_horizontal"] is True
    assert montreux["inside_vertical"] is True
    assert montreux["zone_active"] is active
    assert montreux["inside"] is active


def test_point_distance_in_cli_is_geodesic_distance_to_circle_edge() -> None:
    # Given the Montreux circle (r 3000 m) and a point 1234 m from its centre
    path = third_party("ed269/interuss-che1-geo-awareness.json")
    lon, lat, _ = GEOD.fwd(6.913146, 46.430758, 200.0, 1234.0, return_back_azimuth=True)
    # When queried
    doc = zones_json(str(path), "--at", f"{lat!r},{lon!r},500")
    # Then the boundary is 3000 − 1234 m away
    assert doc["volumes"][0]["boundary_distance_m"] == pytest.approx(1766.0, abs=1e-3)


@pytest.mark.parametrize("relative", REFUSED)
def test_refused_file_exits_2_with_one_stderr_line_naming_the_file(relative: str) -> None:
    # Given a file the importer must refuse
    path = third_party(relative)
    # When listed, and when queried
    for extra in ([], ["--at", "49,2.6,100", "--json"]):
        result = runner.invoke(app, ["zones", str(path), *extra])
        # Then exit status 2, one line on stderr naming the file, nothing on stdout
        assert result.exit_code == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1
        assert path.name in lines[0]
        assert "Traceback" not in result.output
        assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["--at", "46.9,7.4"], "--at"),
        (["--at", "north,7.4,100"], "--at"),
        (["--at", "91,7.4,100"], "latitude"),
        (["--at", "46.9,-181,100"], "longitude"),
        (["--at", "46.9,7.4,nan"], "altitude"),
        (["--at", "46.9,7.4,100", "--time", "next tuesday"], "--time"),
        (["--at", "46.9,7.4,100", "--ground-m", "high"], "--ground-m"),
        (["--time", "2026-01-01T00:00:00Z"], "--at"),
    ],
)
def test_bad_option_values_exit_2_with_one_line(args: list[str], mentions: str) -> None:
    # Given a loadable file and a bad option value
    path = third_party("ed269/interuss-che1-geo-awareness.json")
    # When run
    result = runner.invoke(app, ["zones", str(path), *args])
    # Then exit status 2 with one line saying which option is wrong
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert mentions in lines[0]


def test_negative_coordinates_are_accepted_after_at() -> None:
    # Given the Irish file (west longitudes) and a point inside the hole of U901
    path = third_party("national-shape/callmarcus-ed318-ie.json")
    # When the value starts with a minus sign... (lat,lon: 51.645, -8.45)
    doc = zones_json(str(path), "--at", "51.645,-8.45,100")
    # Then it is parsed, and the hole is outside U901
    u901 = doc["volumes"][0]
    assert doc["point"]["lon_deg"] == -8.45
    assert u901["identifier"] == "U901"
    assert u901["inside_horizontal"] is False


@pytest.mark.parametrize("relative", ["ed318/eurocontrol-example-collection.json"])
def test_tables_print_and_exit_0(relative: str) -> None:
    # Given a loadable file
    path = third_party(relative)
    # When listed and queried without --json
    listing = runner.invoke(app, ["zones", str(path)])
    point = runner.invoke(app, ["zones", str(path), "--at", "49.0,2.65,100"])
    # Then both print a table naming the zones and exit 0
    assert listing.exit_code == 0, listing.stderr
    assert point.exit_code == 0, point.stderr
    assert "NFZ6547" in listing.stdout
    assert "ABC1234" in point.stdout
