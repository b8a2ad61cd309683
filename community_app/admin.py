"""Admin for posts and comments: read-only rows, moderator actions through the services.

The tables are projections, so the admin never edits them: its actions call
the same service functions as the API and record the same events (with the
request's correlation id and metadata, set by the middleware).
"""

from __future__ import annotations

from django.contrib import admin, messages

from eventstore import ReadOnlyAdmin

from .errors import NotAllowed, PostNotFound
from .models import Comment, Post
from .services import post_delete, post_flag, post_unflag


def _run_for_each(modeladmin, request, queryset, command, done: str) -> None:
    changed = 0
    for post in queryset:
        try:
            if command(post) is not False:
                changed += 1
        except PostNotFound:
            continue
        except NotAllowed as refusal:
            modeladmin.message_user(request, str(refusal), level=messages.ERROR)
            return
    modeladmin.message_user(request, f"{changed} post(s) {done}.")


@admin.register(Post)
class PostAdmin(ReadOnlyAdmin):
    list_display = [
        "title",
        "author_username",
        "created_at",
        "score",
        "comment_count",
        "flagged",
        "deleted",
        "version",
    ]
    list_filter = ["flagged", "deleted"]
    search_fields = ["title", "author_username", "=id"]
    actions = ["delete_as_moderator", "flag_as_moderator", "unflag_as_moderator"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Django's bulk delete would remove rows without events.
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Delete selected posts (moderator)")
    def delete_as_moderator(self, request, queryset):
        _run_for_each(
            self, request, queryset, lambda post: post_delete(actor=request.user, post_id=post.id), "deleted"
        )

    @admin.action(description="Flag selected posts (moderator)")
    def flag_as_moderator(self, request, queryset):
        _run_for_each(
            self,
            request,
            queryset,
            lambda post: post_flag(post_id=post.id, reason="flagged by a moderator", actor=request.user),
            "flagged",
        )

    @admin.action(description="Unflag selected posts (moderator)")
    def unflag_as_moderator(self, request, queryset):
        _run_for_each(
            self,
            request,
            queryset,
            lambda post: post_unflag(post_id=post.id, reason="unflagged by a moderator", actor=request.user),
            "unflagged",
        )


@admin.register(Comment)
class CommentAdmin(ReadOnlyAdmin):
    list_display = ["body", "author_username", "post_id", "created_at"]
    search_fields = ["body", "author_username", "=post_id"]
