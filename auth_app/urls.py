from django.urls import path

from . import api

app_name = "accounts"

urlpatterns = [
    path("register/", api.RegisterView.as_view(), name="register"),
    path("login/", api.LoginView.as_view(), name="login"),
    path("logout/", api.LogoutView.as_view(), name="logout"),
    path("logout/all/", api.LogoutAllView.as_view(), name="logout-all"),
    path("password/", api.PasswordChangeView.as_view(), name="password-change"),
    path("me/", api.MeView.as_view(), name="me"),
]
