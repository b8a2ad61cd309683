"""Registering an account: validation, the user row and `user:created` together."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from psycopg.errors import UniqueViolation

from eventstore import ExpectedVersion, atomic_command, publish

from ..events import USER_CREATED, user_stream
from ..usernames import normalize_username, username_problem

DUPLICATE_USERNAME = "A user with that username already exists."
DUPLICATE_EMAIL = "A user with that email address already exists."


@atomic_command
def user_register(
    *, username: str, email: str, password: str, is_staff: bool = False, is_superuser: bool = False
):
    """Create an account and record `user:created`; nothing is recorded when it is refused.

    Raises ValidationError keyed by field for a username or email already taken
    (ignoring case, after NFKC normalisation), a username mixing look-alike
    scripts (auth_app.usernames) and a password Django's validators reject.
    """
    User = get_user_model()
    username = normalize_username(username)
    email = User.objects.normalize_email(email)
    errors: dict[str, list[str]] = {}
    problem = username_problem(username)
    if problem:
        errors["username"] = [problem]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = [DUPLICATE_USERNAME]
    if User.objects.filter(email__iexact=email).exists():
        errors["email"] = [DUPLICATE_EMAIL]
    try:
        validate_password(password, user=User(username=username, email=email))
    except ValidationError as invalid:
        errors["password"] = list(invalid.messages)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=username,
                email=email,
                password=password,
                is_staff=is_staff,
                is_superuser=is_superuser,
            )
    except IntegrityError as clash:
        # A concurrent registration took the name or email after our check.
        field = field_of_unique_clash(clash)
        if field is None:
            raise
        raise ValidationError({field: [DUPLICATE_MESSAGES[field]]}) from None
    publish(
        USER_CREATED,
        stream_id=user_stream(user.pk),
        data={"user_id": user.pk, "username": user.username, "email": user.email},
        expected_version=ExpectedVersion.NO_STREAM,
    )
    return user


DUPLICATE_MESSAGES = {"username": DUPLICATE_USERNAME, "email": DUPLICATE_EMAIL}


def field_of_unique_clash(clash: IntegrityError) -> str | None:
    """The field ("username" or "email") whose unique index refused the row, None for any other clash.

    Told by the index Postgres names, never by the message text: the case-insensitive
    indexes are named in `User.Meta`; the plain `unique=True` ones are named by
    whichever migration created them, so their column is looked up.
    """
    cause = clash.__cause__
    if not isinstance(cause, UniqueViolation) or not cause.diag.constraint_name:
        return None
    name = cause.diag.constraint_name
    User = get_user_model()
    for constraint in User._meta.constraints:
        if constraint.name == name:
            expression = constraint.expressions[0]
            return expression.source_expressions[0].name
    with connection.cursor() as cursor:
        columns = (
            connection.introspection.get_constraints(cursor, User._meta.db_table).get(name, {}).get("columns")
        )
    fields = {User._meta.get_field(f).column: f for f in DUPLICATE_MESSAGES}
    if columns and len(columns) == 1 and columns[0] in fields:
        return fields[columns[0]]
    return None
