"""Archive files: one partition's rows as canonical JSON lines, zstd-compressed, and the manifest.

A row is written as stored (personal values sealed, data not upcast), as one
JSON object with sorted keys per line. The same canonical line is computed
from the database when verifying, so the digest of the decompressed file is
the digest of the partition's rows. The manifest records, per file, the
partition's range, the first and last position, the count, that digest and
the SHA-256 of the compressed file: a file changed afterwards fails `check`.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import itertools
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
import zstandard

from ..errors import ArchiveInvalid

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
COMPRESSION_LEVEL = 10
_READ_CHUNK = 1 << 20

# The columns of a row, in the order the export selects them (data and metadata as jsonb text).
COLUMNS = (
    "position",
    "id",
    "stream_id",
    "stream_version",
    "type",
    "schema_version",
    "data",
    "metadata",
    "source",
    "correlation_id",
    "causation_id",
    "recorded_at",
)


@dataclass(frozen=True)
class ArchivedPartition:
    partition: str
    lower_bound: int | None  # None: the first partition, from the lowest position
    upper_bound: int
    first_position: int | None
    last_position: int | None
    count: int
    rows_sha256: str  # of the decompressed canonical lines
    file: str
    file_sha256: str  # of the compressed file as written


def canonical_line(row: tuple) -> bytes:
    """One stored row (in COLUMNS order, data and metadata as JSON text) as its archive line."""
    record = dict(zip(COLUMNS, row, strict=True))
    record["id"] = str(record["id"])
    record["correlation_id"] = str(record["correlation_id"])
    if record["causation_id"] is not None:
        record["causation_id"] = str(record["causation_id"])
    record["data"] = orjson.loads(record["data"])
    record["metadata"] = orjson.loads(record["metadata"])
    recorded_at = record["recorded_at"]
    record["recorded_at"] = recorded_at.astimezone(datetime.UTC).isoformat()
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS) + b"\n"


@dataclass
class Written:
    count: int = 0
    first_position: int | None = None
    last_position: int | None = None
    rows_sha256: str = ""
    file_sha256: str = ""


def write_rows(path: Path, rows: Iterable[tuple]) -> Written:
    """Write the rows (in position order) to `path`, through a temporary file renamed when complete."""
    written, rows_digest = Written(), hashlib.sha256()
    partial = path.with_name(path.name + ".partial")
    compressor = zstandard.ZstdCompressor(level=COMPRESSION_LEVEL)
    with open(partial, "wb") as raw, compressor.stream_writer(raw, closefd=False) as out:
        for row in rows:
            line = canonical_line(row)
            rows_digest.update(line)
            out.write(line)
            written.count += 1
            if written.first_position is None:
                written.first_position = row[0]
            written.last_position = row[0]
    with open(partial, "rb+") as done:
        os.fsync(done.fileno())
    os.replace(partial, path)
    written.rows_sha256 = rows_digest.hexdigest()
    written.file_sha256 = file_sha256(path)
    return written


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_lines(path: Path) -> Iterator[bytes]:
    """The decompressed lines of an archive file (a truncated or corrupt file raises ArchiveInvalid)."""
    try:
        with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as reader:
            yield from io.BufferedReader(reader, _READ_CHUNK)
    except zstandard.ZstdError as exc:
        raise ArchiveInvalid(f"{path.name}: not a complete zstd stream ({exc})") from exc


def summarize(path: Path) -> Written:
    """Count, first and last position and digest of a file's rows, read back from the file."""
    found, digest = Written(), hashlib.sha256()
    previous = None
    for line in read_lines(path):
        if not line.endswith(b"\n"):
            raise ArchiveInvalid(f"{path.name}: its last line is cut short")
        digest.update(line)
        try:
            position = orjson.loads(line)["position"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise ArchiveInvalid(f"{path.name}: line {found.count + 1} is not an archived event") from exc
        if previous is not None and position <= previous:
            raise ArchiveInvalid(f"{path.name}: position {position} after {previous}: out of order")
        previous = position
        found.count += 1
        if found.first_position is None:
            found.first_position = position
        found.last_position = position
    found.rows_sha256 = digest.hexdigest()
    found.file_sha256 = file_sha256(path)
    return found


def events_of(path: Path) -> Iterator[tuple]:
    """The rows of an archive file in COLUMNS order, shaped as the log's reader gets them.

    data and metadata come back as JSON text, ids as UUIDs and the time as a datetime.
    """
    for line in read_lines(path):
        r = orjson.loads(line)
        yield (
            uuid.UUID(r["id"]),
            r["position"],
            r["stream_id"],
            r["stream_version"],
            r["type"],
            r["schema_version"],
            orjson.dumps(r["data"]).decode(),
            orjson.dumps(r["metadata"]).decode(),
            r["source"],
            uuid.UUID(r["correlation_id"]),
            uuid.UUID(r["causation_id"]) if r["causation_id"] is not None else None,
            datetime.datetime.fromisoformat(r["recorded_at"]),
        )


def load_manifest(directory: Path) -> list[ArchivedPartition]:
    path = directory / MANIFEST
    if not path.exists():
        return []
    try:
        found = orjson.loads(path.read_bytes())
        if found.get("format") != MANIFEST_FORMAT:
            raise ArchiveInvalid(
                f"{path}: manifest format {found.get('format')!r}, expected {MANIFEST_FORMAT}"
            )
        return [ArchivedPartition(**entry) for entry in found["partitions"]]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ArchiveInvalid(f"{path}: not a manifest of archive_events ({exc})") from exc


def save_manifest(directory: Path, entries: list[ArchivedPartition]) -> None:
    """Write the manifest through a temporary file, so a reader never sees half of it."""
    entries = sorted(entries, key=lambda e: e.upper_bound)
    body = {"format": MANIFEST_FORMAT, "partitions": [asdict(e) for e in entries]}
    partial = directory / (MANIFEST + ".partial")
    partial.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
    os.replace(partial, directory / MANIFEST)


def check(directory: Path, entry: ArchivedPartition) -> None:
    """Raise ArchiveInvalid unless the file is the one the manifest describes, byte for byte."""
    path = directory / entry.file
    if not path.exists():
        raise ArchiveInvalid(f"{entry.file}: missing from {directory}")
    if file_sha256(path) != entry.file_sha256:
        raise ArchiveInvalid(f"{entry.file}: its SHA-256 differs from the manifest's (the file was changed)")
    found = summarize(path)
    claimed = (entry.count, entry.first_position, entry.last_position, entry.rows_sha256)
    if (found.count, found.first_position, found.last_position, found.rows_sha256) != claimed:
        raise ArchiveInvalid(f"{entry.file}: its rows differ from the manifest's")


def check_all(directory: Path) -> list[ArchivedPartition]:
    """Every file of the manifest checked, and their ranges contiguous from the first: the archived prefix."""
    entries = load_manifest(directory)
    if not entries:
        raise ArchiveInvalid(f"{directory}: no {MANIFEST}, or it lists no partition")
    for earlier, later in itertools.pairwise(entries):
        if later.lower_bound != earlier.upper_bound:
            raise ArchiveInvalid(
                f"{later.partition} begins at {later.lower_bound}, not where {earlier.partition} ends "
                f"({earlier.upper_bound}): a partition is missing from the archive"
            )
    if entries[0].lower_bound is not None:
        raise ArchiveInvalid(
            f"{entries[0].partition} is not the log's first partition: the archive lacks the start"
        )
    for entry in entries:
        check(directory, entry)
    return entries
