"""The relay's choice between a round per commit and rounds on a clock (eventstore.relay_pacing).

The pacer's clock is the test's; its key is in the real Redis, where writers read it.
"""

import pytest
import redis

from eventstore import streams
from eventstore.redis import get_redis
from eventstore.relay_pacing import (
    GRACE_MARGIN_SECONDS,
    PACE_ABOVE_EVENTS_PER_SECOND,
    PACE_BELOW_EVENTS_PER_SECOND,
    PACED_KEY_RENEW_SECONDS,
    PACED_KEY_SECONDS,
    PACED_ROUND_SECONDS,
    RATE_WINDOW_SECONDS,
    RelayPacer,
)
from tests.e2e.harness import free_port

WRITERS_FORGET_AFTER = 0.5
ROUND = 0.01  # seconds between the rounds these tests report


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def pacer(clock):
    get_redis().delete(streams.relay_paced_key())
    yield RelayPacer(get_redis(), writers_forget_after=WRITERS_FORGET_AFTER, clock=clock)
    get_redis().delete(streams.relay_paced_key())


def rounds(pacer: RelayPacer, clock: Clock, *, seconds: float, per_second: float) -> list[float | None]:
    """Rounds every ROUND seconds relaying `per_second` events a second; what each returned."""
    answers = []
    for _ in range(round(seconds / ROUND)):
        clock.now += ROUND
        answers.append(pacer.after_round(round(per_second * ROUND)))
    return answers


def paced_key_exists() -> bool:
    return bool(get_redis().exists(streams.relay_paced_key()))


def test_at_a_rate_below_the_threshold_every_round_waits_for_the_next_wake_up(pacer, clock):
    assert set(rounds(pacer, clock, seconds=2, per_second=PACE_ABOVE_EVENTS_PER_SECOND - 100)) == {None}
    assert not pacer.paced
    assert not paced_key_exists()


def test_above_it_the_relay_reads_on_its_clock_and_tells_writers_in_redis(pacer, clock):
    answers = rounds(
        pacer, clock, seconds=2 * RATE_WINDOW_SECONDS, per_second=2 * PACE_ABOVE_EVENTS_PER_SECOND
    )
    assert answers[0] is None  # no window measured yet
    assert answers[-1] == PACED_ROUND_SECONDS
    assert pacer.paced
    assert 0 < get_redis().pttl(streams.relay_paced_key()) <= PACED_KEY_SECONDS * 1000
    # Renewed while paced: gone (as if it had lapsed), it is back within a renewal period.
    get_redis().delete(streams.relay_paced_key())
    rounds(pacer, clock, seconds=PACED_KEY_RENEW_SECONDS + ROUND, per_second=2 * PACE_ABOVE_EVENTS_PER_SECOND)
    assert paced_key_exists()


def test_when_the_rate_falls_writers_are_told_first_and_the_clock_runs_on_while_they_may_still_trust_it(
    pacer, clock
):
    rounds(pacer, clock, seconds=2 * RATE_WINDOW_SECONDS, per_second=2 * PACE_ABOVE_EVENTS_PER_SECOND)
    assert pacer.paced
    answers = []
    while pacer.paced:
        answers += rounds(pacer, clock, seconds=ROUND, per_second=PACE_BELOW_EVENTS_PER_SECOND / 2)
    left_at = clock.now
    assert not paced_key_exists()  # writers that ask from now on push again ...
    assert set(answers) == {PACED_ROUND_SECONDS}
    # ... and one that was told "paced" just before reads nothing new for WRITERS_FORGET_AFTER:
    # until then and a margin after, the relay stays on its clock.
    grace = WRITERS_FORGET_AFTER + GRACE_MARGIN_SECONDS
    on_clock = rounds(pacer, clock, seconds=grace - 2 * ROUND, per_second=0)
    assert set(on_clock) == {PACED_ROUND_SECONDS}
    rounds(pacer, clock, seconds=3 * ROUND, per_second=0)
    assert clock.now - left_at > grace
    assert pacer.after_round(0) is None  # back to a round per wake-up
    assert not pacer.paced


@pytest.mark.parametrize("paced_before", [False, True])
def test_a_rate_between_the_thresholds_keeps_the_mode_the_relay_is_in(pacer, clock, paced_before):
    if paced_before:
        rounds(pacer, clock, seconds=2 * RATE_WINDOW_SECONDS, per_second=2 * PACE_ABOVE_EVENTS_PER_SECOND)
    between = (PACE_ABOVE_EVENTS_PER_SECOND + PACE_BELOW_EVENTS_PER_SECOND) / 2
    answers = rounds(pacer, clock, seconds=4 * RATE_WINDOW_SECONDS, per_second=between)
    assert pacer.paced is paced_before
    assert set(answers) == ({PACED_ROUND_SECONDS} if paced_before else {None})
    assert paced_key_exists() is paced_before


def test_a_relay_that_cannot_tell_writers_stays_woken_by_every_commit(clock):
    unreachable = redis.Redis(port=free_port(), socket_connect_timeout=0.2)
    pacer = RelayPacer(unreachable, writers_forget_after=WRITERS_FORGET_AFTER, clock=clock)
    with pytest.raises(redis.ConnectionError):
        rounds(pacer, clock, seconds=2 * RATE_WINDOW_SECONDS, per_second=2 * PACE_ABOVE_EVENTS_PER_SECOND)
    assert not pacer.paced
    assert not pacer.on_clock


def test_standing_down_tells_writers_to_push_again(pacer, clock):
    rounds(pacer, clock, seconds=2 * RATE_WINDOW_SECONDS, per_second=2 * PACE_ABOVE_EVENTS_PER_SECOND)
    assert paced_key_exists()
    pacer.stand_down()
    assert not paced_key_exists()
    assert not pacer.paced
