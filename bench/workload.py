"""A 200,000-event mixed workload of the apps' real event types, published through the bus.

Posts, comments, votes, link scans and logins in realistic proportions, with
data the schemas and projections accept (votes know the voter's previous
value; comments and votes point at existing posts). Events are published
through `eventstore.bus.publish` in large transactions.
"""

from __future__ import annotations

import random
import uuid

from django.db import transaction

TRANSACTION_SIZE = 200
USERS = 2000
# Ids of the workload's made-up users: far above real accounts' ids, so their
# `user-<id>` streams never collide with users registered later (HTTP figures).
USER_ID_BASE = 10_000_000
# Share of each kind of action; a scan records 3 or 4 events.
MIX = (("post", 0.10), ("comment", 0.20), ("vote", 0.40), ("scan", 0.05), ("login", 0.10), ("failed", 0.02))

DOMAINS = [
    "example.com",
    "docs.python.org",
    "news.example.org",
    "shop.example.net",
    "free-prizes.example.xyz",
]
BODY = (
    "I have been reading about event sourcing and wanted to share a few notes. "
    "The log is the source of truth; everything else can be rebuilt. See {url} for details."
)


def _post_body(event_type, body: str) -> dict:
    # Schema v2 of community:post_created renamed `body` to `body_text` (with a format).
    if "body_text" in event_type.schema.model_fields:
        return {"body_text": body}
    return {"body": body}


class Generator:
    def __init__(self, seed: int = 9) -> None:
        self.random = random.Random(seed)
        self.posts: list[str] = []
        self.votes: dict[tuple[str, int], int] = {}
        self.links: dict[str, str] = {}  # normalized url -> link id (one link per url)
        self.published = 0

    def _username(self, user_id: int) -> str:
        return f"user{user_id}"

    def _publish(self, event_type, stream_id: str, data: dict) -> None:
        from eventstore.bus import publish

        publish(event_type, stream_id=stream_id, data=data)
        self.published += 1

    def post(self) -> None:
        from community_app.events import POST_CREATED, post_stream

        post_id = str(uuid.uuid4())
        author = self.random.randrange(1, USERS)
        url = f"https://{self.random.choice(DOMAINS)}/articles/{self.random.randrange(10_000)}"
        self._publish(
            POST_CREATED,
            post_stream(post_id),
            {
                "post_id": post_id,
                "title": f"Notes on event sourcing, part {self.random.randrange(100)}",
                **_post_body(POST_CREATED, BODY.format(url=url)),
                "author_id": author,
                "author_username": self._username(author),
                "urls": [url],
            },
        )
        self.posts.append(post_id)

    def comment(self) -> None:
        from community_app.events import COMMENT_CREATED, comment_stream

        comment_id, author = str(uuid.uuid4()), self.random.randrange(1, USERS)
        self._publish(
            COMMENT_CREATED,
            comment_stream(comment_id),
            {
                "comment_id": comment_id,
                "post_id": self.random.choice(self.posts),
                "body": "Thanks, this helped me understand projections and replays much better.",
                "author_id": author,
                "author_username": self._username(author),
            },
        )

    def vote(self) -> None:
        from community_app.events import POST_VOTED, vote_stream

        post_id, voter = self.random.choice(self.posts), self.random.randrange(1, USERS)
        old = self.votes.get((post_id, voter), 0)
        new = self.random.choice([v for v in (-1, 0, 1) if v != old])
        action = "create" if old == 0 else "remove" if new == 0 else "update"
        self._publish(
            POST_VOTED,
            vote_stream(post_id, voter),
            {"post_id": post_id, "voter_id": voter, "action": action, "old_value": old, "new_value": new},
        )
        self.votes[(post_id, voter)] = new

    def scan(self) -> None:
        from links_app import events as links

        domain = self.random.choice(DOMAINS)
        url = f"https://{domain}/page/{self.random.randrange(100_000)}"
        scan_id, link_id = str(uuid.uuid4()), self.links.setdefault(url, str(uuid.uuid4()))
        stream = links.link_stream(link_id)
        malicious = domain.endswith(".xyz")
        verdict = "malicious" if malicious else "safe"
        score = 12 if malicious else 91
        self._publish(
            links.SCAN_REQUESTED,
            stream,
            {"scan_id": scan_id, "link_id": link_id, "url": url, "normalized_url": url, "domain": domain},
        )
        self._publish(
            links.SCAN_COMPLETED,
            stream,
            {
                "scan_id": scan_id,
                "link_id": link_id,
                "normalized_url": url,
                "safety_score": score,
                "verdict": verdict,
                "threat_category": "phishing" if malicious else None,
                "model_score": 0.93 if malicious else 0.04,
            },
        )
        findings = [{"code": "TLD_RISKY", "severity": "high", "message": "The domain's TLD is often abused."}]
        self._publish(
            links.SECURITY_ANALYSIS,
            stream,
            {"scan_id": scan_id, "link_id": link_id, "findings": findings if malicious else []},
        )
        if malicious:
            self._publish(
                links.THREAT_DETECTED,
                stream,
                {
                    "scan_id": scan_id,
                    "link_id": link_id,
                    "normalized_url": url,
                    "verdict": "malicious",
                    "threat_category": "phishing",
                    "safety_score": score,
                },
            )

    def login(self) -> None:
        from auth_app.events import LOGIN, user_stream

        user = USER_ID_BASE + self.random.randrange(1, USERS)
        self._publish(
            LOGIN,
            user_stream(user),
            {
                "user_id": user,
                "username": self._username(user),
                "method": "token",
                "session_id": uuid.uuid4().hex[:16],
                "ip": f"10.0.{user % 250}.{user % 200}",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64) bench",
            },
        )

    def failed(self) -> None:
        from django.utils import timezone

        from auth_app.events import FAILED_LOGIN_ATTEMPT, unknown_login_stream, unknown_logins_subject
        from auth_app.lockout import username_key

        user = self.random.randrange(1, USERS)
        key = username_key(self._username(user))
        # As auth_app.services.failures files a name that matches no account.
        self._publish(
            FAILED_LOGIN_ATTEMPT,
            unknown_login_stream(key),
            {
                "username": self._username(user),
                "username_key": key,
                "ip": f"10.1.{user % 250}.7",
                "reason": "wrong_password",
                "sealed_for": unknown_logins_subject(timezone.now().date()),
            },
        )

    def step(self) -> None:
        if not self.posts:
            self.post()
            return
        kind = self.random.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
        getattr(self, kind)()


def generate(events: int) -> int:
    """Publish about `events` events (a little more: a scan is indivisible); return how many.

    Inline projections are switched off while generating: the replay figure
    rebuilds them from the log anyway, and skipping them here makes setup
    several times faster. Everything else of `publish` runs as live.
    """
    from eventstore.bus import event_recorded
    from eventstore.projections import apply_inline_projections

    generator = Generator()
    event_recorded.disconnect(apply_inline_projections, dispatch_uid="eventstore.apply_inline_projections")
    try:
        while generator.published < events:
            with transaction.atomic():
                target = min(events, generator.published + TRANSACTION_SIZE)
                while generator.published < target:
                    generator.step()
    finally:
        event_recorded.connect(apply_inline_projections, dispatch_uid="eventstore.apply_inline_projections")
    return generator.published
