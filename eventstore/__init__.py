"""The event store's public facade: apps import from here and nowhere else in `eventstore`.

    from eventstore import ExpectedVersion, atomic_command, publish

Writing: `atomic_command`, `publish`, `publish_many`, `ExpectedVersion`, `new_id` (a
time-ordered id for a new entity whose stream is named after it), and the errors a
writer may catch (`ConcurrencyConflict` and its `StreamOrderConflict`,
`EventIdConflict`, `TransactionEventLimit`, their base `EventStoreError`).
Event types: `define_event`, `EventData`; what handlers receive: `RecordedEvent`.
Reading: `read_stream`, `follow` (and `follow_in_windows`, for a one-off read of the whole log), `stream_version`. Reacting:
`Subscriber`/`register_subscriber` (asynchronous, after commit) and
`Projection`/`register_projection` with its row helpers (`insert_rows`,
`execute_with_arrays`) and the batching helper (`ProjectionBatch`, `Row`,
`batched_projection`). Context: `event_context`. After a commit: the `events_committed` signal. Personal data: `privacy`
(crypto-shredding) and, for admin pages, `ReadOnlyAdmin`,
`ViewerAwareAdminMixin`, `viewer_reads_personal_data`,
`can_read_personal_data`, `redact_event`, `REDACTED`, and the record of what
staff were shown (`note_shown_events`, `note_shown_value`, `Shown`,
`record_view`). Erasure receipts: `collect_traces`, `verify_erasure`,
`ErasureCheck` with `CHECK_PASSED`/`CHECK_FAILED`, `ErasureReceipt`,
`failed_places`, `receipt_lines`.

Each name is imported on first use. This package is imported before Django's
app registry is ready (it is an installed app, and settings import
`eventstore.redis_location`), and most of these names sit beside models, so
importing them here up front would fail. tests/unit/test_module_boundaries.py
checks that every name below resolves and that apps import only these.
"""

from importlib import import_module

# Public name -> the module that defines it.
_HOMES = {
    "atomic_command": "eventstore.commands",
    "publish": "eventstore.bus",
    "publish_many": "eventstore.bus",
    "new_id": "eventstore.ids",
    "events_committed": "eventstore.after_commit",
    "ExpectedVersion": "eventstore.envelope",
    "RecordedEvent": "eventstore.envelope",
    "EventStoreError": "eventstore.errors",
    "ConcurrencyConflict": "eventstore.errors",
    "StreamOrderConflict": "eventstore.errors",
    "EventIdConflict": "eventstore.errors",
    "TransactionEventLimit": "eventstore.errors",
    "define_event": "eventstore.registry",
    "EventData": "eventstore.registry",
    "read_stream": "eventstore.reading",
    "follow": "eventstore.reading",
    "follow_in_windows": "eventstore.reading",
    "stream_version": "eventstore.store",
    "Subscriber": "eventstore.subscribers",
    "register_subscriber": "eventstore.subscribers",
    "Projection": "eventstore.projections",
    "register_projection": "eventstore.projections",
    "insert_rows": "eventstore.projections",
    "ProjectionBatch": "eventstore.projection_batch",
    "Row": "eventstore.projection_batch",
    "batched_projection": "eventstore.projection_batch",
    "execute_with_arrays": "eventstore.projections",
    "event_context": "eventstore.context",
    "ReadOnlyAdmin": "eventstore.read_only_admin",
    "ViewerAwareAdminMixin": "eventstore.admin_viewer",
    "viewer_reads_personal_data": "eventstore.admin_viewer",
    "can_read_personal_data": "eventstore.privacy.redaction",
    "redact_event": "eventstore.privacy.redaction",
    "REDACTED": "eventstore.privacy.redaction",
    # Personal data shown to staff is recorded (who saw which subject's fields).
    "note_shown_events": "eventstore.admin_viewer",
    "note_shown_value": "eventstore.admin_viewer",
    "Shown": "eventstore.privacy.disclosures",
    "record_view": "eventstore.privacy.disclosures",
    # Erasure receipts: what forgetting a subject destroyed and where no readable copy is left.
    "collect_traces": "eventstore.privacy.erasure_traces",
    "verify_erasure": "eventstore.privacy.receipts",
    "failed_places": "eventstore.privacy.receipts",
    "receipt_lines": "eventstore.privacy.receipts",
    "ErasureCheck": "eventstore.privacy.erasure_checks",
    "CHECK_PASSED": "eventstore.privacy.erasure_checks",
    "CHECK_FAILED": "eventstore.privacy.erasure_checks",
    "ErasureReceipt": "eventstore.models",
    # Periodic jobs log a Postgres or Redis outage once and its end once, not a traceback a run.
    "skipped_during_outages": "eventstore.outage",
}
# Subpackages that are public as a whole.
_PUBLIC_SUBPACKAGES = ("privacy",)

__all__ = sorted([*_HOMES, *_PUBLIC_SUBPACKAGES])


def __getattr__(name: str):
    if name in _PUBLIC_SUBPACKAGES:
        return import_module(f"eventstore.{name}")
    if name not in _HOMES:
        raise AttributeError(f"module 'eventstore' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
