"""Routes under /api/posts/ (API.md, "Community")."""

from django.urls import path

from . import api

urlpatterns = [
    path("", api.PostListApi.as_view(), name="post-list"),
    path("<uuid:post_id>/", api.PostDetailApi.as_view(), name="post-detail"),
    path("<uuid:post_id>/comments/", api.PostCommentsApi.as_view(), name="post-comments"),
    path("<uuid:post_id>/vote/", api.PostVoteApi.as_view(), name="post-vote"),
]
