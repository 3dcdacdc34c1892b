"""The `kestrel` command line (typer + rich).

Exit status (SCENARIOS.md): 0 when a run completed, whatever its metrics say; 2 for an invalid
scenario, with one line naming the file, the key and the problem; 1 for an internal failure.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kestrel.scenario import Scenario, ScenarioError, load_scenario
from kestrel.zones_cli import zones_command

EXIT_INVALID_SCENARIO = 2
EXIT_INTERNAL_FAILURE = 1

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Kestrel: autonomy for drones and ground vehicles — simulate, validate, launch.",
)
console = Console()
err_console = Console(stderr=True)


def demo_scenario_path() -> Path:
    """The demo mission shipped inside the package (`kestrel run` with no scenario)."""
    return Path(str(resources.files("kestrel.scenarios") / "demo.yaml"))


def _default_out_dir(scenario: Scenario) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", scenario.name).strip("-") or "run"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("runs") / f"{slug}-{stamp}"


def _load_or_exit(path: Path) -> Scenario:
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        err_console.print(f"[bold red]invalid scenario[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_INVALID_SCENARIO) from None


def _summary_table(metrics: dict[str, Any]) -> Table:
    table = Table(title=f"{metrics['scenario']} — seed {metrics['seed']}")
    table.add_column("metric")
    vehicle_ids = list(metrics["vehicles"])
    for vid in vehicle_ids:
        table.add_column(vid, justify="right")
    keys: list[str] = []
    for vid in vehicle_ids:
        keys += [k for k in metrics["vehicles"][vid] if k not in keys]
    for key in keys:
        row = []
        for vid in vehicle_ids:
            value = metrics["vehicles"][vid].get(key)
            row.append(
                "—" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
            )
        table.add_row(key, *row)
    table.caption = (
        f"sim {metrics['sim_time_s']:.1f} s in {metrics['wall_time_s']:.1f} s wall "
        f"({metrics['real_time_factor']:.1f}× real time); collisions {metrics['collisions']}"
    )
    return table


@app.command()
def run(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario YAML; omit to fly the bundled demo.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output directory (default runs/<name>-<UTC time>/).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override the scenario's seed.", min=0)] = None,
    log: Annotated[bool, typer.Option(help="Write the MCAP run log.")] = True,
) -> None:
    """Run a scenario headless and deterministically; write metrics.json, run.png and log/."""
    from kestrel.api import run as run_scenario

    path = scenario if scenario is not None else demo_scenario_path()
    spec = _load_or_exit(path)
    out_dir = out if out is not None else _default_out_dir(spec)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.1f}/{task.total:.0f} sim s"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(spec.name, total=spec.duration_s)
        try:
            result = run_scenario(
                spec,
                seed=seed,
                out=out_dir,
                write_log=log,
                progress=lambda t_s: bar.update(task, completed=t_s),
                file=str(path),
            )
        except ScenarioError as exc:
            err_console.print(
                f"[bold red]invalid scenario[/] {exc}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(EXIT_INVALID_SCENARIO) from None
        except FileExistsError as exc:
            err_console.print(f"[bold red]error[/] {exc}", highlight=False)
            raise typer.Exit(EXIT_INTERNAL_FAILURE) from None
    console.print(_summary_table(result.metrics))
    console.print(f"wrote {out_dir}/metrics.json, run.png" + (", log/ (MCAP)" if log else ""))


@app.command()
def validate(scenario: Annotated[Path, typer.Argument(help="Scenario YAML to check.")]) -> None:
    """Check a scenario file without running it."""
    spec = _load_or_exit(scenario)
    try:
        from kestrel.stack import check_scenario, mission_zone_conflicts

        if spec.zones:
            for line in mission_zone_conflicts(spec):
                console.print(f"[yellow]zone[/] {line}", highlight=False, soft_wrap=True)
        check_scenario(spec, str(scenario))
    except ScenarioError as exc:
        err_console.print(f"[bold red]invalid scenario[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_INVALID_SCENARIO) from None
    vehicles = ", ".join(f"{v.id} ({v.type})" for v in spec.vehicles)
    console.print(
        f"[green]ok[/] {scenario}: {spec.name!r}, {spec.duration_s:g} s at "
        f"{spec.physics_hz:g} Hz, vehicles: {vehicles}",
        highlight=False,
    )


app.command("zones")(zones_command)
