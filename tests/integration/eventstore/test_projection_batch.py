"""ProjectionBatch: what handlers ask of it is what the rows hold once the batch is written.

Run on real projection tables (community posts, links, votes). Every case is
also one the batch-equivalence test relies on: a change of a stored row never
reaches a row inserted later in the same batch, as it would not one by one.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from auth_app.models import LoginFailure
from community_app.models import Post, PostLink, Vote
from eventstore import shadow
from eventstore.envelope import RecordedEvent
from eventstore.projection_batch import ProjectionBatch, batched_projection
from links_app.models import Link, Scan

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 2, 1, 9, 0, tzinfo=dt.UTC)
VOTE_KEY = {Vote: ("post_id", "voter_id")}


def post(post_id: str, **overrides) -> dict:
    values = {
        "id": post_id, "title": "t", "body": "b", "author_id": 1, "author_username": "ann",
        "created_at": AT, "updated_at": AT, "created_position": 1, "version": 1,
    }  # fmt: skip
    return values | overrides


def store_post(post_id: str, **overrides) -> None:
    batch = ProjectionBatch()
    batch.insert(Post, **post(post_id, **overrides))
    batch.write()


def new_id() -> str:
    return str(uuid.uuid4())


def post_updated(post_id: str, position: int) -> RecordedEvent:
    return RecordedEvent(
        id=uuid.uuid4(), position=position, stream_id=f"post-{post_id}", stream_version=position,
        type="community:post_updated", schema_version=1, data={"post_id": post_id}, metadata={},
        source="community", correlation_id=uuid.uuid4(), causation_id=None, recorded_at=AT,
    )  # fmt: skip


def test_an_inserted_row_gets_the_model_defaults_and_unknown_fields_are_refused():
    post_id = new_id()
    store_post(post_id)
    stored = Post.objects.get(id=post_id)
    assert (stored.score, stored.comment_count, stored.flagged, stored.body_format) == (0, 0, False, "plain")
    with pytest.raises(TypeError, match="no field colour"):
        ProjectionBatch().insert(Post, **post(new_id()), colour="red")


def test_a_duplicate_key_fails_in_the_insert_whether_stored_or_inserted_in_the_same_batch():
    post_id = new_id()
    store_post(post_id)
    batch = ProjectionBatch()
    batch.insert(Post, **post(post_id))
    with pytest.raises(IntegrityError), transaction.atomic():
        batch.write()

    twice = new_id()
    batch = ProjectionBatch()
    batch.insert(Post, **post(twice))
    with pytest.raises(IntegrityError), transaction.atomic():
        batch.insert(Post, **post(twice))
        batch.write()
    assert not Post.objects.filter(id=twice).exists()


def test_counters_add_to_stored_rows_and_in_memory_to_rows_of_the_batch():
    stored_id, new_post_id, later_id = new_id(), new_id(), new_id()
    store_post(stored_id, score=5)
    batch = ProjectionBatch()
    batch.add(Post, stored_id, score=2)
    batch.add(Post, stored_id, score=-1, comment_count=1)
    batch.insert(Post, **post(new_post_id))
    batch.add(Post, new_post_id, score=3)
    batch.add(Post, later_id, score=7)  # no such post yet: one by one, nothing to add to
    batch.insert(Post, **post(later_id))
    batch.write()
    scores = dict(Post.objects.values_list("id", "score"))
    assert scores == {uuid.UUID(stored_id): 6, uuid.UUID(new_post_id): 3, uuid.UUID(later_id): 0}
    assert Post.objects.get(id=stored_id).comment_count == 1


def test_an_update_sets_fields_of_the_stored_row_or_of_the_row_in_memory_and_misses_a_missing_row():
    stored_id, new_post_id, missing_id = new_id(), new_id(), new_id()
    store_post(stored_id)
    batch = ProjectionBatch()
    assert batch.update(Post, stored_id, title="edited", version=2) is None  # not in memory
    batch.update(Post, stored_id, flagged=True)
    batch.insert(Post, **post(new_post_id))
    assert batch.update(Post, new_post_id, deleted=True)["deleted"] is True
    batch.update(Post, missing_id, title="nobody")
    batch.write()
    assert Post.objects.filter(id=stored_id, title="edited", version=2, flagged=True).exists()
    assert Post.objects.get(id=new_post_id).deleted
    assert not Post.objects.filter(id=missing_id).exists()


def test_put_replaces_the_row_with_its_key_and_the_last_put_of_a_batch_wins():
    post_id = new_id()
    for value in (1, -1):
        batch = ProjectionBatch(VOTE_KEY)
        batch.put(Vote, post_id=post_id, voter_id=3, value=value, version=1, updated_at=AT)
        batch.put(Vote, post_id=post_id, voter_id=4, value=1, version=1, updated_at=AT)
        batch.put(Vote, post_id=post_id, voter_id=3, value=value * 2, version=2, updated_at=AT)
        batch.write()
    assert sorted(Vote.objects.values_list("voter_id", "value", "version")) == [(3, -2, 2), (4, 1, 1)]


def test_loaded_rows_are_read_from_memory_written_back_whole_and_deleted_by_key():
    keep, drop, fresh = new_id(), new_id(), new_id()
    store_post(keep)
    store_post(drop)
    batch = ProjectionBatch()
    batch.load(Post, Q(id__in=[keep, drop]))
    row = batch.get(Post, keep)
    assert row["id"] == keep, "loaded uuids are text, as in event data"
    batch.add(Post, keep, score=4)
    batch.update(Post, keep, title=row["title"] + "!")
    batch.delete(Post, drop)
    batch.insert(Post, **post(fresh))
    batch.delete(Post, fresh)
    assert batch.find(Post, drop) is None
    with pytest.raises(Post.DoesNotExist):
        batch.get(Post, fresh)
    batch.write()
    assert list(Post.objects.values_list("title", "score")) == [("t!", 4)]


def test_where_finds_rows_in_memory_by_a_field_and_follows_changes():
    a, b = new_id(), new_id()
    store_post(a, author_id=7)
    batch = ProjectionBatch()
    batch.load(Post, Q(author_id=7))
    assert [r["id"] for r in batch.where(Post, "author_id", 7)] == [a]
    batch.insert(Post, **post(b, author_id=7))
    batch.update(Post, a, author_id=8)
    assert [r["id"] for r in batch.where(Post, "author_id", 7)] == [b]
    assert [r["id"] for r in batch.where(Post, "author_id", 8)] == [a]


def test_a_statement_over_many_rows_writes_what_is_pending_first_then_the_projection_loads_again():
    """delete_where/update_where run at once: rows inserted earlier in the batch are written first."""
    post_id = new_id()
    loads = []

    def load(batch, events):
        loads.append(len(events))

    def on_event(batch, event):
        if event.position > 1:
            batch.delete_where(PostLink, Q(post_id=post_id))
        batch.insert(PostLink, post_id=post_id, normalized_url=f"https://{event.position}.example/", rank=0)

    projection = batched_projection(
        name="test.links_replaced",
        handlers={"community:post_updated": on_event},
        models=[PostLink],
        keys={PostLink: ("post_id", "rank")},
        load=load,
    )
    events = [post_updated(post_id, position) for position in (1, 2, 3)]
    projection.apply_batch(events)
    assert list(PostLink.objects.values_list("normalized_url", flat=True)) == ["https://3.example/"]
    assert loads == [3, 1, 0], "loaded for the batch, then again for the events after each statement"


def test_a_batch_inside_writing_into_writes_the_shadow_tables_only():
    """The blue/green rebuild's way: its statements name tables unqualified, the search path decides."""
    schema = "projection_batch_test"
    live = {Vote._meta.db_table: shadow.live_schema(Vote._meta.db_table)}
    post_id = new_id()

    def vote(value: int) -> None:
        batch = ProjectionBatch(VOTE_KEY)
        batch.put(Vote, post_id=post_id, voter_id=1, value=value, version=1, updated_at=AT)
        batch.write()

    try:
        with transaction.atomic():
            shadow.create_shadow(schema, live)
        vote(1)  # the same statement, live first: a statement prepared before must not keep the live table
        with transaction.atomic(), shadow.writing_into(schema):
            vote(-1)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT value FROM {shadow.qualified(schema, Vote._meta.db_table)}")
            assert cursor.fetchall() == [(-1,)]
        assert list(Vote.objects.values_list("value", flat=True)) == [1]
    finally:
        shadow.drop_shadow(schema)


