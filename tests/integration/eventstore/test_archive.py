"""manage.py archive_events and replay_events --archive, on a log of their own (issue 22).

Archiving takes the log's oldest partitions, so these tests run on a private
database (migrated here, dropped at the end): the shared test database's log
holds other tests' events, which no test may take away. The relay and every
subscriber really run over the private log before it is archived.
"""

from __future__ import annotations

import io
import random
import shutil

import orjson
import psycopg
import pytest
import zstandard
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test import override_settings

from auth_app.services import user_forget_with_receipt, user_register
from eventstore import delivery_ledger, partitions, privacy, streams
from eventstore.archive import files
from eventstore.archive.archiving import archive_before
from eventstore.bus import publish
from eventstore.consumer import drain_subscriber_partition
from eventstore.errors import ArchiveInvalid, DeliveryCheckOvertaken, EventIdConflict
from eventstore.privacy import erasure_checks
from eventstore.privacy.erasure_traces import collect_traces
from eventstore.reading import _to_recorded_batch, read_events_by_id
from eventstore.redis import get_redis
from eventstore.relay import relay_pending
from eventstore.subscribers import registered_subscribers
from tests.integration.eventstore.test_partitions import cross_a_partition_bound, partition_of
from tests.integration.test_replay_equals_live import random_workload, snapshot_all
from tests.sample_events import THING_HAPPENED


@pytest.fixture(scope="module")
def private_log(django_db_setup, django_db_blocker):
    """The default connection pointed at a database of its own, migrated, for this module."""
    shared = connection.settings_dict["NAME"]
    name = f"{shared}_archiving"
    admin = {"host": connection.settings_dict["HOST"], "user": connection.settings_dict["USER"]}
    with django_db_blocker.unblock():
        with psycopg.connect(**admin, dbname="postgres", autocommit=True) as server:
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            server.execute(f'CREATE DATABASE "{name}"')
        connection.close()
        connection.settings_dict["NAME"] = name
        get_redis().flushdb()  # the relay's streams must hold this log's events only
        try:
            call_command("migrate", verbosity=0, interactive=False)
            yield name
        finally:
            get_redis().flushdb()
            connection.close()
            connection.settings_dict["NAME"] = shared
            with psycopg.connect(**admin, dbname="postgres", autocommit=True) as server:
                server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_access(private_log, django_db_blocker):
    with django_db_blocker.unblock():
        yield


def deliver_everything() -> None:
    """The relay and every subscriber, in every partition, run until they have handled the whole log."""
    while relay_pending()[0]:
        pass
    for name in registered_subscribers():
        for partition in range(streams.partition_count()):
            drain_subscriber_partition(name, partition)


@pytest.fixture(scope="module")
def archive_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("archive")


def test_a_partition_some_subscriber_has_not_handled_is_refused(db_access, archive_dir):
    with transaction.atomic():
        event = publish(THING_HAPPENED, stream_id="thing-undelivered", data={"label": "x"})
    cross_a_partition_bound(event.position)
    held = partition_of(event.position)
    bound = next(upper for name, _lower, upper in partitions.partitions() if name == held)
    report = archive_before(archive_dir, before_position=bound)
    assert held not in [e.partition for e in report.archived]  # the empty partitions before it may go
    assert report.stopped_at.startswith(held) and "not delivered everywhere" in report.stopped_at
    assert "relay at none" in report.stopped_at
    assert partition_of(event.position) == held  # still attached
    assert not (archive_dir / f"{held}.jsonl.zst").exists()


