"""Replays a scenario's operator commands as a pilot would send them.

A scenario's `operator:` list (SCENARIOS.md) describes what a pilot does to one vehicle: hold
the sticks at a velocity for a while, or send a "go to" point. `ScenarioOperator` turns that list
into the same messages a real ground station or remote would publish, so the mission layer
cannot tell a scripted pilot from a live one:

- a velocity command streams `operator/cmd_vel` (geometry_msgs/TwistStamped) at the component's
  rate, stamped with the publishing time, for as long as the command lasts, and then stops: the
  receiver detects the release by the stream going stale, as PX4 detects RC loss (COM_RC_LOSS_T);
- a goto is published on `operator/goto` (geometry_msgs/PoseStamped) at the command's time and
  republished at `goto_republish_hz` until the next command, always with the command time as
  stamp, so a late subscriber still gets it and a receiver can tell a repeat from a new goto.

A command without `until` lasts until the next command's `t`; the last one lasts to the end of
the run. A command with `until` after the next command's `t` is cut there.

Ports:
    outputs: cmd_vel → `operator/cmd_vel` (VelocityCommand), goto → `operator/goto` (GotoCommand)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from kestrel.component import Component, Port
from kestrel.messages import GotoCommand, Vec3, VelocityCommand

TIME_EPS_S = 1e-9
"""Tolerance when comparing a tick time with a command time (ticks are k / physics_hz)."""

_FRAMES = {"map": "map", "base_link": "base_link", "body": "base_link"}
"""Accepted frame names → VelocityCommand frame; "body" is the scenario file's spelling."""


def _finite_vec3(name: str, value: Sequence[float]) -> Vec3:
    if len(value) != 3:
        raise ValueError(f"{name} must have 3 components, got {len(value)}")
    vec = (float(value[0]), float(value[1]), float(value[2]))
    if not all(math.isfinite(v) for v in vec):
        raise ValueError(f"{name} must be finite, got {vec}")
    return vec


@dataclass(frozen=True)
class OperatorCommand:
    """One entry of a scenario's `operator:` list.

    t_s: when the command starts [s], ≥ 0.
    until_s: when a velocity command ends [s], > t_s; None = at the next command (or never).
    velocity_mps: velocity [m/s] in `frame`: ENU for "map", forward-left-up for "base_link"
        (yaw-only body frame, "body" in scenario files). Exactly one of velocity_mps and goto.
    frame: "map" or "base_link" ("body" is accepted and stored as "base_link").
    goto: ENU point to fly to and hold [m].
    """

    t_s: float
    until_s: float | None = None
    velocity_mps: Vec3 | None = None
    frame: str = "map"
    goto: Vec3 | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.t_s) and self.t_s >= 0.0):
            raise ValueError(f"t_s must be a finite time ≥ 0, got {self.t_s!r}")
        if self.until_s is not None and not (
            math.isfinite(self.until_s) and self.until_s > self.t_s
        ):
            raise ValueError(f"until_s must be after t_s ({self.t_s}), got {self.until_s!r}")
        if (self.velocity_mps is None) == (self.goto is None):
            raise ValueError("give exactly one of velocity_mps and goto")
        if self.frame not in _FRAMES:
            raise ValueError(f"frame must be 'map' or 'base_link', got {self.frame!r}")
        object.__setattr__(self, "frame", _FRAMES[self.frame])
        if self.velocity_mps is not None:
            object.__setattr__(
                self, "velocity_mps", _finite_vec3("velocity_mps", self.velocity_mps)
            )
        if self.goto is not None:
            if self.until_s is not None:
                raise ValueError("until_s applies to velocity commands only (a goto holds)")
            object.__setattr__(self, "goto", _finite_vec3("goto", self.goto))


@dataclass(frozen=True)
class ScenarioOperatorParams:
    """rate_hz: publishing rate of cmd_vel [Hz], (0, 1000]; a pilot's RC link streams at ~50 Hz.
    goto_republish_hz: repeat rate of the active goto [Hz], (0, rate_hz].
    """

    rate_hz: float = 50.0
    goto_republish_hz: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate_hz) and 0.0 < self.rate_hz <= 1000.0):
            raise ValueError(f"rate_hz must be in (0, 1000], got {self.rate_hz!r}")
        if not (
            math.isfinite(self.goto_republish_hz) and 0.0 < self.goto_republish_hz <= self.rate_hz
        ):
            raise ValueError(
                f"goto_republish_hz must be in (0, rate_hz], got {self.goto_republish_hz!r}"
            )


@dataclass(frozen=True)
class _Interval:
    start_s: float
    end_s: float
    command: OperatorCommand


class ScenarioOperator(Component):
    """Publishes one vehicle's scripted operator commands (see the module docstring)."""

    inputs: ClassVar[dict[str, Port]] = {}
    outputs: ClassVar[dict[str, Port]] = {
        "cmd_vel": Port(VelocityCommand, "operator/cmd_vel"),
        "goto": Port(GotoCommand, "operator/goto"),
    }
    direct_feedthrough: ClassVar[bool] = False

    def __init__(
        self,
        name: str = "operator",
        namespace: str = "",
        *,
        commands: Sequence[OperatorCommand],
        params: ScenarioOperatorParams | None = None,
    ) -> None:
        super().__init__(name, namespace)
        self.params = params or ScenarioOperatorParams()
        self.rate_hz = self.params.rate_hz
        for earlier, later in itertools.pairwise(commands):
            if later.t_s < earlier.t_s:
                raise ValueError(
                    f"commands must be in time order ({later.t_s} comes after {earlier.t_s})"
                )
        self._intervals: tuple[_Interval, ...] = tuple(
            _Interval(
                c.t_s,
                min(
                    c.until_s if c.until_s is not None else math.inf,
                    commands[i + 1].t_s if i + 1 < len(commands) else math.inf,
                ),
                c,
            )
            for i, c in enumerate(commands)
        )
        self._cursor = 0
        self._goto_sent_s = -math.inf

    def _active(self, t_s: float) -> _Interval | None:
        intervals = self._intervals
        while self._cursor + 1 < len(intervals) and intervals[self._cursor + 1].start_s <= (
            t_s + TIME_EPS_S
        ):
            self._cursor += 1
            self._goto_sent_s = -math.inf
        if not intervals:
            return None
        current = intervals[self._cursor]
        if current.start_s > t_s + TIME_EPS_S or t_s >= current.end_s - TIME_EPS_S:
            return None
        return current

    def step(self, t_s: float) -> dict[str, object] | None:
        current = self._active(t_s)
        if current is None:
            return None
        command = current.command
        if command.velocity_mps is not None:
            return {"cmd_vel": VelocityCommand(t_s, command.velocity_mps, 0.0, command.frame)}
        if t_s - self._goto_sent_s < 1.0 / self.params.goto_republish_hz - TIME_EPS_S:
            return None
        self._goto_sent_s = t_s
        assert command.goto is not None
        return {"goto": GotoCommand(command.t_s, command.goto)}
