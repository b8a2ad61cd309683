"""JSON log lines carry the correlation, user and event ids of the context they were written in."""

import json
import logging
import sys
import uuid
from types import SimpleNamespace

from django.contrib.auth.models import AnonymousUser
from django.utils.functional import SimpleLazyObject

from eventstore.context import about_event, caused_by, event_context
from platform_site.logging import (
    ContextFilter,
    JsonFormatter,
    RequestContextMiddleware,
    TextFormatter,
    current_user_id,
    logging_config,
)


def render(message="something happened", formatter=None, **record_fields) -> str:
    record = logging.LogRecord("platform.test", logging.INFO, __file__, 1, message, (), None)
    for key, value in record_fields.items():
        setattr(record, key, value)
    ContextFilter().filter(record)
    return (formatter or JsonFormatter()).format(record)


def test_a_line_outside_any_context_is_json_with_empty_ids():
    line = json.loads(render("plain words"))
    assert line["message"] == "plain words"
    assert line["level"] == "INFO" and line["logger"] == "platform.test"
    assert line["correlation_id"] is None and line["user_id"] is None and line["event_id"] is None
    assert line["time"].endswith("+00:00")


def test_a_line_written_while_handling_an_event_names_the_event_and_its_correlation():
    event_id, correlation_id = uuid.uuid4(), uuid.uuid4()
    with caused_by(event_id, correlation_id):
        line = json.loads(render())
    assert line["event_id"] == str(event_id)
    assert line["correlation_id"] == str(correlation_id)
    assert json.loads(render())["event_id"] is None, "the context ends with the block"


def test_publishing_inside_a_request_names_both():
    with event_context() as correlation, about_event(event := uuid.uuid4()):
        line = json.loads(render())
    assert (line["correlation_id"], line["event_id"]) == (str(correlation), str(event))


def test_the_request_user_is_named_once_authentication_ran_and_never_looked_up():
    seen = {}

    def view(request):
        seen["before"] = current_user_id()
        request.user = SimpleNamespace(pk=42, is_authenticated=True)  # what DRF's authentication does
        seen["after"] = current_user_id()
        return SimpleNamespace(status_code=200)

    request = SimpleNamespace(method="GET", path="/api/posts/")
    request.user = SimpleLazyObject(_session_lookup)  # as AuthenticationMiddleware leaves it
    RequestContextMiddleware(view)(request)
    assert seen == {"before": None, "after": 42}
    assert current_user_id() is None, "no user outside the request"


def _session_lookup():
    raise AssertionError("a log line must not query the session")


def test_an_anonymous_user_has_no_id():
    def view(request):
        seen.append(current_user_id())
        return SimpleNamespace(status_code=204)

    seen = []
    request = SimpleNamespace(method="GET", path="/", user=AnonymousUser())
    RequestContextMiddleware(view)(request)
    assert seen == [None]


def test_extras_and_exceptions_are_kept():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    record.status = 503
    ContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["status"] == 503
    assert "ValueError: boom" in line["exception"]


def test_text_format_for_developers_shows_the_correlation_id():
    with event_context() as correlation:
        assert str(correlation) in render("hello", formatter=TextFormatter())


def test_the_setting_selects_the_formatter():
    assert logging_config("json", "INFO")["formatters"]["default"]["()"] is JsonFormatter
    assert logging_config("text", "INFO")["formatters"]["default"]["()"] is TextFormatter


def ignored_cache_error(cause: Exception) -> logging.LogRecord:
    """A record as django-redis logs an ignored cache error: ConnectionInterrupted, caused by `cause`."""
    from django_redis.exceptions import ConnectionInterrupted

    try:
        try:
            raise cause
        except Exception as exc:
            raise ConnectionInterrupted(connection=None) from exc
    except ConnectionInterrupted:
        return logging.LogRecord(
            "django_redis.cache", logging.ERROR, __file__, 1, "Exception ignored", (), sys.exc_info()
        )


