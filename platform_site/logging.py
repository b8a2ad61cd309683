"""Log lines that can be followed across processes: JSON, each with its context.

`ContextFilter` adds to every record the correlation id, the user id and the
event id in force where the line was written (a request, a Celery task, a
subscriber handling an event, a publish); `JsonFormatter` writes one JSON
object per line, for log shippers that read stdout. settings.LOGGING selects
the format with LOG_FORMAT=json|text.

`RequestContextMiddleware` (after authentication) makes the request's user
visible to the filter, and writes one line per request.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from contextvars import ContextVar

from django.utils.functional import SimpleLazyObject, empty

from eventstore.context import current_correlation_id, current_event_id

_current_request: ContextVar[object | None] = ContextVar("log_request", default=None)
request_logger = logging.getLogger("platform.request")

# Attributes every LogRecord has: anything else on a record was passed as `extra`.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "correlation_id",
    "user_id",
    "event_id",
}


def current_user_id() -> int | None:
    """The signed-in user of the current request, if authentication has run (never queries)."""
    request = _current_request.get()
    if request is None:
        return None
    user = request.__dict__.get("user")  # set by the auth middleware, replaced by DRF's authentication
    if isinstance(user, SimpleLazyObject):
        user = user._wrapped  # not evaluated yet: evaluating it here would query the session
        if user is empty:
            return None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.pk


class ContextFilter(logging.Filter):
    """Adds `correlation_id`, `user_id` and `event_id` (or None) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        correlation = current_correlation_id()
        event = current_event_id()
        record.correlation_id = str(correlation) if correlation else None
        record.user_id = current_user_id()
        record.event_id = str(event) if event else None
        return True


class OncePerInterval(logging.Filter):
    """Lets one record per logger, message and kind of error through per `interval` seconds.

    For loggers that write one line per failed call during an outage (the
    cache's ignored errors, a failed health check, a relay that could not be
    woken: one per request while Redis or Postgres is unavailable): the first
    line of each interval goes out, saying how many like it were held back
    since the one before. The kind of error is the exception's type (and its
    cause's), logged with the record or passed as an argument; a short text
    argument (a health check's name) tells kinds apart too.
    """

    def __init__(self, interval: float = 60.0, texts_as_kinds: bool = True, only_starting: str = "") -> None:
        super().__init__()
        self.interval = interval
        # False where a text argument changes at every line of one outage (a retry's count).
        self.texts_as_kinds = texts_as_kinds
        # Only lines whose message (its format) starts so are folded; the logger's others all go out.
        self.only_starting = only_starting
        self._lock = threading.Lock()
        self._last: dict[
            tuple[str, str], tuple[float, int]
        ] = {}  # (logger, type) -> (time let out, held back)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True  # only the complaints are folded (celery.beat also says what it sends)
        if not str(record.msg).startswith(self.only_starting):
            return True
        kind = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        cause = record.exc_info[1].__cause__ if record.exc_info and record.exc_info[1] else None
        key = (
            record.name,
            str(record.msg),
            f"{kind}:{type(cause).__name__}" if cause else kind,
            *_kinds(record, texts=self.texts_as_kinds),
        )
        now = time.monotonic()
        with self._lock:
            let_out, held_back = self._last.get(key, (None, 0))
            if let_out is not None and now - let_out < self.interval:
                self._last[key] = (let_out, held_back + 1)
                return False
            self._last[key] = (now, 0)
        if held_back:
            record.msg = f"{record.msg} ({held_back} more like it in the last {now - let_out:.0f} s)"
        return True


def _kinds(record: logging.LogRecord, texts: bool = True) -> tuple[str, ...]:
    """The record's arguments as kinds: exceptions by type, short texts as they are (if `texts`), the rest not at all."""
    args = record.args if isinstance(record.args, tuple) else ()
    return tuple(
        type(arg).__name__ if isinstance(arg, BaseException) else arg
        for arg in args
        if isinstance(arg, BaseException) or (texts and isinstance(arg, str) and len(arg) <= 40)
    )


class DropOutageAnswers(logging.Filter):
    """Drops Django's "Service Unavailable: <path>" line for each 503 the platform answers.

    Each 503 is an outage the platform already logs (once a minute) in its own
    words: `database unavailable, answered 503` (platform_site.database_errors)
    or `health check redis failed` (platform_site.health). Django's line, an
    ERROR per request, would repeat it for every request of the outage.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "status_code", None) != 503


class DropSettledCeleryNotice(logging.Filter):
    """Drops Celery's notice, at each lost broker connection, that a setting's default changes in 6.0.

    The settings choose that setting (settings/base.py), so the notice tells an
    operator nothing. platform_site.celery hides the warning itself, but a
    worker's log setup then shows every Celery deprecation warning again
    ("always", put ahead of ours) and sends them to this logger (py.warnings).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "In Celery 5.1 we introduced an optional breaking change" not in record.getMessage()


def _demoted(record: logging.LogRecord, level: int) -> bool:
    """Gives the record `level` and says whether its logger lets that level through."""
    record.levelno = level
    record.levelname = logging.getLevelName(level)
    return logging.getLogger(record.name).isEnabledFor(level)


