"""Schema evolution: `community:post_created` v1 (`body`) is read as v2 (`body_text`, `body_format`)."""

import uuid

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from community_app.events import POST_CREATED, post_stream
from community_app.models import Post
from community_app.projections import POSTS
from eventstore import store
from eventstore.envelope import ExpectedVersion, NewEvent
from eventstore.projections import apply_inline_projections
from eventstore.reading import read_stream
from eventstore.replay import rebuild_projection

pytestmark = pytest.mark.django_db


def store_v1_post(author) -> tuple[uuid.UUID, str]:
    """A post_created exactly as the v1 code stored it (no sealing, `body`), applied inline as live."""
    post_id, body = uuid.uuid4(), f"Old-shape body {uuid.uuid4().hex[:8]}"
    v1 = NewEvent(
        type=POST_CREATED.name,
        schema_version=1,
        data={
            "post_id": str(post_id),
            "title": "Written by v1",
            "body": body,
            "author_id": author.pk,
            "author_username": author.username,
            "urls": [],
        },
        source="community",
        correlation_id=uuid.uuid4(),
    )
    with transaction.atomic():
        store.append(post_stream(post_id), [v1], ExpectedVersion.NO_STREAM)
        # The store returns what it was given; the bus gives projections readers' view.
        [as_read] = read_stream(post_stream(post_id))
        apply_inline_projections(as_read)
    return post_id, body


def test_v2_is_the_current_version_with_an_upcaster_from_v1():
    assert POST_CREATED.version == 2
    assert set(POST_CREATED.schema.model_fields) >= {"body_text", "body_format"}
    assert "body" not in POST_CREATED.schema.model_fields


def test_stored_v1_event_stays_v1_and_every_reader_sees_v2(make_user):
    author = make_user()
    post_id, body = store_v1_post(author)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT schema_version, data->>'body', data ? 'body_text' FROM eventstore_event WHERE stream_id = %s",
            [post_stream(post_id)],
        )
        assert cursor.fetchone() == (1, body, False)  # the row keeps the shape it was written with

    [event] = read_stream(post_stream(post_id))
    assert event.schema_version == 2
    assert event.data["body_text"] == body and event.data["body_format"] == "plain"
    assert "body" not in event.data

    live = Post.objects.get(id=post_id)
    assert (live.body, live.body_format) == (body, "plain")

    staff = APIClient()
    staff.force_authenticate(make_user(is_staff=True, is_superuser=True))
    [served] = staff.get(f"/api/events/streams/{post_stream(post_id)}/").json()
    assert served["schema_version"] == 2 and served["data"]["body_text"] == body
    assert staff.get(f"/api/posts/{post_id}/").json()["body"] == body

    rebuild_projection(POSTS)
    rebuilt = Post.objects.get(id=post_id)
    assert (rebuilt.body, rebuilt.body_format, rebuilt.version) == (body, "plain", 1)


def test_new_posts_are_written_as_v2(make_user):
    from community_app.services import post_create

    post = post_create(author=make_user(), title="New", body="Fresh text")
    [event] = read_stream(post_stream(post.id))
    assert event.schema_version == 2 and event.data["body_text"] == "Fresh text"
    with connection.cursor() as cursor:
        cursor.execute("SELECT schema_version FROM eventstore_event WHERE id = %s", [event.id])
        assert cursor.fetchone()[0] == 2
