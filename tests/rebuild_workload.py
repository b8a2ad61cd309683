"""Real traffic for the rebuild tests: writers and readers of every inline projection, in threads."""

from __future__ import annotations

import contextlib
import random
import threading
import time
import traceback
import uuid

from django.db import connection

from auth_app.errors import InvalidCredentials, LoginLocked
from auth_app.models import LoginFailure
from auth_app.services import user_login, user_register
from community_app import services as community
from community_app.models import Comment, Post, Vote
from eventstore.projections import registered_projections
from eventstore.replay import projection_snapshot
from links_app.models import Link

PASSWORD = "a-Long-pass-123"  # the test accounts'


def snapshot_inline() -> dict:
    return {
        name: projection_snapshot(p)
        for name, p in sorted(registered_projections().items())
        if p.mode != "async"
    }


def make_authors(count: int = 3) -> list:
    tag = uuid.uuid4().hex[:6]
    return [
        user_register(username=f"rb{tag}{n}", email=f"rb{tag}{n}@example.com", password=PASSWORD)
        for n in range(count)
    ]


def write_once(rng: random.Random, authors: list, posts: list) -> None:
    """One command through the services: a post, comment, vote, login or failed login."""
    action = rng.choice(["post", "comment", "vote", "vote", "login", "fail"])
    author = rng.choice(authors)
    if action == "post" or not posts:
        posts.append(community.post_create(author=author, title="t", body=f"b {rng.random()}").id)
    elif action == "comment":
        community.comment_create(author=author, post_id=rng.choice(posts), body="c")
    elif action == "vote":
        community.post_vote(voter=author, post_id=rng.choice(posts), value=rng.choice([1, -1, 0]))
    elif action == "login":
        # From many addresses, as real clients: one would meet the per-address login limit.
        address = f"10.19.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        user_login(username=author.username, password=PASSWORD, ip=address, user_agent="ua")
    else:
        # Named after this test's authors: the test database's keys are emptied between
        # tests, its log is not, and a name's old sealed events would not open with a new key.
        unknown = f"x{authors[0].username}{rng.randrange(50)}"
        with contextlib.suppress(InvalidCredentials, LoginLocked):  # refusals record events too
            user_login(username=unknown, password="x", ip="192.0.2.9", user_agent="ua")


def read_once() -> None:
    """What the API's readers do: list and count every projection's rows."""
    list(Post.objects.order_by("-created_at")[:20])
    Comment.objects.count()
    Vote.objects.filter(value=1).count()
    LoginFailure.objects.count()
    Link.objects.count()


class Traffic:
    """Threads writing and reading until stopped; every exception they meet is kept."""

    def __init__(self, authors: list, *, writers: int = 2, readers: int = 2) -> None:
        self.authors = authors
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.writes = 0
        self.reads = 0
        self.write_seconds: list[float] = []  # each write's duration, for the report
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._write, args=(n,)) for n in range(writers)]
        self.threads += [threading.Thread(target=self._read) for _ in range(readers)]

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _run(self, step, counter: str) -> None:
        try:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    step()
                except Exception:
                    self.errors.append(traceback.format_exc())
                    return
                with self.lock:
                    setattr(self, counter, getattr(self, counter) + 1)
                    if counter == "writes":
                        self.write_seconds.append(time.perf_counter() - started)
        finally:
            connection.close()

    def _write(self, seed: int) -> None:
        rng, posts = random.Random(seed), []
        self._run(lambda: write_once(rng, self.authors, posts), "writes")

    def _read(self) -> None:
        self._run(read_once, "reads")
