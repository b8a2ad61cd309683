"""The community subscriber: link verdicts flag and unflag the posts that contain the link.

The handlers are called directly with the events the links app records
(published here through its own event types, so its projection knows the link
too), inside the test's transaction, as the subscriber machinery would.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import transaction

from community_app import handlers, services
from community_app.errors import NotAllowed
from community_app.events import post_stream
from eventstore.bus import publish
from eventstore.envelope import RecordedEvent
from eventstore.reading import read_stream

pytestmark = pytest.mark.django_db


def fresh_url() -> str:
    return f"https://{uuid.uuid4().hex[:12]}.example/login"


class LinkFacts:
    """Records a link's scan in the links app's own events, and returns the events recorded."""

    def __init__(self, url: str):
        self.url = url
        self.link_id = uuid.uuid4()
        self.stream_id = f"link-{self.link_id}"

    def scanned(self, verdict: str, *, moderator_verdict: str | None = None) -> RecordedEvent | None:
        scan_id = uuid.uuid4()
        score = {"safe": 95, "suspicious": 50, "malicious": 5}[verdict]
        with transaction.atomic():
            publish(
                "link:scan_requested",
                stream_id=self.stream_id,
                data={
                    "scan_id": scan_id,
                    "link_id": self.link_id,
                    "url": self.url,
                    "normalized_url": self.url,
                    "domain": self.url.split("/")[2],
                },
            )
            publish(
                "link:scan_completed",
                stream_id=self.stream_id,
                data={
                    "scan_id": scan_id,
                    "link_id": self.link_id,
                    "normalized_url": self.url,
                    "safety_score": score,
                    "verdict": verdict,
                    "threat_category": None if verdict == "safe" else "phishing",
                    "model_score": 0.5,
                },
            )
            if verdict == "safe":
                return None
            return publish(
                "link:threat_detected",
                stream_id=self.stream_id,
                data={
                    "scan_id": scan_id,
                    "link_id": self.link_id,
                    "normalized_url": self.url,
                    "verdict": verdict,
                    "threat_category": "phishing",
                    "safety_score": score,
                    "moderator_verdict": moderator_verdict,
                },
            )

    def verified(self, verdict: str, by) -> RecordedEvent:
        with transaction.atomic():
            return publish(
                "link:link_verified",
                stream_id=self.stream_id,
                data={
                    "link_id": self.link_id,
                    "normalized_url": self.url,
                    "verdict": verdict,
                    "note": "checked by hand",
                    "verified_by": by.id,
                },
            )


def flag_events(post) -> list[RecordedEvent]:
    return [e for e in read_stream(post_stream(post.id)) if e.type.startswith("community:post_")][1:]


def test_malicious_verdict_flags_every_live_post_with_the_link(make_post, api_client, client_for, author):
    url = fresh_url()
    first, second = make_post(body=f"go to {url}"), make_post(body=f"{url} now")
    unrelated, deleted = make_post(body=fresh_url()), make_post(body=url)
    client_for(author).delete(f"/api/posts/{deleted.id}/")
    link = LinkFacts(url)

    handlers.flag_posts_with_malicious_link(link.scanned("malicious"))

    for post in (first, second):
        [flagged] = flag_events(post)
        assert flagged.type == "community:post_flagged"
        assert flagged.data == {
            "post_id": str(post.id),
            "reason": "link judged malicious by the scanner",
            "link_id": str(link.link_id),
            "normalized_url": url,
        }
        body = api_client.get(f"/api/posts/{post.id}/").json()
        assert body["flagged"] is True
        assert body["version"] == 2
        assert body["links"] == [
            {
                "id": str(link.link_id),
                "url": url,
                "status": "completed",
                "verdict": "malicious",
                "safety_score": 5,
            }
        ]
    assert flag_events(unrelated) == []
    assert [e.type for e in flag_events(deleted)] == ["community:post_deleted"]


def test_a_redelivered_threat_flags_only_once(make_post):
    url = fresh_url()
    post = make_post(body=url)
    threat = LinkFacts(url).scanned("malicious")
    handlers.flag_posts_with_malicious_link(threat)
    handlers.flag_posts_with_malicious_link(threat)
    assert [e.type for e in flag_events(post)] == ["community:post_flagged"]


def test_suspicious_verdict_does_not_flag(make_post):
    url = fresh_url()
    post = make_post(body=url)
    handlers.flag_posts_with_malicious_link(LinkFacts(url).scanned("suspicious"))
    assert flag_events(post) == []


def test_a_moderators_earlier_safe_verdict_wins_over_the_scanner(make_post):
    url = fresh_url()
    post = make_post(body=url)
    handlers.flag_posts_with_malicious_link(LinkFacts(url).scanned("malicious", moderator_verdict="safe"))
    assert flag_events(post) == []


def test_verified_safe_unflags(make_post, moderator, api_client):
    url = fresh_url()
    post = make_post(body=url)
    link = LinkFacts(url)
    handlers.flag_posts_with_malicious_link(link.scanned("malicious"))
    handlers.apply_moderator_verdict(link.verified("safe", moderator))
    flagged, unflagged = flag_events(post)
    assert flagged.type == "community:post_flagged"
    assert unflagged.type == "community:post_unflagged"
    assert unflagged.data == {
        "post_id": str(post.id),
        "reason": "link verified safe by a moderator",
        "link_id": str(link.link_id),
        "normalized_url": url,
    }
    body = api_client.get(f"/api/posts/{post.id}/").json()
    assert body["flagged"] is False
    assert body["links"][0]["verdict"] == "safe"


def test_verified_safe_keeps_the_flag_while_another_link_is_malicious(make_post, moderator):
    good, bad = fresh_url(), fresh_url()
    post = make_post(body=f"{good} and {bad}")
    good_link, bad_link = LinkFacts(good), LinkFacts(bad)
    handlers.flag_posts_with_malicious_link(good_link.scanned("malicious"))
    handlers.flag_posts_with_malicious_link(bad_link.scanned("malicious"))
    handlers.apply_moderator_verdict(good_link.verified("safe", moderator))
    assert [e.type for e in flag_events(post)] == ["community:post_flagged"]
    handlers.apply_moderator_verdict(bad_link.verified("safe", moderator))
    assert [e.type for e in flag_events(post)] == ["community:post_flagged", "community:post_unflagged"]


def test_verified_malicious_flags(make_post, moderator):
    url = fresh_url()
    post = make_post(body=url)
    link = LinkFacts(url)
    link.scanned("safe")
    handlers.apply_moderator_verdict(link.verified("malicious", moderator))
    [flagged] = flag_events(post)
    assert flagged.data["reason"] == "link verified malicious by a moderator"


def test_verified_safe_on_an_unflagged_post_records_nothing(make_post, moderator):
    url = fresh_url()
    post = make_post(body=url)
    link = LinkFacts(url)
    link.scanned("safe")
    handlers.apply_moderator_verdict(link.verified("safe", moderator))
    assert flag_events(post) == []


def test_a_threat_for_a_link_the_links_app_never_recorded_still_flags(make_post):
    url = fresh_url()
    post = make_post(body=url)
    threat = RecordedEvent(
        id=uuid.uuid4(),
        position=1,
        stream_id="link-x",
        stream_version=3,
        type="link:threat_detected",
        schema_version=1,
        data={
            "scan_id": str(uuid.uuid4()),
            "link_id": str(uuid.uuid4()),
            "normalized_url": url,
            "verdict": "malicious",
            "threat_category": "malware",
            "safety_score": 0,
        },
        metadata={},
        source="links",
        correlation_id=uuid.uuid4(),
        causation_id=None,
        recorded_at=dt.datetime.now(dt.UTC),
    )
    with transaction.atomic():
        handlers.flag_posts_with_malicious_link(threat)
    assert [e.type for e in flag_events(post)] == ["community:post_flagged"]


def test_subscriber_is_registered_for_the_link_events():
    from eventstore.subscribers import get_subscriber

    subscriber = get_subscriber("community")
    assert subscriber.handlers == {
        "community:post_created": handlers.flag_post_with_known_malicious_link,
        "community:post_updated": handlers.flag_post_with_known_malicious_link,
        "link:threat_detected": handlers.flag_posts_with_malicious_link,
        "link:link_verified": handlers.apply_moderator_verdict,
    }


def test_flagging_by_hand_requires_a_moderator(make_post, stranger, moderator):
    post = make_post()
    with pytest.raises(NotAllowed):
        services.post_flag(post_id=post.id, reason="no", actor=stranger)
    assert services.post_flag(post_id=post.id, reason="spam", actor=moderator) is True
    assert services.post_flag(post_id=post.id, reason="spam", actor=moderator) is False


def test_a_new_post_repeating_a_known_malicious_link_is_flagged_at_once(make_post):
    url = fresh_url()
    link = LinkFacts(url)
    link.scanned("malicious")
    post = make_post(body=f"again: {url}")
    created = read_stream(post_stream(post.id))[0]

    handlers.flag_post_with_known_malicious_link(created)
    handlers.flag_post_with_known_malicious_link(created)  # redelivered: no second flag

    [flagged] = flag_events(post)
    assert flagged.type == "community:post_flagged"
    assert flagged.data["reason"] == "link already known to be malicious"
    assert flagged.data["link_id"] == str(link.link_id)


def test_a_new_post_with_only_safe_or_unknown_links_is_not_flagged(make_post):
    safe_url = fresh_url()
    LinkFacts(safe_url).scanned("safe")
    post = make_post(body=f"{safe_url} and {fresh_url()}")
    handlers.flag_post_with_known_malicious_link(read_stream(post_stream(post.id))[0])
    assert flag_events(post) == []
