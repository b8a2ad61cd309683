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
