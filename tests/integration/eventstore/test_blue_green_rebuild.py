"""Guarantee 7 while serving: a rebuild runs beside live traffic, and dying halfway changes nothing.

Real threads post, comment, vote and fail logins (each through the services,
each its own connection) and read every projection while `replay_events`
rebuilds all of them from the log; a real subprocess rebuilding is killed
with SIGKILL in the middle of its build.
"""

import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from community_app.models import Post
from eventstore import parallel_build, shadow
from eventstore.errors import ShadowInUse, SwapWouldLose
from eventstore.models import ParkedEvent
from eventstore.projection_diff import check_projections
from eventstore.projections import registered_projections
from eventstore.replay import rebuild_projections
from eventstore.shadow_build import build_groups
from tests.rebuild_workload import (
    Traffic,
    make_authors,
    snapshot_inline,
    write_once,
)

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[3]


def all_projections():
    return list(registered_projections().values())


def table_oid(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)::oid", [table])
        return cursor.fetchone()[0]


def assert_no_drift() -> None:
    for name, (_applied, tables) in check_projections(all_projections(), batch_size=500).items():
        for table, diff in tables.items():
            assert diff.identical, f"{name} {table}: {diff}"


def test_readers_and_writers_keep_working_while_every_projection_is_rebuilt(caplog):
    authors = make_authors()
    rng, posts = random.Random(1), []
    for _ in range(150):
        write_once(rng, authors, posts)
    parked_before = ParkedEvent.objects.count()
    post_table = table_oid("community_app_post")

    with Traffic(authors) as traffic:
        while traffic.writes < 5:
            time.sleep(0.01)
        writes_before = traffic.writes
        # Small batches: many build transactions, with writes landing between them.
        with caplog.at_level(logging.INFO, logger="eventstore.replay"):
            applied = rebuild_projections(all_projections(), batch_size=25)
        writes_during = traffic.writes - writes_before
        latencies = sorted(traffic.write_seconds[writes_before:])
        reads_during = traffic.reads
    assert not traffic.errors, traffic.errors[0]
    assert writes_during > 0 and reads_during > 0, "traffic ran during the rebuild"
    assert applied["community.posts"] > 0
    assert table_oid("community_app_post") != post_table, "the rebuilt table was swapped in"
    assert ParkedEvent.objects.count() == parked_before
    swaps = [r.getMessage() for r in caplog.records if "swapped in" in r.getMessage()]
    assert len(swaps) == 2, swaps  # the inline projections together, then the async one
    print("\n".join(swaps), f"\n{writes_during} writes and {reads_during} reads during the rebuild")
    p50, p99 = latencies[len(latencies) // 2], latencies[min(len(latencies) - 1, len(latencies) * 99 // 100)]
    print(
        f"write latency during the rebuild: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )
    # What live processing left equals the log: both now, and after another rebuild.
    assert_no_drift()
    live = snapshot_inline()
    rebuild_projections(all_projections())
    assert snapshot_inline() == live
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = ANY(%s)",
            [[shadow.REBUILD_SCHEMA, shadow.RETIRED_SCHEMA]],
        )
        assert cursor.fetchone()[0] == 0, "no shadow or retired tables are left behind"


def rebuild_subprocess_env() -> dict[str, str]:
    settings = connection.settings_dict
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "platform_site.settings.test"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    env["DATABASE_URL"] = (
        f"postgres://{settings['USER'] or 'postgres'}{password}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )
    return env


def shadow_rows(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"{shadow.REBUILD_SCHEMA}.{table}"])
        if cursor.fetchone()[0] is None:
            return 0
        cursor.execute(f"SELECT count(*) FROM {shadow.REBUILD_SCHEMA}.{table}")
        return cursor.fetchone()[0]


def written_and_rebuilt(seed: int, writes: int) -> tuple[dict, dict[str, int]]:
    """`writes` commands through the services, then every projection rebuilt (the live tables hold the
    whole log, earlier tests' too); returns the inline projections' rows and every table's oid."""
    authors = make_authors()
    rng, posts = random.Random(seed), []
    for _ in range(writes):
        write_once(rng, authors, posts)
    rebuild_projections(all_projections())
    return snapshot_inline(), {t: table_oid(t) for p in all_projections() for t in p.table_names()}


def test_a_rebuild_killed_halfway_leaves_the_live_state_and_can_run_again():
    live, oids = written_and_rebuilt(2, 200)
    total_posts = len(live["community.posts"]["community_app_post"])

    rebuild = subprocess.Popen(
        [sys.executable, "manage.py", "replay_events", "--no-input", "--batch-size", "2", "--verbosity", "0"],
        cwd=ROOT,
        env=rebuild_subprocess_env(),
    )
    try:
        deadline = time.monotonic() + 120
        while not (0 < shadow_rows("community_app_post") < total_posts // 2):
            assert rebuild.poll() is None, "the rebuild ended before it was killed"
            assert time.monotonic() < deadline, "the rebuild never got halfway"
            time.sleep(0.005)
        rebuild.send_signal(signal.SIGKILL)
    finally:
        rebuild.wait()

    assert snapshot_inline() == live
    assert {t: table_oid(t) for t in oids} == oids, "the live tables were never replaced"
    # The killed session's lock on the shadow goes with its backend; the rerun waits for that.
    started, deadline = time.monotonic(), time.monotonic() + 30
    while True:
        try:
            rebuild_projections(all_projections())
            break
        except ShadowInUse:
            assert time.monotonic() < deadline, "the killed rebuild's lock was never released"
            time.sleep(0.1)
    print(f"rerun after kill -9 succeeded {time.monotonic() - started:.2f} s after the kill")
    assert snapshot_inline() == live
    assert_no_drift()


def test_followers_see_events_written_during_a_rebuild_before_it_ends():
    """The build holds the horizon for one batch at a time, so the relay and subscribers keep going."""
    from eventstore.reading import horizon

    authors = make_authors()
    rng, posts = random.Random(6), []
    for _ in range(150):
        write_once(rng, authors, posts)
    written: list[int] = []
    followable_during_rebuild: list[bool] = []

    def in_own_connection(action):
        thread = threading.Thread(target=lambda: (action(), connection.close()))
        thread.start()
        thread.join(timeout=60)

    def write_one_then_watch_the_horizon(_count: int) -> None:
        if not written:
            in_own_connection(lambda: (write_once(rng, authors, posts), written.append(last_position())))
        elif not followable_during_rebuild:
            in_own_connection(lambda: horizon() > written[0] and followable_during_rebuild.append(True))

    rebuild_projections(all_projections(), batch_size=10, progress=write_one_then_watch_the_horizon)
    assert written and followable_during_rebuild == [True]


def last_position() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(position) FROM eventstore_event")
        return cursor.fetchone()[0]


def table_structure(table: str) -> dict:
    """What the migrations and an operator made of a table, as the catalog says: columns (with their
    statistics targets and n_distinct), indexes, constraints, grants, storage parameters, replica identity."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, format_type(atttypid, atttypmod), attnotnull, attidentity, attstattarget, "
            "ARRAY(SELECT o FROM unnest(attoptions) AS o WHERE o LIKE 'n_distinct%%') FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [table],
        )
        columns = cursor.fetchall()
        cursor.execute(
            "SELECT c.relname, regexp_replace(pg_get_indexdef(i.indexrelid), ' ON \\S+ ', ' ON t '), "
            "i.indisreplident FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass",
            [table],
        )
        indexes = sorted(cursor.fetchall())
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass",
            [table],
        )
        constraints = sorted(cursor.fetchall())
        cursor.execute(
            # The privileges as granted (an ACL that spells out the owner's defaults is the same as none).
            "SELECT ARRAY(SELECT format('%%s>%%s:%%s%%s', pg_get_userbyid(a.grantor), "
            "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, "
            "CASE WHEN a.is_grantable THEN '*' ELSE '' END) "
            "FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS a), "
            "c.reloptions, t.reloptions, c.relreplident FROM pg_class c "
            "LEFT JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = %s::regclass",
            [table],
        )
        grants, options, toast_options, identity = cursor.fetchone()
    return {
        "columns": columns,
        "indexes": indexes,
        "constraints": constraints,
        "grants": sorted(grants or []),
        "options": sorted(options or []),
        "toast options": sorted(toast_options or []),
        "replica identity": identity,
    }


# What an operator tunes on live tables, and how it is taken back after the test.
OPERATOR_SETTINGS = [
    (
        "ALTER TABLE community_app_post SET (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.01, "
        "toast.autovacuum_enabled = false)",
        "ALTER TABLE community_app_post RESET (fillfactor, autovacuum_vacuum_scale_factor, "
        "toast.autovacuum_enabled)",
    ),
    (
        "ALTER TABLE community_app_post ALTER COLUMN body SET STATISTICS 0",
        "ALTER TABLE community_app_post ALTER COLUMN body SET STATISTICS -1",
    ),
    (
        "ALTER TABLE community_app_vote ALTER COLUMN voter_id SET (n_distinct = -0.5)",
        "ALTER TABLE community_app_vote ALTER COLUMN voter_id RESET (n_distinct)",
    ),
    (
        "ALTER TABLE community_app_vote REPLICA IDENTITY USING INDEX community_vote_once",
        "ALTER TABLE community_app_vote REPLICA IDENTITY DEFAULT",
    ),
    (
        "ALTER TABLE community_app_comment REPLICA IDENTITY FULL",
        "ALTER TABLE community_app_comment REPLICA IDENTITY DEFAULT",
    ),
    (
        "GRANT SELECT ON community_app_vote, eventstore_eventstat TO PUBLIC",
        "REVOKE SELECT ON community_app_vote, eventstore_eventstat FROM PUBLIC",
    ),
]


def test_the_swapped_in_tables_are_what_the_migrations_and_the_operator_made():
    tables = [t for p in all_projections() for t in p.table_names()]
    untouched = {t: table_structure(t) for t in tables}
    with connection.cursor() as cursor:
        for setting, _undo in OPERATOR_SETTINGS:
            cursor.execute(setting)
    try:
        before = {t: table_structure(t) for t in tables}
        for table in (
            "community_app_post",
            "community_app_vote",
            "community_app_comment",
            "eventstore_eventstat",
        ):
            assert before[table] != untouched[table], f"the test's settings did not change {table}"
        rebuild_projections(all_projections())
        after = {t: table_structure(t) for t in tables}
        assert after == before
    finally:
        with connection.cursor() as cursor:
            for _setting, undo in OPERATOR_SETTINGS:
                cursor.execute(undo)
    assert {t: table_structure(t) for t in tables} == untouched


def table_owners(tables: list[str]) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, pg_get_userbyid(relowner) FROM pg_class WHERE oid = ANY(%s::regclass[])",
            [tables],
        )
        return dict(cursor.fetchall())


@pytest.fixture
def other_role():
    """A role of this test's own (roles are the cluster's: other databases' tests must not meet it)."""
    name = f"test_role_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {name} NOLOGIN")
    try:
        yield name
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute(f"REASSIGN OWNED BY {name} TO current_user")
            cursor.execute(f"DROP OWNED BY {name}")
            cursor.execute(f"DROP ROLE {name}")


def test_grants_and_settings_changed_while_the_rebuild_builds_are_what_the_swap_leaves(
    monkeypatch, other_role
):
    """Copied when the shadow is made, they are copied again under the swap's locks if they changed."""
    tables = [t for p in all_projections() for t in p.table_names()]
    untouched = {t: table_structure(t) for t in tables}
    with connection.cursor() as cursor:
        cursor.execute("GRANT SELECT ON community_app_post TO PUBLIC")
    changed: dict[str, dict] = {}
    build_together = parallel_build.build_together

    def build_while_an_operator_changes_them(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("REVOKE SELECT ON community_app_post FROM PUBLIC")
            cursor.execute(f"GRANT UPDATE ON community_app_comment TO {other_role} WITH GRANT OPTION")
            for setting, _undo in OPERATOR_SETTINGS:
                cursor.execute(setting)
        changed.update({t: table_structure(t) for t in tables})
        build_together(*args, **kwargs)

    monkeypatch.setattr(parallel_build, "build_together", build_while_an_operator_changes_them)
    try:
        rebuild_projections(all_projections())
        assert changed, "the build did not run"
        assert {t: table_structure(t) for t in tables} == changed
        assert not [g for g in changed["community_app_post"]["grants"] if ">PUBLIC:" in g], "not revoked"
        assert [g for g in changed["community_app_comment"]["grants"] if f">{other_role}:UPDATE*" in g]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("REVOKE SELECT ON community_app_post FROM PUBLIC")
            cursor.execute(f"REVOKE UPDATE ON community_app_comment FROM {other_role} CASCADE")
            for _setting, undo in OPERATOR_SETTINGS:
                cursor.execute(undo)
    assert {t: table_structure(t) for t in tables} == untouched


def test_a_rebuild_run_as_another_role_leaves_the_tables_to_their_owner(other_role):
    # The migrations' role owns the tables; an operator rebuilds as a superuser (this session).
    tables = [t for p in all_projections() for t in p.table_names()]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ALTER TABLE {table} OWNER TO {other_role}")
    before = {t: table_structure(t) for t in tables}
    rebuild_projections(all_projections())
    assert table_owners(tables) == dict.fromkeys(tables, other_role)
    assert {t: table_structure(t) for t in tables} == before


def test_a_rebuild_refuses_a_role_that_could_not_give_the_tables_to_their_owner(other_role):
    tables = [t for p in all_projections() for t in p.table_names()]
    oids = {t: table_oid(t) for t in tables}
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (owner,) = cursor.fetchone()
        cursor.execute(f"SET ROLE {other_role}")  # a member of nothing: it may not act as the owner
    try:
        refused = pytest.raises(
            SwapWouldLose, match=rf"run the rebuild as the projection tables' owner \({owner},"
        )
        with refused, transaction.atomic():  # one connection: this session's role
            rebuild_projections(all_projections())
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    assert {t: table_oid(t) for t in tables} == oids
    assert shadow_schema_exists() is False


# What a swap would drop with the retired table, each made on a live table, and taken back.
WOULD_BE_LOST = {
    "trigger": (
        "CREATE FUNCTION test_keep_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$; "
        "CREATE TRIGGER test_audit BEFORE INSERT ON community_app_vote FOR EACH ROW EXECUTE FUNCTION test_keep_row()",
        "DROP TRIGGER test_audit ON community_app_vote; DROP FUNCTION test_keep_row()",
        "community_app_vote: trigger test_audit",
    ),
    "view": (
        "CREATE VIEW test_top_posts AS SELECT id, score FROM community_app_post ORDER BY score DESC",
        "DROP VIEW test_top_posts",
        "community_app_post: view test_top_posts",
    ),
    "foreign key": (
        "CREATE TABLE test_bookmark (post_id uuid REFERENCES community_app_post (id))",
        "DROP TABLE test_bookmark",
        "community_app_post: foreign key test_bookmark_post_id_fkey of test_bookmark",
    ),
    "row security": (
        "ALTER TABLE community_app_comment ENABLE ROW LEVEL SECURITY; "
        "CREATE POLICY test_own ON community_app_comment USING (author_id > 0)",
        "DROP POLICY test_own ON community_app_comment; ALTER TABLE community_app_comment DISABLE ROW LEVEL SECURITY",
        "community_app_comment: policy test_own",
    ),
    "publication": (
        "CREATE PUBLICATION test_feed FOR TABLE links_app_link",
        "DROP PUBLICATION test_feed",
        "links_app_link: publication test_feed",
    ),
}


@pytest.mark.parametrize("kind", sorted(WOULD_BE_LOST))
def test_a_rebuild_refuses_before_building_when_the_swap_would_drop_what_a_live_table_has(kind):
    make, undo, named = WOULD_BE_LOST[kind]
    live, oids = written_and_rebuilt(5, 20)
    assert shadow.check_rebuilds_can_swap() == []
    with connection.cursor() as cursor:
        cursor.execute(make)
    try:
        # `manage.py check --database` says so ahead of the release step's rebuild.
        warnings = shadow.check_rebuilds_can_swap()
        assert [w.id for w in warnings] == ["eventstore.W002"] * len(warnings)
        table, what = named.split(": ")
        assert f"a rebuild of {table} would refuse: it has {what}" in [w.msg for w in warnings]
        with pytest.raises(CommandError, match=named):
            call_command("replay_events", "--no-input", verbosity=0)
        assert {t: table_oid(t) for t in oids} == oids, "a live table was replaced"
        assert snapshot_inline() == live
        assert shadow_schema_exists() is False
        assert_no_drift()  # the audit swaps nothing in: it still runs
    finally:
        with connection.cursor() as cursor:
            cursor.execute(undo)
    rebuild_projections(all_projections())  # without it, the rebuild goes through
    assert snapshot_inline() == live
    assert {t: table_oid(t) for t in oids} != oids


def test_a_view_made_while_the_rebuild_builds_stops_its_swap(monkeypatch):
    live, oids = written_and_rebuilt(6, 20)
    build_together = parallel_build.build_together

    def build_while_an_operator_makes_a_view(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("CREATE VIEW test_scores AS SELECT id, score FROM community_app_post")
        build_together(*args, **kwargs)

    monkeypatch.setattr(parallel_build, "build_together", build_while_an_operator_makes_a_view)
    try:
        with pytest.raises(SwapWouldLose, match="community_app_post: view test_scores"):
            rebuild_projections(all_projections())
        assert {t: table_oid(t) for t in oids} == oids, "a live table was replaced"
        assert snapshot_inline() == live
        assert shadow_schema_exists() is False
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM test_scores")
            assert cursor.fetchone()[0] == len(live["community.posts"]["community_app_post"])
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP VIEW IF EXISTS test_scores")


def test_a_view_made_while_building_on_the_last_group_to_swap_stops_every_swap(monkeypatch):
    """Checked only under each group's own locks, the groups before it would already be swapped."""
    live, oids = written_and_rebuilt(6, 20)
    groups = build_groups(all_projections())
    assert len(groups) > 1
    (table, *_) = groups[-1][0].table_names()
    build_together = parallel_build.build_together

    def build_while_an_operator_makes_a_view(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE VIEW test_last_group AS SELECT 1 AS one FROM {table}")
        build_together(*args, **kwargs)

    monkeypatch.setattr(parallel_build, "build_together", build_while_an_operator_makes_a_view)
    try:
        with pytest.raises(SwapWouldLose, match=f"{table}: view test_last_group"):
            rebuild_projections(all_projections())
        assert {t: table_oid(t) for t in oids} == oids, "a live table was replaced"
        assert snapshot_inline() == live
        assert shadow_schema_exists() is False
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP VIEW IF EXISTS test_last_group")


def shadow_schema_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regnamespace(%s) IS NOT NULL", [shadow.REBUILD_SCHEMA])
        return cursor.fetchone()[0]


def test_a_swap_that_cannot_get_its_locks_lets_readers_through_and_tries_again(caplog):
    """A transaction holding a live table: the swap gives up after 200 ms at a time, readers never wait longer."""
    authors = make_authors()
    rng, posts = random.Random(7), []
    for _ in range(60):
        write_once(rng, authors, posts)
    holding, done = threading.Event(), threading.Event()
    reader_errors: list[str] = []

    def hold_the_posts_table() -> None:
        with transaction.atomic():
            list(Post.objects.all()[:1])  # ACCESS SHARE until commit, as a long report would
            holding.set()
            time.sleep(1.5)
        connection.close()

    def read_under_a_lock_timeout() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '1s'")
            while not done.is_set():
                Post.objects.count()
        except Exception as exc:
            reader_errors.append(repr(exc))
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_posts_table)
    reader = threading.Thread(target=read_under_a_lock_timeout)
    holder.start()
    reader.start()
    holding.wait(timeout=30)
    try:
        with caplog.at_level(logging.INFO, logger="eventstore.replay"):
            rebuild_projections([registered_projections()["community.posts"]])
    finally:
        done.set()
        holder.join(timeout=30)
        reader.join(timeout=30)
    (swap,) = [r.getMessage() for r in caplog.records if "swapped in" in r.getMessage()]
    attempt = int(swap.rsplit("attempt ", 1)[1])
    assert attempt >= 2, swap
    assert not reader_errors, reader_errors
    print(swap)


def test_subscribers_keep_delivering_during_a_rebuild_and_the_async_swap_meets_a_live_consumer():
    """The relay and the event-statistics consumer run all along; afterwards every projection equals the log."""
    from eventstore import streams
    from eventstore.consumer import drain_subscriber_partition
    from eventstore.models import Checkpoint
    from eventstore.relay import relay_pending, subscriber_checkpoint_name
    from tests.conftest import start_at_head, wait_until_followable

    stats = registered_projections()["eventstore.event_stats"]
    start_at_head()
    rebuild_projections([stats])
    names = [subscriber_checkpoint_name(stats.name, p) for p in range(streams.partition_count())]

    def delivered() -> int:
        return max(Checkpoint.objects.filter(name__in=names).values_list("position", flat=True))

    authors = make_authors()
    delivery_errors: list[str] = []
    stop = threading.Event()

    def deliver() -> None:
        try:
            while not stop.is_set():
                relay_pending()
                for partition in range(streams.partition_count()):
                    drain_subscriber_partition(stats.name, partition)
                time.sleep(0.02)
        except Exception as exc:
            delivery_errors.append(repr(exc))
        finally:
            connection.close()

    seen: list[int] = []
    delivery = threading.Thread(target=deliver)
    delivery.start()
    try:
        with Traffic(authors, readers=1) as traffic:
            while traffic.writes < 5:
                time.sleep(0.01)
            appended_before = last_position()
            writes_before = traffic.writes
            rebuild_projections(
                all_projections(), batch_size=25, progress=lambda _n: seen.append(delivered())
            )
            appended_during = traffic.writes > writes_before
        assert not traffic.errors, traffic.errors[0]
    finally:
        stop.set()
        delivery.join(timeout=60)
    assert not delivery_errors, delivery_errors
    assert appended_during, "traffic ran during the rebuild"
    # Bounded lag: before the rebuild ended, the subscriber had delivered an event that was
    # appended after it began; a rebuild holding the horizon (or the checkpoints) would stop it.
    assert max(seen) > appended_before, (max(seen), appended_before)
    wait_until_followable(last_position())
    relay_pending()
    for partition in range(streams.partition_count()):
        drain_subscriber_partition(stats.name, partition)
    assert_no_drift()
