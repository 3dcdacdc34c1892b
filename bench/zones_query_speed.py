"""Zone point-query speed: load a generated ED-269 file, then answer many `--at` queries.

    python bench/zones_query_speed.py [--zones 1000] [--vertices-per-zone 50] [--queries 10000]

Prints one JSON object on its last line:
    {"zones", "vertices", "volumes", "queries", "load_s", "index_build_s",
     "query_point": {"p50_ms", "p99_ms", "total_s"}, "index_query": {…}, "first_query_s"}

The file (written to a temporary directory) holds `--zones` star-shaped polygon zones of
`--vertices-per-zone` vertices each, 0.5–5 km across, scattered over a Switzerland-sized area
(45.8–47.8° N, 5.9–10.5° E), 0–120 m AGL, permanent. Queries are uniform random points over the
same area, 0–600 m AMSL, ground 0–400 m, one fixed time. `query_point` is the API the CLI uses
(one `VolumeQuery` per volume, here 1000 per query); `index_query` is the array form
(`GeodesicZoneIndex.query`) for bulk callers. Both answer every volume, far ones included.
`first_query_s` = load + index build + one query: what one `kestrel zones FILE --at …` costs
beyond interpreter start-up.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from kestrel.planning.airspace.geodesic import GeodesicZoneIndex, query_point
from kestrel.planning.airspace.importers import load_zone_file

LAT_RANGE_DEG = (45.8, 47.8)
LON_RANGE_DEG = (5.9, 10.5)
METRES_PER_DEG_LAT = 111_132.0
WHEN = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


def ed269_document(zones: int, vertices: int, seed: int = 1) -> dict[str, Any]:
    """An ED-269 `{title, features}` file of random star-shaped polygons (never self-crossing:
    vertices in angular order around their centre)."""
    rng = np.random.default_rng(seed)
    features = []
    for i in range(zones):
        lat0 = rng.uniform(*LAT_RANGE_DEG)
        lon0 = rng.uniform(*LON_RANGE_DEG)
        angle = np.sort(rng.uniform(0.0, 2.0 * math.pi, vertices))
        radius_m = rng.uniform(250.0, 2500.0) * rng.uniform(0.6, 1.0, vertices)
        lat = lat0 + radius_m * np.cos(angle) / METRES_PER_DEG_LAT
        lon = lon0 + radius_m * np.sin(angle) / (METRES_PER_DEG_LAT * math.cos(math.radians(lat0)))
        ring = [[round(x, 7), round(y, 7)] for x, y in zip(lon, lat, strict=True)]
        features.append(
            {
                "identifier": f"BENCH{i:04d}",
                "country": "CHE",
                "name": f"bench zone {i}",
                "type": "COMMON",
                "restriction": "PROHIBITED",
                "reason": ["OTHER"],
                "applicability": [{"permanent": "YES"}],
                "geometry": [
                    {
                        "uomDimensions": "M",
                        "lowerLimit": 0,
                        "lowerVerticalReference": "AGL",
                        "upperLimit": 120,
                        "upperVerticalReference": "AGL",
                        "horizontalProjection": {
                            "type": "Polygon",
                            "coordinates": [ring + ring[:1]],
                        },
                    }
                ],
            }
        )
    return {"title": "Kestrel zone query benchmark", "features": features}


def _percentiles_ms(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return {
        "p50_ms": round(statistics.median(ordered) * 1e3, 3),
        "p99_ms": round(p99 * 1e3, 3),
        "total_s": round(sum(ordered), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", type=int, default=1000)
    parser.add_argument("--vertices-per-zone", type=int, default=50)
    parser.add_argument("--queries", type=int, default=10_000)
    args = parser.parse_args()

    rng = np.random.default_rng(2)
    points = np.column_stack(
        (
            rng.uniform(*LAT_RANGE_DEG, args.queries),
            rng.uniform(*LON_RANGE_DEG, args.queries),
            rng.uniform(0.0, 600.0, args.queries),
            rng.uniform(0.0, 400.0, args.queries),
        )
    ).tolist()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench-ed269.json"
        path.write_text(json.dumps(ed269_document(args.zones, args.vertices_per_zone)))
        t0 = time.perf_counter()
        zone_file = load_zone_file(path)
        load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = GeodesicZoneIndex(zone_file.zones)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    query_point(index, *points[0][:3], ground_m_amsl=points[0][3], when=WHEN)
    first_query_s = load_s + build_s + (time.perf_counter() - t0)

    timings: dict[str, list[float]] = {"query_point": [], "index_query": []}
    inside = 0
    for lat, lon, alt, ground in points:
        t0 = time.perf_counter()
        results = query_point(index, lat, lon, alt, ground_m_amsl=ground, when=WHEN)
        timings["query_point"].append(time.perf_counter() - t0)
        inside += sum(r.inside for r in results)
    for lat, lon, alt, ground in points:
        t0 = time.perf_counter()
        index.query(lat, lon, alt, ground_m_amsl=ground, when=WHEN)
        timings["index_query"].append(time.perf_counter() - t0)

    print(
        json.dumps(
            {
                "zones": len(zone_file.zones),
                "vertices": sum(len(v.shape.exterior) for z in zone_file.zones for v in z.volumes),
                "volumes": index.volume_count,
                "queries": args.queries,
                "inside_answers": inside,
                "load_s": round(load_s, 3),
                "index_build_s": round(build_s, 3),
                "first_query_s": round(first_query_s, 3),
                "query_point": _percentiles_ms(timings["query_point"]),
                "index_query": _percentiles_ms(timings["index_query"]),
            }
        )
    )


if __name__ == "__main__":
    main()
