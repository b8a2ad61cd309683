"""An appended event's row is built in one place (NewEvent.row), in the order the append statements read it."""

import uuid

import orjson

from eventstore.envelope import APPENDED_COLUMNS, NewEvent
from eventstore.store import _statement_for, statements


def test_the_row_follows_the_columns_the_append_statements_name():
    assert statements._COLUMNS.split(", ") == [*APPENDED_COLUMNS, "ord"]


def _event() -> NewEvent:
    return NewEvent(
        type="thing:happened",
        schema_version=2,
        data={"label": "x"},
        source="tests",
        correlation_id=uuid.uuid4(),
        causation_id=uuid.uuid4(),
        metadata={"actor": 1},
    )


def test_the_row_holds_each_field_under_its_column():
    event = _event()
    assert dict(zip(APPENDED_COLUMNS, event.row(), strict=True)) == {
        column: getattr(event, column) for column in APPENDED_COLUMNS
    }


def test_a_batch_sends_the_rows_and_a_single_event_sends_the_same_row_by_name():
    first, second = _event(), _event()
    _, batch = _statement_for("s-1", [first, second], 3)
    assert orjson.loads(batch["events"]) == orjson.loads(orjson.dumps([first.row(), second.row()]))
    _, single = _statement_for("s-1", [first], 3)
    by_name = {**single, "data": orjson.loads(single["data"]), "metadata": orjson.loads(single["metadata"])}
    assert by_name == {
        "stream_id": "s-1",
        "expected": 3,
        **dict(zip(APPENDED_COLUMNS, first.row(), strict=True)),
    }
