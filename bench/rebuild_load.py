"""Rebuild under load (issue 19): write latency without and during a blue/green `replay_events`.

Client threads of this process write at a fixed rate through the services the
API calls (posts, comments, votes, logins and failed logins of real accounts),
first for a while with nothing else running, then while `manage.py
replay_events --no-input` rebuilds every projection of the mixed log in a
process of its own. A write's latency runs from the instant it was scheduled
to its commit, so a write delayed by an earlier slow one counts its wait too.
The swap's lock hold time comes from the rebuild's own log line
(eventstore.replay logs it at INFO).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

from .database import ROOT, bench_environment
from .platform_log import _CLOSING_LINE, log_size
from .results import Collector

CLIENTS = 4
RATE_PER_CLIENT = 10  # writes per second per client thread: 40 writes/s offered in all
ACCOUNTS = 8
WRONG_PASSWORD = "x"  # noqa: S105 (what the failed logins try)
PASSWORD = "a-Long-bench-pass-19"  # noqa: S105 (the bench accounts, in the bench database only)
_SWAP_LINE = re.compile(
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+) INFO .*?rebuild swapped in (.+?): "
    r"locks held ([\d.]+) ms .*?waited ([\d.]+) ms"
)
SLOW_MS = 100  # the target's p99: slower writes are told apart by whether a swap overlapped them


@dataclass
class Write:
    scheduled: float  # time.time(), so it compares with the rebuild's log lines
    seconds: float
    failed: bool = False


@dataclass
class Swap:
    projections: str
    held_ms: float
    waited_ms: float
    committed: float  # time.time() of the log line, written right after the commit

    def overlaps(self, write: Write) -> bool:
        began = self.committed - (self.held_ms + self.waited_ms) / 1000
        return write.scheduled <= self.committed and write.scheduled + write.seconds >= began


@dataclass
class Accounts:
    users: list
    posts: list[str] = field(default_factory=list)


def make_accounts() -> Accounts:
    """Real accounts for the clients, each with a post to comment on and vote for."""
    from auth_app.services import user_register
    from community_app import services as community

    tag = uuid.uuid4().hex[:6]
    users = [
        user_register(username=f"rl{tag}{n}", email=f"rl{tag}{n}@example.com", password=PASSWORD)
        for n in range(ACCOUNTS)
    ]
    accounts = Accounts(users)
    for user in users:
        accounts.posts.append(str(community.post_create(author=user, title="seed", body="seed").id))
    return accounts


def write_once(rng: random.Random, accounts: Accounts) -> None:
    """One command through the services, in the proportions of the mixed workload."""
    from auth_app.errors import InvalidCredentials, LoginLocked
    from auth_app.services import user_login
    from community_app import services as community

    user = rng.choice(accounts.users)
    kind = rng.choices(["post", "comment", "vote", "login", "failed"], weights=[10, 20, 40, 10, 2])[0]
    if kind == "post":
        community.post_create(
            author=user, title="under load", body=f"written during a rebuild {rng.random()}"
        )
    elif kind == "comment":
        community.comment_create(author=user, post_id=rng.choice(accounts.posts), body="a comment")
    elif kind == "vote":
        community.post_vote(voter=user, post_id=rng.choice(accounts.posts), value=rng.choice([1, -1, 0]))
    elif kind == "login":
        user_login(username=user.username, password=PASSWORD, ip=_address(rng), user_agent="bench")
    else:
        # A refusal records its event too; an unknown name never locks a real account out.
        with contextlib.suppress(InvalidCredentials, LoginLocked):
            name = f"nobody{rng.randrange(50)}"
            user_login(username=name, password=WRONG_PASSWORD, ip=_address(rng), user_agent="bench")


def _address(rng: random.Random) -> str:
    # Many clients, as in production: one address would soon meet the per-address login limit.
    return f"10.19.{rng.randrange(256)}.{rng.randrange(1, 255)}"


class WriteLoad:
    """CLIENTS threads, each writing every 1/RATE_PER_CLIENT s on a fixed schedule, until stopped."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.stop = threading.Event()
        self.writes: list[Write] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._client, args=(n,)) for n in range(CLIENTS)]

    def __enter__(self) -> WriteLoad:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)

    def _client(self, n: int) -> None:
        from django.db import connection

        rng, interval = random.Random(n), 1 / RATE_PER_CLIENT
        scheduled = time.time() + interval * n / CLIENTS  # clients spread over one interval
        try:
            while not self.stop.is_set():
                delay = scheduled - time.time()
                if delay > 0:
                    time.sleep(delay)
                failed = False
                try:
                    write_once(rng, self.accounts)
                except Exception as exc:
                    failed = True
                    with self.lock:
                        self.errors.append(repr(exc))
                with self.lock:
                    self.writes.append(Write(scheduled, time.time() - scheduled, failed))
                scheduled += interval
        finally:
            connection.close()

    def between(self, start: float, end: float) -> list[Write]:
        with self.lock:
            return [w for w in self.writes if start <= w.scheduled <= end]


