"""`kestrel zones FILE`: list a zone file's zones, or ask what a geographic point is inside.

Without `--at` it prints every zone (index, identifier, name, restriction, volumes with their
limits, applicability); with `--at LAT,LON,ALT_M_AMSL` it reports, for every volume, whether the
point is inside horizontally (geodesic edges), vertically and in time, and its geodesic distance
to the volume's horizontal boundary (kestrel.planning.airspace.geodesic). `--json` prints the
same as one JSON object, described by the JSON Schema shipped beside the zone model
(kestrel/planning/airspace/zones-output.schema.json).

Exit status: 0 when the file loaded (whatever the point is inside); 2 for a refused file (the
importer's one line naming the file, the feature and the field) or a bad option value (one line);
1 for an internal failure. Heavy modules (pyproj, shapely, the importers) load only when the
command runs, so `kestrel --help` stays fast.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from kestrel.planning.airspace.geodesic import VolumeQuery
    from kestrel.planning.airspace.model import Limit, Shape, Zone, ZoneFile

EXIT_INVALID_INPUT = 2
SCHEMA_FILE = "zones-output.schema.json"
"""Package data of kestrel.planning.airspace describing both `--json` outputs."""


class _InvalidInputError(Exception):
    """A bad command-line value; the message is the one line printed."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fail(message: str) -> typer.Exit:
    typer.echo(_one_line(message), err=True)
    return typer.Exit(EXIT_INVALID_INPUT)


def parse_at(text: str) -> tuple[float, float, float]:
    """`LAT,LON,ALT_M_AMSL` → (lat_deg, lon_deg, alt_m_amsl), validated."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise _InvalidInputError(
            f"--at: expected LAT,LON,ALT_M_AMSL (degrees, metres), got {text!r}"
        )
    try:
        lat, lon, alt = (float(p) for p in parts)
    except ValueError:
        raise _InvalidInputError(
            f"--at: expected three numbers LAT,LON,ALT_M_AMSL, got {text!r}"
        ) from None
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise _InvalidInputError(f"--at: latitude must be in [-90, 90] degrees, got {parts[0]!r}")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise _InvalidInputError(
            f"--at: longitude must be in [-180, 180] degrees, got {parts[1]!r}"
        )
    if not math.isfinite(alt):
        raise _InvalidInputError(
            f"--at: altitude must be a finite number of metres, got {parts[2]!r}"
        )
    return lat, lon, alt


def parse_metres(option: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _InvalidInputError(f"{option}: expected a number of metres, got {text!r}") from None
    if not math.isfinite(value):
        raise _InvalidInputError(f"{option}: expected a finite number of metres, got {text!r}")
    return value


def parse_time(text: str) -> datetime:
    """ISO 8601 date-time; without a UTC offset it is UTC."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _InvalidInputError(
            f"--time: expected an ISO 8601 date-time such as 2026-03-14T09:30:00Z, got {text!r}"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _load(path: Path) -> ZoneFile:
    from kestrel.planning.airspace.importers import load_zone_file
    from kestrel.planning.airspace.model import ZoneFileError

    try:
        return load_zone_file(path)
    except ZoneFileError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"{path}: cannot read: {exc.strerror or exc}") from None


