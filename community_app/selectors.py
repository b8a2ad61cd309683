"""Queries of the community, reading its projections (and the links app's summaries).

A page of posts costs a fixed number of queries whatever its size: the posts,
their links, and one `link_summaries` call for every URL on the page.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from django.db.models import Exists, OuterRef, QuerySet

from links_app.selectors import link_summaries

from .models import Comment, Post, PostLink, Vote
from .services.common import live_post


def post_list() -> QuerySet[Post]:
    """Live posts, newest first (not yet carrying their links: see `with_links`)."""
    return Post.objects.filter(deleted=False).order_by("-created_at", "-created_position")


def pending_link(url: str) -> dict:
    """How a link the links app has not seen yet is shown."""
    return {"id": None, "url": url, "status": "pending", "verdict": None, "safety_score": None}


def with_links(posts: Sequence[Post]) -> list[Post]:
    """Attach `links` (list of {id, url, status, verdict, safety_score}) to each post, in body order."""
    urls_by_post: dict[uuid.UUID, list[str]] = defaultdict(list)
    for post_id, url in PostLink.objects.filter(post_id__in=[p.id for p in posts]).values_list(
        "post_id", "normalized_url"
    ):
        urls_by_post[post_id].append(url)
    all_urls = sorted({url for urls in urls_by_post.values() for url in urls})
    summaries = link_summaries(all_urls) if all_urls else {}
    for post in posts:
        post.links = [summaries.get(url) or pending_link(url) for url in urls_by_post[post.id]]
    return list(posts)


def post_get(*, post_id: uuid.UUID | str) -> Post:
    """One live post with its links; PostNotFound when unknown or deleted."""
    return with_links([live_post(post_id)])[0]


def post_urls(*, post_id: uuid.UUID | str) -> list[str]:
    return list(PostLink.objects.filter(post_id=post_id).values_list("normalized_url", flat=True))


def live_posts_linking(*, normalized_url: str) -> QuerySet[Post]:
    """Live posts whose body contains this normalised URL."""
    linking = PostLink.objects.filter(post_id=OuterRef("id"), normalized_url=normalized_url)
    return Post.objects.filter(Exists(linking), deleted=False).order_by("created_position")


def comment_list(*, post_id: uuid.UUID | str) -> QuerySet[Comment]:
    """Comments of a live post, oldest first; PostNotFound when the post is gone."""
    post = live_post(post_id)
    return Comment.objects.filter(post_id=post.id).order_by("created_at", "created_position")


def vote_of(*, post_id: uuid.UUID | str, voter_id: int) -> int:
    """The user's current vote on the post: 1, -1, or 0 for none."""
    value = Vote.objects.filter(post_id=post_id, voter_id=voter_id).values_list("value", flat=True).first()
    return value or 0