def percentile(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


@dataclass
class Rebuild:
    started: float
    ended: float
    seconds: float  # the command's own measure, without interpreter start-up
    swaps: list[Swap]


def rebuild_every_projection() -> Rebuild:
    env = {**os.environ, **bench_environment(), "LOG_LEVEL": "INFO"}
    started = time.time()
    done = subprocess.run(
        [sys.executable, "manage.py", "replay_events", "--no-input", "--verbosity", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    ended = time.time()
    closing = _CLOSING_LINE.search(done.stdout)
    if done.returncode != 0 or closing is None:
        raise RuntimeError(f"replay_events failed:\n{done.stdout}\n{done.stderr[-4000:]}")
    swaps = [Swap(m[2], float(m[3]), float(m[4]), _log_time(m[1])) for m in _SWAP_LINE.finditer(done.stderr)]
    return Rebuild(started, ended, float(closing[3]), swaps)


def _log_time(asctime: str) -> float:
    return datetime.datetime.strptime(asctime, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def _latency_figures(collector: Collector, key: str, when: str, writes: list[Write]) -> None:
    seconds = sorted(w.seconds * 1000 for w in writes)
    offered = f"{CLIENTS} client threads x {RATE_PER_CLIENT} writes/s through the services, {when}"
    for name, value in (
        ("p50", statistics.median(seconds)),
        ("p99", percentile(seconds, 0.99)),
        ("max", seconds[-1]),
    ):
        collector.add(f"{key}_{name}", f"write latency {name}, {when}", offered, "ms", value, higher=False)


def run(collector: Collector, *, reps: int, seconds: float) -> None:
    """`reps` times: `seconds` of load alone, then load during a rebuild of every projection."""
    from django.db import connection

    size = log_size()
    accounts = make_accounts()
    print("    (a first rebuild fills the live projections, untimed)", flush=True)
    rebuild_every_projection()
    for _ in range(reps):
        with WriteLoad(accounts) as load:
            time.sleep(1)
            start = time.time()
            time.sleep(seconds)
            idle = load.between(start, time.time())
        with WriteLoad(accounts) as load:
            time.sleep(1)
            rebuild = rebuild_every_projection()
            during = load.between(rebuild.started, rebuild.ended)
        failed = sum(w.failed for w in idle + during)
        slow = [w for w in during if w.seconds * 1000 > SLOW_MS]
        at_swap = [w for w in slow if any(swap.overlaps(w) for swap in rebuild.swaps)]
        swaps = "; ".join(
            f"{s.projections} held {s.held_ms:.1f} ms after {s.waited_ms:.1f} ms" for s in rebuild.swaps
        )
        print(
            f"    ({len(idle)} writes alone, {len(during)} during the rebuild, {failed} failed; "
            f"{len(slow)} over {SLOW_MS} ms during the rebuild, {len(at_swap)} of them overlapping a swap; "
            f"swaps: {swaps}; load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        if load.errors:
            print(f"    first failure: {load.errors[0]}", flush=True)
        _latency_figures(collector, "rebuild_load_idle", "no rebuild", idle)
        _latency_figures(collector, "rebuild_load_during", "during replay_events", during)
        collector.add(
            "rebuild_load_failed",
            "failed writes, alone and during the rebuild",
            "exceptions raised to the client threads",
            "writes",
            failed,
            higher=False,
        )
        inline = [s.held_ms for s in rebuild.swaps if "community" in s.projections]
        collector.add(
            "rebuild_load_swap",
            "swap of the inline projections, locks held",
            "from the live tables' locks granted to the swap's commit (replay_events' log line)",
            "ms",
            max(inline) if inline else float("nan"),
            higher=False,
        )
        collector.add(
            "rebuild_load_rate",
            "replay_events under write load, every projection",
            f"{size:,}-event mixed log, blue/green, {CLIENTS * RATE_PER_CLIENT} writes/s beside it",
            "events/s",
            size / rebuild.seconds,
        )
    connection.close()
