"""Browser (session) logins, logouts and failures become events too.

Django's `login()`, `logout()` and `authenticate()` send these signals (the
admin login and logout, and any other session login); the receivers hand over
to the services, which do the publishing. API token logins do not go through
`authenticate()`, so they are never recorded twice.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.utils import timezone

from platform_site.correlation import client_ip

from .services import login_failure_record, session_login_record, session_logout_record

# When the session began, kept in the session so logout can tell its duration.
SESSION_LOGIN_AT = "auth_app.logged_in_at"


def _user_agent(request) -> str:
    return request.headers.get("User-Agent", "") if request is not None else ""


@receiver(user_logged_in, dispatch_uid="auth_app.record_session_login")
def record_session_login(sender, request, user, **_kwargs) -> None:
    session = getattr(request, "session", None)
    if session is None:
        return
    if session.session_key is None:
        session.save()
    session[SESSION_LOGIN_AT] = timezone.now().isoformat()
    session_login_record(
        user=user, session_key=session.session_key, ip=client_ip(request), user_agent=_user_agent(request)
    )


@receiver(user_logged_out, dispatch_uid="auth_app.record_session_logout")
def record_session_logout(sender, request, user, **_kwargs) -> None:
    session = getattr(request, "session", None)
    if user is None or session is None or session.session_key is None:
        return  # nobody was signed in
    started = session.get(SESSION_LOGIN_AT)
    session_logout_record(
        user=user,
        session_key=session.session_key,
        logged_in_at=dt.datetime.fromisoformat(started) if started else None,
    )


@receiver(user_login_failed, dispatch_uid="auth_app.record_session_login_failure")
def record_session_login_failure(sender, credentials, request=None, **_kwargs) -> None:
    # `credentials` comes cleansed by Django (the password is masked); only the username is used.
    username = str(credentials.get(get_user_model().USERNAME_FIELD) or "")
    if not username:
        return
    login_failure_record(
        username=username, ip=client_ip(request) if request else "", reason=_reason(username)
    )


def _reason(username: str) -> str:
    user = get_user_model()._default_manager.filter(username=username).first()
    if user is None:
        return "unknown_user"
    return "wrong_password" if user.is_active else "inactive_user"
