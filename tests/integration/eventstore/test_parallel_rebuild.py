"""A rebuild builds its groups of projections on separate connections (eventstore.parallel_build).

Real threads, each with its own Postgres session, take the groups in turn
(inline projections that can be built apart, and each async one) and build
them into the shadow; the swaps follow once all are built. What they build
must be what one connection builds, and a failure in any group must leave
every live table as it was.
"""

import io
import logging
import random
import threading
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from eventstore import shadow
from eventstore.projections import registered_projections
from eventstore.replay import projection_snapshot, rebuild_projections
from eventstore.shadow_build import ShadowBuild
from links_app.services import link_scan_perform, link_scan_request
from tests.rebuild_workload import make_authors, write_once

pytestmark = pytest.mark.django_db(transaction=True)


def all_projections():
    return list(registered_projections().values())


def snapshot_all() -> dict:
    return {name: projection_snapshot(p) for name, p in sorted(registered_projections().items())}


def write_history() -> None:
    authors, posts, rng, tag = make_authors(), [], random.Random(7), uuid.uuid4().hex[:8]
    for _ in range(120):
        write_once(rng, authors, posts)
    for n in range(6):
        outcome = link_scan_request(
            url=f"https://parallel-{tag}-{n}.example.com/p", requested_by=authors[0].id
        )
        link_scan_perform(scan_id=outcome.scan.id)


@pytest.fixture
def parts_built(monkeypatch):
    """(projection names, backend pid, thread name) of every group a build on several connections made."""
    built = []
    original = ShadowBuild.build

    def build(self, *, until=None, stop=None):
        if stop is not None:  # only parallel_build passes one
            built.append(
                (
                    sorted(p.name for p in self.projections),
                    connection.cursor().connection.info.backend_pid,
                    threading.current_thread().name,
                )
            )
        return original(self, until=until, stop=stop)

    monkeypatch.setattr(ShadowBuild, "build", build)
    return built


def test_groups_are_built_on_their_own_connections_and_equal_the_one_connection_build(parts_built, caplog):
    write_history()

    # (The test database's log also holds earlier tests' events: both builds read all of it.)
    applied_one = rebuild_projections(all_projections(), batch_size=50, jobs=1)
    assert parts_built == [], "jobs=1 builds on the caller's connection"
    built_on_one = snapshot_all()

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="eventstore.replay"):
        applied_two = rebuild_projections(all_projections(), batch_size=50, jobs=2)
    assert snapshot_all() == built_on_one
    assert applied_two == applied_one
    assert applied_two["links.links"] > 0 and applied_two["community.posts"] > 0
    assert len(parts_built) >= 3, "the async statistics and at least two inline groups"
    assert len({thread for _, _, thread in parts_built}) == 2, "two threads"
    assert len({pid for _, pid, _ in parts_built}) == 2, "two Postgres sessions"
    assert connection.cursor().connection.info.backend_pid not in {pid for _, pid, _ in parts_built}
    assert sorted(name for names, _, _ in parts_built for name in names) == sorted(
        p.name for p in all_projections()
    ), "each projection built once"
    swaps = [r.getMessage() for r in caplog.records if "swapped in" in r.getMessage()]
    assert len(swaps) == 2, swaps  # the inline projections together, then the async one


@pytest.mark.parametrize("failing", ["links.links", "eventstore.event_stats"])
def test_a_failing_group_fails_the_rebuild_and_leaves_every_live_table(monkeypatch, failing):
    write_history()
    live = snapshot_all()
    broken = registered_projections()[failing]
    original = ShadowBuild.build

    def build(self, *, until=None, stop=None):
        if stop is not None and broken in self.projections:
            raise RuntimeError(f"{failing} broke")
        return original(self, until=until, stop=stop)

    monkeypatch.setattr(ShadowBuild, "build", build)
    with pytest.raises(RuntimeError, match=f"{failing} broke"):
        rebuild_projections(all_projections(), batch_size=20, jobs=2)
    assert snapshot_all() == live
    assert not [t for t in threading.enumerate() if t.name.startswith("rebuild-")], (
        "no build thread left running"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", [shadow.REBUILD_SCHEMA])
        assert cursor.fetchone()[0] == 0, "the shadow is dropped"
    # And the next rebuild goes through.
    monkeypatch.setattr(ShadowBuild, "build", original)
    assert rebuild_projections(all_projections(), jobs=2)["links.links"] > 0


def test_replay_events_refuses_fewer_than_one_job_and_changes_nothing():
    before = snapshot_all()
    with pytest.raises(CommandError, match="--jobs must be 1 or more"):
        call_command("replay_events", "--no-input", "--jobs", "0", stdout=io.StringIO(), stderr=io.StringIO())
    assert snapshot_all() == before
