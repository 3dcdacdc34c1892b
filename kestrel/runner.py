"""Deterministic lockstep runner: one process, one simulated clock, components wired by topic.

The runner owns time. Each tick of `1 / physics_hz` it calls every component whose period is
due, in data-flow order (plants without direct feed-through first), and delivers what they
return to their subscribers, after the output's declared latency. Wiring is checked when the
graph is built, as Drake's DiagramBuilder does: a missing or duplicate producer, a message type
mismatch or an algebraic loop is refused with the components named. There are no threads and
no wall clock in the data path, so the same components and seeds give the same results bit for
bit; wall-clock tick times are measured on the side for real-time accounting only.
"""

from __future__ import annotations

import heapq
import inspect
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kestrel.component import Component, Port, qualify

log = logging.getLogger(__name__)

RATE_TOLERANCE = 1e-6
"""Relative tolerance when checking that a component's period is a whole number of ticks."""


MAX_CYCLE_TICKS = 100_000
"""Largest hyper-period tabulated by the scheduler (rates with a huge common period fall back
to a per-tick check)."""


class GraphError(ValueError):
    """The component graph cannot be built (wiring, types, loops)."""


@dataclass
class _Topic:
    name: str
    msg_type: type
    latest: Any = None
    queues: list[list[Any]] = field(default_factory=list)

    def deliver(self, msg: Any) -> None:
        self.latest = msg
        for queue in self.queues:
            queue.append(msg)


@dataclass
class _Input:
    name: str
    topic: _Topic
    queue: list[Any] | None


@dataclass
class _Output:
    name: str
    topic: _Topic
    latency_s: float


@dataclass
class _Scheduled:
    component: Component
    every_ticks: int
    inputs: list[_Input]
    outputs: list[_Output]
    single_output: _Output | None
    positional: bool = False
    """True when `step`'s parameters after t_s name exactly the inputs, in `inputs` order:
    the runner then passes them positionally (a per-call dict costs ~1 µs)."""
    tick_ns: list[int] = field(default_factory=list)


