"""Events in the admin: read-only, filterable, with readable JSON."""

import json

from django.contrib import admin
from django.utils.html import format_html

from .models import Checkpoint, Event


def _pretty(value) -> str:
    return format_html(
        "<pre style='white-space:pre-wrap'>{}</pre>", json.dumps(value, indent=2, sort_keys=True)
    )


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("position", "type", "stream_id", "stream_version", "source", "recorded_at")
    list_filter = ("type", "source", ("recorded_at", admin.DateFieldListFilter))
    search_fields = ("=stream_id", "=correlation_id")
    ordering = ("-position",)
    readonly_fields = (
        "position",
        "id",
        "stream_id",
        "stream_version",
        "type",
        "schema_version",
        "pretty_data",
        "pretty_metadata",
        "source",
        "correlation_id",
        "causation_id",
        "recorded_at",
    )
    exclude = ("data", "metadata")
    show_full_result_count = False

    @admin.display(description="data")
    def pretty_data(self, obj):
        return _pretty(obj.data)

    @admin.display(description="metadata")
    def pretty_metadata(self, obj):
        return _pretty(obj.metadata)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Checkpoint)
class CheckpointAdmin(admin.ModelAdmin):
    list_display = ("name", "position", "updated_at")
    readonly_fields = ("name", "position", "updated_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
