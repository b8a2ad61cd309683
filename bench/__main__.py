"""`python -m bench`: every figure, several times, in one run; the table on stdout and in docs/benchmarks.md."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import database

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PARTS = ["writes", "reads", "replay", "relay", "deployed", "latency", "http", "rebuild-load"]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--reps", type=int, default=5, help="repetitions of every figure (default 5)")
    parser.add_argument("--seconds", type=float, default=4, help="length of each timed write run")
    parser.add_argument(
        "--events", type=int, default=200_000, help="size of the mixed workload and of the reads"
    )
    parser.add_argument(
        "--replay-budget",
        type=float,
        default=240,
        help="no further replay repetition after this many seconds",
    )
    parser.add_argument("--latency-seconds", type=float, default=15)
    parser.add_argument("--http-seconds", type=float, default=12)
    parser.add_argument(
        "--rebuild-load-seconds",
        type=float,
        default=15,
        help="length of the write load without a rebuild, before each rebuild under load",
    )
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help="reuse the last run's platform_bench and its log instead of building them again",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite docs/benchmarks.md from the last run's bench/results/figures.json, or, "
        "without it (a fresh checkout), replace only its analysis part with bench/analysis.md",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        help="run only these parts (repeatable); default: all",
    )
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    if args.render_only:
        from . import report

        saved = RESULTS_DIR / "figures.json"
        if saved.exists():
            report.write(report.render_saved(saved))
        else:
            report.write(report.with_current_analysis(report.DOC.read_text()))
        return
    parts = set(args.only or PARTS)
    os.environ.update(database.bench_environment())
    RESULTS_DIR.mkdir(exist_ok=True)
    started = time.time()

    if not args.keep_database:
        print("Setting up a fresh benchmark database ...", flush=True)
        database.recreate()
        database.flush_redis()
    postgres, redis = database.server_versions()

    import django

    django.setup()
    from . import machine, platform_log, raw, report, suites, workload
    from .results import Collector

    described = machine.describe(postgres, redis)
    collector = Collector()
    if args.keep_database:
        generated = platform_log.log_size()
        print(f"Reusing the last run's database: {generated:,} events", flush=True)
    else:
        print(f"Publishing the {args.events:,}-event mixed workload ...", flush=True)
        t0 = time.perf_counter()
        generated = workload.generate(args.events)
        print(f"  {generated:,} events in {time.perf_counter() - t0:.0f} s", flush=True)
        raw.create_table()
        if parts & {"reads", "writes"}:
            # Only reads and writes compare with raw psycopg and the peer.
            raw.fill(args.events)
            suites.fill_peer(args.events)
        # A running system has planner statistics (autovacuum); a freshly bulk-loaded
        # benchmark database would not yet, for the platform's tables and the peer's alike.
        database.analyze()

    if "reads" in parts:
        print("Reading in order (raw, peer, platform) ...", flush=True)
        suites.reads(collector, reps=args.reps, events=args.events)
    if "replay" in parts:
        print("Replaying the log into every projection ...", flush=True)
        suites.replay(collector, reps=args.reps, budget_seconds=args.replay_budget)
    if "relay" in parts:
        print("Relaying the log to Redis Streams ...", flush=True)
        suites.relay(collector, reps=args.reps, events=min(args.events, platform_log.log_size()))
    if "writes" in parts:
        print("Appending (raw, peer, platform; interleaved) ...", flush=True)
        suites.writes(collector, reps=args.reps, seconds=args.seconds, results_dir=RESULTS_DIR)
    if "deployed" in parts:
        print("Publishing alone and as deployed (runner, worker, beat), CPU by process group ...", flush=True)
        from . import deployed

        deployed.run(collector, reps=args.reps, seconds=args.seconds, results_dir=RESULTS_DIR)
    if "latency" in parts:
        print("Commit-to-handler latency through the stream runner ...", flush=True)
        from . import latency

        latency.run(
            collector,
            reps=args.reps,
            seconds=args.latency_seconds,
            rates=(200, 1000),
            results_dir=RESULTS_DIR,
        )
    if "rebuild-load" in parts:
        print("Writes without and during a rebuild of every projection ...", flush=True)
        from . import rebuild_load

        rebuild_load.run(collector, reps=args.reps, seconds=args.rebuild_load_seconds)
    profile = ""
    if "http" in parts:
        print("HTTP through gunicorn with wrk ...", flush=True)
        from . import http, profiling

        http.run(collector, reps=args.reps, seconds=args.http_seconds, results_dir=RESULTS_DIR)
        print("Profiling POST /api/posts/ ...", flush=True)
        profile = profiling.profile_post_create(
            RESULTS_DIR / "http-clients.txt", RESULTS_DIR / "profile-post.txt"
        )

    described["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    settings = {
        "command": "make bench (" + " ".join(["python -m bench", *sys.argv[1:]]) + ")",
        "repetitions": str(args.reps),
        "write run length": f"{args.seconds:g} s per repetition",
        "mixed workload": f"{generated:,} events (posts, comments, votes, scans, logins, failed logins)",
        "concurrency model": "processes (spawned, one DB connection each) for raw, peer and platform alike",
        "database": "the last run's `platform_bench`, reused"
        if args.keep_database
        else "fresh `platform_bench`, migrated; Redis db 12, flushed",
        "total run time": f"{(time.time() - started) / 60:.1f} min",
    }
    print()
    print(report.targets_table(collector.figures))
    print()
    print(report.figures_table(collector.figures))
    if args.only:
        # A partial run is for working on one figure: it must not replace the
        # document (or its saved figures), which holds one complete run.
        report.save(RESULTS_DIR / "figures-partial.json", collector.figures, described, settings, profile)
        return
    report.save(RESULTS_DIR / "figures.json", collector.figures, described, settings, profile)
    report.write(report.render(collector.figures, described, settings, profile))


if __name__ == "__main__":
    main()