def _takes_inputs_in_order(component: Component) -> bool:
    try:
        parameters = list(inspect.signature(component.step).parameters.values())
    except (TypeError, ValueError):
        return False
    names = [
        p.name for p in parameters[1:] if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return names == list(component.inputs)


@dataclass(frozen=True)
class NodeTiming:
    """Real-time accounting of one component (wall clock; differs between identical runs)."""

    rate_hz: float
    tick_p50_ms: float
    tick_p99_ms: float
    deadline_misses: int
    ticks: int


class LockstepRunner:
    """Builds a checked graph from components and steps it on a simulated clock."""

    def __init__(self, components: Sequence[Component], *, physics_hz: float) -> None:
        if not (physics_hz > 0 and math.isfinite(physics_hz)):
            raise GraphError(f"physics_hz must be a positive number, got {physics_hz!r}")
        self.physics_hz = float(physics_hz)
        self.dt_s = 1.0 / self.physics_hz
        self.tick = 0
        self._pending: list[tuple[float, int, _Topic, Any]] = []
        self._pending_seq = 0
        names = [c.qualified_name for c in components]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise GraphError(f"duplicate component names: {', '.join(duplicates)}")
        self._topics: dict[str, _Topic] = {}
        self._producer: dict[str, str] = {}
        for component in components:
            for port in component.outputs.values():
                self._declare_output(component, port)
        self._schedule = [self._schedule_component(c) for c in self._data_flow_order(components)]

    # ------------------------------------------------------------------ building
    def _declare_output(self, component: Component, port: Port) -> None:
        name = qualify(component.namespace, port.topic)
        if name in self._producer:
            raise GraphError(
                f"topic {name} has two producers: {self._producer[name]} and "
                f"{component.qualified_name}"
            )
        self._producer[name] = component.qualified_name
        self._topics[name] = _Topic(name, port.msg_type)

    def _input_topic(self, component: Component, port: Port) -> _Topic:
        name = qualify(component.namespace, port.topic)
        topic = self._topics.get(name)
        if topic is None:
            raise GraphError(
                f"{component.qualified_name} subscribes to {name} but no component publishes it"
            )
        if topic.msg_type is not port.msg_type:
            raise GraphError(
                f"type mismatch on {name}: {self._producer[name]} publishes "
                f"{topic.msg_type.__name__}, {component.qualified_name} expects "
                f"{port.msg_type.__name__}"
            )
        return topic

    def _data_flow_order(self, components: Sequence[Component]) -> list[Component]:
        """Topological order over zero-latency edges into direct-feed-through components."""
        by_name = {c.qualified_name: c for c in components}
        depends_on: dict[str, set[str]] = {c.qualified_name: set() for c in components}
        for component in components:
            for port in component.inputs.values():
                topic = self._input_topic(component, port)
                producer = self._producer[topic.name]
                out_port = next(
                    p
                    for p in by_name[producer].outputs.values()
                    if qualify(by_name[producer].namespace, p.topic) == topic.name
                )
                if (
                    component.direct_feedthrough
                    and out_port.latency_s == 0.0
                    and producer != component.qualified_name
                ):
                    depends_on[component.qualified_name].add(producer)
        order: list[Component] = []
        done: set[str] = set()
        # Stable: keep the given order among components that are ready together.
        remaining = [c.qualified_name for c in components]
        while remaining:
            ready = [n for n in remaining if depends_on[n] <= done]
            if not ready:
                raise GraphError(
                    "algebraic loop (a cycle without latency) through: " + ", ".join(remaining)
                )
            for n in ready:
                order.append(by_name[n])
                done.add(n)
            remaining = [n for n in remaining if n not in done]
        return order

    def _schedule_component(self, component: Component) -> _Scheduled:
        rate_hz = float(component.rate_hz)
        if not (rate_hz > 0 and math.isfinite(rate_hz)):
            raise GraphError(f"{component.qualified_name}: rate_hz must be positive")
        if rate_hz > self.physics_hz * (1 + RATE_TOLERANCE):
            log.warning(
                "%s runs at %.1f Hz, above physics_hz %.1f Hz: capped",
                component.qualified_name,
                rate_hz,
                self.physics_hz,
            )
        every = max(1, round(self.physics_hz / rate_hz))
        if abs(self.physics_hz / rate_hz - every) > RATE_TOLERANCE * every and every > 1:
            log.warning(
                "%s: %.3f Hz is not a whole divisor of physics_hz %.1f Hz; runs every %d ticks",
                component.qualified_name,
                rate_hz,
                self.physics_hz,
                every,
            )
        inputs = []
        for name, port in component.inputs.items():
            topic = self._input_topic(component, port)
            queue: list[Any] | None = None
            if port.queued:
                queue = []
                topic.queues.append(queue)
            inputs.append(_Input(name, topic, queue))
        outputs = [
            _Output(name, self._topics[qualify(component.namespace, port.topic)], port.latency_s)
            for name, port in component.outputs.items()
        ]
        single = outputs[0] if len(outputs) == 1 else None
        return _Scheduled(
            component, every, inputs, outputs, single, _takes_inputs_in_order(component)
        )

    # ------------------------------------------------------------------ running
    @property
    def time_s(self) -> float:
        return self.tick / self.physics_hz

    def components(self) -> list[Component]:
        return [s.component for s in self._schedule]

    def _cycle_table(self) -> list[list[_Scheduled]] | None:
        """Which components are due at each tick of one hyper-period (the LCM of all periods
        in ticks), in data-flow order: the per-tick loop then visits only due components."""
        cycle_len = 1
        for entry in self._schedule:
            cycle_len = math.lcm(cycle_len, entry.every_ticks)
        if cycle_len > MAX_CYCLE_TICKS:
            return None  # unusual rates: decide per tick instead of tabulating
        return [[e for e in self._schedule if k % e.every_ticks == 0] for k in range(cycle_len)]

    def _publish(self, output: _Output, msg: Any, t_s: float) -> None:
        if output.latency_s > 0.0:
            self._pending_seq += 1
            heapq.heappush(
                self._pending, (t_s + output.latency_s, self._pending_seq, output.topic, msg)
            )
        else:
            output.topic.deliver(msg)

    def run_until(
        self,
        end_s: float,
        *,
        progress: Callable[[float], None] | None = None,
        progress_every_s: float = 1.0,
    ) -> None:
        """Advance the clock until `end_s` (inclusive of the tick at `end_s`)."""
        last_tick = math.floor(end_s * self.physics_hz + 1e-9)
        progress_every = max(1, round(progress_every_s * self.physics_hz))
        cycle = self._cycle_table()
        cycle_len = len(cycle) if cycle is not None else 0
        schedule = self._schedule
        pending = self._pending
        perf = time.perf_counter_ns
        physics_hz = self.physics_hz
        epsilon_s = 1e-9
        publish = self._publish
        while self.tick <= last_tick:
            k = self.tick
            t_s = k / physics_hz
            while pending and pending[0][0] <= t_s + epsilon_s:
                _, _, topic, msg = heapq.heappop(pending)
                topic.deliver(msg)
            due = (
                cycle[k % cycle_len]
                if cycle is not None
                else [e for e in schedule if k % e.every_ticks == 0]
            )
            for entry in due:
                args = []
                for inp in entry.inputs:
                    if inp.queue is None:
                        args.append(inp.topic.latest)
                    else:
                        args.append(inp.queue[:])
                        inp.queue.clear()
                if entry.positional:
                    start_ns = perf()
                    result = entry.component.step(t_s, *args)
                else:
                    kwargs = {inp.name: a for inp, a in zip(entry.inputs, args, strict=True)}
                    start_ns = perf()
                    result = entry.component.step(t_s, **kwargs)
                entry.tick_ns.append(perf() - start_ns)
                if result is None:
                    continue
                single = entry.single_output
                if single is not None and not isinstance(result, dict):
                    if single.latency_s > 0.0:
                        publish(single, result, t_s)
                    else:
                        single.topic.deliver(result)
                else:
                    for output in entry.outputs:
                        msg = result.get(output.name)
                        if msg is not None:
                            publish(output, msg, t_s)
            self.tick += 1
            if progress is not None and k % progress_every == 0:
                progress(t_s)
        if progress is not None:
            progress(min(end_s, self.time_s))

    def finish(self) -> None:
        for entry in self._schedule:
            entry.component.finish(self.time_s)

    def latest(self, topic: str) -> Any:
        """Latest message on an absolute topic name (for probes and tests)."""
        return self._topics[topic].latest

    def node_timings(self) -> dict[str, NodeTiming]:
        timings = {}
        for entry in self._schedule:
            ticks = np.asarray(entry.tick_ns, dtype=np.float64) * 1e-6
            rate_hz = self.physics_hz / entry.every_ticks
            period_ms = 1e3 / rate_hz
            if ticks.size == 0:
                continue
            timings[entry.component.qualified_name] = NodeTiming(
                rate_hz=rate_hz,
                tick_p50_ms=float(np.percentile(ticks, 50)),
                tick_p99_ms=float(np.percentile(ticks, 99)),
                deadline_misses=int(np.count_nonzero(ticks > period_ms)),
                ticks=int(ticks.size),
            )
        return timings

    def to_dot(self) -> str:
        """The wiring as Graphviz text (Drake's GetGraphvizString), for docs and debugging."""
        lines = ["digraph kestrel {", "  rankdir=LR;"]
        for entry in self._schedule:
            c = entry.component
            lines.append(f'  "{c.qualified_name}" [shape=box];')
            for inp in entry.inputs:
                producer = self._producer[inp.topic.name]
                lines.append(f'  "{producer}" -> "{c.qualified_name}" [label="{inp.topic.name}"];')
        lines.append("}")
        return "\n".join(lines)
