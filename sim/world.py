"""The PyBullet world of one simulation: ground, obstacles, vehicles, fixed-step physics.

Each `World` owns its own PyBullet client in DIRECT mode and passes its id to every call, never
using PyBullet's global default connection, so several worlds (parallel tests, campaign
workers) coexist in one process without seeing each other.

Choices, each measured with PyBullet 3.2.7 on the 2-core reference machine
(shared/notes/sim-speed-feasibility.md):
- Ground: a static box whose top face is z = 0, not a GEOM_PLANE. An infinite plane overlaps
  every body in the broadphase, so PyBullet runs the compound-vs-plane narrowphase each step
  even for a vehicle 100 m up (3.3 µs/step against 1.35 µs with the box, one vehicle). The box
  is `GROUND_HALF_SIZE_M` wide each way; a vehicle beyond it falls.
- Static obstacles: one static multibody with a compound collision shape. Every separate
  multibody costs ~0.28 µs per step even when static (200 trunks as bodies: 57 µs/step; as one
  compound: 1.8 µs/step).
- Moving obstacles: one static (mass 0) body each, moved kinematically with
  `resetBasePositionAndOrientation` before each step; only those are touched per step.
- Solver: `SOLVER_ITERATIONS` = 10 (Bullet's default is 50): the scene is light bodies resting
  on or hitting static geometry, without stacks; a landed quadrotor rests at its gear height
  within 0.02 mm at 10 iterations, and the landed step cost is the same at 10 and 50.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

import pybullet as pb

from kestrel.airframe import GRAVITY_MPS2, QuadrotorAirframe
from kestrel.messages import Quat, Vec3
from kestrel.sim.obstacles import BoxObstacle, CylinderObstacle, Obstacle, SphereObstacle
from kestrel.sim.urdf import write_quadrotor_urdf

GROUND_HALF_SIZE_M = 10_000.0
"""Half width of the ground box [m]: scenarios fit within ±10 km of the origin."""
GROUND_THICKNESS_M = 20.0
"""Thickness of the ground box [m] (thick enough that nothing tunnels through it)."""
GROUND_FRICTION = 1.0
"""Lateral friction coefficient of the ground. Bullet multiplies the two bodies' coefficients,
so the contact gets `VEHICLE_FRICTION` × this."""
VEHICLE_FRICTION = 0.8
"""Lateral friction coefficient of the vehicle's skids: an estimate for rubber or plastic feet
on dry ground (dry rubber on asphalt or concrete is ~0.5–0.8 in common friction tables, e.g.
The Engineering ToolBox, "Friction and friction coefficients")."""
SOLVER_ITERATIONS = 10
"""Bullet constraint-solver iterations per step (see module docstring)."""


def _disconnect(client_id: int) -> None:
    with contextlib.suppress(pb.error):  # already disconnected
        pb.disconnect(physicsClientId=client_id)


def _yaw_quat(yaw_deg: float) -> Quat:
    half = 0.5 * math.radians(yaw_deg)
    return (0.0, 0.0, math.sin(half), math.cos(half))


def _body_frame(obstacle: Obstacle, t_s: float) -> tuple[Vec3, Quat]:
    """PyBullet frame of an obstacle's collision shape at `t_s` (shapes are centred)."""
    x, y, z = obstacle.position_at(t_s)
    if isinstance(obstacle, CylinderObstacle):
        return (x, y, 0.5 * obstacle.height_m), (0.0, 0.0, 0.0, 1.0)
    if isinstance(obstacle, BoxObstacle):
        return (x, y, z), _yaw_quat(obstacle.yaw_deg)
    return (x, y, z), (0.0, 0.0, 0.0, 1.0)


