"""Scripted operator: streams stick commands while they last, repeats gotos with their stamp."""

from __future__ import annotations

import math

import pytest

from kestrel.messages import GotoCommand, VelocityCommand
from kestrel.planning.operator import (
    OperatorCommand,
    ScenarioOperator,
    ScenarioOperatorParams,
)

RATE_HZ = 50.0


def replay(operator: ScenarioOperator, end_s: float) -> list[tuple[float, dict[str, object]]]:
    """Step the operator on its own 50 Hz clock; keep the ticks that published something."""
    published = []
    for k in range(round(end_s * RATE_HZ) + 1):
        t_s = k / RATE_HZ
        out = operator.step(t_s)
        if out:
            published.append((t_s, out))
    return published


def velocity_ticks(published: list[tuple[float, dict[str, object]]]) -> list[float]:
    return [t for t, out in published if "cmd_vel" in out]


def test_velocity_command_streams_at_the_rate_only_between_t_and_until() -> None:
    # Given a command from 1 s to 2 s
    command = OperatorCommand(1.0, 2.0, (3.0, 0.0, -0.5))
    operator = ScenarioOperator(commands=[command])
    # When replayed for 4 s
    published = replay(operator, 4.0)
    ticks = velocity_ticks(published)
    # Then it publishes every tick in [1, 2): (2 − 1) s × 50 Hz = 50 messages, stamped now
    assert len(ticks) == round((2.0 - 1.0) * RATE_HZ)
    assert ticks[0] == pytest.approx(1.0)
    assert ticks[-1] == pytest.approx(2.0 - 1.0 / RATE_HZ)
    for t_s, out in published:
        msg = out["cmd_vel"]
        assert isinstance(msg, VelocityCommand)
        assert msg.t_s == t_s
        assert msg.linear_mps == (3.0, 0.0, -0.5)
        assert msg.frame == "map"


def test_command_without_until_lasts_until_the_next_command() -> None:
    # Given a velocity command at 1 s without until, then a goto at 3 s
    commands = [
        OperatorCommand(1.0, velocity_mps=(1.0, 0.0, 0.0)),
        OperatorCommand(3.0, goto=(5.0, 5.0, 5.0)),
    ]
    published = replay(ScenarioOperator(commands=commands), 5.0)
    ticks = velocity_ticks(published)
    # Then sticks stream from 1 s up to (not including) 3 s
    assert ticks[0] == pytest.approx(1.0)
    assert ticks[-1] == pytest.approx(3.0 - 1.0 / RATE_HZ)
    assert len(ticks) == round((3.0 - 1.0) * RATE_HZ)


def test_last_command_without_until_lasts_to_the_end() -> None:
    published = replay(
        ScenarioOperator(commands=[OperatorCommand(1.0, velocity_mps=(0.0, 1.0, 0.0))]), 10.0
    )
    ticks = velocity_ticks(published)
    assert ticks[-1] == pytest.approx(10.0)
    assert len(ticks) == round((10.0 - 1.0) * RATE_HZ) + 1


def test_until_after_the_next_command_is_cut_at_the_next_command() -> None:
    commands = [
        OperatorCommand(1.0, 5.0, (1.0, 0.0, 0.0)),
        OperatorCommand(2.0, 2.5, (0.0, 1.0, 0.0)),
    ]
    published = replay(ScenarioOperator(commands=commands), 6.0)
    velocities = {round(t, 6): out["cmd_vel"].linear_mps for t, out in published}  # type: ignore[attr-defined]
    assert velocities[1.98] == (1.0, 0.0, 0.0)
    assert velocities[2.0] == (0.0, 1.0, 0.0)
    assert max(velocities) == pytest.approx(2.5 - 1.0 / RATE_HZ)


def test_goto_is_repeated_at_a_low_rate_with_the_command_time_until_the_next_command() -> None:
    # Given a goto at 2.01 s (between ticks), repeated at 1 Hz, followed by a stick command at 5 s
    params = ScenarioOperatorParams(rate_hz=RATE_HZ, goto_republish_hz=1.0)
    commands = [
        OperatorCommand(2.01, goto=(10.0, 0.0, 5.0)),
        OperatorCommand(5.0, 6.0, (1.0, 0.0, 0.0)),
    ]
    published = replay(ScenarioOperator(commands=commands, params=params), 8.0)
    gotos = [(t, out["goto"]) for t, out in published if "goto" in out]
    # Then it is published at the first tick at or after 2.01 s and every second after, until 5 s
    assert [t for t, _ in gotos] == pytest.approx([2.02, 3.02, 4.02])
    for _, msg in gotos:
        assert isinstance(msg, GotoCommand)
        assert msg.t_s == 2.01
        assert msg.position_enu_m == (10.0, 0.0, 5.0)
    # and nothing else is published in between
    assert all("cmd_vel" not in out for t, out in published if t < 5.0)


def test_body_frame_commands_are_published_in_base_link() -> None:
    for frame in ("body", "base_link"):
        command = OperatorCommand(0.0, 1.0, (1.0, 2.0, 0.0), frame=frame)
        assert command.frame == "base_link"
        published = replay(ScenarioOperator(commands=[command]), 0.5)
        assert all(out["cmd_vel"].frame == "base_link" for _, out in published)  # type: ignore[attr-defined]


def test_nothing_is_published_without_commands() -> None:
    assert replay(ScenarioOperator(commands=[]), 2.0) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"t_s": 1.0}, "exactly one"),
        ({"t_s": 1.0, "velocity_mps": (1.0, 0.0, 0.0), "goto": (0.0, 0.0, 1.0)}, "exactly one"),
        ({"t_s": 2.0, "until_s": 2.0, "velocity_mps": (1.0, 0.0, 0.0)}, "until_s"),
        ({"t_s": -1.0, "velocity_mps": (1.0, 0.0, 0.0)}, "t_s"),
        ({"t_s": 1.0, "velocity_mps": (math.nan, 0.0, 0.0)}, "velocity_mps"),
        ({"t_s": 1.0, "goto": (0.0, math.inf, 1.0)}, "goto"),
        ({"t_s": 1.0, "velocity_mps": (1.0, 0.0, 0.0), "frame": "odom"}, "frame"),
        ({"t_s": 1.0, "until_s": 2.0, "goto": (0.0, 0.0, 1.0)}, "until_s"),
    ],
)
def test_invalid_commands_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        OperatorCommand(**kwargs)  # type: ignore[arg-type]


def test_commands_out_of_time_order_are_refused() -> None:
    commands = [
        OperatorCommand(3.0, goto=(0.0, 0.0, 1.0)),
        OperatorCommand(1.0, goto=(0.0, 0.0, 2.0)),
    ]
    with pytest.raises(ValueError, match="time order"):
        ScenarioOperator(commands=commands)
