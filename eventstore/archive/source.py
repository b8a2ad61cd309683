"""Archived events for a replay: read from the checked files, in position order, before the live log.

`replaying_from(directory)` checks the whole archive (every file against the
manifest, the ranges contiguous from the log's first position, and the live
log beginning where the archive ends), then makes `eventstore.reading.follow`
serve positions below the live log from the files. The files are read
sequentially: a reader asking for the events after the last one it got
continues where it stopped, so a replay reads each file once (once per
pass: each async projection's rebuild starts again from the first).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

from .. import partitions
from ..errors import ArchiveInvalid
from . import files

_active: ArchiveSource | None = None


class ArchiveSource:
    def __init__(self, directory: Path):
        self.directory = directory
        self.entries = files.check_all(directory)
        self.end = self.entries[-1].upper_bound  # the first position of the live log
        self.last_position = max(e.last_position or 0 for e in self.entries)
        self._rows: Iterator[tuple] | None = None
        self._yielded: int | None = None  # position of the last row handed out
        self._pending: tuple | None = None  # a row read but not handed out yet

    def take(self, after: int, *, limit: int, until: int | None, types: set[str] | None) -> list[tuple]:
        """Up to `limit` rows (reading._COLUMNS order) above `after`, up to `until`, of `types` if given."""
        if self._rows is None or self._yielded is None or after < self._yielded:
            self._rows, self._pending = self._read_from(after), None
        taken: list[tuple] = []
        while len(taken) < limit:
            row, self._pending = self._pending or next(self._rows, None), None
            if row is None:
                break
            if row[1] <= after or (types is not None and row[4] not in types):
                continue
            if until is not None and row[1] > until:
                self._pending = row  # the next call may want it
                break
            taken.append(row)
        if taken:
            self._yielded = taken[-1][1]
        return taken

    def _read_from(self, after: int) -> Iterator[tuple]:
        for entry in self.entries:
            if entry.last_position is not None and entry.last_position > after:
                yield from files.events_of(self.directory / entry.file)


def active() -> ArchiveSource | None:
    return _active


@contextlib.contextmanager
def replaying_from(directory: Path):
    """Within the block, followers of the log read the archived events first (see the module)."""
    global _active
    source = ArchiveSource(directory)
    live = partitions.partitions()
    if not live or live[0][1] != source.end:
        first = live[0][1] if live else None
        raise ArchiveInvalid(
            f"the live log begins at {first}, the archive ends at {source.end}: they are not one log"
        )
    previous, _active = _active, source
    try:
        yield source
    finally:
        _active = previous


@contextlib.contextmanager
def whole_log(directory: Path | None):
    """Within the block, followers read the whole log: the archive (`directory`, else
    EVENTSTORE_ARCHIVE_DIR) first when there is one, then the live log.

    Raises ArchiveInvalid when the log's oldest partitions were archived and no
    directory is known: a reader of the live log alone would miss their events
    (a replay would build less, an audit would report their effects as drift).
    """
    directory = directory or (
        Path(settings.EVENTSTORE_ARCHIVE_DIR) if settings.EVENTSTORE_ARCHIVE_DIR else None
    )
    if directory is None:
        if partitions.archived_before():
            raise ArchiveInvalid(
                "the log's oldest partitions were archived (manage.py archive_events): give their directory "
                "with --archive DIR (or EVENTSTORE_ARCHIVE_DIR), or their events would be missed"
            )
        yield None
        return
    with replaying_from(directory) as source:
        yield source
