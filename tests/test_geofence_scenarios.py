"""Geofencing end to end: zone files and inline zones in scenarios, routing at mission load,
zones activating around the vehicle (schedule and live update), authorisations.

Each closed-loop test runs the full stack (PyBullet, sensors, EKF, control, safety filter) and
judges the flight by ground-truth metrics (kestrel.zone_metrics).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from kestrel import api
from kestrel.cli import app
from kestrel.geodesy import GeoOrigin
from kestrel.planning.airspace.local import LocalAirspace, local_volumes
from kestrel.planning.airspace.model import utc
from kestrel.planning.airspace.updates import AirspaceUpdater
from kestrel.scenario import ScenarioError, load_scenario

pytest.importorskip("pybullet")

REPO = Path(__file__).resolve().parents[1]
AIRPORT_FILE = REPO / "tests" / "data" / "zones" / "good" / "airport-ed269.json"
ORIGIN = {"lat_deg": 47.0, "lon_deg": 8.0, "alt_m": 400.0}


def _write_scenario(tmp_path: Path, body: dict) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def _hover_scenario(**world: object) -> dict:
    return {
        "name": "geofence-test",
        "seed": 4,
        "duration_s": 40,
        "world": {"origin": ORIGIN, **world},
        "vehicles": [
            {
                "id": "uav1",
                "type": "quadrotor",
                "mission": {"takeoff_alt_m": 10, "waypoints": [[5, 0, 10]], "then": "hover"},
            }
        ],
    }


def _final_margin_m(result: api.RunResult, zone_center_enu: tuple[float, float], r: float) -> float:
    final = result.traces["uav1"].as_arrays()["truth_m"][-1]
    return math.hypot(final[0] - zone_center_enu[0], final[1] - zone_center_enu[1]) - r


def test_mission_across_an_airport_zone_goes_around_it():
    # Given the shipped scenario: a 3 km leg straight through a 1 km-radius ED-269 airport zone.
    result = api.run(REPO / "scenarios" / "airport-detour.yaml", write_log=False)
    vehicle = result.metrics["vehicles"]["uav1"]
    # Then the mission completes, the body never entered the zone, and the path bent around it.
    assert vehicle["mission_complete"] is True
    assert vehicle["geofence_breaches"] == 0
    assert vehicle["min_zone_margin_m"] >= 0.0
    truth = result.traces["uav1"].as_arrays()["truth_m"]
    assert np.max(np.abs(truth[:, 1])) > 1000.0  # off the straight line by more than the radius
    assert truth[-1][0] == pytest.approx(3000.0, abs=1.0)
    # The routed mission never needed the safety filter to step in.
    assert vehicle["failsafe_events"] == []


def test_return_leg_is_routed_around_a_zone_too(tmp_path):
    # Given an out-and-back mission whose way home (600, 0) → (0, 0) crosses a 120 m circle.
    origin = GeoOrigin(**ORIGIN)
    lat, lon, _ = origin.enu_to_geodetic((266.0, 0.0, 0.0))
    zone = {
        "id": "ctr",
        "kind": "exclusion",
        "circle": {"center_deg": [lat, lon], "radius_m": 120},
        "lower_m": 0,
        "upper_m": 300,
        "ref": "AGL",
    }
    body = _hover_scenario(zones=[zone])
    body["duration_s"] = 240
    body["vehicles"][0]["mission"] = {
        "takeoff_alt_m": 20,
        "waypoints": [[300, 200, 20], [600, 0, 20]],
        "cruise_speed_mps": 10,
        "then": "return",
    }
    result = api.run(_write_scenario(tmp_path, body), write_log=False)
    vehicle = result.metrics["vehicles"]["uav1"]
    # Then it lands back home, having gone around the zone on the way back: the straight way
    # home would have been stopped at the boundary by the safety filter (no completion, and
    # an intervention), so completion without any intervention shows the leg was routed.
    assert vehicle["mission_complete"] is True
    assert vehicle["geofence_breaches"] == 0
    assert vehicle["min_zone_margin_m"] > 0.0
    assert vehicle["failsafe_events"] == []
    truth = result.traces["uav1"].as_arrays()["truth_m"]
    assert math.hypot(truth[-1][0], truth[-1][1]) < 1.0


def test_zone_activating_around_the_hovering_vehicle_makes_it_leave_and_report(tmp_path):
    # Given a vehicle hovering 15 m from the centre of a 60 m circle that activates at t = 15 s.
    origin = GeoOrigin(**ORIGIN)
    lat, lon, _ = origin.enu_to_geodetic((15.0, 0.0, 0.0))
    zone = {
        "id": "tfr-1",
        "kind": "exclusion",
        "circle": {"center_deg": [lat, lon], "radius_m": 60},
        "lower_m": 0,
        "upper_m": 300,
        "ref": "AGL",
        "active_from_s": 15,
    }
    path = _write_scenario(tmp_path, _hover_scenario(zones=[zone]))
    result = api.run(path, write_log=False)
    vehicle = result.metrics["vehicles"]["uav1"]
    # Then: one failsafe event starting at activation, cause and action named,
    events = vehicle["failsafe_events"]
    assert len(events) == 1
    assert events[0]["cause"] == "zone_active_inside"
    assert events[0]["action"] == "exit"
    assert events[0]["t"] == pytest.approx(15.0, abs=0.1)
    # being inside at activation is not a breach, and the vehicle ends outside, having left
    # by the nearest side (west: 45 m away, against 75 m east).
    assert vehicle["geofence_breaches"] == 0
    assert _final_margin_m(result, (15.0, 0.0), 60.0) > 0.36
    assert result.traces["uav1"].as_arrays()["truth_m"][-1][0] < -45.0


def test_live_zone_update_is_obeyed_and_a_bad_one_changes_nothing(tmp_path):
    # Given a UTM feed that pushes a 40 m prohibited circle around the hovering vehicle at 15 s.
    zones_dir = tmp_path / "zones"
    zones_dir.mkdir()
    origin = GeoOrigin(**ORIGIN)
    lat, lon, _ = origin.enu_to_geodetic((15.0, 0.0, 0.0))
    feature = json.loads(AIRPORT_FILE.read_text())
    feature["features"][0]["identifier"] = "TFR-LIVE"
    geometry = feature["features"][0]["geometry"][0]
    geometry["horizontalProjection"] = {"type": "Circle", "center": [lon, lat], "radius": 40}
    (zones_dir / "tfr.json").write_text(json.dumps(feature))
    body = _hover_scenario(zone_updates=[{"t": 15, "file": "zones/tfr.json", "source": "utm"}])
    result = api.run(_write_scenario(tmp_path, body), write_log=False)
    vehicle = result.metrics["vehicles"]["uav1"]
    # Then the vehicle leaves it (and the metrics judge the zone from the moment it arrived).
    assert [e["cause"] for e in vehicle["failsafe_events"]] == ["zone_active_inside"]
    assert vehicle["geofence_breaches"] == 0
    assert vehicle["min_zone_margin_m"] < 0.0  # it was inside when the zone arrived
    assert _final_margin_m(result, (15.0, 0.0), 40.0) > 0.36


def test_bad_live_update_is_refused_and_keeps_the_zones_in_force():
    origin = GeoOrigin(**ORIGIN)
    zones = load_scenario_zones()
    airspace = LocalAirspace(local_volumes(zones, origin), utc(2026, 1, 1))
    updater = AirspaceUpdater(airspace, origin)
    assert updater.apply("utm", json.dumps({"features": [{"identifier": "X"}]})) is False
    assert updater.apply("utm", "{not json") is False
    assert updater.apply("preflight", AIRPORT_FILE.read_text()) is False
    assert updater.airspace is airspace
    assert updater.rejected == 3
    # A good one adds its zones beside the preflight ones; the same source replaces them.
    assert updater.apply("utm", AIRPORT_FILE.read_text()) is True
    assert len(updater.airspace.volumes) == len(airspace.volumes) + 1
    assert updater.apply("utm", json.dumps({"features": []})) is True
    assert len(updater.airspace.volumes) == len(airspace.volumes)


def load_scenario_zones():
    from kestrel.planning.airspace.importers import load_zone_file

    return load_zone_file(AIRPORT_FILE).zones


def test_authorised_vehicle_may_enter_a_req_authorisation_zone(tmp_path):
    # Given a REQ_AUTHORISATION circle ahead and a pilot flying into it at 4 m/s,
    origin = GeoOrigin(**ORIGIN)
    lat, lon, _ = origin.enu_to_geodetic((40.0, 0.0, 0.0))
    zone = {
        "id": "ops-1",
        "kind": "exclusion",
        "restriction": "REQ_AUTHORISATION",
        "circle": {"center_deg": [lat, lon], "radius_m": 15},
        "lower_m": 0,
        "upper_m": 100,
        "ref": "AGL",
    }
    body = _hover_scenario(zones=[zone])
    body["duration_s"] = 25
    vehicle = body["vehicles"][0]
    vehicle["operator"] = [{"t": 10, "velocity_mps": [4, 0, 0], "until": 25}]
    unauthorised = api.run(_write_scenario(tmp_path, body), write_log=False)
    vehicle["authorisations"] = ["ops-1"]
    authorised = api.run(_write_scenario(tmp_path, body), write_log=False)
    # Then without the authorisation it stops outside; with it, it flies in unhindered.
    x_unauth = unauthorised.traces["uav1"].as_arrays()["truth_m"][:, 0].max()
    x_auth = authorised.traces["uav1"].as_arrays()["truth_m"][:, 0].max()
    assert x_unauth < 25.0 - 0.36
    assert unauthorised.metrics["vehicles"]["uav1"]["geofence_breaches"] == 0
    assert x_auth > 40.0
    assert authorised.metrics["vehicles"]["uav1"]["failsafe_events"] == []


def test_waypoint_inside_a_zone_is_refused_with_its_name_and_identifier(tmp_path):
    shutil.copy(AIRPORT_FILE, tmp_path / "airport.json")
    body = _hover_scenario(zones=[{"file": "airport.json"}])
    body["world"]["origin"] = {**ORIGIN, "lon_deg": 7.98025}  # 1.5 km west of the airport
    body["vehicles"][0]["mission"]["waypoints"] = [[100, 0, 20], [1500, 0, 20]]
    path = _write_scenario(tmp_path, body)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "Test airport control zone" in message
    assert "LSGG-CTR-TEST" in message
    assert "waypoint 1" in message


def test_validate_lists_the_legs_that_enter_an_active_zone():
    result = CliRunner().invoke(app, ["validate", str(REPO / "scenarios" / "airport-detour.yaml")])
    assert result.exit_code == 0
    message = " ".join(result.output.split())
    assert "uav1: leg take-off→0 enters zone 'Test airport control zone' (LSGG-CTR-TEST)" in message


def test_bad_zone_file_in_a_scenario_is_one_line_naming_the_key(tmp_path):
    (tmp_path / "bad.json").write_text('{"features": [{"identifier": "Z1"}]}')
    path = _write_scenario(tmp_path, _hover_scenario(zones=[{"file": "bad.json"}]))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    text = str(err.value)
    assert "\n" not in text
    assert "world.zones[0].file" in text
    assert "bad.json" in text
    assert "Z1" in text


def test_zones_need_an_origin(tmp_path):
    body = _hover_scenario(zones=[{"file": "x.json"}])
    del body["world"]["origin"]
    with pytest.raises(ScenarioError, match=r"world\.origin"):
        load_scenario(_write_scenario(tmp_path, body))


def test_same_scenario_and_seed_give_identical_geofence_metrics(tmp_path):
    # A run where the filter solves hundreds of QPs: a pilot pushing into a circle for 15 s.
    origin = GeoOrigin(**ORIGIN)
    lat, lon, _ = origin.enu_to_geodetic((40.0, 0.0, 0.0))
    zone = {
        "id": "z1",
        "kind": "exclusion",
        "circle": {"center_deg": [lat, lon], "radius_m": 15},
        "lower_m": 0,
        "upper_m": 100,
        "ref": "AGL",
    }
    body = _hover_scenario(zones=[zone])
    body["duration_s"] = 25
    body["vehicles"][0]["operator"] = [{"t": 10, "velocity_mps": [8, 1, 0], "until": 25}]
    path = _write_scenario(tmp_path, body)
    first = api.run(path, write_log=False).metrics
    second = api.run(path, write_log=False).metrics
    for key in ("wall_time_s", "real_time_factor", "nodes"):
        first.pop(key)
        second.pop(key)
    assert first["vehicles"]["uav1"]["failsafe_events"]  # the filter did work
    assert first == second


def test_gnss_lost_near_a_zone_holds_then_lands_and_reports(tmp_path):
    # Given a pilot creeping toward a zone 25 m away when the GNSS receiver goes silent for
    # good (the estimate then drifts: it cannot be trusted near the boundary),
    origin = GeoOrigin(**ORIGIN)
    lat, lon, _ = origin.enu_to_geodetic((45.0, 0.0, 0.0))
    zone = {
        "id": "z1",
        "kind": "exclusion",
        "circle": {"center_deg": [lat, lon], "radius_m": 20},
        "lower_m": 0,
        "upper_m": 100,
        "ref": "AGL",
    }
    body = _hover_scenario(zones=[zone])
    body["duration_s"] = 45
    vehicle = body["vehicles"][0]
    vehicle["sensors"] = {"gnss": "standard"}
    vehicle["operator"] = [{"t": 12, "velocity_mps": [2, 0, 0], "until": 45}]
    vehicle["faults"] = [{"t": 14, "sensor": "gnss", "mode": "dropout", "until": 45}]
    result = api.run(_write_scenario(tmp_path, body), write_log=False)
    metrics = result.metrics["vehicles"]["uav1"]
    # Then the filter reports the loss within the GNSS timeout, holds and lands short of the
    # zone, and stays there.
    (event,) = metrics["failsafe_events"]
    assert event["cause"] == "gnss_lost"
    assert event["action"] == "hold"
    assert 14.0 < event["t"] < 14.0 + 1.5 + 0.1
    assert metrics["geofence_breaches"] == 0
    truth = result.traces["uav1"].as_arrays()["truth_m"]
    assert truth[-1][2] < 0.5  # on the ground
    assert metrics["collisions"] == 0
    assert math.hypot(truth[-1][0] - 45.0, truth[-1][1]) > 20.0 + 5.0
