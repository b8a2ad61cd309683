"""REDIS_URL forms: one server, or Sentinels watching a service (the failover itself: tests/e2e)."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from eventstore.redis_location import RedisLocation, cache_location, celery_broker


def test_a_single_server_url_is_used_as_it_is():
    url = "rediss://:secret@cache.internal:6380/3"
    assert not RedisLocation.parse(url).uses_sentinel
    assert cache_location(url, 1.0)["LOCATION"] == url
    assert celery_broker(url) == (url, {})


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_database():
    location = RedisLocation.parse("sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26380/platform/2")
    assert location.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26380))
    assert (location.service, location.db, location.password) == ("platform", 2, "s3cret")
    assert RedisLocation.parse("sentinel://h:26379/platform").db == 0


def test_the_cache_and_celery_ask_the_sentinels_for_the_primary():
    url = "sentinel://:pw@a:26379,b:26379/platform/1"
    cache = cache_location(url, 1.5)
    assert cache["LOCATION"] == "redis://platform/1"
    assert cache["OPTIONS"]["SENTINELS"] == [("a", 26379), ("b", 26379)]
    assert cache["OPTIONS"]["CONNECTION_FACTORY"] == "django_redis.pool.SentinelConnectionFactory"
    assert cache["OPTIONS"]["PASSWORD"] == "pw"
    broker, options = celery_broker(url)
    assert broker == "sentinel://:pw@a:26379/1;sentinel://:pw@b:26379/1"
    assert options == {"master_name": "platform"}


@pytest.mark.parametrize(
    "url",
    ["memcached://x:1/0", "sentinel://a:26379", "sentinel://a/platform", "sentinel://a:26379/platform/x"],
)
def test_malformed_urls_are_refused_at_start_with_a_clear_message(url):
    with pytest.raises(ImproperlyConfigured):
        RedisLocation.parse(url)