def test_once_per_interval_lets_one_record_per_kind_of_error_through_and_counts_the_rest():
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import SlotNotCoveredError

    from platform_site.logging import OncePerInterval

    once = OncePerInterval(interval=3600)
    refused = [once.filter(ignored_cache_error(RedisConnectionError("refused"))) for _ in range(10)]
    assert refused == [True] + [False] * 9
    assert once.filter(ignored_cache_error(SlotNotCoveredError("slot 7 not covered")))  # another kind
    once.interval = 0  # the interval is over
    record = ignored_cache_error(RedisConnectionError("refused"))
    assert once.filter(record)
    assert record.getMessage().startswith("Exception ignored (9 more like it in the last")


def test_the_cache_s_ignored_errors_go_through_that_filter():
    config = logging_config("json", "INFO")
    assert config["loggers"]["django_redis.cache"]["filters"] == ["once_per_minute"]
    assert config["filters"]["once_per_minute"]["()"].__name__ == "OncePerInterval"


def outage_line(logger: str, message: str, *args) -> logging.LogRecord:
    return logging.LogRecord(logger, logging.WARNING, __file__, 1, message, args, None)


def test_a_web_process_s_per_request_outage_lines_come_once_a_minute_per_check_and_error():
    """Redis stopped under load: each health probe and each commit wrote a WARNING (operator run, 2026-12-06)."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    from platform_site.logging import OncePerInterval

    once = OncePerInterval(interval=3600)
    redis_down = [
        once.filter(
            outage_line("platform_site.health", "health check %s failed: %s", "redis", RedisConnectionError())
        )
        for _ in range(5)
    ]
    assert redis_down == [True] + [False] * 4
    # Another check failing meanwhile is news, and so is another message of the same logger.
    assert once.filter(
        outage_line("platform_site.health", "health check %s failed: %s", "database", OSError())
    )
    assert once.filter(outage_line("platform_site.health", "something else: %s", RedisConnectionError()))
    wakes = [
        once.filter(
            outage_line("eventstore.wakeups", "could not wake the relay (%r)", RedisConnectionError())
        )
        for _ in range(3)
    ]
    assert wakes == [True, False, False]
    config = logging_config("json", "INFO")["loggers"]
    # Lines below WARNING are never held back (beat's "Sending due task" every 2 s, say).
    sent = [
        once.filter(logging.LogRecord("celery.beat", logging.INFO, __file__, 1, "sent %s", ("sweep",), None))
        for _ in range(2)
    ]
    assert sent == [True, True]
    for name in (
        "platform_site.health",
        "platform_site.database_errors",
        "eventstore.wakeups",
        "eventstore.monitoring",
        "celery.beat",
    ):
        assert "once_per_minute" in config[name]["filters"], name


def test_django_s_line_for_a_503_is_dropped_and_its_line_for_a_500_kept():
    from platform_site.logging import DropOutageAnswers

    def django_request(status: int) -> logging.LogRecord:
        record = logging.LogRecord(
            "django.request", logging.ERROR, __file__, 1, "%s: %s", ("x", "/metrics"), None
        )
        record.status_code = status
        return record

    assert not DropOutageAnswers().filter(django_request(503))
    assert DropOutageAnswers().filter(django_request(500))
    assert "drop_outage_answers" in logging_config("json", "INFO")["loggers"]["django.request"]["filters"]


def django_answer_lines(*statuses: int) -> dict[int, str]:
    """The level of Django's own line (django.request) for an answer of each status, as configured."""
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.utils.log import log_response

    seen = []

    class Recorder(logging.Handler):
        def emit(self, record):
            seen.append(record)

    recorder = Recorder()
    logger = logging.getLogger("django.request")
    logger.addHandler(recorder)
    try:
        for status in statuses:
            response = HttpResponse(status=status)
            log_response(
                "%s: %s",
                response.reason_phrase,
                "/api/posts/",
                response=response,
                request=RequestFactory().get("/api/posts/"),
            )
    finally:
        logger.removeHandler(recorder)
    return {record.status_code: record.levelname for record in seen}


