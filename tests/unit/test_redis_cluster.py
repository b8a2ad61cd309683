"""redis-cluster:// URLs, and the hash tags that keep each partition's keys in one slot.

The flows on a real three-primary cluster: tests/e2e/test_redis_cluster.py.
"""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django_redis.cache import RedisCache

from platform_site.redis_cluster import ClusterLocation
from platform_site.redis_location import RedisLocation, cache_location, celery_broker
from tests.e2e.harness import free_port


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
    assert (
        cache["OPTIONS"]["CONNECTION_FACTORY"] == "platform_site.redis_cluster_cache.ClusterConnectionFactory"
    )
    assert cache["OPTIONS"]["CLIENT_CLASS"] == "platform_site.redis_cluster_cache.ClusterCacheClient"


def test_an_unreachable_cluster_makes_the_cache_miss_as_one_server_down_does():
    params = cache_location(f"redis-cluster://127.0.0.1:{free_port()}", 0.2)
    cache = RedisCache(params["LOCATION"], {"OPTIONS": params["OPTIONS"]})
    assert cache.get("anything", "missed") == "missed"
    assert cache.get_many(["a", "b"]) == {}
