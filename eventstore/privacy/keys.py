"""Data keys per subject: created on first use, loaded per read, destroyed on forget.

There is deliberately no process-wide cache of unwrapped keys. A `KeyRing`
lives for one read (one query, one batch of a follower, one append), loads
every subject that batch needs in one query and forgets the keys afterwards.
So once a forget has committed, no later read in any process can decrypt the
subject's values; the cost is one indexed query per batch that holds sealed values.
A follower keeps the keys it unwrapped until it stops (`KeyRing(unwrapped=...)`),
only to skip unwrapping them again: the wrapped keys are still read for every
batch, and a forgotten subject has none.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from .. import prepared
from ..models import PersonalDataKey
from . import crypto

# Sent by the event store itself (eventstore.prepared): the key lookup is often the
# first statement of a request's transaction, and then carries its BEGIN.
_CREATE_SQL = (
    f"INSERT INTO {PersonalDataKey._meta.db_table} (subject, wrapped_key, created_at) "
    "VALUES (%s, %s, %s) ON CONFLICT (subject) DO NOTHING"
).encode()
_LOAD_SQL = (
    f"SELECT subject, wrapped_key FROM {PersonalDataKey._meta.db_table} WHERE subject = ANY(%s::text[])"
).encode()


class KeyRing:
    """Unwrapped data keys for one unit of work; `None` marks a forgotten (or unknown) subject."""

    def __init__(self, *, unwrapped: dict[tuple[str, bytes], bytes] | None = None) -> None:
        """`unwrapped`: data keys a reader already unwrapped, by subject and wrapped bytes.

        A follower passes the same dict to the key ring of each of its batches,
        so a key is unwrapped once per follow, not once per batch. The wrapped
        key is still read from the database for every batch: a subject
        forgotten meanwhile has none, and its values read as erased at once.
        """
        self._keys: dict[str, bytes | None] = {}
        self._without_row: set[str] = set()
        self._unwrapped = unwrapped if unwrapped is not None else {}

    def load(self, subjects: Iterable[str]) -> None:
        """Fetch the keys of `subjects` not loaded yet, in one query."""
        missing = {s for s in subjects if s not in self._keys}
        if not missing:
            return
        # Plain SQL with one array parameter: the ORM's `__in` builds a placeholder per
        # subject, which costs more than the query for the thousands a batch names.
        found = dict(prepared.fetchall(_LOAD_SQL, [sorted(missing)]))
        for subject in missing:
            wrapped = found.get(subject)
            self._keys[subject] = self._unwrap(subject, bytes(wrapped)) if wrapped is not None else None
            if subject not in found:
                self._without_row.add(subject)

    def _unwrap(self, subject: str, wrapped: bytes) -> bytes:
        # Keyed by the subject too: a wrapped key moved onto another subject's row must
        # still fail to unwrap (crypto.wrap binds the subject), not hit the cache.
        key = self._unwrapped.get((subject, wrapped))
        if key is None:
            key = self._unwrapped[subject, wrapped] = crypto.unwrap(subject, wrapped)
        return key

    def holds_forgotten(self) -> bool:
        """Whether a subject loaded here has no key (forgotten, or unknown to a reader)."""
        return None in self._keys.values()

    def key_for_reading(self, subject: str) -> bytes | None:
        if subject not in self._keys:  # usually loaded with its batch already
            self.load([subject])
        return self._keys[subject]

    def key_for_writing(self, subject: str) -> bytes | None:
        """The subject's key, created now if it has none; None once the subject is forgotten.

        The key row is inserted in the caller's transaction, so it commits (or
        rolls back) with the event it encrypts. A concurrent creator waits on
        the primary key and then finds the winner's row.
        """
        self.load([subject])  # most subjects have a key already: one SELECT, no INSERT
        if subject not in self._without_row:
            return self._keys[subject]  # None: forgotten, the value is stored erased
        key = crypto.new_data_key()
        prepared.execute(_CREATE_SQL, [subject, crypto.wrap(subject, key), timezone.now()])
        self._keys.pop(subject, None)
        self._without_row.discard(subject)
        return self.key_for_reading(subject)


def forget_subject(subject: str) -> bool:
    """Destroy the subject's data key; return False when it was already forgotten.

    A subject without a key gets a tombstone, so none is made for it later.
    """
    now = timezone.now()
    tombstone, created = PersonalDataKey.objects.select_for_update().get_or_create(
        subject=subject, defaults={"wrapped_key": None, "forgotten_at": now}
    )
    if created:
        return True
    if tombstone.forgotten_at is not None:
        return False
    tombstone.wrapped_key = None
    tombstone.forgotten_at = now
    tombstone.save(update_fields=["wrapped_key", "forgotten_at"])
    return True


def is_forgotten(subject: str) -> bool:
    return PersonalDataKey.objects.filter(subject=subject, forgotten_at__isnull=False).exists()


def rewrap_all_keys() -> int:
    """Re-wrap every live data key with the current master key (step 2 of a rotation)."""
    count = 0
    for row in PersonalDataKey.objects.select_for_update().filter(wrapped_key__isnull=False).iterator():
        key = crypto.unwrap(row.subject, row.wrapped_key)
        PersonalDataKey.objects.filter(subject=row.subject).update(wrapped_key=crypto.wrap(row.subject, key))
        count += 1
    return count