@pytest.fixture(scope="module")
def archived(private_log, django_db_blocker, archive_dir):
    """A workload with personal data, delivered, replayed, then its partitions archived and detached."""
    directory = archive_dir
    with django_db_blocker.unblock():
        random_workload(random.Random(22))
        person = user_register(
            username="archived1", email="kept.secret@example.com", password="a-Long-pass-123"
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT max(position) FROM eventstore_event")
            newest = cursor.fetchone()[0]
        cross_a_partition_bound(newest)
        deliver_everything()
        # The whole log (the refusal test may have archived its empty first partitions already).
        archive = ["--archive", str(directory)] if files.load_manifest(directory) else []
        call_command("replay_events", "--no-input", *archive, verbosity=0)
        before = snapshot_all()
        bound = next(upper for _name, _lower, upper in partitions.partitions() if upper > newest)
        out = io.StringIO()
        call_command("archive_events", "--before", str(bound), "--dir", str(directory), stdout=out)
        yield {
            "directory": directory,
            "before": before,
            "person": person,
            "bound": bound,
            "output": out.getvalue(),
        }


def test_archived_partitions_are_detached_after_their_files_were_verified(archived, db_access):
    entries = files.load_manifest(archived["directory"])
    assert entries and entries[0].lower_bound is None
    assert entries[-1].upper_bound == archived["bound"], archived["output"]
    assert partitions.archived_before() == archived["bound"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM eventstore_event WHERE position < %s", [archived["bound"]])
        assert cursor.fetchone()[0] == 0
    assert sum(e.count for e in entries) > 50
    assert files.check_all(archived["directory"]) == entries
    assert "Archived" in archived["output"]


def test_replay_from_the_archive_and_the_live_log_equals_the_replay_of_the_whole_log(archived, db_access):
    with pytest.raises(CommandError, match="--archive DIR"):
        call_command("replay_events", "--no-input", verbosity=0)
    call_command("replay_events", "--no-input", "--archive", str(archived["directory"]), verbosity=0)
    assert snapshot_all() == archived["before"]


def test_an_archived_event_id_stays_taken(archived, db_access):
    entry = next(e for e in files.load_manifest(archived["directory"]) if e.count)
    line = next(files.read_lines(archived["directory"] / entry.file))
    stored = orjson.loads(line)
    assert read_events_by_id([stored["id"]]) == []
    with pytest.raises(EventIdConflict, match="archived"), transaction.atomic():
        publish(THING_HAPPENED, stream_id=stored["stream_id"], data={"label": "again"}, event_id=stored["id"])


def test_a_forgotten_users_data_stays_unreadable_in_the_archive(archived, db_access):
    directory = archived["directory"]
    everything = b"".join(
        line for e in files.load_manifest(directory) for line in files.read_lines(directory / e.file)
    )
    assert b"kept.secret@example.com" not in everything  # sealed as stored, never written in clear
    person = archived["person"]
    with override_settings(EVENTSTORE_ARCHIVE_DIR=str(directory)):
        receipt = user_forget_with_receipt(username=person.username)
    [archives] = [check for check in receipt.checks if check["place"] == "archives"]
    assert archives["status"] == "passed", archives
    assert archives["checked"] == sum(e.count for e in files.load_manifest(directory))
    rows = [row for e in files.load_manifest(directory) for row in files.events_of(directory / e.file)]
    (created,) = [
        event
        for event in _to_recorded_batch(rows)
        if event.type == "user:created" and event.stream_id == f"user-{person.pk}"
    ]
    assert created.data["email"] == privacy.ERASED


def test_a_tampered_archive_file_fails_verification(archived, db_access, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(archived["directory"], copy)
    entry = next(e for e in files.load_manifest(copy) if e.count)
    index = files.load_manifest(copy).index(entry)
    path = copy / entry.file
    # One event changed, the file recompressed and its SHA-256 written into the manifest:
    # the rows no longer match what the manifest says they were.
    lines = list(files.read_lines(path))
    changed = orjson.loads(lines[0]) | {"source": "tampered"}
    lines[0] = orjson.dumps(changed, option=orjson.OPT_SORT_KEYS) + b"\n"
    path.write_bytes(zstandard.ZstdCompressor().compress(b"".join(lines)))
    manifest = orjson.loads((copy / files.MANIFEST).read_bytes())
    manifest["partitions"][index]["file_sha256"] = files.file_sha256(path)
    (copy / files.MANIFEST).write_bytes(orjson.dumps(manifest))
    with pytest.raises(ArchiveInvalid, match="rows differ"):
        files.check_all(copy)
    with pytest.raises(CommandError, match="rows differ"):
        call_command("replay_events", "--no-input", "--archive", str(copy), verbosity=0)
    # A byte flipped in the file as written: its SHA-256 no longer matches.
    shutil.copy(archived["directory"] / entry.file, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    manifest["partitions"][index]["file_sha256"] = entry.file_sha256
    (copy / files.MANIFEST).write_bytes(orjson.dumps(manifest))
    with pytest.raises(ArchiveInvalid, match="SHA-256"):
        files.check_all(copy)


def test_the_delivery_check_covers_the_live_log_after_archiving(archived, db_access):
    reports = delivery_ledger.verify(save=False)
    assert reports and all(r.missed == 0 and r.doubled == 0 and not r.findings for r in reports), reports


def test_the_erasure_receipt_names_an_archive_file_that_holds_a_copy_in_the_clear(
    archived, db_access, tmp_path
):
    copy = tmp_path / "copy"
    shutil.copytree(archived["directory"], copy)
    entry = next(e for e in files.load_manifest(copy) if e.count)
    planted = b'{"position": 1, "data": {"note": "mail kept.copy@example.com"}}\n'
    (copy / entry.file).write_bytes(zstandard.ZstdCompressor().compress(planted))
    traces = collect_traces("user-0", known_values=["kept.copy@example.com"])
    with override_settings(EVENTSTORE_ARCHIVE_DIR=str(copy)):
        found = erasure_checks.check_archives(traces)
        clean = erasure_checks.check_archives(collect_traces("user-0", known_values=["nowhere@example.com"]))
    assert found.status == "failed" and entry.file in found.detail
    assert "kept.copy" not in found.detail
    assert clean.status == "passed"


def test_verify_projections_reads_the_archive_then_the_live_log_and_catches_a_drift(archived, db_access):
    from eventstore.tasks import verify_projections

    directory = str(archived["directory"])
    with pytest.raises(
        CommandError, match="--archive DIR"
    ):  # the live log alone would miss the archived events
        call_command("verify_projections", stdout=io.StringIO())
    assert verify_projections() == -1  # the beat job says why and audits nothing
    out = io.StringIO()
    call_command("verify_projections", "--archive", directory, stdout=out)
    assert "equal the log" in out.getvalue()
    with override_settings(EVENTSTORE_ARCHIVE_DIR=directory):
        assert verify_projections() == 0

    with connection.cursor() as cursor:  # a post whose events are all archived
        cursor.execute("SELECT id FROM community_app_post ORDER BY id LIMIT 1")
        (post,) = cursor.fetchone()
        cursor.execute("UPDATE community_app_post SET score = score + 100 WHERE id = %s", [post])
    try:
        out = io.StringIO()
        with pytest.raises(CommandError, match="1 table"):
            call_command("verify_projections", "--archive", directory, stdout=out)
        assert (
            f"DRIFT community.posts community_app_post: 0 only live, 0 only rebuilt, 1 differing (e.g. id={post})"
            in out.getvalue()
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE community_app_post SET score = score - 100 WHERE id = %s", [post])


def test_a_delivery_check_that_archiving_overtook_is_refused(archived, db_access, monkeypatch):
    """The check reads the log after its snapshot of the ledgers: partitions archived meanwhile would
    show as missed events, so it refuses instead. Last in this module: it archives one partition more."""
    with transaction.atomic():
        event = publish(THING_HAPPENED, stream_id="thing-overtaken", data={"label": "x"})
    cross_a_partition_bound(event.position)
    deliver_everything()
    bound = next(upper for _name, _lower, upper in partitions.partitions() if upper > event.position)
    check_one = delivery_ledger._check

    def archived_first(state):  # archive_events runs between the snapshot and the reads of the log
        monkeypatch.setattr(delivery_ledger, "_check", check_one)
        archive_before(archived["directory"], before_position=bound)
        return check_one(state)

    monkeypatch.setattr(delivery_ledger, "_check", archived_first)
    with pytest.raises(DeliveryCheckOvertaken, match="run it again"):
        delivery_ledger.verify(save=False)
    assert partitions.archived_before() == bound
    assert all(report.ok for report in delivery_ledger.verify(save=False))