def test_a_client_s_error_is_an_info_line_and_a_server_error_stays_an_error(caplog):
    """Each 400, 401, 404 was a WARNING (operator run, 2026-12-06): a client's error is not the server's."""
    caplog.set_level(logging.INFO)
    assert django_answer_lines(400, 401, 403, 404, 405, 429, 500) == {
        400: "INFO",
        401: "INFO",
        403: "INFO",
        404: "INFO",
        405: "INFO",
        429: "INFO",
        500: "ERROR",
    }
    # With Django's request logger at WARNING they are not shown at all; the 500 still is.
    caplog.set_level(logging.WARNING, logger="django.request")
    assert django_answer_lines(404, 500) == {500: "ERROR"}


def test_another_warning_of_django_s_request_logger_stays_a_warning():
    from platform_site.logging import ClientErrorsAsInfo

    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "something odd", (), None)
    assert ClientErrorsAsInfo().filter(record)
    assert record.levelname == "WARNING"


def celery_lines_about(task: str) -> list[logging.LogRecord]:
    """What a worker and beat log, with Celery's own functions and texts, about one run of `task`."""
    from celery import beat
    from celery.app import trace

    seen = []

    class Recorder(logging.Handler):
        def emit(self, record):
            seen.append(record)

    recorder = Recorder()
    logging.getLogger().addHandler(recorder)
    try:
        beat.info("Scheduler: Sending due task %s (%s)", "entry-name", task)
        received = {"id": "1", "name": task, "args": "()", "kwargs": "{}", "eta": None}
        logging.getLogger("celery.worker.strategy").info(
            trace.LOG_RECEIVED, received, extra={"data": received}
        )
        trace.info(trace.LOG_SUCCESS, {"id": "1", "name": task, "return_value": None, "runtime": 0.01})
    finally:
        logging.getLogger().removeHandler(recorder)
    return seen


def test_the_routine_tasks_lines_are_debug_lines_and_other_tasks_lines_stay_info(caplog):
    """The sweep every 2 s made three INFO lines each time, about 130,000 a day (operator run, 2026-12-06)."""
    caplog.set_level(logging.INFO)
    assert celery_lines_about("eventstore.tasks.sweep") == []
    assert celery_lines_about("links_app.tasks.retry_failed_scans") == []
    for task in ("links_app.tasks.scan_link", "eventstore.tasks.consume_partition"):
        assert [(record.name, record.levelname) for record in celery_lines_about(task)] == [
            ("celery.beat", "INFO"),
            ("celery.worker.strategy", "INFO"),
            ("celery.app.trace", "INFO"),
        ], task
    caplog.set_level(logging.DEBUG)  # LOG_LEVEL=DEBUG shows them
    sweep = celery_lines_about("eventstore.tasks.sweep")
    assert [record.levelname for record in sweep] == ["DEBUG"] * 3
    assert "eventstore.tasks.sweep" in sweep[2].getMessage()


def test_a_worker_s_retries_of_a_lost_broker_come_once_a_minute_and_each_loss_is_said():
    from celery.worker.consumer.consumer import CONNECTION_ERROR, CONNECTION_RETRY
    from kombu.exceptions import OperationalError

    from platform_site.logging import OncePerInterval

    config = logging_config("json", "INFO")
    name = config["loggers"]["celery.worker.consumer.consumer"]["filters"][0]
    once = OncePerInterval(**{key: value for key, value in config["filters"][name].items() if key != "()"})

    def line(level: int, message: str, *args) -> logging.LogRecord:
        return logging.LogRecord("celery.worker.consumer.consumer", level, __file__, 1, message, args, None)

    def retry(count: int) -> logging.LogRecord:
        step = f"Trying again in 2.00 seconds... ({count}/None)"
        return line(
            logging.ERROR, CONNECTION_ERROR, "redis://127.0.0.1:6379/0", OperationalError("refused"), step
        )

    def lost() -> logging.LogRecord:
        return line(logging.WARNING, "%s (%r)", CONNECTION_RETRY, OperationalError("closed"))

    assert [once.filter(retry(count)) for count in range(1, 6)] == [True] + [False] * 4
    assert [once.filter(lost()) for _ in range(3)] == [True, True, True], "each outage's start is news"
