"""insert_rows(): what batch handlers write is exactly what the ORM would store and read back."""

import datetime as dt
import math
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError

from eventstore.projections import insert_rows
from links_app.models import Scan, ScanStatus

pytestmark = pytest.mark.django_db
FIELDS = (
    "id", "link_id", "url", "normalized_url", "status", "verdict", "safety_score", "model_score",
    "findings", "requested_by_id", "post_id", "failed_attempts", "failure_reason", "requested_at",
    "completed_at", "updated_at",
)  # fmt: skip


def scan_row(**overrides) -> dict:
    at = dt.datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=ZoneInfo("Europe/Berlin"))
    row = {
        "id": uuid.uuid4(),
        "link_id": str(uuid.uuid4()),  # ids come as text from events
        "url": 'https://example.com/a?q="quoted" \\ ünïcode ✓',
        "normalized_url": "https://example.com/a",
        "status": ScanStatus.COMPLETED,
        "verdict": None,
        "safety_score": 91,
        "model_score": 0.1 + 0.2,
        "findings": [{"rule": "x", "weight": 1.5, "nested": {"ok": True, "none": None}}],
        "requested_by_id": 2**62,
        "post_id": None,
        "failed_attempts": 0,
        "failure_reason": "",
        "requested_at": at,
        "completed_at": None,
        "updated_at": at + dt.timedelta(microseconds=1),
    }
    return {**row, **overrides}


def stored(row: dict) -> dict:
    scan = Scan.objects.get(id=row["id"])
    return {name: getattr(scan, name) for name in FIELDS}


def test_every_column_type_round_trips_exactly():
    rows = [scan_row(), scan_row(findings=[], verdict="safe", completed_at=dt.datetime.now(dt.UTC))]
    insert_rows(Scan, FIELDS, [tuple(r[f] for f in FIELDS) for r in rows])
    for row in rows:
        expected = {**row, "link_id": uuid.UUID(row["link_id"])}
        assert stored(row) == expected


def test_none_in_a_json_field_is_sql_null_not_json_null():
    row = scan_row(findings=None)
    # findings is NOT NULL: None must arrive as SQL NULL (refused), not as JSON null.
    with pytest.raises(IntegrityError):
        insert_rows(Scan, FIELDS, [tuple(row[f] for f in FIELDS)])


def test_nan_and_infinity_are_stored_as_such():
    rows = [scan_row(model_score=math.nan), scan_row(model_score=-math.inf)]
    insert_rows(Scan, FIELDS, [tuple(r[f] for f in FIELDS) for r in rows])
    assert math.isnan(stored(rows[0])["model_score"])
    assert stored(rows[1])["model_score"] == -math.inf


def test_a_suffix_applies_to_the_whole_batch():
    row = scan_row()
    insert_rows(Scan, FIELDS, [tuple(row[f] for f in FIELDS)])
    changed = {**row, "safety_score": 12}
    insert_rows(
        Scan,
        FIELDS,
        [tuple(changed[f] for f in FIELDS)],
        "ON CONFLICT (id) DO UPDATE SET safety_score = excluded.safety_score",
    )
    assert stored(row)["safety_score"] == 12
