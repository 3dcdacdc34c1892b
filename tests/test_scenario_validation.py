"""An invalid scenario is refused with exit 2 and one line naming the file, the key and the
problem — no traceback (SCENARIOS.md, exit status)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kestrel.scenario import ScenarioError, load_scenario

VALID = {
    "name": "valid",
    "seed": 1,
    "duration_s": 10,
    "world": {"origin": {"lat_deg": 47.0, "lon_deg": 8.0, "alt_m": 400.0}},
    "vehicles": [
        {
            "id": "uav1",
            "type": "quadrotor",
            "mission": {"takeoff_alt_m": 5, "waypoints": [[10, 0, 5]], "then": "land"},
        }
    ],
}


def _with(path: tuple, value: object) -> dict:
    """VALID with the key at `path` set to `value` (the sentinel `DELETE` removes it)."""
    doc = yaml.safe_load(yaml.safe_dump(VALID))
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


DELETE = object()

# (case, document or raw YAML text, expected key in the message, expected words of the problem)
INVALID_CASES = [
    ("missing key", _with(("duration_s",), DELETE), "duration_s", "required key is missing"),
    ("wrong type", _with(("duration_s",), "ten"), "duration_s", "expected a number"),
    ("negative duration", _with(("duration_s",), -5), "duration_s", "must be > 0"),
    ("unknown vehicle type", _with(("vehicles", 0, "type"), "blimp"), "vehicles[0].type", "blimp"),
    (
        "NaN",
        _with(("vehicles", 0, "mission", "takeoff_alt_m"), float("nan")),
        "vehicles[0].mission.takeoff_alt_m",
        "finite",
    ),
    ("infinity", _with(("world", "origin", "alt_m"), float("inf")), "world.origin.alt_m", "finite"),
    (
        "latitude out of range",
        _with(("world", "origin", "lat_deg"), 91.5),
        "world.origin.lat_deg",
        "≤ 90",
    ),
    (
        "duplicate vehicle id",
        _with(("vehicles",), [VALID["vehicles"][0]] * 2),
        "vehicles[1].id",
        "duplicate vehicle id 'uav1'",
    ),
    (
        "unsupported key (gimbal)",
        _with(("vehicles", 0, "gimbal"), {"mode": "lock"}),
        "vehicles[0].gimbal",
        "not supported yet",
    ),
    ("unsupported key (roads)", _with(("world", "roads"), []), "world.roads", "not supported yet"),
    ("unknown key", _with(("vehicles", 0, "colour"), "red"), "vehicles[0].colour", "unknown key"),
    (
        "car not yet supported",
        _with(("vehicles", 0, "type"), "car"),
        "vehicles[0].type",
        "not supported yet",
    ),
    (
        "waypoint with two coordinates",
        _with(("vehicles", 0, "mission", "waypoints"), [[1, 2]]),
        "vehicles[0].mission.waypoints[0]",
        "",
    ),
    (
        "operator until before t",
        _with(("vehicles", 0, "operator"), [{"t": 5, "until": 3, "velocity_mps": [1, 0, 0]}]),
        "vehicles[0].operator[0]",
        "must be after",
    ),
    (
        "fault value of the wrong width",
        _with(
            ("vehicles", 0, "faults"), [{"t": 1, "sensor": "gnss", "mode": "offset", "value": [5]}]
        ),
        "vehicles[0].faults[0]",
        "needs 3",
    ),
    (
        "obstacle of unknown type",
        _with(("world", "obstacles"), [{"type": "cone"}]),
        "world.obstacles[0]",
        "unknown type 'cone'",
    ),
    ("broken YAML", "name: x\nduration_s: [10\n", "line", "invalid YAML"),
    ("duplicate YAML key", "name: a\nname: b\nduration_s: 5\n", "line 2", "duplicate key 'name'"),
    ("not a mapping", "- just\n- a list\n", "", "YAML mapping"),
]


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


@pytest.mark.parametrize(
    ("document", "key", "problem"),
    [case[1:] for case in INVALID_CASES],
    ids=[case[0] for case in INVALID_CASES],
)
def test_invalid_scenario_error_names_file_key_and_problem(tmp_path, document, key, problem):
    path = _write(tmp_path, document)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert key in message
    assert problem in message
    assert "\n" not in message


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize(
    ("document", "key", "problem"),
    [INVALID_CASES[i][1:] for i in (0, 2, 4, 7, 16)],
    ids=[INVALID_CASES[i][0] for i in (0, 2, 4, 7, 16)],
)
def test_cli_refuses_invalid_scenario_with_exit_2_and_one_line(
    tmp_path, command, document, key, problem
):
    path = _write(tmp_path, document)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kestrel",
            command,
            str(path),
            *(["--out", str(tmp_path / "o")] if command == "run" else []),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "400", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert str(path) in lines[0]
    assert key in lines[0]
    assert problem in lines[0]
    assert "Traceback" not in result.stderr


def test_every_bundled_scenario_is_valid():
    root = Path(__file__).resolve().parents[1]
    files = sorted((root / "scenarios").glob("*.yaml"))
    assert len(files) >= 6
    for path in files:
        load_scenario(path)
