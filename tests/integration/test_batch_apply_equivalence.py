"""Batch application equals one-by-one application, for every projection.

A rebuild hands a projection thousands of events at once (`batch_apply`);
live, each event goes through its handler alone. Random event sequences (with
the rare events that interrupt a batch: edits, deletes, flags, forgets, lock
windows expiring) are applied both ways to emptied tables, cut into batches of
random sizes; the projection's rows must be identical.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest

from auth_app.lockout import username_key
from eventstore.envelope import RecordedEvent
from eventstore.projections import registered_projections
from eventstore.replay import projection_snapshot

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


class RandomLog:
    """Valid events in position order: handlers' preconditions hold (links exist, etc.)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.events: list[RecordedEvent] = []
        self.versions: dict[str, int] = {}
        self.at = START
        self.posts: list[str] = []
        self.votes: dict[tuple[str, int], int] = {}
        self.links: dict[str, list[str]] = {}  # link id -> its scan ids

    def add(self, type_name: str, stream_id: str, data: dict) -> None:
        self.at += dt.timedelta(seconds=self.rng.choice([0, 1, 7, 60, 200, 700]))
        self.versions[stream_id] = self.versions.get(stream_id, 0) + 1
        self.events.append(
            RecordedEvent(
                id=uuid.UUID(int=self.rng.getrandbits(128)),
                position=len(self.events) + 1,
                stream_id=stream_id,
                stream_version=self.versions[stream_id],
                type=type_name,
                schema_version=2 if type_name == "community:post_created" else 1,
                data=data,
                metadata={},
                source=type_name.split(":")[0],
                correlation_id=uuid.UUID(int=self.rng.getrandbits(128)),
                causation_id=None,
                recorded_at=self.at,
            )
        )

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128)))

    def step(self) -> None:
        rng = self.rng
        user = rng.randrange(1, 6)
        kind = rng.choices(
            ["post", "comment", "vote", "edit", "delete", "flag", "forget", "scan", "failed"],
            weights=[8, 10, 20, 3, 2, 2, 1, 8, 12],
        )[0]
        if kind == "post" or not self.posts:
            post_id = self.uid()
            urls = [f"https://e{n}.example/{post_id[:4]}" for n in range(rng.randrange(3))]
            data = {"post_id": post_id, "title": f"t{user}", "body_text": "b", "body_format": "plain"}
            data |= {"author_id": user, "author_username": f"u{user}", "urls": urls}
            self.add("community:post_created", f"post-{post_id}", data)
            self.posts.append(post_id)
            return
        post_id = rng.choice(self.posts)
        if kind == "comment":
            comment_id = self.uid()
            data = {"comment_id": comment_id, "post_id": post_id, "body": "c", "author_id": user}
            self.add(
                "community:comment_created", f"comment-{comment_id}", data | {"author_username": f"u{user}"}
            )
        elif kind == "vote":
            old = self.votes.get((post_id, user), 0)
            new = rng.choice([v for v in (-1, 0, 1) if v != old])
            self.votes[post_id, user] = new
            data = {
                "post_id": post_id,
                "voter_id": user,
                "action": "update",
                "old_value": old,
                "new_value": new,
            }
            self.add("community:post_voted", f"vote-{post_id}-{user}", data)
        elif kind == "edit":
            data = {
                "post_id": post_id,
                "changed": {"title": {"before": "x", "after": f"e{len(self.events)}"}},
            }
            urls = {"urls": ["https://edited.example/"]} if rng.random() < 0.5 else {}
            self.add("community:post_updated", f"post-{post_id}", data | urls | {"editor_id": user})
        elif kind == "delete":
            data = {"post_id": post_id, "deleted_by": user, "deleted_by_username": "m", "by_moderator": True}
            self.add("community:post_deleted", f"post-{post_id}", data)
        elif kind == "flag":
            flag = rng.choice(["community:post_flagged", "community:post_unflagged"])
            self.add(flag, f"post-{post_id}", {"post_id": post_id, "reason": "r"})
        elif kind == "forget":
            self.add("user:forgotten", f"user-{user}", {"user_id": user, "username": f"u{user}"})
        elif kind == "scan":
            self.scan()
        else:
            reason = rng.choice(["wrong_password", "unknown_user", "locked"])
            ip = rng.choice(["10.0.0.1", "10.0.0.2", "[erased]"])
            username = rng.choice(["Ann", "ann ", "bob"])
            data = {"username": username, "username_key": username_key(username), "ip": ip, "reason": reason}
            self.add("auth:failed_login_attempt", "login-x", data)

    def scan(self) -> None:
        rng = self.rng
        if not self.links or rng.random() < 0.3:
            link_id, scan_id = self.uid(), self.uid()
            self.links[link_id] = []
        else:
            link_id, scan_id = rng.choice(list(self.links)), self.uid()
        url = f"https://l.example/{link_id[:8]}"
        stream = f"link-{link_id}"
        if not self.links[link_id] or rng.random() < 0.3:
            data = {
                "scan_id": scan_id,
                "link_id": link_id,
                "url": url,
                "normalized_url": url,
                "domain": "l.example",
            }
            self.add("link:scan_requested", stream, data)
            self.links[link_id].append(scan_id)
        scan_id = rng.choice(self.links[link_id])
        ids = {"scan_id": scan_id, "link_id": link_id}
        outcome = rng.choice(["completed", "analysis", "threat", "failed", "verified"])
        if outcome == "completed":
            verdict = rng.choice(["safe", "malicious"])
            data = ids | {"verdict": verdict, "safety_score": 50, "threat_category": None, "model_score": 0.5}
            self.add("link:scan_completed", stream, data)
        elif outcome == "analysis":
            findings = [{"code": "X", "severity": "high", "message": "m"}] if rng.random() < 0.5 else []
            self.add("link:security_analysis", stream, ids | {"findings": findings})
        elif outcome == "threat":
            self.add("link:threat_detected", stream, ids | {"verdict": "malicious"})
        elif outcome == "failed":
            retry = rng.choice([None, 30])
            data = ids | {"attempt": 1, "reason": "timeout", "retry_in_seconds": retry}
            self.add("link:scan_failed", stream, data)
        else:
            data = {"link_id": link_id, "verdict": "safe", "note": "n", "verified_by": 9}
            self.add("link:link_verified", stream, data | {"verified_by_username": "mod"})


def apply_one_by_one(projection, events) -> dict:
    projection.reset()
    for event in events:
        projection.apply(event)
    return projection_snapshot(projection)


def apply_in_batches(projection, events, rng: random.Random) -> dict:
    projection.reset()
    start = 0
    while start < len(events):
        size = rng.choice([1, 2, 5, 17, 60, len(events)])
        projection.apply_batch(events[start : start + size])
        start += size
    return projection_snapshot(projection)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "name",
    [
        "community.posts",
        "community.comments",
        "community.votes",
        "links.links",
        "auth_app.login_security",
        "eventstore.event_stats",
    ],
)
def test_batches_give_the_rows_of_one_by_one(name, seed, settings):
    settings.LOGIN_LOCKOUT_ATTEMPTS, settings.LOGIN_IP_LOCKOUT_ATTEMPTS = 2, 3  # locks happen often
    projection = registered_projections()[name]
    assert projection.batch_apply is not None
    log = RandomLog(seed)
    while len(log.events) < 300:
        log.step()
    types = projection.event_types
    events = [e for e in log.events if types is None or e.type in types]

    one_by_one = apply_one_by_one(projection, events)
    batched = apply_in_batches(projection, events, random.Random(seed))

    assert all(one_by_one.values()), "the random log produced rows in every table"
    assert batched == one_by_one
