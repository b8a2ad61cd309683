"""The dry run (and the auditor built on it): compares live projections with the log, changes and locks nothing."""

import random
import threading
import traceback

import pytest
from django.db import connection

from community_app.models import Vote
from eventstore import shadow
from eventstore.projection_diff import check_projections
from eventstore.projections import registered_projections
from eventstore.replay import rebuild_projections
from tests.rebuild_workload import make_authors, snapshot_inline, write_once

pytestmark = pytest.mark.django_db(transaction=True)


def all_projections():
    return list(registered_projections().values())


def schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone()[0] == 1


def writes_that_may_not_wait(authors: list, errors: list) -> None:
    """In its own connection: one write of each kind, failing if any lock is not granted within 1 s."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '1s'")
        rng, posts = random.Random(), []
        for _ in range(12):
            write_once(rng, authors, posts)
    except Exception:
        errors.append(traceback.format_exc())
    finally:
        connection.close()


def test_a_dry_run_blocks_no_writer_and_sees_no_difference_in_their_writes():
    authors = make_authors()
    rng, posts = random.Random(3), []
    for _ in range(120):
        write_once(rng, authors, posts)
    rebuild_projections(all_projections())
    errors: list[str] = []
    pauses = []

    def write_meanwhile(_count: int) -> None:
        # Called inside the dry run's open transactions: while it builds, and
        # while it catches up in its comparison snapshot (the writes of the first pause).
        if len(pauses) < 3:
            pauses.append(1)
            writer = threading.Thread(target=writes_that_may_not_wait, args=(authors, errors))
            writer.start()
            writer.join(timeout=60)

    results = check_projections(all_projections(), batch_size=100_000, progress=write_meanwhile)
    assert not errors, errors[0]
    assert len(pauses) >= 2, "writers ran during the build and during the comparison"
    for name, (_applied, tables) in results.items():
        for table, diff in tables.items():
            assert diff.identical, f"{name} {table}: {diff}"
    assert not schema_exists(shadow.CHECK_SCHEMA)


def test_a_dry_run_reports_a_row_changed_behind_the_projection_and_changes_nothing():
    authors = make_authors()
    rng, posts = random.Random(4), []
    for _ in range(60):
        write_once(rng, authors, posts)
    rebuild_projections(all_projections())
    vote = Vote.objects.order_by("post_id", "voter_id").first()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE community_app_vote SET value = 7 WHERE post_id = %s AND voter_id = %s",
            [vote.post_id, vote.voter_id],
        )
    live = snapshot_inline()

    (applied, tables), *_ = check_projections(
        [registered_projections()["community.votes"]], batch_size=500
    ).values()
    diff = tables["community_app_vote"]
    assert applied > 0
    assert (diff.differing, diff.only_live, diff.only_rebuilt) == (1, 0, 0)
    assert diff.examples["differing"] == [f"post_id={vote.post_id}, voter_id={vote.voter_id}"]
    assert snapshot_inline() == live, "the dry run changed nothing"
    assert Vote.objects.get(post_id=vote.post_id, voter_id=vote.voter_id).value == 7