def zones_command(
    file: Annotated[
        Path, typer.Argument(help="Zone file: ED-269, ED-318 or GeoJSON (OpenAIP, FAA UASFM).")
    ],
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="LAT,LON,ALT_M_AMSL",
            help="Query point: WGS84 degrees and metres above mean sea level.",
        ),
    ] = None,
    ground_m: Annotated[
        str | None,
        typer.Option(
            "--ground-m",
            metavar="ELEV_M_AMSL",
            help="Ground elevation under the point, metres AMSL, for AGL limits (default 0).",
        ),
    ] = None,
    geoid_m: Annotated[
        str | None,
        typer.Option(
            "--geoid-m",
            metavar="N_M",
            help="Geoid undulation N, metres, for WGS84 limits: h_ell = h_amsl + N (default 0).",
        ),
    ] = None,
    time: Annotated[
        str | None,
        typer.Option(
            "--time",
            metavar="ISO8601",
            help="When to evaluate zone schedules (default now; no offset = UTC).",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
) -> None:
    """List a zone file's zones, or report which volumes a point is inside (--at)."""
    try:
        if at is None:
            for name, value in (("--ground-m", ground_m), ("--geoid-m", geoid_m), ("--time", time)):
                if value is not None:
                    raise _InvalidInputError(f"{name} only applies to a point query (--at)")
            point = None
        else:
            lat, lon, alt = parse_at(at)
            ground = 0.0 if ground_m is None else parse_metres("--ground-m", ground_m)
            geoid = 0.0 if geoid_m is None else parse_metres("--geoid-m", geoid_m)
            when = datetime.now(UTC) if time is None else parse_time(time)
            point = (lat, lon, alt, ground, geoid, when)
    except _InvalidInputError as exc:
        raise _fail(str(exc)) from None

    zone_file = _load(file)
    console = Console()
    if point is None:
        if json_output:
            typer.echo(
                json.dumps(
                    listing_document(zone_file), indent=2, ensure_ascii=False, allow_nan=False
                )
            )
        else:
            console.print(listing_table(zone_file))
        return

    from kestrel.planning.airspace.geodesic import query_point

    lat, lon, alt, ground, geoid, when = point
    results = query_point(zone_file, lat, lon, alt, ground, when, geoid)
    if json_output:
        doc = point_document(zone_file, results, lat, lon, alt, ground, geoid, when)
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False))
    else:
        console.print(point_table(zone_file, results, lat, lon, alt, ground, geoid, when))


# -- documents -----------------------------------------------------------------------------------


def _limit_json(limit: Limit | None) -> dict[str, Any] | None:
    return None if limit is None else {"m": limit.value_m, "reference": limit.reference.value}


def _shape_json(shape: Shape) -> dict[str, Any]:
    from kestrel.planning.airspace.model import CircleShape, MultiPolygonShape

    if isinstance(shape, CircleShape):
        return {
            "shape": "circle",
            "center_deg": list(shape.center),
            "radius_m": shape.radius_m,
        }
    parts = shape.parts if isinstance(shape, MultiPolygonShape) else (shape,)
    return {
        "shape": "multipolygon" if isinstance(shape, MultiPolygonShape) else "polygon",
        "parts": len(parts),
        "vertices": sum(len(p.exterior) + sum(len(h) for h in p.holes) for p in parts),
        "holes": sum(len(p.holes) for p in parts),
    }


def _zone_json(zone: Zone) -> dict[str, Any]:
    return {
        "index": zone.index,
        "identifier": zone.identifier,
        "name": zone.name,
        "restriction": zone.restriction.value,
        "kind": zone.kind.value,
        "action": zone.effective_action.value,
        "applicability": zone.applicability.describe(),
        "permanent": zone.applicability.permanent,
        "volumes": [
            {
                "volume": i,
                **_shape_json(v.shape),
                "lower": _limit_json(v.lower),
                "upper": _limit_json(v.upper),
            }
            for i, v in enumerate(zone.volumes)
        ],
    }


def listing_document(zone_file: ZoneFile) -> dict[str, Any]:
    """The `kestrel zones FILE --json` object."""
    from kestrel.planning.airspace.geodesic import EDGE_MODEL

    return {
        "file": zone_file.path,
        "format": zone_file.format,
        "wrapper": zone_file.wrapper,
        "edge_model": EDGE_MODEL,
        "zones": [_zone_json(z) for z in zone_file.zones],
    }


