"""Concurrent writers against real Postgres: no vote is lost, stale edits conflict."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from community_app import services
from community_app.events import post_stream, vote_stream
from community_app.models import Post, Vote
from eventstore.errors import ConcurrencyConflict
from eventstore.reading import read_stream

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(tasks: list[Callable[[], object]]) -> list[object]:
    """Run each task in its own thread and connection, released at once; return results or exceptions."""
    barrier = threading.Barrier(len(tasks))
    results: list[object] = [None] * len(tasks)

    def run(index: int, task: Callable[[], object]) -> None:
        try:
            barrier.wait()
            results[index] = task()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, task)) for i, task in enumerate(tasks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_fifty_concurrent_voters_give_the_exact_score(make_user, make_post):
    post = make_post()
    voters = [make_user() for _ in range(50)]
    values = [1 if n % 3 else -1 for n in range(50)]
    results = run_together(
        [
            lambda voter=voter, value=value: services.post_vote(voter=voter, post_id=post.id, value=value)
            for voter, value in zip(voters, values, strict=True)
        ]
    )
    assert not [r for r in results if isinstance(r, Exception)]
    post.refresh_from_db()
    assert post.score == sum(values)
    assert post.version == 1
    assert sum(Vote.objects.filter(post_id=post.id).values_list("value", flat=True)) == sum(values)


def test_one_voter_voting_concurrently_ends_consistent(author, make_post):
    post = make_post()
    values = [1, -1, 0, 1, -1, 1, 0, -1, 1, 1]
    results = run_together(
        [
            lambda value=value: services.post_vote(voter=author, post_id=post.id, value=value)
            for value in values
        ]
    )
    assert not [r for r in results if isinstance(r, Exception)]
    events = read_stream(vote_stream(post.id, author.id))
    # Each event starts from the value the previous one left: no decision was made on stale state.
    previous = 0
    for event in events:
        assert event.data["old_value"] == previous
        previous = event.data["new_value"]
    final = Vote.objects.get(post_id=post.id, voter_id=author.id).value
    assert final == previous
    assert Post.objects.get(id=post.id).score == final


def test_of_two_edits_with_the_same_version_exactly_one_wins(author, make_post):
    post = make_post(title="v1")
    results = run_together(
        [
            lambda title=title: services.post_update(
                editor=author, post_id=post.id, title=title, expected_version=1
            )
            for title in ("left", "right")
        ]
    )
    conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
    winners = [r for r in results if isinstance(r, Post)]
    assert len(conflicts) == 1 and len(winners) == 1
    post.refresh_from_db()
    assert post.title == winners[0].title
    assert post.version == 2
    assert len(read_stream(post_stream(post.id))) == 2


def test_edits_without_a_version_all_apply_on_fresh_state(author, make_post):
    post = make_post(title="v1")
    titles = [f"title {n}" for n in range(5)]
    results = run_together(
        [
            lambda title=title: services.post_update(editor=author, post_id=post.id, title=title)
            for title in titles
        ]
    )
    assert not [r for r in results if isinstance(r, Exception)]
    events = read_stream(post_stream(post.id))[1:]
    assert len(events) == 5
    # Each edit's "before" is the previous edit's "after": none was based on stale state.
    befores = [e.data["changed"]["title"]["before"] for e in events]
    afters = [e.data["changed"]["title"]["after"] for e in events]
    assert befores == ["v1", *afters[:-1]]
    post.refresh_from_db()
    assert (post.title, post.version) == (afters[-1], 6)
