"""A rebuild applies votes and comment counts on the server (Projection.stored_sql_types): the rows
must be the live ones.

Live, `on_post_voted`, `on_comment_counted` and `on_vote_cast` apply each event
in Python; a rebuild of the inline projections reads the other types into
Python and applies the votes and comments with the posts' and the votes'
statements over the same ranges. Votes change and are removed, by several
voters, and comments are made, on posts created in the same batch or earlier,
and one post is deleted after its votes and comments, across batch
boundaries (batch sizes 1, 3 and 20,000).
"""

from __future__ import annotations

import pytest
from django.db import connection

from community_app import services
from community_app.events import COMMENT_CREATED, POST_CREATED, POST_VOTED
from community_app.models import Post, Vote
from community_app.projections import POSTS, VOTES
from eventstore.projections import Projection, registered_projections
from eventstore.replay import rebuild_projections
from eventstore.shadow import REBUILD_SCHEMA
from eventstore.shadow_build import ShadowBuild, build_groups
from eventstore.stored_sql import split_build

pytestmark = pytest.mark.django_db(transaction=True)


def vote_history(make_user) -> list:
    """Votes cast, changed and removed on three posts; their ids."""
    authors = [make_user() for _ in range(2)]
    voters = [make_user() for _ in range(3)]
    posts = []
    for round_ in range(3):
        posts.append(services.post_create(author=authors[round_ % 2], title=f"p{round_}", body="b").id)
        for index, voter in enumerate(voters):
            services.post_vote(voter=voter, post_id=posts[-1], value=1 if index % 2 else -1)
        # Each voter changes (or removes) a vote on an older post: the latest must win.
        for index, voter in enumerate(voters):
            services.post_vote(voter=voter, post_id=posts[0], value=(round_ + index) % 3 - 1)
        services.comment_create(author=voters[0], post_id=posts[-1], body="c")
        services.comment_create(author=voters[round_], post_id=posts[0], body="on the first post")
    # Votes turned round: each moves the score by 2.
    services.post_vote(voter=voters[0], post_id=posts[1], value=1)
    services.post_vote(voter=voters[1], post_id=posts[2], value=-1)
    services.post_delete(actor=authors[1], post_id=posts[1])
    return posts


def logged_votes() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM eventstore_event WHERE type = %s", [POST_VOTED.name])
        return cursor.fetchone()[0]


def rows_of(post_ids: list) -> dict:
    """The posts and votes of these posts (the log outlives each test's tables: older posts are left out)."""
    return {
        "posts": sorted(Post.objects.filter(id__in=post_ids).values_list()),
        "votes": sorted(
            Vote.objects.filter(post_id__in=post_ids).values_list(
                "post_id", "voter_id", "value", "version", "updated_at"
            )
        ),
    }


def test_the_inline_rebuild_reads_no_vote_into_python():
    inline = build_groups(list(registered_projections().values()))[0]
    build = ShadowBuild(inline, REBUILD_SCHEMA, batch_size=100)
    assert build.split is not None
    assert POST_VOTED.name not in build.split.read_types
    assert COMMENT_CREATED.name in build.split.read_types  # the comments' own rows are made in Python
    assert build.split.sql_types == {
        POSTS.name: (POST_VOTED.name, COMMENT_CREATED.name),
        VOTES.name: (POST_VOTED.name,),
    }


@pytest.mark.parametrize("batch_size", [1, 3, 20_000])
def test_votes_applied_by_sql_leave_the_live_rows(make_user, batch_size):
    posts = vote_history(make_user)
    live = rows_of(posts)
    assert {post.score for post in Post.objects.filter(id__in=posts)} - {0}, "some post has a score"
    assert Post.objects.get(id=posts[0]).comment_count == 4  # one when it was the newest, one a round
    inline = [p for p in registered_projections().values() if p.mode != "async"]

    applied = rebuild_projections(inline, batch_size=batch_size)

    assert rows_of(posts) == live
    assert applied[VOTES.name] == logged_votes() > 0  # every vote applied once to the votes


@pytest.mark.parametrize("projection", [POSTS, VOTES], ids=lambda p: p.name)
def test_each_projection_rebuilt_alone_leaves_the_live_rows(make_user, projection):
    """Alone, the posts are split (Python and SQL) and the votes are applied by SQL only."""
    posts = vote_history(make_user)
    live = rows_of(posts)

    rebuild_projections([projection], batch_size=4)

    assert rows_of(posts) == live


def test_a_statement_over_a_type_with_upcasters_is_refused():
    """The statement reads data as stored: an old version's shape would be read as the current one."""
    post_created = registered_projections()[POSTS.name].handlers[POST_CREATED.name]
    projection = Projection(
        name="test.upcast_by_sql",
        handlers={POST_CREATED: post_created, POST_VOTED: post_created},
        models=[Post],
        apply_stored_sql="SELECT 1",
        stored_sql_types=(POST_CREATED.name,),
    )
    with pytest.raises(ValueError, match="upcasters"):
        split_build([projection])
