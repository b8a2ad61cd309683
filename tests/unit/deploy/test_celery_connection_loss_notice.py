"""A lost broker connection logs the outage, not Celery's notice about a future default."""

import warnings

from celery.exceptions import CPendingDeprecationWarning
from celery.worker.consumer.consumer import CANCEL_TASKS_BY_DEFAULT
from django.conf import settings

from platform_site.celery import hide_connection_loss_notice


def test_the_setting_is_chosen_and_the_notice_about_its_default_is_not_shown():
    assert settings.CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS is False
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        hide_connection_loss_notice()
        warnings.warn(CANCEL_TASKS_BY_DEFAULT, CPendingDeprecationWarning, stacklevel=1)
        warnings.warn("another notice", CPendingDeprecationWarning, stacklevel=1)
    assert [str(w.message) for w in shown] == ["another notice"]


def test_a_worker_s_log_setup_shows_celery_s_warnings_again_and_the_log_drops_that_notice():
    """The worker logged it at each lost connection anyway (operator run 2: Celery's log setup says "always")."""
    import logging

    seen = []

    class Recorder(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    recorder = Recorder()
    shown = logging.getLogger("py.warnings")  # where captured warnings are logged, with the settings' filters
    shown.addHandler(recorder)
    try:
        with warnings.catch_warnings():
            hide_connection_loss_notice()
            # What celery.app.log.Logging.setup() does in a worker once it started:
            warnings.filterwarnings("always", category=CPendingDeprecationWarning)
            logging.captureWarnings(True)
            warnings.warn(CANCEL_TASKS_BY_DEFAULT, CPendingDeprecationWarning, stacklevel=1)
            warnings.warn("another notice", CPendingDeprecationWarning, stacklevel=1)
    finally:
        logging.captureWarnings(False)
        shown.removeHandler(recorder)
    assert len(seen) == 1 and "another notice" in seen[0], seen
