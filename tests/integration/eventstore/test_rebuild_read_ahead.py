"""A rebuild's build reads each batch on a second connection while it applies the one before.

The reader thread (eventstore.shadow_build, `_prefetched`) reads and decodes;
the build's own transaction opens the sealed values and applies. Its errors
fail the rebuild, which leaves the live tables as they were, and a subject
forgotten after the thread read a batch reads as erased in it.
"""

from __future__ import annotations

import random
import threading
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from community_app import services as community
from eventstore import shadow_build
from eventstore.projections import registered_projections
from eventstore.replay import rebuild_projections
from tests.rebuild_workload import make_authors, snapshot_inline, write_once

pytestmark = pytest.mark.django_db(transaction=True)


def inline_projections():
    return [p for p in registered_projections().values() if p.mode != "async"]


def reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "shadow-build-reader"]


def some_traffic(seed: int, count: int = 120) -> list:
    authors = make_authors()
    rng, posts = random.Random(seed), []
    for _ in range(count):
        write_once(rng, authors, posts)
    return authors


def rebuilt_on_one_connection(monkeypatch) -> dict:
    """The inline projections rebuilt as before the reader thread (every batch read by the build's
    connection), as a snapshot: the test database's log holds earlier tests' events too."""
    with monkeypatch.context() as patched:
        patched.setattr(shadow_build.ShadowBuild, "_may_read_ahead", lambda self: False)
        rebuild_projections(inline_projections(), batch_size=25)
    return snapshot_inline()


def test_batches_are_read_on_another_thread_and_the_rebuild_equals_live(monkeypatch):
    some_traffic(1)
    live = rebuilt_on_one_connection(monkeypatch)
    read_unopened, readers = shadow_build.read_unopened, set()

    def recording(**kwargs):
        readers.add(threading.current_thread())
        return read_unopened(**kwargs)

    monkeypatch.setattr(shadow_build, "read_unopened", recording)
    rebuild_projections(inline_projections(), batch_size=25)
    assert readers and threading.main_thread() not in readers
    assert snapshot_inline() == live
    assert reader_threads() == []


def test_a_reader_error_fails_the_rebuild_and_leaves_the_live_tables(monkeypatch):
    some_traffic(2)
    live = rebuilt_on_one_connection(monkeypatch)
    read_unopened, calls = shadow_build.read_unopened, []

    def failing(**kwargs):
        calls.append(kwargs["after"])
        if len(calls) == 3:  # two batches applied to the shadow by then, or being applied
            raise RuntimeError("the reader broke")
        return read_unopened(**kwargs)

    monkeypatch.setattr(shadow_build, "read_unopened", failing)
    with pytest.raises(RuntimeError, match="the reader broke"):
        rebuild_projections(inline_projections(), batch_size=25)
    assert len(calls) == 3
    assert snapshot_inline() == live
    assert reader_threads() == []

    monkeypatch.setattr(shadow_build, "read_unopened", read_unopened)
    rebuild_projections(inline_projections(), batch_size=25)
    assert snapshot_inline() == live


def test_an_error_applying_a_batch_stops_the_reader(monkeypatch):
    some_traffic(3)
    live = rebuilt_on_one_connection(monkeypatch)
    apply, applied = shadow_build.ShadowBuild._apply, []

    def failing(self, batch, wanted):
        applied.append(len(batch))
        if len(applied) == 2:
            raise RuntimeError("a handler broke")
        return apply(self, batch, wanted)

    monkeypatch.setattr(shadow_build.ShadowBuild, "_apply", failing)
    with pytest.raises(RuntimeError, match="a handler broke"):
        rebuild_projections(inline_projections(), batch_size=25)
    assert reader_threads() == []
    assert snapshot_inline() == live


def test_a_subject_forgotten_after_the_thread_read_a_batch_is_erased_in_it(monkeypatch):
    """The thread reads a batch holding the user's sealed post body, then the user is forgotten,
    before the build's transaction opens that batch: the build sees the body erased, as a read on
    the build's own connection after the forget would."""
    authors = some_traffic(4, count=40)
    secret = f"secret {uuid.uuid4().hex}"
    post = community.post_create(author=authors[0], title="t", body=secret)
    some_traffic(5, count=40)
    read_unopened, forgot = shadow_build.read_unopened, []
    seen: list[str] = []

    def forgetting_after_the_read(**kwargs):
        decoded = read_unopened(**kwargs)
        events = decoded if isinstance(decoded, list) else decoded.events
        if not forgot and any(
            e.type == "community:post_created" and e.data.get("post_id") == str(post.id) for e in events
        ):
            assert secret not in repr([e.data for e in events])  # read sealed, not opened
            # The key is destroyed; the receipt fails while the shadow still holds earlier batches'
            # values of the user, until the build applies the forget (docs/privacy.md).
            with pytest.raises(CommandError, match="key is destroyed"):
                call_command("forget_user", authors[0].username)
            forgot.append(True)
        return decoded

    apply = shadow_build.ShadowBuild._apply

    def recording(self, batch, wanted):
        seen.extend(repr(e.data) for e in batch)
        return apply(self, batch, wanted)

    monkeypatch.setattr(shadow_build, "read_unopened", forgetting_after_the_read)
    monkeypatch.setattr(shadow_build.ShadowBuild, "_apply", recording)
    rebuild_projections(inline_projections(), batch_size=25)
    assert forgot, "the thread never read the user's post"
    assert seen and not any(secret in data for data in seen)
