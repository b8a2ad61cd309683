"""How the community reacts to the links app's verdicts (after commit, via the subscriber machinery).

A post is flagged while any of its links is judged malicious, by the scanner
or by a moderator, whose verdict wins. Flagging and unflagging are idempotent,
so a redelivered event changes nothing.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict

from eventstore import RecordedEvent, Subscriber, register_subscriber
from links_app.events import LINK_VERIFIED, THREAT_DETECTED
from links_app.selectors import link_summaries

from .errors import PostNotFound
from .events import POST_CREATED, POST_UPDATED
from .models import PostLink
from .selectors import live_posts_linking
from .services import post_flag, post_unflag


def flag_posts_with_malicious_link(event: RecordedEvent) -> None:
    """`link:threat_detected`: flag the live posts that contain the link, when it is malicious."""
    data = event.data
    # A moderator's verdict recorded before the scan overrides the scanner's.
    moderator_verdict = data.get("moderator_verdict")
    if (moderator_verdict or data["verdict"]) != "malicious":
        return
    reason = (
        "link verified malicious by a moderator"
        if moderator_verdict
        else "link judged malicious by the scanner"
    )
    for post in live_posts_linking(normalized_url=data["normalized_url"]):
        _ignore_deleted(
            post_flag,
            post_id=post.id,
            reason=reason,
            link_id=data["link_id"],
            normalized_url=data["normalized_url"],
        )


def apply_moderator_verdict(event: RecordedEvent) -> None:
    """`link:link_verified`: flag on malicious; otherwise unflag unless another link is malicious."""
    data = event.data
    url = data["normalized_url"]
    posts = list(live_posts_linking(normalized_url=url))
    if data["verdict"] == "malicious":
        for post in posts:
            _ignore_deleted(
                post_flag,
                post_id=post.id,
                reason="link verified malicious by a moderator",
                link_id=data["link_id"],
                normalized_url=url,
            )
        return
    still_malicious = _posts_with_other_malicious_links([post.id for post in posts], except_url=url)
    for post in posts:
        if post.id not in still_malicious:
            _ignore_deleted(
                post_unflag,
                post_id=post.id,
                reason=f"link verified {data['verdict']} by a moderator",
                link_id=data["link_id"],
                normalized_url=url,
            )


def flag_post_with_known_malicious_link(event: RecordedEvent) -> None:
    """`community:post_created` / `post_updated`: flag at once when a link is already known malicious.

    The links app scans a URL only once in a while; a new post that repeats a
    known-bad link gets no new `link:threat_detected`, so the post's own event
    is the trigger here.
    """
    urls = event.data.get("urls")
    if not urls:
        return
    summaries = link_summaries(urls)
    for url in urls:
        summary = summaries.get(url)
        if summary and summary.get("verdict") == "malicious":
            _ignore_deleted(
                post_flag,
                post_id=event.data["post_id"],
                reason="link already known to be malicious",
                link_id=summary["id"],
                normalized_url=url,
            )
            return


def _posts_with_other_malicious_links(post_ids, *, except_url: str) -> set:
    urls_by_post = defaultdict(set)
    for post_id, url in (
        PostLink.objects.filter(post_id__in=post_ids)
        .exclude(normalized_url=except_url)
        .values_list("post_id", "normalized_url")
    ):
        urls_by_post[post_id].add(url)
    all_urls = sorted(set().union(*urls_by_post.values()))
    summaries = link_summaries(all_urls) if all_urls else {}
    malicious = {url for url, summary in summaries.items() if summary.get("verdict") == "malicious"}
    return {post_id for post_id, urls in urls_by_post.items() if urls & malicious}


def _ignore_deleted(command, **kwargs) -> None:
    # A post deleted after we looked it up needs no flag.
    with contextlib.suppress(PostNotFound):
        command(**kwargs)


COMMUNITY = register_subscriber(
    Subscriber(
        name="community",
        description="Flags posts whose links are judged malicious; unflags them when verified safe.",
        handlers={
            POST_CREATED: flag_post_with_known_malicious_link,
            POST_UPDATED: flag_post_with_known_malicious_link,
            THREAT_DETECTED: flag_posts_with_malicious_link,
            LINK_VERIFIED: apply_moderator_verdict,
        },
    )
)
