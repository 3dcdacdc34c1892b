"""The component contract shared by the lockstep runner and the ROS 2 adapter.

A component declares up front, as a Drake LeafSystem does, what it reads, what it writes, how
often it runs and which parameters it has. Its `step` is a function of the time, the latest
inputs and its own state, so the same object behaves identically in a single-process lockstep
simulation and inside a ROS 2 node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Port:
    """One input or output of a component.

    `topic` is relative to the component's namespace (the vehicle id), e.g. "sensors/imu".
    A `queued` input receives the list of every message published since the component's last
    tick (e.g. all IMU samples between two estimator updates) instead of only the latest.
    `latency_s` on an output delays delivery to every subscriber (transport or sensor latency).
    """

    msg_type: type
    topic: str
    queued: bool = False
    latency_s: float = 0.0


class Component:
    """Base class of every Kestrel component.

    Subclasses set `inputs`, `outputs` and `rate_hz` (class attributes, or instance attributes
    in `__init__` when they depend on configuration) and implement
    `step(t_s, **inputs) -> message | dict[str, message] | None`. An input is the latest message
    on its topic, or None until the first arrives. With a single output, `step` returns the
    message (or None to publish nothing); with several, a dict from output name to message.

    `direct_feedthrough = False` declares that outputs at time t do not depend on inputs
    received at time t (a plant such as the simulator): edges into such a component do not
    form algebraic loops and it runs first in each tick.
    """

    inputs: ClassVar[dict[str, Port]] = {}
    outputs: ClassVar[dict[str, Port]] = {}
    rate_hz: float = 0.0
    direct_feedthrough: ClassVar[bool] = True
    reads_ground_truth: ClassVar[bool] = False
    """True only for the simulator and metrics probes; flight components must leave it False."""

    def __init__(self, name: str, namespace: str = "") -> None:
        self.name = name
        self.namespace = namespace

    @property
    def qualified_name(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def step(self, t_s: float, **inputs: Any) -> Any:
        raise NotImplementedError

    def finish(self, t_s: float) -> None:
        """Called once when the run ends (flush logs, close episodes)."""


def qualify(namespace: str, topic: str) -> str:
    """Absolute topic name of `topic` in `namespace` ("/uav1/sensors/imu")."""
    if topic.startswith("/"):
        return topic
    return f"/{namespace}/{topic}" if namespace else f"/{topic}"