class ClientErrorsAsInfo(logging.Filter):
    """Django's line for each 4xx answer ("Not Found: <path>", "Unauthorized: …") at INFO, not WARNING.

    A client's error is not the server's warning: at the default level a
    warning should mean something to act on. The line stays at INFO (the
    request line, platform.request, records the answer too, but not for
    answers given before its middleware, such as a refused Host header).
    5xx lines and Django's other warnings keep their level.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if record.levelno == logging.WARNING and isinstance(status, int) and 400 <= status < 500:
            return _demoted(record, logging.INFO)
        return True


# Beat's routine jobs: the sweep every 2 s, the others every minute. The consume and relay
# tasks keep their lines: sent while Celery stands in for a stream runner, they show it doing so.
ROUTINE_TASKS = frozenset(
    {
        "eventstore.tasks.sweep",
        "eventstore.tasks.ensure_partitions",
        "links_app.tasks.retry_failed_scans",
    }
)


class RoutineTaskLinesAtDebug(logging.Filter):
    """Celery's INFO lines about routine tasks at DEBUG: "Sending due task", "received", "succeeded".

    Three lines every 2 s for the sweep alone (about 130,000 a day) told an
    operator nothing; LOG_LEVEL=DEBUG shows them again. Failures, retries and
    every other task's lines keep their level. Celery passes the task's name
    in `data` (the worker's lines) or as the second argument (beat's).
    """

    def __init__(self, tasks: frozenset[str] = ROUTINE_TASKS) -> None:
        super().__init__()
        self.tasks = tasks

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        data = getattr(record, "data", None)
        if isinstance(data, dict):
            task = data.get("name")
        elif isinstance(record.args, tuple) and len(record.args) == 2:
            task = record.args[1]  # beat: "Scheduler: Sending due task %s (%s)", entry name, task
        else:
            task = None
        if task in self.tasks:
            return _demoted(record, logging.DEBUG)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.processName if record.processName != "MainProcess" else record.process,
            "correlation_id": getattr(record, "correlation_id", None),
            "user_id": getattr(record, "user_id", None),
            "event_id": getattr(record, "event_id", None),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The developer's format: readable, with the correlation id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "correlation_id"):
            record.correlation_id = None
        return super().format(record)


class RequestContextMiddleware:
    """Lets log lines name the request's user, and logs each request once it is answered."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current_request.set(request)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            request_logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )
            return response
        finally:
            _current_request.reset(token)


def logging_config(log_format: str, level: str) -> dict:
    """settings.LOGGING for `log_format` "json" (production) or "text" (development)."""
    formatter = {"()": JsonFormatter} if log_format == "json" else {"()": TextFormatter}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": ContextFilter},
            "once_per_minute": {"()": OncePerInterval},
            "drop_outage_answers": {"()": DropOutageAnswers},
            "client_errors_as_info": {"()": ClientErrorsAsInfo},
            "drop_settled_celery_notice": {"()": DropSettledCeleryNotice},
            "routine_task_lines_at_debug": {"()": RoutineTaskLinesAtDebug},
            # A Celery worker's "Cannot connect to <broker>" at each retry, whose text counts the retries
            # (its one "Connection to broker lost" per outage is not folded).
            "broker_retries_once_per_minute": {
                "()": OncePerInterval,
                "texts_as_kinds": False,
                "only_starting": "consumer: Cannot connect to",
            },
        },
        "formatters": {"default": formatter},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "filters": ["context"], "formatter": "default"}
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # The request lines above replace Django's own for every answer but errors.
            "django.server": {"level": "WARNING"},
            "gunicorn.error": {"handlers": ["console"], "level": level, "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": "WARNING", "propagate": False},
            # The cache's ignored errors (DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS): one a request
            # while Redis is unavailable, so one line a minute per kind of error.
            "django_redis.cache": {"filters": ["once_per_minute"]},
            # Likewise the lines web processes write per request or per commit during an outage.
            "platform_site.health": {"filters": ["once_per_minute"]},
            "platform_site.database_errors": {"filters": ["once_per_minute"]},
            "eventstore.wakeups": {"filters": ["once_per_minute"]},
            "eventstore.monitoring": {"filters": ["once_per_minute"]},
            # Beat's "Couldn't apply scheduled task" with a traceback at every tick (2 s) while Redis is away,
            # and its "Sending due task" for the routine jobs.
            "celery.beat": {"filters": ["routine_task_lines_at_debug", "once_per_minute"]},
            "celery.worker.strategy": {"filters": ["routine_task_lines_at_debug"]},  # "received"
            "celery.app.trace": {"filters": ["routine_task_lines_at_debug"]},  # "succeeded"
            # A worker retries a lost broker every few seconds (platform_site.broker_reconnect).
            "celery.worker.consumer.consumer": {"filters": ["broker_retries_once_per_minute"]},
            "django.request": {"filters": ["drop_outage_answers", "client_errors_as_info"]},
            "py.warnings": {"filters": ["drop_settled_celery_notice"]},
        },
    }
