"""Archiving the log's oldest partitions: export, verify, record, and only then detach.

Run as the owner of the log (detaching and dropping a partition are the
owner's; the application role can do neither). Partitions go oldest first and
whole, so the archived part is always a prefix of the log, and the archive
directory's manifest describes it from the first position on.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import OperationalError, connection, transaction
from psycopg import errors

from .. import partitions
from ..reading import collector_paused
from . import eligibility, files

_EXPORT_BATCH = 5000


@dataclass
class ArchiveReport:
    archived: list[files.ArchivedPartition] = field(default_factory=list)
    stopped_at: str | None = None  # the first partition left in the log, and why


def archive_before(
    directory: Path,
    *,
    before_position: int | None = None,
    before_date: datetime.datetime | None = None,
    keep: bool = False,
    dry_run: bool = False,
    say: Callable[[str], None] = lambda _line: None,
) -> ArchiveReport:
    """Archive, oldest first, the partitions wholly before the position (or recorded before the date)."""
    if (before_position is None) == (before_date is None):
        raise ValueError("give exactly one of before_position and before_date")
    directory.mkdir(parents=True, exist_ok=True)
    entries = files.load_manifest(directory)
    report = ArchiveReport()
    for name, lower, upper in partitions.partitions():
        candidate = eligibility.describe(name, lower, upper)
        if not _wanted(candidate, before_position, before_date):
            report.stopped_at = f"{name}: not wholly before the given bound"
            break
        why = eligibility.refusal(candidate) or _not_contiguous(entries, candidate)
        if why:
            report.stopped_at = f"{name}: {why}"
            break
        if dry_run:
            say(f"would archive {name} ({candidate.count} events)")
            continue
        entry = _export_and_verify(directory, candidate)
        entries = [e for e in entries if e.partition != name] + [entry]
        files.save_manifest(directory, entries)
        _detach(name, keep=keep)
        report.archived.append(entry)
        say(f"archived {name}: {entry.count} events to {entry.file}, {'kept' if keep else 'dropped'}")
    return report


def _wanted(candidate: eligibility.Candidate, before_position: int | None, before_date) -> bool:
    if before_position is not None:
        return candidate.upper_bound <= before_position
    return candidate.newest_recorded_at is not None and candidate.newest_recorded_at < before_date


def _not_contiguous(entries: list[files.ArchivedPartition], candidate: eligibility.Candidate) -> str | None:
    others = [e for e in entries if e.partition != candidate.partition]
    if not others:
        if candidate.lower_bound is not None:
            return "the archive directory is empty but this is not the log's first partition (use the directory that holds the earlier ones)"
        return None
    last = max(others, key=lambda e: e.upper_bound)
    if last.upper_bound != candidate.lower_bound:
        return f"the archive directory ends at {last.upper_bound}, this partition begins at {candidate.lower_bound}"
    return None


def _export_and_verify(directory: Path, candidate: eligibility.Candidate) -> files.ArchivedPartition:
    file_name = f"{candidate.partition}.jsonl.zst"
    path = directory / file_name
    with transaction.atomic():  # one snapshot: the rows written are the rows compared
        written = files.write_rows(path, _rows(candidate.partition))
        in_log = _digest_of_log(candidate.partition)
    from_file = files.summarize(path)
    expected = (candidate.count, candidate.first_position, candidate.last_position)
    for label, found in (("written", written), ("read back", from_file), ("in the log", in_log)):
        if (found.count, found.first_position, found.last_position) != expected:
            raise files.ArchiveInvalid(
                f"{file_name}: {label}: {found.count} rows, expected {candidate.count}"
            )
    if not (written.rows_sha256 == from_file.rows_sha256 == in_log.rows_sha256):
        raise files.ArchiveInvalid(
            f"{file_name}: the file's rows differ from the partition's; it stays attached"
        )
    if from_file.file_sha256 != written.file_sha256:
        raise files.ArchiveInvalid(f"{file_name}: changed while it was being verified")
    return files.ArchivedPartition(
        partition=candidate.partition,
        lower_bound=candidate.lower_bound,
        upper_bound=candidate.upper_bound,
        first_position=candidate.first_position,
        last_position=candidate.last_position,
        count=candidate.count,
        rows_sha256=written.rows_sha256,
        file=file_name,
        file_sha256=written.file_sha256,
    )


def _rows(partition: str) -> Iterator[tuple]:
    """The partition's rows in position order, as stored, through a server-side cursor."""
    columns = ", ".join(f"{c}::text" if c in ("data", "metadata") else c for c in files.COLUMNS)
    with connection.connection.cursor(name="eventstore_archive", binary=True) as cursor:
        cursor.itersize = _EXPORT_BATCH
        cursor.execute(f'SELECT {columns} FROM "{partition}" ORDER BY position')  # a catalog name
        while rows := cursor.fetchmany(_EXPORT_BATCH):
            with collector_paused():
                yield from rows


def _digest_of_log(partition: str) -> files.Written:
    """The partition's rows read again, as the canonical lines the file should hold."""
    found, digest = files.Written(), hashlib.sha256()
    for row in _rows(partition):
        digest.update(files.canonical_line(row))
        found.count += 1
        if found.first_position is None:
            found.first_position = row[0]
        found.last_position = row[0]
    found.rows_sha256 = digest.hexdigest()
    return found


# DETACH locks the whole log (ACCESS EXCLUSIVE: CONCURRENTLY is refused while the log has a
# default partition, migration 0013) for the moment the catalog change takes. It queues behind
# running queries of the log and holds every new one behind it meanwhile, so it waits at most
# this long for them and tries again, rather than stall the platform behind a long reader.
DETACH_LOCK_TIMEOUT = "2s"
DETACH_TRIES = 5


def _detach(partition: str, *, keep: bool) -> None:
    for attempt in range(1, DETACH_TRIES + 1):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{DETACH_LOCK_TIMEOUT}'")
                cursor.execute(
                    f'ALTER TABLE eventstore_event DETACH PARTITION "{partition}"'
                )  # a catalog name
                if not keep:
                    cursor.execute(f'DROP TABLE "{partition}"')
            return
        except OperationalError as exc:
            if not isinstance(exc.__cause__, errors.LockNotAvailable) or attempt == DETACH_TRIES:
                raise
