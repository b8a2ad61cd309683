"""A demo workload: realistic traffic through the apps' public services.

Each simulated action runs as one request would: inside its own event
context (a fresh correlation id, request-like metadata), calling the same
service functions as the API, so the dashboard and the explorer show true
events and the subscribers (link scans, flagging) react to them as in
production — provided Celery workers are running.
"""

from __future__ import annotations

import contextlib
import random
import secrets
import uuid
from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from auth_app.errors import InvalidCredentials, LoginLocked
from auth_app.services import user_login, user_register
from community_app.services import comment_create, post_create, post_vote
from eventstore import event_context

USER_AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0",
]
TOPICS = [
    "release notes",
    "a bug in the parser",
    "weekend hike",
    "reading list",
    "coffee grinders",
    "CI times",
]
SAFE_URLS = [
    "https://docs.python.org/3/library/{word}.html",
    "https://en.wikipedia.org/wiki/{word}",
    "https://github.com/django/django/pull/{number}",
]
DANGEROUS_URLS = [
    "http://203.0.113.{number}/paypal.com/secure/login/verify-account/{word}.php?cmd=_login",
    "http://secure-appleid-verify.{word}-support.top/login.php?session={number}",
]
WORDS = ["asyncio", "itertools", "datetime", "pathlib", "logging", "typing", "sqlite3", "uuid"]
# Relative weights: most traffic is reading-adjacent writes (votes, comments) and logins.
ACTIONS = {
    "sign_up": 2,
    "login": 3,
    "failed_login": 1,
    "post_safe": 2,
    "post_dangerous": 1,
    "comment": 3,
    "vote": 4,
}


@dataclass
class Simulation:
    """State of one run: its users and posts, and a seeded random source for reproducible choices."""

    seed: int
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    users: list = field(default_factory=list)
    post_ids: list = field(default_factory=list)
    done: Counter = field(default_factory=Counter)
    # Simulated accounts are for this run only: nobody needs their password afterwards.
    password: str = field(default_factory=lambda: f"Sim-{secrets.token_urlsafe(12)}")

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def step(self) -> str:
        """Do one action (as one request) and return its name."""
        action = self._choose()
        ip = f"198.51.100.{self.random.randint(1, 254)}"
        metadata = {"ip": ip, "user_agent": self.random.choice(USER_AGENTS), "path": f"simulate:{action}"}
        # Refusals are part of realistic traffic; their events are recorded all the same.
        with (
            event_context(metadata={**metadata, "method": "SIMULATE"}),
            contextlib.suppress(InvalidCredentials, LoginLocked, ValidationError),
        ):
            getattr(self, action)(ip=ip, user_agent=metadata["user_agent"])
        self.done[action] += 1
        return action

    def _choose(self) -> str:
        if len(self.users) < 2:
            return "sign_up"
        if not self.post_ids:
            return "post_safe"
        names = list(ACTIONS)
        return self.random.choices(names, weights=[ACTIONS[n] for n in names])[0]

    def _word(self) -> str:
        return self.random.choice(WORDS)

    def sign_up(self, **_request) -> None:
        username = f"sim_{self.run}_{len(self.users) + 1}"
        self.users.append(
            user_register(username=username, email=f"{username}@example.com", password=self.password)
        )

    def login(self, *, ip: str, user_agent: str) -> None:
        user = self.random.choice(self.users)
        user_login(username=user.username, password=self.password, ip=ip, user_agent=user_agent)

    def failed_login(self, *, ip: str, user_agent: str) -> None:
        user = self.random.choice(self.users)
        user_login(username=user.username, password=self.password[::-1], ip=ip, user_agent=user_agent)

    def _post(self, url_template: str) -> None:
        url = url_template.format(word=self._word(), number=self.random.randint(2, 250))
        topic = self.random.choice(TOPICS)
        post = post_create(
            author=self.random.choice(self.users), title=f"About {topic}", body=f"Notes on {topic}: see {url}"
        )
        self.post_ids.append(post.id)

    def post_safe(self, **_request) -> None:
        self._post(self.random.choice(SAFE_URLS))

    def post_dangerous(self, **_request) -> None:
        self._post(self.random.choice(DANGEROUS_URLS))

    def comment(self, **_request) -> None:
        body = self.random.choice(["Thanks!", "Interesting, tell me more.", "I disagree.", "+1"])
        comment_create(
            author=self.random.choice(self.users), post_id=self.random.choice(self.post_ids), body=body
        )

    def vote(self, **_request) -> None:
        post_vote(
            voter=self.random.choice(self.users),
            post_id=self.random.choice(self.post_ids),
            value=self.random.choice([1, 1, 1, -1, 0]),
        )
