"""Read models of the community: projections of the post, comment and vote streams.

Written only by the handlers in `community_app/projections.py`. No foreign
keys: the tables of each projection are emptied and rebuilt on their own, and
users are plain ids with the username copied from the events. Deleted posts
keep their row (`deleted`), so handlers of later events never depend on the
order in which concurrent transactions committed.
"""

from django.db import models


class Post(models.Model):
    id = models.UUIDField(primary_key=True, editable=False)
    title = models.CharField(max_length=200)
    body = models.TextField()
    body_format = models.CharField(max_length=20, default="plain")
    author_id = models.BigIntegerField(db_index=True)
    author_username = models.CharField(max_length=150)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # Position of the creating event: breaks ties between equal timestamps.
    created_position = models.BigIntegerField()
    # The version of the post's stream `post-<id>` (optimistic concurrency).
    version = models.IntegerField()
    score = models.IntegerField(default=0)
    comment_count = models.IntegerField(default=0)
    flagged = models.BooleanField(default=False)
    deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-created_position"]
        indexes = [models.Index(fields=["-created_at", "-created_position"], name="community_post_newest")]

    def __str__(self) -> str:
        return self.title


class PostLink(models.Model):
    """One normalised URL of a post's body, so link verdicts can find their posts."""

    post_id = models.UUIDField(db_index=True)
    normalized_url = models.TextField(db_index=True)
    rank = models.SmallIntegerField(help_text="Order of the link in the body.")

    class Meta:
        ordering = ["post_id", "rank"]
        constraints = [models.UniqueConstraint(fields=["post_id", "rank"], name="community_postlink_rank")]

    def __str__(self) -> str:
        return self.normalized_url


class Comment(models.Model):
    id = models.UUIDField(primary_key=True, editable=False)
    post_id = models.UUIDField()
    body = models.TextField()
    author_id = models.BigIntegerField()
    author_username = models.CharField(max_length=150)
    created_at = models.DateTimeField()
    created_position = models.BigIntegerField()

    class Meta:
        ordering = ["created_at", "created_position"]
        indexes = [
            models.Index(
                fields=["post_id", "created_at", "created_position"], name="community_comment_oldest"
            )
        ]

    def __str__(self) -> str:
        return self.body[:60]


class Vote(models.Model):
    """A user's current vote on a post (0 once removed: the row keeps its stream version)."""

    post_id = models.UUIDField()
    voter_id = models.BigIntegerField()
    value = models.SmallIntegerField()
    # The version of the vote stream `vote-<post>-<voter>`.
    version = models.IntegerField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post_id", "voter_id"], name="community_vote_once")]

    def __str__(self) -> str:
        return f"{self.voter_id} → {self.post_id}: {self.value}"
