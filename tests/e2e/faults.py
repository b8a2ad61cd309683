"""Helpers of the fault tests: recovery stopwatches, child processes, flows whose results can be counted.

Every fault test measures how long the platform took to recover by itself and
records it with `recovered()`: the figure is printed and appended to
test-artifacts/fault-recoveries.txt (the runbook in docs/operations.md quotes
these). "Nothing lost or doubled" is checked with counts that have one right
answer: test-recorder's effect per event (1 each), the score of a post every
member voted on once, and one `community:post_flagged` per dangerous post.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

from .harness import ARTIFACTS, Platform, wait_for

PASSWORD = "correct-Horse-battery-9"


def recovered(what: str, since: float, condition, *, timeout: float = 60.0, interval: float = 0.05) -> float:
    """Wait for `condition`; return and record the seconds from `since` (a time.monotonic()) until it held."""
    wait_for(condition, timeout=timeout, interval=interval, message=what)
    seconds = time.monotonic() - since
    ARTIFACTS.mkdir(exist_ok=True)
    with (ARTIFACTS / "fault-recoveries.txt").open("a") as record:
        record.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {what}: {seconds:.2f} s\n")
    print(f"recovery: {what}: {seconds:.2f} s")
    return seconds


def child_pids(pid: int) -> list[int]:
    """Direct children of a process (a gunicorn master's workers, a Celery worker's pool)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            children += [int(child) for child in (task / "children").read_text().split()]
    return children


def kill_9(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


# --- flows through the HTTP API, with countable results --------------------------


def member(platform: Platform, *, port: int | None = None) -> str:
    """Register and sign in a new member; return the token."""
    username = f"f{uuid.uuid4().hex[:12]}"
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    status, created, _ = platform.request("POST", "/api/auth/register/", body, port=port)
    assert status == 201, created
    status, login, _ = platform.request(
        "POST", "/api/auth/login/", {"username": username, "password": PASSWORD}, port=port
    )
    assert status == 200, login
    return login["token"]


def dangerous_url() -> str:
    # A fresh URL per post: each one is scanned, none answered from an earlier result.
    return f"http://203.0.113.77/paypal.com/secure/login/verify-account/{uuid.uuid4().hex[:8]}.php?cmd=_login"


def post(platform: Platform, token: str, *, dangerous: bool = False, port: int | None = None) -> str:
    body = f"Claim your refund at {dangerous_url()} today" if dangerous else "Nothing to scan here."
    status, created, _ = platform.request(
        "POST", "/api/posts/", {"title": "Fault test", "body": body}, token=token, port=port
    )
    assert status == 201, created
    return created["id"]


def vote(platform: Platform, token: str, post_id: str, *, port: int | None = None) -> tuple[int, dict]:
    status, body, _ = platform.request(
        "POST", f"/api/posts/{post_id}/vote/", {"value": 1}, token=token, port=port
    )
    return status, body


def score(platform: Platform, post_id: str, *, port: int | None = None) -> int:
    status, body, _ = platform.request("GET", f"/api/posts/{post_id}/", port=port)
    assert status == 200, body
    return body["score"]


def flagged(platform: Platform, post_id: str, *, port: int | None = None) -> bool:
    status, body, _ = platform.request("GET", f"/api/posts/{post_id}/", port=port)
    return status == 200 and body["flagged"]


def flags_recorded(post_ids) -> dict[str, int]:
    """`community:post_flagged` events per post, from the test database's log."""
    from eventstore.models import Event

    counts = {str(post_id): 0 for post_id in post_ids}
    streams = {f"post-{post_id}": str(post_id) for post_id in post_ids}
    for stream_id in Event.objects.filter(
        type="community:post_flagged", stream_id__in=list(streams)
    ).values_list("stream_id", flat=True):
        counts[streams[stream_id]] += 1
    return counts


def unresolved_parked() -> int:
    from eventstore.models import ParkedEvent

    return ParkedEvent.objects.filter(resolved_at__isnull=True).count()


def forget_registration_limits(platform: Platform) -> None:
    """Clear the per-ip registration counters in the platform's Redis (tests sharing one platform sign up many)."""
    client = platform.redis()
    for key in client.scan_iter(match="*throttle_register*"):
        client.delete(key)


@contextlib.contextmanager
def open_transaction(port: int, database: str):
    """A psql session holding a transaction open on a private cluster: events committed meanwhile
    wait beyond the relay's horizon, so they are certainly still undelivered while it lasts."""
    import subprocess

    holder = subprocess.Popen(
        ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", database, "-q"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        holder.stdin.write("BEGIN; SELECT txid_current();\n")
        holder.stdin.flush()
        yield holder
    finally:
        with contextlib.suppress(OSError):
            holder.stdin.close()
        holder.kill()
        holder.wait(10)
