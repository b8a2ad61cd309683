"""Scale-out on one machine: two web servers, three workers and beat share one truth.

A mixed workload goes to both web servers at once (members, posts with and
without links, comments, votes) while a burst of test events is committed
straight to the log; one worker is SIGKILLed in the middle and replaced.
Afterwards every subscriber has applied every event exactly once, in stream
order, none skipped, and the work was spread over the workers.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from django.db import connection

from eventstore import delivery_ledger, streams
from eventstore.models import Checkpoint, Event, ParkedEvent
from eventstore.relay import relay_partition_checkpoint, subscriber_checkpoint_name
from links_app.models import Scan
from tests.conftest import start_at_head

from .harness import wait_for
from .scale import (
    PASSWORD,
    caught_up,
    consume_results,
    effect_counts,
    lag_report,
    new_run,
    positions_in_log,
    positions_recorded_in_order,
    write_things,
)

MEMBERS = 6
_issue_numbers = itertools.count(uuid.uuid4().int % 10**9)
POSTS_PER_MEMBER = 4


def malicious_url() -> str:
    return f"http://203.0.113.77/paypal.com/secure/login/verify-account/{uuid.uuid4().hex[:8]}.php?cmd=_login"


def safe_url() -> str:
    # Distinct per post (a repeated URL would be answered from its earlier scan); the
    # scanner judges these safe (unlike random words in a path, which look generated).
    return f"https://github.com/python/cpython/issues/{next(_issue_numbers)}"


def register(platform, username: str, port: int) -> tuple[str, int]:
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    status, created, _ = platform.request("POST", "/api/auth/register/", body, port=port)
    assert status == 201, created
    status, login, _ = platform.request(
        "POST", "/api/auth/login/", {"username": username, "password": PASSWORD}, port=port
    )
    assert status == 200, login
    return login["token"], created["id"]


def member_session(platform, username: str, port: int, other_port: int) -> list[dict]:
    """One member's work, alternating between the two web servers; returns the posts made."""
    token, _ = register(platform, username, port)
    posts = []
    for n in range(POSTS_PER_MEMBER):
        kind = ("malicious", "safe", "none", "safe")[n % 4]
        url = {"malicious": malicious_url(), "safe": safe_url(), "none": None}[kind]
        body = f"Post {n} by {username}" + (f" see {url} now" if url else "")
        status, post, _ = platform.request(
            "POST",
            "/api/posts/",
            {"title": f"{username} {n}", "body": body},
            token=token,
            port=(port, other_port)[n % 2],
        )
        assert status == 201, post
        posts.append({"id": post["id"], "kind": kind})
    for n, post in enumerate(posts):
        status, _, _ = platform.request(
            "POST",
            f"/api/posts/{post['id']}/comments/",
            {"body": f"comment {n}"},
            token=token,
            port=other_port,
        )
        assert status == 201
    return posts


def vote_on(platform, posts: list[dict], tokens: list[str], ports: list[int]) -> None:
    for i, post in enumerate(posts):
        for j, token in enumerate(tokens):
            value = 1 if (i + j) % 3 else -1
            status, body, _ = platform.request(
                "POST",
                f"/api/posts/{post['id']}/vote/",
                {"value": value},
                token=token,
                port=ports[(i + j) % 2],
            )
            assert status == 200, body


def test_many_processes_keep_every_guarantee_and_share_the_work(platform):
    start_at_head()
    ports = [platform.start_web(), platform.start_web()]
    workers = {name: platform.start_worker(name) for name in ("w1", "w2", "w3")}
    platform.start_beat()
    run = new_run()

    thing_batches: list[list] = []

    def burst(part: int) -> None:
        thing_batches.append(write_things(f"{run}{part}", streams_count=40, per_stream=8))

    half_done = threading.Event()
    with ThreadPoolExecutor(max_workers=MEMBERS + 2) as pool:
        sessions = [
            pool.submit(member_session, platform, f"m{run}{i}", ports[i % 2], ports[(i + 1) % 2])
            for i in range(MEMBERS)
        ]
        first_burst = pool.submit(burst, 1)
        first_burst.add_done_callback(lambda _: half_done.set())
        # In the middle of the work: a worker dies without any chance to clean up.
        # The banner lists the task too: wait for one received, so the kill comes in the middle of the work.
        wait_for(
            lambda: "Task eventstore.tasks.consume_partition[" in workers["w2"].log(),
            timeout=60,
            message="w2 consuming",
        )
        workers["w2"].kill()
        workers["w4"] = platform.start_worker("w4")
        half_done.wait(120)
        second_burst = pool.submit(burst, 2)
        posts = [post for session in sessions for post in session.result()]
        second_burst.result()
        first_burst.result()

    voters = [register(platform, f"v{run}{i}", ports[i % 2])[0] for i in range(3)]
    vote_on(platform, posts, voters, ports)

    def settled():
        return caught_up() and not _scans_pending(posts)

    def where_it_stuck() -> str:
        linked = [post["id"] for post in posts if post["kind"] in ("malicious", "safe")]
        outcomes, _ = _scan_outcomes(linked)
        unfinished = [scan_id for scan_id, done in outcomes.items() if not done]
        states = {
            scan_id: (
                list(
                    Scan.objects.filter(id=scan_id).values_list("status", "failed_attempts", "next_retry_at")
                ),
                [
                    where_the_event_went(platform, event)
                    for event in Event.objects.filter(data__scan_id=scan_id).only(
                        "position", "stream_id", "type"
                    )
                ],
            )
            for scan_id in unfinished
        }
        ledger = [
            (report.subscriber, report.missed, report.doubled, [f.as_dict() for f in report.findings[:3]])
            for report in delivery_ledger.verify(save=False)
            if not report.ok
        ]
        return (
            f"{lag_report()}; {len(linked)} linked posts, {len(outcomes)} scans requested, "
            f"unfinished {states}; delivery check: {ledger or 'every subscriber proven'}"
        )

    wait_for(
        settled,
        timeout=120,
        interval=0.5,
        message="relay and subscribers to catch up",
        diagnose=where_it_stuck,
    )
    wait_for(
        caught_up, timeout=30, interval=0.5, message="the last events to be handled", diagnose=lag_report
    )

    things = [event for batch in thing_batches for event in batch]
    counts = effect_counts([event.id for event in things])
    assert sorted(set(counts.values())) == [1], "every event's effect exactly once"
    assert not ParkedEvent.objects.filter(resolved_at__isnull=True).exists(), list(
        ParkedEvent.objects.values("subscriber", "event_type", "error")[:5]
    )
    for part in (1, 2):  # no event skipped: processed positions are the log's positions
        assert positions_recorded_in_order(f"{run}{part}") == positions_in_log(f"{run}{part}")

    _assert_each_scan_ran_once_and_flags_follow(platform, posts, ports)
    _assert_votes_counted(platform, posts, voters, ports)
    for name in ("w1", "w3", "w4"):
        assert any(consume_results(workers[name].log())), f"{name} handled no events"
    assert not workers["w2"].alive()
    # Every subscriber, not only the ones whose effects are checked above: its ledger matches the log.
    unproven = [(r.subscriber, r.missed, r.doubled) for r in delivery_ledger.verify(save=False) if not r.ok]
    assert unproven == [], unproven


