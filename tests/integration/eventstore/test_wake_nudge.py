"""The wake-up pushed without waiting for an answer (eventstore.wake_nudge), on a private Redis.

A private server, so that its command counts are this test's alone.
"""

import os
import threading
import time

import pytest
import redis
from django.test import override_settings

from eventstore import streams
from eventstore.redis import get_redis
from eventstore.wake_nudge import CONNECTION_NAME, WakeNudge
from eventstore.wakeups import relay_waker
from tests.e2e.harness import free_port, wait_for
from tests.e2e.redis_servers import RedisProcesses

THREADS, PUSHES = 8, 250


@pytest.fixture(scope="module")
def private_redis():
    servers = RedisProcesses(label="nudge-redis")
    port = free_port()
    servers.start_server(port)
    yield port, servers.node(port)
    servers.stop()


@pytest.fixture
def on_private_redis(private_redis):
    port, client = private_redis
    client.flushall()
    client.client_kill_filter(_type="normal", skipme=True)  # earlier tests' connections
    client.config_resetstat()
    get_redis.cache_clear()
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{port}/0"):
        yield client
    get_redis.cache_clear()


def calls(client: redis.Redis, command: str) -> int:
    return client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


def nudge_connection_ids(client: redis.Redis) -> list[str]:
    return [each["id"] for each in client.client_list() if each["name"] == CONNECTION_NAME]


def test_threads_sharing_the_connection_push_whole_commands(on_private_redis):
    nudge = WakeNudge()
    start = threading.Barrier(THREADS)

    def pushes() -> None:
        start.wait()
        for _ in range(PUSHES):
            nudge.push(time.monotonic())

    threads = [threading.Thread(target=pushes) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Every push arrived whole: interleaved bytes would make Redis refuse or misread commands.
    wait_for(lambda: calls(on_private_redis, "ltrim") == THREADS * PUSHES, timeout=10, message="the pushes")
    assert calls(on_private_redis, "lpush") == THREADS * PUSHES
    assert calls(on_private_redis, "exists") == THREADS * PUSHES
    assert on_private_redis.llen(streams.relay_wake_key()) == 1  # one wake-up waits, however many pushes
    assert len(nudge_connection_ids(on_private_redis)) == 1
    nudge.close()


def test_an_error_answer_is_seen_at_the_next_push_which_then_opens_a_new_connection(on_private_redis):
    nudge = WakeNudge()
    nudge.push(time.monotonic())
    (first,) = nudge_connection_ids(on_private_redis)
    # As after a failover that left this server a replica: the next push is answered with an error.
    on_private_redis.delete(streams.relay_wake_key())
    on_private_redis.set(streams.relay_wake_key(), "not a list")
    nudge.push(time.monotonic())  # sent; its answer is not waited for
    time.sleep(0.2)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        nudge.push(time.monotonic())
    wait_for(lambda: first not in nudge_connection_ids(on_private_redis), timeout=5, message="the close")
    on_private_redis.delete(streams.relay_wake_key())
    nudge.push(time.monotonic())
    assert nudge_connection_ids(on_private_redis) not in ([], [first])
    wait_for(lambda: on_private_redis.llen(streams.relay_wake_key()) == 1, timeout=5, message="the push")
    nudge.close()


def test_a_forked_child_opens_its_own_connection_and_leaves_the_parent_s_open(on_private_redis):
    relay_waker.reset()
    try:
        relay_waker._nudge.push(time.monotonic())
        (parent,) = nudge_connection_ids(on_private_redis)
        child = os.fork()
        if child == 0:  # the child: a fresh nudge; dropping the parent's must not shut its socket
            import gc

            fresh = relay_waker._nudge._connection is None
            gc.collect()
            os._exit(0 if fresh else 1)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the child inherited the parent's connection"
        relay_waker._nudge.push(time.monotonic())  # still the parent's connection, still open
        assert nudge_connection_ids(on_private_redis) == [parent]
    finally:
        relay_waker.reset()


def test_a_push_s_answer_says_when_the_relay_was_found_reading_on_its_clock(on_private_redis):
    nudge = WakeNudge()

    def answered(pushes: int) -> None:
        wait_for(lambda: calls(on_private_redis, "exists") == pushes, timeout=5, message="the answers")
        # ... and the answers are in this process's socket, for the next push to read.
        wait_for(lambda: nudge._connection.can_read(timeout=0.05), timeout=5, message="the answers' arrival")

    on_private_redis.set(streams.relay_paced_key(), 1)
    assert nudge.push(1.0) is None  # no answer read yet
    answered(1)
    assert nudge.push(2.0) == 1.0  # the answer to the push sent at 1.0 said: paced
    answered(2)
    on_private_redis.delete(streams.relay_paced_key())
    assert nudge.push(3.0) == 2.0
    answered(3)
    # The push at 3.0 found it no longer paced: the last one that did is still the one at 2.0,
    # which a caller counts from (eventstore.wakeups), so its belief lapses on time.
    assert nudge.push(4.0) == 2.0
    nudge.close()