def test_load_in_reads_the_rows_load_reads_and_keeps_what_is_in_memory():
    """One array parameter instead of the ORM's `__in`: the same rows, typed the same (uuids as text,
    JSON decoded, aware times, nulls), skipping rows in memory or deleted in the batch."""
    link_ids = [new_id() for _ in range(4)]
    scan_id = new_id()
    seed = ProjectionBatch()
    for index, link_id in enumerate(link_ids):
        seed.insert(
            Link,
            id=link_id,
            url=f"https://e{index}.example/",
            normalized_url=f"https://e{index}.example/",
            domain=f"e{index}.example",
            created_at=AT,
            updated_at=AT,
            findings=[{"kind": "redirect", "score": 0.25}] if index else [],
            latest_scan_id=scan_id if index == 1 else None,
            last_scanned_at=AT if index == 1 else None,
        )
    seed.insert(Scan, id=scan_id, link_id=link_ids[1], url="u", normalized_url="u", requested_at=AT,
                updated_at=AT, model_score=0.5, safety_score=7)  # fmt: skip
    seed.write()
    wanted = [*link_ids[:3], new_id()]  # one id that names no row

    by_orm, by_array = ProjectionBatch(), ProjectionBatch()
    by_orm.load(Link, Q(id__in=wanted))
    by_orm.load(Scan, Q(id__in=[scan_id]))
    by_array.load_in(Link, "id", wanted)
    by_array.load_in(Scan, "id", [scan_id])
    by_array.load_in(Link, "id", [])

    for model, keys in ((Link, link_ids[:3]), (Scan, [scan_id])):
        for key in keys:
            assert by_array.get(model, key) == by_orm.get(model, key)
            assert {k: type(v) for k, v in by_array.get(model, key).items()} == {
                k: type(v) for k, v in by_orm.get(model, key).items()
            }
    assert by_array.find(Link, link_ids[3]) is None and by_array.find(Link, wanted[3]) is None
    assert by_array.get(Link, link_ids[1])["findings"] == [{"kind": "redirect", "score": 0.25}]

    changed = ProjectionBatch()
    changed.load_in(Link, "id", link_ids[:1])
    changed.update(Link, link_ids[0], domain="changed.example")
    changed.delete(Link, link_ids[1])
    changed.load_in(Link, "id", link_ids[:2])  # the changed row stays, the deleted one is not read back
    assert changed.get(Link, link_ids[0])["domain"] == "changed.example"
    assert changed.find(Link, link_ids[1]) is None
    changed.write()
    assert Link.objects.get(id=link_ids[0]).domain == "changed.example"
    assert not Link.objects.filter(id=link_ids[1]).exists()


def test_load_in_matches_whole_values_of_a_column_with_a_length():
    """A longer value is not cut to the column's length (varchar(200)) and matched with a stored one."""
    stored = "k" * 200
    failure_key = {LoginFailure: ("event_id",)}
    batch = ProjectionBatch(failure_key)
    batch.insert(LoginFailure, event_id=new_id(), username_key=stored, ip="", attempted_at=AT)
    batch.write()
    longer, exact = ProjectionBatch(failure_key), ProjectionBatch(failure_key)
    longer.load_in(LoginFailure, "username_key", [stored + "k"])
    exact.load_in(LoginFailure, "username_key", [stored])
    assert longer.where(LoginFailure, "username_key", stored) == []
    assert [row["username_key"] for row in exact.where(LoginFailure, "username_key", stored)] == [stored]
