"""The accounts API (`/api/auth/`): thin views over auth_app.services."""

from __future__ import annotations

from django.contrib.auth import logout, update_session_auth_hash
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from knox.models import AuthToken
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from platform_site.correlation import client_ip

from . import serializers as s
from .services import user_login, user_logout, user_logout_all, user_password_change, user_register
from .throttles import RegisterRateThrottle

hide_passwords = method_decorator(
    sensitive_post_parameters("password", "old_password", "new_password"), "dispatch"
)


@hide_passwords
class RegisterView(APIView):
    throttle_classes = [RegisterRateThrottle]

    @extend_schema(
        request=s.RegisterInput,
        responses={201: s.UserOutput, 400: OpenApiResponse(description="field errors")},
    )
    def post(self, request):
        data = s.RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_register(**data.validated_data)
        return Response(s.UserOutput(user).data, status=status.HTTP_201_CREATED)


@hide_passwords
class LoginView(APIView):
    # No authentication here: a stale token header must not stand in the way of a fresh login.
    authentication_classes: list = []

    def get_authenticate_header(self, request) -> str:
        return "Token"  # keeps 401 a 401 (DRF turns it into 403 without a challenge)

    @extend_schema(
        request=s.LoginInput,
        responses={
            200: s.LoginOutput,
            401: OpenApiResponse(description="wrong username or password"),
            429: OpenApiResponse(description="locked out; see Retry-After"),
        },
    )
    def post(self, request):
        data = s.LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        login = user_login(
            **data.validated_data, ip=client_ip(request), user_agent=request.headers.get("User-Agent", "")
        )
        return Response(s.LoginOutput({"token": login.token, "user": login.user}).data)


class LogoutView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        if isinstance(request.auth, AuthToken):
            user_logout(token=request.auth)
        else:
            logout(request._request)  # a browser session; recorded by auth_app.signals
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    """Sign out everywhere: every API token and every browser session of the user ends."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        user_logout_all(user=request.user)
        if not isinstance(request.auth, AuthToken):
            # This browser's session was ended (and recorded) above; flush, not logout(), which would record it again.
            request._request.session.flush()
        return Response(status=status.HTTP_204_NO_CONTENT)


@hide_passwords
class PasswordChangeView(APIView):
    permission_classes = [IsAuthenticated]
    # Each call checks the old password: limit how fast a stolen token can guess it.
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "write"

    @extend_schema(
        request=s.PasswordChangeInput,
        responses={
            204: None,
            400: OpenApiResponse(description="field errors"),
            429: OpenApiResponse(description="too many wrong passwords; see Retry-After"),
        },
    )
    def post(self, request):
        data = s.PasswordChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        current_token = request.auth if isinstance(request.auth, AuthToken) else None
        user_password_change(
            user=request.user, **data.validated_data, current_token=current_token, ip=client_ip(request)
        )
        if current_token is None:
            update_session_auth_hash(request._request, request.user)  # keep this browser signed in
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.MeOutput})
    def get(self, request):
        return Response(s.MeOutput(request.user).data)
