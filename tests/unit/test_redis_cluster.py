"""redis-cluster:// URLs, and the hash tags that keep each partition's keys in one slot.

The flows on a real three-primary cluster: tests/e2e/test_redis_cluster.py.
"""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django_redis.cache import RedisCache
from redis.crc import key_slot

from eventstore import streams
from eventstore.redis_cluster import ClusterLocation
from eventstore.redis_location import RedisLocation, cache_location, celery_broker
from eventstore.wakeups import relay_dirty_key
from tests.e2e.harness import free_port


def slot(key: str) -> int:
    return key_slot(key.encode())


def test_a_cluster_url_names_its_nodes_and_password():
    location = RedisLocation.parse("redis-cluster://:s3cret@10.0.0.1:7000,10.0.0.2:7001")
    assert isinstance(location, ClusterLocation) and not location.uses_sentinel
    assert location.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 7001))
    assert (location.password, location.tls) == ("s3cret", False)
    assert RedisLocation.parse("rediss-cluster://a:7000").tls


@pytest.mark.parametrize(
    "url", ["redis-cluster://a", "redis-cluster://a:7000,b", "redis-cluster://a:7000/0", "redis-cluster://"]
)
def test_malformed_cluster_urls_are_refused_at_start(url):
    with pytest.raises(ImproperlyConfigured):
        RedisLocation.parse(url)


def test_celery_s_broker_refuses_a_cluster_and_says_what_to_set():
    with pytest.raises(ImproperlyConfigured, match="CELERY_BROKER_URL"):
        celery_broker("redis-cluster://a:7000,b:7000")


def test_the_cache_uses_the_cluster_client_through_django_redis_extension_points():
    url = "redis-cluster://a:7000,b:7000"
    cache = cache_location(url, 1.5)
    assert cache["LOCATION"] == [url]  # one location, not one per node
    assert cache["OPTIONS"]["CONNECTION_FACTORY"] == "eventstore.redis_cluster_cache.ClusterConnectionFactory"
    assert cache["OPTIONS"]["CLIENT_CLASS"] == "eventstore.redis_cluster_cache.ClusterCacheClient"


def test_an_unreachable_cluster_makes_the_cache_miss_as_one_server_down_does():
    params = cache_location(f"redis-cluster://127.0.0.1:{free_port()}", 0.2)
    cache = RedisCache(params["LOCATION"], {"OPTIONS": params["OPTIONS"]})
    assert cache.get("anything", "missed") == "missed"
    assert cache.get_many(["a", "b"]) == {}


@pytest.mark.parametrize("partition", range(8))
def test_each_partition_s_keys_share_one_slot(partition):
    keys = [
        streams.partition_key(partition),
        streams.partition_wake_key(partition),
        streams.runner_key(partition),
        streams.dirty_key("some-subscriber", partition),
    ]
    assert {slot(key) for key in keys} == {slot(streams.partition_key(partition))}


def test_the_keys_of_the_relay_wake_up_script_share_one_slot():
    keys = [streams.runner_key(), streams.relay_wake_key(), relay_dirty_key()]
    assert len({slot(key) for key in keys}) == 1


def test_partitions_hash_to_different_slots():
    assert len({slot(streams.partition_key(p)) for p in range(4)}) == 4


def test_a_tls_cluster_url_says_how_to_check_the_nodes_certificates():
    location = RedisLocation.parse(
        "rediss-cluster://a:7000,b:7001?ssl_ca_certs=/etc/redis/ca.pem&ssl_cert_reqs=required"
        "&ssl_check_hostname=false&ssl_certfile=/etc/redis/client.pem&ssl_keyfile=/etc/redis/client.key"
    )
    assert location.tls
    assert dict(location.tls_options) == {
        "ssl_ca_certs": "/etc/redis/ca.pem",
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": False,
        "ssl_certfile": "/etc/redis/client.pem",
        "ssl_keyfile": "/etc/redis/client.key",
    }


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis-cluster://a:7000?ssl_ca_certs=/ca.pem", "Only a rediss-cluster"),
        ("rediss-cluster://a:7000?ssl_verify=yes", "known are"),
        ("rediss-cluster://a:7000?ssl_cert_reqs=sometimes", "not a valid value"),
        ("rediss-cluster://a:7000?ssl_check_hostname=perhaps", "not a valid value"),
    ],
)
def test_unknown_or_misplaced_cluster_url_options_are_refused_at_start(url, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        RedisLocation.parse(url)
