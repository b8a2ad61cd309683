"""Followers refuse to run where gap-safety cannot hold (issue 18 item 3): not READ COMMITTED.

In a REPEATABLE READ or SERIALIZABLE transaction every statement reads the
transaction's first snapshot, older than a horizon computed later: a follower
there could pass over events that committed in between. (The standby case is
tested with a real replica in tests/e2e/test_read_replica.py.)
"""

import pytest
from django.db import connection, transaction

from eventstore.errors import GapSafetyUnavailable
from eventstore.reading import follow, horizon, read_all
from eventstore.relay import relay_pending

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("level", ["REPEATABLE READ", "SERIALIZABLE"])
@pytest.mark.parametrize(
    "follower",
    [horizon, lambda: read_all(limit=1), lambda: next(follow(), None), relay_pending],
    ids=["horizon", "read_all", "follow", "relay"],
)
def test_followers_refuse_a_transaction_that_is_not_read_committed(level, follower):
    with pytest.raises(GapSafetyUnavailable, match=level), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET TRANSACTION ISOLATION LEVEL {level}")
        follower()


def test_followers_run_in_read_committed():
    with transaction.atomic():
        assert horizon() > 0
        read_all(limit=1)
