"""A stream runner's round that runs far too long is logged once, with where its thread is."""

import logging
import threading

from eventstore.long_rounds import LongRounds


def wait_in_a_named_function(release: threading.Event, rounds: LongRounds, entered: threading.Event) -> None:
    rounds.began("partition-2")
    entered.set()
    release.wait(10)
    rounds.ended("partition-2")


def test_a_round_past_the_limit_is_reported_once_with_its_stack_and_a_finished_one_never(caplog):
    now = [0.0]
    rounds = LongRounds(limit=60.0, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="eventstore.long_rounds")
    rounds.began("relay")
    rounds.ended("relay")  # a round that ended is never late, however long ago it began
    release, entered = threading.Event(), threading.Event()
    stuck = threading.Thread(target=wait_in_a_named_function, args=(release, rounds, entered))
    stuck.start()
    try:
        entered.wait(10)
        now[0] = 59.0
        assert rounds.report() == []
        now[0] = 61.0
        assert rounds.report() == ["partition-2"]
        now[0] = 120.0
        assert rounds.report() == []  # the same round: said once
    finally:
        release.set()
        stuck.join(10)

    [record] = caplog.records
    message = record.getMessage()
    assert message.startswith("stream runner partition-2: a round has run for 61 s; it is at:")
    assert "wait_in_a_named_function" in message and "release.wait(10)" in message


def test_the_next_round_of_the_same_loop_is_reported_again_when_it_too_runs_long(caplog):
    now = [0.0]
    rounds = LongRounds(limit=60.0, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="eventstore.long_rounds")
    for began in (0.0, 100.0):
        now[0] = began
        rounds.began("relay")  # this thread's own round
        now[0] = began + 70.0
        assert rounds.report() == ["relay"]
        rounds.ended("relay")
    assert len(caplog.records) == 2
