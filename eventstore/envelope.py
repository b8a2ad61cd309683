"""The event envelope: what is stored, and what readers get back."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from .ids import new_id


class ExpectedVersion:
    """Special expectations for `append`; an int means "exactly this version"."""

    ANY = -1  # append whatever the stream's version (still gap-free and unique)
    NO_STREAM = 0  # the stream must not exist yet


# What an append inserts for each event, in the order of `NewEvent.row()`; the append
# statements (eventstore/store/statements.py) take the values by these names and positions.
APPENDED_COLUMNS = (
    "id",
    "type",
    "schema_version",
    "data",
    "metadata",
    "source",
    "correlation_id",
    "causation_id",
)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be appended: validated data, context filled in."""

    type: str
    schema_version: int
    data: dict[str, Any]
    source: str
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    id: uuid.UUID = field(default_factory=new_id)  # time-ordered: eventstore/ids.py

    def row(self) -> tuple:
        """The values an append inserts for this event, in the order of `APPENDED_COLUMNS`."""
        return (
            self.id,
            self.type,
            self.schema_version,
            self.data,
            self.metadata,
            self.source,
            self.correlation_id,
            self.causation_id,
        )


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as stored in the log, its data upcast to the type's current version."""

    id: uuid.UUID
    position: int
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    source: str
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None
    recorded_at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
