"""Geofence metrics from ground truth (kestrel.zone_metrics.ZoneProbe): what counts as a breach
and what the smallest zone margin is (SCENARIOS.md: a breach is an *entry* of the body into an
active restricted volume or out of the inclusion volume; being inside when a zone becomes
active is not a breach; margins are from the body, a sphere of `body_radius_m`).

Each test drives the probe with ground-truth samples along a straight path at its own 250 Hz,
with zones given in local metres.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime

import pytest

from kestrel.geodesy import GeoOrigin
from kestrel.messages import GroundTruth
from kestrel.planning.airspace.local import LocalAirspace, local_volumes
from kestrel.planning.airspace.model import (
    Applicability,
    CircleShape,
    Limit,
    PolygonShape,
    Reference,
    Restriction,
    Volume,
    Zone,
    ZoneAction,
    ZoneKind,
)
from kestrel.zone_metrics import ZONE_PROBE_RATE_HZ, ZoneProbe

ORIGIN = GeoOrigin(lat_deg=47.3977, lon_deg=8.5456, alt_m=408.0, geoid_undulation_m=48.0)
START_UTC = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
BODY_RADIUS_M = 0.36
DT_S = 1.0 / ZONE_PROBE_RATE_HZ
SQUARE = [(0.0, -20.0), (40.0, -20.0), (40.0, 20.0), (0.0, 20.0)]
"""Exclusion square x 0…40, y ±20 (surface to 120 m AGL) used by most tests."""


def latlon(east_m: float, north_m: float) -> tuple[float, float]:
    lat, lon, _ = ORIGIN.enu_to_geodetic((east_m, north_m, 0.0))
    return lat, lon


def zone(
    shape: PolygonShape | CircleShape,
    *,
    kind: ZoneKind = ZoneKind.EXCLUSION,
    applicability: Applicability | None = None,
    action: ZoneAction | None = None,
    identifier: str = "Z",
) -> Zone:
    return Zone(
        index=0,
        identifier=identifier,
        name=identifier,
        restriction=Restriction.PROHIBITED,
        volumes=(Volume(shape, None, Limit(120.0, Reference.AGL)),),
        kind=kind,
        action=action,
        applicability=applicability or Applicability(),
    )


def square_zone(**kwargs) -> Zone:
    return zone(PolygonShape(tuple(latlon(*p) for p in SQUARE)), **kwargs)


def probe_for(*zones: Zone) -> ZoneProbe:
    space = LocalAirspace(local_volumes(zones, ORIGIN), START_UTC)
    return ZoneProbe("zone_probe", "uav1", airspace=space, body_radius_m=BODY_RADIUS_M)


def fly(probe: ZoneProbe, waypoints: list[tuple[float, float, float, float]]) -> None:
    """Feed truth samples moving linearly between (t, x, y, z) waypoints."""
    for (t0, *p0), (t1, *p1) in itertools.pairwise(waypoints):
        steps = round((t1 - t0) / DT_S)
        for k in range(steps):
            s = k / steps
            t = t0 + k * DT_S
            p = tuple(p0[i] + s * (p1[i] - p0[i]) for i in range(3))
            probe.step(t, GroundTruth(t, p, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0), (0.0, 0.0, 0.0)))


def test_flying_into_an_active_zone_is_one_breach():
    # Given an active exclusion square; the vehicle flies from 30 m west of it to its middle.
    probe = probe_for(square_zone())
    fly(probe, [(0.0, -30.0, 0.0, 50.0), (5.0, 20.0, 0.0, 50.0)])
    metrics = probe.metrics()
    # Then one breach, when the body (not the centre) reached the wall, and the margin is the
    # deepest penetration of the body: 20 m to the nearest wall plus the body radius.
    assert metrics["geofence_breaches"] == 1
    [breach] = probe.breaches
    t_contact = (30.0 - BODY_RADIUS_M) / 50.0 * 5.0
    assert breach["t"] == pytest.approx(t_contact, abs=2 * DT_S)
    assert "Z" in breach["zone"]
    assert metrics["min_zone_margin_m"] == pytest.approx(-20.0 - BODY_RADIUS_M, abs=0.05)


def test_a_zone_that_becomes_active_around_the_vehicle_is_not_a_breach():
    # Given a vehicle hovering inside the square when it becomes active at t = 1 s.
    probe = probe_for(square_zone(applicability=Applicability(active_from_s=1.0)))
    # When it stays 2 s, then leaves west.
    fly(probe, [(0.0, 10.0, 0.0, 50.0), (3.0, 10.0, 0.0, 50.0), (6.0, -10.0, 0.0, 50.0)])
    # Then no breach (being inside at activation is a failsafe event, not an entry), though the
    # margin records that the body was 10.36 m inside an active zone.
    assert probe.metrics()["geofence_breaches"] == 0
    assert probe.metrics()["min_zone_margin_m"] == pytest.approx(-10.0 - BODY_RADIUS_M, abs=1e-6)


def test_re_entry_after_leaving_counts():
    # Given the same activation around the vehicle, which then leaves and comes back in.
    probe = probe_for(square_zone(applicability=Applicability(active_from_s=1.0)))
    fly(
        probe,
        [
            (0.0, 10.0, 0.0, 50.0),
            (3.0, 10.0, 0.0, 50.0),
            (6.0, -10.0, 0.0, 50.0),
            (9.0, 5.0, 0.0, 50.0),
        ],
    )
    # Then exactly the re-entry is a breach, at the body's contact on the way back in.
    assert probe.metrics()["geofence_breaches"] == 1
    [breach] = probe.breaches
    t_contact = 6.0 + (10.0 - BODY_RADIUS_M) / 15.0 * 3.0
    assert breach["t"] == pytest.approx(t_contact, abs=2 * DT_S)


def test_entry_before_activation_is_not_a_breach_and_activation_later_is_not_either():
    # Given a zone active from t = 4 s; the vehicle enters at t ≈ 2 s while it is inactive.
    probe = probe_for(square_zone(applicability=Applicability(active_from_s=4.0)))
    fly(probe, [(0.0, -20.0, 0.0, 50.0), (4.0, 20.0, 0.0, 50.0), (6.0, 20.0, 0.0, 50.0)])
    assert probe.metrics()["geofence_breaches"] == 0


def test_min_margin_is_from_the_body_not_the_centre():
    # Given a pass 3 m west of the square's west wall, along it.
    probe = probe_for(square_zone())
    fly(probe, [(0.0, -3.0, -60.0, 50.0), (8.0, -3.0, 60.0, 50.0)])
    # Then no breach and the margin is 3 m minus the body radius.
    assert probe.metrics() == {
        "geofence_breaches": 0,
        "min_zone_margin_m": pytest.approx(3.0 - BODY_RADIUS_M, abs=1e-6),
    }


def test_body_touching_the_wall_with_the_centre_outside_is_a_breach():
    # Given a centre that comes to 0.2 m from the wall (the 0.36 m body overlaps it) and leaves.
    probe = probe_for(square_zone())
    fly(probe, [(0.0, -10.0, 0.0, 50.0), (2.0, -0.2, 0.0, 50.0), (4.0, -10.0, 0.0, 50.0)])
    assert probe.metrics()["geofence_breaches"] == 1
    assert probe.metrics()["min_zone_margin_m"] == pytest.approx(0.2 - BODY_RADIUS_M, abs=1e-6)


def test_flying_over_the_ceiling_is_legal_and_descending_into_it_is_a_breach():
    probe = probe_for(square_zone())
    # Over the middle, 10 m above the 120 m ceiling, then down to 100 m.
    fly(probe, [(0.0, -30.0, 0.0, 130.0), (4.0, 20.0, 0.0, 130.0), (6.0, 20.0, 0.0, 100.0)])
    assert probe.metrics()["geofence_breaches"] == 1
    [breach] = probe.breaches
    t_contact = 4.0 + (10.0 - BODY_RADIUS_M) / 15.0
    assert breach["t"] == pytest.approx(t_contact, abs=2 * DT_S)


def test_leaving_the_inclusion_volume_is_a_breach():
    # Given an inclusion circle of 50 m around the origin; the vehicle flies out east.
    probe = probe_for(zone(CircleShape(latlon(0.0, 0.0), 50.0), kind=ZoneKind.INCLUSION))
    fly(probe, [(0.0, 0.0, 0.0, 50.0), (6.0, 60.0, 0.0, 50.0)])
    metrics = probe.metrics()
    assert metrics["geofence_breaches"] == 1
    [breach] = probe.breaches
    assert breach["t"] == pytest.approx((50.0 - BODY_RADIUS_M) / 10.0, abs=2 * DT_S)
    # The margin inside is (50 − ρ) − body; at the end 10 m outside: −10.36.
    assert metrics["min_zone_margin_m"] == pytest.approx(-10.0 - BODY_RADIUS_M, abs=0.05)


def test_warn_zones_are_never_breached():
    probe = probe_for(square_zone(action=ZoneAction.WARN))
    fly(probe, [(0.0, -30.0, 0.0, 50.0), (5.0, 20.0, 0.0, 50.0)])
    assert probe.metrics() == {"geofence_breaches": 0}


def test_moving_between_overlapping_inclusion_volumes_is_legal():
    # Given two overlapping inclusion circles A (centre 0) and B (centre 150 m), radius 100 m;
    # the vehicle flies from A's centre through the overlap to B's centre, always inside one.
    a = zone(CircleShape(latlon(0.0, 0.0), 100.0), kind=ZoneKind.INCLUSION, identifier="A")
    b = zone(CircleShape(latlon(150.0, 0.0), 100.0), kind=ZoneKind.INCLUSION, identifier="B")
    probe = probe_for(a, b)
    fly(probe, [(0.0, 0.0, 0.0, 50.0), (10.0, 150.0, 0.0, 50.0)])
    metrics = probe.metrics()
    assert metrics["geofence_breaches"] == 0
    assert metrics["min_zone_margin_m"] > 0.0


def test_margin_inside_overlapping_inclusion_volumes_is_the_distance_to_the_union_boundary():
    # Given the same flight from A's centre to B's centre along y = 0. The union's boundary is
    # the two outer arcs, which meet at the crossing points (75, ±√(100² − 75²)); from (x, 0),
    # 0 ≤ x ≤ 75, the nearest boundary point is a crossing point (every point of A's outer arc
    # is farther), so the depth is √((75 − x)² + 66.14²), smallest at x = 75 (symmetric in B).
    a = zone(CircleShape(latlon(0.0, 0.0), 100.0), kind=ZoneKind.INCLUSION, identifier="A")
    b = zone(CircleShape(latlon(150.0, 0.0), 100.0), kind=ZoneKind.INCLUSION, identifier="B")
    probe = probe_for(a, b)
    fly(probe, [(0.0, 0.0, 0.0, 50.0), (10.0, 150.0, 0.0, 50.0)])
    waist_m = math.sqrt(100.0**2 - 75.0**2)
    assert probe.metrics()["min_zone_margin_m"] == pytest.approx(waist_m - BODY_RADIUS_M, abs=0.01)


def test_leaving_the_union_of_inclusion_volumes_is_one_breach():
    # Given the same two circles; the vehicle flies from A's centre out of B's far side.
    a = zone(CircleShape(latlon(0.0, 0.0), 100.0), kind=ZoneKind.INCLUSION, identifier="A")
    b = zone(CircleShape(latlon(150.0, 0.0), 100.0), kind=ZoneKind.INCLUSION, identifier="B")
    probe = probe_for(a, b)
    fly(probe, [(0.0, 0.0, 0.0, 50.0), (14.0, 280.0, 0.0, 50.0)])
    # Then one breach, when the body crosses x = 250 − body, and none at the overlap.
    assert probe.metrics()["geofence_breaches"] == 1
    [breach] = probe.breaches
    assert breach["t"] == pytest.approx((250.0 - BODY_RADIUS_M) / 20.0, abs=2 * DT_S)


def test_far_zones_bound_the_margin_from_below():
    # Given a flight that stays ≥ 100 m from the square (beyond the exact near field).
    probe = probe_for(square_zone())
    fly(probe, [(0.0, -200.0, -100.0, 50.0), (2.0, -200.0, 100.0, 50.0)])
    # Then the margin reported is a lower bound of the true one (200 m − body).
    margin = probe.metrics()["min_zone_margin_m"]
    assert margin <= 200.0 - BODY_RADIUS_M + 1e-6
    assert margin > 50.0
    assert math.isfinite(margin)
