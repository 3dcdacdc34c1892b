"""The geofence attack campaign (issue acceptance): randomised, seeded attacks on zone boundaries.

    python bench/geofence_campaign.py [--n 1000] [--workers K] [--seed S] [--start I]
                                      [--jsonl FILE]

Flies attacks `start … start + n − 1` of campaign `seed` (kestrel.geofence_attacks: what each
draws is documented there), each in its own process, and prints one JSON object on its last
line: counts by kind and GNSS model, total breaches with every breaching attack's parameters,
the smallest body-to-boundary margin overall and per kind, interventions (failsafe episodes),
QP solves and failed solves, collisions, simulated and wall time. Progress and any breach go to
stderr as they happen; `--jsonl` also writes one line per attack. Exit status 0 whatever the
result (the campaign reports; tests/test_geofence_attacks.py judges).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
import traceback
from typing import Any

from kestrel.geofence_attacks import run_attack, summarise


def _attack(job: tuple[int, int]) -> dict[str, Any]:
    index, seed = job
    try:
        return run_attack(index, seed)
    except Exception as exc:  # one broken attack must not lose the other 999
        return {"index": index, "error": f"{exc!r}", "traceback": traceback.format_exc()}


def _code_version() -> dict[str, Any]:
    """The commit this campaign ran and the tracked files modified on top of it."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    modified = git("status", "--porcelain", "--untracked-files=no").splitlines()
    return {"commit": git("rev-parse", "HEAD"), "modified": [m[3:] for m in modified]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="number of attacks")
    parser.add_argument("--start", type=int, default=0, help="first attack index")
    parser.add_argument("--seed", type=int, default=0, help="campaign seed")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--jsonl", default=None, help="also write one JSON line per attack")
    args = parser.parse_args()

    jobs = [(i, args.seed) for i in range(args.start, args.start + args.n)]
    code = _code_version()
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    sink = open(args.jsonl, "w") if args.jsonl else None  # noqa: SIM115 (closed below)
    try:
        ctx = multiprocessing.get_context("spawn")
        # Workers are never recycled: each imports Kestrel once, at its first attack, so the
        # whole campaign flies one version of the code even if files change meanwhile.
        with ctx.Pool(args.workers) as pool:
            for result in pool.imap_unordered(_attack, jobs, chunksize=1):
                results.append(result)
                if sink is not None:
                    sink.write(json.dumps(result) + "\n")
                    sink.flush()
                if "error" in result:
                    status = f"ERROR {result['error']}"
                else:
                    status = (
                        f"{result['kind']} {result['gnss']} breaches {result['breaches']} "
                        f"margin {result['min_zone_margin_m']} "
                        f"interventions {result['interventions']} wall {result['wall_s']} s"
                    )
                    if result["breaches"]:
                        status = "BREACH " + json.dumps(result)
                print(
                    f"[{len(results)}/{len(jobs)}] attack {result['index']}: {status}",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if sink is not None:
            sink.close()
    results.sort(key=lambda r: r["index"])
    summary = summarise(results)
    summary["command"] = " ".join(["python", *sys.argv])
    summary["campaign_seed"] = args.seed
    summary["first_index"] = args.start
    summary["workers"] = args.workers
    summary["code"] = code
    summary["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
