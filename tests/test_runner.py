"""The lockstep runner: wiring is checked when built, rates and latencies are honoured, and
the same graph gives the same results."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kestrel.component import Component, Port
from kestrel.runner import GraphError, LockstepRunner


@dataclass(frozen=True, slots=True)
class Count:
    t_s: float
    value: int


@dataclass(frozen=True, slots=True)
class Other:
    t_s: float


class Source(Component):
    outputs = {"out": Port(Count, "count")}

    def __init__(self, name="source", namespace="", *, rate_hz=100.0, latency_s=0.0):
        super().__init__(name, namespace)
        self.rate_hz = rate_hz
        self.outputs = {"out": Port(Count, "count", latency_s=latency_s)}
        self.n = 0

    def step(self, t_s):
        self.n += 1
        return Count(t_s, self.n)


class Sink(Component):
    inputs = {"count": Port(Count, "count")}
    outputs = {}

    def __init__(self, name="sink", namespace="", *, rate_hz=100.0, queued=False):
        super().__init__(name, namespace)
        self.rate_hz = rate_hz
        self.inputs = {"count": Port(Count, "count", queued=queued)}
        self.seen: list = []

    def step(self, t_s, count):
        self.seen.append((t_s, count))


class Relay(Component):
    """Reads `a`, writes `b` (or the other way round) — for loop tests."""

    rate_hz = 100.0

    def __init__(self, name, *, read, write, feedthrough=True):
        super().__init__(name)
        self.inputs = {"x": Port(Count, read)}
        self.outputs = {"y": Port(Count, write)}
        self.direct_feedthrough = feedthrough

    def step(self, t_s, x):
        return Count(t_s, 0 if x is None else x.value + 1)


def test_missing_producer_is_refused_naming_the_subscriber():
    with pytest.raises(GraphError, match="sink subscribes to /count but no component publishes"):
        LockstepRunner([Sink()], physics_hz=1000)


def test_duplicate_producer_is_refused_naming_both():
    with pytest.raises(GraphError, match="/count has two producers: a and b"):
        LockstepRunner([Source("a"), Source("b"), Sink()], physics_hz=1000)


def test_type_mismatch_is_refused():
    class WrongSink(Sink):
        def __init__(self):
            super().__init__("wrong")
            self.inputs = {"count": Port(Other, "count")}

    with pytest.raises(GraphError, match="type mismatch on /count: source publishes Count"):
        LockstepRunner([Source(), WrongSink()], physics_hz=1000)


def test_zero_latency_cycle_is_an_algebraic_loop():
    with pytest.raises(GraphError, match="algebraic loop"):
        LockstepRunner(
            [Relay("r1", read="a", write="b"), Relay("r2", read="b", write="a")],
            physics_hz=1000,
        )


def test_cycle_through_a_plant_without_feedthrough_is_allowed_and_plant_runs_first():
    plant = Relay("plant", read="a", write="b", feedthrough=False)
    controller = Relay("controller", read="b", write="a")
    runner = LockstepRunner([controller, plant], physics_hz=1000)
    assert [c.name for c in runner.components()] == ["plant", "controller"]


def test_component_runs_at_its_rate_on_the_simulated_clock():
    # Given a 1 kHz clock and a 50 Hz source, When 1 s runs (ticks 0…1000 inclusive),
    # Then the source ran at t = 0, 0.02, …, 1.0: 51 times.
    source = Source(rate_hz=50.0)
    sink = Sink(rate_hz=50.0)
    runner = LockstepRunner([source, sink], physics_hz=1000)
    runner.run_until(1.0)
    assert source.n == 51
    assert [round(t, 6) for t, _ in sink.seen[:3]] == [0.0, 0.02, 0.04]


def test_sink_sees_same_tick_output_of_its_producer():
    sink = Sink()
    runner = LockstepRunner([sink, Source()], physics_hz=1000)  # declared in reverse order
    runner.run_until(0.05)
    assert all(count is not None and count.t_s == t for t, count in sink.seen)


def test_output_latency_delays_delivery():
    # A 30 ms latency: the message stamped t arrives at t + 0.03.
    sink = Sink(rate_hz=1000.0)
    runner = LockstepRunner([Source(rate_hz=100.0, latency_s=0.03), sink], physics_hz=1000)
    runner.run_until(0.1)
    first_seen = next(t for t, count in sink.seen if count is not None)
    assert first_seen == pytest.approx(0.03)
    t_last, last = sink.seen[-1]
    assert t_last - last.t_s == pytest.approx(0.03)


def test_queued_input_gets_every_message_since_last_tick():
    # 1 kHz source, 250 Hz queued sink: 4 messages per tick after the first.
    sink = Sink(rate_hz=250.0, queued=True)
    runner = LockstepRunner([Source(rate_hz=1000.0), sink], physics_hz=1000)
    runner.run_until(0.02)
    sizes = [len(batch) for _, batch in sink.seen]
    assert sizes[0] == 1
    assert all(n == 4 for n in sizes[1:])
    values = [m.value for _, batch in sink.seen for m in batch]
    assert values == list(range(1, len(values) + 1))


def test_namespaces_keep_vehicles_apart():
    runner = LockstepRunner(
        [Source(namespace="uav1"), Source(namespace="uav2"), Sink(namespace="uav1")],
        physics_hz=1000,
    )
    runner.run_until(0.01)
    assert runner.latest("/uav1/count").value == runner.latest("/uav2/count").value


def test_node_timings_report_every_component():
    runner = LockstepRunner([Source(), Sink()], physics_hz=1000)
    runner.run_until(0.5)
    timings = runner.node_timings()
    assert set(timings) == {"source", "sink"}
    assert timings["source"].rate_hz == 100.0
    assert timings["source"].ticks == 51
    assert timings["sink"].tick_p99_ms >= timings["sink"].tick_p50_ms >= 0.0


def test_graph_dump_names_edges():
    runner = LockstepRunner([Source(), Sink()], physics_hz=1000)
    assert '"source" -> "sink" [label="/count"]' in runner.to_dot()
