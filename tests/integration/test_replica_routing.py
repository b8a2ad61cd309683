"""Which database alias the replica router picks (the replica itself: tests/e2e/test_read_replica.py)."""

import pytest
from django.db import transaction
from knox.models import AuthToken

from auth_app.models import User
from community_app.models import Post
from eventstore.models import Event
from links_app.models import Link
from platform_site.replicas import REPLICA_DB_ALIAS, ReplicaRouter, replica_reads_allowed

router = ReplicaRouter()


def test_without_a_read_only_request_everything_uses_the_primary():
    assert router.db_for_read(Post) == "default"
    assert router.db_for_read(Event) == "default"


def test_a_read_only_request_reads_projections_and_the_log_from_the_replica():
    with replica_reads_allowed():
        assert [router.db_for_read(model) for model in (Post, Link, Event)] == [REPLICA_DB_ALIAS] * 3


def test_sign_in_state_and_writes_stay_on_the_primary():
    with replica_reads_allowed():
        assert router.db_for_read(User) == "default"
        assert router.db_for_read(AuthToken) == "default"
        assert router.db_for_write(Post) == "default"
    assert router.allow_migrate(REPLICA_DB_ALIAS, "community_app") is False
    assert router.allow_migrate("default", "community_app") is True


@pytest.mark.django_db(transaction=True)  # no test-wide transaction around it
def test_reads_inside_a_transaction_use_the_primary():
    with replica_reads_allowed():
        assert router.db_for_read(Post) == REPLICA_DB_ALIAS
        with transaction.atomic():
            assert router.db_for_read(Post) == "default"
