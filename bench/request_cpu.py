"""(24.5) CPU per request, the API against its plain-Django control: `python -m bench.request_cpu`.

Django's test client runs the whole stack in this process (middleware, knox
token, throttle, view, service, publish, projection) without the socket and
gunicorn. Each run times `--requests` requests of one endpoint: this process's
CPU (`time.process_time`) and its Postgres backend's (from /proc, `bench.cpu`).
The endpoints take turns, `--rounds` times, so each pair shares the machine's
conditions; medians are printed. On a machine shared with other work CPU time
per request moves far less than wrk's requests/s. Runs against the bench
database of the last `python -m bench` run (`--keep-database` state), or a
fresh one with `--fresh`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from . import database

BODY = "A post of ordinary length, written by a load generator to measure the API, number {}."


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.request_cpu", description=__doc__)
    parser.add_argument("--requests", type=int, default=150, help="requests per run (default 150)")
    parser.add_argument(
        "--rounds", type=int, default=4, help="runs of each endpoint, alternating (default 4)"
    )
    parser.add_argument("--fresh", action="store_true", help="recreate and migrate the bench database first")
    parser.add_argument(
        "--clients",
        type=Path,
        help="tokens file to reuse (as bench/http.py writes it), written here when missing; without it each"
        " run signs its clients in again, and runs close together meet the login rate limit",
    )
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    os.environ.update(database.bench_environment())
    if args.fresh:
        database.recreate()
        database.flush_redis()

    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from .cpu import process_seconds
    from .http import make_clients

    clients_file = args.clients or Path(tempfile.mkdtemp()) / "clients.txt"
    if args.fresh or not clients_file.exists():
        make_clients(clients_file)
    token, vote_post, control_vote_post = clients_file.read_text().split("\n")[0].split()
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")

    def post(path: str):
        return lambda i: client.post(
            path, {"title": f"Benchmark post {i}", "body": BODY.format(i)}, content_type="application/json"
        )

    def vote(path: str):
        # The value alternates, so every request records a vote (as bench/wrk/vote.lua).
        return lambda i: client.post(path, {"value": 1 if i % 2 else -1}, content_type="application/json")

    endpoints = {
        "POST /api/posts/": post("/api/posts/"),
        "control": post("/bench/control/posts/"),
        "POST /api/posts/{id}/vote/": vote(f"/api/posts/{vote_post}/vote/"),
        "control vote": vote(f"/bench/control/posts/{control_vote_post}/vote/"),
    }
    for send in endpoints.values():
        for i in range(20):  # warm caches, prepared statements and the connection
            send(i)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in endpoints}
    for _ in range(args.rounds):
        for name, send in endpoints.items():
            backend_before, own_before = process_seconds(backend), time.process_time()
            for i in range(args.requests):
                response = send(i)
                assert response.status_code in (200, 201), response.content
            own, backend_after = time.process_time() - own_before, process_seconds(backend)
            runs[name].append(
                (own * 1000 / args.requests, (backend_after - backend_before) * 1000 / args.requests)
            )

    print(f"ms of CPU per request, medians of {args.rounds} runs of {args.requests} requests")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'endpoint':28} {'client':>7} {'backend':>8} {'together':>9}   runs (together)")
    for name, found in runs.items():
        own = statistics.median(r[0] for r in found)
        server = statistics.median(r[1] for r in found)
        each = ", ".join(f"{a + b:.2f}" for a, b in found)
        print(f"{name:28} {own:7.2f} {server:8.2f} {own + server:9.2f}   {each}")
    for api, control in (("POST /api/posts/", "control"), ("POST /api/posts/{id}/vote/", "control vote")):
        ratios = [sum(c) / sum(a) for a, c in zip(runs[api], runs[control], strict=True)]
        print(f"{api}: control CPU / API CPU per round {', '.join(f'{r:.3f}' for r in ratios)}")
    connection.close()


if __name__ == "__main__":
    main()