def point_document(
    zone_file: ZoneFile,
    results: list[VolumeQuery],
    lat: float,
    lon: float,
    alt: float,
    ground: float,
    geoid: float,
    when: datetime,
) -> dict[str, Any]:
    """The `kestrel zones FILE --at … --json` object."""
    from kestrel.planning.airspace.geodesic import EDGE_MODEL

    zones = zone_file.zones
    return {
        "file": zone_file.path,
        "format": zone_file.format,
        "point": {
            "lat_deg": lat,
            "lon_deg": lon,
            "alt_m_amsl": alt,
            "ground_m_amsl": ground,
            "geoid_m": geoid,
            "time_utc": when.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        },
        "edge_model": EDGE_MODEL,
        "volumes": [
            {
                "zone": r.zone,
                "identifier": r.identifier,
                "name": zones[r.zone].name,
                "restriction": zones[r.zone].restriction.value,
                "volume": r.volume,
                "inside_horizontal": r.inside_horizontal,
                "inside_vertical": r.inside_vertical,
                "zone_active": r.zone_active,
                "inside": r.inside,
                "lower_m_amsl": r.lower_m_amsl,
                "upper_m_amsl": r.upper_m_amsl,
                "boundary_distance_m": r.boundary_distance_m,
            }
            for r in results
        ],
    }


# -- tables --------------------------------------------------------------------------------------


def _limit_text(limit: Limit | None, *, upper: bool) -> str:
    if limit is None:
        return "unbounded" if upper else "surface"
    return f"{limit.value_m:g} m {limit.reference.value}"


def _volume_text(index: int, shape: Shape, lower: Limit | None, upper: Limit | None) -> str:
    info = _shape_json(shape)
    if info["shape"] == "circle":
        what = f"circle r {info['radius_m']:g} m"
    else:
        what = f"{info['shape']} {info['vertices']} vertices"
        if info["holes"]:
            what += f", {info['holes']} holes"
    return f"{index}: {what}, {_limit_text(lower, upper=False)} – {_limit_text(upper, upper=True)}"


def listing_table(zone_file: ZoneFile) -> Table:
    table = Table(
        title=f"{escape(zone_file.path)} — {zone_file.format} ({escape(zone_file.wrapper)}), "
        f"{len(zone_file.zones)} zones, geodesic edges"
    )
    table.add_column("#", justify="right")
    for name in ("identifier", "name", "restriction", "volumes", "active"):
        table.add_column(name, overflow="fold")
    for zone in zone_file.zones:
        volumes = "\n".join(
            _volume_text(i, v.shape, v.lower, v.upper) for i, v in enumerate(zone.volumes)
        )
        table.add_row(
            str(zone.index),
            escape(zone.identifier),
            escape(zone.name),
            zone.restriction.value,
            volumes,
            escape(zone.applicability.describe()),
        )
    return table


def _yes(flag: bool) -> str:
    return "[bold red]yes[/]" if flag else "no"


def point_table(
    zone_file: ZoneFile,
    results: list[VolumeQuery],
    lat: float,
    lon: float,
    alt: float,
    ground: float,
    geoid: float,
    when: datetime,
) -> Table:
    table = Table(
        title=f"{escape(zone_file.path)} at {lat:.6f}°, {lon:.6f}°, {alt:g} m AMSL "
        f"(ground {ground:g} m, geoid {geoid:g} m), {when.isoformat()}"
    )
    table.add_column("zone/vol", justify="right", no_wrap=True)
    table.add_column("identifier", overflow="fold", min_width=10)
    for name in ("in", "h", "v", "act"):
        table.add_column(name, no_wrap=True)
    for name in ("lower", "upper", "edge m"):
        table.add_column(name, justify="right", no_wrap=True)
    for r in results:
        table.add_row(
            f"{r.zone}/{r.volume}",
            escape(r.identifier),
            _yes(r.inside),
            "in" if r.inside_horizontal else "out",
            "in" if r.inside_vertical else "out",
            "yes" if r.zone_active else "no",
            f"{r.lower_m_amsl:.1f}",
            "—" if r.upper_m_amsl is None else f"{r.upper_m_amsl:.1f}",
            f"{r.boundary_distance_m:.1f}",
        )
    table.caption = (
        "in: inside (h horizontally, v vertically, act: zone active); lower/upper: m AMSL "
        "(— unbounded); "
        "edge m: geodesic distance to the horizontal boundary"
    )
    return table
