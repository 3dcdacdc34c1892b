"""The geofence attack campaign (kestrel.geofence_attacks) in CI.

The issue's acceptance: randomised pilot attacks on zone boundaries in wind, with both GNSS
models, give zero breaches of the vehicle's body on ground truth. CI flies a fixed sample of the
1000-attack campaign (five per attack kind and GNSS model, among those whose command reaches
the boundary); bench/geofence_campaign.py flies all 1000. The other tests pin down the
generator (deterministic, valid scenarios, the stated ranges, the geometry it claims) and show
that the campaign test can fail: with the safety filter bypassed the same attacks breach.
"""

from __future__ import annotations

import math

import pytest

from kestrel.api import run
from kestrel.geofence_attacks import (
    ANGLE_MAX_DEG,
    GNSS_MODELS,
    GUST_MAX_MPS,
    HORIZONTAL_KINDS,
    INCLUSION_CEILING_M,
    KINDS,
    MAX_HOVER_ALT_M,
    SPEED_MAX_MPS,
    START_DISTANCE_M,
    VERTICAL_DISTANCE_M,
    WIND_MAX_MPS,
    Attack,
    attack_scenario,
    draw_attack,
    representative_indices,
    run_attack,
)
from kestrel.planning.safety_filter import FilterDecision, SafetyFilterCore
from kestrel.scenario import parse_scenario
from kestrel.stack import vehicle_airspace

CAMPAIGN_SIZE = 1000
CI_PER_KIND_AND_GNSS = 5
CI_INDICES = representative_indices(CI_PER_KIND_AND_GNSS, pool=CAMPAIGN_SIZE)


@pytest.fixture(scope="module")
def campaign() -> list[Attack]:
    return [draw_attack(i) for i in range(CAMPAIGN_SIZE)]


def _first(campaign: list[Attack], kind: str) -> Attack:
    """A clear-cut attack of `kind`: RTK, fast (at least the controller's climb limit for
    vertical ones), near the normal, reaching the boundary soon."""
    vertical = kind not in HORIZONTAL_KINDS
    for a in campaign:
        if (
            a.kind == kind
            and a.gnss == "rtk"
            and a.expected_reach
            and a.speed_mps >= (3.0 if vertical else 8.0)
            and abs(a.angle_deg) <= 30.0
            and a.duration_s <= (75.0 if vertical else 60.0)
        ):
            return a
    raise AssertionError(f"no clear-cut {kind} attack among the first {CAMPAIGN_SIZE}")


# -- the generator ------------------------------------------------------------------------------


def test_attack_generator_is_deterministic_per_index_and_campaign_seed():
    # Given the same (index, campaign seed) twice, and neighbours in index and seed
    first, again = attack_scenario(17), attack_scenario(17)
    # Then the same attack is the same scenario, and the neighbours differ
    assert first == again
    assert attack_scenario(18) != first
    assert attack_scenario(17, campaign_seed=1) != first
    assert draw_attack(17).scenario["seed"] != draw_attack(18).scenario["seed"]


def test_attack_scenarios_are_valid_scenarios_with_one_inline_zone(campaign):
    # Given the campaign's scenario dicts
    for attack in campaign[:120]:
        # When parsed as a scenario file would be
        scenario = parse_scenario(attack.scenario, f"attack-{attack.index}.yaml")
        # Then each holds exactly its attack zone and one quadrotor with the drawn GNSS model
        assert len(scenario.zones) == 1
        assert scenario.vehicles[0].sensors.gnss == attack.gnss
        assert scenario.duration_s == attack.duration_s


def test_attack_draws_cover_the_stated_ranges(campaign):
    # Given the 1000 attacks of campaign 0
    speeds = [a.speed_mps for a in campaign]
    angles = [abs(a.angle_deg) for a in campaign if a.kind in HORIZONTAL_KINDS]
    winds = [a.wind_mps for a in campaign]
    gusts = [a.gust_mps for a in campaign]
    walls = [a.distance_m for a in campaign if a.kind in HORIZONTAL_KINDS]
    vertical = [a.distance_m for a in campaign if a.kind not in HORIZONTAL_KINDS]
    # Then every range of the issue is covered up to (near) its ends and never exceeded
    assert 0.0 <= min(speeds) <= 0.5
    assert 14.0 <= max(speeds) <= SPEED_MAX_MPS
    assert min(angles) <= 2.0
    assert 75.0 <= max(angles) <= ANGLE_MAX_DEG
    assert 7.5 <= max(winds) <= WIND_MAX_MPS
    assert min(winds) >= 0.0
    assert 2.8 <= max(gusts) <= GUST_MAX_MPS
    assert min(gusts) >= 0.0
    lo, hi = START_DISTANCE_M
    assert lo <= min(walls) <= lo + 5.0
    assert hi - 10.0 <= max(walls) <= hi
    vlo, vhi = VERTICAL_DISTANCE_M
    assert vlo <= min(vertical) <= vlo + 5.0
    assert vhi - 5.0 <= max(vertical) <= vhi
    assert max(a.altitude_m for a in campaign) <= MAX_HOVER_ALT_M
    # And every kind, both GNSS models and every zone shape occur, each kind with both models
    assert {(a.kind, a.gnss) for a in campaign} == {(k, g) for k in KINDS for g in GNSS_MODELS}
    assert {a.shape for a in campaign} == {
        "circle",
        "convex",
        "concave",
        "convex+hole",
        "concave+hole",
    }