def where_the_event_went(platform, event) -> dict:
    """An event's way through the relay: its partition's checkpoints and its entry in Redis, if any."""
    partition = streams.partition_of(event.stream_id)
    names = {
        "relay": relay_partition_checkpoint(partition),
        "links-scanner": subscriber_checkpoint_name("links-scanner", partition),
    }
    stored = dict(Checkpoint.objects.filter(name__in=names.values()).values_list("name", "position"))
    entries = platform.redis().xrange(streams.partition_key(partition))
    found = [
        (entry_id, {key: value for key, value in fields.items() if key != b"event"})
        for entry_id, fields in entries
        if int(fields[b"position"]) == event.position
    ]
    return {
        "type": event.type,
        "position": event.position,
        "partition": partition,
        "checkpoints": {label: stored.get(name) for label, name in names.items()},
        "entry": found,
        "entries in the partition": len(entries),
        "pending": platform.redis().xpending(
            streams.partition_key(partition), streams.group_name("links-scanner")
        ),
    }


def _scans_pending(posts: list[dict]) -> bool:
    post_ids = [post["id"] for post in posts if post["kind"] in ("malicious", "safe")]
    requested = Event.objects.filter(type="link:scan_requested", data__post_id__in=post_ids).count()
    return requested < len(post_ids) or _scan_outcomes(post_ids)[1] < requested


def _scan_outcomes(post_ids: list[str]) -> tuple[dict, int]:
    """Per requested scan id: how many completed/failed outcomes it has; and their total."""
    scan_ids = [
        str(value)
        for value in Event.objects.filter(type="link:scan_requested", data__post_id__in=post_ids).values_list(
            "data__scan_id", flat=True
        )
    ]
    outcomes = dict.fromkeys(scan_ids, 0)
    for event_type, scan_id in Event.objects.filter(
        type__in=["link:scan_completed", "link:scan_failed"], data__scan_id__in=scan_ids
    ).values_list("type", "data__scan_id"):
        if event_type == "link:scan_completed":
            outcomes[str(scan_id)] += 1
    return outcomes, sum(outcomes.values())


def _assert_each_scan_ran_once_and_flags_follow(platform, posts, ports) -> None:
    linked = [post for post in posts if post["kind"] in ("malicious", "safe")]
    outcomes, _ = _scan_outcomes([post["id"] for post in linked])
    assert len(outcomes) == len(linked), "one scan requested per post link"
    assert set(outcomes.values()) == {1}, "each requested scan completed exactly once"

    def wrongly_flagged() -> list:
        wrong = []
        for post in posts:
            body = _read_post(platform, post, ports)
            if body["flagged"] != (post["kind"] == "malicious"):
                wrong.append((post["kind"], body["flagged"], body["links"]))
        return wrong

    with contextlib.suppress(AssertionError):
        wait_for(lambda: not wrongly_flagged(), timeout=30, message="flags to follow the scans")
    assert wrongly_flagged() == [], "a post is flagged exactly when its link is malicious"


def _read_post(platform, post, ports) -> dict:
    answers = [platform.request("GET", f"/api/posts/{post['id']}/", port=port)[1] for port in ports]
    assert answers[0] == answers[1], "both web servers read the same truth"
    return answers[0]


def _assert_votes_counted(platform, posts, voters, ports) -> None:
    for i, post in enumerate(posts):
        expected = sum(1 if (i + j) % 3 else -1 for j in range(len(voters)))
        status, body, _ = platform.request("GET", f"/api/posts/{post['id']}/", port=ports[i % 2])
        assert status == 200 and body["score"] == expected, body
    connection.close()
