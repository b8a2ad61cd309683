"""A wake-up pushed to the stream runner's relay without waiting for Redis' answer.

A process that woke a live runner's relay a moment ago (eventstore.wakeups)
knows the runner is there, so after its next commits the push only has to
arrive. Waiting for the answer would cost every commit a round trip, and a
relay not woken for each commit would have to poll the log to find it (the
figures are in docs/benchmarks.md, issue 24.7). Here a push is one `send` of
bytes packed once, and the relay, blocked on its wake list, starts at once.

Each push also asks whether the relay reads on its clock (a high commit rate,
eventstore.relay_pacing): then the process need not push at all for a while.

The answers are read at the next push, as far as they have come: an error
there (a Sentinel or cluster failover moved the key to another server, or the
connection broke) closes this connection and raises, and the caller wakes the
relay the usual way, which finds the new server. A push lost with its
connection costs at most the time until that process's next usual wake-up
(stream_runner.KICK_INTERVAL_SECONDS) or the relay's own poll.
"""

from __future__ import annotations

import threading
from collections import deque

from . import streams
from .redis import get_redis
from .redis_cluster import is_cluster_client

CONNECTION_NAME = "platform-relay-nudge"  # as CLIENT LIST shows it
COMMANDS_PER_PUSH = 3  # LPUSH, LTRIM, EXISTS: the third answer says whether the relay is paced


class WakeNudge:
    """One process's connection for such pushes, opened on first use and shared by its threads."""

    def __init__(self) -> None:
        # Threads of a process (a runner's partitions, a threaded server) share the socket:
        # one push at a time, so their bytes never interleave.
        self._lock = threading.Lock()
        self._connection = None
        self._packed: list[bytes] = []
        self._sent_at: deque[float] = deque()  # of the pushes whose answers have not been read
        self._answers_read = 0
        # Kept when the connection is replaced: it is a moment the relay was paced,
        # whichever connection said so.
        self._paced_at: float | None = None

    def push(self, now: float) -> float | None:
        """Send the wake-up; return when the latest push was sent that found the relay paced.

        Only that push's time is known to be no later than Redis' answer, so a
        caller counts from it (eventstore.relay_pacing's grace is counted from
        when the relay stopped being paced). Raises what the connection
        raised, and opens a new one next time.
        """
        with self._lock:
            try:
                if self._connection is None:
                    self._open()
                self._read_answers()
                self._connection.send_packed_command(self._packed, check_health=False)
                self._sent_at.append(now)
                return self._paced_at
            except BaseException:
                self._close()
                raise

    def close(self) -> None:
        with self._lock:
            self._close()

    def _read_answers(self) -> None:
        """The answers to earlier pushes that have arrived; an error answer raises (ResponseError)."""
        while self._connection.can_read(timeout=0):
            answer = self._connection.read_response()
            self._answers_read += 1
            if self._answers_read % COMMANDS_PER_PUSH == 0:
                sent_at = self._sent_at.popleft()
                if answer:
                    self._paced_at = sent_at

    def _open(self) -> None:
        key = streams.relay_wake_key()
        client = get_redis()
        if is_cluster_client(client):
            client = client.get_redis_connection(client.get_node_from_key(key))
        pool = client.connection_pool  # its address, credentials, TLS and database (or Sentinel's primary)
        connection = self._connection = pool.connection_class(**pool.connection_kwargs)
        connection.connect()  # from here on, a failure closes it (push)
        connection.send_command("CLIENT", "SETNAME", CONNECTION_NAME)
        connection.read_response()
        self._packed = connection.pack_commands(
            [("LPUSH", key, 1), ("LTRIM", key, 0, 0), ("EXISTS", streams.relay_paced_key())]
        )

    def _close(self) -> None:
        self._sent_at.clear()
        self._answers_read = 0
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.disconnect()
