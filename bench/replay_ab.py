"""`python -m bench.replay_ab [--base DIR] [--rounds 3] [--projection NAME]`: replay_events of two checkouts, taking turns.

Issue 24.4's A/B: `manage.py replay_events --no-input` (every projection,
blue/green) run from another checkout (`--base`, e.g. a detached worktree of
main) and from this one, alternately, on the same log (`BENCH_DATABASE_URL`,
built by `python -m bench --only replay`). Per run: the log's events per
second of the command's own replay time (its closing line, as the bench's
figure), the command's CPU (user + system, from getrusage of the child) and
its Postgres backends' CPU (sampled from /proc by application name, see
`cpu_time.BackendsByName`), and the load average. Without `--base`, this
checkout alone; `--projection` (repeatable) rebuilds only those projections,
for a figure per projection. Client CPU includes the command's start-up
(about 1.5 s: Django and the apps imported). Not part of `make bench`.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

from .cpu_time import BackendsByName
from .database import ROOT, bench_environment, connect_params
from .platform_log import _CLOSING_LINE

APPLICATION_NAME = "bench-replay-ab"


def run_once(checkout: Path, log_events: int, projections: list[str]) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, **bench_environment(), "PYTHONPATH": str(checkout), "PGAPPNAME": APPLICATION_NAME}
    with BackendsByName(connect_params(), APPLICATION_NAME, interval=0.05) as backends:
        done = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "replay_events",
                "--no-input",
                "--verbosity",
                "1",
                *(f"--projection={name}" for name in projections),
            ],
            cwd=checkout,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    match = _CLOSING_LINE.search(done.stdout)
    if match is None:
        raise RuntimeError(f"no closing line from {checkout}:\n{done.stdout}\n{done.stderr}")
    client = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "seconds": float(match[3]),
        "rate": log_events / float(match[3]),
        "client_cpu": client,
        "server_cpu": backends.seconds,
        "load": os.getloadavg()[0],
    }


def log_size() -> int:
    import psycopg

    with psycopg.connect(**connect_params()) as conn:
        return conn.execute("SELECT count(*) FROM eventstore_event").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="the other checkout (runs first each round)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--projection", action="append", default=[], help="only this projection (repeatable)")
    args = parser.parse_args()
    events = log_size()
    checkouts = [("base", args.base.resolve())] if args.base else []
    checkouts.append(("this", ROOT))
    runs: dict[str, list[dict]] = {label: [] for label, _ in checkouts}
    for round_ in range(1, args.rounds + 1):
        for label, checkout in checkouts:
            result = run_once(checkout, events, args.projection)
            runs[label].append(result)
            print(
                f"round {round_} {label}: {result['seconds']:.2f} s, {result['rate']:,.0f} events/s, client CPU {result['client_cpu']:.2f} s, "
                f"Postgres CPU {result['server_cpu']:.2f} s, load {result['load']:.2f}",
                flush=True,
            )
    for label, results in runs.items():
        median = {key: statistics.median(r[key] for r in results) for key in results[0]}
        print(
            f"{label} median of {len(results)}: {median['rate']:,.0f} events/s, client CPU "
            f"{median['client_cpu']:.2f} s, Postgres CPU {median['server_cpu']:.2f} s, "
            f"total {median['client_cpu'] + median['server_cpu']:.2f} s"
        )


if __name__ == "__main__":
    main()
