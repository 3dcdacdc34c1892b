"""`kestrel run` writes what SCENARIOS.md and the README promise: metrics.json with the
contract's keys, a PNG plot, and a rosbag2 MCAP log with standard ROS 2 types."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mcap.reader import make_reader
from rosbags.highlevel import AnyReader

from kestrel.api import run
from kestrel.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SHORT_DEMO_S = 12.0


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    scenario = load_scenario(SCENARIOS / "demo.yaml").model_copy(
        update={"duration_s": SHORT_DEMO_S}
    )
    return run(scenario, out=out)


def test_metrics_json_has_the_contract_keys(demo_run):
    metrics = json.loads((demo_run.out_dir / "metrics.json").read_text())
    for key in ("scenario", "seed", "kestrel_version", "sim_time_s", "wall_time_s"):
        assert key in metrics
    assert metrics["sim_time_s"] == pytest.approx(SHORT_DEMO_S)
    assert metrics["collisions"] == 0
    assert metrics["min_clearance_m"] > 0.0  # the demo has obstacles
    uav = metrics["vehicles"]["uav1"]
    for key in ("mission_complete", "tracking_rms_m", "position_error_rms_m"):
        assert key in uav
    assert "mission_time_s" not in uav  # 12 s is too short to finish: absent, not a fake 0
    for timing in metrics["nodes"].values():
        assert set(timing) == {"rate_hz", "tick_p50_ms", "tick_p99_ms", "deadline_misses"}


def test_plot_is_a_png(demo_run):
    png = (demo_run.out_dir / "run.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert len(png) > 10_000


def test_log_is_a_rosbag2_with_standard_ros2_types(demo_run):
    log = demo_run.out_dir / "log"
    with AnyReader([log]) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        counts = {c.topic: c.msgcount for c in reader.connections}
    assert types["/uav1/state/odometry"] == "nav_msgs/msg/Odometry"
    assert types["/uav1/sim/ground_truth"] == "nav_msgs/msg/Odometry"
    assert types["/uav1/sensors/imu"] == "sensor_msgs/msg/Imu"
    assert types["/uav1/sensors/gnss"] == "sensor_msgs/msg/NavSatFix"
    assert types["/uav1/control/setpoint"] == "trajectory_msgs/msg/MultiDOFJointTrajectory"
    assert types["/uav1/actuators/motors"] == "std_msgs/msg/Float32MultiArray"
    assert types["/tf"] == "tf2_msgs/msg/TFMessage"
    assert types["/obstacles"] == "visualization_msgs/msg/MarkerArray"
    # ground truth logged at 50 Hz for 12 s
    assert counts["/uav1/sim/ground_truth"] == pytest.approx(50 * SHORT_DEMO_S, abs=2)


def test_log_is_mcap_with_ros2msg_schemas_as_foxglove_reads_them(demo_run):
    with (demo_run.out_dir / "log" / "log.mcap").open("rb") as stream:
        summary = make_reader(stream).get_summary()
    assert summary is not None
    encodings = {schema.encoding for schema in summary.schemas.values()}
    assert encodings == {"ros2msg"}
    assert {c.message_encoding for c in summary.channels.values()} == {"cdr"}


def test_cli_run_without_out_writes_under_runs(tmp_path):
    scenario = tmp_path / "short.yaml"
    text = (SCENARIOS / "hover.yaml").read_text().replace("duration_s: 40", "duration_s: 3")
    scenario.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "kestrel", "run", str(scenario), "--no-log"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (out,) = (tmp_path / "runs").iterdir()
    assert out.name.startswith("hover-")
    assert (out / "metrics.json").exists()
