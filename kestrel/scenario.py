"""The scenario file (SCENARIOS.md): schema, loading, and one-line errors.

A scenario is validated completely before anything runs. Every problem is reported as one line
naming the file, the key path and what is wrong (`demo.yaml: vehicles[0].mission.cruise_speed_mps:
must be > 0, got -2`), never a traceback. Keys Kestrel does not implement yet are refused by name
rather than ignored, so a scenario never silently means less than it says.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

NOT_YET_SUPPORTED = {
    "world.roads": "ground-vehicle roads (the automated-driving issue)",
    "vehicles.gimbal": "gimbal stabilisation (the gimbal issue)",
}
"""Keys defined by SCENARIOS.md that this version refuses by name, with what will add them."""

MAX_DURATION_S = 24 * 3600.0
MIN_PHYSICS_HZ = 100.0
MAX_PHYSICS_HZ = 20_000.0


class ScenarioError(ValueError):
    """An invalid scenario; `str()` is the one line shown to the user."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file = file
        self.key = key
        self.problem = problem
        super().__init__(f"{file}: {key}: {problem}" if key else f"{file}: {problem}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


Finite = Annotated[float, Field(allow_inf_nan=False)]
Vec3 = tuple[Finite, Finite, Finite]
Vec2 = tuple[Finite, Finite]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Origin(_Strict):
    lat_deg: float = Field(ge=-90.0, le=90.0)
    lon_deg: float = Field(ge=-180.0, le=180.0)
    alt_m: Finite = 0.0
    geoid_undulation_m: float = Field(default=0.0, ge=-120.0, le=120.0)


class Wind(_Strict):
    mean_mps: Vec3 = (0.0, 0.0, 0.0)
    gust_std_mps: float = Field(default=0.0, ge=0.0, le=20.0)


class _MovingShape(_Strict):
    center: Vec3 | None = None
    velocity_mps: Vec3 | None = None
    path: list[tuple[Finite, Finite, Finite, Finite]] | None = None

    @model_validator(mode="after")
    def _one_placement(self) -> _MovingShape:
        if self.path is not None:
            if self.center is not None or self.velocity_mps is not None:
                raise ValueError("give either `path` or `center` (with optional `velocity_mps`)")
            if len(self.path) < 1:
                raise ValueError("`path` needs at least one [t, x, y, z] point")
            times = [p[0] for p in self.path]
            if any(b <= a for a, b in itertools.pairwise(times)):
                raise ValueError("`path` times must increase strictly")
        elif self.center is None:
            raise ValueError("`center` (or `path`) is required")
        return self


class BoxObstacle(_MovingShape):
    type: Literal["box"]
    size: tuple[Positive, Positive, Positive]
    yaw_deg: Finite = 0.0


class SphereObstacle(_MovingShape):
    type: Literal["sphere"]
    radius: Positive


class CylinderObstacle(_Strict):
    type: Literal["cylinder"]
    center: Vec2 | Vec3 | None = None
    radius: Positive
    height: Positive
    velocity_mps: Vec2 | Vec3 | None = None
    path: list[tuple[Finite, Finite, Finite, Finite]] | None = None

    @field_validator("velocity_mps")
    @classmethod
    def _horizontal_only(cls, v: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if v is not None and len(v) == 3 and v[2] != 0.0:
            raise ValueError("a cylinder moves only horizontally: velocity z must be 0")
        return v

    @field_validator("center")
    @classmethod
    def _on_the_ground(cls, v: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if v is not None and len(v) == 3 and v[2] != 0.0:
            raise ValueError("a cylinder stands on the ground: center z must be 0 (or give [x, y])")
        return v

    @field_validator("path")
    @classmethod
    def _path_on_the_ground(
        cls, v: list[tuple[float, float, float, float]] | None
    ) -> list[tuple[float, float, float, float]] | None:
        if v is not None and any(point[3] != 0.0 for point in v):
            raise ValueError("a cylinder stands on the ground: every path point's z must be 0")
        return v

    @model_validator(mode="after")
    def _one_placement(self) -> CylinderObstacle:
        if (self.path is None) == (self.center is None):
            raise ValueError("give exactly one of `center` or `path`")
        if self.path is not None and self.velocity_mps is not None:
            raise ValueError("`velocity_mps` goes with `center`, not with `path`")
        return self


class ForestObstacle(_Strict):
    type: Literal["forest"]
    area: tuple[Vec2, Vec2]
    density_per_m2: float = Field(gt=0.0, le=2.0)
    radius: tuple[Positive, Positive]
    height: Positive

    @model_validator(mode="after")
    def _ordered(self) -> ForestObstacle:
        (x0, y0), (x1, y1) = self.area
        if not (x1 > x0 and y1 > y0):
            raise ValueError("`area` must be [[xmin, ymin], [xmax, ymax]] with max > min")
        if self.radius[1] < self.radius[0]:
            raise ValueError("`radius` must be [min, max] with max ≥ min")
        return self


Obstacle = Annotated[
    BoxObstacle | SphereObstacle | CylinderObstacle | ForestObstacle,
    Field(discriminator="type"),
]


class ZoneUpdateSpec(_Strict):
    t: float = Field(ge=0.0, allow_inf_nan=False)
    file: str = Field(min_length=1)
    source: str = Field(default="live", min_length=1)


class World(_Strict):
    origin: Origin | None = None
    start_time_utc: datetime = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    wind: Wind = Wind()
    obstacles: list[Obstacle] = []
    zones: list[dict[str, Any]] = []
    """Zone files ({file: path}) and inline zones; resolved by `parse_scenario` (they need the
    scenario file's folder and the importers), then available as `Scenario.zones`."""
    zone_updates: list[ZoneUpdateSpec] = []
    """Airspace updates pushed in flight (a UTM feed): at `t`, the zone file replaces what
    `source` sent before."""
    roads: Any = None

    @field_validator("start_time_utc")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-03-14T09:30:00Z")
        return v


class GeoWaypoint(_Strict):
    lat_deg: float = Field(ge=-90.0, le=90.0)
    lon_deg: float = Field(ge=-180.0, le=180.0)
    alt_m: Finite


class MissionSpec(_Strict):
    takeoff_alt_m: float = Field(gt=0.0, le=500.0)
    waypoints: list[Vec3 | GeoWaypoint] = []
    cruise_speed_mps: float = Field(default=3.0, gt=0.0, le=20.0)
    then: Literal["land", "hover", "return"] = "hover"


class OperatorSpec(_Strict):
    t: NonNegative
    until: NonNegative | None = None
    velocity_mps: Vec3 | None = None
    frame: Literal["map", "body"] = "map"
    goto: Vec3 | None = None

    @model_validator(mode="after")
    def _one_command(self) -> OperatorSpec:
        if (self.velocity_mps is None) == (self.goto is None):
            raise ValueError("give exactly one of `velocity_mps` or `goto`")
        if self.until is not None and self.until <= self.t:
            raise ValueError(f"`until` ({self.until}) must be after `t` ({self.t})")
        return self


_FAULT_WIDTH = {"gnss": 3, "gyro": 3, "accel": 3, "mag": 3, "baro": 1}


class FaultSpecModel(_Strict):
    t: NonNegative
    sensor: Literal["gnss", "gyro", "accel", "baro", "mag"]
    mode: Literal["dropout", "offset", "bias", "stuck", "noise"]
    until: NonNegative | None = None
    value: list[Finite] | Finite | None = None

    @model_validator(mode="after")
    def _value_fits(self) -> FaultSpecModel:
        if self.until is not None and self.until <= self.t:
            raise ValueError(f"`until` ({self.until}) must be after `t` ({self.t})")
        if self.mode in ("dropout", "stuck"):
            if self.value is not None:
                raise ValueError(f"mode {self.mode} takes no `value`")
            return self
        if self.value is None:
            raise ValueError(f"mode {self.mode} needs a `value`")
        width = len(self.value) if isinstance(self.value, list) else 1
        if width != _FAULT_WIDTH[self.sensor]:
            raise ValueError(
                f"`value` for {self.sensor} needs {_FAULT_WIDTH[self.sensor]} component(s), "
                f"got {width}"
            )
        return self

    @property
    def values(self) -> tuple[float, ...] | None:
        if self.value is None:
            return None
        return tuple(self.value) if isinstance(self.value, list) else (float(self.value),)


class StartSpec(_Strict):
    position: Vec3 = (0.0, 0.0, 0.0)
    yaw_deg: Finite = 0.0


class SensorsSpec(_Strict):
    gnss: Literal["rtk", "standard"] = "rtk"


class VehicleSpec(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    type: str
    start: StartSpec = StartSpec()
    sensors: SensorsSpec = SensorsSpec()
    mission: MissionSpec
    operator: list[OperatorSpec] = []
    faults: list[FaultSpecModel] = []
    gimbal: Any = None
    authorisations: list[Annotated[str, Field(min_length=1)]] = []

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        if v == "car":
            raise ValueError(
                "vehicle type 'car' is not supported yet (the automated-driving issue)"
            )
        if v != "quadrotor":
            raise ValueError(f"unknown vehicle type {v!r}; expected 'quadrotor'")
        return v

    @field_validator("operator")
    @classmethod
    def _ordered(cls, v: list[OperatorSpec]) -> list[OperatorSpec]:
        for a, b in itertools.pairwise(v):
            if b.t < a.t:
                raise ValueError(f"commands must be in time order ({b.t} comes after {a.t})")
        return v


class Scenario(_Strict):
    _zones: tuple[Any, ...] = PrivateAttr(default=())
    _zone_updates: tuple[Any, ...] = PrivateAttr(default=())
    name: str = Field(min_length=1)
    seed: int = Field(default=0, ge=0, lt=2**63)
    duration_s: float = Field(gt=0.0, le=MAX_DURATION_S)
    physics_hz: float = Field(default=1000.0, ge=MIN_PHYSICS_HZ, le=MAX_PHYSICS_HZ)
    world: World = World()
    vehicles: list[VehicleSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        ids = [v.id for v in self.vehicles]
        for i, vid in enumerate(ids):
            if vid in ids[:i]:
                raise _KeyedError(f"vehicles[{i}].id", f"duplicate vehicle id {vid!r}")
        for i, vehicle in enumerate(self.vehicles):
            if vehicle.mission is None:
                continue
            for j, wp in enumerate(vehicle.mission.waypoints):
                if isinstance(wp, GeoWaypoint) and self.world.origin is None:
                    raise _KeyedError(
                        f"vehicles[{i}].mission.waypoints[{j}]",
                        "a geographic waypoint needs world.origin",
                    )
        return self

    @property
    def zones(self) -> tuple[Any, ...]:
        """The zones of world.zones, loaded (kestrel.planning.airspace.model.Zone), in order."""
        return self._zones

    @property
    def zone_updates(self) -> tuple[Any, ...]:
        """world.zone_updates resolved: kestrel.planning.zone_feed.TimedZoneUpdate, in order."""
        return self._zone_updates


class _KeyedError(ValueError):
    """Raised inside validators to point at a key other than the one being validated."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}")


# ---------------------------------------------------------------------- loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _key_path(loc: tuple[Any, ...], *, drop_last_index: bool = False) -> str:
    parts: list[str] = []
    if drop_last_index and loc and isinstance(loc[-1], int):
        loc = loc[:-1]
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in {"box", "sphere", "cylinder", "forest"} or "[" in str(item):
            continue  # discriminated-union tags and union branch names are not keys
        elif str(item).startswith(("tuple", "list", "function", "GeoWaypoint")):
            continue
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _describe(error: dict[str, Any]) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        if error["loc"] and isinstance(error["loc"][-1], int):
            return f"too few values: element {error['loc'][-1]} is missing"
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key (see SCENARIOS.md for the keys Kestrel reads)"
    if kind == "finite_number" or (isinstance(value, float) and not math.isfinite(value)):
        return f"must be a finite number, got {value!r}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = next(iter(ctx.values()), "?")
        symbol = {
            "greater_than": ">",
            "greater_than_equal": "≥",
            "less_than": "<",
            "less_than_equal": "≤",
        }[kind]
        return f"must be {symbol} {bound}, got {value!r}"
    if kind in ("float_type", "float_parsing", "int_type", "int_parsing", "int_from_float"):
        wanted = "an integer" if kind.startswith("int") else "a number"
        return f"expected {wanted}, got {value!r}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}, got {value!r}"
    if kind == "union_tag_invalid":
        return f"unknown type {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return "needs a `type` key"
    if kind in ("too_short", "too_long") and isinstance(value, list | tuple):
        return f"wrong length {len(value)}: {error['msg'].lower()}"
    if kind == "value_error":
        cause = ctx.get("error")
        return str(cause) if cause is not None else error["msg"]
    return f"{error['msg']} (got {value!r})"


def _error_rank(error: dict[str, Any]) -> tuple[bool, bool, int]:
    """Order errors so the one naming the branch the user evidently meant comes first: a list
    given where a list *or* a mapping is allowed was meant as the list."""
    value = error.get("input")
    wrong_branch = (
        error["type"] in ("model_type", "dict_type") and isinstance(value, list | tuple)
    ) or (error["type"] in ("tuple_type", "list_type") and isinstance(value, dict))
    return (error["type"].startswith("union"), wrong_branch, len(error["loc"]))


def _first_error(exc: ValidationError) -> tuple[str, str]:
    errors = exc.errors()
    # Prefer an error that names a concrete key over union-branch noise.
    error = min(errors, key=_error_rank)
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, _KeyedError):
        return cause.key, cause.problem
    missing_element = error["type"] == "missing"
    return _key_path(tuple(error["loc"]), drop_last_index=missing_element), _describe(error)


def _refuse_unsupported(raw: dict[str, Any], file: str) -> None:
    world = raw.get("world")
    if isinstance(world, dict):
        for key in ("roads",):
            if key in world:
                raise ScenarioError(
                    file, f"world.{key}", f"not supported yet: {NOT_YET_SUPPORTED['world.' + key]}"
                )
    for i, vehicle in enumerate(raw.get("vehicles") or []):
        if isinstance(vehicle, dict):
            for key in ("gimbal",):
                if key in vehicle:
                    raise ScenarioError(
                        file,
                        f"vehicles[{i}].{key}",
                        f"not supported yet: {NOT_YET_SUPPORTED['vehicles.' + key]}",
                    )


def parse_scenario(raw: Any, file: str) -> Scenario:
    """Validate an already-parsed YAML document."""
    if not isinstance(raw, dict):
        raise ScenarioError(file, "", "a scenario must be a YAML mapping at the top level")
    _refuse_unsupported(raw, file)
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        key, problem = _first_error(exc)
        raise ScenarioError(file, key, problem) from None
    if scenario.world.zones:
        from kestrel.scenario_zones import resolve_zones  # the importers load only when needed

        if scenario.world.origin is None:
            raise ScenarioError(file, "world.origin", "zones need a geographic origin")
        scenario._zones = resolve_zones(scenario.world.zones, file)
    if scenario.world.zone_updates:
        from kestrel.scenario_zones import resolve_zone_updates

        if scenario.world.origin is None:
            raise ScenarioError(file, "world.origin", "zone updates need a geographic origin")
        scenario._zone_updates = resolve_zone_updates(scenario.world.zone_updates, file)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raises ScenarioError with a one-line message."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(file, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(file, "", f"cannot read: {exc}") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(file, where, f"invalid YAML: {problem}") from None
    return parse_scenario(raw, file)
