"""Commands of the auth app. Each records its events in the transaction of its state change.

Split by topic; import from here: `from auth_app.services import user_register`.
"""

from .failures import login_failure_record
from .forgetting import forgotten_email, user_forget, user_forget_with_receipt
from .login_attempts import login_credentials_check
from .moderators import MODERATORS_GROUP, moderator_grant
from .passwords import user_password_change
from .registration import user_register
from .sessions import (
    LoginSuccess,
    browser_session_id,
    session_login_record,
    session_logout_record,
    token_expiry_record,
    token_session_id,
    user_login,
    user_logout,
    user_logout_all,
)

__all__ = [
    "MODERATORS_GROUP",
    "LoginSuccess",
    "browser_session_id",
    "forgotten_email",
    "login_credentials_check",
    "login_failure_record",
    "moderator_grant",
    "session_login_record",
    "session_logout_record",
    "token_expiry_record",
    "token_session_id",
    "user_forget",
    "user_forget_with_receipt",
    "user_login",
    "user_logout",
    "user_logout_all",
    "user_password_change",
    "user_register",
]
