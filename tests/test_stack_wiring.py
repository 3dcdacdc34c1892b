"""The flight stack is closed on sensors: no flight component receives simulator state."""

from __future__ import annotations

import inspect
from pathlib import Path

from kestrel.messages import GroundTruth
from kestrel.scenario import load_scenario
from kestrel.sim.quadrotor_sim import QuadrotorSim
from kestrel.stack import build_stack, flight_stack, geo_origin

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
GROUND_TRUTH_READERS = {"sim", "metrics_probe", "zone_probe", "bag_recorder"}
"""The only components allowed to read ground truth: the simulator itself, the metrics probes
and the run logger — none of which publishes anything a flight component reads."""


def test_no_flight_component_subscribes_to_ground_truth():
    scenario = load_scenario(SCENARIOS / "multi-vehicle.yaml")
    stack = build_stack(scenario)
    for component in stack.runner.components():
        if component.name in GROUND_TRUTH_READERS:
            continue
        assert not component.reads_ground_truth, component.qualified_name
        for port in component.inputs.values():
            assert port.msg_type is not GroundTruth, component.qualified_name
            assert "sim/" not in port.topic, (component.qualified_name, port.topic)


def test_ground_truth_readers_publish_nothing_flight_components_read():
    scenario = load_scenario(SCENARIOS / "hover.yaml")
    stack = build_stack(scenario)
    for component in stack.runner.components():
        if component.name in GROUND_TRUTH_READERS - {"sim"}:
            assert component.outputs == {}, component.qualified_name


def test_flight_components_are_built_without_the_simulator():
    # The on-vehicle stack is built from the vehicle's spec, the map origin and the airspace
    # (zones uploaded before flight) alone: no simulator object (and so no simulator state)
    # can reach a flight component.
    scenario = load_scenario(SCENARIOS / "hover.yaml")
    parameters = inspect.signature(flight_stack).parameters
    assert list(parameters) == ["vehicle", "origin", "airspace"]
    components = flight_stack(scenario.vehicles[0], geo_origin(scenario))
    for component in components:
        for value in vars(component).values():
            assert not isinstance(value, QuadrotorSim), component.qualified_name
