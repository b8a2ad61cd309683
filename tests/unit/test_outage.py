"""An outage is logged once when it starts and once when it ends, whatever the number of retries."""

import logging

from eventstore.outage import Outage

logger = logging.getLogger("tests.outage")


def test_one_error_for_the_outage_one_warning_for_its_end_and_nothing_while_all_is_well(caplog):
    outage = Outage(logger, "loop: Redis")
    caplog.set_level(logging.INFO, logger="tests.outage")

    outage.succeeded()
    for _ in range(5):
        outage.failed(ConnectionError("refused"), retry_in=2.0)
    assert outage.down
    outage.succeeded()
    outage.succeeded()

    assert [(record.levelno, record.getMessage()[:32]) for record in caplog.records] == [
        (logging.ERROR, "loop: Redis unavailable (Connect"),
        (logging.WARNING, "loop: Redis available again afte"),
    ]
    assert "(5 failed attempts)" in caplog.records[1].getMessage()
    assert not outage.down


def test_a_second_outage_is_logged_again(caplog):
    outage = Outage(logger, "loop: PostgreSQL")
    caplog.set_level(logging.INFO, logger="tests.outage")
    for _ in range(2):
        outage.failed(OSError("gone"))
        outage.succeeded()
    assert [record.levelno for record in caplog.records] == [logging.ERROR, logging.WARNING] * 2


def test_an_outage_that_goes_on_is_said_again_every_minute_with_its_latest_error(caplog):
    now = [100.0]
    outage = Outage(logger, "loop: Redis", clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="tests.outage")
    for _ in range(60):  # two minutes of retries every two seconds
        outage.failed(ConnectionError("refused"), retry_in=2.0)
        now[0] += 2.0
    outage.failed(TimeoutError("no answer"), retry_in=2.0)
    outage.succeeded()

    messages = [(record.levelno, record.getMessage()) for record in caplog.records]
    assert [level for level, _ in messages] == [logging.ERROR, logging.ERROR, logging.ERROR, logging.WARNING]
    assert messages[1][1].startswith("loop: Redis still unavailable after 60 s (31 failed attempts")
    assert messages[2][1].startswith("loop: Redis still unavailable after 120 s (61 failed attempts")
    assert "TimeoutError" in messages[2][1]
    assert "available again after 120.0 s (61 failed attempts)" in messages[3][1]
