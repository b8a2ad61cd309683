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

    def __init__(self, interval: float = 60.0) -> None:
        super().__init__()
        self.interval = interval
        self._lock = threading.Lock()
        self._last: dict[
            tuple[str, str], tuple[float, int]
        ] = {}  # (logger, type) -> (time let out, held back)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True  # only the complaints are folded (celery.beat also says what it sends)
        kind = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        cause = record.exc_info[1].__cause__ if record.exc_info and record.exc_info[1] else None
        key = (
            record.name,
            str(record.msg),
            f"{kind}:{type(cause).__name__}" if cause else kind,
            *_kinds(record),
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


def _kinds(record: logging.LogRecord) -> tuple[str, ...]:
    """The record's arguments as kinds: exceptions by type, short texts as they are, the rest not at all."""
    args = record.args if isinstance(record.args, tuple) else ()
    return tuple(
        type(arg).__name__ if isinstance(arg, BaseException) else arg
        for arg in args
        if isinstance(arg, BaseException) or (isinstance(arg, str) and len(arg) <= 40)
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
            # Beat's "Couldn't apply scheduled task" with a traceback at every tick (2 s) while Redis is away.
            "celery.beat": {"filters": ["once_per_minute"]},
            "django.request": {"filters": ["drop_outage_answers"]},
        },
    }