def test_ci_sample_covers_every_kind_and_gnss_model_with_reaching_attacks(campaign):
    # Given the CI sample
    chosen = [campaign[i] for i in CI_INDICES]
    # Then it has ≥ 50 attacks, each (kind, GNSS) pair equally, all aimed to reach the boundary
    assert len(chosen) >= 50
    for kind in KINDS:
        for gnss in GNSS_MODELS:
            n = sum(1 for a in chosen if a.kind == kind and a.gnss == gnss)
            assert n == CI_PER_KIND_AND_GNSS
    assert all(a.expected_reach for a in chosen)


def test_attack_starts_at_its_distance_from_the_zone_as_kestrel_loads_it(campaign):
    # Given attacks of every kind, with the zone loaded by the scenario loader (geodesic
    # edges, vertical references) into the vehicle's ENU airspace
    for attack in campaign[:150]:
        scenario = parse_scenario(attack.scenario, "attack.yaml")
        volume = vehicle_airspace(scenario, scenario.vehicles[0]).volumes[0]
        start = (0.0, 0.0, attack.altitude_m)
        # Then the start point lies on the legal side at the drawn distance from the attacked
        # boundary: the wall horizontally, the floor or ceiling vertically
        if attack.kind in HORIZONTAL_KINDS:
            inside = -volume.horizontal_signed_distance_m(0.0, 0.0)
            distance = inside if attack.kind == "inclusion_wall" else -inside
            assert volume.legal_margin_m(start) > 0.0
        elif attack.kind == "floor":
            distance = volume.floor_z_m - attack.altitude_m
        elif attack.kind == "ceiling":
            distance = attack.altitude_m - volume.ceiling_z_m
        else:
            distance = volume.ceiling_z_m - attack.altitude_m
            assert volume.ceiling_z_m == pytest.approx(INCLUSION_CEILING_M)
        assert distance == pytest.approx(attack.distance_m, abs=0.05), attack.parameters()
        if attack.kind not in HORIZONTAL_KINDS:
            # Vertically attacked volumes are entered through the floor/ceiling, not a wall
            assert volume.horizontal_signed_distance_m(0.0, 0.0) < -20.0


def test_wall_attacks_aim_at_the_nearest_boundary_point_with_the_wind_toward_it(campaign):
    # Given horizontal attacks with a real command and wind
    for attack in campaign[:200]:
        if attack.kind not in HORIZONTAL_KINDS or attack.speed_mps < 0.5 or attack.wind_mps < 0.5:
            continue
        scenario = parse_scenario(attack.scenario, "attack.yaml")
        volume = vehicle_airspace(scenario, scenario.vehicles[0]).volumes[0]
        # The direction to the nearest boundary point, from the signed distance's gradient
        h = 1e-3
        gx = (
            volume.horizontal_signed_distance_m(h, 0.0)
            - volume.horizontal_signed_distance_m(-h, 0.0)
        ) / (2 * h)
        gy = (
            volume.horizontal_signed_distance_m(0.0, h)
            - volume.horizontal_signed_distance_m(0.0, -h)
        ) / (2 * h)
        toward = (-gx, -gy) if attack.kind != "inclusion_wall" else (gx, gy)
        command = attack.scenario["vehicles"][0]["operator"][-1]["velocity_mps"]
        wind = attack.scenario["world"]["wind"]["mean_mps"]
        # Then the command is the drawn angle off that direction and the wind blows along it
        cos_angle = (command[0] * toward[0] + command[1] * toward[1]) / attack.speed_mps
        assert math.degrees(math.acos(min(1.0, cos_angle))) == pytest.approx(
            abs(attack.angle_deg), abs=0.5
        )
        along = (wind[0] * toward[0] + wind[1] * toward[1]) / attack.wind_mps
        assert along == pytest.approx(1.0, abs=1e-3)


# -- flying the attacks -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("index", CI_INDICES)
def test_attack_is_held_off_without_a_breach(index):
    # Given attack `index` of the campaign (a pilot pushing at a zone boundary in wind)
    # When flown through the full stack
    result = run_attack(index)
    # Then the body never enters the zone (ground truth), and the filter did act
    assert result["breaches"] == 0, result
    assert result["min_zone_margin_m"] >= 0.0, result
    assert result["interventions"] >= 1, result
    assert result["collisions"] == 0, result


def _pass_through(
    self, t_s, position_m, velocity_mps, position_std_m, velocity_std_mps, a_cmd, **options
):
    """SafetyFilterCore.step that lets every command through."""
    return FilterDecision(tuple(a_cmd), "pass")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["circle_wall", "inclusion_ceiling"])
def test_attack_breaches_when_the_safety_filter_passes_commands_through(
    campaign, kind, monkeypatch
):
    # Given a clear-cut attack, and the safety filter replaced by a pass-through
    attack = _first(campaign, kind)
    monkeypatch.setattr(SafetyFilterCore, "step", _pass_through)
    # When it is flown
    result = run_attack(attack.index)
    # Then the campaign's criterion catches it: the body enters the zone
    assert result["breaches"] >= 1, result
    assert result["min_zone_margin_m"] < 0.0, result
    assert result["interventions"] == 0


@pytest.mark.slow
def test_run_attack_reports_what_kestrel_run_measures(campaign):
    # Given a short attack
    attack = _first(campaign, "polygon_wall")
    # When flown by run_attack and by kestrel.api.run
    mine = run_attack(attack.index)
    metrics = run(parse_scenario(attack.scenario, "attack.yaml"), write_log=False).metrics
    vehicle = metrics["vehicles"]["uav1"]
    # Then both report exactly the same breaches and margin (lockstep runs are deterministic:
    # the filter's wall-clock solve limit is lifted in simulation, kestrel.stack).
    assert mine["breaches"] == vehicle["geofence_breaches"]
    assert mine["min_zone_margin_m"] == vehicle["min_zone_margin_m"]
    assert mine["sim_time_s"] == pytest.approx(metrics["sim_time_s"])