class World:
    """Ground, obstacles and vehicles in a private PyBullet DIRECT client.

    `obstacles` are primitives (forests already expanded, sim/obstacles.expand_obstacles).
    Call `move_obstacles(t_s)` and then `step()` once per physics tick.
    """

    def __init__(self, *, physics_hz: float, obstacles: Sequence[Obstacle] = ()) -> None:
        if not (physics_hz > 0.0 and math.isfinite(physics_hz)):
            raise ValueError(f"physics_hz must be a positive finite number, got {physics_hz!r}")
        self.physics_hz = float(physics_hz)
        self.dt_s = 1.0 / self.physics_hz
        cid = pb.connect(pb.DIRECT)
        if cid < 0:
            raise RuntimeError("could not start a PyBullet DIRECT client")
        self.client_id: int = cid
        self._finalizer = weakref.finalize(self, _disconnect, cid)
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        pb.resetSimulation(physicsClientId=cid)
        pb.setGravity(0.0, 0.0, -GRAVITY_MPS2, physicsClientId=cid)
        pb.setPhysicsEngineParameter(
            fixedTimeStep=self.dt_s,
            numSubSteps=0,
            numSolverIterations=SOLVER_ITERATIONS,
            deterministicOverlappingPairs=1,
            physicsClientId=cid,
        )
        self.ground_id = self._create_ground()
        self.obstacles: tuple[Obstacle, ...] = tuple(obstacles)
        static = [o for o in self.obstacles if not o.is_moving]
        self.static_obstacles_id: int | None = self._create_static(static) if static else None
        self._moving: list[tuple[int, Obstacle]] = [
            (self._create_moving(o), o) for o in self.obstacles if o.is_moving
        ]
        # Per moving obstacle, what `_body_frame` would recompute each tick: the position
        # function, the fixed height of a cylinder's centre (None: use the position's z) and
        # the fixed orientation (obstacles translate; a box keeps its yaw).
        self._moving_plan: list[tuple[int, Callable[[float], Vec3], float | None, Quat]] = [
            (
                body,
                o.position_at,
                0.5 * o.height_m if isinstance(o, CylinderObstacle) else None,
                _body_frame(o, 0.0)[1],
            )
            for body, o in self._moving
        ]
        self.vehicle_ids: list[int] = []

    # ------------------------------------------------------------------ building
    def _create_ground(self) -> int:
        cid = self.client_id
        half = (GROUND_HALF_SIZE_M, GROUND_HALF_SIZE_M, 0.5 * GROUND_THICKNESS_M)
        shape = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=half, physicsClientId=cid)
        body = pb.createMultiBody(
            0.0, shape, basePosition=(0.0, 0.0, -half[2]), physicsClientId=cid
        )
        pb.changeDynamics(body, -1, lateralFriction=GROUND_FRICTION, physicsClientId=cid)
        return body

    @staticmethod
    def _shape_arguments(obstacle: Obstacle) -> tuple[int, float, Vec3, float]:
        """(geometry type, radius, half extents, length) of an obstacle's collision shape."""
        if isinstance(obstacle, BoxObstacle):
            sx, sy, sz = obstacle.size_m
            return pb.GEOM_BOX, 0.0, (0.5 * sx, 0.5 * sy, 0.5 * sz), 0.0
        if isinstance(obstacle, CylinderObstacle):
            return pb.GEOM_CYLINDER, obstacle.radius_m, (0.0, 0.0, 0.0), obstacle.height_m
        if isinstance(obstacle, SphereObstacle):
            return pb.GEOM_SPHERE, obstacle.radius_m, (0.0, 0.0, 0.0), 0.0
        raise TypeError(f"not an obstacle primitive: {obstacle!r}")

    def _create_static(self, obstacles: Sequence[Obstacle]) -> int:
        cid = self.client_id
        args = [self._shape_arguments(o) for o in obstacles]
        frames = [_body_frame(o, 0.0) for o in obstacles]
        shape = pb.createCollisionShapeArray(
            [a[0] for a in args],
            radii=[a[1] for a in args],
            halfExtents=[a[2] for a in args],
            lengths=[a[3] for a in args],
            collisionFramePositions=[f[0] for f in frames],
            collisionFrameOrientations=[f[1] for f in frames],
            physicsClientId=cid,
        )
        if shape < 0:
            raise RuntimeError("PyBullet could not create the static obstacle shapes")
        return pb.createMultiBody(0.0, shape, physicsClientId=cid)

    def _create_moving(self, obstacle: Obstacle) -> int:
        cid = self.client_id
        geometry, radius, half_extents, length = self._shape_arguments(obstacle)
        shape = pb.createCollisionShape(
            geometry, radius=radius, halfExtents=half_extents, height=length, physicsClientId=cid
        )
        position, orientation = _body_frame(obstacle, 0.0)
        return pb.createMultiBody(
            0.0,
            shape,
            basePosition=position,
            baseOrientation=orientation,
            physicsClientId=cid,
        )

    def spawn_quadrotor(
        self, airframe: QuadrotorAirframe, position_enu_m: Vec3, orientation: Quat
    ) -> int:
        """Load a quadrotor (sim/urdf.py) with its centre of mass at `position_enu_m`.

        PyBullet's default linear/angular damping (0.04) is zeroed: aerodynamic drag is
        modelled explicitly by the simulator.
        """
        cid = self.client_id
        if self._tempdir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="kestrel-urdf-")
        path = write_quadrotor_urdf(airframe, Path(self._tempdir.name))
        body = pb.loadURDF(
            str(path),
            basePosition=position_enu_m,
            baseOrientation=orientation,
            flags=pb.URDF_USE_INERTIA_FROM_FILE,
            physicsClientId=cid,
        )
        if body < 0:
            raise RuntimeError(f"PyBullet could not load {path}")
        pb.changeDynamics(
            body,
            -1,
            linearDamping=0.0,
            angularDamping=0.0,
            lateralFriction=VEHICLE_FRICTION,
            physicsClientId=cid,
        )
        self.vehicle_ids.append(body)
        return body

    # ------------------------------------------------------------------ stepping
    @property
    def has_moving_obstacles(self) -> bool:
        return bool(self._moving)

    @property
    def moving_obstacle_ids(self) -> list[int]:
        """PyBullet bodies of the moving obstacles, in the order of `obstacles`."""
        return [body for body, _ in self._moving]

    def move_obstacles(self, t_s: float) -> None:
        """Place the moving obstacles where they are at `t_s` (static ones are untouched).

        Per tick, so it replays the precomputed plan (the same frames `_body_frame` gives)
        with positional PyBullet arguments (keyword parsing costs more)."""
        cid = self.client_id
        reset = pb.resetBasePositionAndOrientation
        for body, position_at, centre_z, orientation in self._moving_plan:
            x, y, z = position_at(t_s)
            reset(body, (x, y, z if centre_z is None else centre_z), orientation, cid)

    def step(self) -> None:
        """Advance the physics by one fixed step of `dt_s`."""
        pb.stepSimulation(physicsClientId=self.client_id)

    def close(self) -> None:
        """Disconnect the client and remove the temporary URDF files (idempotent)."""
        self._finalizer()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
