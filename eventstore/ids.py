"""New ids for events and for the entities whose streams they start: time-ordered (UUIDv7).

An id's first 48 bits are the Unix time in milliseconds (RFC 9562, version 7),
then a counter seeded at random and random bits, so ids made by one process
increase. So a new id lands at
the right edge of a B-tree keyed by it (the key table's primary key; the
`(stream_id, stream_version)` key when a stream is named after a new id), and
an append touches a few hot pages instead of one random page of an index that
grows with the log (docs/eventstore.md, "Ids and the key table's growth").

Anyone who sees such an id can read when it was made (docs/security.md).
Ids supplied from outside (an idempotent client's event id) are kept as given,
whatever their version: the log's older events keep their random (version 4) ids.
"""

from __future__ import annotations

import uuid

from uuid_utils.compat import uuid7


def new_id() -> uuid.UUID:
    """A fresh time-ordered id, as the standard library's `uuid.UUID`."""
    return uuid7()
