"""An appended event's row is built in one place (NewEvent.row), in the order the append statements read it."""

import uuid

from eventstore.envelope import APPENDED_COLUMNS, NewEvent
from eventstore.store import statements


def test_the_row_follows_the_columns_the_append_statements_name():
    assert statements._COLUMNS.split(", ") == [*APPENDED_COLUMNS, "ord"]


def test_the_row_holds_each_field_under_its_column():
    event = NewEvent(
        type="thing:happened",
        schema_version=2,
        data={"label": "x"},
        source="tests",
        correlation_id=uuid.uuid4(),
        causation_id=uuid.uuid4(),
        metadata={"actor": 1},
    )
    assert dict(zip(APPENDED_COLUMNS, event.row(), strict=True)) == {
        column: getattr(event, column) for column in APPENDED_COLUMNS
    }
